"""C3D reader (files written with ezc3d): labels, mm -> m, residual < 0 -> NaN, EMG envelope, plates."""
from __future__ import annotations

import numpy as np
import pytest

from hdys.formats import read_source
from hdys.schema import SchemaError

ezc3d = pytest.importorskip("ezc3d")
T, RATE, ARATE = 50, 100.0, 1000.0


def write_c3d(path, *, units="mm", mass=70.0, plates=0):
    """3 points (2 markers + an unlabelled '*2' one), 1 EMG channel and 1 force channel at 1 kHz."""
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [RATE]
    c["parameters"]["POINT"]["LABELS"]["value"] = ("RASI", "LASI", "*2")
    pts = np.ones((4, 3, T))
    pts[:3, 0] = np.array([100.0, 200.0, 1000.0])[:, None]
    pts[:3, 1] = np.array([-50.0, 0.0, 900.0])[:, None]
    pts[:3] *= {"mm": 1.0, "m": 1e-3}[units]
    c["data"]["points"] = pts
    res = np.zeros((1, 3, T))
    res[0, 1, 10] = -1.0  # occluded
    c["data"]["meta_points"]["residuals"] = res
    c["data"]["meta_points"]["camera_masks"] = np.zeros((7, 3, T), bool)
    c.add_parameter("POINT", "UNITS", [units])
    c["parameters"]["ANALOG"]["RATE"]["value"] = [ARATE]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("EMG_RectFem_R", "Fz1")
    t = np.arange(int(T * ARATE / RATE)) / ARATE
    burst = np.where(t > 0.25, 1.0, 0.1) * np.sin(2 * np.pi * 80 * t)  # 80 Hz carrier, amplitude step
    c["data"]["analogs"] = np.stack([burst, np.zeros_like(t)])[None]
    if mass is not None:
        c.add_parameter("PROCESSING", "Bodymass", [mass])
    if plates:
        c["parameters"]["FORCE_PLATFORM"]["USED"]["value"] = [plates]
    c.add_parameter("SUBJECTS", "NAMES", ["S07"])
    c.write(str(path))


def test_markers_units_occlusion_emg(tmp_path):
    write_c3d(tmp_path / "walk.c3d", plates=0)
    report = []
    (seq,) = list(read_source("c3d", tmp_path, report=report))
    assert seq.fps == RATE and seq.subject == "S07" and seq.mass_kg == 70.0
    assert seq.marker_names == ["RASI", "LASI"]  # '*2' (unlabelled) left out
    np.testing.assert_allclose(seq.markers[0, 0], [0.1, 0.2, 1.0], atol=1e-6)  # mm -> m, z up kept
    assert np.isnan(seq.markers[10, 1]).all() and np.isfinite(seq.markers[11, 1]).all()
    assert seq.emg_names == ["EMG_RectFem_R"] and seq.emg.shape == (T, 1)
    assert seq.emg[35:45, 0].mean() > 4 * seq.emg[5:15, 0].mean() > 0  # envelope follows the amplitude step
    assert report == [{"path": str(tmp_path / "walk.c3d"), "status": "ok", "took": ["markers", "emg"], "reason": ""}]


def test_metres_y_up_and_no_mass(tmp_path):
    write_c3d(tmp_path / "a.c3d", units="m", mass=None)
    report = []
    (seq,) = list(read_source("c3d", tmp_path / "a.c3d", report=report, up_axis="y"))
    np.testing.assert_allclose(seq.markers[0, 0], [0.1, -1.0, 0.2], atol=1e-6)  # (x, -z, y)
    assert seq.emg is None and "no body mass" in report[0]["reason"]


def test_force_plates_reported(tmp_path):
    write_c3d(tmp_path / "a.c3d", plates=2)
    report = []
    list(read_source("c3d", tmp_path, report=report, mass_kg=80.0))
    assert "2 force plate(s)" in report[0]["reason"]


@pytest.mark.parametrize("problem", ["truncated", "garbage"])
def test_corrupt_file_skipped_or_strict(tmp_path, problem, caplog):
    write_c3d(tmp_path / "a.c3d")
    data = (tmp_path / "a.c3d").read_bytes()
    (tmp_path / "a.c3d").write_bytes(data[:700] if problem == "truncated" else b"\x00" * len(data))
    write_c3d(tmp_path / "b.c3d")
    report = []
    seqs = list(read_source("c3d", tmp_path, report=report))
    assert [s.sequence_id.split("/")[-1] for s in seqs] == ["b"]
    assert report[0]["status"] == "skipped" and "a.c3d" in report[0]["reason"] and "a.c3d" in caplog.text
    with pytest.raises(SchemaError, match="a.c3d"):
        list(read_source("c3d", tmp_path, strict=True))

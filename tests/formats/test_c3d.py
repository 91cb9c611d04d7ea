"""C3D reader (files written with ezc3d): labels, mm -> m, residual < 0 -> NaN, EMG envelope, force plates
-> per-foot GRF/CoP (values against what was written and against ezc3d's own plate processing)."""
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


F_PLATE = np.array([10.0, 20.0, 700.0])  # N, plate frame (z down): the subject pushes down and forward
COP_PLATE = np.array([30.0, -50.0])  # mm from the plate origin, plate frame
Z0, CENTRE = 40.0, np.array([500.0, 300.0, 0.0])  # origin 40 mm below the surface; surface centre, lab mm
STANCE = 30  # the left foot loads the plate in frames [0, 30)


def plate_moments(force=F_PLATE, cop=COP_PLATE, z0=Z0):
    """Moments about the plate origin of ``force`` applied at ``cop`` on the surface (z = -z0): r x F."""
    return np.cross([cop[0], cop[1], -z0], force)


def write_plate_c3d(path, *, plate_type=2, moment_unit="Nmm", sign=1.0, feet=True, right_still=False, mass=70.0):
    """Feet markers + one plate (400 x 600 mm) whose axes are lab x, -lab y, -lab z (C3D corner order).

    The left foot stands on the plate (heel 450, toe 650 mm along x at y = 330) for STANCE frames, then
    moves away; the right foot swings along y = 100 mm (or stands still there, off the plate)."""
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [RATE]
    names = ["LHEE", "LTOE", "RHEE", "RTOE"] if feet else ["LASI", "RASI", "C7", "T10"]
    c["parameters"]["POINT"]["LABELS"]["value"] = tuple(names)
    pts = np.ones((4, 4, T))
    t = np.arange(T) / RATE
    pts[:3, 0] = np.array([450.0, 330.0, 30.0])[:, None]
    pts[:3, 1] = np.array([650.0, 330.0, 30.0])[:, None]
    pts[0, :2, STANCE:] += 1000.0 * (t[STANCE:] - t[STANCE])  # lifted and moving at 1 m/s
    pts[2, :2, STANCE:] += 100.0
    pts[:3, 2] = np.array([0.0, 100.0, 60.0])[:, None]
    pts[:3, 3] = np.array([200.0, 100.0, 60.0])[:, None]
    if not right_still:
        pts[0, 2:] += 1000.0 * t  # swinging at 1 m/s
    c["data"]["points"] = pts
    c.add_parameter("POINT", "UNITS", ["mm"])
    n = int(T * ARATE / RATE)
    loaded = (np.arange(n) // int(ARATE / RATE)) < STANCE
    moment = plate_moments() * (1e-3 if moment_unit == "Nm" else 1.0)
    wrench = sign * np.concatenate([F_PLATE, moment])[:, None] * loaded[None]  # (6, S)
    fp = c["parameters"]["FORCE_PLATFORM"]
    if plate_type == 4:
        cal = np.array([[2.0, 0.1, 0, 0, 0, 0], [0, 3.0, 0, 0, 0.2, 0], [0.3, 0, 4.0, 0, 0, 0],
                        [0, 0, 0, 5.0, 0, 0.1], [0, 0, 0.5, 0, 6.0, 0], [0, 0.2, 0, 0, 0, 7.0]])
        wrench = np.linalg.solve(cal, wrench)  # the raw channels: CAL @ v = [F; M]
        fp["CAL_MATRIX"]["value"] = cal[:, :, None]
    c["parameters"]["ANALOG"]["RATE"]["value"] = [ARATE]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ("Fx1", "Fy1", "Fz1", "Mx1", "My1", "Mz1")
    c["parameters"]["ANALOG"]["UNITS"]["value"] = ("N", "N", "N", moment_unit, moment_unit, moment_unit)
    c["data"]["analogs"] = wrench[None]
    fp["USED"]["value"] = [1]
    fp["TYPE"]["value"] = [plate_type]
    fp["CHANNEL"]["value"] = np.arange(1, 7).reshape(6, 1)
    dx, dy = 200.0, 300.0  # corners by plate quadrant: +x+y, -x+y, -x-y, +x-y (plate y = -lab y)
    corners = CENTRE + np.array([[dx, -dy, 0], [-dx, -dy, 0], [-dx, dy, 0], [dx, dy, 0]])
    fp["CORNERS"]["value"] = corners.T[:, :, None]
    fp["ORIGIN"]["value"] = np.array([[0.0, 0.0, -Z0]]).T
    fp["ZERO"]["value"] = np.array([0, 0])
    if mass is not None:
        c.add_parameter("PROCESSING", "Bodymass", [mass])
    c.write(str(path))


EXPECTED_GRF = np.array([-10.0, 20.0, 700.0])  # on the subject, lab: -(R F) with R = diag(1, -1, -1)
EXPECTED_COP = (CENTRE + [COP_PLATE[0], -COP_PLATE[1], 0.0]) / 1000.0  # (0.53, 0.35, 0) m


def test_force_plate_to_left_foot_grf_and_cop(tmp_path):
    write_plate_c3d(tmp_path / "a.c3d")
    report = []
    (seq,) = list(read_source("c3d", tmp_path, report=report))
    assert report[0]["took"] == ["markers", "grf"] and seq.mass_kg == 70.0
    np.testing.assert_allclose(seq.grf[:STANCE, 0], np.tile(EXPECTED_GRF, (STANCE, 1)), atol=1e-3)
    np.testing.assert_allclose(seq.cop[:STANCE, 0], np.tile(EXPECTED_COP, (STANCE, 1)), atol=1e-6)
    assert seq.contact[:STANCE, 0].all() and not seq.contact[STANCE:].any()
    np.testing.assert_array_equal(seq.grf[STANCE + 1:, 0], 0.0)  # the foot moves: in the air
    np.testing.assert_array_equal(seq.grf[:, 1], 0.0)  # the right foot swings beside the plate
    assert np.isnan(seq.cop[STANCE:, 0]).all() and np.isnan(seq.cop[:, 1]).all()
    # ezc3d's own force-plate processing agrees (it reports the load on the plate, lab frame, mm)
    ref = ezc3d.c3d(str(tmp_path / "a.c3d"), extract_forceplat_data=True)["data"]["platform"][0]
    np.testing.assert_allclose(ref["center_of_pressure"][:, 0] / 1000.0, EXPECTED_COP, atol=1e-6)
    np.testing.assert_allclose(-ref["force"][:, 0], EXPECTED_GRF, atol=1e-3)


@pytest.mark.parametrize("variant", [{"plate_type": 4}, {"moment_unit": "Nm"}, {"sign": -1.0}])
def test_force_plate_type4_units_and_reaction_sign(tmp_path, variant):
    write_plate_c3d(tmp_path / "a.c3d", **variant)
    report = []
    (seq,) = list(read_source("c3d", tmp_path, report=report))
    np.testing.assert_allclose(seq.grf[5, 0], EXPECTED_GRF, atol=1e-3)
    np.testing.assert_allclose(seq.cop[5, 0], EXPECTED_COP, atol=1e-6)
    assert ("sign flipped" in report[0]["reason"]) == (variant.get("sign") == -1.0)
    if variant.get("plate_type") == 4:  # ezc3d reads CAL_MATRIX the same way
        ref = ezc3d.c3d(str(tmp_path / "a.c3d"), extract_forceplat_data=True)["data"]["platform"][0]
        np.testing.assert_allclose(ref["center_of_pressure"][:, 5] / 1000.0, EXPECTED_COP, atol=1e-6)


def test_still_foot_off_the_plates_is_unknown(tmp_path):
    write_plate_c3d(tmp_path / "a.c3d", right_still=True)
    report = []
    (seq,) = list(read_source("c3d", tmp_path, report=report))
    assert np.isnan(seq.grf[:, 1]).all() and not seq.contact[:, 1].any()  # may stand on the floor
    np.testing.assert_allclose(seq.grf[5, 0], EXPECTED_GRF, atol=1e-3)
    assert f"{T} foot-frame(s) without a known force" in report[0]["reason"]


def test_plates_without_feet_or_mass_are_reported(tmp_path):
    write_plate_c3d(tmp_path / "a.c3d", feet=False)
    write_plate_c3d(tmp_path / "b.c3d", mass=None)
    write_c3d(tmp_path / "c.c3d", plates=2)  # USED but no TYPE, CHANNEL, CORNERS
    report = []
    seqs = list(read_source("c3d", tmp_path, report=report))
    assert [s.grf is None for s in seqs] == [True, True, True] and [r["status"] for r in report] == ["ok"] * 3
    assert "no heel/toe markers for the left and right foot" in report[0]["reason"]
    assert "force plates dropped: no body mass" in report[1]["reason"]
    assert "force plate 2 skipped: no FORCE_PLATFORM:TYPE" in report[2]["reason"]


@pytest.mark.parametrize("problem", ["truncated", "garbage", "random"])
def test_corrupt_file_skipped_or_strict(tmp_path, problem, caplog):
    write_c3d(tmp_path / "a.c3d")
    data = (tmp_path / "a.c3d").read_bytes()
    bad = {"truncated": data[:700], "garbage": b"\x00" * len(data),
           "random": np.random.default_rng(0).bytes(len(data))}[problem]
    (tmp_path / "a.c3d").write_bytes(bad)
    write_c3d(tmp_path / "b.c3d")
    report = []
    seqs = list(read_source("c3d", tmp_path, report=report))
    assert [s.sequence_id.split("/")[-1] for s in seqs] == ["b"]
    assert report[0]["status"] == "skipped" and "a.c3d" in report[0]["reason"] and "a.c3d" in caplog.text
    assert "C3D" in report[0]["reason"] and report[0]["reason"].count("a.c3d") == 1
    with pytest.raises(SchemaError, match="a.c3d"):
        list(read_source("c3d", tmp_path, strict=True))


def test_a_file_cut_inside_its_frames_is_refused_not_shortened(tmp_path):
    write_c3d(tmp_path / "a.c3d")
    data = (tmp_path / "a.c3d").read_bytes()
    (tmp_path / "a.c3d").write_bytes(data[: len(data) // 2])  # ezc3d reads 20 of the 50 frames from this
    report = []
    assert list(read_source("c3d", tmp_path, report=report)) == []
    assert f"header says {T} frames" in report[0]["reason"] and "holds 20" in report[0]["reason"]
    with pytest.raises(SchemaError, match="a.c3d.*truncated"):
        list(read_source("c3d", tmp_path, strict=True))


def test_one_lost_emg_sample_does_not_blank_the_channel(tmp_path):
    write_c3d(tmp_path / "a.c3d")
    c = ezc3d.c3d(str(tmp_path / "a.c3d"))
    analogs = c["data"]["analogs"]
    analogs[0, 0, 123] = np.nan
    c["data"]["analogs"] = analogs
    c.write(str(tmp_path / "b.c3d"))
    (clean,) = list(read_source("c3d", tmp_path / "a.c3d"))
    (gap,) = list(read_source("c3d", tmp_path / "b.c3d"))
    assert np.isfinite(gap.emg).all()
    np.testing.assert_allclose(gap.emg, clean.emg, atol=0.05 * clean.emg.max())

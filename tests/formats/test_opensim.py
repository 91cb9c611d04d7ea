"""OpenSim reader: .trc markers (units, axes), .mot coordinates (degrees), ID moments, SO activations."""
from __future__ import annotations

import json

import numpy as np
import pytest

from hdys.formats import read_source
from hdys.schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, SchemaError

T, FPS = 6, 100.0


def write_trc(path, names, xyz, units="mm", rate=FPS, frames=None):
    """xyz (T, M, 3) in ``units``, OpenSim y-up axes; NaN written as an empty field."""
    lines = [f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
             "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
             f"{rate}\t{rate}\t{frames or len(xyz)}\t{len(names)}\t{units}\t{rate}\t1\t{len(xyz)}",
             "Frame#\tTime\t" + "\t".join(f"{n}\t\t" for n in names),
             "\t\t" + "\t".join(f"X{i + 1}\tY{i + 1}\tZ{i + 1}" for i in range(len(names))), ""]
    for t, row in enumerate(xyz):
        vals = ["" if np.isnan(v) else f"{v:.6f}" for v in row.reshape(-1)]
        lines.append(f"{t + 1}\t{t / rate:.5f}\t" + "\t".join(vals))
    path.write_text("\n".join(lines) + "\n")


def write_sto(path, columns, data, in_degrees="yes", name="Coordinates", rate=FPS, n_rows=None):
    time = np.arange(len(data)) / rate
    head = [name, "version=1", f"nRows={n_rows or len(data)}", f"nColumns={len(columns) + 1}"]
    if in_degrees is not None:
        head.append(f"inDegrees={in_degrees}")
    rows = ["\t".join(f"{v:.8f}" for v in [t, *r]) for t, r in zip(time, data)]
    path.write_text("\n".join(head + ["endheader", "\t".join(["time", *columns])] + rows) + "\n")


def coords_deg():
    q = np.linspace(0, 1, T)[:, None] * np.arange(1, 24)[None, :]  # degrees for rotations
    return q


@pytest.fixture
def trial(tmp_path):
    """subj01/{MarkerData/walk.trc, IK/walk_ik.mot, ID/walk_id.sto, walk_StaticOptimization_activation.sto}."""
    s = tmp_path / "subj01"
    for d in ("MarkerData", "IK", "ID"):
        (s / d).mkdir(parents=True)
    xyz = np.zeros((T, 2, 3))
    xyz[:, 0] = [100.0, 1000.0, 20.0]  # mm, y up
    xyz[:, 1] = [0.0, 500.0, -30.0]
    xyz[2, 1] = np.nan  # occluded
    write_trc(s / "MarkerData" / "walk.trc", ["RASI", "LASI"], xyz)
    write_sto(s / "IK" / "walk_ik.mot", list(RAJAGOPAL_COORDINATES) + ["arm_flex_r"],
              np.concatenate([coords_deg(), np.ones((T, 1))], axis=1))
    tau = np.tile(np.arange(17, dtype=float), (T, 1))
    write_sto(s / "ID" / "walk_id.sto", [f"{d}_moment" for d in RAJAGOPAL_TORQUE_DOFS] + ["pelvis_tx_force"],
              np.concatenate([tau, np.zeros((T, 1))], axis=1), in_degrees="no", name="Inverse Dynamics")
    write_sto(s / "walk_StaticOptimization_activation.sto", ["soleus_r", "glmax1_r", "hip_flexion_r_reserve"],
              np.full((T, 3), 0.25), in_degrees="no", name="Static Optimization")
    return tmp_path


def test_trial_grouped_and_converted(trial):
    (trial / "subj01" / "_subject.json").write_text(json.dumps({"massKg": 72.5, "heightM": 1.8}))
    report = []
    (seq,) = list(read_source("opensim", trial, report=report))
    assert seq.dataset == "opensim" and seq.subject == "subj01" and seq.fps == pytest.approx(FPS)
    assert seq.mass_kg == pytest.approx(72.5) and seq.height_m == pytest.approx(1.8)
    assert seq.marker_names == ["RASI", "LASI"]
    np.testing.assert_allclose(seq.markers[0, 0], [0.1, -0.02, 1.0], atol=1e-6)  # mm -> m, y up -> z up
    assert np.isnan(seq.markers[2, 1]).all() and np.isfinite(seq.markers[3, 1]).all()
    np.testing.assert_allclose(seq.joint_angles[-1, 6], np.deg2rad(7.0), atol=1e-6)  # hip_flexion_r
    np.testing.assert_allclose(seq.joint_angles[-1, 3:6], [4.0, 5.0, 6.0], atol=1e-6)  # translations: not converted
    np.testing.assert_allclose(seq.torque_rajagopal[0], np.arange(17), atol=1e-6)
    assert seq.muscle_names == ["soleus_r", "glmax1_r"]
    assert {r["status"] for r in report} == {"ok"} and len(report) == 4
    assert sorted(k for r in report for k in r["took"]) == sorted(
        ["markers", "joint_angles", "torque_rajagopal", "muscle_activation"])


def test_without_mass_dynamics_dropped_and_reported(trial):
    report = []
    (seq,) = list(read_source("opensim", trial, report=report))
    assert seq.torque_rajagopal is None and seq.muscle_activation is None and seq.joint_angles is not None
    dropped = [r for r in report if r["status"] == "skipped"]
    assert len(dropped) == 2 and all("mass" in r["reason"] for r in dropped)
    (seq,) = list(read_source("opensim", trial, mass_kg=60.0))
    assert seq.mass_kg == 60.0 and seq.torque_rajagopal is not None


def test_resample_fps(trial):
    (seq,) = list(read_source("opensim", trial, fps=50.0))
    assert seq.fps == 50.0 and seq.num_frames == 3
    assert np.isnan(seq.markers[1, 1]).all()  # frame 2 at 100 Hz was occluded: no interpolation across it


def test_missing_coordinates_named(trial, caplog):
    mot = trial / "subj01" / "IK" / "walk_ik.mot"
    write_sto(mot, list(RAJAGOPAL_COORDINATES[:-2]), coords_deg()[:, :-2])
    report = []
    assert list(read_source("opensim", trial, report=report)) == []
    assert all(r["status"] == "skipped" for r in report)
    assert "lumbar_bending" in report[0]["reason"] and "walk_ik.mot" in report[0]["reason"]
    assert "walk_ik.mot" in caplog.text
    with pytest.raises(SchemaError, match="walk_ik.mot.*lumbar_rotation"):
        list(read_source("opensim", trial, strict=True))


def test_missing_moment_columns_named(trial):
    write_sto(trial / "subj01" / "ID" / "walk_id.sto", ["hip_flexion_r_moment"], np.zeros((T, 1)), in_degrees="no")
    with pytest.raises(SchemaError, match="walk_id.sto.*knee_angle_r_moment"):
        list(read_source("opensim", trial, strict=True, mass_kg=70))


@pytest.mark.parametrize("problem", ["truncated", "header", "units", "no_endheader", "short_row"])
def test_malformed_files(tmp_path, problem):
    xyz = np.ones((T, 1, 3))
    if problem == "truncated":
        write_trc(tmp_path / "a.trc", ["M"], xyz, frames=T + 4)
    elif problem == "header":
        write_trc(tmp_path / "a.trc", ["M"], xyz)
        text = (tmp_path / "a.trc").read_text().replace("PathFileType", "Garbage", 1)
        (tmp_path / "a.trc").write_text(text)
    elif problem == "units":
        write_trc(tmp_path / "a.trc", ["M"], xyz, units="furlong")
    elif problem == "no_endheader":
        write_sto(tmp_path / "a.mot", list(RAJAGOPAL_COORDINATES), coords_deg())
        (tmp_path / "a.mot").write_text((tmp_path / "a.mot").read_text().replace("endheader", "x"))
    else:
        write_sto(tmp_path / "a.mot", list(RAJAGOPAL_COORDINATES), coords_deg())
        (tmp_path / "a.mot").write_text((tmp_path / "a.mot").read_text()[:-40])
    report = []
    assert list(read_source("opensim", tmp_path, report=report)) == []
    assert report[0]["status"] == "skipped" and "a." in report[0]["reason"]
    with pytest.raises(SchemaError, match=r"a\.(trc|mot)"):
        list(read_source("opensim", tmp_path, strict=True))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown format"):
        read_source("bvh", tmp_path)
    with pytest.raises(TypeError, match="amass_dir"):
        read_source("opensim", tmp_path, amass_dir="x")
    with pytest.raises(FileNotFoundError):
        read_source("opensim", tmp_path / "nope")


def test_a_trc_with_an_uneven_time_column_is_refused_beside_its_coordinates(trial):
    path = trial / "subj01" / "MarkerData" / "walk.trc"
    lines = path.read_text().splitlines()
    fields = lines[8].split("\t")  # the 3rd frame, recorded 25 ms late
    fields[1] = f"{float(fields[1]) + 0.025:.5f}"
    lines[8] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    report = []
    assert list(read_source("opensim", trial, report=report, mass_kg=70)) == []
    assert "walk.trc" in report[0]["reason"] and "not uniformly sampled" in report[0]["reason"]


def test_a_binary_trc_is_reported_under_its_own_name(trial):
    (trial / "subj01" / "MarkerData" / "walk.trc").write_bytes(np.random.default_rng(0).bytes(3000))
    report = []
    assert list(read_source("opensim", trial, report=report, mass_kg=70)) == []
    reason = report[0]["reason"]
    assert "walk.trc: not a text file" in reason and "walk_ik.mot" not in reason, reason


def test_static_optimization_actuators_are_left_out_and_reported(trial):
    # StaticOptimization: muscles, then the model's torque actuators and reserves (controls outside [0, 1])
    so = trial / "subj01" / "walk_StaticOptimization_activation.sto"
    act = np.full((T, 5), 0.25)
    act[:, 2] = np.linspace(-1.65, 2.22, T)  # lumbar_ext, a coordinate actuator's control
    act[:, 3] = 0.5  # a reserve
    write_sto(so, ["soleus_r", "glmax1_r", "lumbar_ext", "hip_flexion_r_reserve", "FX"], act, in_degrees="no",
              name="Static Optimization")
    report = []
    (seq,) = read_source("opensim", trial, report=report, mass_kg=70)
    assert seq.muscle_names == ["soleus_r", "glmax1_r"]
    rec = next(r for r in report if r["path"].endswith("activation.sto"))
    assert "muscle_activation" in rec["took"] and "lumbar_ext" in rec["reason"] and "3 column(s)" in rec["reason"]


EXTERNAL_LOADS = """<?xml version="1.0" encoding="UTF-8" ?>
<OpenSimDocument Version="40000">
  <ExternalLoads name="externalloads">
    <objects>
      <ExternalForce name="right">
        <applied_to_body>calcn_r</applied_to_body><force_expressed_in_body>ground</force_expressed_in_body>
        <point_expressed_in_body>ground</point_expressed_in_body>
        <force_identifier>ground_force_v</force_identifier><point_identifier>ground_force_p</point_identifier>
        <torque_identifier>ground_torque_</torque_identifier><data_source_name>walk_grf.mot</data_source_name>
      </ExternalForce>
      <ExternalForce name="left">
        <applied_to_body>calcn_l</applied_to_body><force_expressed_in_body>ground</force_expressed_in_body>
        <point_expressed_in_body>ground</point_expressed_in_body>
        <force_identifier>1_ground_force_v</force_identifier><point_identifier>1_ground_force_p</point_identifier>
        <torque_identifier>1_ground_torque_</torque_identifier><data_source_name>walk_grf.mot</data_source_name>
      </ExternalForce>
    </objects>
    <datafile>walk_grf.mot</datafile>
  </ExternalLoads>
</OpenSimDocument>
"""


def test_ground_forces_with_their_external_loads_become_grf_and_cop(trial):
    cols = [f"{p}ground_{q}{a}" for p in ("", "1_") for q in ("force_v", "force_p", "torque_") for a in "xyz"]
    data = np.zeros((T, 18))
    data[:, 0:3] = [10.0, 700.0, -5.0]  # right force (y up)
    data[:, 3:6] = [0.3, 0.0, 0.1]  # right point
    data[:, 9:12] = [0.0, 50.0, 0.0]  # left force
    data[:, 12:15] = [-0.2, 0.0, -0.1]
    write_sto(trial / "subj01" / "walk_grf.mot", cols, data, in_degrees=None, name="walk_grf.mot")
    (trial / "subj01" / "walk_external_loads.xml").write_text(EXTERNAL_LOADS)
    report = []
    (seq,) = read_source("opensim", trial, report=report, mass_kg=70)
    # feet [left, right], z up: (x, y, z)_osim -> (x, -z, y)
    np.testing.assert_allclose(seq.grf[0], [[0.0, 0.0, 50.0], [10.0, 5.0, 700.0]])
    np.testing.assert_allclose(seq.cop[0], [[-0.2, 0.1, 0.0], [0.3, -0.1, 0.0]])
    assert "grf" in next(r for r in report if r["path"].endswith("walk_grf.mot"))["took"]

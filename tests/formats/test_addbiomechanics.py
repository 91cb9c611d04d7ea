"""AddBiomechanics reader on .b3d files written with nimblephysics: passes, units, axes, names, missing GRF."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import nimblephysics as nimble
import numpy as np
import pytest

from hdys.formats import read_source
from hdys.frames import Y_UP_TO_Z_UP
from hdys.schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, SchemaError
from hdys.store import Corpus

B = nimble.biomechanics
KIN, LOW, DYN = (B.ProcessingPassType.KINEMATICS, B.ProcessingPassType.LOW_PASS_FILTER,
                 B.ProcessingPassType.DYNAMICS)
T, DT, MASS, HEIGHT = 40, 0.01, 72.5, 1.78
FOOT_BODIES = ["calcn_r", "calcn_l"]
FORCE = np.array([30.0, 700.0, -10.0])  # on the right foot, OpenSim frame (y up)
MISSING = (10, 11, 12)
OSIM = Path(nimble.__file__).parent / "models" / "rajagopal_data" / "Rajagopal2015.osim"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def skel():
    return nimble.RajagopalHumanBodyModel().skeleton  # 37 DoFs: the 23 of the schema + 14 arm DoFs


def poses(skel, phase: float) -> np.ndarray:
    """(37, T): every DoF a sinusoid of its own frequency; the pelvis walks forward 1.2 m/s at 0.95 m."""
    n, t = skel.getNumDofs(), np.arange(T) * DT
    q = 0.2 * np.sin(2 * np.pi * (0.5 + 0.05 * np.arange(n)[:, None]) * t[None] + phase)
    q[3], q[4], q[5] = 0.3 + 1.2 * t, 0.95 + 0.01 * np.sin(t), 0.1
    return q


def right_foot_plate(skel, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """forces, moments, cops (3, T): a constant force with its CoP on the ground under calcn_r."""
    cops = np.zeros((3, T))
    for t in range(T):
        skel.setPositions(q[:, t])
        x, _, z = skel.getBodyNode("calcn_r").getWorldTransform().translation()
        cops[:, t] = [x, 0.0, z]
    return np.tile(FORCE[:, None], (1, T)), np.zeros((3, T)), cops


def write_b3d(path: Path, skel, mass: float = MASS) -> dict:
    """Two trials as AddBiomechanics writes them: 'walk' with KINEMATICS, LOW_PASS_FILTER and DYNAMICS passes
    (each with slightly different poses) and frames MISSING flagged missing GRF; 'static' whose dynamics
    failed (KINEMATICS, LOW_PASS_FILTER only). LASI is not seen in frame 5. Returns what was written."""
    header = B.SubjectOnDiskHeader()
    header.setNumDofs(skel.getNumDofs()).setNumJoints(skel.getNumJoints()).setGroundForceBodies(FOOT_BODIES)
    header.setMassKg(mass).setHeightM(HEIGHT)
    text = OSIM.read_text()
    for kind, osim in ((KIN, text), (LOW, ""), (DYN, text)):  # AddBiomechanics stores no model for the filter
        p = header.addProcessingPass()
        p.setProcessingPassType(kind)
        p.setOpenSimFileText(osim)
    written: dict = {}
    for name, kinds in (("walk", (KIN, LOW, DYN)), ("static", (KIN, LOW))):
        trial = header.addTrial()
        trial.setName(name)
        trial.setTimestep(DT)
        trial.setTrialLength(T)
        flags = [B.MissingGRFReason.notMissingGRF] * T
        for i in MISSING:
            flags[i] = B.MissingGRFReason.measuredGrfZeroWhenAccelerationNonZero
        trial.setMissingGRFReason(flags)
        obs = [{"RASI": np.array([0.1 + 0.012 * t, 1.0, 0.12]), "LASI": np.array([0.1 + 0.012 * t, 1.0, -0.12])}
               for t in range(T)]
        del obs[5]["LASI"]
        trial.setMarkerObservations(obs)
        written[name, "markers"] = obs
        for k, kind in enumerate(kinds):
            q = poses(skel, 0.05 * k)
            tp = trial.addPass()
            tp.setType(kind)
            tp.computeValues(skel, DT, q, FOOT_BODIES, *right_foot_plate(skel, q))
            written[name, kind.name] = {"poses": tp.getPoses(), "taus": tp.getTaus(), "centres": tp.getJointCenters(),
                                        "cop": right_foot_plate(skel, q)[2]}
    B.SubjectOnDisk.writeB3D(str(path), header)
    return written


@pytest.fixture(scope="module")
def b3d(tmp_path_factory, skel):
    path = tmp_path_factory.mktemp("adb") / "P002_split1.b3d"
    return path, write_b3d(path, skel)


def test_dynamics_pass_values_units_axes_names(b3d, skel, tmp_path):
    src, written = b3d
    shutil.copy(src, tmp_path / src.name)
    report = []
    seqs = {s.sequence_id: s for s in read_source("addbiomechanics", tmp_path, report=report)}
    assert sorted(seqs) == [f"{tmp_path.name}/P002_split1/static", f"{tmp_path.name}/P002_split1/walk"]
    walk, static = seqs[f"{tmp_path.name}/P002_split1/walk"], seqs[f"{tmp_path.name}/P002_split1/static"]
    dyn = written["walk", "DYNAMICS"]
    assert walk.subject == static.subject == "P002"  # the _split suffix joins the splits of one subject
    assert walk.dataset == "addbiomechanics" and walk.fps == pytest.approx(1 / DT)
    assert walk.mass_kg == MASS and walk.height_m == pytest.approx(HEIGHT)

    # joint angles: the DYNAMICS pass (not KINEMATICS / LOW_PASS_FILTER), by DoF name, OpenSim values as stored
    dofs = [skel.getDofByIndex(i).getName() for i in range(skel.getNumDofs())]
    assert walk.joint_angle_names == list(RAJAGOPAL_COORDINATES)
    np.testing.assert_allclose(walk.joint_angles, dyn["poses"][[dofs.index(c) for c in RAJAGOPAL_COORDINATES]].T,
                               atol=1e-6)
    assert np.abs(walk.joint_angles - written["walk", "KINEMATICS"]["poses"][:23].T).max() > 0.01

    # labelled frames: not flagged missing GRF, not the first/last frame (no inverse dynamics there)
    ok = np.ones(T, bool)
    ok[list(MISSING) + [0, T - 1]] = False
    tau = dyn["taus"][[dofs.index(c) for c in RAJAGOPAL_TORQUE_DOFS]].T
    np.testing.assert_allclose(walk.torque_rajagopal[ok], tau[ok], rtol=1e-5, atol=1e-3)
    assert np.abs(walk.torque_rajagopal[ok]).max() > 10  # real inverse dynamics, not zeros
    for key in ("torque_rajagopal", "grf", "cop"):
        assert np.isnan(getattr(walk, key)[~ok]).all(), key

    # GRF and CoP: feet [left, right], z up: (x, y, z) -> (x, -z, y)
    np.testing.assert_allclose(walk.grf[ok, 1], np.tile([30.0, 10.0, 700.0], (ok.sum(), 1)), atol=1e-3)
    np.testing.assert_allclose(walk.grf[ok, 0], 0.0, atol=1e-6)
    cop = (Y_UP_TO_Z_UP @ dyn["cop"]).T
    np.testing.assert_allclose(walk.cop[ok, 1], cop[ok], atol=1e-5)
    assert np.allclose(walk.cop[ok, 1, 2], 0.0, atol=1e-6)  # on the ground, z = 0
    assert walk.contact[ok, 1].all() and not walk.contact[:, 0].any() and not walk.contact[~ok].any()

    # joint centres as keypoints: the skeleton's joints, parents by topology, world z up
    names = [skel.getJoint(i).getName() for i in range(skel.getNumJoints())]
    assert walk.keypoint_names == names and walk.keypoint_parents[0] == -1
    assert names[walk.keypoint_parents[names.index("walker_knee_r")]] == "hip_r"
    centres = dyn["centres"].T.reshape(T, -1, 3) @ Y_UP_TO_Z_UP.T
    np.testing.assert_allclose(walk.keypoints, centres, atol=1e-5)
    q = walk.joint_angles  # the pelvis joint centre is (tx, ty, tz) of the OpenSim frame, here z up
    np.testing.assert_allclose(walk.keypoints[:, 0], np.stack([q[:, 3], -q[:, 5], q[:, 4]], 1), atol=1e-5)

    # markers: names, z up, an unseen marker NaN
    i, j = walk.marker_names.index("RASI"), walk.marker_names.index("LASI")
    np.testing.assert_allclose(walk.markers[7, i], [0.1 + 0.012 * 7, -0.12, 1.0], atol=1e-6)
    assert np.isnan(walk.markers[5, j]).all() and np.isfinite(walk.markers[6, j]).all()

    # the trial whose dynamics failed: kinematics of its last pass only
    np.testing.assert_allclose(static.joint_angles, written["static", "LOW_PASS_FILTER"]["poses"][:23].T, atol=1e-6)
    assert static.dynamics == [] and static.grf is None and static.extra["b3d_pass"] == "LOW_PASS_FILTER"

    (rec,) = report
    assert rec["status"] == "ok" and rec["path"] == str(tmp_path / src.name)
    assert set(rec["took"]) == {"joint_angles", "keypoints", "markers", "torque_rajagopal", "grf", "cop", "contact"}
    assert "3 of 40 frames flagged missing GRF (measuredGrfZeroWhenAccelerationNonZero: 3)" in rec["reason"]
    assert "2 frame(s) without inverse dynamics" in rec["reason"]
    assert "'static': no DYNAMICS pass" in rec["reason"] and "arm_flex_r" in rec["reason"]


def test_mass_from_option_only_where_the_file_has_none(tmp_path, skel):
    write_b3d(tmp_path / "S1.b3d", skel, mass=0.0)  # 0 = unknown in a .b3d
    report = []
    walk = next(s for s in read_source("addbiomechanics", tmp_path, report=report) if s.sequence_id.endswith("walk"))
    assert walk.torque_rajagopal is None and walk.mass_kg is None and "no body mass" in report[0]["reason"]
    walk = next(s for s in read_source("addbiomechanics", tmp_path, mass_kg=80.0) if s.sequence_id.endswith("walk"))
    assert walk.mass_kg == 80.0 and np.isfinite(walk.torque_rajagopal).any()


@pytest.mark.parametrize("problem", ["empty", "random", "truncated_header", "truncated_frames"])
def test_corrupt_file_skipped_or_strict(b3d, tmp_path, problem, caplog):
    src, _ = b3d
    data = src.read_bytes()
    header = int.from_bytes(data[:8], "little")
    bad = {"empty": b"", "random": np.random.default_rng(0).bytes(5000), "truncated_header": data[:header // 2],
           "truncated_frames": data[:header + 8 + 5000]}[problem]
    (tmp_path / "a.b3d").write_bytes(bad)
    shutil.copy(src, tmp_path / "b.b3d")
    report = []
    seqs = list(read_source("addbiomechanics", tmp_path, report=report))
    assert {s.sequence_id.split("/")[1] for s in seqs} == {"b"}
    assert report[0]["status"] == "skipped" and "a.b3d" in report[0]["reason"] and "a.b3d" in caplog.text
    assert report[1]["status"] == "ok"
    with pytest.raises(SchemaError, match="a.b3d"):
        list(read_source("addbiomechanics", tmp_path, strict=True))


@pytest.mark.slow
def test_cli_ingest_keeps_missing_grf_frames_unlabelled(b3d, tmp_path):
    src, _ = b3d
    (tmp_path / "src").mkdir()
    shutil.copy(src, tmp_path / "src" / src.name)
    cmd = [sys.executable, "-m", "hdys.cli", "-q", "ingest", "addbiomechanics", str(tmp_path / "src")]
    done = subprocess.run(cmd + ["--out", str(tmp_path / "c")], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with Corpus(tmp_path / "c") as corpus:
        walk = corpus.read("src/P002_split1/walk")
        assert walk.subject == "P002" and walk.mass_kg == pytest.approx(MASS)
        assert np.isnan(walk.torque_rajagopal[list(MISSING)]).all() and np.isfinite(walk.torque_rajagopal[1]).all()
        assert "src/P002_split1/static" in corpus
    report = json.loads((tmp_path / "c" / "ingest_report.json").read_text())
    assert report[0]["status"] == "ok" and "missing GRF" in report[0]["reason"]
    (tmp_path / "src" / "z.b3d").write_bytes(b"\x00" * 100)
    done = subprocess.run(cmd + ["--out", str(tmp_path / "c2"), "--strict"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 2 and "z.b3d" in done.stderr


def test_missing_nimblephysics_names_the_install_command(b3d, monkeypatch):
    monkeypatch.setitem(sys.modules, "nimblephysics", None)  # import nimblephysics -> ImportError
    with pytest.raises(SchemaError, match=r"P002_split1.b3d: reading .b3d needs nimblephysics \(pip install "
                                          r"nimblephysics==0.10.52.1"):
        list(read_source("addbiomechanics", b3d[0], strict=True))

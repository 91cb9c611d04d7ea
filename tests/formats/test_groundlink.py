"""GroundLink reader: preprocessed .pth trials (written as GroundLink's preprocessing writes them) and
subjects.csv -> smpl, grf (N), cop (world), mass; malformed trials are reported and skipped."""
from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hdys.cli import main
from hdys.formats import read_source
from hdys.formats.groundlink import HAND_NOTE
from hdys.schema import SchemaError

F = 10
SUBJECTS = [["Id", "Gender", "Age", "Height", "Shoe Length", "Arm Length", "Weight", "Insoles Size"],
            ["S1", "female", "25", "165", "24", "60", "58", "4"],
            ["S7", "female", "30", "172", "25", "63", "66", "6"],
            ["S3", "female", "28", "160", "23", "58", "nan", "4"]]


def trial(seed: int) -> tuple[dict, np.ndarray]:
    """A trial dict as GroundLink's preprocess.ipynb saves it, and the world CoP it was made from."""
    rng = np.random.default_rng(seed)
    angles = 0.3 * rng.standard_normal((F, 22, 3))
    pelvis = np.c_[np.linspace(0, 1, F), rng.uniform(-1, 1, F), np.full(F, 0.95)][:, None]  # (F, 1, 3), z up
    cop = np.c_[rng.uniform(-1, 1, (F, 2)).reshape(F, 2, 1), rng.uniform(-1, 1, (F, 2, 1)), np.zeros((F, 2, 1))]
    cop = cop.reshape(F, 2, 3)
    yaw = np.zeros((F, 3))
    yaw[:, 2] = angles[:, 0, 2]  # GroundLink keeps the z component of the root axis-angle as the heading
    to_global = np.tile(np.eye(4), (F, 1, 1))
    to_global[:, :3, :3] = Rotation.from_rotvec(yaw).as_matrix()
    to_global[:, :2, 3] = pelvis[:, 0, :2]
    inv = np.linalg.inv(to_global)
    cop_local = np.einsum("fij,fkj->fki", inv, np.concatenate([cop, np.ones((F, 2, 1))], axis=-1))[..., :3]
    pelvis_local = np.einsum("fij,fkj->fki", inv, np.concatenate([pelvis, np.ones((F, 1, 1))], axis=-1))[..., :3]
    grf = np.zeros((F, 2, 3))
    grf[:, 0, 2], grf[:, 1, 2], grf[:, 1, 0] = 0.35, 0.30, 0.02  # kN, as GroundLink stores it
    d = {"gender": np.array("female"), "angles": torch.tensor(angles), "trans": torch.tensor(pelvis),
         "shape": torch.zeros(F, 16, 3, dtype=torch.float64), "framerate": 250.0,
         "to_global_rot": torch.tensor(to_global[:, :3, :3]), "to_global": torch.tensor(to_global),
         "poses": torch.cat([torch.tensor(pelvis_local), torch.tensor(angles)], dim=1).float(),
         "CoP": torch.tensor(cop_local).float(), "GRF": torch.tensor(grf).float()}
    return d, cop


def write(root, subject: str, name: str, d: dict):
    path = root / subject / "preprocessed" / f"{name}.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(d, path)
    return path


@pytest.fixture
def processed(tmp_path):
    root = tmp_path / "ProcessedData"
    root.mkdir()
    (root / "subjects.csv").write_text("\n".join(",".join(r) for r in SUBJECTS) + "\n")
    return root


def test_trials(processed):
    d1, cop1 = trial(1)
    d7, _ = trial(7)
    write(processed, "S1", "s001_20220513_walk_1", d1)
    write(processed, "S7", "s007_20220705_hopping_1", d7)
    report = []
    s1, s7 = read_source("groundlink", processed, report=report)
    assert (s1.sequence_id, s1.subject, s1.split, s1.fps) == ("S1/s001_20220513_walk_1", "S1", "train", 250.0)
    assert (s7.subject, s7.split, s7.mass_kg, s7.height_m) == ("S7", "test", 66.0, pytest.approx(1.72))
    assert (s1.mass_kg, s1.height_m) == (58.0, pytest.approx(1.65))
    np.testing.assert_allclose(s1.smpl[:, :3], d1["trans"][:, 0].numpy(), atol=1e-6)
    np.testing.assert_allclose(s1.smpl[:, 3:69], d1["angles"].reshape(F, 66).numpy(), atol=1e-6)
    assert not s1.smpl[:, 69:].any()  # SMPL hands
    np.testing.assert_allclose(s1.grf[:, 0], np.tile([0, 0, 350.0], (F, 1)), rtol=1e-5)  # kN -> N, left
    np.testing.assert_allclose(s1.grf[:, 1], np.tile([20.0, 0, 300.0], (F, 1)), rtol=1e-5)
    np.testing.assert_allclose(s1.cop, cop1, atol=1e-5)  # back in the world frame, on the floor
    assert report[0]["status"] == "ok" and report[0]["took"] == ["smpl", "grf", "cop", "mass_kg"]
    assert report[0]["reason"] == HAND_NOTE


def test_poses_when_angles_absent_and_mass_option(processed):
    d, _ = trial(2)
    angles = d.pop("angles")
    write(processed, "S9", "s009_x_walk_1", d)  # S9 is not in subjects.csv
    (seq,) = read_source("groundlink", processed, mass_kg=71.0)
    assert seq.mass_kg == 71.0 and seq.height_m is None
    np.testing.assert_allclose(seq.smpl[:, 3:69], angles.reshape(F, 66).numpy(), atol=1e-6)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("case, message", [
    ("truncated", "not a readable torch .pth file"),
    ("cut_inside", "not a readable torch .pth file"),  # torch's reader raised a bare OSError EINVAL here
    ("code", "not a readable torch .pth file.*system"),
    ("shape", r"angles: expected shape \(T, 22, 3\), got \(10, 21, 3\)"),
    ("missing", r"missing key 'CoP'"),
    ("nan_mass", r"column 'Weight' must be a positive number, got 'nan'"),
    ("unknown_subject", r"subject S9 not in .*subjects.csv"),
    ("prediction", "prediction file"),
    ("newtons", "already in N"),
])
def test_malformed(processed, case, message):
    write(processed, "S1", "s001_a_walk_1", trial(1)[0])
    d, _ = trial(3)
    subject = {"nan_mass": "S3", "unknown_subject": "S9"}.get(case, "S1")
    if case == "shape":
        d["angles"], d["poses"] = d["angles"][:, :21], d["poses"][:, :22]
    if case == "missing":
        del d["CoP"]
    if case == "prediction":
        d["prediction"] = torch.zeros(F, 2, 6)
    if case == "newtons":
        d["GRF"] = d["GRF"] * 1000
    if case == "code":
        d["gender"] = _Evil()
    bad = write(processed, subject, "s00x_b_walk_1", d)
    if case == "truncated":
        bad.write_bytes(bad.read_bytes()[:400])
    if case == "cut_inside":
        bad.write_bytes(bad.read_bytes()[:-50])
    report = []
    (seq,) = read_source("groundlink", processed, report=report)
    assert seq.sequence_id == "S1/s001_a_walk_1"
    (rec,) = [r for r in report if r["status"] == "skipped"]
    assert rec["path"] == str(bad) and re.search(message, rec["reason"]), rec["reason"]
    with pytest.raises(SchemaError, match="s00x_b_walk_1.pth"):
        list(read_source("groundlink", processed, strict=True))


def test_cli_ingest_and_info(processed, tmp_path, capsys):
    write(processed, "S1", "s001_a_walk_1", trial(1)[0])
    write(processed, "S7", "s007_a_hopping_1", trial(7)[0])
    out = tmp_path / "corpus"
    assert main(["-q", "ingest", "groundlink", str(processed), "--out", str(out), "--fps", "100"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert {(s["sequence_id"], s["split"]) for s in manifest["sequences"]} == {
        ("S1/s001_a_walk_1", "train"), ("S7/s007_a_hopping_1", "test")}
    assert {s["frames"] for s in manifest["sequences"]} == {4}  # 10 frames at 250 fps = 36 ms -> 4 at 100 fps
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "groundlink" in info and "smpl" in info and "grf" in info
    (processed / "S1" / "preprocessed" / "broken.pth").write_bytes(b"PK\x03\x04 truncated")
    assert main(["-q", "ingest", "groundlink", str(processed), "--out", str(tmp_path / "c2")]) == 0
    assert "broken.pth" in capsys.readouterr().err
    assert main(["-q", "ingest", "groundlink", str(processed), "--out", str(tmp_path / "c3"), "--strict"]) == 2


def test_subject_from_trial_name(processed):
    torch.save(trial(4)[0], processed / "s007_20220705_hopping_2.pth")  # no S<k> folder
    (seq,) = read_source("groundlink", processed)
    assert (seq.subject, seq.split, seq.mass_kg, seq.sequence_id) == ("S7", "test", 66.0, "S7/s007_20220705_hopping_2")

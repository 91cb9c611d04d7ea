"""AMASS reader: *_poses.npz (SMPL-H) and *_stageii.npz (SMPL-X) -> smpl (T, 75), subject, fps."""
from __future__ import annotations

import numpy as np
import pytest

from hdys.formats import read_source
from hdys.schema import SchemaError

T = 12


def write_poses(path, width=156, fps=120.0, **drop):
    rng = np.random.default_rng(0)
    d = dict(poses=0.2 * rng.standard_normal((T, width)), trans=np.cumsum(np.full((T, 3), 0.01), axis=0),
             betas=np.zeros(16), gender=np.array("female"), mocap_framerate=np.array(fps))
    for k in drop:
        d.pop(k)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)
    return d


def write_stageii(path):
    rng = np.random.default_rng(1)
    d = dict(mocap_frame_rate=np.array(60.0), trans=np.zeros((T, 3)), root_orient=0.1 * rng.standard_normal((T, 3)),
             pose_body=0.1 * rng.standard_normal((T, 63)), pose_hand=np.zeros((T, 90)), pose_jaw=np.zeros((T, 3)),
             pose_eye=np.zeros((T, 6)), poses=np.zeros((T, 165)), betas=np.zeros(16), gender=np.array("male"),
             surface_model_type=np.array("smplx"))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)
    return d


def test_poses_and_stageii(tmp_path):
    root = tmp_path / "CMU"
    h = write_poses(root / "01" / "01_01_poses.npz")
    x = write_stageii(root / "02" / "02_01_stageii.npz")
    np.savez(root / "01" / "shape.npz", betas=np.zeros(16))  # not a sequence: not listed
    report = []
    a, b = read_source("amass", root, report=report)
    assert (a.subject, a.fps, a.sequence_id) == ("01", 120.0, "CMU/01/01_01_poses")
    np.testing.assert_allclose(a.smpl[:, :3], h["trans"], atol=1e-6)
    np.testing.assert_allclose(a.smpl[:, 3:69], h["poses"][:, :66], atol=1e-6)  # root + 21 body joints
    assert not a.smpl[:, 69:].any()  # SMPL hands 22, 23 zero
    assert (b.subject, b.fps) == ("02", 60.0)
    np.testing.assert_allclose(b.smpl[:, 3:6], x["root_orient"], atol=1e-6)
    np.testing.assert_allclose(b.smpl[:, 6:69], x["pose_body"], atol=1e-6)
    assert [r["took"] for r in report] == [["smpl"], ["smpl"]]
    assert "SMPL-H finger joints dropped" in report[0]["reason"]


def test_plain_smpl_and_resampling(tmp_path):
    d = write_poses(tmp_path / "s" / "a_poses.npz", width=72, fps=60.0)
    (seq,) = read_source("amass", tmp_path, fps=30.0)
    assert seq.fps == 30.0 and seq.num_frames == T // 2
    np.testing.assert_allclose(seq.smpl[:, 6:], d["poses"][::2, 3:], atol=1e-5)  # exact frames kept


def test_keypoints_need_smplx(tmp_path):
    write_poses(tmp_path / "s" / "a_poses.npz")
    report = []
    (seq,) = read_source("amass", tmp_path, smpl_model=tmp_path / "models", report=report)
    try:
        import smplx  # noqa: F401
    except ImportError:
        assert seq.keypoints is None and "smplx is not installed" in report[0]["reason"]
    else:
        assert seq.keypoints is None and "keypoints skipped" in report[0]["reason"]  # no model files there


@pytest.mark.parametrize("problem", ["truncated", "missing_key", "bad_width"])
def test_malformed(tmp_path, problem):
    p = tmp_path / "s" / "a_poses.npz"
    if problem == "truncated":
        write_poses(p)
        p.write_bytes(p.read_bytes()[:300])
    elif problem == "missing_key":
        write_poses(p, trans=True)
    else:
        write_poses(p, width=100)
    report = []
    assert list(read_source("amass", tmp_path, report=report)) == []
    assert report[0]["status"] == "skipped" and "a_poses.npz" in report[0]["reason"]
    with pytest.raises(SchemaError, match="a_poses.npz"):
        list(read_source("amass", tmp_path, strict=True))

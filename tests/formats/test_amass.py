"""AMASS reader: *_poses.npz (SMPL-H) and *_stageii.npz (SMPL-X) -> smpl (T, 75), subject, fps; SMPL keypoints
through smplx from a synthetic SMPL model file, checked against independent forward kinematics."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hdys.formats import read_source
from hdys.schema import SMPL_JOINT_NAMES, SMPL_PARENTS, SchemaError

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


# A synthetic SMPL model in the layout smplx loads (``<dir>/smpl/SMPL_<GENDER>.pkl``, a latin1-readable
# pickle of arrays). It has SMPL's 6890 vertices because smplx also picks extra joints from fixed SMPL
# vertex ids (up to 6787); they are clustered around 24 joints (z up, metres) so that the mean-of-cluster
# J_regressor gives those joints exactly.
REST = np.array([
    [0, 0, .95], [.09, 0, .88], [-.09, 0, .88], [0, 0, 1.05], [.10, 0, .50], [-.10, 0, .50], [0, 0, 1.18],
    [.10, 0, .08], [-.10, 0, .08], [0, 0, 1.25], [.10, .12, 0], [-.10, .12, 0], [0, 0, 1.45], [.07, 0, 1.38],
    [-.07, 0, 1.38], [0, 0, 1.55], [.18, 0, 1.40], [-.18, 0, 1.40], [.45, 0, 1.40], [-.45, 0, 1.40],
    [.70, 0, 1.40], [-.70, 0, 1.40], [.78, 0, 1.40], [-.78, 0, 1.40]])  # (24, 3), SMPL joint order
SHAPE = np.random.default_rng(2).normal(0, 0.01, (24, 3, 10))  # per-joint shift per beta, m


def write_smpl_model(folder, gender="NEUTRAL"):
    v = 6890
    cluster = np.arange(v) % 24
    offsets = np.random.default_rng(3).normal(0, 0.03, (v, 3))
    for k in range(24):
        offsets[cluster == k] -= offsets[cluster == k].mean(axis=0)  # each cluster's mean = its joint
    onehot = np.eye(24)[cluster]  # (V, 24)
    model = dict(v_template=REST[cluster] + offsets, shapedirs=SHAPE[cluster],
                 posedirs=np.zeros((v, 3, 207), np.float32), J_regressor=(onehot / onehot.sum(axis=0)).T,
                 weights=onehot, kintree_table=np.array([SMPL_PARENTS, range(24)]),
                 f=np.arange(v - v % 3).reshape(-1, 3))
    (folder / "smpl").mkdir(parents=True)
    with open(folder / "smpl" / f"SMPL_{gender}.pkl", "wb") as f:
        pickle.dump(model, f, protocol=2)


def forward_kinematics(poses, trans, rest):
    """(T, 24, 3) joints: each joint's rest offset from its parent turned by the parent's global rotation."""
    out = np.zeros((len(poses), 24, 3))
    for t, (pose, tr) in enumerate(zip(poses.reshape(len(poses), 24, 3), trans)):
        rot = [None] * 24
        for k, p in enumerate(SMPL_PARENTS):
            local = Rotation.from_rotvec(pose[k])
            rot[k] = local if p < 0 else rot[p] * local
            out[t, k] = rest[k] + tr if p < 0 else out[t, p] + rot[p].apply(rest[k] - rest[p])
    return out


def test_keypoints_from_smpl_model(tmp_path):
    pytest.importorskip("smplx")
    write_smpl_model(tmp_path / "models")
    poses = np.zeros((4, 72))
    poses[1, 4 * 3] = np.pi / 2  # frame 1: left knee 90 deg about x
    poses[2:] = np.random.default_rng(4).normal(0, 0.3, (2, 72))  # frames 2, 3: any pose
    trans = np.array([[0, 0, 0], [1, 2, 0.5], [0, 0, 0], [-0.3, 0.1, 0.2]])
    betas = np.zeros(16)
    betas[:3] = [1.0, -2.0, 0.5]  # SMPL uses the first 10
    (tmp_path / "s").mkdir()
    np.savez(tmp_path / "s" / "a_poses.npz", poses=poses, trans=trans, betas=betas, gender=np.array("neutral"),
             mocap_framerate=np.array(30.0))
    report = []
    (seq,) = read_source("amass", tmp_path / "s", smpl_model=tmp_path / "models", report=report)
    assert report[0]["took"] == ["smpl", "keypoints"]
    assert seq.keypoints.shape == (4, 24, 3) and seq.keypoint_names == list(SMPL_JOINT_NAMES)
    assert seq.keypoint_parents.tolist() == list(SMPL_PARENTS)
    rest = REST + SHAPE[..., :10] @ betas[:10]  # the shaped joints
    kp = seq.keypoints
    np.testing.assert_allclose(kp[0], rest, atol=1e-5)  # zero pose, no translation: the rest joints
    knee, ankle, foot = 4, 7, 10
    np.testing.assert_allclose(np.delete(kp[1], [ankle, foot], axis=0), np.delete(rest, [ankle, foot], axis=0)
                               + trans[1], atol=1e-5)  # only the knee's children move
    shin = kp[1, ankle] - kp[1, knee]  # rest shin points down (-z); +90 deg about x turns it to +y
    np.testing.assert_allclose(shin, Rotation.from_rotvec([np.pi / 2, 0, 0]).apply(rest[ankle] - rest[knee]),
                               atol=1e-5)
    assert shin[1] > 0.3 and abs(shin[2]) < 0.05  # now about horizontal (betas tilt the rest shin a little)
    np.testing.assert_allclose(kp, forward_kinematics(poses, trans, rest), atol=1e-5)  # metres, z up
    assert (kp[0, 15, 2] - kp[0, 0, 2]) > 0.5  # head above pelvis: not turned to y up

"""Lab markers and keypoint trees of the two bodies: counts, names, rigidity, scaling, anatomy, trees."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics.bodies import (RAJAGOPAL_TREES, SMPL_TREES, landmark_of, rajagopal_body, smpl_body)
from hdys.schema import (BODY25_NAMES, COCO17_NAMES, KEYPOINT_TREES, RAJAGOPAL_KEYPOINTS, SMPL_JOINT_NAMES,
                         SchemaError, Sequence, keypoint_cycle, keypoint_subtree, validate)

PLUG_IN_GAIT_LEGS = ("ASI", "PSI", "THI", "KNE", "TIB", "ANK", "HEE", "TOE")
PLUG_IN_GAIT_ARMS = ("SHO", "UPA", "ELB", "FRM", "WRA", "WRB", "FIN")


def _bodies(height=1.74, mass=72.0, noise=0.0, seed=0):
    return {"rajagopal": rajagopal_body(height, mass, marker_noise_m=noise, rng=np.random.default_rng(seed)),
            "smpl": smpl_body(height, mass, marker_noise_m=noise, rng=np.random.default_rng(seed)),
            "rajagopal_arms": rajagopal_body(height, mass, marker_noise_m=noise, rng=np.random.default_rng(seed),
                                             arms=True)}


BODIES = ["rajagopal", "smpl", "rajagopal_arms"]


@pytest.fixture(scope="module")
def bodies():
    return _bodies()


def _random_states(model: mujoco.MjModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, nq) random poses: hinges and slides inside their ranges, random ball/free orientations."""
    qpos = np.zeros((n, model.nq))
    for j in range(model.njnt):
        a, kind = model.jnt_qposadr[j], model.jnt_type[j]
        if kind in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE)):
            lo, hi = model.jnt_range[j] if model.jnt_limited[j] else (-1.0, 1.0)
            qpos[:, a] = rng.uniform(max(lo, -1.0), min(hi, 1.0), n)
        else:
            off = 3 if kind == int(mujoco.mjtJoint.mjJNT_FREE) else 0
            if off:
                qpos[:, a:a + 3] = rng.normal(0, 1, (n, 3))
            quat = rng.normal(0, 1, (n, 4))
            qpos[:, a + off:a + off + 4] = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    return qpos


def _tracks(model, qpos, sites):
    """Site world positions (n, S, 3) and, per site, its position in its body frame (n, S, 3)."""
    data = mujoco.MjData(model)
    world, local = [], []
    body = model.site_bodyid[sites]
    for q in qpos:
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        p = data.site_xpos[sites]
        world.append(p.copy())
        local.append(np.einsum("sji,sj->si", data.xmat[body].reshape(-1, 3, 3), p - data.xpos[body]))
    return np.array(world), np.array(local)


@pytest.mark.parametrize("name", BODIES)
def test_marker_set_is_named_unique_and_large(bodies, name):
    b = bodies[name]
    assert len(b.marker_names) >= 39 and len(set(b.marker_names)) == len(b.marker_names)
    assert len(b.marker_site) == len(b.marker_names)
    for side in "LR":
        assert {side + m for m in PLUG_IN_GAIT_LEGS} <= set(b.marker_names)
    assert {"C7", "T10", "CLAV", "STRN", "RBAK", "LFHD", "RFHD", "LBHD", "RBHD"} <= set(b.marker_names)
    has_arms = {s + m for s in "LR" for m in PLUG_IN_GAIT_ARMS} <= set(b.marker_names)
    assert has_arms == (name != "rajagopal")  # the Rajagopal body has arms only if asked for


@pytest.mark.parametrize("name", BODIES)
def test_markers_and_keypoints_are_rigid_on_their_bodies(name):
    b = _bodies(noise=0.01)[name]
    qpos = _random_states(b.model, 12, np.random.default_rng(1))
    sites = np.concatenate([b.marker_site] + [t.site for t in b.keypoints.values()])
    world, local = _tracks(b.model, qpos, sites)
    np.testing.assert_allclose(local, np.broadcast_to(local[:1], local.shape), atol=1e-9)  # fixed in the body
    moved = np.linalg.norm(world - world[:1], axis=-1).max(axis=0)  # (S,) while the bodies move
    assert (moved > 0.05).mean() > 0.9


def test_markers_on_different_segments_move_relative_to_each_other(bodies):
    b = bodies["rajagopal"]
    qpos = _random_states(b.model, 12, np.random.default_rng(2))
    world, _ = _tracks(b.model, qpos, b.marker_site)
    i = {n: k for k, n in enumerate(b.marker_names)}
    d = lambda a, c: np.linalg.norm(world[:, i[a]] - world[:, i[c]], axis=-1)  # noqa: E731
    assert np.ptp(d("RASI", "LASI")) < 1e-9 and np.ptp(d("RKNE", "RKNM")) < 1e-9  # same segment
    assert np.ptp(d("RTHI", "RTIB")) > 0.02 and np.ptp(d("RASI", "RKNE")) > 0.02  # across a joint


@pytest.mark.parametrize("name", BODIES)
def test_marker_offsets_scale_with_height_and_vary_per_subject(name):
    short, tall = _bodies(height=1.55)[name], _bodies(height=1.90)[name]

    def local(b):
        return _tracks(b.model, _random_states(b.model, 1, np.random.default_rng(0)), b.marker_site)[1][0]

    np.testing.assert_allclose(local(tall), local(short) * 1.90 / 1.55, atol=2e-6)  # XML keeps 6 digits
    a, c = _bodies(noise=0.01, seed=3)[name], _bodies(noise=0.01, seed=4)[name]
    diff = local(a) - local(c)  # two subjects of the same size: offsets differ by ~N(0, 2 * 0.01^2)
    assert 0.007 < diff.std() < 0.02
    np.testing.assert_array_equal(local(a), local(_bodies(noise=0.01, seed=3)[name]))  # deterministic


def _standing(name, b):
    """World positions of (markers, {tree: keypoints}) in a neutral upright pose, plus the up axis."""
    qpos = np.zeros((1, b.model.nq))
    if name == "smpl":
        qpos[0, 3:7] = (np.sqrt(0.5), np.sqrt(0.5), 0.0, 0.0)  # root +90 deg about x: upright, z up
        qpos[0, b.joint_qpos] = 1.0
        up = np.array([0.0, 0.0, 1.0])
    else:
        up = np.array([0.0, 1.0, 0.0])  # OpenSim y up
    markers = _tracks(b.model, qpos, b.marker_site)[0][0]
    kps = {t: _tracks(b.model, qpos, tree.site)[0][0] for t, tree in b.keypoints.items()}
    return markers, kps, up


@pytest.mark.parametrize("name", BODIES)
def test_markers_sit_where_the_anatomy_is(bodies, name):
    b = bodies[name]
    markers, kps, up = _standing(name, b)
    m = dict(zip(b.marker_names, markers))
    h = {n: float(p @ up) for n, p in m.items()}
    assert h["LFHD"] > h["C7"] > h["STRN"] > h["LASI"] > h["LTHI"] > h["LKNE"] > h["LTIB"] > h["LANK"] > h["LHEE"]
    assert h["LKNE"] == pytest.approx(h["LKNM"], abs=0.01) and abs(h["LANK"] - h["LMED"]) < 0.02
    left = m["LASI"] - m["RASI"]
    left /= np.linalg.norm(left)
    forward = (m["LASI"] + m["RASI"]) / 2 - (m["LPSI"] + m["RPSI"]) / 2
    forward -= (forward @ up) * up
    forward /= np.linalg.norm(forward)
    for n in m:
        if n[0] == "L" and "R" + n[1:] in m:
            assert (m[n] - m["R" + n[1:]]) @ left > 0.03, n  # left markers on the left
    assert (m["LKNE"] - m["LKNM"]) @ left > 0.05 and (m["LANK"] - m["LMED"]) @ left > 0.04  # lateral vs medial
    assert (m["LTOE"] - m["LHEE"]) @ forward > 0.1 and (m["STRN"] - m["T10"]) @ forward > 0.1
    tree = dict(zip(b.keypoints["body25"].names, kps["body25"]))
    kh = {n: float(p @ up) for n, p in tree.items()}
    assert kh["LEye"] > kh["Nose"] > kh["Neck"] > kh["LShoulder"] > kh["MidHip"] > kh["LKnee"] > kh["LAnkle"]
    assert kh["LHeel"] < kh["LAnkle"] - 0.05 and (tree["LBigToe"] - tree["LHeel"]) @ forward > 0.2
    assert (tree["Nose"] - tree["LEar"]) @ forward > 0.05 and (tree["LEar"] - tree["REar"]) @ left > 0.1
    if name == "rajagopal_arms":  # hanging arms: shoulder above elbow above wrist above fingers, elbow lateral
        assert h["LSHO"] > h["LUPA"] > h["LELB"] > h["LFRM"] > h["LWRA"] > h["LFIN"]
        assert kh["LShoulder"] > kh["LElbow"] > kh["LWrist"] and kh["LElbow"] > kh["MidHip"]
        assert (m["LELB"] - tree["LElbow"]) @ left > 0.02
        assert abs(kh["LShoulder"] - kh["LElbow"] - 0.286 * b.height_m / 1.70) < 0.01  # the model's upper arm


def test_trees_offered_per_body(bodies):
    raj, smpl, arms = bodies["rajagopal"], bodies["smpl"], bodies["rajagopal_arms"]
    assert arms.keypoints["coco17"].names == list(COCO17_NAMES) and arms.keypoints["body25"].names == list(BODY25_NAMES)
    assert arms.keypoints["rajagopal"].names == list(RAJAGOPAL_KEYPOINTS)
    assert tuple(raj.keypoints) == RAJAGOPAL_TREES and tuple(smpl.keypoints) == SMPL_TREES
    assert raj.keypoints["rajagopal"].names == list(RAJAGOPAL_KEYPOINTS)
    assert smpl.keypoints["smpl24"].names == list(SMPL_JOINT_NAMES)
    assert smpl.keypoints["coco17"].names == list(COCO17_NAMES) and smpl.keypoints["body25"].names == list(BODY25_NAMES)
    armless = {n for n in COCO17_NAMES if "elbow" in n or "wrist" in n}
    assert raj.keypoints["coco17"].names == [n for n in COCO17_NAMES if n not in armless]
    assert raj.keypoints["body25"].names == [n for n in BODY25_NAMES if not n.endswith(("Elbow", "Wrist"))]
    for b in (raj, smpl):
        for tree in b.keypoints.values():
            assert len(tree.parents) == len(tree.names) == len(tree.site) and not keypoint_cycle(tree.parents)
            assert (tree.parents == -1).sum() == 1


@pytest.mark.parametrize("name", BODIES)
def test_trees_agree_on_shared_landmarks(bodies, name):
    """A landmark read through any tree is the same point (BODY_25 LKnee = COCO left_knee = the knee centre),
    and SMPL-24 keypoints are the joint positions."""
    b = bodies[name]
    qpos = _random_states(b.model, 3, np.random.default_rng(5))
    seen: dict[str, np.ndarray] = {}
    for t, tree in b.keypoints.items():
        world = _tracks(b.model, qpos, tree.site)[0]
        for k, n in enumerate(tree.names):
            lm = landmark_of(t, n)
            if lm in seen:
                np.testing.assert_allclose(world[:, k], seen[lm], atol=1e-12)
            seen[lm] = world[:, k]
    assert {"left_knee", "nose", "right_heel", "mid_hip"} <= set(seen)
    if name == "smpl":
        data = mujoco.MjData(b.model)
        data.qpos[:] = qpos[0]
        mujoco.mj_kinematics(b.model, data)
        np.testing.assert_allclose(_tracks(b.model, qpos[:1], b.keypoints["smpl24"].site)[0][0], data.xpos[b.body])


@pytest.mark.parametrize("tree", sorted(KEYPOINT_TREES))
def test_keypoint_trees_are_valid(tree):
    names, parents = KEYPOINT_TREES[tree]
    assert len(names) == len(parents) == len(set(names))
    assert all(-1 <= p < len(names) for p in parents) and sum(p == -1 for p in parents) == 1
    assert keypoint_cycle(parents) == []
    if tree in ("smpl24", "rajagopal"):  # kinematic orders: parents precede children
        assert all(p < i for i, p in enumerate(parents))
    assert {"coco17": 17, "body25": 25, "smpl24": 24, "rajagopal": 14}[tree] == len(names)
    assert names[parents.index(-1)] == {"coco17": "left_hip", "body25": "MidHip", "smpl24": "pelvis",
                                        "rajagopal": "pelvis"}[tree]


def test_keypoint_subtree_relinks_over_dropped_points():
    names, parents = keypoint_subtree("body25", ["MidHip", "LHip", "LAnkle", "LBigToe", "LHeel", "Nose"])
    assert names == ["Nose", "MidHip", "LHip", "LAnkle", "LBigToe", "LHeel"]
    assert parents == [1, -1, 1, 2, 3, 3]  # Nose -> (Neck dropped) -> MidHip; LAnkle -> (LKnee dropped) -> LHip
    with pytest.raises(ValueError, match="unknown keypoint tree 'h36m'"):
        keypoint_subtree("h36m", [])


def test_validate_rejects_a_parent_cycle():
    points = np.random.default_rng(0).uniform(-1, 1, (4, 3, 3))  # spread like a body (points all at one place are refused)
    seq = Sequence(fps=30.0, keypoints=points, keypoint_names=["a", "b", "c"],
                   keypoint_parents=np.array([-1, 2, 1]))
    with pytest.raises(SchemaError, match=r"keypoint_parents: keypoints \['b', 'c'\].*cycle"):
        validate(seq)
    seq.keypoint_parents = np.array([-1, 0, 1])
    validate(seq)

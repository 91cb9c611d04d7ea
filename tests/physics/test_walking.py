"""Walking at 0.8-1.8 m/s: speed and cadence, the pelvis's rotation and vault, labels of slow and fast walks."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.contact import G, rajagopal_contact_dynamics, smpl_contact_dynamics
from hdys.physics.fixture import generate_subject, sample_subject, smpl_standing_height, standing_pelvis_height
from hdys.physics.locomotion import (SOFT_WEIGHT, SOFT_ZONE, STEP_RANGE, SWING_END_DEC, SWING_START_ACC,
                                     WALK_SOFT_WEIGHT, WALK_SOFT_ZONE, ground_rajagopal, ground_smpl, rajagopal_rig,
                                     smootherstep, smpl_rig, sole_points, swing_progress)
from hdys.physics.motions import PELVIS_STATURE, rajagopal_motion
from hdys.physics.smpl_motions import smpl_motion
from hdys.physics.timing import WALK_RATIO, WALK_SPEED, WALK_STEP_MAX, walk_frequency
from hdys.schema import RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES

NAMES = list(RAJAGOPAL_COORDINATES)


def _speed(motion, rig) -> float:
    return float(np.linalg.norm((motion.slope[rig.trans] @ rig.to_zup.T)[:2]))


def test_walk_frequency_keeps_the_walk_ratio_up_to_the_longest_step():
    for stature in (1.5, 1.75, 1.95):
        speeds = np.linspace(*WALK_SPEED, 21) * np.sqrt(stature / 1.75)  # dynamically similar speeds
        cadence = np.array([120 * walk_frequency(v, stature) for v in speeds])  # steps/min
        step = 60 * speeds / cadence
        assert (np.diff(cadence) > 0).all() and (step <= WALK_STEP_MAX * stature + 1e-9).all()
        ratio = step / cadence / (stature / 1.75)
        free = step < WALK_STEP_MAX * stature - 1e-6
        assert free[0] and not free[-1]  # slow walks keep the walk ratio, the fastest take quicker steps
        np.testing.assert_allclose(ratio[free], WALK_RATIO, rtol=1e-9)
        assert 75 < cadence[0] < 90 and 125 < cadence[-1] < 150  # 0.8 and 1.8 m/s at 1.75 m


@pytest.mark.parametrize("which", ["rajagopal", "smpl"])
def test_walks_span_the_speed_range_with_steps_the_planner_keeps(which):
    """The drawn speeds cover 0.8-1.8 m/s and the planner keeps each walk's step (``STEP_RANGE`` does not clip)."""
    speeds = []
    for seed, h in enumerate(np.linspace(1.5, 1.95, 40)):
        if which == "rajagopal":
            body = rajagopal_body(h, 22 * h * h)
            rig = rajagopal_rig(body)
            m = rajagopal_motion("walk", np.random.default_rng(seed), body.coord_range, standing_pelvis_height(body))
            ratio = standing_pelvis_height(body) / h
        else:
            body = smpl_body(h, 22 * h * h)
            rig = smpl_rig(body)
            m = smpl_motion("walk", np.random.default_rng(seed), smpl_standing_height(body))
            ratio = smpl_standing_height(body) / h
        assert ratio == pytest.approx(PELVIS_STATURE[which], abs=2e-3)
        v = _speed(m, rig)
        step = v / (2 * m.gait.freq)
        assert STEP_RANGE[0] * h < step < STEP_RANGE[1] * h
        assert 0.555 < m.gait.duty < 0.625  # shorter stance at higher speeds
        speeds.append(v)
    froude = np.array(speeds) / np.sqrt(np.linspace(1.5, 1.95, 40) / 1.75)  # the speed at 1.75 m
    assert WALK_SPEED[0] <= froude.min() < 1.0 and 1.6 < froude.max() <= WALK_SPEED[1]
    assert np.min(speeds) < 0.9 and np.max(speeds) > 1.65


@pytest.mark.parametrize("which", ["rajagopal", "smpl"])
def test_the_pelvis_turns_forward_on_the_side_of_the_heel_strike(which):
    """Pelvis rotation in the transverse plane: at each heel strike that leg's hip is ahead of the other."""
    for seed in range(3):
        if which == "rajagopal":
            body = rajagopal_body(1.75, 70.0)
            rig = rajagopal_rig(body)
            m = rajagopal_motion("walk", np.random.default_rng(seed), body.coord_range, standing_pelvis_height(body))
        else:
            body = smpl_body(1.75, 70.0)
            rig = smpl_rig(body)
            m = smpl_motion("walk", np.random.default_rng(seed), smpl_standing_height(body))
        data = mujoco.MjData(rig.model)
        f = m.gait.freq
        for side, name in enumerate(("left", "right")):
            t = np.array([(2 - m.gait.shifts[side] / (2 * np.pi)) / f])  # its heel strike
            q = m(t)[0]
            if rig.reorient is not None:
                q[:, rig.root_rot] = rig.reorient(q[:, rig.root_rot])
            data.qpos[:] = rig.to_qpos(q)[0]
            mujoco.mj_kinematics(rig.model, data)
            hips = data.xpos[rig.chain[:, 0]] @ rig.to_zup.T
            heading = m.mean[rig.yaw] + m.slope[rig.yaw] * t[0] + rig.yaw_offset
            ahead = (hips[side, :2] - hips[1 - side, :2]) @ np.array([np.cos(heading), np.sin(heading)])
            assert 0.004 < ahead < 0.03, (which, seed, name, ahead)


def test_the_walking_trunk_is_near_upright():
    body = rajagopal_body(1.75, 70.0)
    for seed in range(20):
        m = rajagopal_motion("walk", np.random.default_rng(seed), body.coord_range, standing_pelvis_height(body))
        lean = m.mean[NAMES.index("pelvis_tilt")] + m.mean[NAMES.index("lumbar_extension")]  # negative: forward
        assert -0.1 - 1e-9 <= lean <= 0.0


def _walk(body, target, seconds=3.0):
    """A generated walk near ``target`` m/s: (its speed, q, the labels, the GroundMotion)."""
    rig = rajagopal_rig(body)
    for seed in range(200):
        m = rajagopal_motion("walk", np.random.default_rng(seed), body.coord_range, standing_pelvis_height(body))
        if abs(_speed(m, rig) - target) < 0.05:
            break
    t = np.arange(int(seconds * 100)) / 100
    ground = ground_rajagopal(body, m, 0.0, t[-1])
    q, qd, qdd = ground(t)
    tau, res = rajagopal_contact_dynamics(body, q, qd, qdd)
    return _speed(m, rig), q, tau, res, ground


@pytest.mark.parametrize("target", [0.85, 1.3, 1.75])
def test_slow_and_fast_walks_are_explained_by_the_ground(target):
    body = rajagopal_body(1.8, 75.0)
    speed, q, tau, res, ground = _walk(body, target)
    assert abs(speed - target) < 0.05
    mg = body.mass_kg * G
    residual = np.linalg.norm(res.root_residual[:, :3], axis=1) / mg
    assert residual.mean() < 0.05 and np.percentile(residual, 95) < 0.2
    peaks = res.grf[..., 2].max(0) / mg
    assert ((peaks > 1.0) & (peaks < 1.7)).all(), peaks
    assert not (~res.contact.any(axis=1)).any()  # always a foot on the ground
    assert np.abs(tau).max() / body.mass_kg < 8.0
    achieved = ground.qpos  # the IK reaches the planned feet
    miss = np.linalg.norm(ground.plan.points - sole_points(ground.rig.model, ground.rig.feet, achieved), axis=-1)
    assert miss.max() < 0.025


def test_the_walking_pelvis_vaults_lowest_in_double_support():
    """Highest in single support, lowest around heel strike; the dip deepens with the step."""
    body = rajagopal_body(1.8, 75.0)
    depth = []
    for target in (0.85, 1.75):
        _, q, _, res, _ = _walk(body, target)
        z = q[:, NAMES.index("pelvis_ty")]
        double = res.contact.all(axis=1)
        assert z[double].mean() < z[~double].mean() - 0.003  # 4.6-5 mm on the Rajagopal 2015 body at 0.85 m/s
        assert standing_pelvis_height(body) - z.max() < 0.06  # the knees never crouch deeply in mid-stance
        depth.append(standing_pelvis_height(body) - z.min())
    assert depth[0] < depth[1] < 0.12


def test_swing_progress_meets_its_end_conditions():
    s = np.linspace(0.0, 1.0, 100001)
    h = s[1] - s[0]
    p = swing_progress(s, SWING_START_ACC, SWING_END_DEC)
    v, a = np.gradient(p, h), np.gradient(np.gradient(p, h), h)
    assert p[0] == 0 and p[-1] == pytest.approx(1.0) and abs(v[0]) < 1e-3 and abs(v[-1]) < 1e-3
    assert a[2] == pytest.approx(SWING_START_ACC, rel=1e-2) and a[-3] == pytest.approx(-SWING_END_DEC, rel=1e-2)
    assert (np.diff(p) >= 0).all()  # the foot never moves back
    np.testing.assert_allclose(swing_progress(s, 0.0, 0.0), smootherstep(s), atol=1e-12)


def test_the_vault_leaves_every_planned_foot_within_reach():
    """An SMPL walk whose smoothed pelvis once rose above what the swing leg could reach two frames before heel
    strike (a 48 mm miss, the leg folding: 22 N m/kg); the vault now lowers the pelvis smoothly wherever its
    smoothing rose above a leg's reach."""
    rng = np.random.default_rng([38, 7])  # as benchmarks/walking.py draws its 38th walk
    height, mass = sample_subject(rng)
    body = smpl_body(height, mass)
    motion = smpl_motion("walk", rng, smpl_standing_height(body))
    t = np.arange(90) / 30
    evaluate = ground_smpl(body, motion, 0.0, t[-1])
    tau, _ = smpl_contact_dynamics(body, evaluate(t))
    g = evaluate.ground
    miss = np.linalg.norm(g.plan.points - sole_points(g.rig.model, g.rig.feet, g.qpos), axis=-1)
    assert miss.max() < 0.005 and np.abs(tau).max() / mass < 10.0


@pytest.mark.slow
def test_smpl_knees_never_bend_backwards():
    """The SMPL knee is a ball joint without limits: a swing leg asked to reach just past its length at
    terminal swing once folded through full extension into a backward-bent knee and kept it through the
    stance (18.7 N m/kg, 3.9 BW), and the legs' free motion in a jump's flight carried the take-off extension
    8 deg past straight; the leg IK and the flight blend now keep the knee flexed. The subject holds a walk
    and a jump."""
    body = smpl_body(1.7, 65.0)
    knees = [body.joint_qpos[SMPL_JOINT_NAMES.index(f"{s}_knee") - 1] for s in ("left", "right")]
    seqs = [s for s in generate_subject("quick", 0, "sim", 4) if "mj_qpos" in s.extra]
    assert {"walk", "jump"} <= {s.extra["motion"] for s in seqs}
    for s in seqs:
        qpos = s.extra["mj_qpos"]
        for adr in knees:
            w, x = qpos[:, adr], qpos[:, adr + 1]
            angle = 2 * np.arctan2(x * np.where(w < 0, -1.0, 1.0), np.abs(w))
            assert angle.min() > -1e-3, (s.sequence_id, np.degrees(angle.min()))


def test_swing_knee_does_not_snap_straight_and_standing_keeps_the_narrow_soft_limit():
    """Walks plan with the wide, weak knee limit (``WALK_SOFT_ZONE``): the swing knee decelerates before full
    extension instead of stopping within a few frames (the stop put 0.3 BW onto the GRF); standing motions
    keep the narrow one (their knees stand nearly straight)."""
    body = rajagopal_body(1.75, 72.0)
    stand = standing_pelvis_height(body)
    t = np.arange(300) / 100
    walk = ground_rajagopal(body, rajagopal_motion("walk", np.random.default_rng([0, 7]), body.coord_range, stand),
                            0.0, t[-1])
    q, qd, qdd = walk(t)
    assert walk.plan.soft == (WALK_SOFT_ZONE, WALK_SOFT_WEIGHT) and WALK_SOFT_ZONE > SOFT_ZONE
    knees = [NAMES.index("knee_angle_r"), NAMES.index("knee_angle_l")]
    swing = ~rajagopal_contact_dynamics(body, q, qd, qdd)[1].contact[:, ::-1]  # (T, 2): [r, l] as knees
    # while a knee extends fast towards straight in swing, it decelerates gently (a person's: ~100 rad/s^2; the
    # walker knee of Rajagopal 2015: at most 343 here; a snap stops the knee within a few frames, thousands)
    fast = swing & (qd[:, knees] < -2.0) & (q[:, knees] < 0.5)
    assert fast.any() and np.abs(qdd[:, knees][fast]).max() < 400.0
    squat = ground_rajagopal(body, rajagopal_motion("squat", np.random.default_rng(1), body.coord_range, stand),
                             0.0, 1.0)
    assert squat.plan.soft == (SOFT_ZONE, SOFT_WEIGHT)

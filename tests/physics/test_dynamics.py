"""Physical consistency of the bodies, the analytic motions and the inverse dynamics."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.fixture import smpl_standing_height, standing_pelvis_height
from hdys.physics.inverse import (inverse_dynamics, rajagopal_forward, rajagopal_inverse, smpl_inverse, smpl_state,
                                  unconstrained)
from hdys.physics.motions import RAJAGOPAL_KINDS, TURN_SECONDS, rajagopal_motion
from hdys.physics.smpl_motions import SMPL_KINDS, smpl_euler_limits, smpl_motion, smpl_trajectory
from hdys.physics.rotations import euler_chain, rotation_log
from hdys.schema import RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES

G = 9.81


@pytest.fixture(scope="module")
def raj():
    return rajagopal_body(1.78, 74.0)


@pytest.fixture(scope="module")
def smpl():
    return smpl_body(1.68, 63.0)


def test_bodies_mass_names_and_order(raj, smpl):
    assert raj.model.body_mass.sum() == pytest.approx(74.0, rel=1e-6)
    assert smpl.model.body_mass.sum() == pytest.approx(63.0, rel=1e-5)
    names = [raj.model.joint(int(np.argwhere(raj.model.jnt_qposadr == a)[0, 0])).name for a in raj.coord_qpos]
    assert names == list(RAJAGOPAL_COORDINATES)
    assert raj.model.nu == 0  # muscles: myolegs (hdys.physics.myolegs)
    assert len(raj.marker_names) >= 20 and len(smpl.marker_names) >= 20
    assert [smpl.model.body(int(b)).name for b in smpl.body] == list(SMPL_JOINT_NAMES)
    assert smpl.model.nq == 7 + 23 * 4 and smpl.model.nv == 6 + 69
    # scaled anthropometry: the head markers sit near the stature in the standing pose
    assert 0.85 < standing_pelvis_height(raj) / 1.78 * 1.741 < 1.10
    assert 0.85 < smpl_standing_height(smpl) < 1.0


@pytest.mark.parametrize("kind", RAJAGOPAL_KINDS)
def test_rajagopal_motion_within_limits(raj, kind):
    rng = np.random.default_rng(1)
    for _ in range(5):
        t_end = TURN_SECONDS if kind == "turn" else 20.0  # a turn's heading leaves +-pi after that
        q, _, _ = rajagopal_motion(kind, rng, raj.coord_range, 1.0)(np.linspace(0, t_end, 4001))
        rot = [i for i, n in enumerate(RAJAGOPAL_COORDINATES) if n not in ("pelvis_tx", "pelvis_tz")]
        assert (q[:, rot] >= raj.coord_range[rot, 0]).all() and (q[:, rot] <= raj.coord_range[rot, 1]).all()


@pytest.mark.parametrize("kind", SMPL_KINDS)
def test_smpl_motion_within_euler_limits(kind):
    rng = np.random.default_rng(2)
    lim = smpl_euler_limits()
    q, _, _ = smpl_motion(kind, rng, 0.95)(np.linspace(0, 20, 2001))
    assert (q[:, 6:] >= lim[:, 0] - 1e-9).all() and (q[:, 6:] <= lim[:, 1] + 1e-9).all()


def test_euler_chain_derivatives_match_finite_differences():
    rng = np.random.default_rng(3)
    th, thd, thdd = rng.normal(size=(3, 3))
    h = 1e-6
    r0, w0, a0 = euler_chain(th, thd, thdd)
    r1, w1, _ = euler_chain(th + h * thd + 0.5 * h * h * thdd, thd + h * thdd, thdd)
    skew = r0.T @ (r1 - r0) / h  # R^T dR/dt = [omega]_x
    assert np.allclose([skew[2, 1], skew[0, 2], skew[1, 0]], w0, atol=1e-5)
    assert np.allclose((w1 - w0) / h, a0, atol=1e-4)


def _forward_check(model, qpos, qvel, qacc, qfrc):
    """Apply qfrc with mj_forward (no actuation, contacts or limits) and return the worst relative qacc error."""
    data = mujoco.MjData(model)
    old = model.opt.disableflags
    model.opt.disableflags = old | int(mujoco.mjtDisableBit.mjDSBL_ACTUATION)
    worst = 0.0
    try:
        with unconstrained(model):
            for i in range(0, qpos.shape[0], 7):
                data.qpos[:], data.qvel[:], data.qfrc_applied[:] = qpos[i], qvel[i], qfrc[i]
                mujoco.mj_forward(model, data)
                worst = max(worst, np.abs(data.qacc - qacc[i]).max() / (np.abs(qacc[i]).max() + 1e-9))
    finally:
        model.opt.disableflags = old
    return worst


@pytest.mark.parametrize("kind", ["walk", "squat"])
def test_rajagopal_inverse_reproduces_acceleration(raj, kind):
    rng = np.random.default_rng(4)
    q, qd, qdd = rajagopal_motion(kind, rng, raj.coord_range, 1.0)(np.arange(200) / 100)
    tau, residual = rajagopal_inverse(raj, q, qd, qdd)
    assert tau.shape == (200, 17) and residual.shape == (200, 6)
    # forward dynamics on the coordinates (the walker knees' coupled joints following) gives qdd back
    qdd_forward = rajagopal_forward(raj, q[::7], qd[::7], np.concatenate([residual, tau], axis=1)[::7])
    assert np.abs(qdd_forward - qdd[::7]).max() / np.abs(qdd[::7]).max() < 1e-6


@pytest.mark.parametrize("kind", SMPL_KINDS)
def test_smpl_inverse_reproduces_acceleration(smpl, kind):
    rng = np.random.default_rng(5)
    t = np.arange(90) / 30
    motion = smpl_motion(kind, rng, 0.95).with_jitter(rng, 0.005)
    traj = smpl_trajectory(motion, t)
    tau, residual, qfrc = smpl_inverse(smpl, traj)
    assert tau.shape == (90, 69) and residual.shape == (90, 6)
    qpos, qvel, qacc = smpl_state(smpl, traj)
    assert _forward_check(smpl.model, qpos, qvel, qacc, qfrc) < 1e-6
    # the analytic velocities/accelerations are the true derivatives of the exported poses
    h = 1e-6
    qpos2, qvel2, _ = smpl_state(smpl, smpl_trajectory(motion, t + h))
    for i in range(0, 90, 15):
        x = qpos[i].copy()
        mujoco.mj_integratePos(smpl.model, x, qvel[i], h)
        assert np.abs(x - qpos2[i]).max() < 1e-9
        assert np.allclose((qvel2[i] - qvel[i]) / h, qacc[i], atol=1e-3 * (1 + np.abs(qacc[i]).max()))


def test_gravity_hip_holding_leg_horizontal(raj):
    """Right hip flexed 90 deg, leg straight, at rest: hip torque = g * sum(m_i * lever_i)."""
    m = raj.model
    data = mujoco.MjData(m)
    data.qpos[:] = raj.state(np.zeros((1, 23)))[0]  # the neutral pose (the patellae sit where the knee puts them)
    mujoco.mj_kinematics(m, data)
    mujoco.mj_comPos(m, data)
    hip = data.xpos[m.body("femur_r").id]
    leg = [m.body(f"{b}_r").id for b in ("femur", "tibia", "patella", "talus", "calcn", "toes")]
    # neutral pose: the leg hangs along -y, so after 90 deg of flexion the lever arm is the drop below the hip
    g = -m.opt.gravity[1]
    expected = g * sum(m.body_mass[b] * (hip[1] - data.xipos[b, 1]) for b in leg)
    q = np.zeros((1, 23))
    q[0, RAJAGOPAL_COORDINATES.index("hip_flexion_r")] = np.pi / 2
    tau, _ = rajagopal_inverse(raj, q, np.zeros_like(q), np.zeros_like(q))
    dofs = list(RAJAGOPAL_COORDINATES[6:])
    assert tau[0, dofs.index("hip_flexion_r")] == pytest.approx(expected, rel=1e-9)
    m_leg = sum(m.body_mass[b] for b in leg)
    assert 0.15 * 74 < m_leg < 0.2 * 74 and 0.3 < expected / (g * m_leg) < 0.5  # leg CoM ~ 0.4 m below the hip


def test_static_torques_are_the_potential_energy_gradient(raj):
    """At rest, every coordinate's generalized force is dV/dq (V the gravitational potential energy): the
    walker knees' and patellae's coupled motion enters the knee torque by virtual work, as in OpenSim."""
    rng = np.random.default_rng(0)
    q = np.zeros((1, 23))
    q[0, 6:] = rng.uniform(raj.coord_range[6:, 0], raj.coord_range[6:, 1]) * 0.6
    q[0, RAJAGOPAL_COORDINATES.index("knee_angle_r")] = 1.1
    data = mujoco.MjData(raj.model)

    def potential(x):
        data.qpos[:] = raj.state(x)[0]
        mujoco.mj_kinematics(raj.model, data)
        return -raj.model.opt.gravity[1] * (raj.model.body_mass * data.xipos[:, 1]).sum()

    h = 1e-6
    grad = np.array([(potential(q + h * e) - potential(q - h * e)) / (2 * h) for e in np.eye(23)[:, None]])
    tau, residual = rajagopal_inverse(raj, q, np.zeros_like(q), np.zeros_like(q))
    assert np.allclose(np.concatenate([residual, tau], axis=1)[0], grad, atol=1e-5 * np.abs(grad).max())


def test_gravity_smpl_shoulder_holding_t_pose(smpl):
    """Upright rest pose (T-pose): the left shoulder holds the arm horizontal against gravity."""
    m = smpl.model
    data = mujoco.MjData(m)
    data.qpos[3:7] = (np.sqrt(0.5), np.sqrt(0.5), 0, 0)
    mujoco.mj_kinematics(m, data)
    sh = data.xpos[m.body("left_shoulder").id]
    arm = [m.body(n).id for n in ("left_shoulder", "left_elbow", "left_wrist", "left_hand")]
    # the joint cancels the gravity moment about the shoulder: tau = -sum r_i x (m_i g), world frame
    tau_world = -sum(np.cross(data.xipos[b] - sh, m.body_mass[b] * np.array([0, 0, -G])) for b in arm)
    lever = G * sum(m.body_mass[b] * (data.xipos[b, 0] - sh[0]) for b in arm)
    f = inverse_dynamics(m, data.qpos.copy()[None], np.zeros((1, m.nv)), np.zeros((1, m.nv)))
    d = smpl.joint_dof[SMPL_JOINT_NAMES.index("left_shoulder") - 1]
    root = data.xmat[smpl.body[0]].reshape(3, 3)  # child frame = root frame in the rest pose
    assert np.allclose(f[0, d:d + 3], root.T @ tau_world, rtol=1e-9, atol=1e-9)
    # rest frame: x left, y up, z forward; the horizontal arm needs +m g x about +z
    assert f[0, d + 2] == pytest.approx(lever, rel=1e-9) and lever > 5.0


def test_rotation_log_matches_scipy_at_every_angle():
    """Random axes at angles from 0 to pi, the small-angle series and the branch near pi included (at pi
    itself both axis signs are the same rotation)."""
    rng = np.random.default_rng(0)
    for angle in (0.0, 1e-9, 5e-5, 1e-4, 2e-4, 0.3, 1.5, 3.0, np.pi - 2e-3, np.pi - 1e-3, np.pi - 1e-6, np.pi):
        for _ in range(20):
            axis = rng.normal(size=3)
            truth = angle * axis / np.linalg.norm(axis)
            got = rotation_log(Rotation.from_rotvec(truth).as_matrix())
            if angle == np.pi and got @ truth < 0:
                got = -got
            np.testing.assert_allclose(got, truth, atol=1e-12)


@pytest.mark.parametrize("kind", ["walk", "kick"])
def test_the_mirror_image_of_a_motion_has_the_mirror_image_of_its_torques(raj, kind):
    """hdys.features.mirror_sequence's coordinate rules against the physics: inverse dynamics of the mirrored
    joint angles gives the mirrored torques (the Rajagopal body is left-right symmetric)."""
    from hdys.features import mirror_sequence
    from hdys.schema import Sequence
    motion = rajagopal_motion(kind, np.random.default_rng(3), raj.coord_range, standing_pelvis_height(raj))
    q, qd, qdd = motion(np.arange(40) / 50.0)
    tau, _ = rajagopal_inverse(raj, q, qd, qdd)
    m = mirror_sequence(Sequence(fps=50.0, joint_angles=np.stack([q, qd, qdd], 1).reshape(-1, 23),
                                 torque_rajagopal=tau))
    mq, mqd, mqdd = m.joint_angles.reshape(-1, 3, 23).transpose(1, 0, 2)
    assert np.abs(mq - q).max() > 0.1  # an asymmetric motion
    tau_m, _ = rajagopal_inverse(raj, mq, mqd, mqdd)
    np.testing.assert_allclose(m.torque_rajagopal, tau_m, atol=1e-6 * np.abs(tau).max())

"""The Rajagopal body with arms, the myofullbody arm muscles, arm static optimisation and the biceps EMG channels."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics import emg
from hdys.physics.bodies import ARM_COORDINATES, rajagopal_2015, rajagopal_body
from hdys.physics.contact import rajagopal_contact_dynamics
from hdys.physics.fixture import standing_pelvis_height
from hdys.physics.inverse import inverse_dynamics, rajagopal_state
from hdys.physics.locomotion import ground_rajagopal
from hdys.physics.motions import ARM_KINDS, RAJAGOPAL_KINDS, rajagopal_arms, rajagopal_motion
from hdys.physics.myoarms import (ARM_MODEL_MASS_KG, ARM_MUSCLE_NAMES, ARM_MUSCLES, MIN_ELEVATION, arm_muscle_terms,
                                  arm_state, load_myoarms)
from hdys.physics.static_opt import arm_static_optimization
from hdys.schema import MIA_EMG_CHANNELS, RAJAGOPAL_COORDINATES

ELBOW_R, ELBOW_L = ARM_COORDINATES.index("elbow_flex_r"), ARM_COORDINATES.index("elbow_flex_l")
G = 9.81


@pytest.fixture(scope="module")
def body():
    return rajagopal_body(1.80, 80.0, arms=True)


def _held(body, angle: float, n: int = 2) -> np.ndarray:
    """(n, 31) coordinates: standing, both elbows flexed to ``angle``, upper arms hanging."""
    q = np.zeros((n, 31))
    q[:, 23 + ELBOW_R] = q[:, 23 + ELBOW_L] = angle
    return q


def test_arms_carry_the_models_masses_and_keep_the_body_mass(body):
    armless = rajagopal_body(1.80, 80.0)
    assert body.model.body_mass.sum() == pytest.approx(80.0) == pytest.approx(armless.model.body_mass.sum())
    m, generic = body.model, rajagopal_2015()
    for name in ("humerus_r", "ulna_l", "radius_r", "hand_r"):
        assert m.body_mass[m.body(name).id] == pytest.approx(generic.bodies[name].mass * 80.0 / generic.mass)
    assert armless.arm_qpos is None and armless.model.nq == body.model.nq - 8  # the armless body's arms are welded
    assert len(set(body.arm_qpos) | set(body.coord_qpos) | set(body.coupled_qpos)) == body.model.nq
    with pytest.raises(ValueError, match=r"\(T, D\) with D in \(23, 31\)"):
        rajagopal_state(body, np.zeros((3, 30)))
    with pytest.raises(ValueError, match="no arms"):
        armless.set_hand_load(1.0)


def test_static_elbow_torque_is_the_forearm_and_load_weight_moment(body):
    """A horizontal forearm (elbow at 90 deg, upper arm hanging): the elbow torque is the change of the
    potential energy of forearm, hand and load with the elbow angle, and grows with the load."""
    q = _held(body, np.pi / 2)
    qpos = rajagopal_state(body, q)
    m, data = body.model, mujoco.MjData(body.model)

    def potential(angle):
        data.qpos[:] = rajagopal_state(body, _held(body, angle, 1))[0]
        mujoco.mj_kinematics(m, data)
        return -m.opt.gravity[1] * (m.body_mass * data.xipos[:, 1]).sum()

    torques = []
    for load in (0.0, 6.0):
        body.set_hand_load(load)
        f = inverse_dynamics(body.model, qpos, np.zeros_like(qpos), np.zeros_like(qpos))
        expected = (potential(np.pi / 2 + 1e-6) - potential(np.pi / 2 - 1e-6)) / 2e-6 / 2  # both elbows move
        assert f[0, body.arm_qpos[ELBOW_R]] == pytest.approx(expected, rel=1e-5)
        assert f[0, body.arm_qpos[ELBOW_L]] == pytest.approx(expected, rel=1e-5)
        torques.append(f[0, body.arm_qpos[ELBOW_R]])
    assert torques[1] > torques[0] + 6 * G * 0.2  # the load sits more than 20 cm in front of the elbow
    body.set_hand_load(0.0)
    with pytest.raises(ValueError, match=">= 0 kg"):
        body.set_hand_load(-1.0)


def _muscle_dofs(q_arm: np.ndarray) -> dict[str, set[str]]:
    """The myofullbody joints each of its muscles has a moment arm about, at hdys arm pose ``q_arm`` (8,)."""
    arms = load_myoarms()
    m, d = arms.model, mujoco.MjData(arms.model)
    d.qpos[:] = arm_state(q_arm[None], np.zeros((1, 8)))[0][0]
    mujoco.mj_forward(m, d)
    dense = np.zeros((m.nu, m.nv))
    mujoco.mju_sparse2dense(dense, d.actuator_moment, d.moment_rownnz, d.moment_rowadr, d.moment_colind)
    joint_of_dof = [m.joint(m.dof_jntid[v]).name for v in range(m.nv)]
    return {m.actuator(i).name: {joint_of_dof[v] for v in np.flatnonzero(np.abs(dense[i]) > 1e-6)}
            for i in range(m.nu)}


def test_arm_muscles_are_those_crossing_shoulder_or_elbow_but_not_the_hand():
    arms = load_myoarms()
    assert len(ARM_MUSCLE_NAMES) == 48 and arms.actuators.size == 48
    assert 1.75 < arms.height_m < 1.85  # the model's upper arm is a ~1.80 m person's (de Leva)
    hand = ("pro_sup", "deviation", "flexion", "cmc", "mp_", "ip_", "mcp", "pm", "md")
    for side, suffix in (("r", ""), ("l", "_l")):
        q = np.zeros(8)
        q[[0, 4]], q[[1, 5]], q[[3, 7]] = 0.4, -0.3, 1.0
        dofs = _muscle_dofs(q)
        shoulder_elbow = ("elv_angle", "shoulder_elv", "shoulder_rot", "elbow_flexion")
        for name, joints in dofs.items():
            own = [j for j in joints if j.endswith(f"_{side}")]
            crosses = any(j.startswith(shoulder_elbow) for j in own)
            wrist_or_finger = any(j.startswith(hand[1:]) for j in own)
            base = name.removesuffix("_l") if side == "l" else name
            if (side == "l") != name.endswith("_l") or name.startswith(("rect", "EO", "IO", "QL")):
                continue
            assert (base in ARM_MUSCLES) == (crosses and not wrist_or_finger), (name, sorted(own))


def _hdys_humerus(body, q: np.ndarray, side: str) -> np.ndarray:
    """hdys's humerus rotation relative to its torso, from the body's own kinematics."""
    data = mujoco.MjData(body.model)
    data.qpos[:] = rajagopal_state(body, q[None])[0]
    mujoco.mj_kinematics(body.model, data)
    torso = data.xmat[body.model.body("torso").id].reshape(3, 3)
    return torso.T @ data.xmat[body.model.body(f"humerus_{side}").id].reshape(3, 3)


def test_shoulder_map_puts_the_myofullbody_humerus_where_hdys_has_it(body):
    arms = load_myoarms()
    m, d = arms.model, mujoco.MjData(arms.model)
    # the map's premise: at the model's zero pose the humeri hang, their frames aligned with the thorax's
    mujoco.mj_kinematics(m, d)
    thorax = d.xmat[arms.thorax].reshape(3, 3)
    for s, side in enumerate("rl"):
        np.testing.assert_allclose(d.xmat[arms.humerus[s]].reshape(3, 3), thorax, atol=1e-6)
        down = thorax.T @ (d.xanchor[m.joint(f"elbow_flexion_{side}").id] - d.xpos[arms.humerus[s]])
        assert np.degrees(np.arccos(-down[1] / np.linalg.norm(down))) < 5.0  # the elbow below the shoulder
    rng = np.random.default_rng(0)
    poses = np.zeros((6, 31))
    for pose in poses:  # flexion, extension, abduction overhead, rotation
        for s in range(2):
            pose[23 + 4 * s:23 + 4 * s + 4] = (rng.uniform(-0.8, 2.0), rng.uniform(-2.6, -0.1), rng.uniform(-0.8, 0.8),
                                               rng.uniform(0.0, 2.2))
    qpos, _, _ = arm_state(poses[:, 23:], np.zeros((6, 8)))
    for i, pose in enumerate(poses):
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, d)
        thorax = d.xmat[arms.thorax].reshape(3, 3)
        for s, side in enumerate("rl"):
            mobl = thorax.T @ d.xmat[arms.humerus[s]].reshape(3, 3)
            np.testing.assert_allclose(mobl, _hdys_humerus(body, pose, side), atol=1e-7)
            assert qpos[i, m.joint(f"elbow_flexion_{side}").qposadr[0]] == pytest.approx(min(pose[26 + 4 * s], 2.269),
                                                                                       abs=1e-3)
    # a hanging arm keeps the minimum elevation (the plane of elevation is undefined straight down)
    qpos, _, _ = arm_state(np.zeros((1, 8)), np.zeros((1, 8)))
    assert qpos[0, m.joint("shoulder_elv_r").qposadr[0]] == pytest.approx(MIN_ELEVATION)
    with pytest.raises(ValueError, match=r"\(T, 8\)"):
        arm_state(np.zeros((2, 4)), np.zeros((2, 4)))


def test_shoulder_map_holds_frame_by_frame_without_a_smooth_warm_start(body):
    """Poses that jump from frame to frame (the fit cannot lean on the previous frame) land on hdys's humerus
    every time, and an arm held straight up (the plane of elevation undefined, as hanging down) keeps finite
    moment arms."""
    arms = load_myoarms()
    m, d = arms.model, mujoco.MjData(arms.model)
    rng = np.random.default_rng(5)
    t = 60
    q = np.column_stack([rng.uniform(-0.3, 1.8, t), rng.uniform(-1.5, -0.1, t), rng.uniform(-0.6, 0.6, t),
                         rng.uniform(0.1, 2.2, t)] * 2)
    qpos, _, _ = arm_state(q, np.zeros((t, 8)))
    for i in range(t):
        d.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, d)
        thorax = d.xmat[arms.thorax].reshape(3, 3)
        pose = np.concatenate([np.zeros(23), q[i]])
        for s, side in enumerate("rl"):
            mobl = thorax.T @ d.xmat[arms.humerus[s]].reshape(3, 3)
            np.testing.assert_allclose(mobl, _hdys_humerus(body, pose, side), atol=1e-7)
    assert (np.abs(qpos[:, arms.coord_qpos[[0, 2, 4, 6]]]) <= np.pi).all()  # angles kept to one turn
    up = np.array([[0.0, -np.pi, 0.0, 0.3] * 2, [0.3, -2.9, 0.2, 0.3] * 2])  # straight up, and past it
    moment = arm_muscle_terms(up, np.zeros((2, 8)), 1.75, 75.0)[0]
    assert np.isfinite(moment).all() and np.abs(moment).max() < 0.2


def test_arm_moment_arms_are_length_gradients_and_scale_with_the_subject():
    """Moment arms in hdys's coordinates = -d(muscle length)/d(coordinate) through the whole map, by central
    differences of MuJoCo's muscle lengths (independent of the Jacobian algebra)."""
    arms = load_myoarms()
    m, d = arms.model, mujoco.MjData(arms.model)

    def lengths(q):
        d.qpos[:] = arm_state(q[None], np.zeros((1, 8)))[0][0]
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        mujoco.mj_tendon(m, d)
        mujoco.mj_transmission(m, d)
        return d.actuator_length[arms.actuators].copy()

    q = np.array([0.9, -0.4, 0.2, 1.2, -0.3, -1.2, -0.3, 0.6])
    moment, gain, bias = arm_muscle_terms(q[None], np.zeros((1, 8)), arms.height_m, ARM_MODEL_MASS_KG)
    h = 1e-5
    fd = np.stack([(lengths(q + h * e) - lengths(q - h * e)) / (2 * h) for e in np.eye(8)])
    np.testing.assert_allclose(moment[0], fd, atol=1e-8)
    assert (np.abs(moment[0, :4, 24:]) == 0).all() and (np.abs(moment[0, 4:, :24]) == 0).all()  # own side only
    assert (gain <= 0).all() and (bias <= 1e-12).all()
    tall, heavy, _ = arm_muscle_terms(q[None], np.zeros((1, 8)), 2 * arms.height_m, 2 * ARM_MODEL_MASS_KG)
    np.testing.assert_allclose(tall, 2 * moment)
    np.testing.assert_allclose(heavy, 2 * gain)


def test_arm_muscle_actions_match_anatomy():
    """Pulling forces are negative (MuJoCo), so a muscle that drives a coordinate positive has a negative
    moment entry. Hanging arm, elbow at 90 deg."""
    q = np.array([0.0, -0.1, 0.0, 1.57] * 2)
    moment = arm_muscle_terms(q[None], np.zeros((1, 8)), 1.75, 75.0)[0][0]
    col = {n: i for i, n in enumerate(ARM_MUSCLE_NAMES)}
    for side, s in (("r", 0), ("l", 4)):
        flex, add, elbow = s, s + 1, s + 3
        for flexor in ("BIClong", "BICshort", "BRA", "BRD"):
            assert moment[elbow, col[f"{flexor}_{side}"]] < -0.01
        for extensor in ("TRIlong", "TRIlat", "TRImed"):
            assert moment[elbow, col[f"{extensor}_{side}"]] > 0.01
        assert 0.03 < -moment[elbow, col[f"BIClong_{side}"]] < 0.06  # biceps' elbow moment arm ~4-5 cm
        assert moment[flex, col[f"DELT1_{side}"]] < -0.005  # anterior deltoid flexes the shoulder
        assert moment[flex, col[f"LAT2_{side}"]] > 0.005  # latissimus extends it
    # abducted 1 rad (near the hanging arm MoBL's latissimus and middle deltoid swap roles: its paths' own
    # behaviour, checked in its own coordinates)
    moment = arm_muscle_terms(np.array([[0.0, -1.0, 0.0, 1.57] * 2]), np.zeros((1, 8)), 1.75, 75.0)[0][0]
    for side, add in (("r", 1), ("l", 5)):
        assert moment[add, col[f"DELT2_{side}"]] > 0.005  # middle deltoid abducts (arm_add < 0)
        assert moment[add, col[f"LAT2_{side}"]] < -0.005  # latissimus adducts


def test_elbow_wraps_sit_at_the_elbow():
    """The brachialis wraps the triceps' cylinder near full extension and the triceps wrap it deep in flexion
    (myofullbody as myo-sim 0.2.4 ships it had the cylinder 0.41 m away: 0.07 cm and 1.1 cm), on both arms;
    the generic model's moment arms (cm), myo-sim's ``myoelbow``: 1.5 and 2.0 cm."""
    arms = load_myoarms()
    col = {n: i for i, n in enumerate(ARM_MUSCLE_NAMES)}
    for angle, muscle, lo, hi in ((0.05, "BRA", 1.2, 1.7), (2.0, "TRIlong", -2.2, -1.7), (0.05, "BRD", 1.1, 1.7)):
        q = np.array([0.0, -0.1, 0.0, angle] * 2)
        moment = arm_muscle_terms(q[None], np.zeros((1, 8)), arms.height_m, ARM_MODEL_MASS_KG)[0][0]
        # flexion moment arms (cm): a pulling force is negative, so a flexor's moment entry is negative
        right, left = -100 * moment[3, col[f"{muscle}_r"]], -100 * moment[7, col[f"{muscle}_l"]]
        assert lo < right < hi, (muscle, angle, right)
        assert left == pytest.approx(right, abs=0.05)


def test_arm_static_optimisation_reproduces_torques_through_mujoco():
    """Independent of the R/F assembly: drive myofullbody with the activations, read its actuator forces on
    its own DoFs and map them to hdys's coordinates with the coupling Jacobian (virtual work)."""
    rng = np.random.default_rng(3)
    t = 12
    q = np.column_stack([rng.uniform(-0.3, 1.0, t), rng.uniform(-1.0, -0.1, t), rng.uniform(-0.4, 0.4, t),
                         rng.uniform(0.3, 2.0, t)] * 2)  # the arm below shoulder height
    qd = rng.uniform(-1.5, 1.5, (t, 8))
    tau = np.column_stack([rng.uniform(-8, 8, t), rng.uniform(-8, 8, t), rng.uniform(-2, 2, t),
                           rng.uniform(-10.0, 25.0, t)] * 2)  # N m
    height, mass = 1.70, 68.0
    so = arm_static_optimization(height, mass, q, qd, tau)
    assert so.muscle_names == list(ARM_MUSCLE_NAMES)
    # reserves cost like a fully active muscle per N m: with shoulder moment arms of 1-3 cm they take ~0.1 N m
    # where a muscle works at ~0.7
    assert so.activation.min() >= 0 and so.activation.max() < 1 and np.abs(so.reserve).max() < 0.2
    arms = load_myoarms()
    m, d = arms.model, mujoco.MjData(arms.model)
    qpos, qvel, jac = arm_state(q, qd)
    k, force_scale = height / arms.height_m, mass / ARM_MODEL_MASS_KG
    for i in range(t):
        d.qpos[:], d.qvel[:], d.act[:] = qpos[i], qvel[i], 0.0
        d.act[arms.actuators] = so.activation[i]
        mujoco.mj_forward(m, d)
        force = np.zeros(m.nv)
        mujoco.mju_sparse2dense(dense := np.zeros((m.nu, m.nv)), d.actuator_moment, d.moment_rownnz,
                                d.moment_rowadr, d.moment_colind)
        force = dense[arms.actuators].T @ d.actuator_force[arms.actuators]
        np.testing.assert_allclose(k * force_scale * jac[i].T @ force + so.reserve[i], tau[i], atol=1e-3)
    # elbow flexion torques recruit biceps, extension torques triceps
    bic, tri = ARM_MUSCLE_NAMES.index("BIClong_r"), ARM_MUSCLE_NAMES.index("TRIlat_r")
    assert so.activation[tau[:, 3] > 15, bic].min() > 0.05 and so.activation[tau[:, 3] < -5, tri].min() > 0.05
    with pytest.raises(ValueError, match=r"\(T, 8\)"):
        arm_static_optimization(height, mass, q[:, :2], qd, tau)


@pytest.mark.parametrize("kind", RAJAGOPAL_KINDS + ARM_KINDS)
def test_arm_motions_within_limits(body, kind):
    rng = np.random.default_rng(RAJAGOPAL_KINDS.index(kind) if kind in RAJAGOPAL_KINDS else 50)
    motion = rajagopal_motion(kind, rng, body.coord_range, 1.0)
    arms = rajagopal_arms(kind, rng, motion, body.arm_range)
    t = np.linspace(0.0, 4.0, 401)
    qa, qd, qdd = arms(t)
    assert qa.shape == (401, 8)
    assert (qa >= body.arm_range[:, 0]).all() and (qa <= body.arm_range[:, 1]).all()
    np.testing.assert_allclose(np.gradient(qa, t, axis=0)[1:-1], qd[1:-1], atol=0.02 * np.abs(qd).max() + 1e-3)
    hip = RAJAGOPAL_COORDINATES.index("hip_flexion_r")
    q = motion(t)[0]
    if kind == "walk":  # each arm swings against its own side's hip
        assert np.corrcoef(qa[:, 0], q[:, hip])[0, 1] < -0.99
    if kind == "curl":  # the elbows do the work, 1.4-2.1 rad of flexion, the upper arms still
        assert np.ptp(qa[:, ELBOW_R]) > 1.3 and np.ptp(qa[:, 0]) < 1e-9
    if kind == "jumping_jack":  # arms overhead on the "apart" hops
        assert qa[:, 1].min() < -1.8


def _load_moment(body, kin, t: np.ndarray, kg: float, h: float = 1e-3) -> np.ndarray:
    """(T,) moment a point mass ``kg`` in the right hand needs about the right elbow axis to follow the
    kinematics ``kin`` (t -> q (T, 31)): ``((p - e) x kg (a - g)) . axis``, accelerations by central differences."""
    data = mujoco.MjData(body.model)
    load, elbow = body.model.body("load_r").id, body.model.body("ulna_r").id
    pos, out = [], []
    for dt in (-h, 0.0, h):
        p = []
        for qpos in rajagopal_state(body, kin(t + dt)):
            data.qpos[:] = qpos
            mujoco.mj_kinematics(body.model, data)
            p.append(data.xpos[load].copy())
            if dt == 0.0:
                axis = data.xmat[elbow].reshape(3, 3) @ body.model.jnt_axis[body.model.joint("elbow_flex_r").id]
                out.append((data.xpos[elbow].copy(), axis))
        pos.append(np.array(p))
    acc = (pos[0] - 2 * pos[1] + pos[2]) / h ** 2
    gravity = body.model.opt.gravity
    return np.array([np.cross(pos[1][i] - e, kg * (acc[i] - gravity)) @ a for i, (e, a) in enumerate(out)])


def test_curl_on_the_ground_loads_the_biceps(body):
    """A standing curl with a dumbbell: contact-aware ID on the 31 coordinates; the dumbbell adds exactly the
    moment its weight and acceleration need at the elbow; biceps activation follows the elbow torque and a
    biceps EMG channel rises with the load."""
    rng = np.random.default_rng(4)
    motion = rajagopal_motion("curl", rng, body.coord_range, standing_pelvis_height(body))
    arms = rajagopal_arms("curl", rng, motion, body.arm_range)
    ground = ground_rajagopal(body, motion, -0.1, 3.1)

    def kin(t):
        return [np.concatenate(x, axis=1) for x in zip(ground(t), arms(t))]

    t = np.arange(90) / 30
    q, qd, qdd = kin(t)
    elbows = [ELBOW_R, ELBOW_L]
    drive, elbow_tau, arm_tau = [], [], []
    for load in (0.0, 5.0):
        body.set_hand_load(load)
        tau, res = rajagopal_contact_dynamics(body, q, qd, qdd)
        assert tau.shape == (90, 17) and res.joint.shape == (90, body.model.nv)
        # the feet carry the body and the dumbbells
        assert res.grf[..., 2].sum(1).mean() == pytest.approx((body.mass_kg + 2 * load) * G, rel=0.02)
        elbow_tau.append(res.joint[:, body.arm_qpos[elbows]])
        arm_tau.append(res.joint[:, body.arm_qpos])
        so = arm_static_optimization(body.height_m, body.mass_kg, q[:, 23:], qd[:, 23:], arm_tau[-1])
        names = [f"{m}_{s}" for s in "rl" for m in ("recfem", "vasint", "vaslat", "vasmed", "bflh", "bfsh",
                                                   "semimem", "semiten", "glmax1", "glmax2", "glmax3")]
        activation = np.concatenate([np.zeros((90, len(names))), so.activation], axis=1)
        d = emg.channel_drive(activation, names + so.muscle_names, emg.ARM_CHANNELS)
        drive.append(d[:, MIA_EMG_CHANNELS.index("rightbicep")])
        if load:  # holding the dumbbell up: flexors on throughout, triceps (nearly) off, no reserve needed
            col = {n: i for i, n in enumerate(so.muscle_names)}
            flexors = [col[f"{m}_r"] for m in ("BIClong", "BRA")]  # (the short head also flexes the shoulder)
            triceps = [col[f"{m}_r"] for m in ("TRIlat", "TRImed")]
            assert so.activation[:, flexors].min() > 0.02 and so.activation[:, triceps].max() < 0.02
            assert np.abs(so.reserve).max() < 0.01 * np.abs(arm_tau[-1]).max()
    body.set_hand_load(0.0)
    # the point-mass moment leaves out the dumbbell's own rotational inertia (3 cm radius of gyration:
    # 5 kg x (0.03 m)^2 x ~10 rad/s^2 = 0.05 N m at most in this curl)
    moment = _load_moment(body, lambda t: kin(t)[0], t, 5.0)
    assert moment.min() > 5.0
    np.testing.assert_allclose(elbow_tau[1][:, 0] - elbow_tau[0][:, 0], moment, atol=0.08)
    assert drive[1].mean() > 2 * drive[0].mean() > 0


def test_emg_channels_with_arms_follow_the_dataset_order():
    names = list(emg.load_myolegs().muscle_names) + list(ARM_MUSCLE_NAMES)
    w = emg.channel_weights(names, emg.ARM_CHANNELS)
    assert w.shape == (8, 128) and np.allclose(w.sum(1), 1.0)
    left_bicep = w[MIA_EMG_CHANNELS.index("leftbicep")]
    assert {names[j] for j in np.flatnonzero(left_bicep)} == {"BIClong_l", "BICshort_l"}
    params = emg.sample_emg_params(np.random.default_rng(0), 8)
    env, channels = emg.emg_from_activation(np.full((30, 128), 0.2), names, 30.0, params, np.random.default_rng(1))
    assert channels == list(MIA_EMG_CHANNELS) and env.shape == (30, 8)
    with pytest.raises(ValueError, match="parameters are for 6 channels"):
        emg.emg_from_activation(np.full((30, 92), 0.2), names, 30.0, emg.sample_emg_params(np.random.default_rng(0)),
                                np.random.default_rng(1))


def test_a_sequence_does_not_inherit_the_previous_sequence_dumbbells():
    """The emg subject's body is shared by its sequences: a walk after a curl with 8 kg dumbbells must be
    planned and labelled without them (it once was planned with them: 20 N m/kg at the hips)."""
    from hdys.physics.fixture import _fill_rajagopal
    from hdys.schema import Sequence

    t = np.arange(45) / 30
    params = emg.sample_emg_params(np.random.default_rng(0), 8)
    out = []
    for previous in (0.0, 8.0):
        body = rajagopal_body(1.75, 70.0, arms=True)
        body.set_hand_load(previous)
        seq = Sequence(fps=30.0, sequence_id="w", dataset="emg", subject="s", mass_kg=70.0, height_m=1.75,
                       extra={"motion": "walk"})
        _fill_rajagopal(seq, body, "emg", "walk", t, np.random.default_rng(1), params)
        out.append(seq)
    assert out[1].extra["hand_load_kg"] == 0.0
    np.testing.assert_array_equal(out[0].markers, out[1].markers)
    np.testing.assert_array_equal(out[0].emg, out[1].emg)

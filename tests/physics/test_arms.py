"""The Rajagopal body with arms, the myoelbow muscles, elbow static optimisation and the biceps EMG channels."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics import emg
from hdys.physics.bodies import ARM_COORDINATES, DE_LEVA_MALE, DE_LEVA_STATURE, rajagopal_body
from hdys.physics.contact import rajagopal_contact_dynamics
from hdys.physics.fixture import standing_pelvis_height
from hdys.physics.inverse import inverse_dynamics, rajagopal_state
from hdys.physics.locomotion import ground_rajagopal
from hdys.physics.motions import ARM_KINDS, RAJAGOPAL_KINDS, rajagopal_arms, rajagopal_motion
from hdys.physics.myoelbow import (ELBOW_MODEL_HEIGHT_M, ELBOW_MODEL_MASS_KG, ELBOW_MUSCLES, elbow_muscle_terms,
                                   load_myoelbow)
from hdys.physics.static_opt import elbow_static_optimization
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


def test_arms_carry_de_leva_masses_and_keep_the_body_mass(body):
    armless = rajagopal_body(1.80, 80.0)
    assert body.model.body_mass.sum() == pytest.approx(80.0) == pytest.approx(armless.model.body_mass.sum())
    m = body.model
    for name, seg in (("humerus_r", "upper_arm"), ("ulna_l", "forearm"), ("hand_r", "hand")):
        assert m.body_mass[m.body(name).id] == pytest.approx(DE_LEVA_MALE[seg][0] / 100 * 80.0)
    np.testing.assert_array_equal(body.arm_qpos, np.arange(23, 31))  # after the canonical coordinates
    np.testing.assert_array_equal(body.coord_qpos, armless.coord_qpos)
    with pytest.raises(ValueError, match=r"\(T, D\) with D in \(23, 31\)"):
        rajagopal_state(body, np.zeros((3, 30)))
    with pytest.raises(ValueError, match="no arms"):
        armless.set_hand_load(1.0)


def test_static_elbow_torque_is_the_forearm_and_load_weight_moment(body):
    """A horizontal forearm (elbow at 90 deg, upper arm hanging): the elbow torque is the weight of forearm,
    hand and load times their horizontal distance from the elbow (de Leva CoM positions)."""
    k = body.height_m / DE_LEVA_STATURE
    seg = {n: (DE_LEVA_MALE[n][0] / 100 * body.mass_kg, DE_LEVA_MALE[n][1] / 100, DE_LEVA_MALE[n][5] * k)
           for n in ("forearm", "hand")}
    (mf, cf, lf), (mh, ch, lh) = seg["forearm"], seg["hand"]
    q = _held(body, np.pi / 2)
    qpos = rajagopal_state(body, q)
    for load in (0.0, 6.0):
        body.set_hand_load(load)
        f = inverse_dynamics(body.model, qpos, np.zeros_like(qpos), np.zeros_like(qpos))
        expected = G * (mf * cf * lf + mh * (lf + ch * lh) + load * (lf + 0.35 * lh))
        assert f[0, body.arm_qpos[ELBOW_R]] == pytest.approx(expected, rel=1e-5)  # XML: 6 digits
        assert f[0, body.arm_qpos[ELBOW_L]] == pytest.approx(expected, rel=1e-5)
    body.set_hand_load(0.0)
    with pytest.raises(ValueError, match=">= 0 kg"):
        body.set_hand_load(-1.0)


def test_myoelbow_flexors_flex_and_extensors_extend():
    elbow = load_myoelbow()
    assert elbow.muscle_names == ELBOW_MUSCLES
    q = np.linspace(0.2, 2.0, 10)
    moment, gain, bias = elbow_muscle_terms(q, np.zeros(10), 1.75, 75.0)
    tri, bic, bra = [0, 1, 2], [3, 4], [5]
    # pulling forces are negative (MuJoCo), so flexors have negative d length / d angle: torque R F > 0
    assert (moment[:, bic + bra] < 0).all() and (moment[:, tri] > 0).all()
    assert 0.03 < -moment[:, bic].min() < 0.06  # biceps' moment arm peaks near 4-5 cm (Holzbaur 2005)
    assert (gain <= 0).all() and (bias <= 1e-12).all()
    tall, _, heavy = elbow_muscle_terms(q, np.zeros(10), 2.0, 150.0)
    np.testing.assert_allclose(tall, moment * 2.0 / 1.75)  # geometry scales with height, force with mass
    np.testing.assert_allclose(elbow_muscle_terms(q, np.zeros(10), 1.75, 150.0)[1], 2 * gain)


def test_elbow_static_optimisation_reproduces_torques_through_mujoco():
    """Independent of the R/F assembly: drive myoelbow with the activations and read qfrc_actuator."""
    rng = np.random.default_rng(3)
    t = 20
    q = rng.uniform(0.3, 2.0, (t, 2))
    qd = rng.uniform(-2.0, 2.0, (t, 2))
    tau = rng.uniform(-10.0, 25.0, (t, 2))
    height, mass = 1.70, 68.0
    so = elbow_static_optimization(height, mass, q, qd, tau)
    assert so.muscle_names == [f"{m}_{s}" for s in "rl" for m in ELBOW_MUSCLES]
    assert so.activation.min() >= 0 and so.activation.max() <= 1 and np.abs(so.reserve).max() < 0.1
    elbow = load_myoelbow()
    m, d = elbow.model, mujoco.MjData(elbow.model)
    k, force_scale = height / ELBOW_MODEL_HEIGHT_M, mass / ELBOW_MODEL_MASS_KG
    for i in range(t):
        for s in range(2):
            d.qpos[0], d.qvel[0], d.act[:] = q[i, s], qd[i, s], so.activation[i, 6 * s:6 * s + 6]
            mujoco.mj_forward(m, d)
            assert k * force_scale * d.qfrc_actuator[0] + so.reserve[i, s] == pytest.approx(tau[i, s], abs=1e-3)
    # flexion torques recruit biceps, extension torques triceps
    flex = tau[:, 0] > 15
    ext = tau[:, 0] < -5
    assert so.activation[flex, 3].min() > 0.1 and so.activation[ext, 0].min() > 0.05
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        elbow_static_optimization(height, mass, q[:, :1], qd, tau)


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
    drive, elbow_tau = [], []
    for load in (0.0, 5.0):
        body.set_hand_load(load)
        tau, res = rajagopal_contact_dynamics(body, q, qd, qdd)
        assert tau.shape == (90, 17) and res.joint.shape == (90, 31)
        # the feet carry the body and the dumbbells
        assert res.grf[..., 2].sum(1).mean() == pytest.approx((body.mass_kg + 2 * load) * G, rel=0.02)
        elbow_tau.append(res.joint[:, body.arm_qpos[elbows]])
        so = elbow_static_optimization(body.height_m, body.mass_kg, q[:, 23:][:, elbows], qd[:, 23:][:, elbows],
                                       elbow_tau[-1])
        names = [f"{m}_{s}" for s in "rl" for m in ("recfem", "vasint", "vaslat", "vasmed", "bflh", "bfsh",
                                                   "semimem", "semiten", "glmax1", "glmax2", "glmax3")]
        activation = np.concatenate([np.zeros((90, len(names))), so.activation], axis=1)
        d = emg.channel_drive(activation, names + so.muscle_names, emg.ARM_CHANNELS)
        drive.append(d[:, MIA_EMG_CHANNELS.index("rightbicep")])
        if load:  # holding the dumbbell up: flexors on throughout, triceps (nearly) off, no reserve needed
            assert so.activation[:, 3:6].min() > 0.05 and so.activation[:, 0:3].max() < 0.02
            assert np.abs(so.reserve).max() < 0.01 * np.abs(elbow_tau[-1]).max()
    body.set_hand_load(0.0)
    # the point-mass moment leaves out the dumbbell's own rotational inertia (3 cm radius of gyration:
    # 5 kg x (0.03 m)^2 x ~10 rad/s^2 = 0.05 N m at most in this curl)
    moment = _load_moment(body, lambda t: kin(t)[0], t, 5.0)
    assert moment.min() > 5.0
    np.testing.assert_allclose(elbow_tau[1][:, 0] - elbow_tau[0][:, 0], moment, atol=0.08)
    assert drive[1].mean() > 2 * drive[0].mean() > 0


def test_emg_channels_with_arms_follow_the_dataset_order():
    names = list(emg.load_myolegs().muscle_names) + [f"{m}_{s}" for s in "rl" for m in ELBOW_MUSCLES]
    w = emg.channel_weights(names, emg.ARM_CHANNELS)
    assert w.shape == (8, 92) and np.allclose(w.sum(1), 1.0)
    left_bicep = w[MIA_EMG_CHANNELS.index("leftbicep")]
    assert {names[j] for j in np.flatnonzero(left_bicep)} == {"BIClong_l", "BICshort_l"}
    params = emg.sample_emg_params(np.random.default_rng(0), 8)
    env, channels = emg.emg_from_activation(np.full((30, 92), 0.2), names, 30.0, params, np.random.default_rng(1))
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

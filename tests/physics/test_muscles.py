"""Static optimisation with the myolegs muscles and the sEMG envelope model."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics import emg
from hdys.physics.bodies import rajagopal_body
from hdys.physics.contact import rajagopal_contact_dynamics
from hdys.physics.fixture import standing_pelvis_height
from hdys.physics.inverse import rajagopal_inverse
from hdys.physics.locomotion import ground_rajagopal
from hdys.physics.motions import rajagopal_motion
from hdys.physics.myolegs import LEG_COORDINATES, coupled_state, load_myolegs, subject_scale
from hdys.physics.static_opt import static_optimization
from hdys.schema import MIA_EMG_CHANNELS, RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS

MUSCLED = [i for i, d in enumerate(RAJAGOPAL_TORQUE_DOFS) if not d.startswith("lumbar")]
LEG_COLS = [RAJAGOPAL_COORDINATES.index(n) for n in LEG_COORDINATES]


@pytest.fixture(scope="module")
def body():
    return rajagopal_body(1.74, 71.0)


@pytest.fixture(scope="module", params=["walk", "squat"])
def solved(request, body):
    """A supported-pelvis walk, and a squat on the floor (torques from contact-aware inverse dynamics)."""
    rng = np.random.default_rng(0)
    t = np.arange(100) / 50
    if request.param == "walk":
        q, qd, qdd = rajagopal_motion("walk", rng, body.coord_range, 1.0)(t)
        tau, _ = rajagopal_inverse(body, q, qd, qdd)
    else:
        motion = rajagopal_motion("squat", rng, body.coord_range, standing_pelvis_height(body))
        q, qd, qdd = ground_rajagopal(body, motion, 0.0, float(t[-1]))(t)
        tau, _ = rajagopal_contact_dynamics(body, q, qd, qdd)
    return q, qd, tau, static_optimization(body, q, qd, tau)


def test_activations_bounded_and_torques_reproduced(body, solved):
    q, qd, tau, so = solved
    assert so.activation.shape == (q.shape[0], 80) and so.muscle_names == list(load_myolegs().muscle_names)
    assert so.activation.min() >= 0.0 and so.activation.max() <= 1.0
    assert so.activation.max() > 0.05  # the muscles do the work
    assert np.abs(so.residual).max() < 1e-9
    # reserves on muscle-driven DoFs are small against the torques they would replace
    assert np.abs(tau[:, MUSCLED]).max() > 20.0
    assert np.abs(so.reserve[:, MUSCLED]).max() < 0.5
    assert np.abs(so.reserve[:, MUSCLED]).max() < 0.01 * np.abs(tau[:, MUSCLED]).max()


def test_mujoco_muscles_driven_at_the_solution_produce_the_torques(body, solved):
    """Independent of our R/F assembly: set act = a in myolegs, run mj_forward, project MuJoCo's
    qfrc_actuator onto the leg coordinates through the coupling and scale to the subject."""
    q, qd, tau, so = solved
    legs = load_myolegs()
    m, d = legs.model, mujoco.MjData(legs.model)
    qpos, qvel, jac = coupled_state(q[:, LEG_COLS], qd[:, LEG_COLS])
    k, force_scale = subject_scale(body.height_m, body.mass_kg)
    for i in range(0, q.shape[0], 10):
        d.qpos[:], d.qvel[:], d.act[:] = qpos[i], qvel[i], so.activation[i]
        mujoco.mj_forward(m, d)
        produced = k * force_scale * jac[i].T @ d.qfrc_actuator
        assert np.allclose(produced + so.reserve[i, MUSCLED], tau[i, MUSCLED], atol=1e-6)
        assert np.allclose(force_scale * d.actuator_force, so.force[i], atol=1e-6)


def test_emg_delay_measurable_by_cross_correlation():
    rng = np.random.default_rng(8)
    fps = 1000.0
    t = np.arange(6000) / fps
    drive = 0.2 + 0.15 * np.sin(2 * np.pi * 1.1 * t) + 0.05 * np.sin(2 * np.pi * 2.7 * t + 1.0)
    params = emg.EmgParams(delay_s=0.05, tau_s=0.02, gain=np.ones(1), baseline=np.zeros(1), noise_sd=0.0)
    delayed = emg.advance(drive[:, None], fps, params.delay_s)
    assert emg.estimate_lead(delayed[:, 0], drive, fps) == pytest.approx(0.05, abs=1e-3)
    env = emg.envelope(delayed, fps, params, rng)[:, 0]  # the envelope filter lags by about tau
    assert emg.estimate_lead(env, drive, fps) == pytest.approx(0.05 - 0.02, abs=4e-3)


def test_emg_from_time_shifted_static_optimisation(body):
    """The fixture's route: activations solved at t + delay lead those at t by the delay."""
    rng = np.random.default_rng(9)
    fps, delay = 200.0, 0.05
    motion = rajagopal_motion("walk", rng, body.coord_range, 1.0)
    t = np.arange(400) / fps
    acts = []
    for shift in (0.0, delay):
        q, qd, qdd = motion(t + shift)
        tau, _ = rajagopal_inverse(body, q, qd, qdd)
        acts.append(static_optimization(body, q, qd, tau).activation)
    names = list(load_myolegs().muscle_names)
    drive_now = emg.channel_drive(acts[0], names)
    params = emg.sample_emg_params(rng)
    env, channels = emg.emg_from_activation(acts[1], names, fps, params, rng, already_delayed=True)
    assert channels == list(MIA_EMG_CHANNELS[:6]) and env.shape == (400, 6) and (env >= 0).all()
    drive_later = emg.channel_drive(acts[1], names)
    shift = int(round(delay * fps))  # 10 frames: the shifted solution is the same solution, later
    assert np.allclose(drive_later[:-shift], drive_now[shift:], atol=1e-6)
    for c in range(6):
        if drive_now[:, c].std() > 1e-4:
            lead = emg.estimate_lead(drive_later[:, c], drive_now[:, c], fps)
            assert lead == pytest.approx(delay, abs=0.5 / fps)


def test_emg_channels_weight_the_myolegs_muscles_by_strength():
    legs = load_myolegs()
    names = list(legs.muscle_names)
    w = emg.channel_weights(names)
    assert w.shape == (6, 80) and np.allclose(w.sum(1), 1.0) and (w >= 0).all()
    f_max = dict(zip(names, legs.max_isometric_force))
    quad = ["recfem_r", "vasint_r", "vaslat_r", "vasmed_r"]
    act = np.zeros((1, 80))
    act[0, names.index("vaslat_r")] = 1.0
    drive = emg.channel_drive(act, names)
    assert drive[0, 0] == pytest.approx(f_max["vaslat_r"] / sum(f_max[n] for n in quad))
    assert (drive[0, 1:] == 0).all()  # only the right quadriceps channel sees vastus lateralis
    glut = {names[j] for j in np.flatnonzero(w[emg.LEG_CHANNELS.index("leftglutt")])}
    assert glut == {"glmax1_l", "glmax2_l", "glmax3_l"}
    with pytest.raises(ValueError, match="rightham"):
        emg.channel_weights([n for n in names if n != "bfsh_r"])

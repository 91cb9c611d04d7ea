"""Static optimisation and the sEMG envelope model."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics import emg
from hdys.physics.bodies import rajagopal_body
from hdys.physics.inverse import rajagopal_inverse, rajagopal_state, unconstrained
from hdys.physics.motions import rajagopal_motion
from hdys.physics.static_opt import muscle_terms, static_optimization
from hdys.schema import MIA_EMG_CHANNELS, RAJAGOPAL_TORQUE_DOFS

MUSCLED = [i for i, d in enumerate(RAJAGOPAL_TORQUE_DOFS) if not d.startswith("lumbar")]


@pytest.fixture(scope="module")
def body():
    return rajagopal_body(1.74, 71.0, with_muscles=True)


@pytest.fixture(scope="module", params=["walk", "squat"])
def solved(request, body):
    rng = np.random.default_rng(7)
    q, qd, qdd = rajagopal_motion(request.param, rng, body.coord_range, 1.0)(np.arange(120) / 50)
    tau, _ = rajagopal_inverse(body, q, qd, qdd)
    return q, qd, tau, static_optimization(body, q, qd, tau)


def test_activations_bounded_and_torques_reproduced(body, solved):
    q, qd, tau, so = solved
    assert so.activation.shape == (q.shape[0], body.model.nu)
    assert so.activation.min() >= 0.0 and so.activation.max() <= 1.0
    assert so.activation.max() > 0.01  # the muscles do the work
    assert np.abs(so.residual).max() < 1e-9
    # reserves on muscle-driven DoFs are small against the torques they would replace
    assert np.abs(so.reserve[:, MUSCLED]).max() < 0.5
    assert np.abs(so.reserve[:, MUSCLED]).max() < 0.05 * np.abs(tau[:, MUSCLED]).max()


def test_mujoco_muscles_driven_at_the_solution_produce_the_torques(body, solved):
    """Independent of our R/F assembly: set act = a in MuJoCo, read qfrc_actuator."""
    q, qd, tau, so = solved
    m, d = body.model, mujoco.MjData(body.model)
    qpos, qvel = rajagopal_state(body, q), rajagopal_state(body, qd)
    with unconstrained(m):
        for i in range(0, q.shape[0], 10):
            d.qpos[:], d.qvel[:], d.act[:] = qpos[i], qvel[i], so.activation[i]
            mujoco.mj_forward(m, d)
            produced = d.qfrc_actuator[body.coord_qpos[6:]]
            assert np.allclose(produced + so.reserve[i], tau[i], atol=1e-6)


def test_moment_arms_match_length_derivatives(body):
    """R = -dL/dq (a pulling muscle with negative force): finite differences of actuator_length."""
    q = np.zeros((1, 23))
    q[0, 6:] = 0.1
    moment, gain, bias = muscle_terms(body, q, np.zeros_like(q))
    m, d = body.model, mujoco.MjData(body.model)
    h = 1e-6
    for k, adr in enumerate(body.coord_qpos[6:]):
        lengths = []
        for s in (-h, h):
            qq = rajagopal_state(body, q)[0]
            qq[adr] += s
            d.qpos[:] = qq
            mujoco.mj_fwdPosition(m, d)
            lengths.append(d.actuator_length.copy())
        assert np.allclose(moment[0, k], (lengths[1] - lengths[0]) / (2 * h), atol=1e-7)
    assert (gain < 0).all() and (bias <= 0).all()  # MuJoCo: pulling force is negative


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
    drive_now = emg.channel_drive(acts[0], body.muscle_names)
    params = emg.sample_emg_params(rng)
    env, names = emg.emg_from_activation(acts[1], body.muscle_names, fps, params, rng, already_delayed=True)
    assert names == list(MIA_EMG_CHANNELS[:6]) and env.shape == (400, 6) and (env >= 0).all()
    drive_later = emg.channel_drive(acts[1], body.muscle_names)
    shift = int(round(delay * fps))  # 10 frames: the shifted solution is the same solution, later
    assert np.allclose(drive_later[:-shift], drive_now[shift:], atol=1e-6)
    for c in range(6):
        if drive_now[:, c].std() > 1e-4:
            lead = emg.estimate_lead(drive_later[:, c], drive_now[:, c], fps)
            assert lead == pytest.approx(delay, abs=0.5 / fps)

"""hdys simulate (paper §4.4.2): forward dynamics of the Rajagopal body under torques and recorded ground forces."""
import json

import numpy as np
import pytest
from scipy.interpolate import CubicSpline

from conftest import tiny_config
from hdys.cli import main
from hdys.physics.fixture import generate_subject
from hdys.schema import RAJAGOPAL_COORDINATES, SchemaError, save_npz
from hdys.simulate import PRESCRIBED, Simulator, resample, simulate_sequence, simulation_inputs

FREE = [i for i, c in enumerate(RAJAGOPAL_COORDINATES) if c not in PRESCRIBED]
PRES = [RAJAGOPAL_COORDINATES.index(c) for c in PRESCRIBED]


@pytest.fixture(scope="module")
def walk():
    """A physics-labelled walk of the tiny fixture's `lab` domain (ground forces, CoP, torques), 1 s long."""
    seq = generate_subject("tiny", 0, "lab", 2)[0]
    assert seq.extra["motion"] == "walk"
    return seq.slice(0, 100)


@pytest.fixture(scope="module")
def sim(walk):
    return Simulator.for_subject(walk.height_m, walk.mass_kg)


def _euler_step(q, fps):
    t = np.arange(len(q)) / fps
    sp = CubicSpline(t, q, axis=0)
    dt = 1.0 / fps
    return q[:-1] + dt * sp(t, 1)[:-1] + dt * dt * sp(t, 2)[:-1]


def test_one_step_with_consistent_forces_is_the_integrators_step(walk, sim):
    """With the inverse dynamics of this force model and its root residual applied, one step from each recorded
    state lands where semi-implicit Euler with the recorded acceleration does: forward and inverse agree."""
    q = walk.joint_angles
    tau, residual = sim.inverse(q, walk.fps, walk.grf, walk.cop)
    r = sim.rollouts(q, walk.fps, tau, walk.grf, walk.cop, 1, root_force=residual)
    np.testing.assert_allclose(r.q[:, 0, FREE], _euler_step(q, walk.fps)[:, FREE], atol=1e-9)
    np.testing.assert_allclose(r.q[:, 0, PRES], q[1:, PRES], atol=1e-12)  # the toes follow the recording
    # without the residual the root drifts, but the torques still hold the joints far better than none
    r0 = sim.rollouts(q, walk.fps, np.zeros_like(tau), walk.grf, walk.cop, 2)
    r1 = sim.rollouts(q, walk.fps, tau, walk.grf, walk.cop, 2)
    assert (r1.mse(q) < 0.1 * r0.mse(q)).all()


def test_one_step_with_the_labels_torques_is_within_the_integrators_error(walk, sim):
    """The generator's torques, with each foot's free moment and the root residual applied, step to the Euler
    step of the recording within a fraction of Euler's own truncation error (the rest: the spline's estimate
    of the accelerations the labels were computed from exactly). Without the free moment they cannot."""
    q, fps = walk.joint_angles, walk.fps
    truncation = np.abs(q[1:, FREE] - _euler_step(q, fps)[:, FREE]).max()
    tau, residual = sim.inverse(q, fps, walk.grf, walk.cop, walk.cop_moment)
    r = sim.rollouts(q, fps, walk.torque_rajagopal, walk.grf, walk.cop, 1, root_force=residual,
                     moment=walk.cop_moment)
    assert np.abs(r.q[:, 0, FREE] - _euler_step(q, fps)[:, FREE])[3:-3].max() < 0.5 * truncation
    hip_rotation = [RAJAGOPAL_COORDINATES.index(c) - 6 for c in ("hip_rotation_r", "hip_rotation_l")]
    assert np.abs(tau - walk.torque_rajagopal)[3:-3][:, hip_rotation].max() < 2.0  # N m
    without, _ = sim.inverse(q, fps, walk.grf, walk.cop)
    assert np.abs(without - walk.torque_rajagopal)[3:-3][:, hip_rotation].max() > 10.0


def test_the_recordings_torques_beat_no_torques_and_errors_grow_with_k(walk, sim):
    out = simulate_sequence(walk, {"labels": walk.torque_rajagopal,
                                   "none": np.zeros_like(walk.torque_rajagopal)}, 3, sim)
    labels, none = np.array(out["mse"]["labels"]), np.array(out["mse"]["none"])
    assert (labels < none).all() and (np.diff(labels) > 0).all()
    assert out["starts"] == walk.num_frames - 3 and out["errors"]["labels"].shape == (walk.num_frames - 3, 3)
    assert len(out["residual_rms"]) == 6


def test_resample_keeps_the_motion(walk):
    s = resample(walk, 90.0)
    assert s.fps == 90.0 and s.num_frames == int(np.floor((walk.num_frames - 1) / walk.fps * 90 + 1e-9)) + 1
    t = np.arange(walk.num_frames) / walk.fps
    # the spline passes through the recorded frames: at t = 0.1 s (frames 10 and 9) the angles agree
    np.testing.assert_allclose(s.joint_angles[9], walk.joint_angles[10], atol=1e-9)
    assert np.interp(0.5, t, walk.grf[:, 0, 2]) == pytest.approx(s.grf[45, 0, 2], rel=1e-9)
    off = np.linalg.norm(s.grf, axis=-1) < 1.0
    assert np.isnan(s.cop[off]).all() and np.isfinite(s.cop[~off]).all()


def test_inputs_without_forces_are_named(walk):
    seq = walk.slice(0, 20)
    seq.grf = seq.cop = None
    with pytest.raises(SchemaError, match=r"grf.*cop"):
        simulation_inputs(seq, "trial.npz")
    seq = walk.slice(0, 20)
    seq.joint_angle_names = list(reversed(seq.joint_angle_names))
    with pytest.raises(SchemaError, match="Rajagopal coordinates"):
        simulation_inputs(seq, "trial.npz")


def test_cli_writes_the_tables_and_the_figure(walk, synth_corpus, tmp_path):
    run = tmp_path / "run"
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(tiny_config(epochs=1).to_json()))
    assert main(["-q", "train", "--data", str(synth_corpus), "--out", str(run), "--config", str(cfg)]) == 0
    trial = walk.slice(0, 40)
    save_npz(trial, tmp_path / "walk.npz")
    still = walk.slice(0, 40)
    still.sequence_id, still.grf = "in-the-air", np.zeros_like(still.grf)
    save_npz(still, tmp_path / "air.npz")
    out = tmp_path / "sim"
    assert main(["-q", "simulate", str(run), str(tmp_path / "walk.npz"), str(tmp_path / "air.npz"), "--out", str(out),
                 "--k", "2", "--fps", "90", "--representations", "joint_angles"]) == 0
    res = json.loads((out / "simulate.json").read_text())
    assert set(res["mse"]["90"]) == {"hdys", "labels", "inverse"}
    assert all(len(v) == 2 and np.isfinite(v).all() for v in res["mse"]["90"].values())
    assert [s["reason"] for s in res["skipped"]] and "no ground reaction force" in res["skipped"][0]["reason"]
    assert (out / "simulate.png").stat().st_size > 10_000
    assert "| HDyS | 90 |" in (out / "simulate.md").read_text()

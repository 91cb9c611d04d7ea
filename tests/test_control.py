"""Motion imitation (Table 6): reference clips, the PHC-style environment (reset, step, reward bounds,
termination, truncation, the latent observation), the tracking metrics, the policy's checkpoints and resume,
and the control settings of `hdys experiment table6`."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hdys.control.clips import Clip, clip_from_sequence, sole_heights
from hdys.control.env import (ACTION_SCALE, SELF_DIM, TASK_DIM, ImitationEnv, quat_conj, quat_from_rotvec,
                              quat_mul, reward_terms, rotvec_from_quat)
from hdys.control.policy import PolicyConfig, evaluate_policy, tracking_metrics, train_policy
from hdys.control.table6 import policy_config
from hdys.schema import Sequence


def standing_sequence(frames: int = 40, name: str = "kin-s01-wave-01") -> Sequence:
    """An upright SMPL body (y-up rest pose turned z-up) waving its right arm, 10 cm above the floor."""
    t = np.arange(frames) / 30.0
    smpl = np.zeros((frames, 75))
    smpl[:, 2] = 1.0
    smpl[:, 3] = np.pi / 2  # global orientation: SMPL's y up -> the world's z up
    shoulder = 6 + 3 * 17  # right_shoulder's axis-angle (SMPL_JOINT_NAMES index 17)
    smpl[:, shoulder + 2] = 0.6 * np.sin(2 * np.pi * 0.8 * t)
    return Sequence(fps=30.0, sequence_id=name, dataset="kin", subject="kin-s01", mass_kg=70.0, height_m=1.75,
                    smpl=smpl)


@pytest.fixture(scope="module")
def clip() -> Clip:
    return clip_from_sequence(standing_sequence())


def test_clip_stands_on_the_floor(clip):
    assert clip.qpos.shape == (40, 99) and clip.qvel.shape == (40, 75)
    from hdys.control.clips import humanoid
    soles = sole_heights(humanoid(clip.height_m, clip.mass_kg), clip.qpos)
    assert abs(np.quantile(soles, 0.05)) < 1e-6  # lifted 10 cm down onto the floor
    with pytest.raises(ValueError, match="no SMPL parameters"):
        clip_from_sequence(Sequence(fps=30.0, sequence_id="x", markers=np.zeros((20, 3, 3))))


def test_a_floating_clip_is_refused_and_a_step_up_stands_on_its_platform():
    floating = standing_sequence(name="kin-s01-free-01")
    floating.smpl[15:, 2] += 0.3  # held up in the air for 25 of 40 frames
    with pytest.raises(ValueError, match=r"above any support in 6\d%"):
        clip_from_sequence(floating)
    raised = standing_sequence(name="kin-s01-stepup-01")
    raised.smpl[:, 2] += 0.2
    raised.extra["terrain"] = [[0.0, 0.0, 0.4, 0.4, 0.3, 0.2]]  # x, y, half length, half width, yaw, top
    clip = clip_from_sequence(raised)
    from hdys.control.clips import humanoid
    assert clip.terrain is not None and clip.terrain[0, 5] == 0.2
    soles = sole_heights(humanoid(clip.height_m, clip.mass_kg), clip.qpos, clip.terrain)
    assert abs(np.quantile(soles, 0.05)) < 1e-6  # the soles on the box's top, not on the floor
    env = ImitationEnv([clip], seed=0)
    env.reset(options={"clip": 0, "start": 0})
    box = env.model.geom("platform0").id
    assert env.data.geom_xpos[box][2] + env.model.geom_size[box][2] == pytest.approx(clip.terrain[0, 5])
    for _ in range(10):
        *_, info = env.step(np.zeros(env.action_space.shape))
    assert info["distance"] < 0.1  # standing on the platform, not fallen through it to the floor


def test_quaternion_round_trip():
    v = np.random.default_rng(0).normal(size=(10, 3))
    v *= np.minimum(1.0, 1.5 / np.linalg.norm(v, axis=1, keepdims=True))  # angles below pi / 2
    q = quat_from_rotvec(v)
    np.testing.assert_allclose(rotvec_from_quat(q), v, atol=1e-9)
    np.testing.assert_allclose(rotvec_from_quat(quat_mul(q, q)), 2 * v, atol=1e-9)  # same axis: angles add
    np.testing.assert_allclose(rotvec_from_quat(quat_mul(q, q * [1, -1, -1, -1])), 0.0, atol=1e-9)


def test_reset_puts_the_humanoid_on_the_reference(clip):
    env = ImitationEnv([clip], seed=0)
    obs, info = env.reset(options={"clip": 0, "start": 5})
    assert obs.shape == (SELF_DIM + TASK_DIM,) and np.isfinite(obs).all() and info["frame"] == 5
    r, dist = reward_terms(env.state(), env.reference(5))
    assert dist < 1e-9 and r == pytest.approx(1.0)
    with pytest.raises(ValueError, match="start frame"):
        env.reset(options={"clip": 0, "start": clip.frames - 1})


def test_step_tracks_with_zero_residual_and_rewards_in_unit_range(clip):
    env = ImitationEnv([clip], seed=0)
    env.reset(options={"clip": 0, "start": 0})
    rewards = []
    for _ in range(10):
        obs, r, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
        rewards.append(r)
        assert not terminated and not truncated and np.isfinite(obs).all()
    assert all(0.0 <= r <= 1.0 for r in rewards)
    assert info["distance"] < 0.1  # the PD controllers follow the reference's joint rotations
    # a full action turns the targets ACTION_SCALE away from the reference: the reward drops
    env.reset(options={"clip": 0, "start": 0})
    for _ in range(5):
        _, r_off, *_ = env.step(np.ones(env.action_space.shape))
    assert r_off < rewards[4] and ACTION_SCALE > 0


def test_termination_and_truncation(clip):
    env = ImitationEnv([clip], seed=0)
    env.reset(options={"clip": 0, "start": 0})
    env.data.qpos[0] += 1.0  # one metre off the reference
    _, _, terminated, truncated, info = env.step(np.zeros(env.action_space.shape))
    assert terminated and not truncated and info["distance"] > 0.5
    env.reset(options={"clip": 0, "start": clip.frames - 2})
    _, _, terminated, truncated, _ = env.step(np.zeros(env.action_space.shape))
    assert truncated and not terminated
    capped = ImitationEnv([clip], max_episode_frames=3, seed=0)
    capped.reset(options={"clip": 0, "start": 0})
    ends = [capped.step(np.zeros(capped.action_space.shape))[3] for _ in range(3)]
    assert ends == [False, False, True]


def test_feedforward_is_the_inverse_dynamics_and_tightens_the_joints(clip, monkeypatch):
    """The clip's feedforward is its contact-aware inverse dynamics with the root unactuated; with it the PD
    controllers need smaller errors to hold the body against gravity than without."""
    import hdys.control.env as control_env

    assert clip.torque.shape == clip.qvel.shape and np.isfinite(clip.torque).all()
    assert not clip.torque[:, :6].any() and np.abs(clip.torque[:, 6:]).max() > 1.0  # N m: the body's weight
    env = ImitationEnv([clip], seed=0)
    error = {}
    for ff in (False, True):
        monkeypatch.setattr(control_env, "FEEDFORWARD", ff)
        env.reset(options={"clip": 0, "start": 0})
        for _ in range(15):
            env.step(np.zeros(env.action_space.shape))
        joints = quat_mul(quat_conj(env.data.qpos[env._qadr]), clip.qpos[env.t][env._qadr])
        error[ff] = np.linalg.norm(rotvec_from_quat(joints), axis=1).mean()
    assert error[True] < 0.8 * error[False]


def test_latent_observation(clip):
    latent = np.arange(clip.frames * 4, dtype=np.float32).reshape(clip.frames, 4)
    with_latent = dataclasses.replace(clip, latent=latent)
    env = ImitationEnv([with_latent], with_latent=True, seed=0)
    obs, _ = env.reset(options={"clip": 0, "start": 3})
    assert obs.shape == (SELF_DIM + TASK_DIM + 4,)
    np.testing.assert_array_equal(obs[-4:], latent[4])  # the reference's next frame
    with pytest.raises(ValueError, match="without HDyS latents"):
        ImitationEnv([clip], with_latent=True)


def test_tracking_metrics():
    ref = np.random.default_rng(1).normal(size=(12, 24, 3))
    zero = tracking_metrics(ref, ref)
    assert all(v == 0.0 for v in zero.values())
    shifted = tracking_metrics(ref + [0.01, 0.0, 0.0], ref)
    assert shifted["mpjpe_g"] == pytest.approx(10.0) and shifted["mpjpe_l"] == pytest.approx(0.0, abs=1e-9)
    assert shifted["e_vel"] == pytest.approx(0.0, abs=1e-9) and shifted["e_acc"] == pytest.approx(0.0, abs=1e-9)


def test_policy_checkpoint_resume_and_evaluation(clip, tmp_path, monkeypatch):
    cfg = PolicyConfig(n_envs=1, n_steps=32, batch_size=32, n_epochs=1, timesteps=32, checkpoint_every=32,
                       max_episode_frames=20)
    assert train_policy([clip], tmp_path / "p", cfg, progress=False)["timesteps"] == 32
    weights = (tmp_path / "p" / "policy.safetensors").read_bytes()
    cfg.timesteps = 64
    assert train_policy([clip], tmp_path / "p", cfg, progress=False)["timesteps"] == 64  # resumed, not restarted
    assert (tmp_path / "p" / "policy.safetensors").read_bytes() != weights
    cfg.learning_rate = 1e-3  # another policy: refused, not silently continued or replaced
    with pytest.raises(ValueError, match="other settings .learning_rate"):
        train_policy([clip], tmp_path / "p", cfg, progress=False)
    cfg.learning_rate = PolicyConfig().learning_rate
    import hdys.control.env as control_env
    monkeypatch.setattr(control_env, "FEEDFORWARD", not control_env.FEEDFORWARD)  # another environment: refused
    with pytest.raises(ValueError, match="other control settings .feedforward"):
        evaluate_policy([clip], tmp_path / "p")
    monkeypatch.undo()
    res = evaluate_policy([clip], tmp_path / "p")
    assert res["total"]["clips"] == 1 and 0.0 <= res["total"]["success_rate"] <= 1.0
    assert res["per_clip"][clip.name]["frames"] >= 2 and np.isfinite(res["total"]["mpjpe_g"])


def test_checkpoints_are_chosen_on_validation_clips(clip, tmp_path):
    """Every checkpoint is scored on the validation clips; the best is kept loadable in ``best``; a re-run
    scores nothing twice; ``_better`` ranks tracked-to-the-end first, then the global error."""
    from hdys.control.policy import _better

    cfg = PolicyConfig(n_envs=1, n_steps=32, batch_size=32, n_epochs=1, timesteps=64, checkpoint_every=32,
                       max_episode_frames=20)
    res = train_policy([clip], tmp_path / "p", cfg, progress=False, validation=[clip])
    state = json.loads((tmp_path / "p" / "validation.json").read_text())
    assert [h["timesteps"] for h in state["history"]] == [32, 64] and state["clips"] == [clip.name]
    assert res["best"] == state["best"] and res["best"] in state["history"]
    assert all(not _better(h, state["best"]) for h in state["history"])
    best = evaluate_policy([clip], tmp_path / "p" / "best")
    assert best["total"]["mpjpe_g"] == pytest.approx(state["best"]["mpjpe_g"])  # the same deterministic tracking
    train_policy([clip], tmp_path / "p", cfg, progress=False, validation=[clip])
    assert json.loads((tmp_path / "p" / "validation.json").read_text()) == state
    a = {"success_rate": 0.5, "mpjpe_g": 90.0}
    assert _better(a, None) and _better(a, {"success_rate": 0.0, "mpjpe_g": 10.0})
    assert _better(a, {"success_rate": 0.5, "mpjpe_g": 95.0}) and not _better(a, {"success_rate": 0.5, "mpjpe_g": 80.0})


def test_control_settings():
    cfg = policy_config(["control.timesteps=1000", "control.policy=paper"])
    assert cfg.timesteps == 1000 and cfg.net_arch == [2048, 1536, 1024, 1024, 512, 512]
    with pytest.raises(ValueError, match="unknown control setting"):
        policy_config(["control.nonsense=1"])
    with pytest.raises(ValueError, match="policy must be one of"):
        policy_config(["control.policy=huge"])
    assert policy_config(["control.train_clips=160"]).train_clips == 160
    with pytest.raises(ValueError, match="train_clips must be >= 1"):
        policy_config(["control.train_clips=0"])

"""Imitation policies: PPO from stable-baselines3 on :class:`hdys.control.env.ImitationEnv`, resumable
checkpoints as safetensors plus JSON, and PHC's tracking metrics.

stable-baselines3 is the RL library: a maintained, tested PPO (clipped surrogate, GAE, value loss) on the
torch hdys already uses, which runs on the CPU with gymnasium environments as they are; hdys writes its
checkpoints itself (safetensors: weights, Adam's moments, the observation normaliser; JSON: counters and
config), never SB3's pickled zip.

The paper's policy (PHC's primitive) is a six-layer MLP 2048-1536-1024-1024-512-512 with SiLU and a fixed
action std of 0.05; ``POLICIES["paper"]``. On a 2-core CPU it costs ~35 MFLOP per sample and direction, so
the CPU protocol uses ``POLICIES["cpu"]`` (512-256-256, the same activation and std).
"""
from __future__ import annotations

import json
import logging
import math
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..store import atomic_write_json
from . import env as env_module
from .clips import Clip
from .env import ImitationEnv

log = logging.getLogger("hdys.control")

POLICIES = {"paper": [2048, 1536, 1024, 1024, 512, 512], "cpu": [512, 256, 256]}
# may change when a policy is continued (the training clips themselves are compared by name)
CONTINUABLE = {"timesteps", "checkpoint_every", "threads", "device", "train_clips", "validation_clips"}


@dataclass
class PolicyConfig:
    """PPO settings (gamma, clip range and the fixed std are the paper's)."""

    policy: str = "cpu"  # a key of POLICIES
    sigma: float = 0.05  # fixed action std
    gamma: float = 0.99
    clip_range: float = 0.2
    learning_rate: float = 3e-4
    n_envs: int = 4
    n_steps: int = 512  # per environment and rollout
    batch_size: int = 512
    n_epochs: int = 5
    timesteps: int = 200_000  # environment steps in all
    max_episode_frames: int = 150  # a training episode's control steps at most
    checkpoint_every: int = 20_000  # environment steps
    seed: int = 0
    # table6's clips: the first train_clips of the train split, the next validation_clips choose the checkpoint
    train_clips: int = 32
    validation_clips: int = 8
    threads: int = 1  # torch threads while training
    device: str = "cpu"  # torch device of the policy ("cuda" for the paper's policy on a GPU)
    net_arch: list[int] = field(default_factory=list)  # filled from ``policy``

    def __post_init__(self):
        if self.train_clips < 1 or self.validation_clips < 0:
            raise ValueError(f"train_clips must be >= 1 and validation_clips >= 0, got {self.train_clips} and "
                             f"{self.validation_clips}")
        if self.policy not in POLICIES:
            raise ValueError(f"policy must be one of {sorted(POLICIES)}, got {self.policy!r}")
        self.net_arch = list(POLICIES[self.policy])


def _make_model(clips: list[Clip], cfg: PolicyConfig, with_latent: bool):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    def make(i: int):
        return lambda: ImitationEnv(clips, with_latent, cfg.max_episode_frames, seed=cfg.seed * 1000 + i)

    venv = VecNormalize(DummyVecEnv([make(i) for i in range(cfg.n_envs)]), norm_obs=True, norm_reward=False,
                        clip_obs=10.0, gamma=cfg.gamma)
    model = PPO("MlpPolicy", venv, learning_rate=cfg.learning_rate, n_steps=cfg.n_steps, batch_size=cfg.batch_size,
                n_epochs=cfg.n_epochs, gamma=cfg.gamma, clip_range=cfg.clip_range, seed=cfg.seed, device=cfg.device,
                policy_kwargs={"net_arch": {"pi": cfg.net_arch, "vf": cfg.net_arch},
                               "activation_fn": torch.nn.SiLU, "log_std_init": math.log(cfg.sigma)}, verbose=0)
    model.policy.log_std.requires_grad_(False)  # the paper's fixed sigma
    return model, venv


def save_policy(out: Path, model, venv) -> None:
    """Weights, Adam's state and the observation normaliser (safetensors), counters (JSON); atomic."""
    from safetensors.torch import save_file

    out.mkdir(parents=True, exist_ok=True)
    tensors = {f"policy.{k}": v.detach().cpu().contiguous() for k, v in model.policy.state_dict().items()}
    opt = model.policy.optimizer.state_dict()
    for i, st in opt["state"].items():
        for k, v in st.items():
            tensors[f"optim.{i}.{k}"] = torch.as_tensor(v).detach().cpu().clone().contiguous()
    tensors["obs.mean"] = torch.as_tensor(venv.obs_rms.mean)
    tensors["obs.var"] = torch.as_tensor(venv.obs_rms.var)
    tmp = out / "policy.safetensors.tmp"
    save_file(tensors, str(tmp))
    tmp.replace(out / "policy.safetensors")
    atomic_write_json(out / "policy.json", {"num_timesteps": int(model.num_timesteps),
                                            "obs_count": float(venv.obs_rms.count),
                                            "param_groups": opt["param_groups"]})


def load_policy(out: Path, model, venv) -> int:
    """Load what ``save_policy`` wrote into ``model`` and ``venv``; returns the environment steps done."""
    from safetensors.torch import load_file

    tensors = load_file(str(out / "policy.safetensors"))
    meta = json.loads((out / "policy.json").read_text())
    model.policy.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("policy.")})
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, i, name = k.split(".", 2)
            state.setdefault(int(i), {})[name] = v
    model.policy.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    venv.obs_rms.mean = tensors["obs.mean"].numpy().astype(np.float64)
    venv.obs_rms.var = tensors["obs.var"].numpy().astype(np.float64)
    venv.obs_rms.count = meta["obs_count"]
    model.num_timesteps = int(meta["num_timesteps"])
    return model.num_timesteps


def _better(a: dict, b: dict | None) -> bool:
    """Tracking summary ``a`` beats ``b``: more clips tracked to the end, then a smaller global error."""
    return b is None or (a["success_rate"], -a["mpjpe_g"]) > (b["success_rate"], -b["mpjpe_g"])


class _Selection:
    """Model selection on validation clips: every checkpoint's deterministic policy tracks ``clips``; the best
    so far (:func:`_better`) is saved into ``out/best`` (loadable like ``out``), the history into
    ``out/validation.json``. A history for other clips is started afresh."""

    def __init__(self, clips: list[Clip], out: Path, with_latent: bool):
        self.env, self.out = ImitationEnv(clips, with_latent), out
        self.names = [c.name for c in clips]
        path = out / "validation.json"
        old = json.loads(path.read_text()) if path.exists() else None
        self.state = old if old and old.get("clips") == self.names else {"clips": self.names, "history": [],
                                                                         "best": None}

    def __call__(self, model, venv) -> None:
        steps = int(model.num_timesteps)
        if any(h["timesteps"] == steps for h in self.state["history"]):
            return  # this checkpoint was scored before an interruption
        per_clip = {name: _track(self.env, i, model, venv) for i, name in enumerate(self.names)}
        total = {"timesteps": steps, **summarise(per_clip)}
        self.state["history"].append(total)
        if _better(total, self.state["best"]):
            save_policy(self.out / "best", model, venv)
            atomic_write_json(self.out / "best" / "config.json", json.loads((self.out / "config.json").read_text()))
            self.state["best"] = total
        atomic_write_json(self.out / "validation.json", self.state)


def train_policy(clips: list[Clip], out: str | Path, cfg: PolicyConfig, with_latent: bool = False,
                 progress: bool = True, validation: list[Clip] | None = None) -> dict:
    """Train (or continue training) a policy into ``out``; re-running resumes from the last checkpoint.
    With ``validation`` clips every checkpoint is scored on them and the best one kept in ``out/best``
    (:class:`_Selection`): checkpoint selection on held-out clips, never on the test clips."""
    from stable_baselines3.common.callbacks import BaseCallback

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {**asdict(cfg), "with_latent": with_latent, **env_module.settings(), "clips": [c.name for c in clips]}
    if (out / "policy.json").exists():
        old = json.loads((out / "config.json").read_text())
        changed = sorted(k for k in set(old) | set(settings) if k not in CONTINUABLE and old.get(k) != settings[k])
        if changed:
            raise ValueError(f"{out} holds a policy trained with other settings ({', '.join(changed)}: "
                             f"{[old.get(k) for k in changed]} there, {[settings.get(k) for k in changed]} now); "
                             "continue it with its own settings, or train into another directory")
    model, venv = _make_model(clips, cfg, with_latent)
    done = load_policy(out, model, venv) if (out / "policy.json").exists() else 0
    atomic_write_json(out / "config.json", settings)
    select = _Selection(validation, out, with_latent) if validation else None

    def score() -> None:
        if select:
            with torch_threads(cfg.threads):
                select(model, venv)

    def checkpoint() -> None:
        save_policy(out, model, venv)
        score()

    class Checkpoint(BaseCallback):
        """Saves every ``checkpoint_every`` environment steps; shows progress."""

        def __init__(self):
            super().__init__()
            self.last = done
            self.bar = tqdm(total=cfg.timesteps, initial=done, desc=f"policy {out.name}", unit="step",
                            disable=not progress, dynamic_ncols=True)

        def _on_step(self) -> bool:
            self.bar.update(self.num_timesteps - self.bar.n)
            if self.num_timesteps - self.last >= cfg.checkpoint_every:
                checkpoint()
                self.last = self.num_timesteps
            return True

    if done < cfg.timesteps:
        log.info("training the imitation policy in %s: %d of %d environment steps done", out, done, cfg.timesteps)
        callback = Checkpoint()
        try:
            with torch_threads(cfg.threads):
                model.learn(total_timesteps=cfg.timesteps - done, callback=callback, reset_num_timesteps=False)
        except KeyboardInterrupt:
            save_policy(out, model, venv)
            log.warning("interrupted at %d environment steps; checkpoint written, re-run to continue",
                        model.num_timesteps)
            raise
        finally:
            callback.bar.close()
        checkpoint()
    elif select and select.state["best"] is None:  # trained before selection was asked for: score the last
        score()
    return {"timesteps": int(model.num_timesteps), "with_latent": with_latent,
            "best": select.state["best"] if select else None}


@contextmanager
def torch_threads(n: int):
    """torch's intra-op threads set to ``n`` for the block: the policy's small matmuls run fastest on
    one thread (two threads on two busy cores spin against each other)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tracking_metrics(pos: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    """PHC's metrics of tracked body positions ``pos`` against the reference's ``ref`` (T, J, 3), in m:
    mPJPE_g (mm), mPJPE_l (mm, both relative to their root, body 0), E_vel (mm/frame) and E_acc
    (mm/frame^2) of the positions' first and second differences."""
    err = np.linalg.norm(pos - ref, axis=-1)
    local = np.linalg.norm((pos - pos[:, :1]) - (ref - ref[:, :1]), axis=-1)
    out = {"mpjpe_g": 1000 * float(err.mean()), "mpjpe_l": 1000 * float(local.mean())}
    d1 = np.diff(pos, axis=0) - np.diff(ref, axis=0)
    d2 = np.diff(pos, 2, axis=0) - np.diff(ref, 2, axis=0)
    out["e_vel"] = 1000 * float(np.linalg.norm(d1, axis=-1).mean()) if len(d1) else float("nan")
    out["e_acc"] = 1000 * float(np.linalg.norm(d2, axis=-1).mean()) if len(d2) else float("nan")
    return out


def evaluate_policy(clips: list[Clip], out: str | Path, with_latent: bool = False) -> dict:
    """Track every clip from its first frame with the deterministic policy of ``out``. Per clip and in
    all: success (never further than the termination distance), the metrics of :func:`tracking_metrics`
    over the frames tracked (up to the failure on a failed clip), frames tracked."""
    env, model, venv, cfg = load_for_tracking(clips, out, with_latent)
    per_clip = {}
    with torch_threads(cfg.threads):
        for i, clip in enumerate(clips):
            per_clip[clip.name] = _track(env, i, model, venv)
    return {"total": summarise(per_clip), "per_clip": per_clip}


def track(env: ImitationEnv, i: int, model=None, venv=None) -> tuple[np.ndarray, np.ndarray, bool]:
    """Clip ``i`` tracked from its first frame with the policy's deterministic actions (zero actions, i.e.
    PD control towards the reference's own rotations, without a ``model``): the humanoid's and the
    reference's body positions (T, 24, 3) over the frames tracked, and whether it ended terminated."""
    obs, _ = env.reset(options={"clip": i, "start": 0})
    pos, ref = [env.state()[0]], [env.reference(0)[0]]
    zero = np.zeros(env.action_space.shape, np.float32)
    while True:
        action = model.predict(venv.normalize_obs(obs[None]), deterministic=True)[0][0] if model else zero
        obs, _, terminated, truncated, _ = env.step(action)
        pos.append(env.state()[0])
        ref.append(env.reference(env.t)[0])
        if terminated or truncated:
            return np.array(pos), np.array(ref), bool(terminated)


def _track(env: ImitationEnv, i: int, model=None, venv=None) -> dict:
    pos, ref, failed = track(env, i, model, venv)
    return {"success": not failed, "frames": len(pos), **tracking_metrics(pos, ref)}


def summarise(per_clip: dict[str, dict]) -> dict:
    """Success rate over the clips; the metrics averaged over all frames tracked."""
    rows = list(per_clip.values())
    frames = np.array([r["frames"] for r in rows], float)
    return {"success_rate": float(np.mean([r["success"] for r in rows])), "clips": len(rows),
            **{k: float(np.average([r[k] for r in rows], weights=frames)) for k in
               ("mpjpe_g", "mpjpe_l", "e_vel", "e_acc")}}


def evaluate_reference_pd(clips: list[Clip]) -> dict:
    """What PD control towards the reference's joint rotations does with no policy (zero actions): the
    floor a learned policy has to beat, as ``evaluate_policy`` reports it."""
    env = ImitationEnv(clips)
    per_clip = {clip.name: _track(env, i) for i, clip in enumerate(clips)}
    return {"total": summarise(per_clip), "per_clip": per_clip}


def load_for_tracking(clips: list[Clip], out: str | Path, with_latent: bool = False):
    """(environment over ``clips``, policy, observation normaliser) of the policy saved in ``out``."""
    out = Path(out)
    cfg_json = json.loads((out / "config.json").read_text())
    cfg = PolicyConfig(**{k: v for k, v in cfg_json.items() if k in PolicyConfig.__dataclass_fields__
                          and k != "net_arch"})
    # a policy of before a setting was recorded had its earliest value: no feedforward, the first gains
    before = {"action_scale": env_module.ACTION_SCALE, "feedforward": False, "kp": "the first gains (not recorded)"}
    now = env_module.settings()
    changed = sorted(k for k in now if cfg_json.get(k, before[k]) != now[k])
    if changed:
        raise ValueError(f"{out}: the policy was trained in an environment of other control settings "
                         f"({', '.join(f'{k}: {cfg_json.get(k, before[k])} there, {now[k]} here' for k in changed)})")
    model, venv = _make_model(clips, PolicyConfig(**{**asdict(cfg), "n_envs": 1}), with_latent)
    load_policy(out, model, venv)
    return ImitationEnv(clips, with_latent), model, venv, cfg

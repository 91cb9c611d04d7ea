"""Checkpoints: weights and optimizer tensors as safetensors, everything else as JSON. Never pickle.

Layout of a run directory::

    RUN_DIR/config.json                      the typed config
    RUN_DIR/normalizer.json                  normalisation statistics (train split)
    RUN_DIR/checkpoints/step-00000042/       model.safetensors, optimizer.safetensors, state.json
    RUN_DIR/checkpoints/latest.json          {"step": 42, "dir": "step-00000042"}

A checkpoint directory is written under a temporary name (``.step-N.tmp``; ``state.json`` last, so a
directory with it is complete) and renamed into place, and ``latest.json`` is replaced atomically
afterwards. Re-saving a step that exists moves the old copy aside (``.step-N.old``) before the new one
takes its name, and deletes it only then. A run killed at any moment thus keeps a complete checkpoint,
and :func:`latest_checkpoint` falls back to the newest complete one when ``latest.json`` points at a
directory that is missing or incomplete.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .config import Config
from .features import FEATURE_CHANGES, FEATURE_VERSION
from .store import atomic_write_json

log = logging.getLogger(__name__)


class CheckpointError(ValueError):
    pass


def _optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for k, v in state.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{k}"] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, opt: torch.optim.Optimizer,
                    state: dict, keep: int = 2) -> Path:
    ckpt_root = run_dir / "checkpoints"
    ckpt_root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    final = ckpt_root / name
    tmp = ckpt_root / f".{name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, tmp / "model.safetensors")
    tensors, meta = _optimizer_tensors(opt)
    save_file(tensors, tmp / "optimizer.safetensors")
    atomic_write_json(tmp / "state.json", {**state, "step": step, "optimizer": meta})
    aside = ckpt_root / f".{name}.old"
    if final.exists():  # the same step saved again (end of a run): never delete the good copy first
        if aside.exists():
            shutil.rmtree(aside)
        os.replace(final, aside)
    os.replace(tmp, final)
    atomic_write_json(ckpt_root / "latest.json", {"step": step, "dir": name})
    for p in ckpt_root.glob(".step-*"):  # copies left by a run killed while saving: back in place or gone
        in_place = ckpt_root / f"step-{_step_of(p):08d}"
        if _step_of(p) >= 0 and is_complete(p) and not in_place.exists():
            os.replace(p, in_place)
        else:
            shutil.rmtree(p, ignore_errors=True)
    old = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir() and p != final)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


CHECKPOINT_FILES = ("model.safetensors", "optimizer.safetensors", "state.json")


def is_complete(path: Path) -> bool:
    return all((path / f).is_file() for f in CHECKPOINT_FILES)


def _step_of(path: Path) -> int:
    """Step number of ``step-N``, ``.step-N.tmp`` or ``.step-N.old``; -1 for anything else."""
    digits = path.name.lstrip(".").removeprefix("step-").split(".")[0]
    return int(digits) if path.name.lstrip(".").startswith("step-") and digits.isdigit() else -1


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoint directories of a run, newest step first; at equal steps the one in place
    (``step-N``) before a finished temporary copy before the copy moved aside."""
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    rank = {"": 0, "tmp": 1, "old": 2}
    found = [p for p in root.iterdir() if p.is_dir() and _step_of(p) >= 0 and is_complete(p)]
    return sorted(found, key=lambda p: (-_step_of(p), rank.get(p.suffix.lstrip("."), 3)))


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint ``latest.json`` names; if it is missing or incomplete (a run killed while saving),
    the newest complete one on disk, with a warning. None when the run has no checkpoint at all."""
    latest = run_dir / "checkpoints" / "latest.json"
    problem = None
    if latest.exists():
        try:
            path = run_dir / "checkpoints" / json.loads(latest.read_text())["dir"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problem = f"{latest} is unreadable ({exc})"
        else:
            if is_complete(path):
                return path
            problem = f"{latest} points to {path}, which is missing or incomplete"
    candidates = complete_checkpoints(run_dir)
    if not candidates:
        if problem:
            raise CheckpointError(f"{problem}, and {run_dir / 'checkpoints'} holds no complete checkpoint")
        return None
    log.warning("%s; using the newest complete checkpoint, %s", problem or f"{latest} is missing", candidates[0])
    return candidates[0]


def load_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer | None = None) -> dict:
    """Load weights (and optimizer state) from a checkpoint directory; returns its state.json."""
    try:
        weights = load_file(path / "model.safetensors")
        state = json.loads((path / "state.json").read_text())
    except (OSError, json.JSONDecodeError, Exception) as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: cannot read checkpoint: {exc}") from None
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the model (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}); was it trained with another config?")
    if opt is not None:
        tensors = load_file(path / "optimizer.safetensors")
        meta = state["optimizer"]
        per_param: dict[int, dict] = {}
        for key, v in tensors.items():
            pid, k = key.split(".", 1)
            per_param.setdefault(int(pid), {})[k] = v
        for key, v in meta["scalars"].items():
            pid, k = key.split(".", 1)
            per_param.setdefault(int(pid), {})[k] = v
        opt.load_state_dict({"state": per_param, "param_groups": meta["param_groups"]})
    return state


def load_run(run_dir: str | Path, device="cpu"):
    """(model, config, normalizer, vocab) of the latest checkpoint of a run, ready for inference."""
    from .data import Normalizer
    from .model import build_model

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise CheckpointError(f"{run_dir}: not a run directory (no config.json); train one with `hdys train`")
    cfg = Config.from_json(json.loads((run_dir / "config.json").read_text()))
    norm = Normalizer.from_json(json.loads((run_dir / "normalizer.json").read_text()))
    if norm.feature_version != FEATURE_VERSION:
        log.warning("%s was trained on features of version %s; this hdys computes version %d (%s). Its predictions "
                    "from such inputs differ from what it learned: retrain it for this version", run_dir,
                    norm.feature_version or "1 or 2 (not recorded)", FEATURE_VERSION, FEATURE_CHANGES)
    path = latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"{run_dir}: no checkpoint yet (checkpoints/latest.json missing)")
    model = build_model(cfg.model).to(device)
    load_checkpoint(path, model)
    model.eval()
    vocab = {"muscle_activation": cfg.model.muscle_names, "emg": cfg.model.emg_names}
    return model, cfg, norm, vocab

"""Checkpoints: weights and optimizer tensors as safetensors, everything else as JSON. Never pickle.

Layout of a run directory::

    RUN_DIR/config.json                      the typed config
    RUN_DIR/normalizer.json                  normalisation statistics (train split)
    RUN_DIR/checkpoints/step-00000042/       model.safetensors, optimizer.safetensors, state.json
    RUN_DIR/checkpoints/latest.json          {"step": 42, "dir": "step-00000042"}

A checkpoint directory is written under a temporary name and renamed into place, and ``latest.json``
is replaced atomically afterwards, so a run killed at any moment leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from .config import Config
from .store import atomic_write_json


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
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    atomic_write_json(ckpt_root / "latest.json", {"step": step, "dir": name})
    old = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir() and p != final)
    for p in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(p, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    latest = run_dir / "checkpoints" / "latest.json"
    if not latest.exists():
        return None
    try:
        name = json.loads(latest.read_text())["dir"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise CheckpointError(f"{latest}: unreadable ({exc})") from None
    path = run_dir / "checkpoints" / name
    if not (path / "model.safetensors").exists():
        raise CheckpointError(f"{latest} points to {path}, which has no model.safetensors")
    return path


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
    path = latest_checkpoint(run_dir)
    if path is None:
        raise CheckpointError(f"{run_dir}: no checkpoint yet (checkpoints/latest.json missing)")
    model = build_model(cfg.model).to(device)
    load_checkpoint(path, model)
    model.eval()
    vocab = {"muscle_activation": cfg.model.muscle_names, "emg": cfg.model.emg_names}
    return model, cfg, norm, vocab

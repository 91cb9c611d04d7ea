"""Models. Every model follows one contract: ``forward(batch) -> (loss, logs)`` for training and
``infer(batch) -> ({rep: {dyn: (n, T, C)}}, {rep: (n, T, D) latents})`` for inference, on the batch
built by ``hdys.data.collate`` (see ``hdys.model.hdys``)."""
from __future__ import annotations

from torch import nn

from ..config import ModelConfig
from .baselines import BASELINES
from .hdys import HDyS, parameter_counts

# HDyS and the baselines of the paper's comparisons (hdys.model.baselines), all trained by hdys.train
MODELS: dict[str, type[nn.Module]] = {"hdys": HDyS, **BASELINES}


def build_model(cfg: ModelConfig) -> nn.Module:
    if cfg.arch not in MODELS:
        raise ValueError(f"model.arch={cfg.arch!r} is not a model; known: {sorted(MODELS)}")
    return MODELS[cfg.arch](cfg)


__all__ = ["HDyS", "MODELS", "build_model", "parameter_counts"]

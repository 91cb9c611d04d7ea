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


MINT_MUSCLES = 402  # Muscles in Time's channels (80 lower-body, 322 thoracolumbar)


def with_paper_vocabularies(cfg: ModelConfig) -> ModelConfig:
    """``cfg`` with the paper's channel vocabularies where it has none: the 402 MinT muscles (placeholder names)
    and the 8 Muscles in Action EMG channels; the sizes of the paper's parameter counts (Table 7)."""
    from ..schema import MIA_EMG_CHANNELS
    if not cfg.muscle_names:
        cfg.muscle_names = [f"muscle_{i:03d}" for i in range(MINT_MUSCLES)]
    if not cfg.emg_names:
        cfg.emg_names = list(MIA_EMG_CHANNELS)
    return cfg


def build_model(cfg: ModelConfig) -> nn.Module:
    if cfg.arch not in MODELS:
        raise ValueError(f"model.arch={cfg.arch!r} is not a model; known: {sorted(MODELS)}")
    return MODELS[cfg.arch](cfg)


__all__ = ["HDyS", "MINT_MUSCLES", "MODELS", "build_model", "parameter_counts", "with_paper_vocabularies"]

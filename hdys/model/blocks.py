"""Building blocks of HDyS (paper §3.3, sizes of §4.2).

Shape legend: B windows, T frames, N = B*T frames, P points (markers or keypoints), D latent, F features.
"""
from __future__ import annotations

import torch
from torch import nn


class MLP(nn.Sequential):
    """Linear layers with GELU between them: dims = (in, hidden..., out)."""

    def __init__(self, dims: list[int] | tuple[int, ...]):
        layers: list[nn.Module] = []
        for i in range(len(dims) - 1):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                layers.append(nn.GELU())
        super().__init__(*layers)


class PointSetEncoder(nn.Module):
    """Transformer encoder over an unordered point set, no positional embedding (paper §3.3).

    Each point is a token of its features (position, velocity and, for the IDAE, acceleration); a
    learned summary token reads the set, so any number and order of points is accepted.
    """

    def __init__(self, in_dim: int, dim: int, layers: int, heads: int):
        super().__init__()
        self.proj = nn.Linear(in_dim, dim)
        self.summary = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.summary, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, P, F), valid (N, P) bool -> latent (N, D), point tokens (N, P, D)."""
        tokens = self.proj(x)  # (N, P, D)
        summary = self.summary.expand(x.shape[0], -1, -1)  # (N, 1, D)
        pad = torch.cat([torch.zeros_like(valid[:, :1]), ~valid], dim=1)  # (N, 1+P) True = ignore
        h = self.norm(self.encoder(torch.cat([summary, tokens], dim=1), src_key_padding_mask=pad))
        return h[:, 0], h[:, 1:]  # (N, D), (N, P, D)


class TemporalRefiner(nn.Module):
    """The shared transformer of the ID decoder: per-frame latents refined with temporal context."""

    def __init__(self, dim: int, layers: int, heads: int, max_window: int):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, max_window, dim))
        nn.init.normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, T, D) -> (B, T, D)."""
        T = z.shape[1]
        if T > self.pos.shape[1]:
            raise ValueError(f"window of {T} frames is longer than model.max_window={self.pos.shape[1]}")
        return self.norm(self.encoder(z + self.pos[:, :T]))

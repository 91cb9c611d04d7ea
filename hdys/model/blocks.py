"""Building blocks of HDyS (paper §3.3, sizes of §4.2).

Shape legend: B windows, T frames, N = B*T frames, P points (markers or keypoints), D latent, F features.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
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


class _SelfAttention(nn.Module):
    """Multi-head self-attention as explicit matmuls. Parameter names are those of
    ``nn.MultiheadAttention`` (``in_proj_weight``, ``in_proj_bias``, ``out_proj``), so checkpoints of the
    ``nn.TransformerEncoderLayer`` this replaces load unchanged. On the CPU, for the short sequences
    here (a frame's 17-58 points, a 32-frame window), plain matmuls train faster than
    ``scaled_dot_product_attention``'s fused kernel, whose backward is slow in bfloat16."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None, queries: int | None = None) -> torch.Tensor:
        """x (N, L, D); bias (N, 1, 1, L) added to the logits (-inf = ignore that key) or None. With
        ``queries`` only the first that many tokens attend (output (N, queries, D)): the same rows as
        without it, at a fraction of the cost when the other tokens' outputs are not used."""
        N, L, D = x.shape
        if queries is None:
            q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).view(N, L, 3, self.heads, -1) \
                .permute(2, 0, 3, 1, 4)
        else:
            q = F.linear(x[:, :queries], self.in_proj_weight[:D], self.in_proj_bias[:D])
            q = q.view(N, queries, self.heads, -1).transpose(1, 2)
            k, v = F.linear(x, self.in_proj_weight[D:], self.in_proj_bias[D:]).view(N, L, 2, self.heads, -1) \
                .permute(2, 0, 3, 1, 4)
        logits = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-1, -2)  # (N, H, Lq, L)
        if bias is not None:
            logits = logits + bias
        out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(N, q.shape[2], D)
        return self.out_proj(out)


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer, ReLU feed-forward of twice the width, no dropout: what
    ``nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0, norm_first=True)`` computes, with the
    same parameter names."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.self_attn = _SelfAttention(dim, heads)
        self.linear1 = nn.Linear(dim, 2 * dim)
        self.linear2 = nn.Linear(2 * dim, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None = None, queries: int | None = None) -> torch.Tensor:
        """x (N, L, D) -> (N, L, D), or only the first ``queries`` tokens' outputs (N, queries, D)."""
        h = self.self_attn(self.norm1(x), bias, queries)
        x = (x if queries is None else x[:, :queries]) + h
        return x + self.linear2(F.relu(self.linear1(self.norm2(x))))


class Encoder(nn.Module):
    """A stack of ``EncoderLayer`` (``layers.i`` as in ``nn.TransformerEncoder``)."""

    def __init__(self, dim: int, heads: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, ignore: torch.Tensor | None = None, last_queries: int | None = None
                ) -> torch.Tensor:
        """x (N, L, D); ignore (N, L) bool, True for keys no token may attend to. With ``last_queries`` the
        last layer computes only the first that many tokens (output (N, last_queries, D))."""
        bias = None
        if ignore is not None:
            bias = torch.zeros(ignore.shape, dtype=x.dtype, device=x.device)
            bias = bias.masked_fill(ignore, float("-inf"))[:, None, None, :]
        for i, layer in enumerate(self.layers):
            x = layer(x, bias, last_queries if i == len(self.layers) - 1 else None)
        return x


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
        self.encoder = Encoder(dim, heads, layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, valid: torch.Tensor, tokens: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x (N, P, F), valid (N, P) bool -> latent (N, D), point tokens (N, P, D). With ``tokens=False``
        the point tokens are not returned (None) and the last layer updates the summary token only: the
        same latent, without the last layer's point-to-point attention and feed-forward, which is most of
        the cost of a one-layer encoder."""
        h = self.proj(x)  # (N, P, D)
        summary = self.summary.expand(x.shape[0], -1, -1)  # (N, 1, D)
        pad = torch.cat([torch.zeros_like(valid[:, :1]), ~valid], dim=1)  # (N, 1+P) True = ignore
        h = self.norm(self.encoder(torch.cat([summary, h], dim=1), pad, None if tokens else 1))
        return h[:, 0], (h[:, 1:] if tokens else None)  # (N, D), (N, P, D)


class TemporalRefiner(nn.Module):
    """The shared transformer of the ID decoder: per-frame latents refined with temporal context."""

    def __init__(self, dim: int, layers: int, heads: int, max_window: int):
        super().__init__()
        self.pos = nn.Parameter(torch.zeros(1, max_window, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.encoder = Encoder(dim, heads, layers)
        self.norm = nn.LayerNorm(dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, T, D) -> (B, T, D)."""
        T = z.shape[1]
        if T > self.pos.shape[1]:
            raise ValueError(f"window of {T} frames is longer than model.max_window={self.pos.shape[1]}")
        return self.norm(self.encoder(z + self.pos[:, :T]))

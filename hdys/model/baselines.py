"""Baselines of the paper's comparisons (§4.3, Tables 1, 4, 7) as models of the same trainer.

Every baseline follows the HDyS contract (``hdys.model.hdys``): ``forward(batch) -> (loss, logs)`` with
the L1 loss on the normalised dynamics the batch has (masked as in HDyS, summed over the
representation x dynamics pairs), and ``infer(batch) -> (preds, latents)`` with per-frame predictions
(n, T, C) only for the kinematics representations the baseline can read and the dynamics types it
has heads for. No dropout anywhere (training is deterministic under a seed).

* ``imdys``: ImDyS (ImDy, ICLR 2025; ``models/IDFD_mkr.py``): every marker / keypoint is a token of a
  short window of its positions and velocities; one learned query reads the tokens through a
  transformer decoder; heads for torques and GRF. The forward-dynamics branch of ImDy (training only)
  is left out: the comparison is of inverse dynamics.
* ``mia``: Muscles in Action (Chiquier & Vondrick, ICCV 2023): a transformer encoder over frames of
  flattened (BODY_25-sized) keypoints, a temporal convolution as the token embedding, predicting EMG
  (and muscle activations where the vocabulary has them). The subject-conditioning scalar of MiA is
  left out (the corpus has no such input).
* ``groundlink``: GroundLinkNet (Han et al., SIGGRAPH Asia 2023; the UnderPressure ``DeepNetwork``):
  Conv1d stack over a pose sequence, then fully-connected layers, predicting per-foot GRF per frame
  (CoP is not a dynamics type of the corpus).
* ``mean``: a learned constant per channel (the train-set central value in normalised units; under the
  L1 loss it converges to the median); reads every representation.
* ``mlp``: a per-frame MLP per representation, no temporal context; reads every representation.

The sizes are the published ones, as module-level constants (``model.latent_dim`` etc. configure HDyS
and the ``mlp`` floor only). Shape legend: n windows, T frames, P points, F features, C channels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from .blocks import MLP
from .hdys import POINT_REPS, VECTOR_DIMS, combine_terms, dynamics_dims, reconstruction_terms

TORQUE_GRF = ("torque_smpl", "torque_rajagopal", "grf")
MUSCLE = ("emg", "muscle_activation")
ALL_REPS = (*POINT_REPS, *VECTOR_DIMS)
POINT_FEATURES = 9  # x, ẋ, ẍ per point

# ImDyS (ImDy IDFD_mkr): tokens of a window of PAST + 1 + FUTURE frames x (position 3, velocity 3); the
# original window is fid-2 .. fid+3 because it also predicts the next frame's GRF; per frame it is centred.
IMDYS_PAST, IMDYS_FUTURE = 2, 2
IMDYS_DIM, IMDYS_LAYERS, IMDYS_HEADS = 64, 3, 4  # ffn 2 * dim, final LayerNorm

# MiA (modelposetoemg.py): d = 128, 8 encoder layers, PyTorch's default feed-forward (2048) and ReLU;
# the token embedding is a temporal convolution of kernel 9 over the flattened skeleton of each frame.
MIA_DIM, MIA_LAYERS, MIA_HEADS, MIA_FFN, MIA_KERNEL = 128, 8, 8, 2048, 9
MAX_KEYPOINTS = 25  # OpenPose BODY_25: the flattened skeleton is zero-padded to this many keypoints

# GroundLinkNet (UnderPressure DeepNetwork): Conv1d [in, 128, 128, 256, 256], kernel 7, replicate padding,
# ELU, then 3 fully-connected layers of 256 and the output layer.
GROUNDLINK_CONV = (128, 128, 256, 256)
GROUNDLINK_KERNEL = 7
GROUNDLINK_FC = (256, 256, 256)


# -------------------------------------------------------------------------------------------------
# shared pieces


class LearnedTokens(nn.Module):
    """A learned (1, L, D) tensor (a query or positional embedding), kept in a module so that
    ``parameter_counts`` (per top-level module) sees it."""

    def __init__(self, length: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, length, dim))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, length: int) -> torch.Tensor:
        if length > self.weight.shape[1]:
            raise ValueError(f"window of {length} frames is longer than model.max_window={self.weight.shape[1]}")
        return self.weight[:, :length]  # (1, length, D)


def flatten_points(x: torch.Tensor, valid: torch.Tensor, max_points: int = MAX_KEYPOINTS) -> torch.Tensor:
    """Mask-aware flattening of a point set into a fixed-size frame vector.

    x (n, T, P, F), valid (n, T, P) -> (n, T, max_points * F + max_points): the point features, zero
    where a point is occluded or absent, followed by the visibility flags.
    """
    n, T, P, Fd = x.shape
    if P > max_points:
        raise ValueError(f"{P} keypoints exceed the flattened skeleton size MAX_KEYPOINTS={max_points}")
    v = valid.to(x.dtype)
    x = x * v[..., None]  # (n, T, P, F)
    if P < max_points:
        x = F.pad(x, (0, 0, 0, max_points - P))  # (n, T, max_points, F)
        v = F.pad(v, (0, max_points - P))  # (n, T, max_points)
    return torch.cat([x.flatten(-2), v], -1)  # (n, T, max_points * (F + 1))


class Baseline(nn.Module):
    """The contract shared by the baselines: the loss, ``infer`` and the representation filter.

    Subclasses set ``reads`` (kinematics representations) and ``supports`` (dynamics types) and
    implement ``predict_rep(rep, kin) -> ({dyn: (n, T, C)}, latent (n, T, D) or None)``.
    """

    reads: tuple[str, ...] = ALL_REPS
    supports: tuple[str, ...] = (*TORQUE_GRF, *MUSCLE)

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.dyn_dims = {d: n for d, n in dynamics_dims(cfg).items() if d in self.supports}

    def predict_rep(self, rep: str, kin: dict) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        raise NotImplementedError

    def _run(self, batch: dict) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        preds, latents = {}, {}
        for rep, kin in batch["kin"].items():
            if rep not in self.reads:
                continue
            preds[rep], z = self.predict_rep(rep, kin)
            if z is not None:
                latents[rep] = z
        return preds, latents

    @torch.no_grad()
    def infer(self, batch: dict) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        """Predictions {rep: {dyn: (n, T, C)}} for the representations this baseline reads, latents
        {rep: (n, T, D)} where it has a per-frame feature."""
        return self._run(batch)

    def predict(self, batch: dict) -> dict[str, dict[str, torch.Tensor]]:
        return self.infer(batch)[0]

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        preds, _ = self._run(batch)
        logs: dict[str, float] = {}
        terms = reconstruction_terms(preds, batch, logs, self.cfg.corr_weight, self.cfg.corr_min_std)
        if terms:
            loss = combine_terms(terms, self.cfg.loss_balance)
        else:  # nothing this baseline can learn from in the batch: a zero that keeps the graph
            loss = sum(p.sum() for p in self.parameters()) * 0.0
        logs["recon"] = logs["loss"] = float(loss.detach())
        return loss, logs


# -------------------------------------------------------------------------------------------------
# ImDyS


def point_windows(x: torch.Tensor, valid: torch.Tensor, past: int, future: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per point and frame, its positions and velocities over frames t-past .. t+future (edge padded).

    x (n, T, P, 9), valid (n, T, P) -> tokens (n, T, P, W * 6) frame-major, W = past + 1 + future,
    zero at frames where the point is not visible; and the token mask (n, T, P) = visible at t.
    """
    n, T, P, _ = x.shape
    W = past + 1 + future
    pv = x[..., :6] * valid[..., None].to(x.dtype)  # (n, T, P, 6)
    seq = pv.permute(0, 2, 3, 1).reshape(n, P * 6, T)  # (n, P*6, T)
    seq = F.pad(seq, (past, future), mode="replicate").unfold(-1, W, 1)  # (n, P*6, T, W)
    tokens = seq.reshape(n, P, 6, T, W).permute(0, 3, 1, 4, 2).reshape(n, T, P, W * 6)  # (n, T, P, W*6)
    return tokens, valid


class ImDyS(Baseline):
    reads = POINT_REPS
    supports = TORQUE_GRF

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        D = IMDYS_DIM
        self.in_proj = nn.Linear((IMDYS_PAST + 1 + IMDYS_FUTURE) * 6, D)
        self.query = LearnedTokens(1, D)
        layer = nn.TransformerDecoderLayer(D, IMDYS_HEADS, dim_feedforward=2 * D, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, IMDYS_LAYERS, norm=nn.LayerNorm(D))
        self.heads = nn.ModuleDict({d: MLP([D, D, n]) for d, n in self.dyn_dims.items()})  # out-proj + head

    def predict_rep(self, rep: str, kin: dict):
        x, valid = kin["x"], kin["valid"]
        n, T, P, _ = x.shape
        tokens, visible = point_windows(x, valid, IMDYS_PAST, IMDYS_FUTURE)  # (n, T, P, W*6), (n, T, P)
        memory = self.in_proj(tokens.flatten(0, 1))  # (n*T, P, D)
        pad = ~visible.flatten(0, 1)  # (n*T, P) True = ignore
        pad = pad & ~pad.all(-1, keepdim=True)  # a frame with no visible point reads its (zero) tokens
        query = self.query(1).expand(n * T, -1, -1)  # (n*T, 1, D)
        h = self.decoder(query, memory, memory_key_padding_mask=pad)[:, 0].view(n, T, -1)  # (n, T, D)
        return {d: head(h) for d, head in self.heads.items()}, h


# -------------------------------------------------------------------------------------------------
# MiA


class MiA(Baseline):
    reads = ("keypoints",)
    supports = MUSCLE

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        D = MIA_DIM
        in_dim = MAX_KEYPOINTS * (POINT_FEATURES + 1)
        self.embed = nn.Conv1d(in_dim, D, MIA_KERNEL, padding=MIA_KERNEL // 2, padding_mode="replicate")
        self.pos = LearnedTokens(cfg.max_window, D)
        layer = nn.TransformerEncoderLayer(D, MIA_HEADS, dim_feedforward=MIA_FFN, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, MIA_LAYERS, enable_nested_tensor=False)
        self.heads = nn.ModuleDict({d: nn.Linear(D, n) for d, n in self.dyn_dims.items()})

    def predict_rep(self, rep: str, kin: dict):
        frames = flatten_points(kin["x"], kin["valid"])  # (n, T, 250)
        T = frames.shape[1]
        h = self.embed(frames.transpose(1, 2)).transpose(1, 2)  # (n, T, D)
        h = self.encoder(h + self.pos(T))  # (n, T, D)
        return {d: head(h) for d, head in self.heads.items()}, h


# -------------------------------------------------------------------------------------------------
# GroundLinkNet


class GroundLink(Baseline):
    reads = ("smpl", "keypoints")
    supports = ("grf",)

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        k = GROUNDLINK_KERNEL

        def conv(a: int, b: int) -> nn.Conv1d:
            return nn.Conv1d(a, b, k, padding=k // 2, padding_mode="replicate")

        in_dims = {"smpl": 3 * VECTOR_DIMS["smpl"], "keypoints": MAX_KEYPOINTS * (POINT_FEATURES + 1)}
        c = GROUNDLINK_CONV
        self.inputs = nn.ModuleDict({r: conv(n, c[0]) for r, n in in_dims.items()})  # the first layer per input
        self.convs = nn.Sequential(*[m for a, b in zip(c[:-1], c[1:]) for m in (nn.ELU(), conv(a, b))], nn.ELU())
        fc = (c[-1], *GROUNDLINK_FC)
        self.fc = nn.Sequential(*[m for a, b in zip(fc[:-1], fc[1:]) for m in (nn.Linear(a, b), nn.ELU())])
        self.heads = nn.ModuleDict({d: nn.Linear(fc[-1], n) for d, n in self.dyn_dims.items()})

    def predict_rep(self, rep: str, kin: dict):
        x = kin["x"] if rep == "smpl" else flatten_points(kin["x"], kin["valid"])  # (n, T, F)
        h = self.convs(self.inputs[rep](x.transpose(1, 2))).transpose(1, 2)  # (n, T, 256)
        h = self.fc(h)  # (n, T, 256)
        return {d: head(h) for d, head in self.heads.items()}, h


# -------------------------------------------------------------------------------------------------
# floors


class MeanPredictor(Baseline):
    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        self.constants = nn.ParameterDict({d: nn.Parameter(torch.zeros(n)) for d, n in self.dyn_dims.items()})

    def predict_rep(self, rep: str, kin: dict):
        n, T = kin["x"].shape[:2]
        return {d: c.expand(n, T, -1) for d, c in self.constants.items()}, None


class FrameMLP(Baseline):
    """Per representation: an MLP of the frame's features (vector representations) or a per-point MLP
    mean-pooled over the visible points (point sets), then an MLP head per dynamics type."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        D, hid = cfg.latent_dim, list(cfg.encoder_hidden)
        in_dims = {r: POINT_FEATURES for r in POINT_REPS} | {r: 3 * n for r, n in VECTOR_DIMS.items()}
        self.encoders = nn.ModuleDict({r: MLP([n, *hid, D]) for r, n in in_dims.items()})
        self.heads = nn.ModuleDict({r: nn.ModuleDict({d: MLP([D, cfg.head_hidden[d], n])
                                                      for d, n in self.dyn_dims.items()}) for r in in_dims})

    def predict_rep(self, rep: str, kin: dict):
        h = self.encoders[rep](kin["x"])  # (n, T, P, D) or (n, T, D)
        if rep in POINT_REPS:
            v = kin["valid"].to(h.dtype)[..., None]  # (n, T, P, 1)
            h = (h * v).sum(2) / v.sum(2).clamp(min=1.0)  # (n, T, D)
        h = F.gelu(h)
        return {d: head(h) for d, head in self.heads[rep].items()}, h


BASELINES: dict[str, type[nn.Module]] = {
    "imdys": ImDyS, "mia": MiA, "groundlink": GroundLink, "mean": MeanPredictor, "mlp": FrameMLP}


def parameter_table() -> dict[str, int]:
    """Total parameters of every registered model at its default size, and of HDyS-32D/64D/128D, with the
    paper's vocabularies (402 MinT muscles, 8 MiA EMG channels); the numbers of the paper's Table 7."""
    from ..config import Config
    from . import MODELS, build_model, with_paper_vocabularies

    def total(arch: str, latent_dim: int | None = None) -> int:
        cfg = with_paper_vocabularies(Config().model)
        cfg.arch = arch
        if latent_dim is not None:
            cfg.latent_dim = latent_dim
        return sum(p.numel() for p in build_model(cfg).parameters())

    table = {arch: total(arch) for arch in MODELS}
    for d in (32, 64, 128):
        table[f"hdys-{d}d"] = total("hdys", d)
    return table

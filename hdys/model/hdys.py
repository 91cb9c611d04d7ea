"""HDyS: the Homogeneous Dynamics Space (Liu et al., CVPR 2025, §3.3; sizes of §4.2).

* IDAE (inverse dynamics auto-encoder): one encoder per kinematics representation into a shared
  latent space (point-set transformers for markers and keypoints, MLPs for joint angles and SMPL), a
  shared temporal transformer over consecutive frames, one MLP head per dynamics type.
* FDAE (forward dynamics auto-encoder): encoders of kinematics without accelerations and of every
  dynamics type, a shared MLP composer, decoders of keypoint, SMPL and joint-angle accelerations.
* Loss (Eq. 2, 3): alpha_1 * L1 reconstruction (dynamics from every representation, accelerations
  from every kinematics x dynamics pair) + alpha_2 * InfoNCE between every pair of latents of the same
  frame in the batch.

Batch contract (built by ``hdys.data.collate``), B windows of T frames, all values normalised::

    batch["kin"][rep] = {"x": (n, T, P, F) points or (n, T, F), "valid": (n, T, P) points only,
                         "idx": (n,) window indices}
    batch["dyn"][dyn] = {"y": (n, T, C), "valid": (n, T, C) bool, "idx": (n,)}

Kinematics features are [x, ẋ, ẍ] along the last axis (F = 9 per point, 3x23 angles, 3x75 SMPL).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import DEFAULT_CORR_MIN_STD, ModelConfig
from .blocks import MLP, PointSetEncoder, TemporalRefiner

POINT_REPS = ("markers", "keypoints")
VECTOR_DIMS = {"joint_angles": 23, "smpl": 75}  # per-frame size of x (features are 3x that)
FIXED_DYN_DIMS = {"torque_rajagopal": 17, "torque_smpl": 69, "grf": 6}
ACC_DECODED = ("keypoints", "smpl", "joint_angles")  # marker accelerations are not decoded (paper)


def dynamics_dims(cfg: ModelConfig) -> dict[str, int]:
    dims = dict(FIXED_DYN_DIMS)
    if cfg.muscle_names:
        dims["muscle_activation"] = len(cfg.muscle_names)
    if cfg.emg_names:
        dims["emg"] = len(cfg.emg_names)
    return dims


def common(idx_a: torch.Tensor, idx_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions in idx_a and idx_b of the window indices both contain: (m,), (m,)."""
    match = idx_a[:, None] == idx_b[None, :]  # (na, nb)
    ia, ib = match.nonzero(as_tuple=True)
    return ia, ib


class HDyS(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        D = cfg.latent_dim
        hid = list(cfg.encoder_hidden)
        self.dyn_dims = dynamics_dims(cfg)

        def point(in_dim: int) -> PointSetEncoder:
            return PointSetEncoder(in_dim, D, cfg.point_layers, cfg.point_heads)

        # IDAE: kinematics (x, ẋ, ẍ) -> z
        self.encoders = nn.ModuleDict({r: point(9) for r in POINT_REPS})
        self.encoders.update({r: MLP([3 * n, *hid, D]) for r, n in VECTOR_DIMS.items()})
        self.temporal = TemporalRefiner(D, cfg.temporal_layers, cfg.temporal_heads, cfg.max_window) \
            if cfg.use_temporal else None
        self.heads = nn.ModuleDict({d: MLP([D, cfg.head_hidden[d], n]) for d, n in self.dyn_dims.items()})

        # FDAE: kinematics without accelerations (x, ẋ) and dynamics -> z_kin^dyn -> accelerations
        if cfg.use_fdae:
            self.fd_encoders = nn.ModuleDict({r: point(6) for r in POINT_REPS})
            self.fd_encoders.update({r: MLP([2 * n, *hid, D]) for r, n in VECTOR_DIMS.items()})
            self.dyn_encoders = nn.ModuleDict({d: MLP([2 * n, *hid, D]) for d, n in self.dyn_dims.items()})
            self.composer = MLP([2 * D, 2 * D, D])
            self.acc_decoders = nn.ModuleDict({
                "keypoints": MLP([2 * D, cfg.head_hidden["keypoints_acc"], 3]),
                "smpl": MLP([D, cfg.head_hidden["smpl_acc"], 75]),
                "joint_angles": MLP([D, cfg.head_hidden["joint_angles_acc"], 23]),
            })

    # ---------------------------------------------------------------------------------------------
    # inverse dynamics

    def _encode(self, encoders: nn.ModuleDict, rep: str, x: torch.Tensor, valid: torch.Tensor | None,
                tokens: bool = False):
        """x (n, T, P, F) or (n, T, F) -> z (n, T, D) and, with ``tokens``, the point tokens (n, T, P, D)
        (else None: the point encoder then skips work only the tokens need)."""
        n, T = x.shape[:2]
        if rep in POINT_REPS:
            z, tok = encoders[rep](x.flatten(0, 1), valid.flatten(0, 1), tokens)  # (n*T, D), (n*T, P, D)
            return z.view(n, T, -1), (tok.view(n, T, x.shape[2], -1) if tokens else None)
        return encoders[rep](x), None  # (n, T, D)

    def encode(self, batch: dict) -> dict[str, torch.Tensor]:
        """IDAE latents per kinematics representation: {rep: (n, T, D)}."""
        return {rep: self._encode(self.encoders, rep, k["x"], k.get("valid"))[0] for rep, k in batch["kin"].items()}

    def decode(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-frame dynamics from latents (n, T, D): {dyn: (n, T, C)} (normalised units)."""
        h = self.temporal(z) if self.temporal is not None else z  # (n, T, D)
        return {d: head(h) for d, head in self.heads.items()}

    @torch.no_grad()
    def infer(self, batch: dict) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, torch.Tensor]]:
        """Predictions {rep: {dyn: (n, T, C)}} for every representation in the batch and every dynamics
        head, and the latents {rep: (n, T, D)}. This is the inference contract every model implements."""
        z = self.encode(batch)
        return {rep: self.decode(zr) for rep, zr in z.items()}, z

    def predict(self, batch: dict) -> dict[str, dict[str, torch.Tensor]]:
        return self.infer(batch)[0]

    # ---------------------------------------------------------------------------------------------
    # training

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.cfg
        logs: dict[str, float] = {}
        recon_terms: list[tuple[str, torch.Tensor]] = []  # (group, term): groups share weight when balanced
        latents: list[tuple] = []  # (idx (n,), z (n, T/stride, D), frame stride)

        z_kin = self.encode(batch)
        latents += [(batch["kin"][rep]["idx"], z, 1) for rep, z in z_kin.items()]
        recon_terms += reconstruction_terms({rep: self.decode(z) for rep, z in z_kin.items()}, batch, logs,
                                            cfg.corr_weight, cfg.corr_min_std)

        if cfg.use_fdae:
            recon_terms += self._forward_dynamics(batch, latents, logs)

        recon = combine_terms(recon_terms, cfg.loss_balance) if recon_terms else z_kin_sum_zero(z_kin)
        loss = cfg.alpha_recon * recon
        logs["recon"] = float(recon.detach())
        if cfg.use_align and len(latents) > 1:
            align = self._align(latents)
            loss = loss + cfg.alpha_align * align
            logs["align"] = float(align.detach())
        logs["loss"] = float(loss.detach())
        return loss, logs

    def _forward_dynamics(self, batch: dict, latents: list, logs: dict) -> list[tuple[str, torch.Tensor]]:
        terms: list[tuple[str, torch.Tensor]] = []
        s = self.cfg.fd_frame_stride  # the FDAE has no temporal context: a frame subset is an unbiased sample
        z_dyn = {}
        for dyn, t in batch["dyn"].items():
            if dyn in self.dyn_encoders:
                valid = t["valid"][:, ::s].to(t["y"].dtype)
                z_dyn[dyn] = (t["idx"], self.dyn_encoders[dyn](torch.cat([t["y"][:, ::s] * valid, valid], -1)))
        if not z_dyn:
            return terms
        for rep, k in batch["kin"].items():
            x = k["x"][:, ::s]  # (n, T', ...)
            valid_pts = k["valid"][:, ::s] if "valid" in k else None
            x_noacc = x[..., :6] if rep in POINT_REPS else x[..., : 2 * VECTOR_DIMS[rep]]
            # the keypoints' accelerations are decoded per point token (markers' are not decoded)
            z_fd, tokens = self._encode(self.fd_encoders, rep, x_noacc, valid_pts, rep == "keypoints")  # (n, T', D)
            for dyn, (d_idx, zd) in z_dyn.items():
                ia, ib = common(k["idx"], d_idx)
                if len(ia) == 0:
                    continue
                z = self.composer(torch.cat([z_fd[ia], zd[ib]], -1))  # (m, T, D)
                latents.append((k["idx"][ia], z, s))
                if rep not in ACC_DECODED:
                    continue
                if rep == "keypoints":
                    tok = tokens[ia]  # (m, T, P, D)
                    inp = torch.cat([z[:, :, None].expand(-1, -1, tok.shape[2], -1), tok], -1)
                    acc = self.acc_decoders[rep](inp)  # (m, T, P, 3)
                    term = _masked_l1(acc, x[ia][..., 6:9], valid_pts[ia][..., None].expand_as(acc))
                else:
                    n = VECTOR_DIMS[rep]
                    acc = self.acc_decoders[rep](z)  # (m, T, n)
                    term = _masked_l1(acc, x[ia][..., 2 * n:], None)
                if term is not None:
                    terms.append((f"fd/{rep}", term))
                    logs[f"fd/{rep}+{dyn}"] = float(term.detach())
        return terms

    def _align(self, latents: list[tuple]) -> torch.Tensor:
        """Eq. 3: InfoNCE between every pair of latents, positives = the same frame of the same window, the
        negatives the pair's other frames. All pairs at once: every latent is put on one frame grid of the
        batch (every ``fd_frame_stride``-th frame, thinned to at most ``align_max_frames`` frames in all),
        and a pair's terms run over the frames of the windows both latents have. One batched product
        instead of one small one per pair (~130 pairs in a step of five datasets)."""
        stride = max(s for _, _, s in latents)  # 1 or fd_frame_stride: every latent on the coarsest grid
        windows = 1 + max(int(idx.max()) for idx, _, _ in latents)
        frames = -(-latents[0][1].shape[1] * latents[0][2] // stride)  # grid frames per window
        thin = max(1, -(-windows * frames // self.cfg.align_max_frames))
        grid, present = [], []
        for idx, z, s in latents:
            z = F.normalize(z[:, :: stride // s][:, ::thin].float(), dim=-1)  # (n, T', D)
            grid.append(z.new_zeros((windows, *z.shape[1:])).index_copy(0, idx, z))
            present.append(torch.zeros(windows, dtype=torch.bool, device=z.device).index_fill(0, idx, True))
        Z = torch.stack(grid).flatten(1, 2)  # (K, F, D), F = windows x T'
        have = torch.stack(present)[:, :, None].expand(-1, -1, grid[0].shape[1]).flatten(1)  # (K, F)
        a, b = torch.triu_indices(len(latents), len(latents), 1, device=Z.device)
        both = have[a] & have[b]  # (P, F): the frames of the pair's common windows
        count = both.sum(1)
        keep = count >= 2
        if not bool(keep.any()):
            return latents[0][1].sum() * 0.0
        a, b, both, count = a[keep], b[keep], both[keep], count[keep].to(Z.dtype)
        # index_select, not Z[a]: a latent repeats in a, and the backward of a repeated advanced index sums in
        # a thread-dependent order on the CPU (training would not be reproducible); index_select's does not
        logits = Z.index_select(0, a) @ Z.index_select(0, b).transpose(1, 2) / self.cfg.temperature  # (P, F, F)
        pair = both[:, :, None] & both[:, None, :]
        logits = logits.masked_fill(~pair, -1e4)  # |logits| <= 1 / temperature: -1e4 is exp() = 0
        rows = logits.log_softmax(2).diagonal(dim1=1, dim2=2)  # (P, F): z_a frame i against every z_b frame
        cols = logits.log_softmax(1).diagonal(dim1=1, dim2=2)  # z_b frame i against every z_a frame
        per_pair = -((rows + cols) * both).sum(1) / (2 * count)
        return per_pair.mean()


# the dynamics judged by their correlation with the reference (PCC) besides their error
CORRELATED = ("muscle_activation", "emg")


def reconstruction_terms(preds: dict[str, dict[str, torch.Tensor]], batch: dict, logs: dict, corr_weight: float = 0.0,
                         corr_min_std: float = DEFAULT_CORR_MIN_STD) -> list[tuple[str, torch.Tensor]]:
    """Eq. 2, dynamics part: masked L1 between each representation's predictions {rep: {dyn: (n, T, C)}}
    and every dynamics target of the same windows, as (dynamics type, term); each term is also logged
    as ``id/<rep>-><dyn>``. With ``corr_weight`` the terms of :data:`CORRELATED` dynamics add
    ``corr_weight * (1 - r)`` over the pairs whose reference std reaches ``corr_min_std`` (see
    :func:`_masked_decorrelation`)."""
    terms = []
    for rep, rep_preds in preds.items():
        idx = batch["kin"][rep]["idx"]
        for dyn, target in batch["dyn"].items():
            if dyn not in rep_preds:
                continue
            ia, ib = common(idx, target["idx"])
            if len(ia) == 0:
                continue
            term = _masked_l1(rep_preds[dyn][ia], target["y"][ib], target["valid"][ib])
            if term is not None:
                logs[f"id/{rep}->{dyn}"] = float(term.detach())
                if corr_weight and dyn in CORRELATED:
                    decor = _masked_decorrelation(rep_preds[dyn][ia], target["y"][ib], target["valid"][ib],
                                                  corr_min_std)
                    if decor is not None:
                        term = term + corr_weight * decor
                        logs[f"corr/{rep}->{dyn}"] = float(1.0 - decor.detach())
                terms.append((dyn, term))
    return terms


def combine_terms(terms: list[tuple[str, torch.Tensor]], balance: str) -> torch.Tensor:
    """The reconstruction loss from (group, term) pairs: the plain sum (paper Eq. 2), or with
    ``balance="dynamics"`` the same total weight (one per term) shared equally by the groups."""
    if balance == "sum":
        return torch.stack([t for _, t in terms]).sum()
    groups: dict[str, list[torch.Tensor]] = {}
    for g, t in terms:
        groups.setdefault(g, []).append(t)
    per_group = torch.stack([torch.stack(ts).mean() for ts in groups.values()])
    return per_group.mean() * len(terms)


def z_kin_sum_zero(z_kin: dict[str, torch.Tensor]) -> torch.Tensor:
    """A zero that keeps the graph connected (every parameter in use gets a gradient of 0)."""
    return sum(z.sum() for z in z_kin.values()) * 0.0


def _masked_l1(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor | None:
    pred = pred.float()  # bfloat16 under autocast: the loss in float32
    if valid is None:
        return (pred - target).abs().mean()
    count = valid.sum()
    if count == 0:
        return None
    return ((pred - target).abs() * valid).sum() / count


def _masked_decorrelation(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                          min_std: float = DEFAULT_CORR_MIN_STD) -> torch.Tensor | None:
    """Mean of 1 - r over the (window, channel) pairs of (n, T, C) arrays, r Pearson's correlation over the
    valid frames; pairs whose target barely moves (std below ``min_std`` normalised units: a resting
    muscle, where r would fit label noise) or with fewer than 3 valid frames are left out (None if all are)."""
    pred = pred.float()
    w = valid.to(pred.dtype)
    n = w.sum(1)  # (n, C)
    safe = n.clamp(min=1.0)
    dp = (pred - ((pred * w).sum(1) / safe)[:, None]) * w
    dt = (target - ((target * w).sum(1) / safe)[:, None]) * w
    # clamped before the square root: a prediction constant over a window (the mean predictor) has a zero
    # spread, and the gradient of sqrt at 0 is infinite (NaN once multiplied by the zero deviations)
    sp = (dp.square().sum(1) / safe).clamp_min(1e-12).sqrt()
    st = (dt.square().sum(1) / safe).sqrt()
    use = (n >= 3) & (st > min_std)
    if not bool(use.any()):
        return None
    r = (dp * dt).sum(1) / safe / (sp * st + 1e-6)
    return (1.0 - r)[use].mean()


def parameter_counts(model: HDyS) -> dict[str, int]:
    """Parameters per top-level module, in registration order."""
    return {name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()}

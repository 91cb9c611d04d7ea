"""From corpus windows to model batches: normalisation, collation, the balanced sampler, and
sequence-level inference (sliding windows).

Legend: B windows, T frames per window, P points, C channels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .features import (FEATURE_VERSION, RunningStats, WindowFeatures, rotate_xy, smooth_jittery_points,
                       window_features, window_span)
from .schema import Sequence

KIN_FEATURE_DIMS = {"markers": 9, "keypoints": 9, "joint_angles": 69, "smpl": 225}
FIXED_DYN = {"torque_rajagopal": 17, "torque_smpl": 69, "grf": 6}
CHANNEL_DYN = {"muscle_activation": "muscle_names", "emg": "emg_names"}


def channel_vocabulary(stats: dict[str, RunningStats], dyn: str) -> list[str]:
    """Channel names seen in the training statistics for ``dyn`` (muscle_activation or emg), sorted."""
    prefix = dyn + "/"
    return sorted(k[len(prefix):] for k in stats if k.startswith(prefix))


@dataclass
class Normalizer:
    """Per-channel mean and std of every feature group; saved with each checkpoint as JSON, with the
    ``features.FEATURE_VERSION`` its statistics were computed by (None: a run written before it was recorded)."""

    mean: dict[str, np.ndarray]
    std: dict[str, np.ndarray]
    feature_version: int | None = FEATURE_VERSION

    @classmethod
    def from_stats(cls, stats: dict[str, RunningStats], muscle_names: list[str], emg_names: list[str]) -> "Normalizer":
        mean, std = {}, {}
        sizes = {**KIN_FEATURE_DIMS, **FIXED_DYN}
        for key, n in sizes.items():
            if key in stats:  # kinematics: [x, ẋ, ẍ] blocks, each floored on its own
                mean[key], std[key] = stats[key].mean_std(blocks=3 if key in KIN_FEATURE_DIMS else 1)
            else:  # representation absent from the training data: identity
                mean[key], std[key] = np.zeros(n, np.float32), np.ones(n, np.float32)
        for dyn, names in (("muscle_activation", muscle_names), ("emg", emg_names)):
            ms = [stats[f"{dyn}/{n}"].mean_std() for n in names]
            mean[dyn] = np.array([m[0][0] for m in ms], np.float32)
            std[dyn] = np.array([m[1][0] for m in ms], np.float32)
        return cls(mean, std)

    def to_json(self) -> dict:
        return {"feature_version": self.feature_version,
                **{k: {"mean": self.mean[k].tolist(), "std": self.std[k].tolist()} for k in self.mean}}

    @classmethod
    def from_json(cls, d: dict) -> "Normalizer":
        groups = {k: v for k, v in d.items() if k != "feature_version"}
        return cls({k: np.asarray(v["mean"], np.float32) for k, v in groups.items()},
                   {k: np.asarray(v["std"], np.float32) for k, v in groups.items()}, d.get("feature_version"))

    def __call__(self, key: str, x: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        m, s = self.mean[key], self.std[key]
        if cols is not None:
            m, s = m[cols], s[cols]
        return (x - m) / s

    def inverse(self, key: str, y: np.ndarray) -> np.ndarray:
        return y * self.std[key] + self.mean[key]


def _pad_time(x: np.ndarray, T: int) -> np.ndarray:
    """Repeat the last frame so that x has T frames."""
    if x.shape[0] == T:
        return x
    return np.concatenate([x, np.repeat(x[-1:], T - x.shape[0], axis=0)], axis=0)


def collate(windows: list[WindowFeatures], norm: Normalizer, vocab: dict[str, list[str]],
            T: int, device: torch.device | str = "cpu") -> dict:
    """Batch of normalised tensors following the contract in ``hdys.model.hdys``.

    Windows shorter than T (short sequences) are padded by repeating their last frame; padded frames
    carry no dynamics target. NaN targets (missing labels) are zeroed and marked invalid.
    """
    kin: dict[str, dict[str, list]] = {}
    dyn: dict[str, dict[str, list]] = {}
    index = {d: {n: i for i, n in enumerate(names)} for d, names in vocab.items()}
    for b, w in enumerate(windows):
        length = next(iter(w.kin.values())).shape[0] if w.kin else T
        frame_ok = np.arange(T) < length
        for rep, x in w.kin.items():
            entry = kin.setdefault(rep, {"x": [], "valid": [], "idx": []})
            entry["x"].append(_pad_time(norm(rep, x), T))
            if rep in w.point_mask:
                entry["valid"].append(_pad_time(w.point_mask[rep], T))
            entry["idx"].append(b)
        for d, y in w.dyn.items():
            if d in CHANNEL_DYN:
                if d not in index:
                    continue
                cols = np.array([index[d].get(n, -1) for n in w.channel_names[d]])
                keep = cols >= 0
                if not keep.any():
                    continue
                full = np.zeros((y.shape[0], len(vocab[d])), np.float32)
                full[:] = np.nan
                full[:, cols[keep]] = y[:, keep]
                y = full
            yn = _pad_time(norm(d, y), T)
            valid = np.isfinite(yn) & frame_ok[:, None]
            entry = dyn.setdefault(d, {"y": [], "valid": [], "idx": []})
            entry["y"].append(np.where(valid, yn, 0.0))
            entry["valid"].append(valid)
            entry["idx"].append(b)
    batch: dict = {"B": len(windows), "T": T, "kin": {}, "dyn": {}}
    for rep, e in kin.items():
        out = {"idx": torch.tensor(e["idx"], dtype=torch.long, device=device)}
        if e["valid"]:
            P = max(v.shape[1] for v in e["valid"])
            out["x"] = torch.from_numpy(np.stack([_pad_points(x, P, 0.0) for x in e["x"]])).float().to(device)
            out["valid"] = torch.from_numpy(np.stack([_pad_points(v, P, False) for v in e["valid"]])).to(device)
        else:
            out["x"] = torch.from_numpy(np.stack(e["x"])).float().to(device)
        batch["kin"][rep] = out
    for d, e in dyn.items():
        batch["dyn"][d] = {"y": torch.from_numpy(np.stack(e["y"])).float().to(device),
                           "valid": torch.from_numpy(np.stack(e["valid"])).to(device),
                           "idx": torch.tensor(e["idx"], dtype=torch.long, device=device)}
    return batch


def _pad_points(x: np.ndarray, P: int, fill) -> np.ndarray:
    if x.shape[1] == P:
        return x
    pad = np.full((x.shape[0], P - x.shape[1], *x.shape[2:]), fill, dtype=x.dtype)
    return np.concatenate([x, pad], axis=1)


# --------------------------------------------------------------------------------------------------
# balanced sampling (paper §4.2: a fixed number of sequences per dataset per epoch)


def epoch_windows(entries_by_dataset: dict[str, list], window: int, per_dataset: int, seed: int,
                  epoch: int, shares: dict[str, float] | None = None,
                  stratified: bool = False) -> list[tuple[str, int]]:
    """The (sequence_id, start) windows of one epoch: ``per_dataset x shares[d]`` sequences drawn from
    every dataset d (share 1 where not given: the paper's balanced sampling), without replacement
    while possible, one random window each. Deterministic in (seed, epoch), independent of the
    process that asks.

    Order: shuffled, or with ``stratified`` interleaved so that every run of consecutive windows holds
    each dataset in proportion to its count (window i of a dataset's n sits at (i + u) / n of the epoch,
    u drawn once per dataset and epoch): every batch cut from it has every dataset in fixed shares."""
    rng = np.random.default_rng([seed, epoch])
    shares = shares or {}
    out: list[tuple[str, int]] = []
    position: list[float] = []
    for name in sorted(entries_by_dataset):
        entries = sorted(entries_by_dataset[name], key=lambda e: e.sequence_id)
        count = int(round(per_dataset * shares.get(name, 1.0)))
        if not entries or count <= 0:
            continue
        reps, rest = divmod(count, len(entries))
        picks = np.concatenate([np.tile(np.arange(len(entries)), reps),
                                rng.choice(len(entries), size=rest, replace=False)]).astype(int)
        rng.shuffle(picks)
        u = rng.uniform()
        for k, i in enumerate(picks):
            e = entries[i]
            start = int(rng.integers(0, max(1, e.frames - window + 1)))
            out.append((e.sequence_id, start))
            position.append((k + u) / count)
    order = np.argsort(position, kind="stable") if stratified else rng.permutation(len(out))
    return [out[i] for i in order]


def batches(windows: list, windows_per_batch: int) -> list[list]:
    return [windows[i:i + windows_per_batch] for i in range(0, len(windows), windows_per_batch)]


# --------------------------------------------------------------------------------------------------
# sequence-level inference


def window_starts(frames: int, window: int, hop: int | None = None) -> list[int]:
    """Windows every ``hop`` frames (default ``window``: non-overlapping) covering every frame; the last
    one is aligned to the end."""
    hop = hop or window
    if frames <= window:
        return [0]
    starts = list(range(0, frames - window + 1, hop))
    if starts[-1] + window < frames:
        starts.append(frames - window)
    return starts


def blend_weights(length: int) -> np.ndarray:
    """Weights of a window's frames where overlapping windows are averaged: highest at the centre,
    where the temporal transformer sees context on both sides, and small but positive at the edges."""
    t = (np.arange(length) + 0.5) / length
    return (0.05 + np.sin(np.pi * t) ** 2).astype(np.float32)


def predict_sequence(model, seq: Sequence, norm: Normalizer, vocab: dict[str, list[str]], window: int,
                     reps: list[str] | None = None, device="cpu", windows_per_batch: int = 64,
                     overlap: bool = True) -> dict:
    """Dynamics for every frame of ``seq`` from each kinematics representation it has.

    Returns {rep: {dyn: (T, C) array in physical units (N·m, N, activation, EMG units)}}, the GRF rotated
    back to the world frame; torques and GRF are per kg times ``seq.mass_kg`` (left per kg if unknown).
    Also returns latents under the key "_latent": {rep: (T, D)}.

    With ``overlap`` windows start every half window and every frame is the ``blend_weights`` average of
    the windows that hold it, so no frame is predicted only from the edge of a window and the output has
    no jumps where windows meet; without it, windows do not overlap (half the compute).
    """
    seq = smooth_jittery_points(seq)  # as in training (Trainer._read) and in the statistics
    T_all = seq.num_frames
    reps = [r for r in (reps or seq.kinematics) if getattr(seq, r) is not None]
    out: dict = {r: {} for r in reps}
    latents: dict = {}
    starts = window_starts(T_all, window, max(1, window // 2) if overlap else window)

    def features(s: int):
        a, b, before = window_span(T_all, s, window)
        f = window_features(seq.slice(a, b), s, min(window, T_all), before)
        f.kin = {r: v for r, v in f.kin.items() if r in reps}
        f.point_mask = {r: v for r, v in f.point_mask.items() if r in reps}
        f.dyn = {}
        return f

    mass = seq.mass_kg if seq.mass_kg is not None else 1.0
    Tw = min(window, T_all)
    w = blend_weights(Tw)[:, None]
    total = np.zeros((T_all, 1), np.float32)  # summed weights per frame
    for s in starts:
        total[s:s + Tw] += w
    model.eval()
    for i in range(0, len(starts), windows_per_batch):  # features per chunk: memory bounded by the chunk
        chunk = [features(s) for s in starts[i:i + windows_per_batch]]
        batch = collate(chunk, norm, vocab, Tw, device)
        with torch.no_grad():
            all_preds, z = model.infer(batch)
            for rep in reps:
                if rep not in all_preds:  # a model that does not read this representation
                    continue
                preds = all_preds[rep]
                for j, f in enumerate(chunk):
                    sl = slice(f.start, f.start + Tw)
                    if rep in z:
                        if rep not in latents:  # allocated once (setdefault would allocate on every call)
                            latents[rep] = np.zeros((T_all, z[rep].shape[-1]), np.float32)
                        latents[rep][sl] += w * z[rep][j].float().cpu().numpy()
                    for d, y in preds.items():
                        val = norm.inverse(d, y[j].float().cpu().numpy())
                        if d == "grf":
                            h = np.full(Tw, -f.heading)  # rotate back by +heading
                            val = rotate_xy(val.reshape(Tw, 2, 3), h).reshape(Tw, 6)
                        if d in FIXED_DYN:
                            val = val * mass
                        if d not in out[rep]:
                            out[rep][d] = np.zeros((T_all, val.shape[-1]), np.float32)
                        out[rep][d][sl] += w * val
    for rep in reps:
        for d in out[rep]:
            out[rep][d] /= total
    for rep in latents:
        latents[rep] /= total
    out["_latent"] = latents
    return out


def average_over_representations(per_rep: dict) -> dict[str, np.ndarray]:
    """Mean prediction over the representations (the paper's *avg*)."""
    reps = [r for r in per_rep if not r.startswith("_")]
    dyns = set().union(*(per_rep[r].keys() for r in reps)) if reps else set()
    return {d: np.mean([per_rep[r][d] for r in reps if d in per_rep[r]], axis=0) for d in dyns}

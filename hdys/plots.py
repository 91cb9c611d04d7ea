"""Figures (matplotlib, Agg canvas; pyplot's global state and interactive backends are never used)."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _save(fig: Figure, out_png: str | Path) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out_png, dpi=110, format="png")
    return out_png


def pick_channels(target: np.ndarray, max_channels: int) -> list[int]:
    """Indices of the ``max_channels`` channels with the largest target std over time (NaN ignored),
    in their original order; channels without any label come last."""
    t = np.asarray(target, dtype=np.float64).reshape(len(target), -1)
    with np.errstate(all="ignore"):
        finite = np.isfinite(t)
        n = finite.sum(axis=0)
        filled = np.where(finite, t, 0.0)
        mean = filled.sum(axis=0) / np.maximum(n, 1)
        std = np.sqrt((np.where(finite, t - mean, 0.0) ** 2).sum(axis=0) / np.maximum(n, 1))
    std = np.where(n > 0, std, -1.0)
    order = np.argsort(-std, kind="stable")[:max_channels]
    return sorted(int(i) for i in order)


def plot_prediction(out_png: str | Path, time_s, pred, target, channel_names: Sequence[str], title: str,
                    max_channels: int = 6, unit: str = "", channels: Sequence[int] | None = None) -> Path:
    """Predicted vs reference curves, one subplot per channel.

    ``pred``/``target``: (T, ...) flattened to (T, C) channels (``channel_names`` has C entries, e.g.
    ``SMPL_TORQUE_NAMES``). Without ``channels``, the ``max_channels`` channels with the largest
    reference variation are shown. ``unit`` labels the y axes (e.g. "N m"); NaN shows as a gap.
    """
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} does not match target shape {t.shape}")
    p = p.reshape(len(p), -1)
    t = t.reshape(len(t), -1)
    time = np.asarray(time_s, dtype=np.float64)
    if time.shape != (len(t),):
        raise ValueError(f"time_s has shape {time.shape}, expected ({len(t)},)")
    names = list(channel_names)
    if len(names) != t.shape[1]:
        raise ValueError(f"{len(names)} channel names for {t.shape[1]} channels")
    idx = list(channels) if channels is not None else pick_channels(t, max(1, max_channels))
    fig = Figure(figsize=(8.0, 1.8 * len(idx) + 0.8))
    axes = fig.subplots(len(idx), 1, sharex=True, squeeze=False)[:, 0]
    ylabel = f"[{unit}]" if unit else "value"
    for ax, c in zip(axes, idx):
        ax.plot(time, t[:, c], color="black", lw=1.2, label="reference")
        ax.plot(time, p[:, c], color="tab:red", lw=1.0, ls="--", label="predicted")
        ax.set_title(names[c], fontsize=9, loc="left")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper right")
    axes[-1].set_xlabel("time [s]")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, out_png)


def plot_training_curve(out_png: str | Path, steps, losses: Sequence[float] | Mapping[str, Sequence[float]],
                        title: str, ylabel: str = "loss") -> Path:
    """Loss against optimisation step; ``losses`` is one series or ``{name: series}`` (same length as
    ``steps``). The y axis is logarithmic when every value is positive."""
    series = dict(losses) if isinstance(losses, Mapping) else {ylabel: losses}
    x = np.asarray(steps, dtype=np.float64)
    fig = Figure(figsize=(6.4, 4.0))
    ax = fig.subplots()
    all_positive = True
    for name, values in series.items():
        y = np.asarray(values, dtype=np.float64)
        if y.shape != x.shape:
            raise ValueError(f"series {name!r} has shape {y.shape}, steps have {x.shape}")
        finite = y[np.isfinite(y)]
        all_positive &= bool(finite.size) and bool((finite > 0).all())
        ax.plot(x, y, lw=1.0, label=name)
    if all_positive:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    if len(series) > 1:
        ax.legend()
    fig.tight_layout()
    return _save(fig, out_png)

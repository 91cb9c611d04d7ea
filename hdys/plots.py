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


# muscle families for pages of muscle plots (myo-sim / Rajagopal 2015 names, either side)
MUSCLE_GROUPS = (("gluteals", r"^gl(max|med|min)"), ("hip flexors", r"^(iliacus|psoas|sart|tfl|recfem)"),
                 ("adductors", r"^(add|grac|pect)"), ("hip rotators", r"^(gem|pir|quad|obt|peri)"),
                 ("hamstrings", r"^(bf|semi)"), ("vasti", r"^vas"), ("calf", r"^(gas|soleus|lat_?gas|med_?gas)"),
                 ("shin and foot", r"^(tib|per|ext|flex|fd|fh|ed|eh)"))


def channel_pages(names: Sequence[str], per_page: int = 12, groups: bool = False) -> list[tuple[str, list[int]]]:
    """(page title, channel indices): consecutive pages of ``per_page``, or muscle families (each split
    into pages of ``per_page``) with ``groups``."""
    import re
    if not groups:
        return [(f"{i + 1}-{min(i + per_page, len(names))}", list(range(i, min(i + per_page, len(names)))))
                for i in range(0, len(names), per_page)]
    pages, used = [], set()
    for title, pattern in (*MUSCLE_GROUPS, ("other", "")):
        idx = [i for i, n in enumerate(names) if i not in used and (not pattern or re.search(pattern, n.lower()))]
        used.update(idx)
        for k in range(0, len(idx), per_page):
            pages.append((title + (f" ({k // per_page + 1})" if len(idx) > per_page else ""), idx[k:k + per_page]))
    return pages


def plot_dynamics(out_png: str | Path, time_s, pred, channel_names: Sequence[str], title: str, unit: str,
                  reference=None, per_page: int = 18) -> list[Path]:
    """Every channel of one predicted dynamics type over time, in a grid, one PNG per page of
    ``per_page`` channels (muscles paged by family); with ``reference`` (same shape, NaN where
    unknown) the reference is drawn too and each title carries the RMSE. Returns the PNGs written."""
    p = np.asarray(pred, np.float64).reshape(len(pred), -1)
    r = None if reference is None else np.asarray(reference, np.float64).reshape(len(p), -1)
    names = list(channel_names)
    if len(names) != p.shape[1]:
        raise ValueError(f"{len(names)} channel names for {p.shape[1]} channels")
    time = np.asarray(time_s, np.float64)
    pages = channel_pages(names, per_page, groups=len(names) > 2 * per_page)
    out_png = Path(out_png)
    written = []
    for k, (page, idx) in enumerate(pages):
        cols = 3 if len(idx) > 4 else 1
        rows = -(-len(idx) // cols)
        fig = Figure(figsize=(4.2 * cols, 1.7 * rows + 0.9))
        axes = fig.subplots(rows, cols, sharex=True, squeeze=False).reshape(-1)
        for ax, c in zip(axes, idx):
            label = names[c]
            if r is not None and np.isfinite(r[:, c]).any():
                ax.plot(time, r[:, c], color="black", lw=1.1, label="reference")
                ok = np.isfinite(r[:, c])
                label += f"  RMSE {np.sqrt(np.mean((p[ok, c] - r[ok, c]) ** 2)):.3g}"
            ax.plot(time, p[:, c], color="tab:red", lw=1.0, label="predicted")
            ax.set_title(label, fontsize=8, loc="left")
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in axes[len(idx):]:
            ax.set_visible(False)
        axes[0].legend(fontsize=7, loc="upper right")
        for ax in axes[-cols:]:
            ax.set_xlabel("time [s]", fontsize=8)
        head = f"{title} [{unit}]" + (f", channels {page}" if len(pages) > 1 else "")
        if r is not None and np.isfinite(r).any():
            ok = np.isfinite(r)
            head += f"; RMSE over all channels {np.sqrt(np.mean((p[ok] - r[ok]) ** 2)):.3g} {unit}"
        fig.suptitle(head, fontsize=9)
        fig.tight_layout()
        name = out_png if len(pages) == 1 else out_png.with_name(f"{out_png.stem}_{k + 1:02d}{out_png.suffix}")
        written.append(_save(fig, name))
    return written

"""Evaluation metrics (pure numpy, float64 accumulation).

Definitions (paper Eq. 4 / 5 and the public reference code, see
``shared/reference/dataset-formats-and-metrics.md`` §2.6, §4.1, §4.2):

* ``mpje``: mean per-joint error, Eq. 4. Per joint the L2 norm of the error vector
  (``joint_dim=3``: SMPL torques (T, 69) -> (T, 23, 3), GRF (T, 2, 3) -> 2 feet; ``joint_dim=1``:
  Rajagopal DoFs (T, 17), i.e. absolute error), averaged over joints and frames and divided by body
  mass -> N m/kg for torques, N/kg for GRF. GRF is *not* contact-gated (ImDy's ``MSE_grf`` is).
* ``mpje_components``: ImDy code variant (``mix_metric`` ``tau_imdy``): mean |delta| / mass over all
  scalar components (no vector norm).
* ``rmse``: sqrt(mean squared error) over all valid (frame, channel) values, in the array's own unit
  (Muscles in Action / MinT definition). No mass normalisation.
* ``pcc``: Pearson correlation per non-overlapping window and per channel over time, mean over
  channels, then over windows (MinT benchmark notebook). See ``pcc`` for the one deliberate
  difference (denominator) and the rules for skipped channels.

Missing labels: NaN in ``target`` marks a missing value; such values are excluded. A boolean
``mask`` (True = valid) broadcastable to ``target.shape`` may also be given, e.g. shape (C,) for a
channel mask or (T, 1) for a frame mask. For ``mpje`` a joint-frame counts only if all of its
``joint_dim`` components are valid. A non-finite *prediction* at a valid position raises
``ValueError`` (a diverged model must not silently produce a NaN metric).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

# Metric names.
MPJE = "mPJE"
MPJE_COMPONENTS = "mPJE_components"
MPJE_LEFT = "mPJE_left"  # GRF per foot (paper Table 4: L-Foot / R-Foot mPJE)
MPJE_RIGHT = "mPJE_right"
RMSE = "RMSE"
PCC = "PCC"

# Which metrics are computed for which dynamics representation (schema ``Dynamics`` values).
METRICS_FOR: dict[str, tuple[str, ...]] = {
    "torque_rajagopal": (MPJE, RMSE),
    "torque_smpl": (MPJE, MPJE_COMPONENTS, RMSE),
    "grf": (MPJE, MPJE_LEFT, MPJE_RIGHT),
    "muscle_activation": (RMSE, PCC),
    "emg": (RMSE, PCC),
}
# Headline metrics (the paper's Table 1 columns) per dynamics representation.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "torque_rajagopal": (MPJE,),
    "torque_smpl": (MPJE,),
    "grf": (MPJE,),
    "muscle_activation": (RMSE, PCC),
    "emg": (RMSE, PCC),
}
LOWER_IS_BETTER: dict[str, bool] = {
    MPJE: True, MPJE_COMPONENTS: True, MPJE_LEFT: True, MPJE_RIGHT: True, RMSE: True, PCC: False,
}
# Components per joint for mPJE.
JOINT_DIM: dict[str, int] = {"torque_rajagopal": 1, "torque_smpl": 3, "grf": 3}
# Units of each (dynamics, metric).
UNITS: dict[tuple[str, str], str] = {
    ("torque_rajagopal", MPJE): "N m/kg", ("torque_rajagopal", RMSE): "N m",
    ("torque_smpl", MPJE): "N m/kg", ("torque_smpl", MPJE_COMPONENTS): "N m/kg", ("torque_smpl", RMSE): "N m",
    ("grf", MPJE): "N/kg", ("grf", MPJE_LEFT): "N/kg", ("grf", MPJE_RIGHT): "N/kg",
    ("muscle_activation", RMSE): "1", ("muscle_activation", PCC): "1",
    ("emg", RMSE): "envelope units", ("emg", PCC): "1",
}
AVG = "avg"  # representation name under which the caller passes the averaged prediction
BEST = "best"  # added by MetricAccumulator.result: the dataset's best single representation (paper's *bst*)
DEFAULT_PCC_WINDOW = 64  # MinT benchmark default window (frames)


# --------------------------------------------------------------------------------------------------
# helpers


def _prepare(pred, target, mask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float64 copies of pred/target and the boolean validity mask (target finite & mask)."""
    p = np.asarray(pred, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if p.shape != t.shape:
        raise ValueError(f"prediction shape {p.shape} does not match target shape {t.shape}")
    if t.ndim < 1:
        raise ValueError("expected arrays with a leading time axis, got scalars")
    valid = np.isfinite(t)
    if mask is not None:
        m = np.asarray(mask, dtype=bool)
        try:
            valid &= np.broadcast_to(m, t.shape)
        except ValueError:
            raise ValueError(f"mask shape {m.shape} does not broadcast to target shape {t.shape}") from None
    bad = valid & ~np.isfinite(p)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"prediction is not finite at a labelled position (first at index {first})")
    return p, t, valid


def _check_mass(mass_kg) -> float:
    mass = float(mass_kg)
    if not np.isfinite(mass) or mass <= 0:
        raise ValueError(f"expected a positive body mass in kg, got {mass_kg!r}")
    return mass


def _ratio(total: float, count: float) -> float:
    return float(total / count) if count > 0 else float("nan")


# --------------------------------------------------------------------------------------------------
# sums and counts (what the accumulator adds up)


def mpje_stats(pred, target, mass_kg, joint_dim: int, mask=None) -> tuple[float, int]:
    """(sum over valid joint-frames of ||error|| / mass, number of valid joint-frames)."""
    p, t, valid = _prepare(pred, target, mask)
    mass = _check_mass(mass_kg)
    n_frames = t.shape[0]
    width = int(np.prod(t.shape[1:], dtype=np.int64))
    if joint_dim < 1 or width % joint_dim:
        raise ValueError(f"{width} values per frame cannot be split into joints of {joint_dim} components")
    err = np.where(valid, p - t, 0.0).reshape(n_frames, -1, joint_dim)
    ok = valid.reshape(n_frames, -1, joint_dim).all(axis=2)
    norms = np.sqrt(np.einsum("tjd,tjd->tj", err, err))
    return float(norms[ok].sum() / mass), int(ok.sum())


def abs_stats(pred, target, mass_kg=1.0, mask=None) -> tuple[float, int]:
    """(sum over valid components of |error| / mass, number of valid components)."""
    p, t, valid = _prepare(pred, target, mask)
    mass = _check_mass(mass_kg)
    return float(np.abs(p - t)[valid].sum() / mass), int(valid.sum())


def sq_stats(pred, target, mask=None) -> tuple[float, int]:
    """(sum of squared errors over valid values, number of valid values)."""
    p, t, valid = _prepare(pred, target, mask)
    d = (p - t)[valid]
    return float(np.dot(d, d)), int(valid.sum())


def window_bounds(n_frames: int, window: int) -> list[tuple[int, int]]:
    """Non-overlapping ``[start, stop)`` windows; the last partial window is dropped unless the
    sequence is shorter than one window, in which case the whole sequence is one window."""
    if window < 2:
        raise ValueError(f"PCC window must be at least 2 frames, got {window}")
    if n_frames < window:
        return [(0, n_frames)] if n_frames > 0 else []
    return [(s, s + window) for s in range(0, n_frames - window + 1, window)]


def pcc_windows(pred, target, window: int, mask=None, *, mint_denominator: bool = False) -> np.ndarray:
    """Per-window PCC (mean over the valid channels of that window); windows without a valid channel
    are left out. See ``pcc`` for the definition."""
    p, t, valid = _prepare(pred, target, mask)
    n_frames = t.shape[0]
    p = p.reshape(n_frames, -1)
    t = t.reshape(n_frames, -1)
    valid = valid.reshape(n_frames, -1)
    bounds = window_bounds(n_frames, window)
    if not bounds:
        return np.zeros(0, dtype=np.float64)
    stop = bounds[-1][1]
    size = bounds[0][1] - bounds[0][0]
    # (W, window, C) stacks of the windows (they are contiguous and equally long)
    x = p[:stop].reshape(len(bounds), size, -1)
    y = t[:stop].reshape(len(bounds), size, -1)
    m = valid[:stop].reshape(len(bounds), size, -1)
    n = m.sum(axis=1).astype(np.float64)  # valid frames per (window, channel)
    safe_n = np.maximum(n, 1.0)
    x = np.where(m, x, 0.0)
    y = np.where(m, y, 0.0)
    dx = np.where(m, x - (x.sum(axis=1) / safe_n)[:, None], 0.0)
    dy = np.where(m, y - (y.sum(axis=1) / safe_n)[:, None], 0.0)
    sx = np.sqrt((dx * dx).sum(axis=1) / safe_n)  # population std
    sy = np.sqrt((dy * dy).sum(axis=1) / safe_n)
    denom = np.maximum(n - 1.0, 1.0) if mint_denominator else safe_n
    corr = (dx * dy).sum(axis=1) / ((sx + 1e-8) * (sy + 1e-8)) / denom  # = sum_t(zx * zy) / denom
    constant = sy <= 1e-8 * np.abs(y).max(axis=1)  # also true for an all-zero channel
    use = (n >= 2) & ~constant
    n_use = use.sum(axis=1)
    per_window = np.where(use, corr, 0.0).sum(axis=1) / np.maximum(n_use, 1)
    return per_window[n_use > 0].astype(np.float64)


# --------------------------------------------------------------------------------------------------
# single-sequence metrics


def mpje(pred, target, mass_kg, joint_dim: int, mask=None) -> float:
    """Mean per-joint error / body mass (paper Eq. 4): N m/kg for torques, N/kg for GRF.

    ``pred``/``target``: (T, ...) with ``prod(shape[1:])`` divisible by ``joint_dim``; e.g. SMPL torques
    (T, 69) with ``joint_dim=3``, Rajagopal torques (T, 17) with ``joint_dim=1``, GRF (T, 2, 3) with
    ``joint_dim=3``. NaN if no joint-frame is valid.
    """
    return _ratio(*mpje_stats(pred, target, mass_kg, joint_dim, mask))


def mpje_components(pred, target, mass_kg, mask=None) -> float:
    """ImDy-code variant: mean |delta| / mass over all valid scalar components."""
    return _ratio(*abs_stats(pred, target, mass_kg, mask))


def rmse(pred, target, mask=None) -> float:
    """sqrt(mean squared error) over all valid (frame, channel) values; NaN if none is valid."""
    total, count = sq_stats(pred, target, mask)
    return float(np.sqrt(total / count)) if count else float("nan")


def pcc(pred, target, window: int = DEFAULT_PCC_WINDOW, mask=None, *, mint_denominator: bool = False) -> float:
    """Windowed Pearson correlation, MinT benchmark style.

    Windows: non-overlapping, ``window`` frames along T; the last partial window is dropped unless the
    sequence is shorter than one window (then the whole sequence is one window). Per window and per
    channel, pred and target are z-scored over time with the population std + 1e-8 and
    ``pcorr = sum_t(zx * zy) / n``; the mean over channels is the window's value and the result is
    the mean over windows.

    Denominator: the MinT notebook divides by ``n - 1`` while using the population std, which
    inflates the correlation by ``n / (n - 1)`` (a perfect copy scores 64/63 with 64-frame windows).
    By default we divide by ``n`` so the value is exactly Pearson's r (paper Eq. 5, in [-1, 1]);
    ``mint_denominator=True`` reproduces the notebook's number.

    Skipped (documented rules): within a window, invalid values (NaN target / masked) are left out of
    that channel's statistics; a channel is skipped in a window if it has fewer than 2 valid frames or
    its target is constant there (population std <= 1e-8 x max |target|), because r is undefined.
    A constant *prediction* is not skipped: it scores 0. Windows with no usable channel are skipped.
    Returns NaN if nothing is valid.
    """
    values = pcc_windows(pred, target, window, mask, mint_denominator=mint_denominator)
    return float(values.mean()) if values.size else float("nan")


# --------------------------------------------------------------------------------------------------
# dataset-level accumulation


class MetricAccumulator:
    """Collects per-sequence sums and counts for keys (dataset, dynamics, representation).

    Error metrics are pooled over all valid frames of a dataset (frame-weighted: a long sequence
    counts more than a short one); PCC is the mean over all windows of all sequences. Pass the
    averaged prediction under the representation name ``"avg"``; ``result()`` adds ``"best"``: every
    metric of the one representation that is best on the dataset (``best_representations``), as the
    paper's *bst* is one representation's row of its Table 3, so RMSE and PCC never come from
    different inputs.

    ``pcc_window``: frames per PCC window, an int or a dict ``{dataset: int}`` (missing datasets use
    ``DEFAULT_PCC_WINDOW``).
    """

    def __init__(self, pcc_window: int | dict[str, int] = DEFAULT_PCC_WINDOW, *, mint_denominator: bool = False):
        self.pcc_window = pcc_window
        self.mint_denominator = mint_denominator
        # (dataset, dynamics, representation, metric) -> [sum, count]
        self._sums: dict[tuple[str, str, str, str], list[float]] = defaultdict(lambda: [0.0, 0])
        self._sequences: dict[tuple[str, str, str], int] = defaultdict(int)

    def window_for(self, dataset: str) -> int:
        if isinstance(self.pcc_window, dict):
            return int(self.pcc_window.get(dataset, DEFAULT_PCC_WINDOW))
        return int(self.pcc_window)

    def add(self, dataset: str, dynamics: str, representation: str, pred, target,
            mass_kg: float | None = None, mask=None) -> dict[str, float]:
        """Add one sequence; returns that sequence's own metric values (for logging)."""
        dynamics = getattr(dynamics, "value", dynamics)
        if dynamics not in METRICS_FOR:
            raise ValueError(f"unknown dynamics {dynamics!r}; expected one of {sorted(METRICS_FOR)}")
        stats: dict[str, tuple[float, float]] = {}
        for metric in METRICS_FOR[dynamics]:
            if metric in (MPJE, MPJE_COMPONENTS, MPJE_LEFT, MPJE_RIGHT) and mass_kg is None:
                raise ValueError(f"{dataset}/{dynamics}: {metric} needs the body mass (mass_kg)")
            if metric == MPJE:
                stats[metric] = mpje_stats(pred, target, mass_kg, JOINT_DIM[dynamics], mask)
            elif metric in (MPJE_LEFT, MPJE_RIGHT):  # GRF (T, 2, 3), feet ordered [left, right]
                foot = 0 if metric == MPJE_LEFT else 1
                p = np.asarray(pred)
                t = np.asarray(target)
                if t.ndim != 3 or t.shape[1] != 2 or p.shape != t.shape:
                    raise ValueError(f"{dataset}/{dynamics}: expected (T, 2, 3) arrays, got {p.shape} / {t.shape}")
                m = None if mask is None else np.broadcast_to(np.asarray(mask, bool), t.shape)[:, foot]
                stats[metric] = mpje_stats(p[:, foot], t[:, foot], mass_kg, 3, m)
            elif metric == MPJE_COMPONENTS:
                stats[metric] = abs_stats(pred, target, mass_kg, mask)
            elif metric == RMSE:
                stats[metric] = sq_stats(pred, target, mask)
            elif metric == PCC:
                values = pcc_windows(pred, target, self.window_for(dataset), mask,
                                     mint_denominator=self.mint_denominator)
                stats[metric] = (float(values.sum()), int(values.size))
        for metric, (total, count) in stats.items():
            acc = self._sums[(dataset, dynamics, representation, metric)]
            acc[0] += total
            acc[1] += count
        self._sequences[(dataset, dynamics, representation)] += 1
        return {metric: _finish(metric, total, count) for metric, (total, count) in stats.items()}

    def counts(self) -> dict[tuple[str, str, str, str], int]:
        """Number of pooled values (joint-frames, values or windows) per (dataset, dynamics, rep, metric)."""
        return {key: int(v[1]) for key, v in self._sums.items()}

    def num_sequences(self) -> dict[tuple[str, str, str], int]:
        return dict(self._sequences)

    def result(self) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
        """``{dataset: {dynamics: {metric: {representation: value}}}}`` with ``"best"`` added."""
        out: dict = {}
        for (dataset, dynamics, rep, metric), (total, count) in sorted(self._sums.items()):
            out.setdefault(dataset, {}).setdefault(dynamics, {}).setdefault(metric, {})[rep] = \
                _finish(metric, total, count)
        for dataset, rep in best_representations(out).items():
            for per_metric in out[dataset].values():
                for per_rep in per_metric.values():
                    if rep in per_rep:
                        per_rep[BEST] = per_rep[rep]
        return out


def best_representations(results: dict) -> dict[str, str]:
    """Per dataset of ``{dataset: {dynamics: {metric: {rep: value}}}}``, the single representation with
    the best mean rank over the dataset's headline metrics (ties: the better first headline value, then
    the name; a representation without a value ranks last in that column)."""
    out = {}
    for dataset, per_dyn in results.items():
        columns = [(m, per_dyn[d][m]) for d in sorted(per_dyn) for m in HEADLINE_METRICS.get(d, ())
                   if m in per_dyn[d]]
        reps = sorted({r for _, col in columns for r, v in col.items() if r not in (AVG, BEST) and np.isfinite(v)})
        if not reps:
            continue
        keys = []  # per column: rep -> value oriented so that lower is better
        for metric, col in columns:
            sign = 1.0 if LOWER_IS_BETTER[metric] else -1.0
            keys.append({r: sign * col[r] if np.isfinite(col.get(r, np.nan)) else np.inf for r in reps})
        rank = {r: sum(sorted(reps, key=k.get).index(r) for k in keys) for r in reps}
        out[dataset] = min(reps, key=lambda r: (rank[r], keys[0][r], r))
    return out


def _finish(metric: str, total: float, count: float) -> float:
    if count <= 0:
        return float("nan")
    if metric == RMSE:
        return float(np.sqrt(total / count))
    return float(total / count)

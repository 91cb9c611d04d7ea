"""Smooth shapes of the foot plans: time profiles, and rigid moves of a foot's sole points.

Profiles of a progress ``s`` or a cycle fraction ``u``: :func:`smootherstep` (the quintic 0 -> 1 with zero
velocity and acceleration at both ends: every blend of the plans), :func:`swing_progress` (the walking swing's
quintic, which leaves toe-off accelerating and reaches heel strike decelerating), :func:`window` (a
smootherstep between two cycle fractions), :func:`bump` (a ``sin^2`` out and back) and :func:`envelope` (a
smooth curve at or above a signal that rises ahead of its peaks: a pelvis lowered with it moves ahead of time
and slowly).

Sole points (T, 2, 4, 3) (each foot's heel pair, then its toe pair): :func:`roll` pitches a foot about a pivot
that does not move (a heel rocker about the heel points, a toe rocker about the foremost toe point,
:func:`toe_pivots`); :func:`toe_pitch` reads each foot's pitch back, and :func:`raise_heels` turns planned feet
heel-up about their foremost points (where an ankle cannot dorsiflex as far as a flat foot needs).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d
from scipy.spatial.transform import Rotation

from hdys.physics.rotations import axis_rotation


def smootherstep(x: np.ndarray) -> np.ndarray:
    """Quintic 0 -> 1 on [0, 1] with zero first and second derivatives at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x ** 3 * (10 - 15 * x + 6 * x * x)


def swing_progress(s: np.ndarray, start_acc: float, end_dec: float) -> np.ndarray:
    """The quintic ``p(s)`` with ``p(0) = p'(0) = 0``, ``p''(0) = start_acc``, ``p(1) = 1``, ``p'(1) = 0`` and
    ``p''(1) = -end_dec`` (with both zero: :func:`smootherstep`); monotonic for the walking constants."""
    a, b = start_acc, end_dec
    c3, c4, c5 = 10 - 1.5 * a - b / 2, 1.5 * a + b - 15, 6 - (a + b) / 2
    return s * s * (a / 2 + s * (c3 + s * (c4 + s * c5)))


def window(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """0 before ``a``, 1 after ``b``, a smootherstep in between (u, a, b: cycle fractions)."""
    return smootherstep(np.clip((u - a) / (b - a), 0.0, 1.0))


def bump(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """``sin^2`` from 0 at ``a`` to 1 halfway to 0 at ``b`` (zero value and velocity at both ends), else 0."""
    return np.sin(np.pi * np.clip((u - a) / (b - a), 0.0, 1.0)) ** 2


def envelope(x: np.ndarray, w: int) -> np.ndarray:
    """A sliding maximum over ``+-w`` samples, smoothed by a Gaussian of ``w / 2``: a smooth curve at or
    above ``x`` that rises ahead of its peaks."""
    return gaussian_filter1d(maximum_filter1d(x, 2 * w + 1, mode="nearest"), w / 2, mode="nearest")


def toe_pivots(tmpl: np.ndarray) -> np.ndarray:
    """(2, 3) each foot's foremost sole point in a foot template (2, 4, 3): the pivot of a heel rise."""
    return tmpl[np.arange(2), 2 + np.argmax(tmpl[:, 2:, 0], axis=1)]


def roll(foot: np.ndarray, pivot: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(T, 4, 3) a foot's template sole points (4, 3) pitched by ``angle`` (T,) about ``pivot`` (3,): about the
    foot's lateral (+y, left) axis, positive angles tip the toes down."""
    return np.einsum("tab,pb->tpa", axis_rotation(1, angle), foot - pivot) + pivot


def toe_pitch(pts: np.ndarray) -> np.ndarray:
    """(T, 2) toes-down pitch (rad) of each foot's sole points (T, 2, 4, 3; heel pair, then toe pair)."""
    d = pts[:, :, 2:].mean(2) - pts[:, :, :2].mean(2)
    return np.arctan2(-d[..., 2], np.linalg.norm(d[..., :2], axis=-1))


def raise_heels(pts: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Sole points (T, 2, 4, 3) with each foot turned heel-up by ``angle`` (T, 2) about its foremost point,
    about the horizontal axis across the foot."""
    fwd = pts[:, :, 2:].mean(2) - pts[:, :, :2].mean(2)
    fwd[..., 2] = 0.0
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    across = np.stack([-fwd[..., 1], fwd[..., 0], np.zeros_like(fwd[..., 0])], -1)  # z x forward: to the left
    pivot = np.take_along_axis(pts, np.einsum("tfpa,tfa->tfp", pts, fwd).argmax(-1)[..., None, None], 2)
    rot = Rotation.from_rotvec((across * angle[..., None]).reshape(-1, 3)).as_matrix().reshape(angle.shape + (3, 3))
    return np.einsum("tfab,tfpb->tfpa", rot, pts - pivot) + pivot

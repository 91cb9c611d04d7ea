"""Smooth parametric motions with analytic derivatives: :class:`Fourier`.

Every coordinate is ``q(t) = mean + slope t + sum_k amp_k sin(omega_k t + phase_k)``, so q, dq/dt and d2q/dt2 are
exact and inverse dynamics on them is exact. Amplitudes are shrunk so that the oscillation stays inside the joint
limits (plus a margin) at every instant, not only at the samples (:func:`fit_to_limits`). :class:`Builder`
accumulates the terms of the motion generators (:mod:`hdys.physics.motions`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from hdys.physics.timing import Gait


@dataclass
class Fourier:
    """D coordinates as offset + linear drift + K sinusoids. Shapes: mean, slope (D,); amp, omega, phase (D, K)."""

    mean: np.ndarray
    slope: np.ndarray
    amp: np.ndarray
    omega: np.ndarray
    phase: np.ndarray
    # the timing the foot planner (hdys.physics.locomotion) follows, or None (both feet planted, or no ground)
    gait: Gait | None = None

    def __call__(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """q, qd, qdd at times ``t`` (T,), each (T, D)."""
        arg = t[:, None, None] * self.omega[None] + self.phase[None]  # (T, D, K)
        s, c = np.sin(arg), np.cos(arg)
        q = self.mean + t[:, None] * self.slope + (self.amp * s).sum(-1)
        qd = self.slope + (self.amp * self.omega * c).sum(-1)
        qdd = -(self.amp * self.omega ** 2 * s).sum(-1)
        return q, qd, qdd

    def with_jitter(self, rng: np.random.Generator, amp: np.ndarray | float, fmin: float = 4.0,
                    fmax: float = 10.0, n: int = 3) -> "Fourier":
        """Append ``n`` small high-frequency sinusoids per coordinate (simulator-like jitter)."""
        d = self.mean.shape[0]
        a = np.broadcast_to(np.asarray(amp, float), (d,))[:, None] * rng.uniform(0.3, 1.0, (d, n)) / n
        w = 2 * np.pi * rng.uniform(fmin, fmax, (d, n))
        p = rng.uniform(0, 2 * np.pi, (d, n))
        return Fourier(self.mean.copy(), self.slope.copy(), np.concatenate([self.amp, a], 1),
                       np.concatenate([self.omega, w], 1), np.concatenate([self.phase, p], 1), self.gait)


class Builder:
    """Accumulates per-coordinate terms (amp, harmonic, phase) on a base frequency."""

    def __init__(self, names: list[str], base_hz: float, k: int = 4):
        self.index = {n: i for i, n in enumerate(names)}
        d = len(names)
        self.mean, self.slope = np.zeros(d), np.zeros(d)
        self.amp, self.phase = np.zeros((d, k)), np.zeros((d, k))
        self.omega = np.tile(2 * np.pi * base_hz * np.arange(1, k + 1), (d, 1))

    def set(self, name: str, mean: float = 0.0, terms=(), slope: float = 0.0) -> None:
        i = self.index[name]
        self.mean[i], self.slope[i] = mean, slope
        for amp, harmonic, phase in terms:
            self.amp[i, harmonic - 1] += amp
            self.phase[i, harmonic - 1] = phase

    def build(self, lo: np.ndarray | None = None, hi: np.ndarray | None = None, margin: float = 0.03,
              gait: Gait | None = None) -> Fourier:
        if lo is not None:
            fit_to_limits(self.mean, self.amp, lo, hi, margin, self.omega, self.phase)
        return Fourier(self.mean, self.slope, self.amp, self.omega, self.phase, gait)


def fit_to_limits(mean: np.ndarray, amp: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float,
                  omega: np.ndarray | None = None, phase: np.ndarray | None = None) -> None:
    """In place: clip means into [lo+margin, hi-margin] and shrink amplitudes so q stays inside.

    Without ``omega``/``phase`` the bound is the worst case ``sum |amp|``. With them (harmonics of the
    first column's frequency, as :class:`Builder` makes) the oscillation's true extremes over one
    period (sampled at 4096 points; the margin covers the sampling error) are used."""
    mean[:] = np.clip(mean, lo + margin, hi - margin)
    if omega is None:
        low = high = np.abs(amp).sum(-1)
    else:
        t = np.linspace(0.0, 2 * np.pi / omega[:, :1], 4096, axis=-1)  # (D, 1, S)
        osc = (amp[..., None] * np.sin(omega[..., None] * t + phase[..., None])).sum(1)  # (D, S)
        low, high = np.maximum(-osc.min(-1), 0.0), np.maximum(osc.max(-1), 0.0)
    room_lo, room_hi = mean - lo - margin, hi - margin - mean
    scale = np.minimum(np.where(low > room_lo, room_lo / np.maximum(low, 1e-12), 1.0),
                       np.where(high > room_hi, room_hi / np.maximum(high, 1e-12), 1.0))
    amp *= scale[:, None]


def periodic_fit(v: np.ndarray, k: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares fit of ``mean + sum_h amp_h sin(2 pi h s + phase_h)``, h = 1..k, to samples ``v`` (S,)
    of one period at ``s = i / S`` (k < S / 2); returns ``(mean, amp (k,), phase (k,))``. On a uniform grid
    the sinusoids are orthogonal, so the fit is the discrete Fourier transform's (which, unlike a LAPACK
    solve, gives the same bits in every process whatever its thread count)."""
    c = np.fft.rfft(v)[: k + 1] / v.shape[0]
    a, b = -2 * c[1:].imag, 2 * c[1:].real  # a sin + b cos = r sin(. + atan2(b, a))
    return float(c[0].real), np.hypot(a, b), np.arctan2(b, a)

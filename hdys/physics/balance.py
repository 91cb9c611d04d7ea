"""Balance: the horizontal centre of mass (COM) for a planned centre of pressure, and a run's vertical COM.

The pelvis's horizontal position is chosen so that the whole-body COM follows a target. For walking and the
discrete steps (kicks, lunges, step-ups) the target is the COM of a linear inverted pendulum ``x - (h/g) x'' =
p`` (:func:`lipm`; Kajita S. et al. 2003, "Biped walking pattern generation by using preview control of
zero-moment point", ICRA) for a reference zero-moment point ``p`` planned under the feet. Where the vertical force
varies (runs, hops, jumps) it is the pendulum ``x'' = (F / (m z)) (x - p)`` (:func:`pendulum`): the ground force
points from the centre of pressure through the COM, and there is none in flight. Both are solved as two-point
boundary value problems (central differences, a banded solve) on a grid padded by ``LIPM_PAD_S``
(:mod:`hdys.physics.plans`): the boundary error decays as ``exp(-t / sqrt(h/g))``.

A run's vertical COM (:func:`running_bounce`): each leg's vertical force is a half sine over its stance, zero in
flight; ``z'' = F/m - g`` is integrated exactly through its Fourier series, so the body is ballistic in flight.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded

from hdys.frames import G


def pendulum(p: np.ndarray, w: np.ndarray, dt: float, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """COM (N, 2) with ``x'' = w (x - p)`` on a uniform grid (the ground force points from the centre of
    pressure ``p`` (N, 2) through the COM; ``w`` (N,) = vertical force / (mass COM height), zero in
    flight), ``x`` fixed to ``start`` and ``end`` at the two ends (central differences, banded solve)."""
    n = p.shape[0]
    c = w * dt * dt
    ab = np.zeros((3, n))
    ab[0, 1:], ab[1], ab[2, :-1] = -1.0, 2.0 + c, -1.0
    ab[1, 0] = ab[1, -1] = 1.0
    ab[0, 1] = ab[2, -2] = 0.0
    rhs = c[:, None] * np.where(np.isfinite(p), p, 0.0)
    rhs[0], rhs[-1] = start, end
    return solve_banded((1, 1), ab, rhs)


def lipm(p: np.ndarray, dt: float, h: float) -> np.ndarray:
    """COM (N, 2) of the linear inverted pendulum ``x - (h/g) x'' = p`` for a ZMP ``p`` (N, 2) on a
    uniform grid, with the COM over the ZMP at both ends."""
    return pendulum(p, np.full(p.shape[0], G / h), dt, p[0], p[-1])


def running_bounce(f: float, duty: float, shifts, t: np.ndarray, samples: int = 4096):
    """The COM's vertical excursion (and its second derivative) of a run: each leg's vertical force is a
    half sine over its stance with the impulse that holds the body up over a stride (peak
    ``pi / (4 duty)`` body weights: 2.1 at duty 0.38, as measured in slow running; Cavanagh P.R. &
    Lafortune M.A. 1980, "Ground reaction forces in distance running", J Biomech 13:397-406), none in
    flight. ``zeta'' = g (force / body weight - 1)`` is integrated exactly per stride through its Fourier
    series (periodic, zero mean). ``shifts``: each leg's cycle offset (rad), as ``Cyclic.shifts``."""
    u = np.arange(samples) / samples
    acc = G * (np.pi / (4 * duty) * np.where(u < duty, np.sin(np.pi * u / duty), 0.0) - 0.5)  # one leg
    spec = np.fft.rfft(acc)
    h = np.arange(spec.shape[0])
    z_spec = np.zeros_like(spec)
    z_spec[1:] = -spec[1:] / (2 * np.pi * h[1:] * f) ** 2
    zeta_cycle = np.fft.irfft(z_spec, samples)
    grid = np.arange(samples + 1)

    def periodic(cycle: np.ndarray, s: np.ndarray) -> np.ndarray:
        return np.interp(s, grid, np.r_[cycle, cycle[0]])

    zeta, zeta_dd = np.zeros_like(t), np.zeros_like(t)
    for c in shifts:
        s = np.mod(f * t + c / (2 * np.pi), 1.0) * samples
        zeta += periodic(zeta_cycle, s)
        zeta_dd += periodic(acc, s)
    return zeta, zeta_dd

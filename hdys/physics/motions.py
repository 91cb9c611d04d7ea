"""Smooth parametric motions with analytic derivatives.

Every coordinate is ``q(t) = mean + slope t + sum_k amp_k sin(omega_k t + phase_k)`` (:class:`Fourier`),
so q, dq/dt and d2q/dt2 are exact and inverse dynamics on them is exact. Amplitudes are shrunk so
that ``|mean - limit| >= sum |amp|`` (plus a margin) for every limited coordinate, which keeps the
motion inside the joint limits at every instant, not only at the samples.

Rajagopal motions are defined directly on the 23 coordinates. SMPL motions are defined on Euler
angles per joint (``R = Rx(a) Ry(b) Rz(c)`` in the SMPL rest frame: x left, y up, z forward) and turned
into rotations, body-frame angular velocities and accelerations in closed form (:func:`euler_chain`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from hdys.frames import G
from hdys.physics.rotations import SmplTrajectory, axis_rotation, euler_chain
from hdys.schema import RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES

RAJAGOPAL_KINDS = ("walk", "turn", "run", "squat", "sit_to_stand", "jump", "cmj", "jumping_jack", "kick", "lunge",
                   "step_up")
ARM_KINDS = ("curl", "arm_raise")  # Rajagopal motions of the body with arms (standing; see rajagopal_arms)
SMPL_KINDS = ("walk", "turn", "run", "squat", "free", "arm_raise", "curl", "jump", "cmj", "jumping_jack", "kick",
              "lunge", "step_up")


@dataclass
class Fourier:
    """D coordinates as offset + linear drift + K sinusoids. Shapes: mean, slope (D,); amp, omega, phase (D, K)."""

    mean: np.ndarray
    slope: np.ndarray
    amp: np.ndarray
    omega: np.ndarray
    phase: np.ndarray
    # gait timing of cyclic locomotion, or None: {"freq": Hz, "duty": stance fraction of the cycle,
    # "shift": {"left": c, "right": c}} where a leg's cycle fraction since heel strike is
    # frac(freq t + c / 2 pi) (used by hdys.physics.locomotion to time the footprints); hops in place add
    # "hop": True and "spread" (m at 1.75 m stature: jumping jacks land apart on every other hop)
    gait: dict | None = None

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


class _Builder:
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

    def build(self, lo: np.ndarray | None = None, hi: np.ndarray | None = None, margin: float = 0.03) -> Fourier:
        if lo is not None:
            fit_to_limits(self.mean, self.amp, lo, hi, margin, self.omega, self.phase)
        return Fourier(self.mean, self.slope, self.amp, self.omega, self.phase)


def fit_to_limits(mean: np.ndarray, amp: np.ndarray, lo: np.ndarray, hi: np.ndarray, margin: float,
                  omega: np.ndarray | None = None, phase: np.ndarray | None = None) -> None:
    """In place: clip means into [lo+margin, hi-margin] and shrink amplitudes so q stays inside.

    Without ``omega``/``phase`` the bound is the worst case ``sum |amp|``. With them (harmonics of the
    first column's frequency, as :class:`_Builder` makes) the oscillation's true extremes over one
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


# Normative sagittal joint angles over one gait cycle of the leg (cycle fraction from its heel strike,
# degrees; flexion / dorsiflexion positive), read at key points off the ensemble-average curves of
# Winter D.A. (2009) Biomechanics and Motor Control of Human Movement, 4th ed., Wiley (walking at
# natural cadence; toe-off at ~60 %) and Novacheck T.F. (1998) The biomechanics of running, Gait &
# Posture 7:77-95 (running at ~3.2 m/s; toe-off at ~38 %). They are linearly interpolated and fitted
# with four harmonics (:func:`gait_harmonics`).
GAIT_CURVES = {
    "walk": {
        "hip": ((0, 30), (0.1, 28), (0.2, 20), (0.3, 10), (0.4, 0), (0.5, -8), (0.55, -10), (0.6, -5),
                (0.7, 10), (0.8, 25), (0.9, 33), (1.0, 30)),
        "knee": ((0, 5), (0.05, 12), (0.15, 18), (0.25, 12), (0.35, 6), (0.42, 5), (0.5, 12), (0.6, 38),
                 (0.7, 60), (0.75, 62), (0.8, 55), (0.9, 25), (0.97, 5), (1.0, 5)),
        "ankle": ((0, 0), (0.07, -6), (0.15, 0), (0.3, 6), (0.45, 10), (0.55, 0), (0.62, -18), (0.7, -10),
                  (0.8, 0), (0.9, 2), (1.0, 0)),
    },
    "run": {
        "hip": ((0, 30), (0.2, 10), (0.38, -8), (0.5, 0), (0.7, 35), (0.85, 45), (1.0, 30)),
        "knee": ((0, 20), (0.15, 40), (0.38, 25), (0.5, 60), (0.7, 95), (0.85, 60), (1.0, 20)),
        "ankle": ((0, 0), (0.15, 20), (0.38, -20), (0.5, -10), (0.7, 5), (0.9, 5), (1.0, 0)),
    },
}

GAIT_DUTY = {"walk": 0.6, "run": 0.38}  # stance fraction of the cycle (toe-off) in those curves
WALK_SPEED = (0.8, 1.8)  # m/s at 1.75 m stature, scaled by sqrt(stature / 1.75) (equal Froude numbers)
# Step length / cadence (m per step/min), the "walk ratio", which a person keeps nearly constant across
# walking speeds (Sekiya N. & Nagasaki H. 1998, "Reproducibility of the walking patterns of normal young
# adults: test-retest reliability of the walk ratio", Gait & Posture 7:225-227): this value for a 1.75 m
# adult (0.58 m steps at 82 steps/min, 0.8 m/s), scaled with stature.
WALK_RATIO = 0.0071
WALK_STEP_MAX = 0.45  # longest step / stature: faster walks take quicker steps instead (~135 steps/min at 1.8 m/s)
PELVIS_STATURE = {"rajagopal": 0.561, "smpl": 0.571}  # standing pelvis height / stature of hdys's bodies


def walk_speed(rng: np.random.Generator, stature: float) -> float:
    """A walking speed (m/s): uniform in ``WALK_SPEED`` for a 1.75 m adult, dynamically similar (the same
    Froude number ``v^2 / (g l)``) for other statures."""
    return float(rng.uniform(*WALK_SPEED)) * np.sqrt(stature / 1.75)


def walk_frequency(speed: float, stature: float) -> float:
    """Stride frequency (Hz) of a walk at ``speed`` (m/s): the cadence at which step length / cadence is the
    walk ratio, or, where that step would be longer than ``WALK_STEP_MAX`` of the stature, the cadence of
    that longest step (0.8-1.8 m/s at 1.75 m: 82-137 steps/min, steps 0.58-0.79 m)."""
    ratio = WALK_RATIO * stature / 1.75
    cadence = max(np.sqrt(60.0 * speed / ratio), 60.0 * speed / (WALK_STEP_MAX * stature))  # steps/min
    return cadence / 120.0


def gait_harmonics(kind: str, joint: str, k: int = 4) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares Fourier fit of a :data:`GAIT_CURVES` curve: ``mean + sum_h amp_h sin(2 pi h s + phase_h)``
    (radians); returns ``(mean, amp (k,), phase (k,))``."""
    s = np.linspace(0.0, 1.0, 400, endpoint=False)
    x, y = np.array(GAIT_CURVES[kind][joint], float).T
    return periodic_fit(np.deg2rad(np.interp(s, x, y)), k)


def periodic_fit(v: np.ndarray, k: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares fit of ``mean + sum_h amp_h sin(2 pi h s + phase_h)``, h = 1..k, to samples ``v`` (S,)
    of one period at ``s = i / S`` (k < S / 2); returns ``(mean, amp (k,), phase (k,))``. On a uniform grid
    the sinusoids are orthogonal, so the fit is the discrete Fourier transform's (which, unlike a LAPACK
    solve, gives the same bits in every process whatever its thread count)."""
    c = np.fft.rfft(v)[: k + 1] / v.shape[0]
    a, b = -2 * c[1:].imag, 2 * c[1:].real  # a sin + b cos = r sin(. + atan2(b, a))
    return float(c[0].real), np.hypot(a, b), np.arctan2(b, a)


def _duty(curves: str, rng: np.random.Generator, speed: float = 0.0) -> float:
    """Stance fraction of the planned gait. Walking: shorter at higher speeds, 0.60 at 0.8 m/s to 0.56 at
    1.8 m/s (double support shrinks as walking gets faster; Murray M.P., Kory R.C., Clarkson B.H. & Sepic S.B.
    1966, "Comparison of free and fast speed walking patterns of normal men", Am J Phys Med 45(1)); running
    varied by +-0.04 around the curves' (contact times differ between runners; the stance force peak
    pi / (4 duty) is then 1.9-2.3 BW)."""
    if curves == "walk":
        return float(np.clip(0.64 - 0.045 * speed, 0.56, 0.62))
    return GAIT_DUTY[curves] + float(rng.uniform(-0.04, 0.04))


JACK_SPREAD = 0.2  # m at 1.75 m stature: how much further apart the feet land on a jumping jack's "apart" hop
JACK_DUTY = (0.7, 0.75)  # a jumping jack's stance fraction: low hops, 0.1-0.15 s in the air


def _hop(rng: np.random.Generator, jack: bool) -> dict:
    """Timing of two-footed hopping in place (``jump``, 2.2-2.6 hops/s) or of jumping jacks (2.0-2.4
    hops/s): hop frequency (Hz), stance fraction (hops 0.45-0.55: about 0.2-0.27 s on the ground and in the
    air each, as in repeated rebound hops; jacks ``JACK_DUTY``) and the legs' common cycle offset (rad). The
    builder's base frequency is the hop frequency, halved for a jack (apart and together are one cycle)."""
    f = float(rng.uniform(2.0, 2.4) if jack else rng.uniform(2.2, 2.6))
    duty = float(rng.uniform(*JACK_DUTY) if jack else rng.uniform(0.45, 0.55))
    return {"freq": f, "duty": duty, "c": float(rng.uniform(-np.pi, np.pi)),
            "base": f / 2 if jack else f, "harmonic": 2 if jack else 1}


def _hop_phases(h: dict) -> tuple[float, float]:
    """(phase of the hop harmonic peaking at mid-stance, phase of the jack's first harmonic peaking at the
    middle of the "apart" stances) for ``amp sin(omega t + phase)`` terms."""
    return h["c"] - np.pi * h["duty"] + np.pi / 2, np.pi / 2 + h["c"] / 2 - np.pi * h["duty"] / 2


def _hop_gait(h: dict, jack: bool) -> dict:
    """``Fourier.gait`` of hops: both legs on one cycle, ``hop`` (in place), ``spread`` (m at 1.75 m stature)."""
    return {"freq": h["freq"], "duty": h["duty"], "shift": {"left": h["c"], "right": h["c"]}, "hop": True,
            "spread": JACK_SPREAD if jack else 0.0}


def _steps(kind: str, rng: np.random.Generator) -> dict:
    """``Fourier.gait`` of a kick (0.4-0.6 per s), a lunge (0.25-0.35 per s) or a step-up (0.2-0.3 per s)
    for the step planner of :mod:`hdys.physics.locomotion`: moving (leading) foot (0 left, 1 right), cycle
    offset, and the kick's reach forward and up, the lunge's step length and pelvis drop below the
    feet-apart stance, or the step-up's step length and platform height (m at 1.75 m stature)."""
    g = {"steps": kind, "side": int(rng.integers(2)), "shift": float(rng.uniform(-np.pi, np.pi))}
    if kind == "step_up":  # onto a platform and back down, once per 3.3-5 s
        g.update(freq=float(rng.uniform(0.2, 0.3)), length=float(rng.uniform(0.38, 0.48)),
                 height=float(rng.uniform(0.15, 0.3)))
    elif kind == "kick":
        g.update(freq=float(rng.uniform(0.4, 0.6)), reach=(float(rng.uniform(0.35, 0.5)), float(rng.uniform(0.2, 0.35))))
    else:
        g.update(freq=float(rng.uniform(0.25, 0.35)), length=float(rng.uniform(0.5, 0.7)),
                 depth=float(rng.uniform(0.05, 0.12)))
    return g


def _peak_phase(g: dict, u_peak: float) -> float:
    """Phase of ``sin(2 pi freq t + phase)`` peaking at cycle fraction ``u_peak`` of a step plan."""
    return np.pi / 2 + g["shift"] - 2 * np.pi * u_peak


# Countermovement jumps. The COM height is designed and the forces follow from it (F = m (g + z'')): quintic
# Hermite segments (C2 throughout) from standing down to the bottom of the countermovement, up to take-off
# (leaving at the speed of the jump height with the force just reaching zero), a ballistic flight, a landing
# down to its lowest point and a recovery to standing. With the sampled timings the vertical force dips to
# 0.4-0.65 body weights while unweighting, stays at 2.4-2.8 BW through the propulsion and peaks at 3-4.7 BW on landing,
# as in maximal countermovement jumps (e.g. McMahon J.J., Suchomel T.J., Lake J.P., Comfort P. 2018,
# "Understanding the key phases of the countermovement jump force-time curve", Strength Cond J 40(4):96-106).
CMJ_REST = 0.03  # m at 1.75 m stature: standing COM below the neutral pose's (knees unlocked, ready)
CMJ_TAKEOFF = 0.04  # m at 1.75 m stature: COM above the neutral pose's at take-off (on the toes, legs extended)
CMJ_TOUCHDOWN = 0.0  # m at 1.75 m stature: COM height at touchdown (landing on the forefoot)
CMJ_BOTTOM_G = 1.4  # COM acceleration (in g) at the bottom of the countermovement and of the landing
CMJ_TALLEST = 1.95 / 1.75  # k of the tallest subject (hdys.physics.fixture.sample_subject): jumps scale in time
CMJ_HARMONICS = 16  # Fourier terms of the reference angles over the jump cycle
CMJ_SMOOTH_S = 0.05  # s: Gaussian smoothing of the reference profiles (the trunk straightens over ~0.2 s)


def _cmj(rng: np.random.Generator) -> dict:
    """``Fourier.gait`` of a maximal countermovement jump from standing, repeated once per cycle: time of the
    first jump's start (s), countermovement duration (``down``, s), COM dip (``depth``, m at 1.75 m
    stature), jump height (COM rise after take-off, m at 1.75 m stature: 0.7-0.95 of the push's COM
    travel, 18-31 cm), propulsion time as a fraction ``push`` of the
    time a constant force would take (below one: the force is highest early in the push, a plateau rather
    than a late peak), landing time to the lowest point as a fraction ``land`` of a constant deceleration's
    (above one: the force builds up from zero at touchdown), its depth (m at 1.75 m stature), ``recover``
    (the rise back to standing takes ``sqrt(recover depth / acceleration)``: from 12 up the COM does not
    overshoot standing and the force stays above half the body weight), and ``freq`` (jumps per second:
    the jump and a 0.6-1.2 s pause standing)."""
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    g = {"cmj": True, "start": u(0.1, 0.5), "down": u(0.45, 0.6), "push": u(0.78, 0.88), "depth": u(0.18, 0.26),
         "land": u(1.2, 1.5), "land_depth": u(0.12, 0.18), "recover": u(12.0, 20.0)}
    g["height"] = u(0.7, 0.95) * (CMJ_REST + g["depth"] + CMJ_TAKEOFF)  # higher jumps from deeper pushes
    g["freq"] = 1.0 / (cmj_schedule(g, CMJ_TALLEST)[-1] + u(0.6, 1.2))
    return g


def quintic(start, end, dur: float, s: np.ndarray):
    """Value, first and second derivatives at ``s`` (S,) in [0, dur] of the quintic with (value, rate,
    acceleration) ``start`` at 0 and ``end`` at ``dur``; the six boundary values may be arrays (C,) of
    several quintics, and the results are then (S, C)."""
    p0, v0, a0 = (np.asarray(x, float) for x in start)
    p1, v1, a1 = (np.asarray(x, float) for x in end)
    m = np.array([[dur ** 3, dur ** 4, dur ** 5], [3 * dur ** 2, 4 * dur ** 3, 5 * dur ** 4],
                  [6 * dur, 12 * dur ** 2, 20 * dur ** 3]])
    c3, c4, c5 = np.linalg.solve(m, np.stack([p1 - p0 - v0 * dur - a0 * dur ** 2 / 2, v1 - v0 - a0 * dur, a1 - a0]))
    s = np.asarray(s, float)[(...,) + (None,) * p0.ndim]
    return (p0 + v0 * s + a0 * s ** 2 / 2 + c3 * s ** 3 + c4 * s ** 4 + c5 * s ** 5,
            v0 + a0 * s + 3 * c3 * s ** 2 + 4 * c4 * s ** 3 + 5 * c5 * s ** 4,
            a0 + 6 * c3 * s + 12 * c4 * s ** 2 + 20 * c5 * s ** 3)


def cmj_schedule(g: dict, k: float) -> np.ndarray:
    """Times (s from the start of the countermovement) of the bottom, take-off, touchdown, landing's lowest
    point and the end of the recovery, for a body ``k`` = stature / 1.75 m."""
    v0 = np.sqrt(2 * G * g["height"] * k)
    up = g["push"] * 2 * (CMJ_REST + g["depth"] + CMJ_TAKEOFF) * k / v0
    drop = (CMJ_TAKEOFF - CMJ_TOUCHDOWN) * k
    v1 = np.sqrt(v0 ** 2 + 2 * G * drop)
    flight = (v0 + v1) / G
    land = g["land"] * 2 * (CMJ_TOUCHDOWN + CMJ_REST + g["land_depth"]) * k / v1
    recover = np.sqrt(g["recover"] * g["land_depth"] * k / (CMJ_BOTTOM_G * G))
    return np.cumsum([g["down"], up, flight, land, recover])


def cmj_height(g: dict, t: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COM height relative to the neutral pose's (m) and its first and second derivatives at times ``t``
    (s) of a countermovement-jump motion (``g``: :func:`_cmj`) for a body ``k`` = stature / 1.75 m."""
    rest, bottom = -CMJ_REST * k, -(CMJ_REST + g["depth"]) * k
    take_off, touch, low = CMJ_TAKEOFF * k, CMJ_TOUCHDOWN * k, -(CMJ_REST + g["land_depth"]) * k
    v0 = np.sqrt(2 * G * g["height"] * k)
    v1 = np.sqrt(v0 ** 2 + 2 * G * (take_off - touch))
    a_low = CMJ_BOTTOM_G * G
    ends = cmj_schedule(g, k)
    starts = np.r_[0.0, ends[:-1]]
    stand, lowest, leave = (rest, 0.0, 0.0), (bottom, 0.0, a_low), (take_off, v0, -G)
    land, landed = (touch, -v1, -G), (low, 0.0, a_low)
    segments = [(stand, lowest), (lowest, leave), None, (land, landed), (landed, stand)]  # None: the flight
    tau = np.mod(t - g["start"], 1.0 / g["freq"])
    z, zd, zdd = np.full(t.shape, rest), np.zeros(t.shape), np.zeros(t.shape)
    for seg, a, b in zip(segments, starts, ends):
        m = (tau >= a) & (tau < b)
        s = tau[m] - a
        if seg is None:
            z[m], zd[m], zdd[m] = take_off + v0 * s - G * s ** 2 / 2, v0 - G * s, -G
        else:
            z[m], zd[m], zdd[m] = quintic(*seg, b - a, s)
    return z, zd, zdd


def _cmj_references(g: dict) -> dict[str, np.ndarray]:
    """Unit profiles over one jump cycle (1024 samples from the start of the countermovement): ``dip`` (0
    standing, 1 at the bottom of the countermovement, the landing's share at its lowest point), ``back`` (the
    dip during the countermovement only: arms swing back) and ``up`` (0 standing, 1 from take-off through
    the flight)."""
    tau = np.arange(1024) / 1024 / g["freq"]
    z = cmj_height(g, tau + g["start"], 1.0)[0] + CMJ_REST
    dip = np.maximum(-z, 0.0) / g["depth"]
    shapes = {"dip": dip, "back": np.where(tau < cmj_schedule(g, 1.0)[1], dip, 0.0),
              "up": np.clip(z / (CMJ_TAKEOFF + CMJ_REST), 0.0, 1.0)}
    sigma = CMJ_SMOOTH_S * g["freq"] * 1024  # the clipped profiles have corners: smooth them (periodically)
    return {k: gaussian_filter1d(v, sigma, mode="wrap") for k, v in shapes.items()}


def _profile(b: "_Builder", g: dict, name: str, base: float, shape: np.ndarray) -> None:
    """Coordinate ``name`` = ``base + shape`` over the jump cycle of ``g`` (``shape``: a combination of
    :func:`_cmj_references` profiles), fitted with ``CMJ_HARMONICS`` terms."""
    mean, amp, phase = periodic_fit(shape, CMJ_HARMONICS)
    shift = 2 * np.pi * g["freq"] * g["start"]  # the samples start at t = start
    b.set(name, base + mean, [(amp[h], h + 1, phase[h] - (h + 1) * shift) for h in range(CMJ_HARMONICS)])


TURN_SECONDS = 6.0  # longest sequence of the presets; a turning Rajagopal pelvis stays inside +-pi for it


def _turn_rate(kind: str, rng: np.random.Generator) -> float:
    """Heading rate (rad/s) of a walk along a circle (``turn``: 0.3-0.6 rad/s either way), else 0. The
    walking path itself is planned by :mod:`hdys.physics.locomotion` along the heading."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 0.6)) if kind == "turn" else 0.0


def _gait_terms(kind: str, joint: str, scale: float, cycle_shift: float, sign: float = 1.0, jitter: float = 0.0):
    """(mean, terms) for :meth:`_Builder.set`: the leg's cycle starts at ``cycle_shift`` (rad of the first
    harmonic; harmonic h is shifted by h times it), amplitudes scaled by ``scale``, sign flipped by ``sign``."""
    mean, amp, phase = gait_harmonics(kind, joint)
    return sign * mean, [(sign * scale * amp[h], h + 1, phase[h] + (h + 1) * (cycle_shift + jitter))
                         for h in range(len(amp))]


# ---------------------------------------------------------------------------------------------------
# Rajagopal


def rajagopal_motion(kind: str, rng: np.random.Generator, ranges: np.ndarray, pelvis_height: float) -> Fourier:
    """A randomised motion over the 23 Rajagopal coordinates (OpenSim: x forward, y up).

    ``ranges``: (23, 2) coordinate limits; ``pelvis_height``: standing pelvis_ty in m.
    """
    names = list(RAJAGOPAL_COORDINATES)
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    ph = lambda: float(rng.uniform(-0.3, 0.3))  # noqa: E731
    heading = u(-np.pi, np.pi)
    if kind in ("walk", "turn", "run"):
        run = kind == "run"
        curves = "run" if run else "walk"
        if run:
            f = u(1.25, 1.5)  # stride frequency (Hz)
        else:
            stature = pelvis_height / PELVIS_STATURE["rajagopal"]
            speed = walk_speed(rng, stature)
            f = walk_frequency(speed, stature)
        b = _Builder(names, f)
        s = u(0.75, 1.15)
        asym = u(-0.12, 0.12)
        if run:
            speed = u(2.5, 3.5)  # the planner caps a stance's COM travel (RUN_TRAVEL in hdys.physics.gait)
        shift = {}
        for side, p0, g in (("r", 0.0, 1 + asym), ("l", np.pi, 1 - asym)):
            sg = s * g
            jit = ph() / 3
            shift[{"r": "right", "l": "left"}[side]] = p0 + jit
            b.set(f"hip_flexion_{side}", *_gait_terms(curves, "hip", sg, p0, jitter=jit))
            b.set(f"hip_adduction_{side}", u(-0.05, 0.05), [(sg * 0.07, 1, p0 + np.pi / 2 + ph())])
            b.set(f"hip_rotation_{side}", u(-0.1, 0.1), [(sg * 0.08, 1, p0 + ph())])
            b.set(f"knee_angle_{side}", *_gait_terms(curves, "knee", sg, p0, jitter=jit))
            mean, terms = _gait_terms(curves, "ankle", sg, p0, jitter=jit)
            b.set(f"ankle_angle_{side}", mean + u(-0.05, 0.05), terms)
            b.set(f"subtalar_angle_{side}", u(-0.05, 0.05), [(sg * 0.08, 1, p0 + ph())])
            b.set(f"mtp_angle_{side}", 0.05, [(sg * 0.05, 1, p0 + ph())])
        tilt = u(-0.15, 0.0)  # anterior pelvic tilt
        b.set("pelvis_tilt", tilt, [(0.04 * s, 2, ph())])
        b.set("pelvis_list", 0.0, [(0.06 * s, 1, ph())])
        rate = _turn_rate(kind, rng)
        if rate:  # the heading coordinate stays inside its +-pi range for TURN_SECONDS
            lo, hi = -np.pi + 0.3, np.pi - 0.3 - TURN_SECONDS * abs(rate)
            heading = float(np.sign(rate) * (lo + (heading + np.pi) / (2 * np.pi) * (hi - lo)))
        # walking: the pelvis turns forward on the side of the leading leg, most at its heel strike (a longer step)
        turn_phase = ph() if run else np.pi / 2 + shift["right"] + ph() / 3
        b.set("pelvis_rotation", heading, [(0.1 * s, 1, turn_phase)], slope=rate)
        b.set("pelvis_tx", u(-1, 1), [(0.02, 2, ph())], slope=speed * np.cos(heading))
        b.set("pelvis_tz", u(-1, 1), [(0.03, 1, ph())], slope=-speed * np.sin(heading))
        b.set("pelvis_ty", pelvis_height - (0.06 if run else 0.02), [((0.05 if run else 0.02) * s, 2, ph())])
        # the trunk 0-6 deg forward of upright in walking, 0-17 in running
        b.set("lumbar_extension", u(-0.15, 0.0) if run else -tilt - u(0.0, 0.1), [(0.05 * s, 2, ph())])
        b.set("lumbar_bending", 0.0, [(0.05 * s, 1, ph())])
        b.set("lumbar_rotation", 0.0, [(0.1 * s, 1, np.pi + ph())])
    elif kind in ("squat", "sit_to_stand"):
        sts = kind == "sit_to_stand"
        f = u(0.15, 0.25) if sts else u(0.25, 0.45)
        b = _Builder(names, f)
        d = u(0.7, 1.0)  # depth
        flat = 0.12 if sts else 0.0  # second harmonic flattens the extremes (pauses seated/standing)
        for side in ("r", "l"):
            g = 1 + u(-0.08, 0.08)
            b.set(f"hip_flexion_{side}", 0.9 * d, [(0.8 * d * g, 1, -np.pi / 2), (flat, 3, np.pi / 2)])
            b.set(f"hip_adduction_{side}", u(-0.15, 0.0), [(0.05, 1, ph())])
            b.set(f"hip_rotation_{side}", u(-0.15, 0.1), [(0.04, 1, ph())])
            b.set(f"knee_angle_{side}", 1.0 * d, [(0.9 * d * g, 1, -np.pi / 2), (flat, 3, np.pi / 2)])
            b.set(f"ankle_angle_{side}", 0.15 * d, [(0.15 * d * g, 1, -np.pi / 2)])
            b.set(f"subtalar_angle_{side}", u(-0.05, 0.05), [(0.03, 1, ph())])
            b.set(f"mtp_angle_{side}", u(0.0, 0.1), [(0.03, 1, ph())])
        b.set("pelvis_tilt", -0.2 * d, [(0.2 * d, 1, np.pi / 2)])
        b.set("pelvis_list", 0.0, [(0.02, 1, ph())])
        b.set("pelvis_rotation", heading, [(0.03, 1, ph())])
        drop = (0.45 if sts else 0.35) * d
        b.set("pelvis_ty", pelvis_height - drop / 2, [(drop / 2, 1, np.pi / 2)])
        b.set("pelvis_tx", u(-1, 1), [(0.08 * d, 1, np.pi / 2)])
        b.set("pelvis_tz", u(-1, 1), [(0.01, 1, ph())])
        b.set("lumbar_extension", -0.2 * d, [(0.2 * d, 1, np.pi / 2)])
        b.set("lumbar_bending", 0.0, [(0.03, 1, ph())])
        b.set("lumbar_rotation", 0.0, [(0.04, 1, ph())])
    elif kind in ("jump", "jumping_jack"):  # legs flex most at mid-stance; a jack abducts on the "apart" hops
        jack = kind == "jumping_jack"
        hop = _hop(rng, jack)
        b = _Builder(names, hop["base"])
        mid, apart = _hop_phases(hop)
        hh = hop["harmonic"]
        for side in ("r", "l"):
            b.set(f"hip_flexion_{side}", u(0.25, 0.4), [(u(0.2, 0.3), hh, mid)])
            b.set(f"knee_angle_{side}", u(0.4, 0.6), [(u(0.3, 0.4), hh, mid)])
            b.set(f"ankle_angle_{side}", u(0.0, 0.1), [(0.15, hh, mid)])
            b.set(f"hip_adduction_{side}", -0.12 if jack else u(-0.05, 0.0), [(-0.12, 1, apart)] if jack else [])
            b.set(f"hip_rotation_{side}", u(-0.1, 0.1))
            b.set(f"subtalar_angle_{side}", u(-0.05, 0.05))
            b.set(f"mtp_angle_{side}", u(0.0, 0.1))
        b.set("pelvis_tilt", u(-0.15, -0.05), [(0.05, hh, mid)])
        b.set("pelvis_rotation", heading)
        b.set("pelvis_tx", u(-1, 1))
        b.set("pelvis_tz", u(-1, 1))
        b.set("pelvis_ty", pelvis_height - 0.05)
        b.set("lumbar_extension", u(-0.15, 0.0), [(0.05, hh, mid)])
    elif kind == "cmj":  # reference angles only: the jump planner moves the COM and the feet
        cmj = _cmj(rng)
        ref = _cmj_references(cmj)
        b = _Builder(names, cmj["freq"], k=CMJ_HARMONICS)
        for side in ("r", "l"):  # at the bottom: hips ~70, knees ~80, ankles ~20 degrees
            _profile(b, cmj, f"hip_flexion_{side}", 0.05, u(1.1, 1.3) * ref["dip"])
            _profile(b, cmj, f"knee_angle_{side}", 0.1, u(1.3, 1.5) * ref["dip"])
            _profile(b, cmj, f"ankle_angle_{side}", 0.05, 0.3 * ref["dip"])
            b.set(f"hip_adduction_{side}", u(-0.08, 0.0))
            b.set(f"hip_rotation_{side}", u(-0.1, 0.1))
            b.set(f"subtalar_angle_{side}", u(-0.05, 0.05))
            b.set(f"mtp_angle_{side}", u(0.0, 0.1))
        _profile(b, cmj, "pelvis_tilt", u(-0.1, 0.0), -u(0.4, 0.6) * ref["dip"])  # the trunk leans forward
        _profile(b, cmj, "lumbar_extension", u(-0.1, 0.0), -0.2 * ref["dip"])
        b.set("pelvis_rotation", heading)
        b.set("pelvis_tx", u(-1, 1))
        b.set("pelvis_tz", u(-1, 1))
        b.set("pelvis_ty", pelvis_height - 0.02)
    elif kind in ARM_KINDS:  # standing still, a little sway; the arms: rajagopal_arms
        b = _Builder(names, u(0.4, 0.7) if kind == "curl" else u(0.2, 0.4))
        for side in ("r", "l"):
            b.set(f"hip_flexion_{side}", u(0.0, 0.1), [(0.01, 1, ph())])
            b.set(f"hip_adduction_{side}", u(-0.08, 0.0))
            b.set(f"hip_rotation_{side}", u(-0.1, 0.1))
            b.set(f"knee_angle_{side}", u(0.05, 0.15), [(0.01, 1, ph())])
            b.set(f"ankle_angle_{side}", u(0.0, 0.05))
            b.set(f"subtalar_angle_{side}", u(-0.05, 0.05))
            b.set(f"mtp_angle_{side}", u(0.0, 0.1))
        b.set("pelvis_tilt", u(-0.1, 0.0), [(0.01, 1, ph())])
        b.set("pelvis_list", 0.0, [(0.01, 1, ph())])
        b.set("pelvis_rotation", heading)
        b.set("pelvis_tx", u(-1, 1))
        b.set("pelvis_tz", u(-1, 1))
        b.set("pelvis_ty", pelvis_height - 0.01)
        b.set("lumbar_extension", u(-0.05, 0.05), [(0.02, 1, ph())])
    elif kind in ("kick", "lunge", "step_up"):  # reference angles only: the step planner moves the feet
        steps = _steps(kind, rng)
        b = _Builder(names, steps["freq"])
        mid = _peak_phase(steps, 0.475 if kind == "kick" else 0.5)
        for i, side in enumerate(("l", "r")):
            moving = i == steps["side"]
            if kind == "step_up":  # both legs flex most while one foot is up on the platform and one is not
                up = _peak_phase(steps, 0.25 if moving else 0.75)
                b.set(f"hip_flexion_{side}", 0.35, [(0.3, 1, up)])
                b.set(f"knee_angle_{side}", 0.45, [(0.4, 1, up)])
            elif kind == "kick":
                b.set(f"hip_flexion_{side}", 0.35 if moving else 0.05, [(0.35, 1, mid)] if moving else [])
                b.set(f"knee_angle_{side}", 0.3 if moving else 0.1, [(0.2, 1, mid + np.pi)] if moving else [])
            else:
                b.set(f"hip_flexion_{side}", 0.4 if moving else 0.0, [(0.4 if moving else 0.1, 1, mid)])
                b.set(f"knee_angle_{side}", 0.6, [(0.6, 1, mid)])
            b.set(f"ankle_angle_{side}", u(0.0, 0.1))
            b.set(f"hip_adduction_{side}", u(-0.05, 0.0))
            b.set(f"subtalar_angle_{side}", u(-0.05, 0.05))
            b.set(f"mtp_angle_{side}", u(0.0, 0.1))
        b.set("pelvis_tilt", u(-0.1, 0.0))
        if kind == "step_up":  # the trunk leans forward most as the body rises onto (and lowers off) the platform
            b.set("pelvis_tilt", -u(0.3, 0.4), [(0.15, 2, _peak_phase(steps, 0.3) * 2 + np.pi)])
        b.set("pelvis_rotation", heading)
        b.set("pelvis_tx", u(-1, 1))
        b.set("pelvis_tz", u(-1, 1))
        b.set("pelvis_ty", pelvis_height - 0.02)
        b.set("lumbar_extension", u(-0.1, 0.0))
    else:
        raise ValueError(f"unknown Rajagopal motion {kind!r}; expected one of {RAJAGOPAL_KINDS + ARM_KINDS}")
    ranges = np.asarray(ranges, float)
    out = b.build(ranges[:, 0], ranges[:, 1])
    if kind in ("jump", "jumping_jack"):
        out.gait = _hop_gait(hop, kind == "jumping_jack")
    elif kind in ("kick", "lunge", "step_up"):
        out.gait = steps
    elif kind == "cmj":
        out.gait = cmj
    if kind in ("walk", "turn", "run"):
        out.gait = {"freq": f, "duty": _duty(curves, rng, speed), "shift": shift}
    return out


# The dumbbell in each hand, kg; other motions none. Fixed: a load drawn per sequence is invisible in every
# kinematics input and changes the shape of the biceps activation, not only its scale (benchmarks/RESULTS.md).
HAND_LOAD_KG = {"curl": 4.0, "arm_raise": 1.5}


def rajagopal_arms(kind: str, rng: np.random.Generator, motion: Fourier, ranges: np.ndarray) -> Fourier:
    """The arms (``bodies.ARM_COORDINATES``: arm_flex, arm_add, arm_rot, elbow_flex per side, right first) for
    the Rajagopal ``motion`` of ``kind``, on its frequencies, so that they move with the legs.

    Walking and turning: each arm swings against its own side's hip (``-c (hip_flexion - mean)``, c 0.5-0.9:
    about +-10-15 deg, cf. the 30-40 deg shoulder range of normal walking; Collins SH, Adamczyk PG, Kuo AD
    (2009) Dynamic arm swinging in human walking, Proc R Soc B 276:3679-3688), elbows bent 0.2-0.5 rad and
    flexing further as the arm swings forward; running: elbows at 1.3-1.6 rad and a larger swing. Squats
    and sit-to-stand: the arms reach forward as the hips flex (0-0.8 of the hip angle). Hops and jumps
    swing the arms back as the hips flex; jumping jacks raise them sideways overhead with the legs' spread.
    Kicks, lunges and step-ups: arms hanging. ``curl``: elbows flex from ~0.2 rad to 1.7-2.2 rad once per cycle
    (both arms together or alternating), upper arms still; ``arm_raise``: straight arms raised forward
    (flexion) or sideways (abduction) to 1.3-2.6 rad and lowered. Every arm holds slightly away from the
    trunk (arm_add -0.05 to -0.15 rad). Amplitudes are then fitted into ``ranges`` (8, 2)."""
    k = motion.amp.shape[1]
    d = 8
    mean, amp, phase = np.zeros(d), np.zeros((d, k)), np.zeros((d, k))
    omega = np.tile(motion.omega[0], (d, 1))
    col = {n: i for i, n in enumerate(RAJAGOPAL_COORDINATES)}
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731

    def couple(i: int, coord: str, c: float) -> None:  # arm coordinate i += c (coord - its mean)
        amp[i] += c * motion.amp[col[coord]]
        phase[i] = motion.phase[col[coord]]

    alternate = rng.uniform() < 0.5
    front = rng.uniform() < 0.5
    for s, side in enumerate(("r", "l")):
        flex, add, rot, elbow = 4 * s, 4 * s + 1, 4 * s + 2, 4 * s + 3
        mean[add], mean[rot], mean[elbow] = -u(0.05, 0.15), u(-0.1, 0.2), u(0.2, 0.5)
        hip = f"hip_flexion_{side}"
        if kind in ("walk", "turn", "run"):
            c = u(0.5, 0.9) * (1.5 if kind == "run" else 1.0)
            couple(flex, hip, -c)
            if kind == "run":
                mean[elbow] = u(1.3, 1.6)
            couple(elbow, hip, -0.4 * c)
        elif kind in ("squat", "sit_to_stand"):
            c = u(0.0, 0.8)
            mean[flex] = c * motion.mean[col[hip]]
            couple(flex, hip, c)
        elif kind in ("jump", "cmj"):
            c = u(0.5, 1.0)
            mean[flex] = -c * 0.3
            couple(flex, hip, -c)
        elif kind == "jumping_jack":  # hip_adduction swings 0 (together) to about -0.24 (apart)
            c = u(8.0, 10.5)
            mean[add] = mean[add] + c * motion.mean[col[f"hip_adduction_{side}"]]
            couple(add, f"hip_adduction_{side}", c)
        elif kind in ARM_KINDS:
            p0 = -np.pi / 2 + (np.pi if alternate and side == "l" else 0.0)  # sin(p0) = -1: lowered
            p0 += float(rng.uniform(-0.1, 0.1))
            if kind == "curl":
                low, top = u(0.1, 0.3), u(1.7, 2.2)
                mean[elbow], amp[elbow, 0], phase[elbow, 0] = (low + top) / 2, (top - low) / 2, p0
                mean[flex] = u(0.0, 0.15)
            else:
                top = u(1.3, 2.6)
                i = flex if front else add
                sign = 1.0 if front else -1.0
                mean[i] += sign * top / 2
                amp[i, 0], phase[i, 0] = sign * top / 2, p0
                mean[elbow] = u(0.05, 0.2)
    fit_to_limits(mean, amp, ranges[:, 0], ranges[:, 1], 0.03, omega, phase)
    return Fourier(mean, np.zeros(d), amp, omega, phase)


# ---------------------------------------------------------------------------------------------------
# SMPL

UPRIGHT = axis_rotation(0, np.array(np.pi / 2))  # SMPL rest frame (y up) -> z-up world


def smpl_trajectory(motion: Fourier, t: np.ndarray) -> SmplTrajectory:
    """Evaluate an SMPL motion (75 columns: pelvis xyz, root yaw/pitch/roll, 23 x Euler xyz) at ``t``."""
    q, qd, qdd = motion(t)
    nt = t.shape[0]
    root_r, root_w, root_a = euler_chain(q[:, 3:6], qd[:, 3:6], qdd[:, 3:6], axes=(1, 0, 2))
    jr, jw, ja = euler_chain(q[:, 6:].reshape(nt, 23, 3), qd[:, 6:].reshape(nt, 23, 3),
                             qdd[:, 6:].reshape(nt, 23, 3))
    rot = np.concatenate([(UPRIGHT @ root_r)[:, None], jr], axis=1)
    return SmplTrajectory(q[:, :3], qd[:, :3], qdd[:, :3], rot,
                          np.concatenate([root_w[:, None], jw], 1), np.concatenate([root_a[:, None], ja], 1))


# Euler (x, y, z) limits of the left-side / central joints; right side mirrors (x, -y, -z).
SMPL_EULER_LIMITS = {
    "hip": ((-1.6, 0.4), (-0.5, 0.5), (-0.5, 0.4)), "knee": ((0.0, 2.0), (-0.05, 0.05), (-0.05, 0.05)),
    "ankle": ((-0.5, 0.6), (-0.25, 0.25), (-0.25, 0.25)), "foot": ((-0.3, 0.3), (-0.1, 0.1), (-0.1, 0.1)),
    "spine1": ((-0.3, 0.5), (-0.3, 0.3), (-0.25, 0.25)), "spine2": ((-0.2, 0.3), (-0.2, 0.2), (-0.2, 0.2)),
    "spine3": ((-0.2, 0.3), (-0.2, 0.2), (-0.2, 0.2)), "neck": ((-0.4, 0.5), (-0.5, 0.5), (-0.3, 0.3)),
    "head": ((-0.3, 0.3), (-0.4, 0.4), (-0.2, 0.2)), "collar": ((-0.15, 0.15), (-0.2, 0.2), (-0.2, 0.2)),
    "shoulder": ((-1.5, 0.6), (-0.8, 0.8), (-1.4, 0.5)), "elbow": ((-0.1, 0.1), (-2.0, 0.0), (-0.1, 0.1)),
    "wrist": ((-0.4, 0.4), (-0.4, 0.4), (-0.5, 0.5)), "hand": ((-0.2, 0.2), (-0.2, 0.2), (-0.3, 0.3)),
}


def smpl_euler_limits() -> np.ndarray:
    """(69, 2) Euler-angle limits in the order SMPL_JOINT_NAMES[1:] x (x, y, z)."""
    out = []
    for name in SMPL_JOINT_NAMES[1:]:
        lim = np.array(SMPL_EULER_LIMITS[name.removeprefix("left_").removeprefix("right_")], float)
        if name.startswith("right_"):
            lim[1:] = -lim[1:, ::-1]
        out.append(lim)
    return np.concatenate(out)


HANGING_ARM = 1.2  # rad: |shoulder_z| of an arm hanging at the side (0: the T-pose)


def _lateral_raise(b: _Builder, side: str, sx: float, top: float, phase: float) -> None:
    """SMPL ``shoulder_z`` swinging once per cycle between hanging (at ``sin(phase) = -1``) and ``top``
    rad above horizontal; ``sx`` mirrors the right side."""
    b.set(f"{side}_shoulder_z", sx * (top - HANGING_ARM) / 2, [(sx * (top + HANGING_ARM) / 2, 1, phase)])


def smpl_motion(kind: str, rng: np.random.Generator, pelvis_height: float) -> Fourier:
    """A randomised SMPL motion (75 columns, see :func:`smpl_trajectory`); the world is z up."""
    names = ["px", "py", "pz", "yaw", "pitch", "roll"] + [f"{j}_{a}" for j in SMPL_JOINT_NAMES[1:] for a in "xyz"]
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    ph = lambda: float(rng.uniform(-0.3, 0.3))  # noqa: E731
    heading = u(-np.pi, np.pi)
    direction = np.array([np.sin(heading), -np.cos(heading)])  # world xy of the body's forward (+z)
    if kind not in SMPL_KINDS:
        raise ValueError(f"unknown SMPL motion {kind!r}; expected one of {SMPL_KINDS}")
    hop = _hop(rng, kind == "jumping_jack") if kind in ("jump", "jumping_jack") else None
    steps = _steps(kind, rng) if kind in ("kick", "lunge", "step_up") else None
    cmj = _cmj(rng) if kind == "cmj" else None
    # (every entry is drawn, so the other motions keep their draws; walks take their frequency from their speed)
    f = {"walk": u(0.8, 1.0), "turn": u(0.8, 1.0), "run": u(1.25, 1.5), "squat": u(0.25, 0.45), "free": u(0.2, 0.5),
         "arm_raise": u(0.2, 0.4), "curl": u(0.4, 0.7)}.get(kind) or (
        hop["base"] if hop else cmj["freq"] if cmj else steps["freq"])
    stature = pelvis_height / PELVIS_STATURE["smpl"]
    speed = walk_speed(rng, stature) if kind in ("walk", "turn") else None
    if speed is not None:
        f = walk_frequency(speed, stature)
    b = _Builder(names, f, k=CMJ_HARMONICS if cmj else 4)
    for side, sx in (("left", 1.0), ("right", -1.0)):  # relaxed arms; sx mirrors y/z rotations
        b.set(f"{side}_shoulder_z", -sx * u(1.1, 1.3))
        b.set(f"{side}_elbow_y", -sx * u(0.2, 0.4))
    b.set("yaw", heading)
    if kind in ("walk", "turn", "run"):
        curves = "run" if kind == "run" else "walk"
        s, asym = u(0.75, 1.15), u(-0.12, 0.12)
        if kind == "run":
            speed = u(2.0, 3.0)
        shift = {}
        for side, sx, p0, g in (("left", 1.0, 0.0, 1 + asym), ("right", -1.0, np.pi, 1 - asym)):
            sg = s * g
            jit = ph() / 3
            shift[side] = p0 + jit
            # SMPL x rotations: hip flexion and ankle dorsiflexion are negative, knee flexion positive
            b.set(f"{side}_hip_x", *_gait_terms(curves, "hip", sg, p0, sign=-1.0, jitter=jit))
            b.set(f"{side}_knee_x", *_gait_terms(curves, "knee", sg, p0, jitter=jit))
            b.set(f"{side}_ankle_x", *_gait_terms(curves, "ankle", sg, p0, sign=-1.0, jitter=jit))
            b.set(f"{side}_hip_z", 0.0, [(sx * 0.06 * sg, 1, p0 + ph())])
            b.set(f"{side}_shoulder_x", 0.0, [(0.35 * sg, 1, p0 + ph())])  # opposite to the same-side hip
            if kind == "run":  # elbows bent about 80 degrees
                b.set(f"{side}_elbow_y", -sx * u(1.2, 1.5), [(-sx * 0.15 * sg, 1, p0 + ph())])
        b.set("spine1_y", 0.0, [(0.08 * s, 1, ph())])
        b.set("pitch", u(0.0, 0.1), [(0.03 * s, 2, ph())])
        b.set("roll", 0.0, [(0.05 * s, 1, ph())])
        # walking: the pelvis turns forward on the side of the leading leg, most at its heel strike (a longer step)
        turn_phase = ph() if kind == "run" else -np.pi / 2 + shift["left"] + ph() / 3
        b.set("yaw", heading, [(0.08 * s, 1, turn_phase)], slope=_turn_rate(kind, rng))
        for i in range(2):
            b.set(("px", "py")[i], u(-1, 1), [(0.02, 2, ph())], slope=speed * direction[i])
        b.set("pz", pelvis_height - 0.02, [(0.02 * s, 2, ph())])
    elif kind == "squat":
        d = u(0.6, 1.0)
        for side, sx in (("left", 1.0), ("right", -1.0)):
            g = 1 + u(-0.08, 0.08)
            b.set(f"{side}_hip_x", -0.8 * d, [(-0.75 * d * g, 1, -np.pi / 2)])
            b.set(f"{side}_knee_x", 0.9 * d, [(0.85 * d * g, 1, -np.pi / 2)])
            b.set(f"{side}_ankle_x", -0.15 * d, [(-0.15 * d * g, 1, -np.pi / 2)])
            b.set(f"{side}_shoulder_x", -0.5 * d, [(-0.5 * d, 1, -np.pi / 2)])  # arms forward for balance
        b.set("spine1_x", 0.2 * d, [(0.2 * d, 1, -np.pi / 2)])
        b.set("pz", pelvis_height - 0.2 * d, [(0.2 * d, 1, np.pi / 2)])
        b.set("px", u(-1, 1), [(0.05 * d * direction[0], 1, np.pi / 2)])
        b.set("py", u(-1, 1), [(0.05 * d * direction[1], 1, np.pi / 2)])
    elif kind in ("arm_raise", "curl"):  # standing still; both arms (in phase or alternating)
        alternate = rng.uniform() < 0.5
        front = rng.uniform() < 0.5  # arm_raise: forward flexion, else lateral abduction
        for side, sx in (("left", 1.0), ("right", -1.0)):
            p0 = -np.pi / 2 + (np.pi if alternate and side == "right" else 0.0)  # sin(p0) = -1: arm down
            if kind == "curl":  # elbow flexion from the relaxed ~0.3 rad to 1.5-1.9 rad, upper arm still
                top = u(1.5, 1.9)
                b.set(f"{side}_elbow_y", -sx * (0.3 + top) / 2, [(-sx * (top - 0.3) / 2, 1, p0 + ph() / 3)])
                b.set(f"{side}_shoulder_x", u(-0.15, 0.0), [(0.05, 1, p0 + ph())])
            elif front:  # the lowered arm swings forward to horizontal or a little below
                top = u(1.1, 1.45)
                b.set(f"{side}_shoulder_x", -top / 2, [(-top / 2, 1, p0 + ph() / 3)])
            else:  # lateral raise from hanging to horizontal or above (up to +0.35)
                _lateral_raise(b, side, sx, u(0.0, 0.35), p0 + ph() / 3)
        b.set("spine1_x", u(-0.05, 0.05), [(0.02, 1, ph())])
        b.set("pz", pelvis_height - 0.01, [(0.003, 1, ph())])
        b.set("px", u(-1, 1))
        b.set("py", u(-1, 1))
    elif hop is not None:  # hopping in place / jumping jacks (timing: _hop; the feet: the foot planner)
        jack = kind == "jumping_jack"
        mid, apart = _hop_phases(hop)
        hh = hop["harmonic"]
        for side, sx in (("left", 1.0), ("right", -1.0)):
            b.set(f"{side}_hip_x", -u(0.25, 0.4), [(-u(0.2, 0.3), hh, mid)])
            b.set(f"{side}_knee_x", u(0.4, 0.6), [(u(0.3, 0.4), hh, mid)])
            b.set(f"{side}_ankle_x", -u(0.0, 0.1), [(-0.15, hh, mid)])
            if jack:  # legs apart and arms overhead together (lateral raise from hanging to 0.3-0.45 rad up)
                b.set(f"{side}_hip_z", sx * 0.12, [(sx * 0.12, 1, apart)])
                _lateral_raise(b, side, sx, u(0.3, 0.45), apart)
            else:  # arms swing forward with the push-off
                b.set(f"{side}_shoulder_x", -0.3, [(-0.3, hh, mid + np.pi / 2)])
        b.set("spine1_x", u(0.0, 0.1), [(0.05, hh, mid)])
        b.set("pz", pelvis_height - 0.05)
        b.set("px", u(-1, 1))
        b.set("py", u(-1, 1))
    elif cmj is not None:  # reference angles only: the jump planner moves the COM and the feet
        ref = _cmj_references(cmj)
        for side, sx in (("left", 1.0), ("right", -1.0)):
            _profile(b, cmj, f"{side}_hip_x", -0.05, -u(1.1, 1.3) * ref["dip"])
            _profile(b, cmj, f"{side}_knee_x", 0.1, u(1.3, 1.5) * ref["dip"])
            _profile(b, cmj, f"{side}_ankle_x", -0.05, -0.3 * ref["dip"])
            # arms swing back in the countermovement and forward and up through take-off and flight
            _profile(b, cmj, f"{side}_shoulder_x", 0.0, 0.5 * ref["back"] - u(1.0, 1.3) * ref["up"])
        _profile(b, cmj, "spine1_x", u(0.0, 0.1), 0.4 * ref["dip"])
        b.set("pz", pelvis_height - 0.02)
        b.set("px", u(-1, 1))
        b.set("py", u(-1, 1))
    elif steps is not None:  # reference angles only: the step planner moves the feet
        mid = _peak_phase(steps, 0.475 if kind == "kick" else 0.5)
        for i, side in enumerate(("left", "right")):
            moving = i == steps["side"]
            if kind == "step_up":  # SMPL x rotations: hip flexion negative, knee flexion positive
                up = _peak_phase(steps, 0.25 if moving else 0.75)
                b.set(f"{side}_hip_x", -0.35, [(-0.3, 1, up)])
                b.set(f"{side}_knee_x", 0.45, [(0.4, 1, up)])
            elif kind == "kick":
                b.set(f"{side}_hip_x", -0.35 if moving else -0.05, [(-0.35, 1, mid)] if moving else [])
                b.set(f"{side}_knee_x", 0.3 if moving else 0.1, [(0.2, 1, mid + np.pi)] if moving else [])
            else:
                b.set(f"{side}_hip_x", -0.4 if moving else 0.0, [(-0.4 if moving else -0.1, 1, mid)])
                b.set(f"{side}_knee_x", 0.6, [(0.6, 1, mid)])
        b.set("spine1_x", u(0.0, 0.1))
        b.set("pz", pelvis_height - 0.02)
        b.set("px", u(-1, 1))
        b.set("py", u(-1, 1))
    else:  # free: random smooth motion of every joint inside its limits, standing in place
        lim = smpl_euler_limits()
        for i, name in enumerate(names[6:]):
            lo, hi = lim[i]
            mid, half = (lo + hi) / 2, (hi - lo) / 2
            if name.endswith(("shoulder_z", "elbow_y")):
                mid = b.mean[b.index[name]]
            b.set(name, mid + u(-0.3, 0.3) * half,
                  [(u(0.2, 0.6) * half, h, u(0, 2 * np.pi)) for h in (1, 2, 3)])
        b.set("yaw", heading, [(0.3, 1, ph())])
        b.set("pz", pelvis_height - 0.05, [(0.04, 1, ph())])
        b.set("px", u(-1, 1), [(0.05, 1, ph())])
        b.set("py", u(-1, 1), [(0.05, 1, ph())])
    lim = smpl_euler_limits()
    lo = np.concatenate([np.full(6, -1e3), lim[:, 0]])
    hi = np.concatenate([np.full(6, 1e3), lim[:, 1]])
    out = b.build(lo, hi)
    if kind in ("walk", "turn", "run"):
        out.gait = {"freq": f, "duty": _duty(curves, rng, speed), "shift": shift}
    elif hop is not None:
        out.gait = _hop_gait(hop, kind == "jumping_jack")
    elif steps is not None:
        out.gait = steps
    elif cmj is not None:
        out.gait = cmj
    return out

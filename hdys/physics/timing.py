"""Typed gaits: the timing a motion generator (:mod:`hdys.physics.motions`) hands the foot planner
(:class:`hdys.physics.locomotion.GroundMotion` plans by the gait's type), and the draws that make them.

- :class:`Cyclic`: walking, turning and running, both legs on one stride cycle half a cycle apart;
- :class:`Hop`: two-footed hops in place (``jump``) and jumping jacks, both legs on one cycle;
- :class:`Kick`, :class:`Lunge`, :class:`StepUp` (:class:`Steps`): discrete moves of one foot on a slow cycle;
- :class:`Jump`: a maximal countermovement jump from standing, repeated once per cycle, whose COM height is
  designed here (:func:`cmj_height`).

A leg's cycle fraction is ``frac(freq t + shift / 2 pi)`` (from its heel strike in cyclic gaits). Lengths are
in m at 1.75 m stature; the planner scales them with the body.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from hdys.frames import G


@dataclass(frozen=True)
class Cyclic:
    """Walking, turning or running: the planner is :func:`hdys.physics.gait.walk_plan`."""

    freq: float  # stride frequency (Hz)
    duty: float  # stance fraction of the cycle (below one half: a run, with flight phases)
    shifts: tuple[float, float]  # (left, right) cycle offsets (rad)


@dataclass(frozen=True)
class Hop:
    """Hopping in place on both feet: the planner is :func:`hdys.physics.gait.walk_plan`."""

    freq: float  # hops per second
    duty: float  # stance fraction of the cycle
    shift: float  # both legs' cycle offset (rad)
    spread: float  # m: a jumping jack's feet land this much further apart on every other hop (0: plain hops)

    @property
    def shifts(self) -> tuple[float, float]:
        """(left, right) cycle offsets (rad), as :class:`Cyclic`'s."""
        return self.shift, self.shift


@dataclass(frozen=True)
class Steps:
    """Discrete moves of one foot on a slow cycle: the planner is :func:`hdys.physics.plans.steps_plan`."""

    freq: float  # cycles per second
    side: int  # the moving (leading) foot: 0 left, 1 right
    shift: float  # cycle offset (rad)


@dataclass(frozen=True)
class Kick(Steps):
    """A kick: the moving foot swings forward and up and back onto its footprint."""

    forward: float  # m: how far forward the kicking foot reaches ...
    up: float  # ... and how far up


@dataclass(frozen=True)
class Lunge(Steps):
    """A lunge: the leading foot steps forward, the body lowers and rises, the foot steps back."""

    length: float  # m: the lead foot's step forward
    depth: float  # m: the pelvis's further drop below the feet-apart stance


@dataclass(frozen=True)
class StepUp(Steps):
    """A step-up onto a platform and back down."""

    length: float  # m: step length onto the platform
    height: float  # m: the platform's height


@dataclass(frozen=True)
class Jump:
    """A countermovement jump, repeated once per cycle: the planner is :func:`hdys.physics.plans.cmj_plan`."""

    start: float  # s: the first jump's start (of the countermovement)
    down: float  # s: countermovement duration
    push: float  # propulsion time / a constant force's (below one: the force is highest early, a plateau)
    depth: float  # m: COM dip of the countermovement
    land: float  # landing time to the lowest point / a constant deceleration's (above one: the force builds up)
    land_depth: float  # m: the landing's depth
    recover: float  # the rise back to standing takes sqrt(recover land_depth / acceleration)
    height: float  # m: COM rise after take-off
    freq: float  # jumps per second (the jump and a pause standing)


Gait = Cyclic | Hop | Kick | Lunge | StepUp | Jump

# ---------------------------------------------------------------------------------------------------
# Walking and running

GAIT_DUTY = {"walk": 0.6, "run": 0.38}  # stance fraction (toe-off) in hdys.physics.motions.GAIT_CURVES
WALK_SPEED = (0.8, 1.8)  # m/s at 1.75 m stature, scaled by sqrt(stature / 1.75) (equal Froude numbers)
# Step length / cadence (m per step/min), the "walk ratio", which a person keeps nearly constant across
# walking speeds (Sekiya N. & Nagasaki H. 1998, "Reproducibility of the walking patterns of normal young
# adults: test-retest reliability of the walk ratio", Gait & Posture 7:225-227): this value for a 1.75 m
# adult (0.58 m steps at 82 steps/min, 0.8 m/s), scaled with stature.
WALK_RATIO = 0.0071
WALK_STEP_MAX = 0.45  # longest step / stature: faster walks take quicker steps instead (~135 steps/min at 1.8 m/s)
# walking duty factor = WALK_DUTY_AT_0 - WALK_DUTY_SLOPE x speed (m/s), clipped to WALK_DUTY_RANGE: 0.60 at 0.8 m/s,
# 0.56 at 1.8 m/s (double support shrinks as walking gets faster; Murray M.P., Kory R.C., Clarkson B.H. & Sepic
# S.B. 1966, "Comparison of free and fast speed walking patterns of normal men", Am J Phys Med 45(1))
WALK_DUTY_AT_0, WALK_DUTY_SLOPE = 0.64, 0.045
WALK_DUTY_RANGE = (0.56, 0.62)
# runs: +- this around GAIT_DUTY["run"] (contact times differ between runners; the stance force peak
# pi / (4 duty) is then 1.9-2.3 BW)
RUN_DUTY_SPREAD = 0.04


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


def duty(curves: str, rng: np.random.Generator, speed: float = 0.0) -> float:
    """Stance fraction of a walk at ``speed`` (m/s) or of a run (``curves``: ``"walk"`` or ``"run"``; a run
    draws its own)."""
    if curves == "walk":
        return float(np.clip(WALK_DUTY_AT_0 - WALK_DUTY_SLOPE * speed, *WALK_DUTY_RANGE))
    return GAIT_DUTY[curves] + float(rng.uniform(-RUN_DUTY_SPREAD, RUN_DUTY_SPREAD))


# ---------------------------------------------------------------------------------------------------
# Hops


@dataclass(frozen=True)
class HopRanges:
    """What a hop's timing draws (uniform in each range)."""

    freq: tuple[float, float]  # hops per second
    duty: tuple[float, float]  # stance fraction
    spread: float  # m: the feet's further spread on every other hop (``Hop.spread``)


# rebound hopping: about 0.2-0.27 s on the ground and in the air each
HOP = HopRanges(freq=(2.2, 2.6), duty=(0.45, 0.55), spread=0.0)
# jumping jacks: low hops (0.1-0.15 s in the air), the feet 0.2 m further apart on the "apart" hops
JACK = HopRanges(freq=(2.0, 2.4), duty=(0.7, 0.75), spread=0.2)


def hop_timing(rng: np.random.Generator, jack: bool) -> Hop:
    """The timing of two-footed hopping in place (``HOP``) or of jumping jacks (``JACK``)."""
    p = JACK if jack else HOP
    f = float(rng.uniform(*p.freq))
    stance = float(rng.uniform(*p.duty))
    return Hop(freq=f, duty=stance, shift=float(rng.uniform(-np.pi, np.pi)), spread=p.spread)


# ---------------------------------------------------------------------------------------------------
# Kicks, lunges and step-ups

# (class, uniform ranges in the order drawn after the moving foot and the cycle offset: cycles per second, then
# the class's two lengths in m)
STEPS = {
    "kick": (Kick, (0.4, 0.6), (0.35, 0.5), (0.2, 0.35)),  # reach forward and up
    "lunge": (Lunge, (0.25, 0.35), (0.5, 0.7), (0.05, 0.12)),  # step length, pelvis drop
    "step_up": (StepUp, (0.2, 0.3), (0.38, 0.48), (0.15, 0.3)),  # step length, platform height; once per 3.3-5 s
}


def steps_timing(kind: str, rng: np.random.Generator) -> Steps:
    """A kick's, lunge's or step-up's timing (``STEPS``): moving foot, cycle offset, frequency and lengths."""
    cls, *ranges = STEPS[kind]
    side, shift = int(rng.integers(2)), float(rng.uniform(-np.pi, np.pi))
    freq, a, b = (float(rng.uniform(*r)) for r in ranges)
    return cls(freq, side, shift, a, b)


# ---------------------------------------------------------------------------------------------------
# Countermovement jumps
#
# The COM height is designed and the forces follow from it (F = m (g + z'')): quintic Hermite segments (C2
# throughout) from standing down to the bottom of the countermovement, up to take-off (leaving at the speed of
# the jump height with the force just reaching zero), a ballistic flight, a landing down to its lowest point
# and a recovery to standing. With the sampled timings the vertical force dips to 0.4-0.65 body weights while
# unweighting, stays at 2.4-2.8 BW through the propulsion and peaks at 3-4.7 BW on landing, as in maximal
# countermovement jumps (e.g. McMahon J.J., Suchomel T.J., Lake J.P., Comfort P. 2018, "Understanding the key
# phases of the countermovement jump force-time curve", Strength Cond J 40(4):96-106).
CMJ_REST = 0.03  # m at 1.75 m stature: standing COM below the neutral pose's (knees unlocked, ready)
CMJ_TAKEOFF = 0.04  # m at 1.75 m stature: COM above the neutral pose's at take-off (on the toes, legs extended)
CMJ_TOUCHDOWN = 0.0  # m at 1.75 m stature: COM height at touchdown (landing on the forefoot)
CMJ_BOTTOM_G = 1.4  # COM acceleration (in g) at the bottom of the countermovement and of the landing
CMJ_TALLEST = 1.95 / 1.75  # k of the tallest subject (hdys.physics.fixture.sample_subject): jumps scale in time


@dataclass(frozen=True)
class JumpRanges:
    """What a countermovement jump's timing draws (uniform in each range; :class:`Jump`'s fields)."""

    start: tuple[float, float] = (0.1, 0.5)  # s: the first jump's start
    down: tuple[float, float] = (0.45, 0.6)  # s: the countermovement
    push: tuple[float, float] = (0.78, 0.88)  # the propulsion's time / a constant force's
    depth: tuple[float, float] = (0.18, 0.26)  # m: the countermovement's COM dip
    land: tuple[float, float] = (1.2, 1.5)  # the landing's time / a constant deceleration's
    land_depth: tuple[float, float] = (0.12, 0.18)  # m: the landing's COM dip
    recover: tuple[float, float] = (12.0, 20.0)  # from 12 up the COM does not overshoot standing (force > 0.5 BW)
    height: tuple[float, float] = (0.7, 0.95)  # jump height / the push's COM travel (18-31 cm)
    pause: tuple[float, float] = (0.6, 1.2)  # s standing between jumps


JUMP = JumpRanges()


def jump_timing(rng: np.random.Generator) -> Jump:
    """A countermovement jump's timing (``JUMP``): higher jumps from deeper pushes, one per cycle."""
    start, down, push, depth, land, land_depth, recover = (
        float(rng.uniform(*r)) for r in (JUMP.start, JUMP.down, JUMP.push, JUMP.depth, JUMP.land, JUMP.land_depth,
                                         JUMP.recover))
    height = float(rng.uniform(*JUMP.height)) * (CMJ_REST + depth + CMJ_TAKEOFF)
    g = Jump(start, down, push, depth, land, land_depth, recover, height, freq=0.0)
    return replace(g, freq=1.0 / (cmj_schedule(g, CMJ_TALLEST)[-1] + float(rng.uniform(*JUMP.pause))))


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


def cmj_schedule(g: Jump, k: float) -> np.ndarray:
    """Times (s from the start of the countermovement) of the bottom, take-off, touchdown, landing's lowest
    point and the end of the recovery, for a body ``k`` = stature / 1.75 m."""
    v0 = np.sqrt(2 * G * g.height * k)
    up = g.push * 2 * (CMJ_REST + g.depth + CMJ_TAKEOFF) * k / v0
    drop = (CMJ_TAKEOFF - CMJ_TOUCHDOWN) * k
    v1 = np.sqrt(v0 ** 2 + 2 * G * drop)
    flight = (v0 + v1) / G
    land = g.land * 2 * (CMJ_TOUCHDOWN + CMJ_REST + g.land_depth) * k / v1
    recover = np.sqrt(g.recover * g.land_depth * k / (CMJ_BOTTOM_G * G))
    return np.cumsum([g.down, up, flight, land, recover])


def cmj_height(g: Jump, t: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COM height relative to the neutral pose's (m) and its first and second derivatives at times ``t``
    (s) of a countermovement-jump motion for a body ``k`` = stature / 1.75 m."""
    rest, bottom = -CMJ_REST * k, -(CMJ_REST + g.depth) * k
    take_off, touch, low = CMJ_TAKEOFF * k, CMJ_TOUCHDOWN * k, -(CMJ_REST + g.land_depth) * k
    v0 = np.sqrt(2 * G * g.height * k)
    v1 = np.sqrt(v0 ** 2 + 2 * G * (take_off - touch))
    a_low = CMJ_BOTTOM_G * G
    ends = cmj_schedule(g, k)
    starts = np.r_[0.0, ends[:-1]]
    stand, lowest, leave = (rest, 0.0, 0.0), (bottom, 0.0, a_low), (take_off, v0, -G)
    land, landed = (touch, -v1, -G), (low, 0.0, a_low)
    segments = [(stand, lowest), (lowest, leave), None, (land, landed), (landed, stand)]  # None: the flight
    tau = np.mod(t - g.start, 1.0 / g.freq)
    z, zd, zdd = np.full(t.shape, rest), np.zeros(t.shape), np.zeros(t.shape)
    for seg, a, b in zip(segments, starts, ends):
        m = (tau >= a) & (tau < b)
        s = tau[m] - a
        if seg is None:
            z[m], zd[m], zdd[m] = take_off + v0 * s - G * s ** 2 / 2, v0 - G * s, -G
        else:
            z[m], zd[m], zdd[m] = quintic(*seg, b - a, s)
    return z, zd, zdd

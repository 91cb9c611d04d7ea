"""Randomised motion generators: a registry of builders, one per kind of motion (Rajagopal body here; SMPL:
:mod:`hdys.physics.smpl_motions`).

Each builder draws a motion's parameters from ``rng`` and sets the terms of a :class:`hdys.physics.fourier.Builder`
(``mean + slope t + sum amp sin(omega t + phase)`` per coordinate, on harmonics of the motion's base frequency);
the dispatcher (:func:`rajagopal_motion`) fits the amplitudes into the joint limits and attach
the builder's typed gait (:mod:`hdys.physics.timing`), which the foot planner follows on the ground. The order of
the draws decides the corpus: a builder draws its parameters in a fixed order, and the registries' order is the
kinds' order (``RAJAGOPAL_KINDS``, ``ARM_KINDS``), which decides the motion plan.

Rajagopal motions are defined directly on the 23 coordinates; the SMPL builders (:mod:`hdys.physics.smpl_motions`)
share the records of the legs' numbers and the helpers here, and the arms (:mod:`hdys.physics.arm_motions`) move
with the legs. Parameter records hold each motion's numbers (rad unless stated; a ``(lo, hi)`` pair is drawn
uniformly); a :class:`Term` is a coordinate's mean and the amplitude of its oscillation.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable, NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter1d

from hdys.physics.arm_motions import HAND_LOAD_KG, rajagopal_arms
from hdys.physics.fourier import Builder, Fourier, periodic_fit
from hdys.physics.timing import (CMJ_REST, CMJ_TAKEOFF, Cyclic, Gait, Hop, Jump, Kick, Lunge, Steps, StepUp,
                                 cmj_height, cmj_schedule, duty, hop_timing, jump_timing, steps_timing, walk_frequency,
                                 walk_speed)
from hdys.schema import RAJAGOPAL_COORDINATES

__all__ = ["ARM_BUILDERS", "ARM_KINDS", "RAJAGOPAL_BUILDERS", "RAJAGOPAL_KINDS", "rajagopal_motion",
           # re-exported from hdys.physics.arm_motions for the modules and tests that import them from here
           "HAND_LOAD_KG", "rajagopal_arms"]

PELVIS_STATURE = {"rajagopal": 0.561, "smpl": 0.571}  # standing pelvis height / stature of hdys's bodies
PHASE_JITTER = 0.3  # rad: a sway's phase is drawn in +- this (of its own; a leg's share of it: a third)
START_XY = (-1.0, 1.0)  # m: where the pelvis starts on the floor, drawn on each horizontal axis
TURN_SECONDS = 6.0  # longest sequence of the presets; a turning Rajagopal pelvis stays inside +-pi for it
TURN_RATE = (0.3, 0.6)  # rad/s: a turn's heading rate, either way
TURN_MARGIN = 0.3  # rad: a turning Rajagopal heading keeps this far inside +-pi


class Term(NamedTuple):
    """A coordinate's mean (a ``(lo, hi)`` pair: drawn) and the amplitude of its oscillation."""

    mean: float | tuple[float, float]
    amp: float | tuple[float, float]


def draws(rng: np.random.Generator) -> tuple[Callable[[float, float], float], Callable[[], float]]:
    """``u(lo, hi)``, a uniform draw, and ``ph()``, a phase jitter in ``+-PHASE_JITTER``, both from ``rng``."""
    return (lambda a, b: float(rng.uniform(a, b))), (lambda: float(rng.uniform(-PHASE_JITTER, PHASE_JITTER)))


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


def gait_harmonics(kind: str, joint: str, k: int = 4) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares Fourier fit of a :data:`GAIT_CURVES` curve: ``mean + sum_h amp_h sin(2 pi h s + phase_h)``
    (radians); returns ``(mean, amp (k,), phase (k,))``."""
    s = np.linspace(0.0, 1.0, 400, endpoint=False)
    x, y = np.array(GAIT_CURVES[kind][joint], float).T
    return periodic_fit(np.deg2rad(np.interp(s, x, y)), k)


def gait_terms(kind: str, joint: str, scale: float, cycle_shift: float, sign: float = 1.0, jitter: float = 0.0):
    """(mean, terms) for :meth:`Builder.set`: the leg's cycle starts at ``cycle_shift`` (rad of the first
    harmonic; harmonic h is shifted by h times it), amplitudes scaled by ``scale``, sign flipped by ``sign``."""
    mean, amp, phase = gait_harmonics(kind, joint)
    return sign * mean, [(sign * scale * amp[h], h + 1, phase[h] + (h + 1) * (cycle_shift + jitter))
                         for h in range(len(amp))]


def turn_rate(kind: str, rng: np.random.Generator) -> float:
    """Heading rate (rad/s) of a walk along a circle (``turn``: ``TURN_RATE`` either way), else 0. The
    walking path itself is planned by :mod:`hdys.physics.locomotion` along the heading."""
    return float(rng.choice([-1.0, 1.0]) * rng.uniform(*TURN_RATE)) if kind == "turn" else 0.0


def hop_base(hop: Hop, jack: bool) -> tuple[float, int]:
    """(base frequency, harmonic of the hops): a jack's apart and together hops are one cycle, at half the hop
    frequency."""
    return (hop.freq / 2, 2) if jack else (hop.freq, 1)


def hop_phases(h: Hop) -> tuple[float, float]:
    """(phase of the hop harmonic peaking at mid-stance, phase of the jack's first harmonic peaking at the
    middle of the "apart" stances) for ``amp sin(omega t + phase)`` terms."""
    return h.shift - np.pi * h.duty + np.pi / 2, np.pi / 2 + h.shift / 2 - np.pi * h.duty / 2


def _peak_phase(g: Steps, u_peak: float) -> float:
    """Phase of ``sin(2 pi freq t + phase)`` peaking at cycle fraction ``u_peak`` of a step plan."""
    return np.pi / 2 + g.shift - 2 * np.pi * u_peak


CMJ_HARMONICS = 16  # Fourier terms of the reference angles over the jump cycle
CMJ_SMOOTH_S = 0.05  # s: Gaussian smoothing of the reference profiles (the trunk straightens over ~0.2 s)


def cmj_references(g: Jump) -> dict[str, np.ndarray]:
    """Unit profiles over one jump cycle (1024 samples from the start of the countermovement): ``dip`` (0
    standing, 1 at the bottom of the countermovement, the landing's share at its lowest point), ``back`` (the
    dip during the countermovement only: arms swing back) and ``up`` (0 standing, 1 from take-off through
    the flight)."""
    tau = np.arange(1024) / 1024 / g.freq
    z = cmj_height(g, tau + g.start, 1.0)[0] + CMJ_REST
    dip = np.maximum(-z, 0.0) / g.depth
    shapes = {"dip": dip, "back": np.where(tau < cmj_schedule(g, 1.0)[1], dip, 0.0),
              "up": np.clip(z / (CMJ_TAKEOFF + CMJ_REST), 0.0, 1.0)}
    sigma = CMJ_SMOOTH_S * g.freq * 1024  # the clipped profiles have corners: smooth them (periodically)
    return {k: gaussian_filter1d(v, sigma, mode="wrap") for k, v in shapes.items()}


def cmj_profile(b: Builder, g: Jump, name: str, base: float, shape: np.ndarray) -> None:
    """Coordinate ``name`` = ``base + shape`` over the jump cycle of ``g`` (``shape``: a combination of
    :func:`cmj_references` profiles), fitted with ``CMJ_HARMONICS`` terms."""
    mean, amp, phase = periodic_fit(shape, CMJ_HARMONICS)
    shift = 2 * np.pi * g.freq * g.start  # the samples start at t = start
    b.set(name, base + mean, [(amp[h], h + 1, phase[h] - (h + 1) * shift) for h in range(CMJ_HARMONICS)])


# ---------------------------------------------------------------------------------------------------
# Leg numbers shared by the bodies (flexion positive; the SMPL hip and ankle x rotations take the opposite sign)


@dataclass(frozen=True)
class HopLegs:
    """Hops and jumping jacks: the legs flex most at mid-stance (hop harmonic)."""

    hip: Term = Term((0.25, 0.4), (0.2, 0.3))  # hip flexion: mean and amplitude, both drawn
    knee: Term = Term((0.4, 0.6), (0.3, 0.4))  # knee flexion: mean and amplitude, both drawn
    ankle: Term = Term((0.0, 0.1), 0.15)  # ankle dorsiflexion: mean drawn
    jack_abduction: float = 0.12  # a jack's hip abduction: mean and first-harmonic amplitude (legs apart)
    trunk: float = 0.05  # trunk flexion with the legs' (Rajagopal pelvis tilt and lumbar, SMPL spine1)


@dataclass(frozen=True)
class JumpLegs:
    """Countermovement jumps: reference angles = mean + amplitude x the dip profile (at the bottom: hips ~70,
    knees ~80, ankles ~20 degrees)."""

    hip: Term = Term(0.05, (1.1, 1.3))  # hip flexion (amplitude drawn)
    knee: Term = Term(0.1, (1.3, 1.5))  # knee flexion (amplitude drawn)
    ankle: Term = Term(0.05, 0.3)  # ankle dorsiflexion


@dataclass(frozen=True)
class StepLegs:
    """Kicks, lunges and step-ups: the sagittal reference angles of the moving (leading) leg and of the other;
    the step planner moves the feet, these only guide the IK. Terms: first harmonic."""

    kick_peak: float = 0.475  # cycle fraction at which the kicking hip flexes most (the foot's reach peaks)
    kick_hip: Term = Term(0.35, 0.35)  # the kicking leg's hip ...
    kick_knee: Term = Term(0.3, 0.2)  # ... and knee, half a cycle later: bent as the foot leaves and lands
    kick_stance: tuple[float, float] = (0.05, 0.1)  # the other leg's hip and knee, still
    lunge_peak: float = 0.5  # cycle fraction of the lunge's lowest point
    lunge_hip: Term = Term(0.4, 0.4)  # the leading leg's hip
    lunge_rear_hip: float = 0.1  # the rear leg's hip amplitude (about 0)
    lunge_knee: Term = Term(0.6, 0.6)  # both knees
    step_up_peaks: tuple[float, float] = (0.25, 0.75)  # cycle fractions of the leading / trailing leg's most flexion
    step_up_hip: Term = Term(0.35, 0.3)  # (one foot up on the platform and the other not)
    step_up_knee: Term = Term(0.45, 0.4)


HOP_LEGS, JUMP_LEGS, STEP_LEGS = HopLegs(), JumpLegs(), StepLegs()


def _kick_leg(b: Builder, g: Kick, moving: bool, hip: str, knee: str, sign: float) -> None:
    """The kicking leg swings forward and back (the knee bending as the foot leaves and lands); the other stands."""
    p = STEP_LEGS
    mid = _peak_phase(g, p.kick_peak)
    b.set(hip, sign * p.kick_hip.mean if moving else sign * p.kick_stance[0],
          [(sign * p.kick_hip.amp, 1, mid)] if moving else [])
    b.set(knee, p.kick_knee.mean if moving else p.kick_stance[1], [(p.kick_knee.amp, 1, mid + np.pi)] if moving else [])


def _lunge_leg(b: Builder, g: Lunge, moving: bool, hip: str, knee: str, sign: float) -> None:
    """Both knees flex most at the lowest point, the leading hip too; the rear hip a little."""
    p = STEP_LEGS
    mid = _peak_phase(g, p.lunge_peak)
    b.set(hip, sign * p.lunge_hip.mean if moving else 0.0,
          [(sign * p.lunge_hip.amp if moving else sign * p.lunge_rear_hip, 1, mid)])
    b.set(knee, p.lunge_knee.mean, [(p.lunge_knee.amp, 1, mid)])


def _step_up_leg(b: Builder, g: StepUp, moving: bool, hip: str, knee: str, sign: float) -> None:
    """Each leg flexes most while its foot is up on the platform and the other's is not."""
    p = STEP_LEGS
    up = _peak_phase(g, p.step_up_peaks[0] if moving else p.step_up_peaks[1])
    b.set(hip, sign * p.step_up_hip.mean, [(sign * p.step_up_hip.amp, 1, up)])
    b.set(knee, p.step_up_knee.mean, [(p.step_up_knee.amp, 1, up)])


# a step motion's leg (``hip``, ``knee``: its coordinates; ``sign``: the hip flexion's), by the gait's type
STEP_LEG: dict[type, Callable[[Builder, Steps, bool, str, str, float], None]] = {
    Kick: _kick_leg, Lunge: _lunge_leg, StepUp: _step_up_leg}


# ---------------------------------------------------------------------------------------------------
# Rajagopal

RajagopalBuilder = Callable[[str, np.random.Generator, float, float], tuple[Builder, Gait | None]]


@dataclass(frozen=True)
class RajagopalCyclic:
    """Walks, turns and runs: the legs' sagittal angles follow ``GAIT_CURVES``, the other coordinates sway about
    their means. Leg amplitudes scale with ``sg`` (the motion's scale ``s`` times the leg's asymmetry factor),
    the pelvis's and trunk's with ``s``; harmonics of the stride frequency."""

    scale: tuple[float, float] = (0.75, 1.15)  # s: the motion's amplitudes relative to the curves'
    asym: tuple[float, float] = (-0.12, 0.12)  # the right leg's factor is 1 + asym, the left's 1 - asym
    run_freq: tuple[float, float] = (1.25, 1.5)  # Hz: a run's stride frequency (a walk's follows its speed)
    run_speed: tuple[float, float] = (2.5, 3.5)  # m/s; the planner caps a stance's COM travel (gait.RUN_TRAVEL)
    hip_adduction: Term = Term((-0.05, 0.05), 0.07)  # a quarter cycle after the hip flexion
    hip_rotation: Term = Term((-0.1, 0.1), 0.08)
    ankle: tuple[float, float] = (-0.05, 0.05)  # offset of the ankle curve's mean
    subtalar: Term = Term((-0.05, 0.05), 0.08)
    mtp: Term = Term(0.05, 0.05)
    pelvis_tilt: Term = Term((-0.15, 0.0), 0.04)  # anterior tilt; second harmonic
    pelvis_list: float = 0.06
    pelvis_rotation: float = 0.1  # walking: forward on the side of the leading leg, most at its heel strike
    pelvis_tx: float = 0.02  # m: fore-aft sway (second harmonic) about the travel
    pelvis_tz: float = 0.03  # m: lateral sway
    walk_pelvis: Term = Term(0.02, 0.02)  # m: a walk's pelvis below standing, and its rise and fall (2nd harmonic)
    run_pelvis: Term = Term(0.06, 0.05)  # m: a run's
    walk_lean: tuple[float, float] = (0.0, 0.1)  # a walk's lumbar extension is -tilt - lean: the trunk 0-6 deg forward
    run_lumbar: tuple[float, float] = (-0.15, 0.0)  # a run's lumbar extension: the trunk 0-17 deg forward
    lumbar: tuple[float, float, float] = (0.05, 0.05, 0.1)  # extension (2nd harmonic), bending, rotation amplitudes


RAJAGOPAL_CYCLIC = RajagopalCyclic()


def _rajagopal_stride(b: Builder, rng: np.random.Generator, curves: str, side: str, p0: float, sg: float) -> float:
    """One leg of a walk or run, its cycle starting at ``p0`` (rad) plus a jitter; returns that cycle offset."""
    p, (u, ph) = RAJAGOPAL_CYCLIC, draws(rng)
    jit = ph() / 3
    b.set(f"hip_flexion_{side}", *gait_terms(curves, "hip", sg, p0, jitter=jit))
    b.set(f"hip_adduction_{side}", u(*p.hip_adduction.mean), [(sg * p.hip_adduction.amp, 1, p0 + np.pi / 2 + ph())])
    b.set(f"hip_rotation_{side}", u(*p.hip_rotation.mean), [(sg * p.hip_rotation.amp, 1, p0 + ph())])
    b.set(f"knee_angle_{side}", *gait_terms(curves, "knee", sg, p0, jitter=jit))
    mean, terms = gait_terms(curves, "ankle", sg, p0, jitter=jit)
    b.set(f"ankle_angle_{side}", mean + u(*p.ankle), terms)
    b.set(f"subtalar_angle_{side}", u(*p.subtalar.mean), [(sg * p.subtalar.amp, 1, p0 + ph())])
    b.set(f"mtp_angle_{side}", p.mtp.mean, [(sg * p.mtp.amp, 1, p0 + ph())])
    return p0 + jit


def _turning_heading(heading: float, rate: float) -> float:
    """The heading ``heading`` (in +-pi) moved so that, turning at ``rate``, it stays in +-pi for TURN_SECONDS."""
    lo, hi = -np.pi + TURN_MARGIN, np.pi - TURN_MARGIN - TURN_SECONDS * abs(rate)
    return float(np.sign(rate) * (lo + (heading + np.pi) / (2 * np.pi) * (hi - lo)))


def _rajagopal_cyclic(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``walk``, ``turn`` (along a circle) and ``run``: the legs half a cycle apart, the pelvis travelling."""
    p, (u, ph) = RAJAGOPAL_CYCLIC, draws(rng)
    run = kind == "run"
    curves = "run" if run else "walk"
    if run:
        f = u(*p.run_freq)
    else:
        stature = pelvis_height / PELVIS_STATURE["rajagopal"]
        speed = walk_speed(rng, stature)
        f = walk_frequency(speed, stature)
    b = Builder(list(RAJAGOPAL_COORDINATES), f)
    s = u(*p.scale)
    asym = u(*p.asym)
    if run:
        speed = u(*p.run_speed)
    right = _rajagopal_stride(b, rng, curves, "r", 0.0, s * (1 + asym))
    left = _rajagopal_stride(b, rng, curves, "l", np.pi, s * (1 - asym))
    tilt = u(*p.pelvis_tilt.mean)
    b.set("pelvis_tilt", tilt, [(p.pelvis_tilt.amp * s, 2, ph())])
    b.set("pelvis_list", 0.0, [(p.pelvis_list * s, 1, ph())])
    rate = turn_rate(kind, rng)
    if rate:
        heading = _turning_heading(heading, rate)
    turn_phase = ph() if run else np.pi / 2 + right + ph() / 3
    b.set("pelvis_rotation", heading, [(p.pelvis_rotation * s, 1, turn_phase)], slope=rate)
    b.set("pelvis_tx", u(*START_XY), [(p.pelvis_tx, 2, ph())], slope=speed * np.cos(heading))
    b.set("pelvis_tz", u(*START_XY), [(p.pelvis_tz, 1, ph())], slope=-speed * np.sin(heading))
    pelvis = p.run_pelvis if run else p.walk_pelvis
    b.set("pelvis_ty", pelvis_height - pelvis.mean, [(pelvis.amp * s, 2, ph())])
    b.set("lumbar_extension", u(*p.run_lumbar) if run else -tilt - u(*p.walk_lean), [(p.lumbar[0] * s, 2, ph())])
    b.set("lumbar_bending", 0.0, [(p.lumbar[1] * s, 1, ph())])
    b.set("lumbar_rotation", 0.0, [(p.lumbar[2] * s, 1, np.pi + ph())])
    return b, Cyclic(f, duty(curves, rng, speed), (left, right))


def _stand_at(b: Builder, rng: np.random.Generator, heading: float, pelvis_y: float) -> None:
    """The Rajagopal pelvis facing ``heading``, at a drawn place, ``pelvis_y`` high."""
    b.set("pelvis_rotation", heading)
    b.set("pelvis_tx", float(rng.uniform(*START_XY)))
    b.set("pelvis_tz", float(rng.uniform(*START_XY)))
    b.set("pelvis_ty", pelvis_y)


@dataclass(frozen=True)
class RajagopalSquat:
    """Squats and sit-to-stand: the legs flex together once per cycle (standing at its start, lowest half-way),
    sagittal means and amplitudes per unit depth ``d``; the other coordinates sway a little."""

    freq: tuple[float, float] = (0.25, 0.45)  # Hz: squats per second
    depth: tuple[float, float] = (0.7, 1.0)  # d
    asym: float = 0.08  # each leg's sagittal amplitudes times 1 + a draw in +- this
    flat: float = 0.0  # third-harmonic amplitude that flattens the extremes (pauses seated and standing)
    drop: float = 0.35  # m per unit depth: the pelvis's lowest point below standing
    hip_flexion: Term = Term(0.9, 0.8)
    knee: Term = Term(1.0, 0.9)
    ankle: Term = Term(0.15, 0.15)
    trunk: float = 0.2  # posterior pelvic tilt and lumbar flexion as the body lowers: mean and amplitude
    pelvis_tx: float = 0.08  # m per unit depth: the pelvis moves back as it lowers
    hip_adduction: Term = Term((-0.15, 0.0), 0.05)
    hip_rotation: Term = Term((-0.15, 0.1), 0.04)
    subtalar: Term = Term((-0.05, 0.05), 0.03)
    mtp: Term = Term((0.0, 0.1), 0.03)
    pelvis_list: float = 0.02
    pelvis_rotation: float = 0.03
    pelvis_tz: float = 0.01  # m
    lumbar_bending: float = 0.03
    lumbar_rotation: float = 0.04


SQUAT = RajagopalSquat()
SIT_TO_STAND = replace(SQUAT, freq=(0.15, 0.25), flat=0.12, drop=0.45)


def _rajagopal_squat(p: RajagopalSquat, kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``squat`` and ``sit_to_stand`` (``p``): quasi-static, both feet planted."""
    u, ph = draws(rng)
    b = Builder(list(RAJAGOPAL_COORDINATES), u(*p.freq))
    d = u(*p.depth)
    down, up = -np.pi / 2, np.pi / 2  # phases: the flexions least, the pelvis highest at the cycle's start
    for side in ("r", "l"):
        g = 1 + u(-p.asym, p.asym)
        b.set(f"hip_flexion_{side}", p.hip_flexion.mean * d, [(p.hip_flexion.amp * d * g, 1, down), (p.flat, 3, up)])
        b.set(f"hip_adduction_{side}", u(*p.hip_adduction.mean), [(p.hip_adduction.amp, 1, ph())])
        b.set(f"hip_rotation_{side}", u(*p.hip_rotation.mean), [(p.hip_rotation.amp, 1, ph())])
        b.set(f"knee_angle_{side}", p.knee.mean * d, [(p.knee.amp * d * g, 1, down), (p.flat, 3, up)])
        b.set(f"ankle_angle_{side}", p.ankle.mean * d, [(p.ankle.amp * d * g, 1, down)])
        b.set(f"subtalar_angle_{side}", u(*p.subtalar.mean), [(p.subtalar.amp, 1, ph())])
        b.set(f"mtp_angle_{side}", u(*p.mtp.mean), [(p.mtp.amp, 1, ph())])
    b.set("pelvis_tilt", -p.trunk * d, [(p.trunk * d, 1, up)])
    b.set("pelvis_list", 0.0, [(p.pelvis_list, 1, ph())])
    b.set("pelvis_rotation", heading, [(p.pelvis_rotation, 1, ph())])
    drop = p.drop * d
    b.set("pelvis_ty", pelvis_height - drop / 2, [(drop / 2, 1, up)])
    b.set("pelvis_tx", u(*START_XY), [(p.pelvis_tx * d, 1, up)])
    b.set("pelvis_tz", u(*START_XY), [(p.pelvis_tz, 1, ph())])
    b.set("lumbar_extension", -p.trunk * d, [(p.trunk * d, 1, up)])
    b.set("lumbar_bending", 0.0, [(p.lumbar_bending, 1, ph())])
    b.set("lumbar_rotation", 0.0, [(p.lumbar_rotation, 1, ph())])
    return b, None


# Rajagopal leg coordinates that a motion holds still: their means are drawn in (lo, hi)
STILL_LEG = {"hip_adduction": (-0.08, 0.0), "hip_rotation": (-0.1, 0.1), "subtalar_angle": (-0.05, 0.05),
             "mtp_angle": (0.0, 0.1)}


def _hold(b: Builder, rng: np.random.Generator, side: str, names: tuple[str, ...], ranges=STILL_LEG) -> None:
    """The coordinates ``{name}_{side}`` held at means drawn in ``ranges[name]``, in the order of ``names``."""
    for name in names:
        b.set(f"{name}_{side}", float(rng.uniform(*ranges[name])))


@dataclass(frozen=True)
class RajagopalHops:
    """Hops and jumping jacks of the Rajagopal body; the legs: ``HOP_LEGS``."""

    hip_adduction: tuple[float, float] = (-0.05, 0.0)  # plain hops' (a jack's abducts: HopLegs.jack_abduction)
    pelvis_tilt: tuple[float, float] = (-0.15, -0.05)  # anterior tilt
    lumbar: tuple[float, float] = (-0.15, 0.0)  # lumbar extension
    drop: float = 0.05  # m: the pelvis below standing


RAJAGOPAL_HOPS = RajagopalHops()


def _rajagopal_hops(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``jump`` (rebound hops in place) and ``jumping_jack`` (the legs abduct on the "apart" hops): the legs
    flex most at mid-stance."""
    p, legs, u = RAJAGOPAL_HOPS, HOP_LEGS, draws(rng)[0]
    jack = kind == "jumping_jack"
    hop = hop_timing(rng, jack)
    base, hh = hop_base(hop, jack)
    b = Builder(list(RAJAGOPAL_COORDINATES), base)
    mid, apart = hop_phases(hop)
    for side in ("r", "l"):
        b.set(f"hip_flexion_{side}", u(*legs.hip.mean), [(u(*legs.hip.amp), hh, mid)])
        b.set(f"knee_angle_{side}", u(*legs.knee.mean), [(u(*legs.knee.amp), hh, mid)])
        b.set(f"ankle_angle_{side}", u(*legs.ankle.mean), [(legs.ankle.amp, hh, mid)])
        b.set(f"hip_adduction_{side}", -legs.jack_abduction if jack else u(*p.hip_adduction),
              [(-legs.jack_abduction, 1, apart)] if jack else [])
        _hold(b, rng, side, ("hip_rotation", "subtalar_angle", "mtp_angle"))
    b.set("pelvis_tilt", u(*p.pelvis_tilt), [(legs.trunk, hh, mid)])
    _stand_at(b, rng, heading, pelvis_height - p.drop)
    b.set("lumbar_extension", u(*p.lumbar), [(legs.trunk, hh, mid)])
    return b, hop


@dataclass(frozen=True)
class RajagopalJump:
    """Countermovement jumps of the Rajagopal body (the legs: ``JUMP_LEGS``): mean + amplitude x the dip."""

    pelvis_tilt: Term = Term((-0.1, 0.0), (0.4, 0.6))  # the trunk leans forward (amplitude: minus this)
    lumbar: Term = Term((-0.1, 0.0), 0.2)  # lumbar extension (amplitude: minus this)
    drop: float = 0.02  # m: the pelvis's mean below standing (the jump planner moves the COM)


RAJAGOPAL_JUMP = RajagopalJump()


def _rajagopal_cmj(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``cmj``: reference angles only, the jump planner moves the COM and the feet."""
    p, legs, u = RAJAGOPAL_JUMP, JUMP_LEGS, draws(rng)[0]
    cmj = jump_timing(rng)
    ref = cmj_references(cmj)
    b = Builder(list(RAJAGOPAL_COORDINATES), cmj.freq, k=CMJ_HARMONICS)
    for side in ("r", "l"):
        cmj_profile(b, cmj, f"hip_flexion_{side}", legs.hip.mean, u(*legs.hip.amp) * ref["dip"])
        cmj_profile(b, cmj, f"knee_angle_{side}", legs.knee.mean, u(*legs.knee.amp) * ref["dip"])
        cmj_profile(b, cmj, f"ankle_angle_{side}", legs.ankle.mean, legs.ankle.amp * ref["dip"])
        _hold(b, rng, side, ("hip_adduction", "hip_rotation", "subtalar_angle", "mtp_angle"))
    cmj_profile(b, cmj, "pelvis_tilt", u(*p.pelvis_tilt.mean), -u(*p.pelvis_tilt.amp) * ref["dip"])
    cmj_profile(b, cmj, "lumbar_extension", u(*p.lumbar.mean), -p.lumbar.amp * ref["dip"])
    _stand_at(b, rng, heading, pelvis_height - p.drop)
    return b, cmj


@dataclass(frozen=True)
class RajagopalStanding:
    """The legs of the arm motions (``curl``, ``arm_raise``; the arms: :func:`rajagopal_arms`): standing
    still, a little sway."""

    curl_freq: tuple[float, float] = (0.4, 0.7)  # Hz: curls per second
    raise_freq: tuple[float, float] = (0.2, 0.4)  # Hz: arm raises per second
    hip_flexion: Term = Term((0.0, 0.1), 0.01)
    knee: Term = Term((0.05, 0.15), 0.01)
    ankle: tuple[float, float] = (0.0, 0.05)
    pelvis_tilt: Term = Term((-0.1, 0.0), 0.01)
    pelvis_list: float = 0.01
    lumbar: Term = Term((-0.05, 0.05), 0.02)  # lumbar extension
    drop: float = 0.01  # m: the pelvis below standing


RAJAGOPAL_STANDING = RajagopalStanding()


def _rajagopal_standing(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``curl`` and ``arm_raise``: the legs stand, swaying a little."""
    p, (u, ph) = RAJAGOPAL_STANDING, draws(rng)
    b = Builder(list(RAJAGOPAL_COORDINATES), u(*p.curl_freq) if kind == "curl" else u(*p.raise_freq))
    for side in ("r", "l"):
        b.set(f"hip_flexion_{side}", u(*p.hip_flexion.mean), [(p.hip_flexion.amp, 1, ph())])
        _hold(b, rng, side, ("hip_adduction", "hip_rotation"))
        b.set(f"knee_angle_{side}", u(*p.knee.mean), [(p.knee.amp, 1, ph())])
        b.set(f"ankle_angle_{side}", u(*p.ankle))
        _hold(b, rng, side, ("subtalar_angle", "mtp_angle"))
    b.set("pelvis_tilt", u(*p.pelvis_tilt.mean), [(p.pelvis_tilt.amp, 1, ph())])
    b.set("pelvis_list", 0.0, [(p.pelvis_list, 1, ph())])
    _stand_at(b, rng, heading, pelvis_height - p.drop)
    b.set("lumbar_extension", u(*p.lumbar.mean), [(p.lumbar.amp, 1, ph())])
    return b, None


@dataclass(frozen=True)
class RajagopalSteps:
    """Kicks, lunges and step-ups of the Rajagopal body (the legs' flexion: ``STEP_LEGS``)."""

    still: tuple[tuple[str, tuple[float, float]], ...] = (  # leg coordinates held at a drawn mean, in this order
        ("ankle_angle", (0.0, 0.1)), ("hip_adduction", (-0.05, 0.0)), ("subtalar_angle", (-0.05, 0.05)),
        ("mtp_angle", (0.0, 0.1)))
    pelvis_tilt: tuple[float, float] = (-0.1, 0.0)
    # a step-up's trunk leans forward (minus the mean, second-harmonic amplitude), most as the body rises onto
    # (and lowers off) the platform, at this cycle fraction
    step_up_lean: Term = Term((0.3, 0.4), 0.15)
    step_up_lean_peak: float = 0.3
    lumbar: tuple[float, float] = (-0.1, 0.0)  # lumbar extension
    drop: float = 0.02  # m: the pelvis's mean below standing (the step planner moves it)


RAJAGOPAL_STEPS = RajagopalSteps()


def _rajagopal_steps(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``kick``, ``lunge`` and ``step_up``: reference angles only, the step planner moves the feet."""
    p, u = RAJAGOPAL_STEPS, draws(rng)[0]
    steps = steps_timing(kind, rng)
    b = Builder(list(RAJAGOPAL_COORDINATES), steps.freq)
    still = dict(p.still)
    for i, side in enumerate(("l", "r")):
        STEP_LEG[type(steps)](b, steps, i == steps.side, f"hip_flexion_{side}", f"knee_angle_{side}", 1.0)
        _hold(b, rng, side, tuple(still), still)
    b.set("pelvis_tilt", u(*p.pelvis_tilt))
    if isinstance(steps, StepUp):  # the tilt drawn above is overwritten (its draw keeps the random stream)
        b.set("pelvis_tilt", -u(*p.step_up_lean.mean),
              [(p.step_up_lean.amp, 2, _peak_phase(steps, p.step_up_lean_peak) * 2 + np.pi)])
    _stand_at(b, rng, heading, pelvis_height - p.drop)
    b.set("lumbar_extension", u(*p.lumbar))
    return b, steps


# the Rajagopal motions of the legs; their order is RAJAGOPAL_KINDS's
RAJAGOPAL_BUILDERS: dict[str, RajagopalBuilder] = {
    "walk": _rajagopal_cyclic, "turn": _rajagopal_cyclic, "run": _rajagopal_cyclic,
    "squat": partial(_rajagopal_squat, SQUAT), "sit_to_stand": partial(_rajagopal_squat, SIT_TO_STAND),
    "jump": _rajagopal_hops, "cmj": _rajagopal_cmj, "jumping_jack": _rajagopal_hops,
    "kick": _rajagopal_steps, "lunge": _rajagopal_steps, "step_up": _rajagopal_steps,
}
# the motions of the body with arms (standing; the arms: rajagopal_arms)
ARM_BUILDERS: dict[str, RajagopalBuilder] = {"curl": _rajagopal_standing, "arm_raise": _rajagopal_standing}
RAJAGOPAL_KINDS = tuple(RAJAGOPAL_BUILDERS)
ARM_KINDS = tuple(ARM_BUILDERS)


def rajagopal_motion(kind: str, rng: np.random.Generator, ranges: np.ndarray, pelvis_height: float) -> Fourier:
    """A randomised motion of ``kind`` (``RAJAGOPAL_KINDS``, ``ARM_KINDS``) over the 23 Rajagopal coordinates
    (OpenSim: x forward, y up). ``ranges``: (23, 2) coordinate limits; ``pelvis_height``: standing pelvis_ty in m.
    """
    build = RAJAGOPAL_BUILDERS.get(kind) or ARM_BUILDERS.get(kind)
    if build is None:
        raise ValueError(f"unknown Rajagopal motion {kind!r}; expected one of {RAJAGOPAL_KINDS + ARM_KINDS}")
    heading = float(rng.uniform(-np.pi, np.pi))
    b, gait = build(kind, rng, heading, pelvis_height)
    ranges = np.asarray(ranges, float)
    return b.build(ranges[:, 0], ranges[:, 1], gait=gait)

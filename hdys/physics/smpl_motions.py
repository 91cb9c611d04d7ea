"""Randomised SMPL motion generators: a registry of builders, one per kind of motion (:data:`SMPL_BUILDERS`).

As :mod:`hdys.physics.motions` does for the Rajagopal body (whose records of the legs' numbers these share: the SMPL
x rotations of hip flexion and ankle dorsiflexion take the opposite sign), each builder draws a motion's parameters
in a fixed order and returns its terms and its typed gait; :func:`smpl_motion` fits them into the joint limits.
SMPL motions are defined on Euler angles per joint (``R = Rx(a) Ry(b) Rz(c)`` in the SMPL rest frame: x left,
y up, z forward) and turned into rotations, body-frame angular velocities and accelerations in closed form
(:func:`smpl_trajectory`, :func:`hdys.physics.rotations.euler_chain`). The registry's order is ``SMPL_KINDS``'s,
which decides the motion plan.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hdys.physics.fourier import Builder, Fourier
from hdys.physics.motions import (CMJ_HARMONICS, HOP_LEGS, JUMP_LEGS, PELVIS_STATURE, START_XY, STEP_LEG, Term,
                                  cmj_profile, cmj_references, draws, gait_terms, hop_base, hop_phases, turn_rate)
from hdys.physics.rotations import SmplTrajectory, axis_rotation, euler_chain
from hdys.physics.timing import Cyclic, Gait, duty, hop_timing, jump_timing, steps_timing, walk_frequency, walk_speed
from hdys.schema import SMPL_JOINT_NAMES

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


def _lateral_raise(b: Builder, side: str, sx: float, top: float, phase: float) -> None:
    """SMPL ``shoulder_z`` swinging once per cycle between hanging (at ``sin(phase) = -1``) and ``top``
    rad above horizontal; ``sx`` mirrors the right side."""
    b.set(f"{side}_shoulder_z", sx * (top - HANGING_ARM) / 2, [(sx * (top + HANGING_ARM) / 2, 1, phase)])


SmplBuilder = Callable[[str, np.random.Generator, float, float], tuple[Builder, Gait | None]]
SMPL_NAMES = ["px", "py", "pz", "yaw", "pitch", "roll"] + [f"{j}_{a}" for j in SMPL_JOINT_NAMES[1:] for a in "xyz"]
SIDES = (("left", 1.0), ("right", -1.0))  # SMPL sides; the factor mirrors the y and z rotations
# base frequency (Hz) of the SMPL motions that have no drawn timing (walks: from their speed): every entry is drawn
# for every motion, in this order (the other motions keep their draws)
SMPL_FREQ = {"walk": (0.8, 1.0), "turn": (0.8, 1.0), "run": (1.25, 1.5), "squat": (0.25, 0.45), "free": (0.2, 0.5),
             "arm_raise": (0.2, 0.4), "curl": (0.4, 0.7)}
RELAXED_ARMS = ((1.1, 1.3), (0.2, 0.4))  # rad: |shoulder_z| (hanging, HANGING_ARM) and elbow flexion of relaxed arms
# m: the pelvis below standing in the arm motions, hops, countermovement jumps (its mean) and step motions
SMPL_DROP = {"still": 0.01, "hop": 0.05, "jump": 0.02, "step": 0.02}
STEP_SPINE = (0.0, 0.1)  # trunk flexion (spine1_x) of the step motions


def _smpl_frequencies(rng: np.random.Generator) -> dict[str, float]:
    """A base frequency for each entry of ``SMPL_FREQ``, drawn in its order."""
    return {kind: float(rng.uniform(*r)) for kind, r in SMPL_FREQ.items()}


def _smpl_builder(rng: np.random.Generator, base_hz: float, heading: float, k: int = 4) -> Builder:
    """The SMPL builder on ``base_hz`` with ``k`` harmonics: relaxed arms at the sides, facing ``heading``."""
    b = Builder(SMPL_NAMES, base_hz, k=k)
    for side, sx in SIDES:
        b.set(f"{side}_shoulder_z", -sx * float(rng.uniform(*RELAXED_ARMS[0])))
        b.set(f"{side}_elbow_y", -sx * float(rng.uniform(*RELAXED_ARMS[1])))
    b.set("yaw", heading)
    return b


def _smpl_place(b: Builder, rng: np.random.Generator, pelvis_z: float) -> None:
    """The SMPL pelvis at a drawn place, ``pelvis_z`` high."""
    b.set("pz", pelvis_z)
    b.set("px", float(rng.uniform(*START_XY)))
    b.set("py", float(rng.uniform(*START_XY)))


def _forward(heading: float) -> np.ndarray:
    """World xy of the SMPL body's forward (+z) at ``heading``."""
    return np.array([np.sin(heading), -np.cos(heading)])


@dataclass(frozen=True)
class SmplCyclic:
    """Walks, turns and runs of the SMPL body (as :class:`RajagopalCyclic`; SMPL x rotations: hip flexion and
    ankle dorsiflexion negative, knee flexion positive)."""

    scale: tuple[float, float] = (0.75, 1.15)  # s: the motion's amplitudes relative to the curves'
    asym: tuple[float, float] = (-0.12, 0.12)  # the left leg's factor is 1 + asym, the right's 1 - asym
    run_speed: tuple[float, float] = (2.0, 3.0)  # m/s
    hip_z: float = 0.06  # hip abduction-adduction
    shoulder_x: float = 0.35  # arm swing, opposite to the same-side hip
    run_elbow: Term = Term((1.2, 1.5), 0.15)  # running elbows bent about 80 degrees
    spine1_y: float = 0.08
    pitch: Term = Term((0.0, 0.1), 0.03)  # forward lean; second harmonic
    roll: float = 0.05
    yaw: float = 0.08  # walking: the pelvis turns forward on the side of the leading leg, most at its heel strike
    sway: float = 0.02  # m: horizontal, second harmonic
    pelvis: Term = Term(0.02, 0.02)  # m: below standing, and its rise and fall (second harmonic)


SMPL_CYCLIC = SmplCyclic()


def _smpl_stride(b: Builder, rng: np.random.Generator, curves: str, side: str, sx: float, p0: float, sg: float,
                 run: bool) -> float:
    """One leg (and its arm) of a walk or run, its cycle starting at ``p0`` (rad) plus a jitter; returns that
    cycle offset."""
    p, (u, ph) = SMPL_CYCLIC, draws(rng)
    jit = ph() / 3
    b.set(f"{side}_hip_x", *gait_terms(curves, "hip", sg, p0, sign=-1.0, jitter=jit))
    b.set(f"{side}_knee_x", *gait_terms(curves, "knee", sg, p0, jitter=jit))
    b.set(f"{side}_ankle_x", *gait_terms(curves, "ankle", sg, p0, sign=-1.0, jitter=jit))
    b.set(f"{side}_hip_z", 0.0, [(sx * p.hip_z * sg, 1, p0 + ph())])
    b.set(f"{side}_shoulder_x", 0.0, [(p.shoulder_x * sg, 1, p0 + ph())])
    if run:
        b.set(f"{side}_elbow_y", -sx * u(*p.run_elbow.mean), [(-sx * p.run_elbow.amp * sg, 1, p0 + ph())])
    return p0 + jit


def _smpl_cyclic(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``walk``, ``turn`` (along a circle) and ``run``: the legs half a cycle apart, the pelvis travelling."""
    p, (u, ph) = SMPL_CYCLIC, draws(rng)
    run = kind == "run"
    curves = "run" if run else "walk"
    f = _smpl_frequencies(rng)[kind]
    stature = pelvis_height / PELVIS_STATURE["smpl"]
    speed = None if run else walk_speed(rng, stature)
    if speed is not None:
        f = walk_frequency(speed, stature)
    b = _smpl_builder(rng, f, heading)
    s, asym = u(*p.scale), u(*p.asym)
    if run:
        speed = u(*p.run_speed)
    left = _smpl_stride(b, rng, curves, "left", 1.0, 0.0, s * (1 + asym), run)
    right = _smpl_stride(b, rng, curves, "right", -1.0, np.pi, s * (1 - asym), run)
    b.set("spine1_y", 0.0, [(p.spine1_y * s, 1, ph())])
    b.set("pitch", u(*p.pitch.mean), [(p.pitch.amp * s, 2, ph())])
    b.set("roll", 0.0, [(p.roll * s, 1, ph())])
    turn_phase = ph() if run else -np.pi / 2 + left + ph() / 3
    b.set("yaw", heading, [(p.yaw * s, 1, turn_phase)], slope=turn_rate(kind, rng))
    direction = _forward(heading)
    for i in range(2):
        b.set(("px", "py")[i], u(*START_XY), [(p.sway, 2, ph())], slope=speed * direction[i])
    b.set("pz", pelvis_height - p.pelvis.mean, [(p.pelvis.amp * s, 2, ph())])
    return b, Cyclic(f, duty(curves, rng, speed), (left, right))


@dataclass(frozen=True)
class SmplSquat:
    """SMPL squats: sagittal means and amplitudes per unit depth ``d`` (SMPL x rotations; lowest half-way)."""

    depth: tuple[float, float] = (0.6, 1.0)  # d
    asym: float = 0.08  # each leg's amplitudes times 1 + a draw in +- this
    hip: Term = Term(-0.8, -0.75)
    knee: Term = Term(0.9, 0.85)
    ankle: Term = Term(-0.15, -0.15)
    shoulder: float = -0.5  # arms forward for balance: mean and amplitude
    spine1: float = 0.2  # trunk flexion: mean and amplitude
    drop: float = 0.2  # m per unit depth: the pelvis's mean below standing and its amplitude
    sway: float = 0.05  # m per unit depth: the pelvis moves back as it lowers


SMPL_SQUAT = SmplSquat()


def _smpl_squat(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``squat``: quasi-static, both feet planted."""
    p, u = SMPL_SQUAT, draws(rng)[0]
    b = _smpl_builder(rng, _smpl_frequencies(rng)[kind], heading)
    d = u(*p.depth)
    down, up = -np.pi / 2, np.pi / 2  # phases: the flexions least, the pelvis highest at the cycle's start
    for side, _ in SIDES:
        g = 1 + u(-p.asym, p.asym)
        b.set(f"{side}_hip_x", p.hip.mean * d, [(p.hip.amp * d * g, 1, down)])
        b.set(f"{side}_knee_x", p.knee.mean * d, [(p.knee.amp * d * g, 1, down)])
        b.set(f"{side}_ankle_x", p.ankle.mean * d, [(p.ankle.amp * d * g, 1, down)])
        b.set(f"{side}_shoulder_x", p.shoulder * d, [(p.shoulder * d, 1, down)])
    b.set("spine1_x", p.spine1 * d, [(p.spine1 * d, 1, down)])
    b.set("pz", pelvis_height - p.drop * d, [(p.drop * d, 1, up)])
    direction = _forward(heading)
    b.set("px", u(*START_XY), [(p.sway * d * direction[0], 1, up)])
    b.set("py", u(*START_XY), [(p.sway * d * direction[1], 1, up)])
    return b, None


@dataclass(frozen=True)
class SmplArms:
    """SMPL arm motions, standing still: both arms in phase or alternating, each lowered at the cycle's start."""

    curl_top: tuple[float, float] = (1.5, 1.9)  # elbow flexion at the top of a curl, from the relaxed one ...
    curl_low: float = 0.3  # ... of about this
    curl_shoulder: Term = Term((-0.15, 0.0), 0.05)  # the upper arm nearly still in a curl
    front_top: tuple[float, float] = (1.1, 1.45)  # a forward raise to horizontal or a little below
    side_top: tuple[float, float] = (0.0, 0.35)  # a lateral raise to horizontal or above (rad above horizontal)
    spine1: Term = Term((-0.05, 0.05), 0.02)
    pelvis: float = 0.003  # m: its rise and fall


SMPL_ARMS = SmplArms()


def _smpl_arm_motion(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``curl`` (elbow flexion, the upper arm still) and ``arm_raise`` (forward flexion or lateral abduction)."""
    p, (u, ph) = SMPL_ARMS, draws(rng)
    b = _smpl_builder(rng, _smpl_frequencies(rng)[kind], heading)
    alternate = rng.uniform() < 0.5
    front = rng.uniform() < 0.5  # arm_raise: forward flexion, else lateral abduction
    for side, sx in SIDES:
        p0 = -np.pi / 2 + (np.pi if alternate and side == "right" else 0.0)  # sin(p0) = -1: arm down
        if kind == "curl":
            top = u(*p.curl_top)
            b.set(f"{side}_elbow_y", -sx * (p.curl_low + top) / 2, [(-sx * (top - p.curl_low) / 2, 1, p0 + ph() / 3)])
            b.set(f"{side}_shoulder_x", u(*p.curl_shoulder.mean), [(p.curl_shoulder.amp, 1, p0 + ph())])
        elif front:
            top = u(*p.front_top)
            b.set(f"{side}_shoulder_x", -top / 2, [(-top / 2, 1, p0 + ph() / 3)])
        else:
            _lateral_raise(b, side, sx, u(*p.side_top), p0 + ph() / 3)
    b.set("spine1_x", u(*p.spine1.mean), [(p.spine1.amp, 1, ph())])
    b.set("pz", pelvis_height - SMPL_DROP["still"], [(p.pelvis, 1, ph())])
    b.set("px", u(*START_XY))
    b.set("py", u(*START_XY))
    return b, None


@dataclass(frozen=True)
class SmplHops:
    """SMPL hops and jumping jacks (the legs: ``HOP_LEGS``)."""

    jack_arms: tuple[float, float] = (0.3, 0.45)  # a jack's arms overhead: lateral raise to this above horizontal
    arm_swing: float = -0.3  # hops: the arms swing forward with the push-off (shoulder_x mean and amplitude)
    spine1: tuple[float, float] = (0.0, 0.1)  # trunk flexion's mean


SMPL_HOPS = SmplHops()


def _smpl_hops(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``jump`` and ``jumping_jack`` (legs apart and arms overhead together on the "apart" hops)."""
    p, legs, u = SMPL_HOPS, HOP_LEGS, draws(rng)[0]
    jack = kind == "jumping_jack"
    hop = hop_timing(rng, jack)
    _smpl_frequencies(rng)
    base, hh = hop_base(hop, jack)
    b = _smpl_builder(rng, base, heading)
    mid, apart = hop_phases(hop)
    for side, sx in SIDES:
        b.set(f"{side}_hip_x", -u(*legs.hip.mean), [(-u(*legs.hip.amp), hh, mid)])
        b.set(f"{side}_knee_x", u(*legs.knee.mean), [(u(*legs.knee.amp), hh, mid)])
        b.set(f"{side}_ankle_x", -u(*legs.ankle.mean), [(-legs.ankle.amp, hh, mid)])
        if jack:
            b.set(f"{side}_hip_z", sx * legs.jack_abduction, [(sx * legs.jack_abduction, 1, apart)])
            _lateral_raise(b, side, sx, u(*p.jack_arms), apart)
        else:
            b.set(f"{side}_shoulder_x", p.arm_swing, [(p.arm_swing, hh, mid + np.pi / 2)])
    b.set("spine1_x", u(*p.spine1), [(legs.trunk, hh, mid)])
    _smpl_place(b, rng, pelvis_height - SMPL_DROP["hop"])
    return b, hop


@dataclass(frozen=True)
class SmplJump:
    """SMPL countermovement jumps (the legs: ``JUMP_LEGS``): mean + amplitudes x the profiles."""

    # arms swing back in the countermovement (x ``back``) and forward and up through take-off and flight (x ``up``)
    arm_back: float = 0.5
    arm_up: tuple[float, float] = (1.0, 1.3)
    spine1: Term = Term((0.0, 0.1), 0.4)  # trunk flexion x the dip


SMPL_JUMP = SmplJump()


def _smpl_cmj(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``cmj``: reference angles only, the jump planner moves the COM and the feet."""
    p, legs, u = SMPL_JUMP, JUMP_LEGS, draws(rng)[0]
    cmj = jump_timing(rng)
    _smpl_frequencies(rng)
    b = _smpl_builder(rng, cmj.freq, heading, k=CMJ_HARMONICS)
    ref = cmj_references(cmj)
    for side, _ in SIDES:
        cmj_profile(b, cmj, f"{side}_hip_x", -legs.hip.mean, -u(*legs.hip.amp) * ref["dip"])
        cmj_profile(b, cmj, f"{side}_knee_x", legs.knee.mean, u(*legs.knee.amp) * ref["dip"])
        cmj_profile(b, cmj, f"{side}_ankle_x", -legs.ankle.mean, -legs.ankle.amp * ref["dip"])
        cmj_profile(b, cmj, f"{side}_shoulder_x", 0.0, p.arm_back * ref["back"] - u(*p.arm_up) * ref["up"])
    cmj_profile(b, cmj, "spine1_x", u(*p.spine1.mean), p.spine1.amp * ref["dip"])
    _smpl_place(b, rng, pelvis_height - SMPL_DROP["jump"])
    return b, cmj


def _smpl_steps(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``kick``, ``lunge`` and ``step_up``: reference angles only, the step planner moves the feet."""
    steps = steps_timing(kind, rng)
    _smpl_frequencies(rng)
    b = _smpl_builder(rng, steps.freq, heading)
    for i, (side, _) in enumerate(SIDES):
        STEP_LEG[type(steps)](b, steps, i == steps.side, f"{side}_hip_x", f"{side}_knee_x", -1.0)
    b.set("spine1_x", float(rng.uniform(*STEP_SPINE)))
    _smpl_place(b, rng, pelvis_height - SMPL_DROP["step"])
    return b, steps


@dataclass(frozen=True)
class SmplFree:
    """``free``: every joint moves inside its limits (three harmonics), the pelvis sways about a place."""

    mean: tuple[float, float] = (-0.3, 0.3)  # each joint's mean: the middle of its range + this x its half-width
    amp: tuple[float, float] = (0.2, 0.6)  # each harmonic's amplitude x the half-width
    yaw: float = 0.3
    pelvis: Term = Term(0.05, 0.04)  # m: below standing, and its sway
    sway: float = 0.05  # m: horizontal


SMPL_FREE = SmplFree()


def _smpl_free(kind: str, rng: np.random.Generator, heading: float, pelvis_height: float):
    """``free``: random smooth motion of every joint inside its limits, standing in place (the relaxed arms'
    shoulder_z and elbow_y about their relaxed means)."""
    p, (u, ph) = SMPL_FREE, draws(rng)
    b = _smpl_builder(rng, _smpl_frequencies(rng)[kind], heading)
    lim = smpl_euler_limits()
    for i, name in enumerate(SMPL_NAMES[6:]):
        lo, hi = lim[i]
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        if name.endswith(("shoulder_z", "elbow_y")):
            mid = b.mean[b.index[name]]
        b.set(name, mid + u(*p.mean) * half, [(u(*p.amp) * half, h, u(0, 2 * np.pi)) for h in (1, 2, 3)])
    b.set("yaw", heading, [(p.yaw, 1, ph())])
    b.set("pz", pelvis_height - p.pelvis.mean, [(p.pelvis.amp, 1, ph())])
    b.set("px", u(*START_XY), [(p.sway, 1, ph())])
    b.set("py", u(*START_XY), [(p.sway, 1, ph())])
    return b, None


# the SMPL motions; their order is SMPL_KINDS's
SMPL_BUILDERS: dict[str, SmplBuilder] = {
    "walk": _smpl_cyclic, "turn": _smpl_cyclic, "run": _smpl_cyclic, "squat": _smpl_squat, "free": _smpl_free,
    "arm_raise": _smpl_arm_motion, "curl": _smpl_arm_motion, "jump": _smpl_hops, "cmj": _smpl_cmj,
    "jumping_jack": _smpl_hops, "kick": _smpl_steps, "lunge": _smpl_steps, "step_up": _smpl_steps,
}
SMPL_KINDS = tuple(SMPL_BUILDERS)


def smpl_motion(kind: str, rng: np.random.Generator, pelvis_height: float) -> Fourier:
    """A randomised SMPL motion of ``kind`` (``SMPL_KINDS``; 75 columns, see :func:`smpl_trajectory`); the world
    is z up."""
    build = SMPL_BUILDERS.get(kind)
    if build is None:
        raise ValueError(f"unknown SMPL motion {kind!r}; expected one of {SMPL_KINDS}")
    b, gait = build(kind, rng, float(rng.uniform(-np.pi, np.pi)), pelvis_height)
    lim = smpl_euler_limits()
    lo = np.concatenate([np.full(6, -1e3), lim[:, 0]])
    hi = np.concatenate([np.full(6, 1e3), lim[:, 1]])
    return b.build(lo, hi, gait=gait)

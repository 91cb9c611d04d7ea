"""Foot and COM plans: :class:`Plan`, and the plans of quasi-static motions, discrete steps and countermovement
jumps (walking, running and hops: :mod:`hdys.physics.gait`).

A :class:`Plan` holds, on the IK grid (z-up world), each foot's four sole points (a rigid sole in the layout of
:func:`hdys.physics.rig.foot_template`), the pelvis height, the COM's horizontal target (from
:mod:`hdys.physics.balance`) and, for motions with flight, the COM height; :mod:`hdys.physics.legs` solves the legs
for it.

1. **Quasi-static motions** (squat, sit-to-stand, standing; :func:`static_plan`): both feet flat on one
   footprint each, the COM over the centre of the feet, the pelvis ``STATIC_BEND`` below its standing height
   and lowered by ``STATIC_DEPTH`` of the generator's drop (raised again where the IK leaves the flat feet short
   of the floor, the ankle's dorsiflexion limit: :class:`hdys.physics.locomotion.GroundMotion`).
2. **Kicks, lunges and step-ups** (:class:`~hdys.physics.timing.Steps` gaits, :func:`steps_plan`): discrete moves
   of one foot on a slow cycle, the ZMP moving onto the other foot before the moving foot leaves the floor (so the COM,
   from the same LIPM as walking, is over the supporting foot in single support). A step-up climbs a platform
   (``Plan.terrain``, a :class:`hdys.physics.contact.Terrain` box 15-30 cm high at 1.75 m stature) and comes
   back down: the leading foot rises to the platform's height, moves over it and comes down onto it; the
   weight moves over; the trailing heel rises about its toes and the trailing foot follows as the body rises
   (the pelvis by the platform's height, lowered where a loaded leg could not reach its foot from the COM), the
   trunk leaning forward; back down, the trailing foot first. The contact-aware inverse dynamics then takes
   the platform as a support. A deep lunge's front ankle and a step-up's leading ankle (on the platform) reach
   their dorsiflexion limit: there the heel rises about the toes (``GroundMotion._heels``).
3. **Countermovement jumps** (:class:`~hdys.physics.timing.Jump` gaits, :func:`cmj_plan`): the COM height is
   designed (:func:`hdys.physics.timing.cmj_height`), the feet stay flat until the heels rise about the toes late in
   the propulsion, the horizontal COM follows the pendulum of the vertical force; in flight the legs are not
   tied to planned foot positions (:func:`hdys.physics.flight.free_flight`). Where the flat feet need more
   dorsiflexion than the ankles have (the bottom of a deep countermovement or landing: the Rajagopal ankle
   stops at 30 deg), the heels rise about the toes as far as needed (``GroundMotion._heels``). In flight the
   whole body turns a little so that its angular momentum stays constant in the air
   (:func:`hdys.physics.flight.spin_correction`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hdys.frames import G
from hdys.physics.balance import lipm, pendulum
from hdys.physics.contact import Terrain
from hdys.physics.fourier import Fourier
from hdys.physics.rig import Rig, foot_template
from hdys.physics.rotations import axis_rotation
from hdys.physics.shapes import bump, envelope, roll, smootherstep, toe_pivots, window
from hdys.physics.timing import (CMJ_TAKEOFF, CMJ_TOUCHDOWN, Kick, Lunge, Steps, StepUp, cmj_height, cmj_schedule,
                                 quintic)

LIPM_PAD_S = 1.5
TOE_OFF_PITCH = 0.7  # rad, heel up at toe-off (running, hops, jumps)
HOP_PITCH = 0.3  # rad: hopping feet land and stay on the forefoot, heels this much up
STEP_BEND = 0.04  # m at 1.75 m stature: pelvis below standing in kicks and lunges (a supporting knee never locks)
LUNGE_CLEARANCE = 0.05  # m at 1.75 m stature: lift of the stepping foot in a lunge
LUNGE_HEEL = 0.9  # rad: rear heel raised about the toes while the lead foot is forward
LUNGE_SMOOTH_S = 0.3  # s: half-width of the window over which the lunge's reach drop is enveloped
LUNGE_SLACK = 0.08  # m at 1.75 m stature: extra pelvis drop while the feet are apart (knees never straight)
STEP_UP_CLEARANCE = 0.05  # m at 1.75 m stature: a stepping foot's lift above its path onto (or off) the platform
STEP_UP_LEAD = 0.4  # fraction of a move over which the foot rises to the platform's height before it moves on
STEP_UP_EDGE = 0.16  # m at 1.75 m stature: the platform's near edge behind the centre of the feet on it
STEP_UP_DEPTH = 0.30  # m at 1.75 m stature: ... and its far edge ahead of them
STEP_UP_HALF_WIDTH = 0.35  # m at 1.75 m stature: half its width
STEP_UP_SLACK = 0.03  # m at 1.75 m stature: loaded knees never straight on a step-up
STEP_UP_HEEL = 0.6  # rad: the trailing heel's rise about its toes as it leaves the floor (and as it returns)
CMJ_PITCH_RATE = 1.5  # foot pitch rate at a jump's take-off (touchdown) / the mean rate of the heels' rise (fall)
CMJ_EASE = 0.08  # fraction of a jump's flight over which the (warm-start) feet ease into the COM's rise and out
STATIC_DEPTH = 0.45  # fraction of the generator's squat / sit-to-stand pelvis drop
STATIC_BEND = 0.015  # m at 1.75 m stature: quasi-static pelvis below standing (knees never fully extended)
# soft limits of the knees (``Rig.soft``): inside SOFT_ZONE (rad) of a limit a penalty SOFT_WEIGHT
# (m^2 / rad^2) pushes back, so a leg that cannot reach its target (a knee straightening at heel strike)
# saturates smoothly instead of bouncing off the hard clip (kinks in the angles are spikes in the
# torques); the ankles keep hard limits (flat feet in a squat need all of their dorsiflexion).
SOFT_ZONE, SOFT_WEIGHT = 0.1, 0.01


@dataclass
class Plan:
    """Targets on a time grid ``t`` (T,): sole points (T, 2, 4, 3), pelvis height (T,), COM xy (T, 2);
    ``com_z`` (T,), if given, is the COM height the pelvis height is then solved for (running); in
    ``flight`` frames, if given, the sole points only warm-start the IK (see :func:`free_flight`)."""

    t: np.ndarray
    points: np.ndarray
    pelvis_z: np.ndarray
    com_xy: np.ndarray
    com_z: np.ndarray | None = None
    flight: np.ndarray | None = None  # (T,) bool: frames whose legs move freely (a jump's flight)
    terrain: Terrain | None = None  # platforms the feet stand on (step-ups), else the floor alone
    reach: np.ndarray | None = None  # (T, 2) bool: feet a nearly straight leg must reach (walking: see vault)
    ankles: np.ndarray | None = None  # (T, 2, 3): where the feet's sole points put the ankle joints (walking)
    soft: tuple[float, float] = (SOFT_ZONE, SOFT_WEIGHT)  # the knees' soft limit (zone rad, weight), see SOFT_ZONE
    swing: np.ndarray | None = None  # (T, 2) bool: running swing frames: the feet are no IK targets, the legs follow


def zup_translation(rig: Rig, q: np.ndarray) -> np.ndarray:
    return q[..., rig.trans] @ rig.to_zup.T


def static_plan(rig: Rig, motion: Fourier, t: np.ndarray) -> Plan:
    """Both feet flat on fixed footprints under the mean pelvis position; COM over the feet' centre;
    pelvis ``STATIC_BEND`` below the standing height (the knee's IK singularity) and further by
    ``STATIC_DEPTH`` times the generator's drop (flat feet limit the ankle's dorsiflexion)."""
    tmpl, stand_z, _ = foot_template(rig, motion.mean)
    origin = zup_translation(rig, motion.mean)
    pts = tmpl @ axis_rotation(2, np.array(motion.mean[rig.yaw] + rig.yaw_offset)).T
    pts[..., :2] += origin[:2]
    q = motion(t)[0]
    com = np.broadcast_to(pts[..., :2].reshape(-1, 2).mean(0), (t.shape[0], 2))
    drop = np.maximum(stand_z - zup_translation(rig, q)[:, 2], 0.0)
    z = stand_z - STATIC_BEND * rig.height_m / 1.75 - STATIC_DEPTH * drop
    return Plan(t, np.broadcast_to(pts, (t.shape[0],) + pts.shape).copy(), z, com.copy())


@dataclass
class _Feet:
    """The step planner's feet on its long grid: the cycle fraction ``u`` (T,), the sole points (T, 2, 4, 3) and
    the feet's weights (T, 2), which the moves change in place; the flat feet's template (2, 4, 3), the facing
    rotation (3, 3) and heading, the origin (3,), forward and up (3,), the moving foot and the stature / 1.75 m."""

    u: np.ndarray
    pts: np.ndarray
    weight: np.ndarray
    tmpl: np.ndarray
    rot: np.ndarray
    yaw: float
    origin: np.ndarray
    fwd: np.ndarray
    up: np.ndarray
    side: int
    k: float


def steps_plan(rig: Rig, motion: Fourier, t: np.ndarray) -> Plan:
    """Discrete foot moves on a cycle of ``gait.freq`` (``gait = motion.gait``, a :class:`Steps`): a :class:`Kick`
    (the ``gait.side`` foot leaves the floor after the weight has shifted onto the other foot, swings
    forward and up by ``gait.forward``, ``gait.up`` and back onto its footprint), a :class:`Lunge` (the lead foot
    steps forward ``gait.length`` with the rear heel rising about its toes by up to ``LUNGE_HEEL``, the pelvis
    drops a further ``gait.depth`` and rises, the lead foot steps back; while the feet are apart the pelvis
    is low enough for both legs to reach them from the COM, ``LUNGE_SLACK`` lower still) or a :class:`StepUp`
    (see the module docstring). The cycle starts at ``gait.shift`` (rad). The feet are flat unless stated; the
    COM follows the LIPM of a zero-moment point that moves between the feet' centres with their weights (the
    moving foot's weight is zero whenever it is off the floor)."""
    gait = motion.gait
    move = STEP_MOVES.get(type(gait))
    if move is None:
        raise ValueError(f"unknown step plan {type(gait).__name__}")
    f, side = gait.freq, int(gait.side)
    tmpl, stand_z, com_z = foot_template(rig, motion.mean)
    k = rig.height_m / 1.75
    yaw = motion.mean[rig.yaw] + rig.yaw_offset
    rot = axis_rotation(2, np.array(yaw))
    origin = zup_translation(rig, motion.mean)
    dt = t[1] - t[0]
    n_pad = int(round(LIPM_PAD_S / dt))
    tl = t[0] + np.arange(-n_pad, t.shape[0] + n_pad) * dt
    u = np.mod(f * tl + gait.shift / (2 * np.pi), 1.0)
    fwd = rot @ np.array([1.0, 0.0, 0.0])
    pts = np.broadcast_to(tmpl @ rot.T, (tl.shape[0], 2, 4, 3)).copy()
    pts[..., :2] += origin[:2]
    feet = _Feet(u, pts, np.ones((tl.shape[0], 2)), tmpl, rot, yaw, origin, fwd, np.array([0.0, 0.0, 1.0]), side, k)
    drop, terrain = move(gait, feet)  # the pelvis's drop below its height (T,), a step-up's platform
    weight = feet.weight
    centre = pts[..., :2].mean(2)  # (T, 2, 2) foot centres
    p = (weight[..., None] * centre).sum(1) / weight.sum(1)[:, None]
    h = com_z - STEP_BEND * k
    com = lipm(p, dt, h)
    z = stand_z - STEP_BEND * k - drop
    if isinstance(gait, StepUp):  # low enough for each loaded leg to reach its foot from the COM
        support = pts[..., 2].min(2)  # (T, 2) sole height of each foot
        d = np.linalg.norm(pts[..., :2] - com[:, None, None], axis=-1).min(2)  # its nearest sole point
        reach_z = support + np.sqrt(np.maximum(stand_z ** 2 - d ** 2, 0.0))  # highest pelvis per foot
        need = np.where(weight > 0, z[:, None] - reach_z + STEP_UP_SLACK * k, 0.0).max(1)
        z = z - envelope(np.maximum(need, 0.0), int(round(LUNGE_SMOOTH_S / dt)))
    elif isinstance(gait, Lunge):  # feet apart fore and aft: the pelvis is low enough for the legs to reach the feet
        reach = np.abs(np.einsum("tfa,a->tf", centre - com[:, None], fwd[:2])).max(1)  # from the COM
        need = stand_z - np.sqrt(np.maximum(stand_z ** 2 - reach ** 2, 0.0)) + LUNGE_SLACK * k * smootherstep(
            np.clip(reach / (0.3 * k), 0.0, 1.0))
        # its envelope: the pelvis lowers ahead of time and slowly (the ZMP's quick shifts would otherwise make
        # it bob with 2 body-weight forces); added, not a maximum with the dip, so that z stays smooth
        z = z - envelope(need, int(round(LUNGE_SMOOTH_S / dt)))
    keep = slice(n_pad, n_pad + t.shape[0])
    return Plan(t, pts[keep], z[keep], com[keep], terrain=terrain)


def _kick(g: Kick, feet: _Feet) -> tuple[np.ndarray, None]:
    """The moving foot leaves the floor after the weight has shifted off it, swings forward and up, comes back."""
    u, side = feet.u, feet.side
    unload = window(u, 0.0, 0.2) - window(u, 0.75, 0.95)  # weight off the kicking foot, and back
    kick = bump(u, 0.25, 0.7)  # out and back
    reach = np.array((g.forward, g.up)) * feet.k
    feet.pts[:, side] += (kick * reach[0])[:, None, None] * feet.fwd + (kick * reach[1])[:, None, None] * feet.up
    feet.weight[:, side] = 1.0 - unload
    return np.zeros(u.shape[0]), None


def _lunge(g: Lunge, feet: _Feet) -> tuple[np.ndarray, None]:
    """The lead foot steps forward and back, the rear heel rising about its toes as the body lowers."""
    u, side, k = feet.u, feet.side, feet.k
    length, depth = g.length * k, g.depth * k
    out = window(u, 0.1, 0.3) - window(u, 0.7, 0.9)  # lead foot position: 0 home, 1 forward
    lift = bump(u, 0.1, 0.3) + bump(u, 0.7, 0.9)  # stepping out and back
    forward = (out * length)[:, None, None] * feet.fwd
    feet.pts[:, side] += forward + (lift * LUNGE_CLEARANCE * k)[:, None, None] * feet.up
    unload = window(u, 0.0, 0.1) - window(u, 0.3, 0.4) + window(u, 0.6, 0.7) - window(u, 0.9, 1.0)
    moving = ((u > 0.1) & (u < 0.3)) | ((u > 0.7) & (u < 0.9))  # the foot in the air: no weight on it
    feet.weight[:, side] = np.where(moving, 0.0, 1.0 - unload)
    down = bump(u, 0.4, 0.6)
    rear = 1 - side  # the rear heel rises about the rear foot's foremost toe point as the body lowers
    local = roll(feet.tmpl[rear], toe_pivots(feet.tmpl)[rear], LUNGE_HEEL * np.maximum(out, down))
    feet.pts[:, rear] = local @ feet.rot.T
    feet.pts[:, rear, :, :2] += feet.origin[:2]
    return depth * down, None


def _step_up(g: StepUp, feet: _Feet) -> tuple[np.ndarray, Terrain]:
    """Up onto the platform, the leading foot first, and back down, the trailing foot first (module docstring)."""
    u, side, k, pts = feet.u, feet.side, feet.k, feet.pts
    length, height = g.length * k, g.height * k
    trail = 1 - side
    # up: the leading foot onto the platform, then the trailing one; down: trailing foot first
    moves = {side: ((0.05, 0.20), (0.77, 0.92)), trail: ((0.27, 0.42), (0.55, 0.70))}
    shift = 0.07  # weight moves off a foot over this much of the cycle before it leaves, and back after
    for foot, ((a_up, b_up), (a_dn, b_dn)) in moves.items():
        up_, dn_ = b_up - a_up, b_dn - a_dn
        # going up the foot rises to the platform's height, then moves over it and comes down onto it;
        # going down it moves back off the platform before it descends to the floor
        out = (window(u, a_up + STEP_UP_LEAD * up_, b_up - 0.15 * up_)
               - window(u, a_dn + 0.05 * dn_, b_dn - STEP_UP_LEAD * dn_))
        rise = (window(u, a_up, a_up + STEP_UP_LEAD * up_ + 0.05 * up_)
                - window(u, b_dn - STEP_UP_LEAD * dn_ - 0.05 * dn_, b_dn))
        lift = bump(u, a_up, b_up) + bump(u, a_dn, b_dn)
        pts[:, foot] += ((out * length)[:, None, None] * feet.fwd
                         + (rise * height + lift * STEP_UP_CLEARANCE * k)[:, None, None] * feet.up)
        moving = ((u > a_up) & (u < b_up)) | ((u > a_dn) & (u < b_dn))
        unload = (window(u, a_up - shift, a_up) - window(u, b_up, b_up + shift)
                  + window(u, a_dn - shift, a_dn) - window(u, b_dn, b_dn + shift))
        feet.weight[:, foot] = np.where(moving, 0.0, 1.0 - np.clip(unload, 0.0, 1.0))
    # the trailing heel rises about its toes as the body moves onto the platform, the foot leaves from the
    # toes and stays pitched until it lands flat on the platform; back down, it leaves heel first and
    # lands on its toes
    pitch = STEP_UP_HEEL * (window(u, 0.17, 0.27) - window(u, 0.36, 0.42)
                            + window(u, 0.55, 0.62) - window(u, 0.70, 0.78))
    pts[:, trail] += (roll(feet.tmpl[trail], toe_pivots(feet.tmpl)[trail], pitch) - feet.tmpl[trail]) @ feet.rot.T
    drop = -(window(u, 0.27, 0.45) - window(u, 0.52, 0.72)) * height  # the body rises with the trailing foot
    near, far = length - STEP_UP_EDGE * k, length + STEP_UP_DEPTH * k
    centre_xy = feet.origin[:2] + (near + far) / 2 * feet.fwd[:2]
    return drop, Terrain(np.array([[*centre_xy, (far - near) / 2, STEP_UP_HALF_WIDTH * k, feet.yaw, height]]))


# the moves of each type of step motion: the feet and their weights (in place) -> (pelvis drop (T,), terrain)
STEP_MOVES: dict[type, Callable[[Steps, _Feet], tuple[np.ndarray, Terrain | None]]] = {
    Kick: _kick, Lunge: _lunge, StepUp: _step_up}


def cmj_plan(rig: Rig, motion: Fourier, t: np.ndarray, heel: np.ndarray | None = None) -> Plan:
    """A countermovement jump in place (a :class:`Jump` gait): the COM height is :func:`cmj_height`'s design; the
    feet stay flat on their footprints until the heels rise about the toes through the second half of
    the propulsion (to ``TOE_OFF_PITCH`` at take-off, the ankle still plantarflexing then, as it dorsiflexes
    at touchdown: ``CMJ_PITCH_RATE``), land on the forefoot (``HOP_PITCH``) and roll flat again over the
    first half of the landing. The horizontal COM follows the pendulum of the vertical force (as in
    running) about a centre of pressure between the feet, at their middles when flat and under the balls
    of the feet as the heels rise. ``flight`` marks the frames in the air, whose legs :func:`free_flight`
    replaces (their sole points, rising with the COM after ``CMJ_EASE`` of the flight, only warm-start the
    IK: the touchdown's first frames start from them)."""
    g = motion.gait
    tmpl, _, com_z = foot_template(rig, motion.mean)
    k = rig.height_m / 1.75
    dt = t[1] - t[0]
    n_pad = int(round(LIPM_PAD_S / dt))
    tl = t[0] + np.arange(-n_pad, t.shape[0] + n_pad) * dt
    zeta, _, zeta_dd = cmj_height(g, tl, k)
    bottom, take_off, touch, low, _ = cmj_schedule(g, k)
    tau = np.mod(tl - g.start, 1.0 / g.freq)
    flying = (tau >= take_off) & (tau < touch)
    sf = np.clip((tau - take_off) / (touch - take_off), 0.0, 1.0)  # flight progress
    # foot pitch (heels up about the toes): quintics with the ankle still plantarflexing at take-off and
    # dorsiflexing at touchdown (CMJ_PITCH_RATE times the mean rate of the heel rise / of the settling), so
    # that the legs need not take up the whole speed of the body at either instant
    rise0 = bottom + 0.5 * (take_off - bottom)
    settle = 0.5 * (low - touch)
    w_off = CMJ_PITCH_RATE * TOE_OFF_PITCH / (take_off - rise0)
    w_on = -CMJ_PITCH_RATE * HOP_PITCH / settle
    alpha = np.zeros_like(tau)
    for a, b, start, end in ((rise0, take_off, (0.0, 0.0, 0.0), (TOE_OFF_PITCH, w_off, 0.0)),
                             (take_off, touch, (TOE_OFF_PITCH, w_off, 0.0), (HOP_PITCH, w_on, 0.0)),
                             (touch, touch + settle, (HOP_PITCH, w_on, 0.0), (0.0, 0.0, 0.0))):
        m = (tau >= a) & (tau < b)
        alpha[m] = quintic(start, end, b - a, tau[m] - a)[0]
    if heel is not None:  # heels raised further (rad, on t) where the ankles cannot dorsiflex enough
        alpha[n_pad:n_pad + t.shape[0]] += heel
    chord = (CMJ_TAKEOFF + (CMJ_TOUCHDOWN - CMJ_TAKEOFF) * sf) * k  # the COM's take-off-to-touchdown line
    lift = np.where(flying, (zeta - chord) * smootherstep(np.clip(np.minimum(sf, 1 - sf) / CMJ_EASE, 0, 1)), 0.0)
    yaw = motion.mean[rig.yaw] + rig.yaw_offset
    rot = axis_rotation(2, np.array(yaw))
    origin = zup_translation(rig, motion.mean)
    toe = toe_pivots(tmpl)
    pts = np.empty((tl.shape[0], 2, 4, 3))
    cop = np.empty((tl.shape[0], 2, 2))
    on_toes = smootherstep(np.clip(alpha / HOP_PITCH, 0, 1))  # 0 flat, 1 on the forefoot
    for side in range(2):
        local = roll(tmpl[side], toe[side], alpha)
        pts[:, side] = local @ rot.T
        centre, ball = tmpl[side, :, :2].mean(0), tmpl[side, 2:, :2].mean(0)
        cop[:, side] = (centre + (ball - centre) * on_toes[:, None]) @ rot[:2, :2].T
    pts[..., :2] += origin[:2]
    pts[..., 2] += lift[:, None, None]
    p = cop.mean(1) + origin[:2]
    h = com_z + zeta
    com = pendulum(p, (G + zeta_dd) / h, dt, p[0], p[-1])
    keep = slice(n_pad, n_pad + t.shape[0])
    return Plan(t, pts[keep], np.zeros(t.shape[0]), com[keep], h[keep], flying[keep])

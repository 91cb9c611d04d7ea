"""Cyclic gaits: the foot and COM plans of walking, running and hops in place (:func:`walk_plan`), and the walking
pelvis's vault (:func:`vault`). Gait timing (stride frequency, duty factor, per-leg phase) is the generator's
(``Fourier.gait``: a :class:`~hdys.physics.timing.Cyclic` or :class:`~hdys.physics.timing.Hop`).

**Walking** (``turn``: along a circle, the heading turning at the generator's rate; the generator draws 0.8-1.8
m/s with the cadence of :func:`hdys.physics.timing.walk_frequency`). The cycle ``n`` footprint of a foot is its
neutral-pose place relative to the COM reference (constant speed along the heading) at ``FOOTPRINT_PHASE`` of
that foot's cycle (step length ``speed / (2 f)`` clipped to ``STEP_RANGE`` of the stature). In stance the foot is
stationary apart from a heel rocker (toes up by ``HEEL_STRIKE_PITCH`` at heel strike, rolling flat about the heel
points by ``FOOT_FLAT`` of the cycle) and a toe rocker (heel rising about the foremost toe point from ``HEEL_OFF``
to toe-off, up to ``WALK_TOE_OFF_PITCH``); the pitch follows a smootherstep, so the pivots never move and the
foot's velocity and acceleration vanish at heel strike and toe-off. In swing the foot's rigid pose (translation,
pitch, heading) moves from the toe-off pose to the next heel-strike pose along
:func:`hdys.physics.shapes.swing_progress` (``SWING_START_ACC``: the foot follows the body at once, as the knee
flexes; ``SWING_END_DEC``: it arrives late, when the hip is nearer), plus a ``s^3 (1 - s)^BUMP_TAIL`` lift
peaking at ``CLEARANCE``. The COM is the LIPM's (:func:`hdys.physics.balance.lipm`) for a zero-moment point that
rolls from heel to toe of the stance foot (as ``(stance progress) ** ZMP_POW``: quickly to the mid-foot, then
long under the forefoot) and passes to the leading foot in double support (smootherstep weights). The pelvis
vaults (:func:`vault`): ``WALK_TOP`` below standing at its highest (mid-stance), lowered wherever a stance leg
(or a swing leg from ``VAULT_SWING`` of its swing on) could not reach its planned ankle with the knee bent
``VAULT_KNEE`` (a dip into each double support, deeper for longer steps, enveloped over ``VAULT_W`` of a step),
its top at most ``rise`` above the dips so that the body never accelerates down faster than ``VAULT_ACC`` g.

**Running** (duty factor below one half: ``Cyclic.duty`` 0.34-0.42): the same stance plan with the ``RUN_*``
constants (a flatter heel strike, the heel rising from ``RUN_HEEL_OFF`` of stance ever faster until toe-off
(``RUN_PUSH``), footprints nearer the line of travel, the centre of pressure under the forefoot from early stance
(``RUN_ZMP_POW``)), the step clipped so that the COM travels ``RUN_TRAVEL`` of the stature over one stance
(longer stances leave the feet out of reach): 2.0-3.1 m/s at 1.75 m. The COM height follows exactly from each
leg's half-sine vertical force (:func:`hdys.physics.balance.running_bounce`), raised or lowered as a whole so
that at touchdown the landing leg reaches its heel with the knee bent ``RUN_TD_KNEE`` (:func:`_touchdown_lift`);
the horizontal COM is the pendulum's. The IK solves the pelvis height for that COM height (``Plan.com_z``); the
swing feet are not planned (``Plan.swing``: :func:`hdys.physics.flight.swing_legs`).

**Hops in place** (a :class:`~hdys.physics.timing.Hop` gait: ``jump``, rebound hopping, and ``jumping_jack``, whose
feet land ``spread`` further apart on every other hop): both legs on one cycle, no progression, the vertical force
of both legs a half sine (peak ``pi / (2 duty)``, about 3 body weights), the feet on the forefoot all stance (heels
``HOP_PITCH`` up, raised further by the push-off from ``HOP_PUSH`` of stance to ``HOP_TOE_OFF_PITCH``, the centre
of pressure under the toes), the COM at touchdown ``HOP_DROP`` (jacks: ``JACK_DROP``) below standing and the feet
rising with the COM in flight (eased in and out over ``HOP_EASE`` of the flight). A deep hop's crouch puts the
Rajagopal ankles on their dorsiflexion limit: there the heels rise further (``GroundMotion._heels``).
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hdys.frames import G
from hdys.physics.balance import lipm, pendulum, running_bounce
from hdys.physics.fourier import Fourier
from hdys.physics.plans import HOP_PITCH, LIPM_PAD_S, Plan, zup_translation
from hdys.physics.rig import Rig, neutral
from hdys.physics.rotations import axis_rotation
from hdys.physics.shapes import envelope, smootherstep, swing_progress, toe_pivots
from hdys.physics.timing import Hop

HEEL_STRIKE_PITCH = 0.35  # rad, toes up at heel strike
WALK_TOE_OFF_PITCH = 1.0  # rad, heel up at a walk's toe-off (the trailing leg reaches back on its forefoot)
# rad, heel up at a run's toe-off: runners leave the ground from a steep forefoot, the ankle plantarflexed
# (Novacheck T.F. 1998, "The biomechanics of running", Gait Posture 7:77-95); at 0.7 the trailing leg reached
# its toes only with the hip at its extension limit, and steeper than 0.9 the ground explains less of the
# push-off (benchmarks/RESULTS.md, "Running")
RUN_TOE_OFF_PITCH = 0.9
FOOT_FLAT = 0.08  # cycle fraction at which the heel rocker ends
HEEL_OFF = 0.32  # cycle fraction at which the heel starts to rise
CLEARANCE = 0.05  # m at 1.75 m stature: peak lift of the swing foot
BUMP_TAIL = 2.0  # the walking swing's lift s^3 (1 - s)^BUMP_TAIL: the heel descends onto the floor late
FOOTPRINT_PHASE = 0.18  # cycle fraction at which the COM reference passes over the footprint
SWING_WARP = 1.4  # hopping swing progress smootherstep(s ** SWING_WARP): the foot reaches forward late
SWING_START_ACC = 8.0  # walking swing progress (swing_progress): its acceleration at toe-off ...
SWING_END_DEC = 3.0  # ... and its deceleration at heel strike, per swing time^2 (leaves at once, arrives late)
ZMP_POW = 0.5  # walking: the centre of pressure rolls from heel to toe as (stance progress) ** ZMP_POW
RUN_ZMP_POW = 0.3  # running: ... as (stance progress) ** RUN_ZMP_POW, under the forefoot early (Cavanagh &
# Lafortune 1980, "Ground reaction forces in distance running", J Biomech 13:397-406)
VAULT_KNEE = 5.0  # deg: the walking pelvis is low enough for each stance leg to reach its ankle with this knee bend
VAULT_SWING = 0.8  # ... and for the swing leg from this swing progress on (terminal swing)
VAULT_W = 0.5  # steps: width of the window over which the walking pelvis is enveloped
VAULT_ACC = 0.3  # g: at most this downward acceleration at its top (stance forces >= 0.7 body weights there)
VAULT_FIT = 3  # passes lowering the enveloped pelvis where its smoothing rose above a leg's reach
WALK_TOP = 0.015  # m at 1.75 m stature: the walking pelvis at its highest (mid-stance), below standing
STEP_RANGE = (0.30, 0.46)  # step length / stature (the generator's: 0.33-0.45)
WALK_DUTY = 0.6  # the duty factor FOOT_FLAT is given for; other gaits scale it by duty / 0.6
# running (duty factor < 0.5: a flight phase between the stances)
RUN_TRAVEL = (0.34, 0.40)  # stature: the COM's travel over one stance of a run (2 x step x duty), longer out of reach
RUN_NARROW = 0.04  # m at 1.75 m stature: each footprint this much nearer the line of travel than in walking
RUN_HEEL_STRIKE_PITCH = 0.2  # rad: a flatter foot strike
RUN_FOOTPRINT = 0.4  # stance fraction at which the COM passes over the footprint
RUN_TD_KNEE = 28.0  # deg: a run's COM at touchdown is as high as lets the landing leg reach its heel with this
# knee bend
RUN_PUSH = 1.5  # a run's heel rises as (progress from heel-off to toe-off) ** RUN_PUSH: fastest at toe-off
RUN_HEEL_OFF = 0.15  # stance fraction at which the running heel starts to rise (the ankle's dorsiflexion limit)
HOP_DROP = 0.06  # m at 1.75 m stature: COM height at a hop's touchdown and take-off below the neutral pose's
JACK_DROP = 0.03  # m at 1.75 m stature: the same for a jumping jack (its low hops keep the legs straighter)
HOP_PUSH = 0.5  # stance fraction from which the push-off raises the heels further, to HOP_TOE_OFF_PITCH
HOP_TOE_OFF_PITCH = 0.5  # rad: a hop's heels at take-off, below plans.TOE_OFF_PITCH so that both toe points stay
# within CONTACT_HEIGHT of the floor and share the push-off (the lateral one is 5 cm behind the medial at 1.75 m:
# sin(0.5) x 5 cm = 2.4 cm)
HOP_EASE = 0.3  # fraction of the flight over which the hopping feet ease into (and out of) the COM's rise
# the knees' soft limit in walking (rad, m^2/rad^2; the standing one: SOFT_ZONE, SOFT_WEIGHT in hdys.physics.plans).
# Walks (and turns) have a wide, weak one (0.1 rad inside the zone costs what a 5 mm miss does): a walk's swing
# knee extends fast in terminal swing, and the wide zone decelerates it before full extension, where a narrow one
# stops it at once, a snap that loads the stance foot's vertical GRF. Standing motions keep the narrow one: their
# knees stand nearly straight, and the wide zone's pull towards flexion can lift their feet off the floor
# (benchmarks/RESULTS.md, "Walking across the speed range").
WALK_SOFT_ZONE, WALK_SOFT_WEIGHT = 0.4, 0.003


@dataclass
class _Cycle:
    """What :func:`walk_plan` derives from a cyclic gait or hop and the body: the timing, each foot's sole template
    (2, 4, 3), ankle template (2, 3) and rocker pivots (heel line, foremost toe point; (2, 3) each) in the facing
    frame, the stance constants of the gait (walk, run or hop), and the COM reference path."""

    freq: float
    duty: float
    shifts: tuple[float, float]
    hop: bool  # both legs together, in place
    run: bool  # flight phases (runs and hops)
    k: float  # stature / 1.75 m
    tmpl: np.ndarray
    ankle_tmpl: np.ndarray
    heel: np.ndarray
    toe: np.ndarray
    stand_z: float
    com_z: float
    foot_flat: float  # cycle fraction at which the heel rocker ends
    heel_off: float  # cycle fraction at which the heel starts to rise
    footprint_phase: float  # cycle fraction at which the COM reference passes over the footprint
    strike: float  # rad: toes up at heel strike
    toe_off: float  # rad: heel up at toe-off
    speed: float  # m/s along the heading
    spread: float  # m: a jumping jack's feet this much further apart on every other hop
    yaw0: float
    turn: float  # rad/s
    p0: np.ndarray  # (2,) the COM reference at t = 0

    def facing(self, tt):
        return self.yaw0 + self.turn * tt

    def path(self, tt):
        """The COM reference: constant speed along the facing direction."""
        if abs(self.turn) < 1e-9:
            return self.p0 + self.speed * np.stack([np.cos(self.yaw0) * tt, np.sin(self.yaw0) * tt], -1)
        a = self.facing(tt)
        arc = np.stack([np.sin(a) - np.sin(self.yaw0), np.cos(self.yaw0) - np.cos(a)], -1)
        return self.p0 + self.speed / self.turn * arc

    def footprint(self, side: int, cycle: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(origin (T, 3), heading (T,)) of foot ``side``'s footprint of each ``cycle``."""
        tm = (cycle + self.footprint_phase - self.shifts[side] / (2 * np.pi)) / self.freq
        at = np.concatenate([self.path(tm), np.zeros(tm.shape + (1,))], -1)
        if self.spread:  # even hops land apart, odd ones together
            out = (1 - side * 2) * self.spread / 2 * (np.mod(cycle, 2) == 0)
            at[..., :2] += out[..., None] * np.stack([-np.sin(self.facing(tm)), np.cos(self.facing(tm))], -1)
        return at, self.facing(tm)

    def pose(self, side: int, cycle: np.ndarray, alpha, pivot) -> tuple[np.ndarray, np.ndarray]:
        """(A, psi): world = A + Rz(psi) Ry(alpha) template for the footprint rolled about ``pivot``."""
        o, psi = self.footprint(side, cycle)
        pivot = np.broadcast_to(pivot, o.shape)
        rolled = np.einsum("tab,tb->ta", axis_rotation(1, alpha), pivot)
        a = o + np.einsum("tab,tb->ta", axis_rotation(2, psi), pivot - rolled)
        return a, psi


def _cycle(rig: Rig, motion: Fourier) -> _Cycle:
    """The :class:`_Cycle` of ``motion``'s gait (a :class:`Cyclic` or a :class:`Hop`)."""
    gait = motion.gait
    f, duty = gait.freq, gait.duty
    hop = isinstance(gait, Hop)
    run = hop or duty < 0.5
    tmpl, ankle_tmpl, stand_z, com_z = neutral(rig, motion.mean)
    k = rig.height_m / 1.75
    if run and not hop:  # footprints nearer the line of travel
        tmpl[..., 1] -= np.array([1.0, -1.0])[:, None] * RUN_NARROW * k
    lo, hi = (RUN_TRAVEL[0] / (2 * duty), RUN_TRAVEL[1] / (2 * duty)) if run else STEP_RANGE
    speed = float(np.linalg.norm((motion.slope[rig.trans] @ rig.to_zup.T)[:2]))
    step = float(np.clip(speed / (2 * f), lo * rig.height_m, hi * rig.height_m))
    return _Cycle(
        freq=f, duty=duty, shifts=gait.shifts, hop=hop, run=run, k=k, tmpl=tmpl, ankle_tmpl=ankle_tmpl,
        heel=tmpl[:, :2].mean(1), toe=toe_pivots(tmpl), stand_z=stand_z, com_z=com_z,
        foot_flat=FOOT_FLAT * duty / WALK_DUTY,
        heel_off=(HOP_PUSH if hop else RUN_HEEL_OFF) * duty if run else HEEL_OFF,
        footprint_phase=RUN_FOOTPRINT * duty if run else FOOTPRINT_PHASE,
        strike=RUN_HEEL_STRIKE_PITCH if run else HEEL_STRIKE_PITCH,
        toe_off=(HOP_TOE_OFF_PITCH if hop else RUN_TOE_OFF_PITCH) if run else WALK_TOE_OFF_PITCH,
        speed=0.0 if hop else 2 * f * step, spread=float(gait.spread if hop else 0.0) * k,
        yaw0=motion.mean[rig.yaw] + rig.yaw_offset, turn=motion.slope[rig.yaw],
        p0=zup_translation(rig, motion.mean)[:2])


@dataclass
class _Leg:
    """One foot's plan on the long grid: sole points (T, 4, 3), ankle (T, 3), swing and reach flags (T,), its share
    of the support (T,) and the centre of pressure under it (T, 2)."""

    points: np.ndarray
    ankle: np.ndarray
    swing: np.ndarray
    reach: np.ndarray
    weight: np.ndarray
    zmp: np.ndarray


def walk_plan(rig: Rig, motion: Fourier, t: np.ndarray) -> Plan:
    """Footprints, swing paths, ZMP-balanced COM and pelvis height for the generator's gait (see the module
    docstring). ``t`` must be a uniform grid."""
    c = _cycle(rig, motion)
    dt = t[1] - t[0]
    n_pad = int(round(LIPM_PAD_S / dt))
    tl = t[0] + np.arange(-n_pad, t.shape[0] + n_pad) * dt  # long grid for the pendulum
    h_com = zeta_dd = None
    if c.run:  # COM height (flight phases: from the stance forces)
        shifts = list(c.shifts)
        zeta, zeta_dd = running_bounce(c.freq, c.duty, shifts, tl)
        # hops: at touchdown the legs are extended a little less than in standing (runs: see _touchdown_lift)
        touchdowns = -np.array(shifts[:1 if c.hop else 2]) / (2 * np.pi * c.freq)
        td = running_bounce(c.freq, c.duty, shifts, touchdowns)[0].mean()
        drop = (JACK_DROP if c.spread else HOP_DROP) * c.k if c.hop else 0.0
        h_com = c.com_z - drop + zeta - td
    legs = [_leg(c, side, tl, h_com) for side in range(2)]
    pts, ankles = np.stack([g.points for g in legs], 1), np.stack([g.ankle for g in legs], 1)
    swing, reach = np.stack([g.swing for g in legs], 1), np.stack([g.reach for g in legs], 1)
    weight, zmp = np.stack([g.weight for g in legs], 1), np.stack([g.zmp for g in legs], 1)
    p = (weight[..., None] * zmp).sum(1) / np.maximum(weight.sum(1), 1e-9)[:, None]
    lead = int(np.argmax(weight.sum(0)))
    p = np.where((weight.sum(1) > 1e-9)[:, None], p, zmp[:, lead])
    keep = slice(n_pad, n_pad + t.shape[0])
    if c.run:
        h = h_com
        com = pendulum(p, (G + zeta_dd) / h, dt, c.path(tl[0]), c.path(tl[-1]))
        if c.hop:
            return Plan(t, pts[keep], np.zeros(t.shape[0]), com[keep], h[keep])
        h = h + _touchdown_lift(rig, motion, tl, com, h, ankles, swing)
        com = pendulum(p, (G + zeta_dd) / h, dt, c.path(tl[0]), c.path(tl[-1]))
        return Plan(t, pts[keep], np.zeros(t.shape[0]), com[keep], h[keep], swing=swing[keep])
    com = lipm(p, dt, c.com_z - WALK_TOP * c.k)
    return Plan(t, pts[keep], np.full(t.shape[0], c.stand_z - WALK_TOP * c.k), com[keep], reach=reach[keep],
                ankles=ankles[keep], soft=(WALK_SOFT_ZONE, WALK_SOFT_WEIGHT))


def _stance_pitch(c: _Cycle, side: int, u: np.ndarray):
    """(pitch (T,), its pivot (T, 3) or (3,), the pitch at landing, its pivot) of foot ``side`` in stance at
    cycle fraction ``u``: walks and runs roll on the heel rocker, then the toe rocker; hops stay on the forefoot."""
    duty, heel, toe = c.duty, c.heel[side], c.toe[side]
    if c.hop:  # on the forefoot all stance, heels up; the push-off raises them further
        alpha = HOP_PITCH + (c.toe_off - HOP_PITCH) * smootherstep((u - c.heel_off) / (duty - c.heel_off))
        return alpha, toe, HOP_PITCH, toe
    alpha = np.where(u < c.foot_flat, -c.strike * (1 - smootherstep(u / c.foot_flat)),
                     c.toe_off * (np.clip((u - c.heel_off) / (duty - c.heel_off), 0, 1) ** RUN_PUSH if c.run
                                  else smootherstep((u - c.heel_off) / (duty - c.heel_off))))
    return alpha, np.where((u < c.foot_flat)[:, None], heel, toe), -c.strike, heel


def _leg(c: _Cycle, side: int, tl: np.ndarray, h_com: np.ndarray | None) -> _Leg:
    """Foot ``side``'s plan on the long grid ``tl``: stance on its footprints, swing between them (hops: rising
    with the COM height ``h_com``), its share of the support and the centre of pressure under it."""
    s = c.freq * tl + c.shifts[side] / (2 * np.pi)
    n = np.floor(s)
    u = s - n
    duty, toe_off = c.duty, c.toe_off
    stance = u < duty
    alpha, pivot, land, land_pivot = _stance_pitch(c, side, u)
    a_st, psi_st = c.pose(side, n, alpha, pivot)
    a_to, psi_to = c.pose(side, n, np.full_like(u, toe_off), c.toe[side])
    a_hs, psi_hs = c.pose(side, n + 1, np.full_like(u, land), land_pivot)
    su = np.clip((u - duty) / (1 - duty), 0, 1)  # swing progress
    sig = smootherstep(su ** SWING_WARP) if c.run else swing_progress(su, SWING_START_ACC, SWING_END_DEC)
    a_sw = a_to + (a_hs - a_to) * sig[:, None]
    if c.hop:  # the feet rise with the COM, easing in and out at take-off and touchdown
        take_off = h_com[~stance].min()  # the COM height at take-off and touchdown (the flights' lowest)
        a_sw[:, 2] += (h_com - take_off) * smootherstep(
            np.clip(np.minimum(su, 1 - su) / HOP_EASE, 0, 1))
    elif not c.run:  # peaks at 3 / (3 + BUMP_TAIL) of the swing (a run's swing leg follows the generator)
        e = BUMP_TAIL
        a_sw[:, 2] += CLEARANCE * c.k * su ** 3 * (1 - su) ** e / ((3 / (3 + e)) ** 3 * (e / (3 + e)) ** e)
    alpha_sw = toe_off + (land - toe_off) * sig
    psi_sw = psi_to + (psi_hs - psi_to) * sig
    a = np.where(stance[:, None], a_st, a_sw)
    rot = axis_rotation(2, np.where(stance, psi_st, psi_sw)) @ axis_rotation(1, np.where(stance, alpha, alpha_sw))
    if c.run:  # the leg's share of the vertical force: a half sine over its stance
        weight = np.where(stance, np.sin(np.pi * np.clip(u / duty, 0, 1)), 0.0)
    else:
        ds = duty - 0.5  # double support at each end of stance
        weight = np.where(stance, np.minimum(smootherstep(u / ds), smootherstep((duty - u) / ds)), 0.0)
    o, psi = c.footprint(side, n)
    if c.hop:  # on the forefoot: the centre of pressure under the toes
        local = np.broadcast_to(c.toe[side], (u.shape[0], 3))
    else:
        roll = np.clip(u / duty, 0, 1) ** (RUN_ZMP_POW if c.run else ZMP_POW)
        local = c.heel[side] + (c.toe[side] - c.heel[side]) * roll[:, None]
    zmp = o[:, :2] + np.einsum("tab,tb->ta", axis_rotation(2, psi), local)[:, :2]
    return _Leg(a[:, None] + np.einsum("tab,pb->tpa", rot, c.tmpl[side]), a + rot @ c.ankle_tmpl[side], ~stance,
                stance | (su > VAULT_SWING), weight, zmp)


def _leg_reach(rig: Rig, knee_deg: float) -> np.ndarray:
    """(2,) hip-to-ankle distance of each leg with the knee bent ``knee_deg`` (thigh and shank from the model)."""
    m = rig.model
    thigh = np.linalg.norm(m.body_pos[rig.chain[:, 1]], axis=-1)
    shank = np.linalg.norm(m.body_pos[rig.chain[:, 2]], axis=-1)
    return np.sqrt(thigh ** 2 + shank ** 2 + 2 * thigh * shank * np.cos(np.deg2rad(knee_deg)))


def _touchdown_lift(rig: Rig, motion: Fourier, t: np.ndarray, com: np.ndarray, h: np.ndarray, ankles: np.ndarray,
                    swing: np.ndarray) -> float:
    """How much to raise a run's planned COM height ``h`` (T,) so that at touchdown each landing leg reaches its
    heel-strike ankle (``ankles`` (T, 2, 3)) with the knee bent at least ``RUN_TD_KNEE`` (on average over that
    leg's touchdowns; the legs' strides differ by the generator's asymmetry), its hip placed relative to the
    planned COM ``com`` (T, 2) as in the generator's pose at that instant."""
    m = rig.model
    data = mujoco.MjData(m)
    leg = _leg_reach(rig, RUN_TD_KNEE)
    lift = []
    for side in range(2):
        td = np.flatnonzero(swing[:-1, side] & ~swing[1:, side]) + 1  # first stance frames
        if td.size == 0:
            continue
        lift.append([])
        q = motion(t[td])[0]
        q[:, rig.fixed] = motion.mean[rig.fixed]
        if rig.reorient is not None:
            q[:, rig.root_rot] = rig.reorient(q[:, rig.root_rot])
        for i, qpos in zip(td, rig.to_qpos(q)):
            data.qpos[:] = qpos
            mujoco.mj_kinematics(m, data)
            mujoco.mj_comPos(m, data)
            hip = rig.to_zup @ (data.xpos[rig.chain[side, 0]] - data.subtree_com[0])  # from the COM
            flat = np.linalg.norm(ankles[i, side, :2] - com[i] - hip[:2])
            lift[-1].append(ankles[i, side, 2] + np.sqrt(max(leg[side] ** 2 - flat ** 2, 0.0)) - hip[2] - h[i])
    return float(min(np.mean(x) for x in lift)) if lift else 0.0


def vault(rig: Rig, plan: Plan, qpos: np.ndarray, f: float, top: float) -> np.ndarray:
    """The walking pelvis height: at most ``top`` (mid-stance) and low enough that each leg of ``plan.reach``
    (stance, terminal swing) reaches its planned ankle (``plan.ankles``) with the knee bent ``VAULT_KNEE``
    from its hip in ``qpos`` (the previous solution; ``plan.pelvis_z`` its pelvis height): per frame the
    highest pelvis that does, enveloped (the lowest over ``VAULT_W`` of a step, then smoothed) so the body
    descends into each double support and rises out of it smoothly, an inverted pendulum's vault, its top at
    most ``rise`` above the dips (a cosine of that height at the step frequency accelerates the body down
    by ``VAULT_ACC`` g); where the smoothing rose above the reachable height (a narrow dip), the pelvis is
    lowered there smoothly (``VAULT_FIT`` passes): a leg asked to reach further than it can folds in the IK."""
    m = rig.model
    data = mujoco.MjData(m)
    hip = np.zeros((qpos.shape[0], 2, 3))
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(m, data)
        hip[i] = data.xpos[rig.chain[:, 0]] @ rig.to_zup.T
    leg = _leg_reach(rig, VAULT_KNEE)
    flat = np.linalg.norm(hip[..., :2] - plan.ankles[..., :2], axis=-1)
    highest = plan.ankles[..., 2] + np.sqrt(np.maximum(leg ** 2 - flat ** 2, 0.0))  # hip over each ankle
    room = np.where(plan.reach, highest - hip[..., 2], np.inf).min(1)
    z_max = np.minimum(plan.pelvis_z + room, top)
    dt = plan.t[1] - plan.t[0]
    w = max(1, int(round(VAULT_W / (4 * f) / dt)))  # half-width in frames
    z = -envelope(-z_max, w)  # the lower envelope
    rise = 2 * VAULT_ACC * G / (4 * np.pi * f) ** 2
    z = -envelope(-np.minimum(z_max, np.quantile(z, 0.05) + rise), w)
    for _ in range(VAULT_FIT):  # the smoothing may round a narrow dip off: lower the pelvis smoothly there
        over = np.maximum(z - z_max, 0.0)
        if over.max() < 1e-4:
            break
        z = z - 1.5 * envelope(over, w)
    return np.minimum(z, top)

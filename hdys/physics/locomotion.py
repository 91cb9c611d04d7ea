"""Motions on the ground: a foot plan, a balanced pelvis plan and leg inverse kinematics.

The generators of :mod:`hdys.physics.motions` prescribe joint angles analytically; on their own they do
not keep a stance foot still. For motions on the ground the kinematics are built the other way round,
as a planner for a walking robot would:

1. **Foot plan** (z-up world). Each foot is a rigid sole (the four contact points of
   :mod:`hdys.physics.contact`, in their neutral-pose layout ``template``; the toe joints are held at the
   generator's mean angle). Quasi-static motions (squat, sit-to-stand, standing) keep both feet flat on
   one footprint each. Walking (``turn``: along a circle, the heading turning at the generator's rate)
   puts footprints along the path of travel: the cycle ``n`` footprint of a foot is its neutral-pose
   place relative to the COM reference (constant speed along the heading) at ``FOOTPRINT_PHASE`` of
   that foot's cycle (step length ``speed / (2 f)`` clipped to ``STEP_RANGE`` of the stature; the
   generator draws 0.8-1.8 m/s with the cadence of :func:`hdys.physics.motions.walk_frequency`). In stance
   the foot is stationary apart from a heel rocker (toes up by ``HEEL_STRIKE_PITCH`` at heel strike, rolling
   flat about the heel points by ``FOOT_FLAT`` of the cycle) and a toe rocker (heel rising about the
   foremost toe point from ``HEEL_OFF`` to toe-off, up to ``WALK_TOE_OFF_PITCH``); the pitch follows a
   quintic smootherstep, so the pivot points never move and the foot's velocity and acceleration vanish at
   heel strike and toe-off. In swing the foot's rigid pose (translation, pitch, heading) moves from the
   toe-off pose to the next heel-strike pose along a quintic of the swing progress with zero velocity at
   both ends, an acceleration ``SWING_START_ACC`` at toe-off (the foot follows the body at once, as the
   knee flexes) and a deceleration ``SWING_END_DEC`` at heel strike (it arrives late, when the hip is
   nearer), plus a ``s^3 (1 - s)^BUMP_TAIL`` clearance lift peaking at ``CLEARANCE``. Gait timing (stride
   frequency, duty factor, per-leg phase) is the generator's (``Fourier.gait``).
2. **Balance.** The pelvis's horizontal position is chosen so that the whole-body centre of mass (COM)
   follows a target: over the centre of the feet for quasi-static motions; for walking the COM of a
   linear inverted pendulum ``x - (h/g) x'' = p`` (Kajita S. et al. 2003, "Biped walking pattern
   generation by using preview control of zero-moment point", ICRA) for a reference zero-moment point
   ``p`` that rolls from heel to toe of the stance foot (walking: as the square root of the stance
   progress, ``ZMP_POW``: quickly to the mid-foot, then long under the forefoot) and passes to the leading
   foot during double support (smootherstep weights). The pendulum is solved as a two-point boundary value problem on a
   grid padded by ``LIPM_PAD_S`` (the boundary error decays as ``exp(-t / sqrt(h/g))``).
3. **Vertical.** Quasi-static motions keep the pelvis ``STATIC_BEND`` below its standing height and
   lower it by ``STATIC_DEPTH`` of the generator's drop, raised again (``STATIC_RAISE_*``) where the IK
   leaves the flat feet short of the floor (the ankle's dorsiflexion limit). Walking vaults
   (:func:`_vault`): the pelvis is ``WALK_TOP`` below standing at its highest (mid-stance) and lowered
   wherever a stance leg (or a swing leg from ``VAULT_SWING`` of its swing on) could not reach its planned
   ankle with the knee bent ``VAULT_KNEE``: per frame the highest hip over each planned ankle, enveloped
   over ``VAULT_W`` of a step (a dip into each double support, deeper for longer steps), its top at most
   ``rise`` above the dips so that the body never accelerates down faster than ``VAULT_ACC`` g; two passes,
   each solving the IK again. Measured (``benchmarks/walking.py``, medians by speed from 0.8-1.1 to
   1.6-1.8 m/s): the pelvis 2-5 cm below standing at its highest and 5-9 cm at its lowest, vertical GRF
   peaks 1.15-1.5 body weights (normative: 1.0-1.3, rising with speed; Winter D.A. 2009, *Biomechanics and
   Motor Control of Human Movement*, 4th ed., Wiley; Keller T.S. et al. 1996, "Relationship between
   vertical ground reaction force and speed during walking, slow jogging, and running", Clin Biomech
   11:253-259), root residual 1-5 % body weight: the planned legs need a deeper double-support dip than a
   person's, so the stance knee stays flexed 30-45 deg through mid-stance, and the swing thigh overshoots
   forward; the swing knee extends fast in terminal swing and flexes again before heel strike (the knees'
   wide soft limit, ``WALK_SOFT_ZONE``, keeps it from snapping straight). Where a leg still cannot reach
   its planned foot the pelvis is lowered further, slowly (``WALK_LOWER_*``).
4. **Leg IK.** On a ``FINE_HZ`` grid (padded by ``PAD_S``) each frame solves the leg joints (Rajagopal:
   hip 3, knee, ankle, subtalar; SMPL: hip 3, knee flexion, ankle 3) by damped Gauss-Newton on the
   MuJoCo model (``mj_kinematics``/``mj_comPos``/``mj_jac`` of the eight sole points), minimising
   ``|sole points - plan|^2 + REG |q_leg - q_generator|^2`` (the generator's angles regularise the
   redundancy), warm-started from the previous frame. The pelvis's horizontal position is the COM target
   minus the COM's offset from the pelvis, taken from a first pass on every fourth frame (offset from
   the reference pose) for the second, full pass. Hinge joints are clipped to their limits less
   ``LIMIT_MARGIN`` (the knees, and the SMPL ball-joint knees' flexion, softly from ``Plan.soft`` on).
   The solved angles and the pelvis translation are interpolated by quintic splines,
   whose derivatives give consistent velocities and accelerations; all other coordinates keep the
   generator's analytic values (toe joints: their mean), except the Rajagopal pelvis rotation, which is
   converted from the generators' heading-first meaning to OpenSim's tilt-first angles
   (:func:`heading_first`) and splined too.
5. **Running** (duty factor below one half: ``Fourier.gait["duty"]`` 0.34-0.42). The same stance plan with
   the running constants (``RUN_*``: a flatter heel strike, the heel rising from ``RUN_HEEL_OFF`` of stance
   ever faster until toe-off (``RUN_PUSH``), footprints nearer the line of travel, the centre of pressure
   under the forefoot from early stance (``RUN_ZMP_POW``)). The step is the generator's speed over twice the
   stride frequency, clipped so that the COM travels ``RUN_TRAVEL`` of the stature over one stance (longer
   stances leave the feet out of reach): 2.0-3.1 m/s at 1.75 m. Each leg's vertical force is a half sine
   over its stance (:func:`running_bounce`), zero in flight; the COM height follows from it exactly
   (``z'' = F/m - g``: ballistic in flight), raised or lowered as a whole so that at touchdown the landing
   leg reaches its heel with the knee bent ``RUN_TD_KNEE`` (:func:`_touchdown_lift`), and the horizontal
   COM from the pendulum ``x'' = (F / (m z)) (x - p)`` (:func:`pendulum`; the ground force points from the
   centre of pressure through the COM, no force in flight). The IK solves the pelvis height for the COM
   height as well (``Plan.com_z``), with ``COM_PASSES`` extra passes, so that the body is ballistic in
   flight (root residual below 0.1 body weight there) and the stance forces peak at about 2.1 body weights.
   The swing foot is not planned in the world: its sole points have no weight in the IK
   (``Plan.swing``) and the swing leg follows the generator's normative running curves (the knee
   folds to ~100 deg), offset so that it joins the stance solution at toe-off and touchdown with matching
   angle, rate and acceleration (:func:`swing_legs`, solved again ``SWING_PASSES`` times), its knee folding
   ``SWING_FOLD`` further at mid-swing (the pelvis runs lower than the curves' runner's, and the toes would
   brush the floor). In flight the planned legs and COM change the body's angular momentum (as a swinging leg
   moves the COM, the plan moves the trunk the other way, and nothing turns the body); the whole body then
   turns a little (the pelvis tilt's range unchanged, ~6 deg), once, by :func:`spin_least_squares`. Measured
   (``benchmarks/running.py``, 24 runs per body, medians): 2.3-2.5 m/s at 1.75 m, no ground force in 18-19 % of
   the frames (21 % planned), root residual 3.2 % (Rajagopal; 2.7 % without the turn: the feet cannot always
   give its moment in stance) and 3.8 % (SMPL) of body weight, the moment left unexplained in flight 6.5 %
   (Rajagopal; 14.8 % without the turn) and 2.4 % (SMPL; 5.8 %) of body weight x height, the knee at touchdown
   29 deg and at most 69 deg in stance (a person's: ~20 and 40-50 deg; the ankle's dorsiflexion limit with the
   planned COM drop of ~6 cm from touchdown), folding to 106 deg in swing; peak joint torques 5.5 N m/kg
   (Rajagopal: the knee extensors of the crouched stance).
6. **Hops in place** (``Fourier.gait["hop"]``: ``jump``, rebound hopping, and ``jumping_jack``, whose
   feet land ``spread`` further apart on every other hop): both legs on one cycle, no progression, the
   vertical force of both legs a half sine (peak ``pi / (2 duty)``, about 3 body weights), the feet on
   the forefoot all stance (heels ``HOP_PITCH`` up, raised further by the push-off from ``HOP_PUSH`` of
   stance to ``HOP_TOE_OFF_PITCH``, the centre of pressure under the toes; pushed off at ``TOE_OFF_PITCH``, as
   runs do, the lateral toe point rose off the floor in a quarter of the stance frames and the push-off stood
   on one point per foot: ``benchmarks/feet.py``, 8 hops and 8 jumping jacks, root residual 6.0 -> 4.6 and 5.4
   -> 4.3 % of body weight), the COM at touchdown ``HOP_DROP`` (jacks: ``JACK_DROP``) below standing and
   the feet rising with the COM in flight (eased in and out over ``HOP_EASE`` of the flight). Where the IK
   still misses a foot (a deep hop's crouch puts the Rajagopal ankles on their dorsiflexion limit), the heels
   rise further (:meth:`GroundMotion._heels`; ``benchmarks/feet.py``, 8 hops and 8 jumping jacks: misses of
   up to 18-21 mm, the toes up to 12-14 mm in the floor, slides of 8-10 mm at the 95th percentile and frames
   without contact in mid-stance, up to 3.4 BW unexplained; with the heels raised, at most 2.6 mm, 1 mm and
   3.4 mm); raising the whole COM instead fixed the misses too, but the flights' unexplained moment rose by a
   fifth. SMPL hops reach their feet and are unchanged.
7. **Countermovement jumps** (``Fourier.gait["cmj"]``, :func:`cmj_plan`): the COM height is designed
   (:func:`hdys.physics.motions.cmj_height`), the feet stay flat until the heels rise about the toes late
   in the propulsion, the horizontal COM follows the pendulum of the vertical force; in flight the legs
   are not tied to planned foot positions (:func:`free_flight`). Where the flat feet need more dorsiflexion
   than the ankles have (the bottom of a deep countermovement or landing: the Rajagopal ankle stops at 30 deg),
   the heels rise about the toes as far as needed (:meth:`GroundMotion._heels`, up to ~6 cm): with flat feet
   the IK put the toes up to 22 mm into the floor (8 jumps); raised, at most 2 mm. In flight the whole body
   turns a little (a few degrees) so that its angular momentum stays constant in the air
   (:func:`spin_correction`, solved again ``SPIN_PASSES`` times). Hops do not turn yet: their flight's angular
   momentum still changes (the ground could not explain 10-15 % of body weight x height there, on average).
8. **Kicks, lunges and step-ups** (``Fourier.gait["steps"]``, :func:`steps_plan`): discrete moves of one
   foot on a slow cycle, the ZMP moving onto the other foot before the moving foot leaves the floor (so the
   COM, from the same LIPM as walking, is over the supporting foot in single support). A step-up climbs a
   platform (``Plan.terrain``, a :class:`hdys.physics.contact.Terrain` box 15-30 cm high at 1.75 m stature)
   and comes back down: the leading foot rises to the platform's height, moves over it and comes down onto
   it; the weight moves over; the trailing heel rises about its toes and the trailing foot follows as the
   body rises (the pelvis by the platform's height, lowered where a loaded leg could not reach its foot
   from the COM), the trunk leaning forward; back down, the trailing foot first. The contact-aware inverse
   dynamics then takes the platform as a support. A deep lunge's front ankle and a step-up's leading ankle
   (on the platform) reach their dorsiflexion limit: there the heel rises about the toes
   (:meth:`GroundMotion._heels`, as in jumps; ``benchmarks/feet.py``, 8 Rajagopal motions each: lunges missed
   their planned feet by up to 42 mm, the toes up to 28 mm into the floor, step-ups by up to 76 mm and 13 mm;
   now at most 0.7 and 2.4 mm, the toes at most 0.6 and 0.5 mm below; lunges' root residual 1.1 -> 1.4 % of
   body weight). Raising the lunge's pelvis instead (as quasi-static motions do) left the deepest lunges
   short and, with wider envelopes or more passes, made some fail (residuals of several body weights).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import mujoco
import numpy as np
from scipy.interpolate import CubicSpline, make_interp_spline
from scipy.linalg import solve_banded
from scipy.ndimage import gaussian_filter1d, maximum_filter1d
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import spsolve
from scipy.spatial.transform import Rotation

from hdys.frames import G, Y_UP_TO_Z_UP
from hdys.physics.bodies import RajagopalBody, SmplBody
from hdys.physics.contact import FootModel, Terrain, rajagopal_feet, runs, smpl_feet
from hdys.physics.inverse import rajagopal_state, smpl_state
from hdys.physics.motions import (CMJ_TAKEOFF, CMJ_TOUCHDOWN, UPRIGHT, Fourier, cmj_height, cmj_schedule, quintic,
                                  smpl_trajectory)
from hdys.physics.osim_model import CouplingTable
from hdys.physics.rotations import SmplTrajectory, axis_rotation
from hdys.schema import RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES

FINE_HZ = 50.0
PAD_S = 0.15
LIPM_PAD_S = 1.5
HEEL_STRIKE_PITCH = 0.35  # rad, toes up at heel strike
TOE_OFF_PITCH = 0.7  # rad, heel up at toe-off (running, hops, jumps)
WALK_TOE_OFF_PITCH = 1.0  # rad, heel up at a walk's toe-off (the trailing leg reaches back on its forefoot)
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
VAULT_PASSES = 2  # vault, solve again
VAULT_FIT = 3  # passes lowering the enveloped pelvis where its smoothing rose above a leg's reach
WALK_TOP = 0.015  # m at 1.75 m stature: the walking pelvis at its highest (mid-stance), below standing
STEP_RANGE = (0.30, 0.46)  # step length / stature (the generator's: 0.33-0.45)
WALK_DUTY = 0.6  # the duty factor FOOT_FLAT is given for; other gaits scale it by duty / 0.6
# running (duty factor < 0.5: a flight phase between the stances)
RUN_TRAVEL = (0.34, 0.40)  # stature: the COM's travel over one stance of a run (2 x step x duty), longer out of reach
RUN_NARROW = 0.04  # m at 1.75 m stature: each footprint this much nearer the line of travel than in walking
RUN_HEEL_STRIKE_PITCH = 0.2  # rad: a flatter foot strike
RUN_FOOTPRINT = 0.4  # stance fraction at which the COM passes over the footprint
RUN_TD_KNEE = 28.0  # deg: a run's COM at touchdown is as high as lets the landing leg reach its heel with this knee bend
RUN_PUSH = 1.5  # a run's heel rises as (progress from heel-off to toe-off) ** RUN_PUSH: fastest at toe-off
RUN_HEEL_OFF = 0.15  # stance fraction at which the running heel starts to rise (the ankle's dorsiflexion limit)
HOP_DROP = 0.06  # m at 1.75 m stature: COM height at a hop's touchdown and take-off below the neutral pose's
JACK_DROP = 0.03  # m at 1.75 m stature: the same for a jumping jack (its low hops keep the legs straighter)
HOP_PITCH = 0.3  # rad: hopping feet land and stay on the forefoot, heels this much up
HOP_PUSH = 0.5  # stance fraction from which the push-off raises the heels further, to HOP_TOE_OFF_PITCH
HOP_TOE_OFF_PITCH = 0.5  # rad: a hop's heels at take-off; both toe points stay within CONTACT_HEIGHT of the floor
# (the lateral one is 5 cm behind the medial at 1.75 m: sin(0.5) x 5 cm = 2.4 cm); at TOE_OFF_PITCH it rose 3.2 cm
# and the foot pushed off on one point
HOP_EASE = 0.3  # fraction of the flight over which the hopping feet ease into (and out of) the COM's rise
STEP_BEND = 0.04  # m at 1.75 m stature: pelvis below standing in kicks and lunges (a supporting knee never locks)
KICK_REACH = 0.45  # m at 1.75 m stature: how far forward the kicking foot travels (and 0.6 of it up)
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
CMJ_FINE_HZ = 100.0  # IK grid of countermovement jumps (take-off and touchdown are brief)
CMJ_PAD_S = 0.7  # s: padding of a jump's IK grid, longer than any flight
CMJ_EASE = 0.08  # fraction of a jump's flight over which the (warm-start) feet ease into the COM's rise and out
FLIGHT_TAU = 0.04  # s: time constant over which the legs' take-off (touchdown) motion decays in flight
SWING_PASSES = 2  # running: solve again with the swing legs following the generator (swing_legs)
SWING_FOLD = 15.0  # deg: the running swing knee folds this much more than the generator's at mid-swing
SWING_TAU = 0.05  # s: time over which a running swing leg's offset from the generator keeps its toe-off (touchdown) rate
SPIN_TAU = 0.05  # s: time over which the whole-body turn of spin_correction keeps a flight's end rate on the ground
SPIN_PASSES = 2  # turn the body for a constant angular momentum in flight, solve again (spin_correction)
SPIN_ACC = 100.0  # rad/s^2: a run's turn (spin_least_squares) weighs an angular acceleration this large like a
# 1 rad/s miss of a flight's rate
SPIN_RATE_TAU = 0.1  # s: ... and its rates decay over this time outside the flights
SPIN_HOLD = 1.0  # 1/rad: ... and a pull of the turn itself to zero (0.1: the same flights, the pelvis tilt's
# range up to 12 deg in 24 runs, 7 deg with 1.0)
FLIGHT_FIT = 4  # stance frames through which a quadratic gives the legs' state at take-off and touchdown
COM_PASSES = 2  # extra IK passes that make the COM follow a planned height (running)
HEEL_PASSES, HEEL_TOL, HEEL_GAIN = 3, 0.01, 1.3  # heels raised where the feet pitch down (rad; GroundMotion._heels)
HEEL_S = 0.1  # s: half-width of the envelope of that pitch
STATIC_RAISE_PASSES, STATIC_RAISE_TOL, STATIC_RAISE_GAIN = 2, 0.003, 3.0  # pelvis raise where flat feet fall short (m)
WALK_LOWER_PASSES, WALK_LOWER_TOL, WALK_LOWER_GAIN = 3, 0.005, 1.0  # walking pelvis lowered where a foot is missed (m)
WALK_LOWER_S = 0.25  # s: half-width of its envelope (a slow dip: a 5 cm one adds about 0.15 BW)
WALK_LOWER_MAX = 0.08  # m at 1.75 m stature: at most this much lower (deeper, a walk turns into a crouch)
STATIC_DEPTH = 0.45  # fraction of the generator's squat / sit-to-stand pelvis drop
STATIC_BEND = 0.015  # m at 1.75 m stature: quasi-static pelvis below standing (knees never fully extended)
REG = 1e-4  # (m / rad)^2
IK_ITER, IK_TOL = 15, 1e-7
IK_ITER_COLD = 200  # iterations for the first frame of a pass (no previous frame to start from)
COLD_STEPS = 10  # continuation steps of the first frame's targets (see _legs)
LIMIT_MARGIN = 0.01  # rad kept from the hinge limits, so the splines' overshoot stays inside
# soft limits of the knees (``Rig.soft``): inside SOFT_ZONE (rad) of a limit a penalty SOFT_WEIGHT
# (m^2 / rad^2) pushes back, so a leg that cannot reach its target (a knee straightening at heel strike)
# saturates smoothly instead of bouncing off the hard clip (kinks in the angles are spikes in the
# torques); the ankles keep hard limits (flat feet in a squat need all of their dorsiflexion).
SOFT_ZONE, SOFT_WEIGHT = 0.1, 0.01
# Walks (and turns) have a wide, weak one (0.1 rad inside the zone costs what a 5 mm miss does): a walk's
# swing knee extends at 6-7 rad/s in terminal swing, and with the narrow zone it stopped within 20-40 ms at
# full extension, a snap that put 0.3 body weights onto the vertical GRF (benchmarks/walking.py: GRF peak
# medians 1.34-1.57 BW then, 1.15-1.52 now; the IK's misses unchanged). Standing motions keep the narrow
# one: their knees stand nearly straight, and the wide zone's pull towards flexion lifted the feet of a
# light subject's curls off the floor (``default`` corpus: mean root residuals of 350-675 % body weight).
WALK_SOFT_ZONE, WALK_SOFT_WEIGHT = 0.4, 0.003


def sole_points(model: mujoco.MjModel, feet: FootModel, qpos: np.ndarray) -> np.ndarray:
    """(T, 2, 4, 3) world positions of the contact points, z-up world."""
    data = mujoco.MjData(model)
    out = np.empty((qpos.shape[0], 2, 4, 3))
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, data)
        out[i] = _points(data, feet)
    return out @ feet.to_zup.T


def _points(data: mujoco.MjData, feet: FootModel) -> np.ndarray:
    xm = data.xmat[feet.body].reshape(2, 4, 3, 3)
    return data.xpos[feet.body] + np.einsum("fpab,fpb->fpa", xm, feet.local)


def swing_progress(s: np.ndarray, start_acc: float, end_dec: float) -> np.ndarray:
    """The quintic ``p(s)`` with ``p(0) = p'(0) = 0``, ``p''(0) = start_acc``, ``p(1) = 1``, ``p'(1) = 0`` and
    ``p''(1) = -end_dec`` (with both zero: :func:`smootherstep`); monotonic for the walking constants."""
    a, b = start_acc, end_dec
    c3, c4, c5 = 10 - 1.5 * a - b / 2, 1.5 * a + b - 15, 6 - (a + b) / 2
    return s * s * (a / 2 + s * (c3 + s * (c4 + s * c5)))


def smootherstep(x: np.ndarray) -> np.ndarray:
    """Quintic 0 -> 1 on [0, 1] with zero first and second derivatives at both ends."""
    x = np.clip(x, 0.0, 1.0)
    return x ** 3 * (10 - 15 * x + 6 * x * x)


def _toe_pivots(tmpl: np.ndarray) -> np.ndarray:
    """(2, 3) each foot's foremost sole point in a foot template (2, 4, 3): the pivot of a heel rise."""
    return tmpl[np.arange(2), 2 + np.argmax(tmpl[:, 2:, 0], axis=1)]


def _roll(foot: np.ndarray, pivot: np.ndarray, angle: np.ndarray) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------------------
# The two bodies, seen by the planner


@dataclass
class Rig:
    """What the planner needs of a body. Generator coordinates are a :class:`Fourier`'s columns.

    ``to_qpos``: generator coordinates (T, D) -> MuJoCo qpos (T, nq); ``read``: qpos (T, nq) -> the
    values of ``solved`` columns (T, C); ``trans``: generator columns of the root translation, expressed
    in the model world (``to_zup`` rotates it to the z-up world); ``leg_dofs``/``leg_qpos``: DoF and qpos
    addresses of the solved joints; ``limits``: (qpos address, lo, hi) of hinge joints to clip, or None;
    ``trans_qpos``: their qpos addresses (model world x, y, z);
    ``yaw``/``yaw_offset``: the facing direction in the z-up world is ``q[yaw] + yaw_offset``;
    ``fixed``: columns held at their mean (toes: the sole is rigid); ``reorient``, if given, turns the
    generator's ``root_rot`` columns into the model's (splined with the solved columns)."""

    model: mujoco.MjModel
    feet: FootModel
    to_qpos: Callable[[np.ndarray], np.ndarray]
    read: Callable[[np.ndarray], np.ndarray]
    solved: np.ndarray
    trans: np.ndarray
    trans_qpos: np.ndarray
    to_zup: np.ndarray
    leg_dofs: np.ndarray
    leg_qpos: np.ndarray
    limits: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    yaw: int
    yaw_offset: float
    fixed: np.ndarray
    height_m: float
    soft: np.ndarray | None = None  # (C,) bool: solved columns with soft limits (the knees)
    root_rot: np.ndarray | None = None  # generator columns of the root rotation that ``reorient`` rewrites
    reorient: Callable[[np.ndarray], np.ndarray] | None = None  # (T, 3) generator -> model root rotation
    chain: np.ndarray | None = None  # (2, 3) body ids of each leg's hip, knee and ankle joints ([left, right])
    knees: np.ndarray | None = None  # qpos addresses of ball-joint knees flexing about x, kept from bending back
    knee_cols: np.ndarray | None = None  # ... their flexion among the solved columns (``read``)
    knee_dofs: np.ndarray | None = None  # ... and among ``leg_dofs``
    turn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (root_rot columns (T, 3), rotation vectors
    # (T, 3) in the z-up world) -> the columns of the root turned by those rotations (see spin_correction)
    coupled: tuple[np.ndarray, np.ndarray, CouplingTable] | None = None  # joints that follow a coordinate (the
    # walker knees): their qpos (= dof) addresses (D,), their drivers' (D,), and their functions of the driver


_RAJ_LEG = ("hip_flexion", "hip_adduction", "hip_rotation", "knee_angle", "ankle_angle", "subtalar_angle")


def rajagopal_rig(body: RajagopalBody) -> Rig:
    names = list(RAJAGOPAL_COORDINATES)
    cols = np.array([names.index(f"{n}_{s}") for s in ("l", "r") for n in _RAJ_LEG])
    addr = body.coord_qpos[cols]
    trans = np.array([names.index(n) for n in ("pelvis_tx", "pelvis_ty", "pelvis_tz")])
    return Rig(body.model, rajagopal_feet(body), lambda q: rajagopal_state(body, q), lambda qp: qp[:, addr], cols,
               trans, body.coord_qpos[trans], Y_UP_TO_Z_UP.copy(),
               addr, addr, (addr, body.coord_range[cols, 0], body.coord_range[cols, 1]),
               names.index("pelvis_rotation"), 0.0, np.array([names.index("mtp_angle_l"), names.index("mtp_angle_r")]),
               body.height_m, np.array([n == "knee_angle" for _ in "lr" for n in _RAJ_LEG]),
               np.array([names.index(n) for n in ("pelvis_tilt", "pelvis_list", "pelvis_rotation")]), heading_first,
               np.array([[body.model.body(f"{b}_{s}").id for b in ("femur", "tibia", "talus")] for s in "lr"]),
               turn=_turner("ZXY", Y_UP_TO_Z_UP), coupled=_moving_couplings(body))


def _moving_couplings(body: RajagopalBody) -> tuple[np.ndarray, np.ndarray, CouplingTable]:
    c = body.couplings
    moving = np.flatnonzero(c.driver >= 0)
    return body.coupled_qpos[moving], body.coordinate_qpos[c.driver[moving]], c.table.subset(moving)


def _couple(rig: Rig, q: np.ndarray) -> np.ndarray | None:
    """Set, in place, the joints of qpos ``q`` (nq,) that follow a coordinate; returns their slopes (D,)."""
    if rig.coupled is None:
        return None
    addr, driver, table = rig.coupled
    q[addr], slope = table(q[driver], curvature=False)
    return slope


def _turner(seq: str, frame: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """``Rig.turn`` of a root whose rotation in the z-up world is ``frame @ R(angles)``, ``R`` the intrinsic Euler
    sequence ``seq``: the angles of ``exp(delta) frame R`` (= ``frame exp(frame.T delta) R``), each within pi of
    the old one."""
    def turn(angles: np.ndarray, delta: np.ndarray) -> np.ndarray:
        out = (Rotation.from_rotvec(delta @ frame) * Rotation.from_euler(seq, angles)).as_euler(seq)
        return out + 2 * np.pi * np.round((angles - out) / (2 * np.pi))

    return turn


def heading_first(rot: np.ndarray) -> np.ndarray:
    """Rajagopal pelvis angles (T, 3) from the generators' (tilt, list, heading) to OpenSim's.

    OpenSim's pelvis joint turns by ``pelvis_tilt`` about the ground's lateral axis first, then
    ``pelvis_list`` and ``pelvis_rotation`` (``R = Rz(tilt) Rx(list) Ry(rotation)``, y up), so for a body
    facing anywhere but +x a tilt is not a sagittal lean (facing +-y it is a sideways one). The generators
    mean a lean in the facing direction: ``R = Ry(heading) Rz(tilt) Rx(list)``; this returns that
    rotation's OpenSim angles (the rotation unwrapped in time and kept next to the heading)."""
    r = Rotation.from_euler("YZX", rot[:, [2, 0, 1]])
    out = r.as_euler("ZXY")
    out[:, 2] = np.unwrap(out[:, 2])
    out[:, 2] += 2 * np.pi * np.round((rot[0, 2] - out[0, 2]) / (2 * np.pi))
    return out


def smpl_rig(body: SmplBody) -> Rig:
    legs = [SMPL_JOINT_NAMES.index(f"{s}_{j}") - 1 for s in ("left", "right") for j in ("hip", "knee", "ankle")]
    knees = [j for j in legs if SMPL_JOINT_NAMES[j + 1].endswith("_knee")]
    cols = np.array([6 + 3 * j + a for j in legs for a in range(3)])
    dofs = np.concatenate([body.joint_dof[j] + (np.arange(1) if k % 3 == 1 else np.arange(3))
                           for k, j in enumerate(legs)])  # the knee flexes about x only
    qadr = np.concatenate([body.joint_qpos[j] + np.arange(4) for j in legs])
    feet_cols = [6 + 3 * (SMPL_JOINT_NAMES.index(f"{s}_foot") - 1) + a for s in ("left", "right") for a in range(3)]

    def to_qpos(q: np.ndarray) -> np.ndarray:
        zero = np.zeros_like(q)
        return smpl_state(body, smpl_trajectory(lambda _t: (q, zero, zero), np.zeros(q.shape[0])))[0]

    def read(qpos: np.ndarray) -> np.ndarray:
        wxyz = np.stack([qpos[:, body.joint_qpos[j]:body.joint_qpos[j] + 4] for j in legs], 1)  # (T, 6, 4)
        xyzw = np.concatenate([wxyz[..., 1:], wxyz[..., :1]], -1).reshape(-1, 4)
        return Rotation.from_quat(xyzw).as_euler("XYZ").reshape(qpos.shape[0], -1)  # R = Rx Ry Rz

    return Rig(body.model, smpl_feet(body), to_qpos, read, cols, np.arange(3), np.arange(3), np.eye(3), dofs, qadr,
               None, 3, -np.pi / 2, np.array(feet_cols), body.height_m,
               chain=np.array([[body.model.body(f"{s}_{j}").id for j in ("hip", "knee", "ankle")]
                               for s in ("left", "right")]),
               knees=np.array([body.joint_qpos[j] for j in knees]),
               knee_cols=np.flatnonzero(np.isin(cols, [6 + 3 * j for j in knees])),  # the knees' x rotation
               knee_dofs=np.flatnonzero(np.isin(dofs, [body.joint_dof[j] for j in knees])),
               root_rot=np.arange(3, 6), turn=_turner("YXZ", UPRIGHT))  # generator: yaw, pitch, roll (YXZ)


# ---------------------------------------------------------------------------------------------------
# Plans


def foot_template(rig: Rig, q_mean: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The neutral pose (joint angles zero, toes at ``q_mean``): its sole points (2, 4, 3) in the facing
    frame (x forward, y left, horizontally relative to the whole-body COM; z above the lowest sole
    point), the pelvis height and the COM height above the floor."""
    pts, _, stand_z, com_z = _neutral(rig, q_mean)
    return pts, stand_z, com_z


def _neutral(rig: Rig, q_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """:func:`foot_template`'s sole points, with the ankle joints (2, 3) in the same frame (``rig.chain``)."""
    q = np.zeros_like(q_mean)
    q[rig.fixed] = q_mean[rig.fixed]
    data = mujoco.MjData(rig.model)
    data.qpos[:] = rig.to_qpos(q[None])[0]
    mujoco.mj_kinematics(rig.model, data)
    mujoco.mj_comPos(rig.model, data)
    unturn = axis_rotation(2, np.array(-rig.yaw_offset)) @ rig.to_zup
    pts = _points(data, rig.feet) @ unturn.T
    ankles = data.xpos[rig.chain[:, 2]] @ unturn.T
    com = unturn @ data.subtree_com[0]
    low = pts[..., 2].min()
    for p in (pts, ankles):
        p[..., 2] -= low
        p[..., :2] -= com[:2]
    return pts, ankles, float(-low), float(com[2] - low)


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
    reach: np.ndarray | None = None  # (T, 2) bool: feet a nearly straight leg must reach (walking: see _vault)
    ankles: np.ndarray | None = None  # (T, 2, 3): where the feet's sole points put the ankle joints (walking)
    soft: tuple[float, float] = (SOFT_ZONE, SOFT_WEIGHT)  # the knees' soft limit (zone rad, weight), see SOFT_ZONE
    swing: np.ndarray | None = None  # (T, 2) bool: running swing frames: the feet are no IK targets, the legs follow
    # the generator (see swing_legs)


def _zup_translation(rig: Rig, q: np.ndarray) -> np.ndarray:
    return q[..., rig.trans] @ rig.to_zup.T


def static_plan(rig: Rig, motion: Fourier, t: np.ndarray) -> Plan:
    """Both feet flat on fixed footprints under the mean pelvis position; COM over the feet' centre;
    pelvis ``STATIC_BEND`` below the standing height (the knee's IK singularity) and further by
    ``STATIC_DEPTH`` times the generator's drop (flat feet limit the ankle's dorsiflexion)."""
    tmpl, stand_z, _ = foot_template(rig, motion.mean)
    origin = _zup_translation(rig, motion.mean)
    pts = tmpl @ axis_rotation(2, np.array(motion.mean[rig.yaw] + rig.yaw_offset)).T
    pts[..., :2] += origin[:2]
    q = motion(t)[0]
    com = np.broadcast_to(pts[..., :2].reshape(-1, 2).mean(0), (t.shape[0], 2))
    drop = np.maximum(stand_z - _zup_translation(rig, q)[:, 2], 0.0)
    z = stand_z - STATIC_BEND * rig.height_m / 1.75 - STATIC_DEPTH * drop
    return Plan(t, np.broadcast_to(pts, (t.shape[0],) + pts.shape).copy(), z, com.copy())


def _window(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """0 before ``a``, 1 after ``b``, a smootherstep in between (u, a, b: cycle fractions)."""
    return smootherstep(np.clip((u - a) / (b - a), 0.0, 1.0))


def _bump(u: np.ndarray, a: float, b: float) -> np.ndarray:
    """``sin^2`` from 0 at ``a`` to 1 halfway to 0 at ``b`` (zero value and velocity at both ends), else 0."""
    return np.sin(np.pi * np.clip((u - a) / (b - a), 0.0, 1.0)) ** 2


def _envelope(x: np.ndarray, w: int) -> np.ndarray:
    """A sliding maximum over ``+-w`` samples, smoothed by a Gaussian of ``w / 2``: a smooth curve at or
    above ``x`` that rises ahead of its peaks."""
    return gaussian_filter1d(maximum_filter1d(x, 2 * w + 1, mode="nearest"), w / 2, mode="nearest")


def steps_plan(rig: Rig, motion: Fourier, t: np.ndarray) -> Plan:
    """Discrete foot moves on a cycle of ``motion.gait["freq"]`` (``gait["steps"]``): ``"kick"`` (the
    ``gait["side"]`` foot leaves the floor after the weight has shifted onto the other foot, swings
    forward and up by ``KICK_REACH`` and back onto its footprint) or ``"lunge"`` (the lead foot steps
    forward ``gait["length"]`` with the rear heel rising about its toes by up to ``LUNGE_HEEL``, the pelvis
    drops a further ``gait["depth"]`` and rises, the lead foot steps back; while the feet are apart the pelvis
    is low enough for both legs to reach them from the COM, ``LUNGE_SLACK`` lower still). The cycle starts at
    ``gait["shift"]`` (rad). The feet are flat unless stated; the COM follows the LIPM of a zero-moment
    point that moves between the feet' centres with their weights (the moving foot's weight is zero
    whenever it is off the floor)."""
    gait = motion.gait
    f, side = gait["freq"], int(gait["side"])
    tmpl, stand_z, com_z = foot_template(rig, motion.mean)
    k = rig.height_m / 1.75
    yaw = motion.mean[rig.yaw] + rig.yaw_offset
    rot = axis_rotation(2, np.array(yaw))
    origin = _zup_translation(rig, motion.mean)
    dt = t[1] - t[0]
    n_pad = int(round(LIPM_PAD_S / dt))
    tl = t[0] + np.arange(-n_pad, t.shape[0] + n_pad) * dt
    u = np.mod(f * tl + gait["shift"] / (2 * np.pi), 1.0)
    fwd = rot @ np.array([1.0, 0.0, 0.0])
    pts = np.broadcast_to(tmpl @ rot.T, (tl.shape[0], 2, 4, 3)).copy()
    pts[..., :2] += origin[:2]
    weight = np.ones((tl.shape[0], 2))
    up = np.array([0.0, 0.0, 1.0])
    lunge = gait["steps"] == "lunge"
    step_up = gait["steps"] == "step_up"
    terrain = None  # the floor alone, but for a step-up's platform
    if gait["steps"] == "kick":
        unload = _window(u, 0.0, 0.2) - _window(u, 0.75, 0.95)  # weight off the kicking foot, and back
        bump = _bump(u, 0.25, 0.7)  # out and back
        reach = np.array(gait.get("reach", (KICK_REACH, 0.6 * KICK_REACH))) * k
        pts[:, side] += (bump * reach[0])[:, None, None] * fwd + (bump * reach[1])[:, None, None] * up
        weight[:, side] = 1.0 - unload
        drop = np.zeros(tl.shape[0])
    elif lunge:
        length, depth = gait["length"] * k, gait["depth"] * k
        out = _window(u, 0.1, 0.3) - _window(u, 0.7, 0.9)  # lead foot position: 0 home, 1 forward
        lift = _bump(u, 0.1, 0.3) + _bump(u, 0.7, 0.9)  # stepping out and back
        pts[:, side] += (out * length)[:, None, None] * fwd + (lift * LUNGE_CLEARANCE * k)[:, None, None] * up
        unload = _window(u, 0.0, 0.1) - _window(u, 0.3, 0.4) + _window(u, 0.6, 0.7) - _window(u, 0.9, 1.0)
        moving = ((u > 0.1) & (u < 0.3)) | ((u > 0.7) & (u < 0.9))  # the foot in the air: no weight on it
        weight[:, side] = np.where(moving, 0.0, 1.0 - unload)
        down = _bump(u, 0.4, 0.6)
        drop = depth * down
        rear = 1 - side  # the rear heel rises about the rear foot's foremost toe point as the body lowers
        local = _roll(tmpl[rear], _toe_pivots(tmpl)[rear], LUNGE_HEEL * np.maximum(out, down))
        pts[:, rear] = local @ rot.T
        pts[:, rear, :, :2] += origin[:2]
    elif step_up:
        length, height = gait["length"] * k, gait["height"] * k
        trail = 1 - side
        # up: the leading foot onto the platform, then the trailing one; down: trailing foot first
        moves = {side: ((0.05, 0.20), (0.77, 0.92)), trail: ((0.27, 0.42), (0.55, 0.70))}
        shift = 0.07  # weight moves off a foot over this much of the cycle before it leaves, and back after
        for foot, ((a_up, b_up), (a_dn, b_dn)) in moves.items():
            up_, dn_ = b_up - a_up, b_dn - a_dn
            # going up the foot rises to the platform's height, then moves over it and comes down onto it;
            # going down it moves back off the platform before it descends to the floor
            out = (_window(u, a_up + STEP_UP_LEAD * up_, b_up - 0.15 * up_)
                   - _window(u, a_dn + 0.05 * dn_, b_dn - STEP_UP_LEAD * dn_))
            rise = (_window(u, a_up, a_up + STEP_UP_LEAD * up_ + 0.05 * up_)
                    - _window(u, b_dn - STEP_UP_LEAD * dn_ - 0.05 * dn_, b_dn))
            lift = _bump(u, a_up, b_up) + _bump(u, a_dn, b_dn)
            pts[:, foot] += ((out * length)[:, None, None] * fwd
                             + (rise * height + lift * STEP_UP_CLEARANCE * k)[:, None, None] * up)
            moving = ((u > a_up) & (u < b_up)) | ((u > a_dn) & (u < b_dn))
            unload = (_window(u, a_up - shift, a_up) - _window(u, b_up, b_up + shift)
                      + _window(u, a_dn - shift, a_dn) - _window(u, b_dn, b_dn + shift))
            weight[:, foot] = np.where(moving, 0.0, 1.0 - np.clip(unload, 0.0, 1.0))
        # the trailing heel rises about its toes as the body moves onto the platform, the foot leaves from the
        # toes and stays pitched until it lands flat on the platform; back down, it leaves heel first and
        # lands on its toes
        pitch = STEP_UP_HEEL * (_window(u, 0.17, 0.27) - _window(u, 0.36, 0.42)
                                + _window(u, 0.55, 0.62) - _window(u, 0.70, 0.78))
        pts[:, trail] += (_roll(tmpl[trail], _toe_pivots(tmpl)[trail], pitch) - tmpl[trail]) @ rot.T
        drop = -(_window(u, 0.27, 0.45) - _window(u, 0.52, 0.72)) * height  # the body rises with the trailing foot
        near, far = length - STEP_UP_EDGE * k, length + STEP_UP_DEPTH * k
        centre_xy = origin[:2] + (near + far) / 2 * fwd[:2]
        terrain = Terrain(np.array([[*centre_xy, (far - near) / 2, STEP_UP_HALF_WIDTH * k, yaw, height]]))
    else:
        raise ValueError(f"unknown step plan {gait['steps']!r}")
    centre = pts[..., :2].mean(2)  # (T, 2, 2) foot centres
    p = (weight[..., None] * centre).sum(1) / weight.sum(1)[:, None]
    h = com_z - STEP_BEND * k
    com = lipm(p, dt, h)
    z = stand_z - STEP_BEND * k - drop
    if step_up:  # low enough for each loaded leg to reach its foot from the COM
        support = pts[..., 2].min(2)  # (T, 2) sole height of each foot
        d = np.linalg.norm(pts[..., :2] - com[:, None, None], axis=-1).min(2)  # its nearest sole point
        reach_z = support + np.sqrt(np.maximum(stand_z ** 2 - d ** 2, 0.0))  # highest pelvis per foot
        need = np.where(weight > 0, z[:, None] - reach_z + STEP_UP_SLACK * k, 0.0).max(1)
        z = z - _envelope(np.maximum(need, 0.0), int(round(LUNGE_SMOOTH_S / dt)))
    elif lunge:  # feet apart fore and aft: the pelvis is low enough for the legs to reach the feet from the COM
        reach = np.abs(np.einsum("tfa,a->tf", centre - com[:, None], fwd[:2])).max(1)
        need = stand_z - np.sqrt(np.maximum(stand_z ** 2 - reach ** 2, 0.0)) + LUNGE_SLACK * k * smootherstep(
            np.clip(reach / (0.3 * k), 0.0, 1.0))
        # its envelope: the pelvis lowers ahead of time and slowly (the ZMP's quick shifts would otherwise make
        # it bob with 2 body-weight forces); added, not a maximum with the dip, so that z stays smooth
        z = z - _envelope(need, int(round(LUNGE_SMOOTH_S / dt)))
    keep = slice(n_pad, n_pad + t.shape[0])
    return Plan(t, pts[keep], z[keep], com[keep], terrain=terrain)


def cmj_plan(rig: Rig, motion: Fourier, t: np.ndarray, heel: np.ndarray | None = None) -> Plan:
    """A countermovement jump in place (``gait["cmj"]``): the COM height is :func:`cmj_height`'s design; the
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
    tau = np.mod(tl - g["start"], 1.0 / g["freq"])
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
    origin = _zup_translation(rig, motion.mean)
    toe = _toe_pivots(tmpl)
    pts = np.empty((tl.shape[0], 2, 4, 3))
    cop = np.empty((tl.shape[0], 2, 2))
    on_toes = smootherstep(np.clip(alpha / HOP_PITCH, 0, 1))  # 0 flat, 1 on the forefoot
    for side in range(2):
        local = _roll(tmpl[side], toe[side], alpha)
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


def _end_state(vals: np.ndarray, at: int, side: int, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(value, rate, acceleration) of ``vals`` (T, C) at the last frame before ``at`` (``side`` -1: a quadratic
    through the ``FLIGHT_FIT`` frames before ``at``) or at ``at`` (``side`` 1: through ``at`` and the frames after)."""
    rows = np.arange(at - FLIGHT_FIT, at) if side < 0 else np.arange(at, at + FLIGHT_FIT)
    c = np.polynomial.polynomial.polyfit((rows - (at - 1 if side < 0 else at)) * dt, vals[rows], 2)  # (3, C)
    return c[0], c[1], 2 * c[2]


def _bridge(start, end, a: int, b: int, frames: np.ndarray, dt: float, decay) -> np.ndarray:
    """Values (F, C) on ``frames`` (``a <= frame < b``) from the state ``start`` (value, rate, acceleration at
    frame ``a - 1``) to ``end`` (at frame ``b``): a quintic between the two values at rest plus, at each end,
    that end's rate and acceleration decaying as ``exp(-s / decay)`` (s: the time from that end), so that value,
    rate and acceleration are continuous at both ends without the overshoot a single quintic would have.
    A missing end (None) holds the other's value."""
    q0, q1 = (start if start is not None else end)[0], (end if end is not None else start)[0]
    s_a, s_b = (frames - a + 1) * dt, (b - frames) * dt  # time since the start, to the end
    fit = quintic((q0, 0 * q0, 0 * q0), (q1, 0 * q1, 0 * q1), (b - a + 1) * dt, s_a)[0]
    for state, s_, sign in ((start, s_a, 1.0), (end, s_b, -1.0)):  # the ends' motion, decaying over ``decay``
        if state is not None:
            v, acc = sign * state[1], state[2]
            s_ = s_[:, None]
            fit = fit + np.exp(-s_ / decay) * (v * s_ + (acc + 2 * v / decay) * s_ ** 2 / 2)
    return fit


def swing_legs(rig: Rig, plan: Plan, q_ref: np.ndarray, qpos: np.ndarray) -> np.ndarray:
    """``q_ref`` (generator coordinates) with the solved columns of each leg in its running swing
    (``plan.swing``) replaced by the generator's plus an offset that joins the IK solution ``qpos`` at toe-off
    and at touchdown (:func:`_bridge` of the offset, its end rates decaying over ``SWING_TAU``): in the leg IK
    (where the swing foot's sole points have no weight) the swing leg moves as the normative running curves
    do (the knee folds, the thigh swings through) instead of carrying its foot along a path planned in the
    world, which a leg could not follow at either end of a running swing."""
    vals = rig.read(qpos)
    n, half = vals.shape[0], vals.shape[1] // 2
    out = q_ref.copy()
    dt = plan.t[1] - plan.t[0]
    swings = [list(runs(plan.swing[:, side])) for side in range(2)]
    full = max((b - a for r in swings for a, b in r), default=0)  # a whole swing's frames (or the longest seen)
    for side in range(2):
        cols = rig.solved[side * half:(side + 1) * half]
        off = vals[:, side * half:(side + 1) * half] - q_ref[:, cols]
        knee = int(rig.knee_cols[side]) - side * half if rig.knee_cols is not None else (
            int(np.flatnonzero(rig.soft[side * half:(side + 1) * half])[0]))
        for a, b in swings[side]:  # swing frames a .. b-1
            start = _end_state(off, a, -1, dt) if a >= FLIGHT_FIT else None
            end = _end_state(off, b, 1, dt) if b + FLIGHT_FIT <= n else None
            if start is not None or end is not None:
                out[a:b, cols] += _bridge(start, end, a, b, np.arange(a, b), dt, SWING_TAU)
            a0 = b - full if a == 0 else a  # a swing cut by the grid's ends: where it would start
            s_ = np.clip((np.arange(a, b) - a0 + 1) / (full + 1), 0.0, 1.0)  # swing progress
            out[a:b, cols[knee]] += np.deg2rad(SWING_FOLD) * (4 * s_ * (1 - s_)) ** 3  # the knee folds further
    return out


def free_flight(rig: Rig, plan: Plan, q_ref: np.ndarray, qpos: np.ndarray) -> np.ndarray:
    """qpos with the legs of each ``plan.flight`` run replaced, in the solved (generator) coordinates, by a
    quintic from the take-off pose to the touchdown pose (at rest at both ends) plus, at each end, the
    stance solution's rate and acceleration there decaying as ``exp(-s / FLIGHT_TAU)`` (s: time from
    that end), so that value, rate and acceleration are continuous (each estimated by a quadratic through
    ``FLIGHT_FIT`` stance frames) without the overshoot a single quintic would have (a hinge that would
    still pass its limit decays faster, halving its time constant); the root is placed so that the COM
    stays on the planned ballistic path. Following the COM with the feet would need the
    legs to stop extending within a few hundredths of a second of take-off; in a jump the legs move
    smoothly in the air. Flight runs without stance frames on both sides are left as solved."""
    vals = rig.read(qpos)
    n = vals.shape[0]
    out = qpos.copy()
    dt = plan.t[1] - plan.t[0]
    lo, hi = np.full(vals.shape[1], -np.inf), np.full(vals.shape[1], np.inf)  # bounds of the solved columns
    if rig.limits is not None:
        lo, hi = rig.limits[1].copy(), rig.limits[2].copy()
    if rig.knee_cols is not None:  # ball-joint knees: flexion only
        lo[rig.knee_cols] = np.maximum(lo[rig.knee_cols], 0.0)
    for a, b in runs(plan.flight):  # flight frames a .. b-1
        if a < FLIGHT_FIT or b + FLIGHT_FIT > n:
            continue
        frames = np.arange(a, b)
        ends = _end_state(vals, a, -1, dt), _end_state(vals, b, 1, dt)
        decay = np.full(vals.shape[1], FLIGHT_TAU)
        for _ in range(8):  # a joint the decaying motion would carry past its limit decays faster
            fit = _bridge(*ends, a, b, frames, dt, decay)
            over = ((fit < lo + LIMIT_MARGIN) | (fit > hi - LIMIT_MARGIN)).any(0)
            if not over.any():
                break
            decay = np.where(over, decay / 2, decay)
        q = q_ref[frames].copy()
        q[:, rig.solved] = fit
        new = rig.to_qpos(q)
        root = np.concatenate([plan.com_xy[frames], plan.com_z[frames, None]], 1) - com_offset(rig, new)
        new[:, rig.trans_qpos] = root @ rig.to_zup
        out[frames] = new
    return out


def centroidal(rig: Rig, qpos: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Whole-body angular momentum about the COM (T, 3; velocities from central differences of ``qpos`` on a
    grid of step ``dt``) and the inertia of the body locked in its pose about the COM (T, 3, 3), z-up world."""
    model = rig.model
    data = mujoco.MjData(model)
    n = qpos.shape[0]
    mass, inertia = model.body_mass[1:], model.body_inertia[1:]
    mom, lock = np.empty((n, 3)), np.empty((n, 3, 3))
    for i in range(n):
        a, b = max(i - 1, 0), min(i + 1, n - 1)
        data.qpos[:] = qpos[i]
        mujoco.mj_differentiatePos(model, data.qvel, (b - a) * dt, qpos[a], qpos[b])
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_comVel(model, data)
        mujoco.mj_subtreeVel(model, data)
        mom[i] = data.subtree_angmom[1]  # about the COM of the root's subtree: the whole body
        r = data.xipos[1:] - data.subtree_com[1]
        rot = data.ximat[1:].reshape(-1, 3, 3)
        own = np.einsum("bij,bj,bkj->ik", rot, inertia, rot)
        lock[i] = own + np.eye(3) * (mass * (r * r).sum(1)).sum() - np.einsum("b,bi,bj->ij", mass, r, r)
    a = rig.to_zup
    return mom @ a.T, a @ lock @ a.T


def spin_correction(rig: Rig, airborne: np.ndarray, qpos: np.ndarray, dt: float) -> np.ndarray:
    """Rotation vectors (T, 3, z-up world) that turn the whole body so that its angular momentum about the COM is
    constant in each run of ``airborne`` frames (no ground force: nothing can change it there).

    In flight the body turns at ``w = I⁻¹ (L0 − L)`` more (``L``, ``I``: :func:`centroidal`), ``L0`` chosen so that
    the turn over the flight sums to zero (the body lands as planned); between flights the turn is
    :func:`_bridge`'s join of the neighbouring flights' ends (angle, rate and acceleration continuous, the rates
    decaying over ``SPIN_TAU``), where the ground's moment (the centre of pressure moving under the feet)
    supplies the change. The planned legs and COM do not turn the whole body about the COM the way a person's
    would (as the legs swing forward the COM plan moves the trunk back, and the two turn the body together):
    the moment the ground could not explain in a countermovement jump's flight was 5 % (Rajagopal) and 18 %
    (SMPL) of body weight x height on average, 1.4 and 2 % with ``SPIN_PASSES`` turns. Used where the legs move
    freely in flight (:func:`free_flight`: jumps); where the IK holds them to planned feet (hops) it undoes
    part of the turn; runs use :func:`spin_least_squares` (their stances are too short for these joins)."""
    mom, lock = centroidal(rig, qpos, dt)
    n = qpos.shape[0]
    out = np.zeros((n, 3))
    flights = [(a, b) for a, b in runs(airborne) if b - a >= 2]
    ends = []
    for a, b in flights:
        inv = np.linalg.inv(lock[a:b])
        target = np.linalg.solve(inv.sum(0), np.einsum("fij,fj->i", inv, mom[a:b]))
        w = np.einsum("fij,fj->fi", inv, target - mom[a:b])
        out[a:b] = np.concatenate([np.zeros((1, 3)), np.cumsum(w[1:] + w[:-1], 0) * dt / 2])
        acc = np.gradient(w, dt, axis=0)
        ends.append(((out[a], w[0], acc[0]), (out[b - 1], w[-1], acc[-1])))
    for k in range(len(flights) + 1):  # the gaps before, between and after the flights
        g0 = flights[k - 1][1] if k else 0
        g1 = flights[k][0] if k < len(flights) else n
        if flights and g1 > g0:
            out[g0:g1] = _bridge(ends[k - 1][1] if k else None, ends[k][0] if k < len(flights) else None,
                                 g0, g1, np.arange(g0, g1), dt, SPIN_TAU)
    return out


def spin_least_squares(rig: Rig, airborne: np.ndarray, qpos: np.ndarray, dt: float) -> np.ndarray:
    """Rotation vectors (T, 3, z-up world) that turn the whole body so that its angular momentum about the COM
    stays (nearly) constant in each run of ``airborne`` frames, by one least-squares problem over the grid: the
    turn's rate ``w`` (central differences of the rotation vectors, small angles) must meet ``I w + L = L0_k``
    in flight ``k`` (``L``, ``I``: :func:`centroidal`; ``L0_k`` free), while its angular accelerations
    (weighted ``1 / SPIN_ACC``), its rates (decaying over ``SPIN_RATE_TAU``) and the turn itself
    (``SPIN_HOLD``) stay small. Used for runs, once: their flights are brief (4-6 frames of the IK grid) and
    their stances short, and :func:`spin_correction`'s exact turns, joined through the stances, left 0.3-3 body
    weights unexplained; without the rate term the turn drifted (up to 28 deg over 3 s); with a second or third
    pass the swing legs, which join the stance legs' rates (:func:`swing_legs`), reached peak torques of 8-11
    N m/kg in some runs (4 Rajagopal runs each; one pass: at most 6). Flights that touch the grid's ends are not whole
    and are left free."""
    mom, lock = centroidal(rig, qpos, dt)
    n = qpos.shape[0]
    flights = [(a, b) for a, b in runs(airborne) if a > 0 and b < n]
    unit = 3.0 / np.trace(lock.mean(0))  # N m s -> rad/s of the whole body
    entries, rhs, nrow = [], {}, 0  # (rows, columns, values) broadcast together; right-hand sides by row
    axes = np.arange(3)
    for k, (a, b) in enumerate(flights):  # I (theta[t+1] - theta[t-1]) / (2 dt) - L0_k = -L[t], in rad/s
        t = np.arange(a, b)
        r = nrow + 3 * (t - a)[:, None] + axes  # (F, 3): row of frame t, axis i
        c = lock[t] * unit / (2 * dt)  # (F, 3, 3)
        entries += [(r[..., None], 3 * (t + 1)[:, None, None] + axes, c),
                    (r[..., None], 3 * (t - 1)[:, None, None] + axes, -c), (r, 3 * n + 3 * k + axes, -unit)]
        rhs[nrow] = -mom[t].ravel() * unit
        nrow += r.size
    t = np.arange(1, n - 1)  # angular accelerations / SPIN_ACC
    w = 1.0 / (SPIN_ACC * dt * dt)
    r = nrow + 3 * (t - 1)[:, None] + axes
    entries += [(r, 3 * (t + d)[:, None] + axes, v) for d, v in ((-1, w), (0, -2 * w), (1, w))]
    nrow += r.size
    t = np.arange(n - 1)  # rates / (SPIN_ACC SPIN_RATE_TAU)
    w = 1.0 / (SPIN_ACC * SPIN_RATE_TAU * dt)
    r = nrow + 3 * t[:, None] + axes
    entries += [(r, 3 * t[:, None] + axes, -w), (r, 3 * (t + 1)[:, None] + axes, w)]
    nrow += r.size
    entries.append((nrow + np.arange(3 * n), np.arange(3 * n), SPIN_HOLD))  # the turn itself
    nrow += 3 * n
    rows, cols, vals = (np.concatenate([np.broadcast_arrays(*e)[i].ravel() for e in entries]) for i in range(3))
    a_mat = csr_matrix((vals, (rows, cols)), shape=(nrow, 3 * n + 3 * len(flights)))
    b_vec = np.zeros(nrow)
    for start, values in rhs.items():
        b_vec[start:start + values.size] = values
    x = spsolve((a_mat.T @ a_mat).tocsc(), a_mat.T @ b_vec)
    return x[:3 * n].reshape(n, 3)


def walk_plan(rig: Rig, motion: Fourier, t: np.ndarray) -> Plan:
    """Footprints, swing paths, ZMP-balanced COM and pelvis height for the generator's gait (see the module
    docstring). ``t`` must be a uniform grid."""
    gait = motion.gait
    f, duty = gait["freq"], gait["duty"]
    hop = bool(gait.get("hop", False))  # both legs together, in place
    run = hop or duty < 0.5  # flight phases
    tmpl, ankle_tmpl, stand_z, com_z = _neutral(rig, motion.mean)
    k = rig.height_m / 1.75
    if run and not hop:  # footprints nearer the line of travel
        tmpl[..., 1] -= np.array([1.0, -1.0])[:, None] * RUN_NARROW * k
    foot_flat = FOOT_FLAT * duty / WALK_DUTY
    heel_off = (HOP_PUSH if hop else RUN_HEEL_OFF) * duty if run else HEEL_OFF
    footprint_phase = RUN_FOOTPRINT * duty if run else FOOTPRINT_PHASE
    strike = RUN_HEEL_STRIKE_PITCH if run else HEEL_STRIKE_PITCH
    toe_off = (HOP_TOE_OFF_PITCH if hop else TOE_OFF_PITCH) if run else WALK_TOE_OFF_PITCH
    lo, hi = (RUN_TRAVEL[0] / (2 * duty), RUN_TRAVEL[1] / (2 * duty)) if run else STEP_RANGE
    speed = float(np.linalg.norm((motion.slope[rig.trans] @ rig.to_zup.T)[:2]))
    step = float(np.clip(speed / (2 * f), lo * rig.height_m, hi * rig.height_m))
    speed = 0.0 if hop else 2 * f * step
    spread = float(gait.get("spread", 0.0)) * k  # jumping jack: feet this much further apart on every other hop
    yaw0, turn = motion.mean[rig.yaw] + rig.yaw_offset, motion.slope[rig.yaw]
    p0 = _zup_translation(rig, motion.mean)[:2]

    def facing(tt):
        return yaw0 + turn * tt

    def path(tt):  # COM reference: constant speed along the facing direction
        if abs(turn) < 1e-9:
            return p0 + speed * np.stack([np.cos(yaw0) * tt, np.sin(yaw0) * tt], -1)
        a = facing(tt)
        return p0 + speed / turn * np.stack([np.sin(a) - np.sin(yaw0), np.cos(yaw0) - np.cos(a)], -1)

    heel = tmpl[:, :2].mean(1)  # (2, 3) pivots in the facing frame: heel line, foremost toe point
    toe = _toe_pivots(tmpl)
    dt = t[1] - t[0]
    n_pad = int(round(LIPM_PAD_S / dt))
    tl = t[0] + np.arange(-n_pad, t.shape[0] + n_pad) * dt  # long grid for the pendulum
    pts = np.zeros((tl.shape[0], 2, 4, 3))
    reach = np.zeros((tl.shape[0], 2), bool)
    swing = np.zeros((tl.shape[0], 2), bool)
    ankles = np.zeros((tl.shape[0], 2, 3))
    weight, zmp = np.zeros((tl.shape[0], 2)), np.zeros((tl.shape[0], 2, 2))
    if run:  # COM height (flight phases: from the stance forces)
        shifts = [gait["shift"][s] for s in ("left", "right")]
        zeta, zeta_dd = running_bounce(f, duty, shifts, tl)
        # hops: at touchdown the legs are extended a little less than in standing (runs: see _touchdown_lift)
        td = running_bounce(f, duty, shifts, -np.array(shifts[:1 if hop else 2]) / (2 * np.pi * f))[0].mean()
        drop = (JACK_DROP if spread else HOP_DROP) * k if hop else 0.0
        h_com = com_z - drop + zeta - td
    for side, name in enumerate(("left", "right")):
        s = f * tl + gait["shift"][name] / (2 * np.pi)
        n = np.floor(s)
        u = s - n

        def footprint(cycle):
            tm = (cycle + footprint_phase - gait["shift"][name] / (2 * np.pi)) / f
            at = np.concatenate([path(tm), np.zeros(tm.shape + (1,))], -1)
            if spread:  # even hops land apart, odd ones together
                out = (1 - side * 2) * spread / 2 * (np.mod(cycle, 2) == 0)
                at[..., :2] += out[..., None] * np.stack([-np.sin(facing(tm)), np.cos(facing(tm))], -1)
            return at, facing(tm)

        def pose(cycle, alpha, pivot):
            """(A, psi): world = A + Rz(psi) Ry(alpha) template for the footprint rolled about ``pivot``."""
            o, psi = footprint(cycle)
            pivot = np.broadcast_to(pivot, o.shape)
            rolled = np.einsum("tab,tb->ta", axis_rotation(1, alpha), pivot)
            a = o + np.einsum("tab,tb->ta", axis_rotation(2, psi), pivot - rolled)
            return a, psi

        stance = u < duty
        swing[:, side] = ~stance
        if hop:  # on the forefoot all stance, heels up; the push-off raises them further
            alpha = HOP_PITCH + (toe_off - HOP_PITCH) * smootherstep((u - heel_off) / (duty - heel_off))
            land, land_pivot = HOP_PITCH, toe[side]
        else:
            alpha = np.where(u < foot_flat, -strike * (1 - smootherstep(u / foot_flat)),
                             toe_off * (np.clip((u - heel_off) / (duty - heel_off), 0, 1) ** RUN_PUSH if run
                                        else smootherstep((u - heel_off) / (duty - heel_off))))
            land, land_pivot = -strike, heel[side]
        pivot = toe[side] if hop else np.where((u < foot_flat)[:, None], heel[side], toe[side])
        a_st, psi_st = pose(n, alpha, pivot)
        a_to, psi_to = pose(n, np.full_like(u, toe_off), toe[side])
        a_hs, psi_hs = pose(n + 1, np.full_like(u, land), land_pivot)
        su = np.clip((u - duty) / (1 - duty), 0, 1)  # swing progress
        reach[:, side] = stance | (su > VAULT_SWING)
        sig = smootherstep(su ** SWING_WARP) if run else swing_progress(su, SWING_START_ACC, SWING_END_DEC)
        a_sw = a_to + (a_hs - a_to) * sig[:, None]
        if hop:  # the feet rise with the COM, easing in and out at take-off and touchdown
            take_off = h_com[~stance].min()  # the COM height at take-off and touchdown (the flights' lowest)
            a_sw[:, 2] += (h_com - take_off) * smootherstep(
                np.clip(np.minimum(su, 1 - su) / HOP_EASE, 0, 1))
        elif not run:  # peaks at 3 / (3 + BUMP_TAIL) of the swing (a run's swing leg follows the generator)
            e = BUMP_TAIL
            a_sw[:, 2] += CLEARANCE * k * su ** 3 * (1 - su) ** e / ((3 / (3 + e)) ** 3 * (e / (3 + e)) ** e)
        alpha_sw = toe_off + (land - toe_off) * sig
        psi_sw = psi_to + (psi_hs - psi_to) * sig
        a = np.where(stance[:, None], a_st, a_sw)
        rot = axis_rotation(2, np.where(stance, psi_st, psi_sw)) @ axis_rotation(1, np.where(stance, alpha, alpha_sw))
        pts[:, side] = a[:, None] + np.einsum("tab,pb->tpa", rot, tmpl[side])
        ankles[:, side] = a + rot @ ankle_tmpl[side]
        if run:  # the leg's share of the vertical force: a half sine over its stance
            weight[:, side] = np.where(stance, np.sin(np.pi * np.clip(u / duty, 0, 1)), 0.0)
        else:
            ds = duty - 0.5  # double support at each end of stance
            weight[:, side] = np.where(stance, np.minimum(smootherstep(u / ds), smootherstep((duty - u) / ds)),
                                       0.0)
        o, psi = footprint(n)
        if hop:  # on the forefoot: the centre of pressure under the toes
            local = np.broadcast_to(toe[side], (u.shape[0], 3))
        else:
            roll = np.clip(u / duty, 0, 1)
            local = heel[side] + (toe[side] - heel[side]) * (roll ** RUN_ZMP_POW if run else roll ** ZMP_POW)[:, None]
        zmp[:, side] = o[:, :2] + np.einsum("tab,tb->ta", axis_rotation(2, psi), local)[:, :2]
    p = (weight[..., None] * zmp).sum(1) / np.maximum(weight.sum(1), 1e-9)[:, None]
    lead = int(np.argmax(weight.sum(0)))
    p = np.where((weight.sum(1) > 1e-9)[:, None], p, zmp[:, lead])
    keep = slice(n_pad, n_pad + t.shape[0])
    if run:
        h = h_com
        com = pendulum(p, (G + zeta_dd) / h, dt, path(tl[0]), path(tl[-1]))
        if hop:
            return Plan(t, pts[keep], np.zeros(t.shape[0]), com[keep], h[keep])
        h = h + _touchdown_lift(rig, motion, tl, com, h, ankles, swing)
        com = pendulum(p, (G + zeta_dd) / h, dt, path(tl[0]), path(tl[-1]))
        return Plan(t, pts[keep], np.zeros(t.shape[0]), com[keep], h[keep], swing=swing[keep])
    com = lipm(p, dt, com_z - WALK_TOP * k)
    return Plan(t, pts[keep], np.full(t.shape[0], stand_z - WALK_TOP * k), com[keep], reach=reach[keep],
                ankles=ankles[keep], soft=(WALK_SOFT_ZONE, WALK_SOFT_WEIGHT))


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


def _vault(rig: Rig, plan: Plan, qpos: np.ndarray, f: float, top: float) -> np.ndarray:
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
    z = -_envelope(-z_max, w)  # the lower envelope
    rise = 2 * VAULT_ACC * G / (4 * np.pi * f) ** 2
    z = -_envelope(-np.minimum(z_max, np.quantile(z, 0.05) + rise), w)
    for _ in range(VAULT_FIT):  # the smoothing may round a narrow dip off: lower the pelvis smoothly there
        over = np.maximum(z - z_max, 0.0)
        if over.max() < 1e-4:
            break
        z = z - 1.5 * _envelope(over, w)
    return np.minimum(z, top)


def running_bounce(f: float, duty: float, shifts, t: np.ndarray, samples: int = 4096):
    """The COM's vertical excursion (and its second derivative) of a run: each leg's vertical force is a
    half sine over its stance with the impulse that holds the body up over a stride (peak
    ``pi / (4 duty)`` body weights: 2.1 at duty 0.38, as measured in slow running; Cavanagh P.R. &
    Lafortune M.A. 1980, "Ground reaction forces in distance running", J Biomech 13:397-406), none in
    flight. ``zeta'' = g (force / body weight - 1)`` is integrated exactly per stride through its Fourier
    series (periodic, zero mean). ``shifts``: each leg's cycle offset (rad), as in ``Fourier.gait``."""
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


# ---------------------------------------------------------------------------------------------------
# Inverse kinematics and the resulting trajectory


def solve_ik(rig: Rig, plan: Plan, q_ref: np.ndarray, coarse: int = 4) -> np.ndarray:
    """qpos (T, nq) putting the sole points on ``plan.points`` and the COM on ``plan.com_xy``; the legs are
    regularised towards (and the rest of the body equals) the generator coordinates ``q_ref`` (T, D).

    Each pass solves the legs frame by frame for a given pelvis position, whose horizontal position (and,
    with ``plan.com_z``, height) is the COM target minus the COM's offset from the pelvis. The first pass
    (every ``coarse``-th frame) takes that offset from the reference pose, the second (every frame) from the
    first pass's solution (interpolated), so the pelvis path is as smooth as the targets. A plan with
    ``com_z`` (running: the COM must follow its ballistic flight exactly) gets ``COM_PASSES`` more passes,
    each taking the offset from the previous pass's solution frame by frame."""
    ref = rig.to_qpos(q_ref)
    n = ref.shape[0]
    root = np.zeros((n, 3))
    root[:, 2] = plan.pelvis_z
    idx = np.unique(np.r_[np.arange(0, n, coarse), n - 1])
    off = CubicSpline(plan.t[idx], com_offset(rig, ref[idx]))(plan.t)
    passes = [idx] + [np.arange(n)] * (1 + (COM_PASSES if plan.com_z is not None else 0))
    for k, sel in enumerate(passes):
        root[:, :2] = plan.com_xy - off[:, :2]
        if plan.com_z is not None:
            root[:, 2] = plan.com_z - off[:, 2]
        sol = ref[sel].copy()
        sol[:, rig.trans_qpos] = root[sel] @ rig.to_zup
        sol = _legs(rig, plan, ref, sol, sel)
        if k + 1 < len(passes):
            off = com_offset(rig, sol)
            if k == 0:
                off = CubicSpline(plan.t[idx], off)(plan.t)
    return sol


def com_offset(rig: Rig, qpos: np.ndarray) -> np.ndarray:
    """(T, 3) offset of the whole-body COM from the root translation, z-up world."""
    data = mujoco.MjData(rig.model)
    out = np.empty((qpos.shape[0], 3))
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(rig.model, data)
        mujoco.mj_comPos(rig.model, data)
        out[i] = rig.to_zup @ (data.subtree_com[0] - qpos[i, rig.trans_qpos])
    return out


def _flexion(quat: np.ndarray) -> float:
    """Angle (rad) of a rotation about x given as a unit quaternion (w, x, y, z)."""
    w, x = (quat[0], quat[1]) if quat[0] >= 0 else (-quat[0], -quat[1])
    return float(2 * np.arctan2(x, w))


def _legs(rig: Rig, plan: Plan, ref: np.ndarray, start: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Damped Gauss-Newton on the leg joints of each frame of ``start`` (root and upper body fixed),
    warm-started from the previous frame's legs; ``frames``: the plan's frame index of each row. The first
    row starts cold, from the reference pose, and reaches its targets by continuation: ``COLD_STEPS``
    targets moving from the reference pose's own sole points to the planned ones (a far-off first target,
    e.g. a lunge's raised rear heel, can otherwise pull the leg into a twisted local minimum that the
    warm starts then carry through the whole sequence)."""
    model, feet = rig.model, rig.feet
    data = mujoco.MjData(model)
    target = plan.points @ rig.to_zup  # model world
    legs = rig.leg_dofs
    nl = legs.shape[0]
    jac = np.zeros((24, model.nv))  # rows: 8 points x (x, y, z), each block written by mj_jac in place
    dv = np.zeros(model.nv)
    blocks = [(jac[3 * k:3 * k + 3], int(b)) for k, b in enumerate(feet.body.reshape(-1))]
    step = np.empty(nl)
    damp = REG * np.eye(nl)
    soft_zone, soft_weight = plan.soft

    rows = np.repeat((~plan.swing).astype(float), 12, 1) if plan.swing is not None else np.ones((target.shape[0], 24))
    if rig.coupled is not None:  # coupled joints moved by a leg coordinate: (coupled dof, column among the legs)
        legs_list = list(legs)
        follow = [(k, int(a), legs_list.index(d)) for k, (a, d) in enumerate(zip(*rig.coupled[:2])) if d in legs_list]
        f_k, f_dof, f_col = (np.array(x, dtype=int) for x in zip(*follow)) if follow else (np.zeros(0, int),) * 3
        spread = np.zeros((len(follow), nl))  # (F, legs): d(coupled joint) / d(leg coordinate)
        f_rows = np.arange(len(follow))

    def solve(q: np.ndarray, goal: np.ndarray, qref: np.ndarray, iters: int, sw: np.ndarray) -> None:
        """In place: ``iters`` damped Gauss-Newton steps of the legs of ``q`` towards sole points ``goal``
        (each point's residual weighted by ``sw``, (24,): zero for a running swing foot)."""
        slope = _couple(rig, q)
        for _ in range(iters):
            data.qpos[:] = q
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            pts = _points(data, feet)
            for (block, body), point in zip(blocks, pts.reshape(-1, 3)):
                mujoco.mj_jac(model, data, block, None, point, body)
            r = (goal - pts).reshape(-1) * sw
            j = jac[:, legs]
            if slope is not None and f_k.size:  # a coordinate also moves the joints that follow it
                spread[f_rows, f_col] = slope[f_k]
                j = j + jac[:, f_dof] @ spread
            j *= sw[:, None]
            mujoco.mj_differentiatePos(model, dv, 1.0, qref, q)
            normal = j.T @ j + damp
            rhs = j.T @ r - REG * dv[legs]
            if rig.limits is not None:  # soft limits: a quadratic penalty inside the zone of each bound
                adr, lo, hi = rig.limits
                below = np.maximum(lo + soft_zone - q[adr], 0.0) * rig.soft
                above = np.maximum(q[adr] - hi + soft_zone, 0.0) * rig.soft
                normal[np.diag_indices(nl)] += soft_weight * ((below > 0) | (above > 0))
                rhs += soft_weight * (below - above)
            if rig.knees is not None:  # ball-joint knees: the same penalty near full extension
                for adr, k in zip(rig.knees, rig.knee_dofs):
                    below = max(soft_zone - _flexion(q[adr:adr + 4]), 0.0)
                    if below > 0:
                        normal[k, k] += soft_weight
                        rhs[k] += soft_weight * below
            mujoco.mju_cholFactor(normal, 0.0)  # small SPD system: MuJoCo's Cholesky, no LAPACK overhead
            mujoco.mju_cholSolve(step, normal, rhs)
            dv[:] = 0.0
            dv[legs] = step
            mujoco.mj_integratePos(model, q, dv, 1.0)
            if rig.limits is not None:
                adr, lo, hi = rig.limits
                q[adr] = np.clip(q[adr], lo + LIMIT_MARGIN, hi - LIMIT_MARGIN)
            if rig.knees is not None:  # the knee (a pure rotation about x) flexes forward only
                for adr in rig.knees:
                    if _flexion(q[adr:adr + 4]) < LIMIT_MARGIN:
                        q[adr:adr + 4] = np.cos(LIMIT_MARGIN / 2), np.sin(LIMIT_MARGIN / 2), 0.0, 0.0
            slope = _couple(rig, q)
            if np.abs(step).max() < IK_TOL:
                break

    out = start.copy()
    for row, i in enumerate(frames):
        q = out[row]
        if row:
            q[rig.leg_qpos] = out[row - 1, rig.leg_qpos]
            solve(q, target[i], ref[i], IK_ITER, rows[i])
            continue
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        own = _points(data, feet)  # the reference pose's sole points, where the continuation starts
        for alpha in np.linspace(0.0, 1.0, COLD_STEPS + 1)[1:]:
            solve(q, own + alpha * (target[i] - own), ref[i], IK_ITER_COLD // COLD_STEPS, rows[i])
        solve(q, target[i], ref[i], IK_ITER_COLD, rows[i])
    return out


def _move_pelvis(rig: Rig, plan: Plan, q_ref: np.ndarray, qpos: np.ndarray,
                 miss: Callable[[np.ndarray], np.ndarray], passes: int, tol: float, gain: float,
                 half_width_s: float, rate_hz: float, limit: float = np.inf) -> np.ndarray:
    """Up to ``passes`` times, while ``miss`` of the sole points' errors ``plan.points - achieved`` (T, 2, 4, 3)
    -> (T,) exceeds ``tol`` (m) somewhere: move ``plan.pelvis_z`` (in place) by ``gain`` times the envelope of
    that miss over ``+-half_width_s`` (the plan's grid: ``rate_hz``; so the pelvis moves ahead of time and
    slowly) and solve again, the pelvis moving at most ``limit`` (m) in all. A pass is kept only if it
    reduces the largest miss: where moving the pelvis does not help (a foot missed for another reason),
    repeating it would run away (a walk once sank its pelvis below the floor)."""
    start = plan.pelvis_z
    m = miss(plan.points - sole_points(rig.model, rig.feet, qpos))
    for _ in range(passes):
        if m.max() < tol:
            break
        before = plan.pelvis_z
        wanted = plan.pelvis_z + gain * _envelope(m, max(1, int(round(half_width_s * rate_hz))))
        plan.pelvis_z = start + np.clip(wanted - start, -limit, limit)
        moved = solve_ik(rig, plan, q_ref)
        m_moved = miss(plan.points - sole_points(rig.model, rig.feet, moved))
        if m_moved.max() >= m.max():
            plan.pelvis_z = before
            break
        qpos, m = moved, m_moved
    return qpos


class GroundMotion:
    """``t -> (q, qd, qdd)`` in generator coordinates for a motion on the ground over ``[t_start, t_end]``:
    the solved leg columns and the root translation are quintic splines through the IK solution on the
    fine grid, the toe columns are held at their mean, every other column is the generator's; ``extra``'s
    columns (the Rajagopal arms) follow, as given, and the plan balances the body with them."""

    def __init__(self, rig: Rig, motion: Fourier, t_start: float, t_end: float, extra: Fourier | None = None):
        cmj = bool(motion.gait and motion.gait.get("cmj"))
        h = 1.0 / (CMJ_FINE_HZ if cmj else FINE_HZ)
        pad = CMJ_PAD_S if cmj else PAD_S  # a jump's grid holds whole flights (see free_flight)
        tf = np.arange(np.floor((t_start - pad) / h), np.ceil((t_end + pad) / h) + 1) * h
        self.motion, self.rig, self.extra = motion, rig, extra
        if motion.gait is None:
            self.plan = static_plan(rig, motion, tf)
        elif "steps" in motion.gait:
            self.plan = steps_plan(rig, motion, tf)
        elif cmj:
            self.plan = cmj_plan(rig, motion, tf)
        else:
            self.plan = walk_plan(rig, motion, tf)
        q_ref = self._reference(tf)[0]
        if rig.reorient is not None:
            q_ref[:, rig.root_rot] = rig.reorient(q_ref[:, rig.root_rot])
        qpos = self._solve(q_ref)
        # heels raised where the feet need more dorsiflexion than the ankles have: jumps (re-planning the centre
        # of pressure too), hops, kicks, lunges and step-ups (the planned feet alone)
        if cmj:
            qpos = self._heels(q_ref, qpos, lambda heel: cmj_plan(rig, motion, tf, heel.max(1)))
        elif motion.gait is not None and (motion.gait.get("hop") or "steps" in motion.gait):
            base = self.plan
            qpos = self._heels(q_ref, qpos, lambda heel: replace(base, points=raise_heels(base.points, heel)))
        if self.plan.reach is not None:
            top = float(self.plan.pelvis_z.max())
            for _ in range(VAULT_PASSES):
                self.plan.pelvis_z = _vault(rig, self.plan, qpos, motion.gait["freq"], top)
                qpos = solve_ik(rig, self.plan, q_ref)
        spun = self.plan.flight is not None and self.plan.flight.any() and rig.turn is not None
        if spun:  # jumps: a constant angular momentum in flight (the legs move freely there)
            for _ in range(SPIN_PASSES):
                q_ref[:, rig.root_rot] = rig.turn(q_ref[:, rig.root_rot], spin_correction(rig, self.plan.flight,
                                                                                          qpos, h))
                qpos = self._solve(q_ref)
        if self.plan.swing is not None and rig.turn is not None:  # runs: one least-squares turn
            spun = True
            q_ref[:, rig.root_rot] = rig.turn(q_ref[:, rig.root_rot], spin_least_squares(
                rig, self.plan.swing.all(1), qpos, h))
            qpos = self._solve(q_ref)
        if motion.gait is None:  # quasi-static: where the flat feet cannot reach the floor, raise the pelvis
            qpos = _move_pelvis(rig, self.plan, q_ref, qpos, lambda d: np.maximum(d[..., 2].max((1, 2)), 0.0),
                                STATIC_RAISE_PASSES, STATIC_RAISE_TOL, STATIC_RAISE_GAIN, 0.1, 1.0 / h)
        elif self.plan.com_z is None and "steps" not in motion.gait:  # walking: lower the pelvis where a leg
            qpos = _move_pelvis(rig, self.plan, q_ref, qpos,  # cannot reach its foot (a long step of a tall subject)
                                lambda d: np.linalg.norm(d, axis=-1).max((1, 2)),
                                WALK_LOWER_PASSES, WALK_LOWER_TOL, -WALK_LOWER_GAIN, WALK_LOWER_S, 1.0 / h,
                                WALK_LOWER_MAX * rig.height_m / 1.75)
        trans = qpos[:, rig.trans_qpos]
        self.cols = np.concatenate([rig.solved, rig.trans])
        values = [rig.read(qpos), trans]
        if rig.reorient is not None or spun:
            self.cols = np.concatenate([self.cols, rig.root_rot])
            values.append(q_ref[:, rig.root_rot])
        self.spline = make_interp_spline(tf, np.concatenate(values, 1), k=5)
        self.qpos = qpos
        self.t_fine = tf

    def _solve(self, q_ref: np.ndarray) -> np.ndarray:
        """The leg IK on ``q_ref``; runs: the swing legs following the generator; jumps: the legs free in flight."""
        qpos = solve_ik(self.rig, self.plan, q_ref)
        if self.plan.swing is not None:  # running: the swing legs follow the generator, joined to the stance legs
            for _ in range(SWING_PASSES):
                qpos = solve_ik(self.rig, self.plan, swing_legs(self.rig, self.plan, q_ref, qpos))
        if self.plan.flight is not None:
            qpos = free_flight(self.rig, self.plan, q_ref, qpos)
        return qpos

    def _heels(self, q_ref: np.ndarray, qpos: np.ndarray, lift: Callable[[np.ndarray], Plan]) -> np.ndarray:
        """Up to ``HEEL_PASSES`` times, where a solved foot pitches toes-down from its plan by more than
        ``HEEL_TOL`` (an ankle on its dorsiflexion limit: the foot turns with the shank and the toes go into the
        floor), raise that foot's heel by ``HEEL_GAIN`` times the pitch (enveloped over ``HEEL_S``: smoothly,
        ahead of time; ``lift``: heel angles (T, 2) -> the plan with the heels raised) and solve again; a pass
        is kept only if it reduces the largest sole-point miss. The Rajagopal ankle stops at 30 deg of
        dorsiflexion: at the bottom of a deep countermovement its IK pitched the toes up to 2.3 cm into the
        floor (and an ankle leaving its limit at once as the heels rose made a foot slip: a frame without
        contact in the push, 2.4 BW unexplained; a deep hop's the same), and on a step-up's platform it missed
        the leading foot by up to 7 cm."""
        rig = self.rig
        heel = np.zeros(self.plan.points.shape[:2])
        w = max(1, int(round(HEEL_S / (self.plan.t[1] - self.plan.t[0]))))
        free = np.zeros((heel.shape[0], 1), bool) if self.plan.flight is None else self.plan.flight[:, None]

        def miss(q: np.ndarray) -> tuple[np.ndarray, float]:
            pts = sole_points(rig.model, rig.feet, q)
            over = np.where(free, 0.0, np.maximum(toe_pitch(pts) - toe_pitch(self.plan.points), 0.0))
            return over, float(np.linalg.norm(self.plan.points - pts, axis=-1).max())

        over, m = miss(qpos)
        for _ in range(HEEL_PASSES):
            if over.max() < HEEL_TOL:
                break
            before = self.plan
            wanted = heel + HEEL_GAIN * np.stack([_envelope(over[:, f], w) for f in range(2)], 1)
            self.plan = lift(wanted)
            moved = self._solve(q_ref)
            over_moved, m_moved = miss(moved)
            if m_moved >= m:
                self.plan = before
                break
            qpos, over, m, heel = moved, over_moved, m_moved, wanted
        return qpos

    def _reference(self, t: np.ndarray):
        q, qd, qdd = self.motion(t)
        q[:, self.rig.fixed] = self.motion.mean[self.rig.fixed]
        qd[:, self.rig.fixed] = qdd[:, self.rig.fixed] = 0.0
        if self.extra is not None:  # columns after the generator's (the Rajagopal arms): moved as given
            return tuple(np.concatenate([a, b], axis=1) for a, b in zip((q, qd, qdd), self.extra(t)))
        return q, qd, qdd

    def __call__(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q, qd, qdd = self._reference(t)
        for n, arr in enumerate((q, qd, qdd)):
            arr[:, self.cols] = self.spline.derivative(n)(t) if n else self.spline(t)
        return q, qd, qdd


def ground_rajagopal(body: RajagopalBody, motion: Fourier, t_start: float, t_end: float,
                     arms: Fourier | None = None) -> GroundMotion:
    """The Rajagopal motion on the ground (walking if ``motion.gait``, else both feet planted):
    ``t -> (q, qd, qdd)`` (T, 23) each; with ``arms`` (a body with arms: the ``ARM_COORDINATES``, e.g.
    :func:`hdys.physics.motions.rajagopal_arms`) (T, 31), the plan balancing the body with its arms moving."""
    return GroundMotion(rajagopal_rig(body), motion, t_start, t_end, arms)


def ground_smpl(body: SmplBody, motion: Fourier, t_start: float,
                t_end: float) -> Callable[[np.ndarray], SmplTrajectory]:
    """The SMPL motion on the ground: ``t -> SmplTrajectory``; ``.ground`` is the :class:`GroundMotion`."""
    ground = GroundMotion(smpl_rig(body), motion, t_start, t_end)

    def evaluate(t: np.ndarray) -> SmplTrajectory:
        return smpl_trajectory(ground, t)

    evaluate.ground = ground
    return evaluate

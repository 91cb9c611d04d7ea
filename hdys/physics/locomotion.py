"""Motions on the ground: a foot plan, a balanced pelvis plan and leg inverse kinematics.

The generators of :mod:`hdys.physics.motions` prescribe joint angles analytically; on their own they do
not keep a stance foot still. For motions on the ground the kinematics are built the other way round,
as a planner for a walking robot would (:class:`GroundMotion`, :func:`ground_rajagopal`, :func:`ground_smpl`):

1. **Foot plan** (z-up world; :mod:`hdys.physics.plans`: quasi-static motions, kicks, lunges, step-ups and
   countermovement jumps; :mod:`hdys.physics.gait`: walking, running and hops). Each foot is a rigid sole
   (:mod:`hdys.physics.rig`) on footprints, rolling on heel and toe rockers and swinging between them along
   smooth shapes (:mod:`hdys.physics.shapes`).
2. **Balance** (:mod:`hdys.physics.balance`): the horizontal COM follows a linear inverted pendulum of a planned
   zero-moment point, or the pendulum of the planned vertical force (runs, hops, jumps).
3. **Leg IK** (:mod:`hdys.physics.legs`) on a ``FINE_HZ`` grid padded by ``PAD_S`` (jumps: ``CMJ_FINE_HZ``,
   ``CMJ_PAD_S``, whole flights on the grid). Runs solve again ``SWING_PASSES`` times with the swing legs
   following the generator, jumps with the legs free in flight (:mod:`hdys.physics.flight`).
4. **Corrections**, each solving the IK again and kept only where it reduces the miss: the heels rise about the
   toes where a foot needs more dorsiflexion than its ankle has (jumps, hops, kicks, lunges and step-ups;
   ``HEEL_*``, :meth:`GroundMotion._heels`); the walking pelvis vaults (``VAULT_PASSES`` passes of
   :func:`hdys.physics.gait.vault`); a jump's body turns for a constant angular momentum in flight
   (``SPIN_PASSES`` passes of :func:`hdys.physics.flight.spin_correction`), a run's once
   (:func:`hdys.physics.flight.spin_least_squares`); a quasi-static pelvis rises where the flat feet fall short
   of the floor (``STATIC_RAISE_*``), and a walking pelvis is lowered further, slowly, where a leg still cannot
   reach its planned foot (``WALK_LOWER_*``; :func:`hdys.physics.legs.move_pelvis`).
5. **Trajectory.** The solved angles and the pelvis translation are interpolated by quintic splines, whose
   derivatives give consistent velocities and accelerations; all other coordinates keep the generator's
   analytic values (toe joints: their mean), except the Rajagopal pelvis rotation, which is converted from the
   generators' heading-first meaning to OpenSim's tilt-first angles (:func:`hdys.physics.rig.heading_first`)
   and splined too (as is the root rotation of a body turned in flight).

The planner's names that other modules, tests and benchmarks import from here are re-exported (``__all__``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import numpy as np
from scipy.interpolate import make_interp_spline

from hdys.physics.balance import lipm, pendulum, running_bounce
from hdys.physics.bodies import RajagopalBody, SmplBody
from hdys.physics.flight import free_flight, spin_correction, spin_least_squares, swing_legs
from hdys.physics.fourier import Fourier
from hdys.physics.gait import (STEP_RANGE, SWING_END_DEC, SWING_START_ACC, WALK_SOFT_WEIGHT, WALK_SOFT_ZONE, vault,
                               walk_plan)
from hdys.physics.legs import move_pelvis, solve_ik
from hdys.physics.smpl_motions import smpl_trajectory
from hdys.physics.plans import SOFT_WEIGHT, SOFT_ZONE, Plan, cmj_plan, static_plan, steps_plan
from hdys.physics.rig import Rig, heading_first, rajagopal_rig, smpl_rig, sole_points
from hdys.physics.rotations import SmplTrajectory
from hdys.physics.shapes import envelope, raise_heels, smootherstep, swing_progress, toe_pitch
from hdys.physics.timing import Cyclic, Hop, Jump, Kick, Lunge, Steps, StepUp

__all__ = ["GroundMotion", "ground_rajagopal", "ground_smpl",
           # re-exported for the modules, tests and benchmarks that import them from here
           "SOFT_WEIGHT", "SOFT_ZONE", "STEP_RANGE", "SWING_END_DEC", "SWING_START_ACC", "WALK_SOFT_WEIGHT",
           "WALK_SOFT_ZONE", "heading_first", "lipm", "pendulum", "rajagopal_rig", "running_bounce", "smootherstep",
           "smpl_rig", "sole_points", "swing_progress"]

FINE_HZ = 50.0
PAD_S = 0.15
CMJ_FINE_HZ = 100.0  # IK grid of countermovement jumps (take-off and touchdown are brief)
CMJ_PAD_S = 0.7  # s: padding of a jump's IK grid, longer than any flight
SWING_PASSES = 2  # running: solve again with the swing legs following the generator (swing_legs)
SPIN_PASSES = 2  # turn the body for a constant angular momentum in flight, solve again (spin_correction)
VAULT_PASSES = 2  # vault, solve again
HEEL_PASSES, HEEL_TOL, HEEL_GAIN = 3, 0.01, 1.3  # heels raised where the feet pitch down (rad; GroundMotion._heels)
HEEL_S = 0.1  # s: half-width of the envelope of that pitch
STATIC_RAISE_PASSES, STATIC_RAISE_TOL, STATIC_RAISE_GAIN = 2, 0.003, 3.0  # pelvis raise where flat feet fall short (m)
WALK_LOWER_PASSES, WALK_LOWER_TOL, WALK_LOWER_GAIN = 3, 0.005, 1.0  # walking pelvis lowered where a foot is missed (m)
WALK_LOWER_S = 0.25  # s: half-width of its envelope (a slow dip: a 5 cm one adds about 0.15 BW)
WALK_LOWER_MAX = 0.08  # m at 1.75 m stature: at most this much lower (deeper, a walk turns into a crouch)
# the foot plan of each type of gait (``Fourier.gait``; None: both feet planted)
PLANNERS: dict[type, Callable[[Rig, Fourier, np.ndarray], Plan]] = {
    type(None): static_plan, Cyclic: walk_plan, Hop: walk_plan, Kick: steps_plan, Lunge: steps_plan,
    StepUp: steps_plan, Jump: cmj_plan}


class GroundMotion:
    """``t -> (q, qd, qdd)`` in generator coordinates for a motion on the ground over ``[t_start, t_end]``:
    the solved leg columns and the root translation are quintic splines through the IK solution on the
    fine grid, the toe columns are held at their mean, every other column is the generator's; ``extra``'s
    columns (the Rajagopal arms) follow, as given, and the plan balances the body with them."""

    def __init__(self, rig: Rig, motion: Fourier, t_start: float, t_end: float, extra: Fourier | None = None):
        gait = motion.gait
        cmj = isinstance(gait, Jump)
        h = 1.0 / (CMJ_FINE_HZ if cmj else FINE_HZ)
        pad = CMJ_PAD_S if cmj else PAD_S  # a jump's grid holds whole flights (see free_flight)
        tf = np.arange(np.floor((t_start - pad) / h), np.ceil((t_end + pad) / h) + 1) * h
        self.motion, self.rig, self.extra = motion, rig, extra
        self.plan = PLANNERS[type(gait)](rig, motion, tf)
        q_ref = self._reference(tf)[0]
        if rig.reorient is not None:
            q_ref[:, rig.root_rot] = rig.reorient(q_ref[:, rig.root_rot])
        qpos = self._solve(q_ref)
        # heels raised where the feet need more dorsiflexion than the ankles have: jumps (re-planning the centre
        # of pressure too), hops, kicks, lunges and step-ups (the planned feet alone)
        if cmj:
            qpos = self._heels(q_ref, qpos, lambda heel: cmj_plan(rig, motion, tf, heel.max(1)))
        elif isinstance(gait, (Hop, Steps)):
            base = self.plan
            qpos = self._heels(q_ref, qpos, lambda heel: replace(base, points=raise_heels(base.points, heel)))
        if self.plan.reach is not None:
            top = float(self.plan.pelvis_z.max())
            for _ in range(VAULT_PASSES):
                self.plan.pelvis_z = vault(rig, self.plan, qpos, gait.freq, top)
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
        if gait is None:  # quasi-static: where the flat feet cannot reach the floor, raise the pelvis
            qpos = move_pelvis(rig, self.plan, q_ref, qpos, lambda d: np.maximum(d[..., 2].max((1, 2)), 0.0),
                               STATIC_RAISE_PASSES, STATIC_RAISE_TOL, STATIC_RAISE_GAIN, 0.1, 1.0 / h)
        elif self.plan.com_z is None and not isinstance(gait, Steps):  # walking: lower the pelvis where a leg
            qpos = move_pelvis(rig, self.plan, q_ref, qpos,  # cannot reach its foot (a long step of a tall subject)
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
        dorsiflexion: where a motion needs more (the bottom of a deep countermovement or hop, a lunge's front
        foot, a step-up's foot on the platform) the IK turns the foot with the shank, toes into the floor, and
        misses the planned foot; the envelope raises the heels gradually, as an ankle leaving its limit at once
        makes the foot slip (benchmarks/RESULTS.md, "Feet at the ankle's limit")."""
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
            wanted = heel + HEEL_GAIN * np.stack([envelope(over[:, f], w) for f in range(2)], 1)
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
    """The Rajagopal motion on the ground (planned by its gait's type, ``PLANNERS``):
    ``t -> (q, qd, qdd)`` (T, 23) each; with ``arms`` (a body with arms: the ``ARM_COORDINATES``, e.g.
    :func:`hdys.physics.arm_motions.rajagopal_arms`) (T, 31), the plan balancing the body with its arms moving."""
    return GroundMotion(rajagopal_rig(body), motion, t_start, t_end, arms)


def ground_smpl(body: SmplBody, motion: Fourier, t_start: float,
                t_end: float) -> Callable[[np.ndarray], SmplTrajectory]:
    """The SMPL motion on the ground: ``t -> SmplTrajectory``; ``.ground`` is the :class:`GroundMotion`."""
    ground = GroundMotion(smpl_rig(body), motion, t_start, t_end)

    def evaluate(t: np.ndarray) -> SmplTrajectory:
        return smpl_trajectory(ground, t)

    evaluate.ground = ground
    return evaluate

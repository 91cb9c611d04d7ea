"""Leg inverse kinematics: the joint angles that put the sole points on a :class:`hdys.physics.plans.Plan`.

On the plan's grid each frame solves the leg joints (Rajagopal: hip 3, knee, ankle, subtalar; SMPL: hip 3, knee
flexion, ankle 3) by damped Gauss-Newton on the MuJoCo model (``mj_kinematics``/``mj_comPos``/``mj_jac`` of the
eight sole points), minimising ``|sole points - plan|^2 + REG |q_leg - q_generator|^2`` (the generator's angles
regularise the redundancy), warm-started from the previous frame; the first frame starts from the reference pose
and reaches its targets by continuation (``COLD_STEPS``). The pelvis's horizontal position is the COM target
minus the COM's offset from the pelvis, taken from a first pass on every fourth frame (offset from the reference
pose) for the second, full pass; a plan with a COM height (running: ``Plan.com_z``) gets ``COM_PASSES`` more
passes, so that the COM follows its ballistic flight. Hinge joints are clipped to their limits less
``LIMIT_MARGIN``; the knees (and the SMPL ball-joint knees' flexion) meet a soft limit first (``Plan.soft``: a
quadratic penalty inside a zone of the bound), so that a leg that cannot reach its target saturates smoothly
instead of bouncing off the clip. Joints that follow a coordinate (the Rajagopal walker knees) move with it.
The sole points of a running swing foot (``Plan.swing``) have no weight.

:func:`move_pelvis` moves the planned pelvis height where the solved feet miss their plan in a way that moving
the pelvis mends (flat feet short of the floor, a walking leg that cannot reach its foot), and solves again.
"""
from __future__ import annotations

from typing import Callable

import mujoco
import numpy as np
from scipy.interpolate import CubicSpline

from hdys.physics.plans import Plan
from hdys.physics.rig import Rig, com_offset, couple, flexion, points, sole_points
from hdys.physics.shapes import envelope

COM_PASSES = 2  # extra IK passes that make the COM follow a planned height (running)
REG = 1e-4  # (m / rad)^2
IK_ITER, IK_TOL = 15, 1e-7  # iterations of a frame, and the change of the legs' qpos (rad) that ends them
IK_ITER_COLD = 200  # iterations for the first frame of a pass (no previous frame to start from)
COLD_STEPS = 10  # continuation steps of the first frame's targets (see _legs)
LIMIT_MARGIN = 0.01  # rad kept from the hinge limits, so the splines' overshoot stays inside


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


def _followers(rig: Rig, nl: int):
    """The joints that follow a leg coordinate (the Rajagopal walker knees): their index in ``rig.coupled``, their
    dof, the column of their coordinate among the legs and their row (int arrays (F,)), and the (F, legs) matrix
    of d(coupled joint) / d(leg coordinate) that :func:`_legs` fills in; None without coupled joints."""
    if rig.coupled is None:
        return None
    legs_list = list(rig.leg_dofs)
    follow = [(k, int(a), legs_list.index(d)) for k, (a, d) in enumerate(zip(*rig.coupled[:2])) if d in legs_list]
    f_k, f_dof, f_col = (np.array(x, dtype=int) for x in zip(*follow)) if follow else (np.zeros(0, int),) * 3
    return f_k, f_dof, f_col, np.arange(len(follow)), np.zeros((len(follow), nl))


class _Limits:
    """The leg joints' limits as the Gauss-Newton loop of :func:`_legs` applies them every iteration, with what
    does not change between iterations computed once: the soft limits' quadratic penalty (``soft``: zone,
    weight) inside the zone of each bound of the soft-limited columns (the knees) and of the ball-joint knees'
    full extension; the clip of every hinge to its limits less ``LIMIT_MARGIN`` and of the ball-joint knees to
    forward flexion. (Columns without a soft limit would add exact zeros; they are left out.)"""

    def __init__(self, rig: Rig, soft: tuple[float, float]):
        self.rig, (self.zone, self.weight) = rig, soft
        self.hinges = rig.limits is not None
        if self.hinges:
            adr, lo, hi = rig.limits
            self.adr, self.clip_lo, self.clip_hi = adr, lo + LIMIT_MARGIN, hi - LIMIT_MARGIN
            self.cols = np.flatnonzero(rig.soft) if rig.soft is not None else np.zeros(0, int)
            self.soft_adr, self.soft_lo, self.soft_hi = adr[self.cols], lo[self.cols] + self.zone, hi[self.cols]

    def penalise(self, q: np.ndarray, normal: np.ndarray, rhs: np.ndarray) -> None:
        """In place: add the soft limits' penalty to the Gauss-Newton system ``normal``, ``rhs`` of the legs at
        ``q``."""
        if self.hinges and self.cols.size:
            qs = q[self.soft_adr]
            below = np.maximum(self.soft_lo - qs, 0.0)
            above = np.maximum(qs - self.soft_hi + self.zone, 0.0)
            hit = (below > 0) | (above > 0)
            if hit.any():
                normal[self.cols, self.cols] += self.weight * hit
                rhs[self.cols] += self.weight * (below - above)
        rig = self.rig
        if rig.knees is not None:  # ball-joint knees: the same penalty near full extension
            for adr, k in zip(rig.knees, rig.knee_dofs):
                below = max(self.zone - flexion(q[adr:adr + 4]), 0.0)
                if below > 0:
                    normal[k, k] += self.weight
                    rhs[k] += self.weight * below

    def clip(self, q: np.ndarray) -> None:
        """In place: the hinges of qpos ``q`` inside their limits less ``LIMIT_MARGIN``; the ball-joint knees (a
        pure rotation about x) flexing forward only."""
        if self.hinges:
            q[self.adr] = np.minimum(np.maximum(q[self.adr], self.clip_lo), self.clip_hi)
        if self.rig.knees is not None:
            for adr in self.rig.knees:
                if flexion(q[adr:adr + 4]) < LIMIT_MARGIN:
                    q[adr:adr + 4] = np.cos(LIMIT_MARGIN / 2), np.sin(LIMIT_MARGIN / 2), 0.0, 0.0


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
    rows = np.repeat((~plan.swing).astype(float), 12, 1) if plan.swing is not None else np.ones((target.shape[0], 24))
    follow = _followers(rig, nl)
    limits = _Limits(rig, plan.soft)

    def solve(q: np.ndarray, goal: np.ndarray, qref: np.ndarray, iters: int, sw: np.ndarray) -> None:
        """In place: ``iters`` damped Gauss-Newton steps of the legs of ``q`` towards sole points ``goal``
        (each point's residual weighted by ``sw``, (24,): zero for a running swing foot)."""
        slope = couple(rig, q)
        for _ in range(iters):
            data.qpos[:] = q
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            pts = points(data, feet)
            for (block, body), point in zip(blocks, pts.reshape(-1, 3)):
                mujoco.mj_jac(model, data, block, None, point, body)
            r = (goal - pts).reshape(-1) * sw
            j = jac[:, legs]
            if slope is not None and follow[0].size:  # a coordinate also moves the joints that follow it
                f_k, f_dof, f_col, f_rows, spread = follow
                spread[f_rows, f_col] = slope[f_k]
                j = j + jac[:, f_dof] @ spread
            j *= sw[:, None]
            mujoco.mj_differentiatePos(model, dv, 1.0, qref, q)
            normal = j.T @ j + damp
            rhs = j.T @ r - REG * dv[legs]
            limits.penalise(q, normal, rhs)
            mujoco.mju_cholFactor(normal, 0.0)  # small SPD system: MuJoCo's Cholesky, no LAPACK overhead
            mujoco.mju_cholSolve(step, normal, rhs)
            dv[:] = 0.0
            dv[legs] = step
            before = q[rig.leg_qpos]
            mujoco.mj_integratePos(model, q, dv, 1.0)
            limits.clip(q)
            slope = couple(rig, q)
            # converged when the legs stop moving: the step itself stays large while a joint is held at its
            # clip (a knee pressed straight), which would run every such frame to IK_ITER
            if np.abs(q[rig.leg_qpos] - before).max() < IK_TOL:
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
        own = points(data, feet)  # the reference pose's sole points, where the continuation starts
        for alpha in np.linspace(0.0, 1.0, COLD_STEPS + 1)[1:]:
            solve(q, own + alpha * (target[i] - own), ref[i], IK_ITER_COLD // COLD_STEPS, rows[i])
        solve(q, target[i], ref[i], IK_ITER_COLD, rows[i])
    return out


def move_pelvis(rig: Rig, plan: Plan, q_ref: np.ndarray, qpos: np.ndarray,
                miss: Callable[[np.ndarray], np.ndarray], passes: int, tol: float, gain: float,
                half_width_s: float, rate_hz: float, limit: float = np.inf) -> np.ndarray:
    """Up to ``passes`` times, while ``miss`` of the sole points' errors ``plan.points - achieved`` (T, 2, 4, 3)
    -> (T,) exceeds ``tol`` (m) somewhere: move ``plan.pelvis_z`` (in place) by ``gain`` times the envelope of
    that miss over ``+-half_width_s`` (the plan's grid: ``rate_hz``; so the pelvis moves ahead of time and
    slowly) and solve again, the pelvis moving at most ``limit`` (m) in all. A pass is kept only if it
    reduces the largest miss: where moving the pelvis does not help (a foot missed for another reason),
    repeating it would run away (the pelvis sinking below the floor)."""
    start = plan.pelvis_z
    m = miss(plan.points - sole_points(rig.model, rig.feet, qpos))
    for _ in range(passes):
        if m.max() < tol:
            break
        before = plan.pelvis_z
        wanted = plan.pelvis_z + gain * envelope(m, max(1, int(round(half_width_s * rate_hz))))
        plan.pelvis_z = start + np.clip(wanted - start, -limit, limit)
        moved = solve_ik(rig, plan, q_ref)
        m_moved = miss(plan.points - sole_points(rig.model, rig.feet, moved))
        if m_moved.max() >= m.max():
            plan.pelvis_z = before
            break
        qpos, m = moved, m_moved
    return qpos

"""Legs and whole-body turns in the air: running swing legs, the free legs of a jump's flight, and the turn that
keeps a flight's angular momentum constant.

Running swing legs (:func:`swing_legs`): the swing foot is not planned in the world (its sole points have no
weight in the IK, ``Plan.swing``); the swing leg follows the generator's normative running curves (the knee
folds to ~100 deg), offset so that it joins the stance solution at toe-off and touchdown with matching angle,
rate and acceleration, its knee folding ``SWING_FOLD`` further at mid-swing (the pelvis runs lower than the
curves' runner's, and the toes would brush the floor).

Jumps (:func:`free_flight`): in flight the legs are not tied to planned foot positions; they move from the
take-off pose to the touchdown pose by a quintic plus each end's rate and acceleration decaying over
``FLIGHT_TAU`` (:func:`_bridge`), and the root is placed so that the COM stays on its ballistic path.

Angular momentum (:func:`centroidal`): nothing can change the body's angular momentum about the COM in flight,
but the planned legs and COM do (as a swinging leg moves the COM, the plan moves the trunk the other way, and
nothing turns the body). The whole body is turned a little so that it stays constant in each flight: jumps by
exact turns joined through the stances (:func:`spin_correction`), runs once by one least-squares problem over
the grid (:func:`spin_least_squares`: brief flights, short stances). Hops do not turn yet: their flights'
angular momentum still changes.
"""
from __future__ import annotations

import mujoco
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.linalg import spsolve

from hdys.physics.contact import runs
from hdys.physics.legs import LIMIT_MARGIN
from hdys.physics.timing import quintic
from hdys.physics.plans import Plan
from hdys.physics.rig import Rig, com_offset

FLIGHT_FIT = 4  # stance frames through which a quadratic gives the legs' state at take-off and touchdown
FLIGHT_TAU = 0.04  # s: time constant over which the legs' take-off (touchdown) motion decays in flight
SWING_FOLD = 15.0  # deg: the running swing knee folds this much more than the generator's at mid-swing
SWING_TAU = 0.05  # s: time over which a running swing leg's offset from the generator keeps its toe-off
# (touchdown) rate
SPIN_TAU = 0.05  # s: time over which the whole-body turn of spin_correction keeps a flight's end rate on the ground
SPIN_ACC = 100.0  # rad/s^2: a run's turn (spin_least_squares) weighs an angular acceleration this large like a
# 1 rad/s miss of a flight's rate
SPIN_RATE_TAU = 0.1  # s: ... and its rates decay over this time outside the flights
SPIN_HOLD = 1.0  # 1/rad: ... and a pull of the turn itself to zero, which keeps the pelvis tilt's range about as
# small as without the turn


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
    would (as the legs swing forward the COM plan moves the trunk back, and the two turn the body together), so
    without this turn the ground cannot explain the moment of a flight (benchmarks/RESULTS.md, "Feet at the
    ankle's limit"). Used where the legs move freely in flight (:func:`free_flight`: jumps); where the IK holds
    them to planned feet (hops) it undoes part of the turn; runs use :func:`spin_least_squares` (their stances
    are too short for these joins)."""
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
    their stances too short to join :func:`spin_correction`'s exact turns through; the rate term keeps the turn
    from drifting, and a single pass keeps the swing legs, which join the stance legs' rates
    (:func:`swing_legs`), from large torques (benchmarks/RESULTS.md, "Running"). Flights that touch the grid's
    ends are not whole and are left free."""
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

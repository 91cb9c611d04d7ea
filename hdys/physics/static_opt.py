"""Static optimisation (paper Eq. 1) with the 80 muscles of myo-sim's ``myolegs``.

The torques come from inverse dynamics on hdys's Rajagopal body (17 non-root DoFs: 14 leg coordinates and
3 lumbar ones); the muscles are those of ``myolegs`` (:mod:`hdys.physics.myolegs`: moment arms from
MuJoCo's ``actuator_moment`` through the knee coupling, Hill-type force-length-velocity terms, scaled to
the subject's height and mass). Per frame, with moment arms ``R`` (17 x N, zero rows for the lumbar DoFs,
which have no muscles and are torque-driven as in Rajagopal's model) and the muscle model
``F_j = gain_j(l, v) a_j + bias_j(l)`` (MuJoCo's sign convention makes pulling forces negative, ``R`` carries
the matching signs), solve

    minimise  sum_j a_j^2 + sum_d (r_d / r_opt_d)^2
    s.t.      R (gain * a + bias) + r = tau,   0 <= a <= 1,

where ``r`` are reserve torques (optimal torque ``r_opt``: 1 N m on muscle-actuated DoFs, i.e. heavily
penalised; large on the lumbar DoFs). The reserves are unbounded and appear linearly, so substituting
``r = tau - R F(a)`` gives an equivalent bounded linear least-squares problem in ``a`` alone,

    minimise  ||a||^2 + ||A a - b||^2,  0 <= a <= 1,   A = R diag(gain) / r_opt,  b = (tau - R bias) / r_opt,

a strictly convex box-constrained QP per frame; the equality constraint then holds by construction.
``static_optimization`` solves all frames at once with an exact batched active-set method
(``solve_batched``, the default) or frame by frame with ``scipy.optimize.lsq_linear`` (BVLS, the
reference, ``method="bvls"``); both stop at the same optimum (``kkt_residual``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear

from hdys.physics.bodies import RajagopalBody
from hdys.physics.myoarms import ARM_MUSCLE_NAMES, arm_muscle_terms
from hdys.physics.myolegs import LEG_COORDINATES, leg_muscle_terms, load_myolegs
from hdys.schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS

LUMBAR_RESERVE = 500.0  # N m: lumbar coordinates are torque-driven (no muscles), nearly free
MUSCLE_DOF_RESERVE = 1.0  # N m: reserves on muscle-actuated DoFs cost like a fully active muscle per N m
_LEG_ROWS = [RAJAGOPAL_TORQUE_DOFS.index(n) for n in LEG_COORDINATES]
_LEG_COLS = [RAJAGOPAL_COORDINATES.index(n) for n in LEG_COORDINATES]


@dataclass
class StaticOptResult:
    """activation (T, N) in [0, 1]; reserve (T, 17) N m; residual (T, 17) N m (tau - R F - reserve);
    force (T, N) muscle forces in N (MuJoCo sign: negative = pulling); muscle_names (N,) OpenSim names."""

    activation: np.ndarray
    reserve: np.ndarray
    residual: np.ndarray
    force: np.ndarray
    muscle_names: list[str]


def muscle_names() -> list[str]:
    """The N = 80 myolegs muscle names, in the column order of every activation array."""
    return list(load_myolegs().muscle_names)


def muscle_terms(body: RajagopalBody, q: np.ndarray, qd: np.ndarray):
    """Moment arms and force-model terms along a trajectory (RAJAGOPAL_COORDINATES order, (T, 23)) for the
    subject of ``body`` (its height and mass scale the muscles).

    Returns ``moment (T, 17, N)`` (d torque / d muscle force on the 17 non-root DoFs; zero on the lumbar
    DoFs), ``gain (T, N)`` and ``bias (T, N)`` such that the muscle force is ``gain * a + bias``.
    """
    q, qd = np.asarray(q, float), np.asarray(qd, float)
    moment_legs, gain, bias = leg_muscle_terms(q[:, _LEG_COLS], qd[:, _LEG_COLS], body.height_m, body.mass_kg)
    moment = np.zeros((q.shape[0], len(RAJAGOPAL_TORQUE_DOFS), moment_legs.shape[2]))
    moment[:, _LEG_ROWS] = moment_legs
    return moment, gain, bias


def reserve_optimal_torques() -> np.ndarray:
    """(17,) optimal torque of each DoF's reserve actuator."""
    return np.array([LUMBAR_RESERVE if d.startswith("lumbar") else MUSCLE_DOF_RESERVE for d in RAJAGOPAL_TORQUE_DOFS])


def so_problem(moment: np.ndarray, gain: np.ndarray, bias: np.ndarray, tau: np.ndarray,
               r_opt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-frame bounded least-squares problem ``min ||a||^2 + ||A a - b||^2, 0 <= a <= 1``:
    ``A = R diag(gain) / r_opt`` (T, 17, N) and ``b = (tau - R bias) / r_opt`` (T, 17)."""
    a_mat = moment * gain[:, None, :] / r_opt[None, :, None]
    b_vec = (tau - np.einsum("tdn,tn->td", moment, bias)) / r_opt
    return a_mat, b_vec


def solve_bvls(a_mat: np.ndarray, b_vec: np.ndarray) -> np.ndarray:
    """Reference solver: ``scipy.optimize.lsq_linear`` (BVLS) frame by frame on ``[I; A] a ~ [0; b]``."""
    nt, _, n = a_mat.shape
    act = np.empty((nt, n))
    eye, zeros = np.eye(n), np.zeros(n)
    for i in range(nt):
        sol = lsq_linear(np.vstack([eye, a_mat[i]]), np.concatenate([zeros, b_vec[i]]), bounds=(0.0, 1.0),
                         method="bvls", tol=1e-12)
        act[i] = np.clip(sol.x, 0.0, 1.0)
    return act


def kkt_residual(a_mat: np.ndarray, b_vec: np.ndarray, act: np.ndarray) -> np.ndarray:
    """Per-frame KKT violation of ``act`` for ``min ||a||^2 + ||A a - b||^2, 0 <= a <= 1``.

    With the gradient ``g = 2 (a + A^T (A a - b))`` and the Hessian diagonal ``h = 2 (1 + ||A_j||^2)``, the
    projected-gradient violation ``h_j |a_j - clip(a_j - g_j / h_j, 0, 1)|`` (``|g_j|`` for an interior
    ``a_j``, the wrong-signed part of ``g_j`` at a bound, zero at the optimum), divided by
    ``1 + ||A_j|| ||A a - b||`` (the scale of the rounding in ``g_j``); the maximum over muscles. The
    objective is 2-strongly convex, so a frame with residual ``e`` whose active set is right lies within
    about ``e (1 + ||A_j|| ||r||) / 2`` of the optimum. Returns (T,).
    """
    r = np.einsum("tmn,tn->tm", a_mat, act) - b_vec
    g = 2.0 * (act + np.einsum("tmn,tm->tn", a_mat, r))
    col_sq = np.einsum("tmn,tmn->tn", a_mat, a_mat)
    h = 2.0 * (1.0 + col_sq)
    v = h * np.abs(act - np.clip(act - g / h, 0.0, 1.0))
    scale = 1.0 + np.sqrt(col_sq) * np.linalg.norm(r, axis=1)[:, None]
    return (v / scale).max(axis=1)


KKT_TOL = 1e-9  # frames whose batched solution has a larger kkt_residual are re-solved with BVLS
_RELEASE_TOL = 1e-10  # primal active-set phase: a bound leaves the working set if its multiplier is below -tol
_PDAS_ITERS = 6  # primal-dual active-set iterations before a frame switches to the monotone primal method
_MAX_ITERS = 400


def _chol_solve(mat: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched SPD solve: (T, m, m), (T, m) -> (T, m). LAPACK Cholesky per matrix, then the two
    triangular substitutions vectorised over the batch (``np.linalg.solve`` on many tiny matrices is slow
    with a multi-threaded OpenBLAS)."""
    low = np.linalg.cholesky(mat)
    m = rhs.shape[1]
    y = np.empty_like(rhs)
    for j in range(m):
        y[:, j] = (rhs[:, j] - np.einsum("tk,tk->t", low[:, j, :j], y[:, :j])) / low[:, j, j]
    x = np.empty_like(rhs)
    for j in range(m - 1, -1, -1):
        x[:, j] = (y[:, j] - np.einsum("tk,tk->t", low[:, j + 1:, j], x[:, j + 1:])) / low[:, j, j]
    return x


@dataclass
class BatchedSolveInfo:
    """iterations (T,) subspace solves per frame; primal (T,) frames that needed the primal active-set
    phase; fallback (T,) frames re-solved with BVLS; kkt (T,) final ``kkt_residual``."""

    iterations: np.ndarray
    primal: np.ndarray
    fallback: np.ndarray
    kkt: np.ndarray


def _subspace_minimiser(ai_mat: np.ndarray, bi: np.ndarray, loi: np.ndarray, upi: np.ndarray, eye: np.ndarray):
    """The minimiser with the working set at its bounds (``loi`` at 0, ``upi`` at 1; (F, N) masks) for the
    frames of ``ai_mat`` (F, m, N), ``bi`` (F, m): ``(free, s, g, y)``, the free variables (F, N), the
    subproblem solution ``s`` (F, N), the gradient ``g`` there (F, N) and ``y`` (F, m) (see
    :func:`solve_batched`)."""
    free = ~(loi | upi)
    upf = upi.astype(float)
    rhs = bi - (ai_mat @ upf[..., None])[..., 0]
    y = _chol_solve(eye + (ai_mat * free[:, None, :]) @ ai_mat.transpose(0, 2, 1), rhs)
    aty = (y[:, None, :] @ ai_mat)[:, 0, :]
    s = np.where(free, aty, upf)
    g = 2.0 * (s - aty)
    return free, s, g, y


def _primal_step(ai: np.ndarray, s: np.ndarray, g: np.ndarray, sa: np.ndarray, free: np.ndarray, loi: np.ndarray,
                 upi: np.ndarray, gtol: np.ndarray):
    """One step of the monotone primal active-set method (phase 2 of :func:`solve_batched`) from the feasible
    ``ai`` towards the subproblem solution ``s`` (``sa``: clipped): ``(step, lo, up, done)``, the next iterate,
    its working set (a blocking bound added, or the bound with the most negative multiplier below ``-gtol``
    released at a feasible subspace minimiser) and the frames that are optimal (all (F, N) but done (F,))."""
    d = s - ai
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(free & (d < 0.0), -ai / d, np.where(free & (d > 0.0), (1.0 - ai) / d, np.inf))
    amin = ratio.min(1)
    feas = amin >= 1.0
    wrong = np.where(loi, -g, np.where(upi, g, 0.0)) - gtol  # > 0: multiplier of the wrong sign
    release_any = feas & (wrong > 0.0).any(1)
    worst = np.argmax(np.where(loi | upi, wrong, -np.inf), axis=1)
    release = np.zeros_like(loi)
    release[np.flatnonzero(release_any), worst[release_any]] = True
    pr_done = feas & ~release_any
    block = (~feas)[:, None] & free & (ratio <= amin[:, None] * (1.0 + 1e-12))
    block_lo, block_up = block & (d < 0.0), block & (d > 0.0)
    step = np.where(feas[:, None], sa, np.clip(ai + np.where(feas, 0.0, amin)[:, None] * d, 0.0, 1.0))
    step = np.where(block_lo, 0.0, np.where(block_up, 1.0, step))
    plo = (loi & ~release) | block_lo
    pup = (upi & ~release) | block_up
    return step, plo, pup, pr_done


def _bvls_fallback(a_mat: np.ndarray, b_vec: np.ndarray, act: np.ndarray, unfinished: np.ndarray):
    """Re-solve with BVLS (in place in ``act``) the frames whose ``kkt_residual`` exceeds ``KKT_TOL`` and those
    ``unfinished`` (indices); returns ``(fallback, kkt)``, each (T,)."""
    kkt = kkt_residual(a_mat, b_vec, act)
    fallback = kkt > KKT_TOL
    fallback[unfinished] = True  # not converged in _MAX_ITERS
    if fallback.any():
        fb = np.flatnonzero(fallback)
        act[fb] = solve_bvls(a_mat[fb], b_vec[fb])
        kkt[fb] = kkt_residual(a_mat[fb], b_vec[fb], act[fb])
    return fallback, kkt


def solve_batched(a_mat: np.ndarray, b_vec: np.ndarray) -> tuple[np.ndarray, BatchedSolveInfo]:
    """All frames at once: ``min ||a||^2 + ||A a - b||^2, 0 <= a <= 1`` (``A`` (T, m, N), ``b`` (T, m)).

    Each iteration solves, for every unfinished frame, the equality-constrained subproblem with the
    variables of a working set held at their bounds (``a_L = 0``, ``a_U = 1``): by the Woodbury identity the
    free part is ``a_F = A_F^T y`` with ``(I + A_F A_F^T) y = b - A_U 1`` (an m x m SPD system, m = 17 DoFs
    in static optimisation, 6 root rows in the contact solve of :mod:`hdys.physics.contact`,
    batched Cholesky), the residual there is ``A a - b = -y`` and the gradient ``g = 2 (a - A^T y)``.

    1. Primal-dual active set (semismooth Newton; Hintermueller, Ito & Kunisch 2003) from the
       unconstrained minimiser: ``L = {a_j - g_j / h_jj < 0}``, ``U = {> 1}``. When the sets repeat, the
       subproblem solution is feasible with correctly signed multipliers, i.e. exactly optimal.
       Typically 3-5 solves.
    2. Frames still cycling after a few iterations (PDAS need not converge for non-M-matrix Hessians, e.g.
       with many saturated muscles) continue with a monotone primal active-set method from the clipped
       iterate: step towards the subproblem solution, stopping at the first bound (added to the working
       set); at a feasible subspace minimiser release the bound with the most negative multiplier, or stop
       when none is below ``-_RELEASE_TOL (1 + ||A_j|| ||y||)``. The objective decreases strictly, so this
       terminates.
    3. Any frame whose ``kkt_residual`` exceeds ``KKT_TOL`` (not seen in practice) is re-solved with BVLS.

    Every per-frame computation is independent of the other frames in the batch, so results do not depend
    on which frames are solved together.
    """
    a_mat = np.ascontiguousarray(a_mat, dtype=float)
    b_vec = np.ascontiguousarray(b_vec, dtype=float)
    if not (np.isfinite(a_mat).all() and np.isfinite(b_vec).all()):
        raise ValueError("static optimisation: non-finite moment arms, forces or torques")
    nt, m, n = a_mat.shape
    eye = np.eye(m)
    col_sq = np.einsum("tmn,tmn->tn", a_mat, a_mat)
    diag_h = 2.0 * (1.0 + col_sq)
    col_norm = np.sqrt(col_sq)
    act = np.zeros((nt, n))
    lo = np.zeros((nt, n), bool)
    up = np.zeros((nt, n), bool)
    primal = np.zeros(nt, bool)
    iters = np.zeros(nt, int)
    idx = np.arange(nt)
    ai_mat, bi = a_mat, b_vec
    for it in range(_MAX_ITERS):
        if idx.size == 0:
            break
        loi, upi, ai, pr, dh = lo[idx], up[idx], act[idx], primal[idx], diag_h[idx]
        free, s, g, y = _subspace_minimiser(ai_mat, bi, loi, upi, eye)
        sa = np.clip(s, 0.0, 1.0)
        # (1) primal-dual active set
        z = s - g / dh
        nlo, nup = z < 0.0, z > 1.0
        pd_done = (nlo == loi).all(1) & (nup == upi).all(1)
        # (2) primal active set, from a feasible ``ai`` with the working set at its bounds
        gtol = _RELEASE_TOL * (1.0 + col_norm[idx] * np.linalg.norm(y, axis=1)[:, None])
        step, plo, pup, pr_done = _primal_step(ai, s, g, sa, free, loi, upi, gtol)
        # frames that PDAS has not settled in _PDAS_ITERS solves switch to (2) from the clipped iterate
        switch = ~pr & ~pd_done & (it >= _PDAS_ITERS)
        done = np.where(pr, pr_done, pd_done)
        prc = pr[:, None]
        act[idx] = np.where(prc, step, sa)
        act[idx[done]] = sa[done]
        lo[idx] = np.where(prc, plo, np.where(switch[:, None], sa <= 0.0, nlo))
        up[idx] = np.where(prc, pup, np.where(switch[:, None], sa >= 1.0, nup))
        primal[idx] = pr | switch
        iters[idx] = it + 1
        idx = idx[~done]
        ai_mat, bi = a_mat[idx], b_vec[idx]
    fallback, kkt = _bvls_fallback(a_mat, b_vec, act, idx)
    return act, BatchedSolveInfo(iters, primal, fallback, kkt)


def solve_activations(moment: np.ndarray, gain: np.ndarray, bias: np.ndarray, tau: np.ndarray,
                      r_opt: np.ndarray | None = None, method: str = "batched") -> np.ndarray:
    """Activations (T, N) from precomputed ``muscle_terms`` and torques (T, 17)."""
    r_opt = reserve_optimal_torques() if r_opt is None else np.asarray(r_opt, float)
    a_mat, b_vec = so_problem(moment, gain, bias, np.asarray(tau, float), r_opt)
    if method == "batched":
        return solve_batched(a_mat, b_vec)[0]
    if method == "bvls":
        return solve_bvls(a_mat, b_vec)
    raise ValueError(f"unknown static optimisation method {method!r}; expected 'batched' or 'bvls'")


def static_optimization(body: RajagopalBody, q: np.ndarray, qd: np.ndarray, tau: np.ndarray,
                        r_opt: np.ndarray | None = None, method: str = "batched") -> StaticOptResult:
    """Solve static optimisation per frame. q, qd: (T, 23) coordinates; tau: (T, 17) ID torques.

    ``method="batched"`` (default) solves all frames at once (``solve_batched``); ``"bvls"`` is the
    per-frame ``scipy.optimize.lsq_linear`` reference. Both reach the same optimum."""
    if method not in ("batched", "bvls"):
        raise ValueError(f"unknown static optimisation method {method!r}; expected 'batched' or 'bvls'")
    moment, gain, bias = muscle_terms(body, q, qd)
    act = solve_activations(moment, gain, bias, tau, r_opt, method)
    force = gain * act + bias
    produced = np.einsum("tdn,tn->td", moment, force)
    reserve = tau - produced
    residual = tau - produced - reserve
    return StaticOptResult(act, reserve, residual, force, muscle_names())


def arm_static_optimization(height_m: float, mass_kg: float, q: np.ndarray, qd: np.ndarray, tau: np.ndarray,
                            method: str = "batched") -> StaticOptResult:
    """Static optimisation of both arms (the same problem as :func:`static_optimization`) with the 24
    ``myofullbody`` shoulder and elbow muscles per side (:mod:`hdys.physics.myoarms`). q, qd, tau: (T, 8) arm
    coordinates, rates and ID torques in ``ARM_COORDINATES`` order (arm_flex, arm_add, arm_rot, elbow_flex;
    right then left). Muscle names are :data:`~hdys.physics.myoarms.ARM_MUSCLE_NAMES`; reserves (T, 8)."""
    q, qd, tau = (np.asarray(x, float) for x in (q, qd, tau))
    if not (q.ndim == 2 and q.shape[1] == 8 and qd.shape == q.shape and tau.shape == q.shape):
        raise ValueError(f"arm static optimisation needs (T, 8) coordinates, rates and torques, got {q.shape}, "
                         f"{qd.shape}, {tau.shape}")
    moment, gain, bias = arm_muscle_terms(q, qd, height_m, mass_kg)
    act = solve_activations(moment, gain, bias, tau, np.full(8, MUSCLE_DOF_RESERVE), method)
    force = gain * act + bias
    reserve = tau - np.einsum("tdn,tn->td", moment, force)
    return StaticOptResult(act, reserve, np.zeros_like(reserve), force, list(ARM_MUSCLE_NAMES))

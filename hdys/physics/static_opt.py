"""Static optimisation (paper Eq. 1) on the Rajagopal body with muscles.

Per frame, with moment arms ``R`` (17 x N, from MuJoCo's ``actuator_moment``) and the muscle model
``F_j = gain_j(l, v) a_j + bias_j(l)`` (MuJoCo's Hill-type FLV curves, ``mju_muscleGain``/``mju_muscleBias``;
MuJoCo's sign convention makes pulling forces negative, ``R`` carries the matching signs), solve

    minimise  sum_j a_j^2 + sum_d (r_d / r_opt_d)^2
    s.t.      R (gain * a + bias) + r = tau,   0 <= a <= 1,

where ``r`` are reserve torques (optimal torque ``r_opt``: 1 N m on muscle-actuated DoFs, i.e. heavily
penalised; large on the lumbar DoFs, which have no muscles and are torque-driven as in Rajagopal's
model). The reserves are unbounded and appear linearly, so substituting ``r = tau - R F(a)`` gives an
equivalent bounded linear least-squares problem in ``a`` alone, solved exactly by
``scipy.optimize.lsq_linear``; the equality constraint then holds by construction.
"""
from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.optimize import lsq_linear

from hdys.physics.bodies import RajagopalBody
from hdys.physics.inverse import rajagopal_state, unconstrained
from hdys.schema import RAJAGOPAL_TORQUE_DOFS

LUMBAR_RESERVE = 500.0  # N m: lumbar coordinates are torque-driven (no muscles), nearly free
MUSCLE_DOF_RESERVE = 1.0  # N m: reserves on muscle-actuated DoFs cost like a fully active muscle per N m


@dataclass
class StaticOptResult:
    """activation (T, N) in [0, 1]; reserve (T, 17) N m; residual (T, 17) N m (tau - R F - reserve);
    force (T, N) muscle forces in N (MuJoCo sign: negative = pulling)."""

    activation: np.ndarray
    reserve: np.ndarray
    residual: np.ndarray
    force: np.ndarray


def muscle_terms(body: RajagopalBody, q: np.ndarray, qd: np.ndarray):
    """Moment arms and force-model terms along a trajectory (RAJAGOPAL_COORDINATES order, (T, 23)).

    Returns ``moment (T, 17, N)`` (d torque / d actuator force on the 17 non-root DoFs),
    ``gain (T, N)`` and ``bias (T, N)`` such that the actuator force is ``gain * a + bias``.
    """
    model = body.model
    data = mujoco.MjData(model)
    nt, nu, nv = q.shape[0], model.nu, model.nv
    qpos, qvel = rajagopal_state(body, q), rajagopal_state(body, qd)
    dense = np.zeros((nu, nv))
    moment = np.empty((nt, 17, nu))
    gain, bias = np.empty((nt, nu)), np.empty((nt, nu))
    dofs = body.coord_qpos[6:]
    with unconstrained(model):
        for i in range(nt):
            data.qpos[:], data.qvel[:] = qpos[i], qvel[i]
            mujoco.mj_fwdPosition(model, data)
            mujoco.mj_fwdVelocity(model, data)
            mujoco.mju_sparse2dense(dense, data.actuator_moment, data.moment_rownnz, data.moment_rowadr,
                                    data.moment_colind)
            moment[i] = dense[:, dofs].T
            for j in range(nu):
                lr, acc0 = model.actuator_lengthrange[j], model.actuator_acc0[j]
                ln, vel = data.actuator_length[j], data.actuator_velocity[j]
                gain[i, j] = mujoco.mju_muscleGain(ln, vel, lr, acc0, model.actuator_gainprm[j, :9])
                bias[i, j] = mujoco.mju_muscleBias(ln, lr, acc0, model.actuator_biasprm[j, :9])
    return moment, gain, bias


def reserve_optimal_torques() -> np.ndarray:
    """(17,) optimal torque of each DoF's reserve actuator."""
    return np.array([LUMBAR_RESERVE if d.startswith("lumbar") else MUSCLE_DOF_RESERVE for d in RAJAGOPAL_TORQUE_DOFS])


def static_optimization(body: RajagopalBody, q: np.ndarray, qd: np.ndarray, tau: np.ndarray,
                        r_opt: np.ndarray | None = None) -> StaticOptResult:
    """Solve static optimisation per frame. q, qd: (T, 23) coordinates; tau: (T, 17) ID torques."""
    if body.model.nu == 0:
        raise ValueError("static optimisation needs a body built with with_muscles=True")
    r_opt = reserve_optimal_torques() if r_opt is None else np.asarray(r_opt, float)
    moment, gain, bias = muscle_terms(body, q, qd)
    nt, n = gain.shape
    act = np.empty((nt, n))
    eye = np.eye(n)
    for i in range(nt):
        a_mat = moment[i] * gain[i][None, :] / r_opt[:, None]  # (17, N)
        b_vec = (tau[i] - moment[i] @ bias[i]) / r_opt
        sol = lsq_linear(np.vstack([eye, a_mat]), np.concatenate([np.zeros(n), b_vec]), bounds=(0.0, 1.0),
                         method="bvls", tol=1e-12)
        act[i] = np.clip(sol.x, 0.0, 1.0)
    force = gain * act + bias
    produced = np.einsum("tdn,tn->td", moment, force)
    reserve = tau - produced
    residual = tau - produced - reserve
    return StaticOptResult(act, reserve, residual, force)

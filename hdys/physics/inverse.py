"""Inverse dynamics with ``mujoco.mj_inverse``, frame by frame.

Contacts, joint limits and equality constraints are disabled while the inverse runs, and the bodies
have no armature, damping or springs, so ``qfrc_inverse = M(q) qacc + C(q, qdot) qdot + G(q)``: the
generalized force that reproduces the given acceleration exactly.

There is **no ground contact model** in this fixture: the root (Rajagopal pelvis coordinates, SMPL free
joint) is driven by whatever generalized force the motion needs. That root force (6 values per frame)
is returned as a residual quality figure; the joint torques are those of a body whose pelvis is held
by an external agent, and they are exact for the recorded kinematics.
"""
from __future__ import annotations

from contextlib import contextmanager

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from hdys.physics.bodies import RajagopalBody, SmplBody
from hdys.physics.rotations import SmplTrajectory

_DISABLE = (mujoco.mjtDisableBit.mjDSBL_CONTACT | mujoco.mjtDisableBit.mjDSBL_LIMIT
            | mujoco.mjtDisableBit.mjDSBL_EQUALITY | mujoco.mjtDisableBit.mjDSBL_CONSTRAINT)


@contextmanager
def unconstrained(model: mujoco.MjModel):
    """Temporarily disable contacts, limits, equalities and constraints on ``model``."""
    old = model.opt.disableflags
    model.opt.disableflags = old | _DISABLE
    try:
        yield model
    finally:
        model.opt.disableflags = old


def inverse_dynamics(model: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, qacc: np.ndarray) -> np.ndarray:
    """Generalized forces (T, nv) that produce ``qacc`` (T, nv) at states ``qpos`` (T, nq), ``qvel`` (T, nv)."""
    data = mujoco.MjData(model)
    out = np.empty((qpos.shape[0], model.nv))
    d_pos, d_vel, d_acc, d_frc = data.qpos, data.qvel, data.qacc, data.qfrc_inverse  # views, fetched once
    with unconstrained(model):
        for i in range(qpos.shape[0]):
            d_pos[:], d_vel[:], d_acc[:] = qpos[i], qvel[i], qacc[i]
            mujoco.mj_inverse(model, data)
            out[i] = d_frc
    return out


# ---------------------------------------------------------------------------------------------------
# Rajagopal


def rajagopal_state(body: RajagopalBody, q: np.ndarray, qd: np.ndarray | None = None, qdd: np.ndarray | None = None):
    """Coordinates in RAJAGOPAL_COORDINATES order (T, 23) -> MuJoCo qpos (T, nq); with ``qd`` (and ``qdd``)
    also qvel (and qacc), the walker knees' coupled joints moving with their knees
    (:meth:`RajagopalBody.state`). On a body with arms, q may carry the ``ARM_COORDINATES`` after the 23
    (T, 31); without them the arms hang (zero)."""
    return body.state(q, qd, qdd)


def rajagopal_forward(body: RajagopalBody, q: np.ndarray, qd: np.ndarray, force: np.ndarray) -> np.ndarray:
    """Forward dynamics on the coordinates: accelerations (T, C) of coordinates ``q``, ``qd`` (T, C) under
    generalized forces ``force`` (T, C) on them, the coupled joints following their drivers.

    With ``P = d qvel / d qd`` and ``a0`` the coupled joints' acceleration at ``qdd = 0`` (``f'' qd^2``),
    ``P^T (M (P qdd + a0) + bias) = force``: ``(P^T M P) qdd = force - P^T ID(q, qd, a0)``."""
    qpos, qvel, a0 = rajagopal_state(body, q, qd, np.zeros_like(np.asarray(qd, float)))
    m = body.model
    data = mujoco.MjData(m)
    out = np.empty(np.shape(q))
    with unconstrained(m):
        for i in range(qpos.shape[0]):
            data.qpos[:], data.qvel[:], data.qacc[:] = qpos[i], qvel[i], a0[i]
            mujoco.mj_inverse(m, data)
            p, mass = coordinate_mass(body, data, q[i])
            out[i] = np.linalg.solve(mass, np.asarray(force[i], float) - data.qfrc_inverse @ p)
    return out


def coordinate_mass(body: RajagopalBody, data: mujoco.MjData, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(P, P^T M P)`` at the state in ``data`` with coordinates ``q`` (C,): ``P = d qvel / d qd`` (nv, C), the
    coupled joints following their drivers, and the coordinates' mass matrix (C, C)."""
    full = np.zeros((body.model.nv, body.model.nv))
    mujoco.mj_fullM(body.model, data, full)
    p = body.coordinate_jacobian(q, np.eye(body.model.nv))
    return p, p.T @ full @ p


def rajagopal_inverse(body: RajagopalBody, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray):
    """Inverse dynamics on Rajagopal coordinates (each (T, 23), RAJAGOPAL_COORDINATES order).

    Returns ``(torque (T, 17), residual (T, 6))``: torques of the 17 non-root DoFs (N m) and the
    generalized forces on the six pelvis coordinates (tilt, list, rotation in N m; tx, ty, tz in N).
    """
    f = inverse_dynamics(body.model, *rajagopal_state(body, q, qd, qdd))
    f = body.coordinate_forces(q, f)[:, :len(body.coord_qpos)]
    return f[:, 6:], f[:, :6]


# ---------------------------------------------------------------------------------------------------
# SMPL


def _quat_wxyz(rot: np.ndarray) -> np.ndarray:
    xyzw = Rotation.from_matrix(rot.reshape(-1, 3, 3)).as_quat()
    return np.concatenate([xyzw[:, 3:], xyzw[:, :3]], axis=1).reshape(rot.shape[:-2] + (4,))


def smpl_state(body: SmplBody, traj: SmplTrajectory) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MuJoCo qpos (T, nq), qvel (T, nv), qacc (T, nv) for an exact SMPL trajectory.

    Free joint: world position, quaternion; world linear velocity/acceleration and body-frame angular
    velocity/acceleration. Ball joints: quaternion of the local rotation, child-frame angular velocity
    and its time derivative (all as MuJoCo defines them).
    """
    m = body.model
    t = traj.pos.shape[0]
    quats = _quat_wxyz(traj.rot)  # (T, 24, 4)
    qpos, qvel, qacc = np.zeros((t, m.nq)), np.zeros((t, m.nv)), np.zeros((t, m.nv))
    qpos[:, :3], qpos[:, 3:7] = traj.pos, quats[:, 0]
    qvel[:, :3], qvel[:, 3:6] = traj.vel, traj.omega[:, 0]
    qacc[:, :3], qacc[:, 3:6] = traj.acc, traj.alpha[:, 0]
    for j in range(23):
        a, d = body.joint_qpos[j], body.joint_dof[j]
        qpos[:, a:a + 4] = quats[:, j + 1]
        qvel[:, d:d + 3] = traj.omega[:, j + 1]
        qacc[:, d:d + 3] = traj.alpha[:, j + 1]
    return qpos, qvel, qacc


def smpl_inverse(body: SmplBody, traj: SmplTrajectory):
    """Inverse dynamics of an SMPL trajectory.

    Returns ``(torque (T, 69), residual (T, 6), qfrc (T, nv))``. ``torque``: the 23 ball-joint torques
    (N m) in the order SMPL_JOINT_NAMES[1:] x (x, y, z), rotated from MuJoCo's child frame into the
    joint's parent frame (the schema's convention; ``tau_parent = R_local tau_child``).
    ``residual``: root force (N, world frame) and root torque (N m, world frame). ``qfrc`` is the raw
    MuJoCo generalized force (child-frame ball torques, body-frame root torque).
    """
    qpos, qvel, qacc = smpl_state(body, traj)
    f = inverse_dynamics(body.model, qpos, qvel, qacc)
    tau_child = np.stack([f[:, d:d + 3] for d in body.joint_dof], axis=1)  # (T, 23, 3)
    tau = np.einsum("tjab,tjb->tja", traj.rot[:, 1:], tau_child).reshape(-1, 69)
    residual = np.concatenate([f[:, :3], np.einsum("tab,tb->ta", traj.rot[:, 0], f[:, 3:6])], axis=1)
    return tau, residual, f

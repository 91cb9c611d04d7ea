"""Rotations and rigid-body kinematics shared by the motion generator, inverse dynamics and the labelling of
recorded SMPL motions: rotations about coordinate axes, Euler chains with their body-frame angular velocity
and acceleration in closed form, and :class:`SmplTrajectory`, exact SMPL kinematics."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

_E = np.eye(3)


def axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about coordinate axis ``axis`` by ``angle`` (...)."""
    c, s = np.cos(angle), np.sin(angle)
    i, j = (axis + 1) % 3, (axis + 2) % 3
    r = np.zeros(angle.shape + (3, 3))
    r[..., axis, axis] = 1
    r[..., i, i], r[..., j, j] = c, c
    r[..., i, j], r[..., j, i] = -s, s
    return r


def rotation_log(r: np.ndarray) -> np.ndarray:
    """Rotation vector (3,) of one rotation matrix ``r`` (3, 3): axis times angle in [0, pi], as scipy's
    ``Rotation.from_matrix(r).as_rotvec()`` for a proper rotation, without its per-call overhead (~20x) for
    the per-frame Gauss-Newton fits that call it thousands of times. ``r = cos I + sin [a]x + (1 - cos) a a^T``:
    the angle from its antisymmetric and trace parts by ``atan2`` (accurate at every angle); near pi, where the
    antisymmetric part vanishes, the axis from the symmetric part less ``cos I``, signed by the antisymmetric
    part."""
    v = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])  # 2 sin(angle) a
    cos = 0.5 * (r[0, 0] + r[1, 1] + r[2, 2] - 1.0)
    sin = 0.5 * float(np.sqrt(v @ v))
    angle = float(np.arctan2(sin, cos))
    if angle < 1e-4:  # angle / (2 sin angle) = 1/2 + angle^2 / 12 + ...
        return v * (0.5 + angle * angle / 12.0)
    if angle < np.pi - 1e-3:
        return v * (0.5 * angle / sin)
    b = 0.5 * (r + r.T) - cos * _E  # (1 - cos) a a^T
    k = int(np.argmax(np.diag(b)))
    axis = b[:, k] / np.linalg.norm(b[:, k])
    return angle * (axis if axis @ v >= 0 else -axis)


def euler_chain(th: np.ndarray, thd: np.ndarray, thdd: np.ndarray, axes: tuple[int, ...] = (0, 1, 2)):
    """R = R_a0(th0) R_a1(th1) R_a2(th2) with body-frame angular velocity and acceleration.

    th, thd, thdd: (..., 3). Returns R (..., 3, 3), omega (..., 3), alpha (..., 3), where
    ``omega = sum_k thd_k u_k`` with ``u_k = (R_{k+1} ... R_n)^T e_k`` and
    ``alpha = sum_k thdd_k u_k + thd_k du_k/dt``, ``du_k/dt = sum_{j>k} thd_j u_k x u_j``.
    """
    rots = [axis_rotation(a, th[..., k]) for k, a in enumerate(axes)]
    r = rots[0] @ rots[1] @ rots[2]
    n = len(axes)
    u = [None] * n
    acc = np.broadcast_to(np.eye(3), th.shape[:-1] + (3, 3))  # (R_{k+1}..R_n)^T
    for k in range(n - 1, -1, -1):
        u[k] = acc @ _E[axes[k]]
        acc = acc @ np.swapaxes(rots[k], -1, -2)
    omega = sum(thd[..., k:k + 1] * u[k] for k in range(n))
    alpha = sum(thdd[..., k:k + 1] * u[k] for k in range(n))
    for k in range(n):
        for j in range(k + 1, n):
            alpha = alpha + thd[..., k:k + 1] * thd[..., j:j + 1] * np.cross(u[k], u[j])
    return r, omega, alpha


@dataclass
class SmplTrajectory:
    """Exact SMPL kinematics. pos/vel/acc: pelvis joint in the world (T, 3); rot: (T, 24, 3, 3), the
    root's global rotation then each joint's rotation relative to its parent; omega/alpha: (T, 24, 3)
    angular velocity / acceleration of each body in its own frame (MuJoCo's ball/free convention)."""

    pos: np.ndarray
    vel: np.ndarray
    acc: np.ndarray
    rot: np.ndarray
    omega: np.ndarray
    alpha: np.ndarray

    def smpl_params(self, pelvis_j0: np.ndarray) -> np.ndarray:
        """(T, 75): transl (pelvis position - template pelvis J0), global orient, 23 axis-angles."""
        t = self.rot.shape[0]
        rotvec = Rotation.from_matrix(self.rot.reshape(-1, 3, 3)).as_rotvec().reshape(t, 72)
        return np.concatenate([self.pos - pelvis_j0, rotvec], axis=1)

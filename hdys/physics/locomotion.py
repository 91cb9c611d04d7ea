"""Planted-foot kinematics: the root translation that makes a body stand and walk on the floor.

The motion generators of :mod:`hdys.physics.motions` prescribe joint angles (and the root's
orientation) analytically; the root *translation* they carry is only a prior. Here it is replaced by
the translation for which the feet stand on the floor (z = 0) without sliding:

1. On a fine time grid (``FINE_HZ``, padded by ``PAD_S`` on both sides) the contact points of both feet
   (:mod:`hdys.physics.contact`) are placed by forward kinematics (``mj_kinematics``) with the root
   translation set to zero: ``p_i(t) = r(t) + d_i(t)``.
2. Stance weights ``w_f``: for cyclic locomotion from the gait phase (``Fourier.gait``: stance from
   heel strike to toe-off, smoothstep blends 4 % of a cycle wide, so double support blends both
   feet); ``both_feet=True`` (squats, sit-to-stand, standing): both always 1; otherwise from the
   height of each foot's lowest point: 1 below ``STANCE_LOW`` (1 cm), 0 above ``STANCE_HIGH`` (4 cm).
3. Vertical: the stance-weighted lowest points of the stance feet touch the floor, and no sole point
   of either foot goes below it: ``r_z = max(-Σ_f w_f min_i d_fi,z / Σ_f w_f, -min_fi d_fi,z)``
   (without gait timing: the lowest sole point of either foot touches the floor).
4. Horizontal: the material sole points of a stance foot must not move: ``r_xy' = -Σ_f w_f c_f'`` /
   ``Σ_f w_f``, where ``c_f' = Σ_i a_i d_i'/Σ_i a_i`` averages the point velocities with weights
   ``a_i = exp(-(z_i - z_min)/1 cm)`` favouring the lowest points (a foot rolling over its heel or its
   toes keeps those still). A small weight ``EPS`` on the prior's velocity carries flight phases.
   ``r_xy`` integrates this from the prior's position at the start of the grid.
5. The root trajectory is low-pass filtered with a cubic smoothing spline of cut-off ``CUTOFF_HZ``
   (6 Hz, the usual cut-off for gait kinematics, Winter D.A. 2009, *Biomechanics and Motor Control of
   Human Movement*, 4th ed., Wiley, ch. 3), whose first and second derivatives give consistent root
   velocity and acceleration. Joint angles keep their analytic derivatives.

Where a stance foot's legs are not consistent with a stationary double support (both feet on the floor
while the leg angles move them relative to each other), both feet slide by half of that relative
motion; the tests bound this slide.
"""
from __future__ import annotations

from typing import Callable

import mujoco
import numpy as np
from scipy.interpolate import make_smoothing_spline

from hdys.physics.bodies import RajagopalBody, SmplBody
from hdys.physics.contact import FootModel, OSIM_TO_ZUP, rajagopal_feet, smpl_feet
from hdys.physics.inverse import rajagopal_state, smpl_state
from hdys.physics.motions import Fourier, SmplTrajectory, smpl_trajectory
from hdys.schema import RAJAGOPAL_COORDINATES

FINE_HZ = 200.0
PAD_S = 0.4
CUTOFF_HZ = 6.0
STANCE_LOW, STANCE_HIGH = 0.01, 0.04  # m
EPS = 1e-3
_TRANS = [RAJAGOPAL_COORDINATES.index(n) for n in ("pelvis_tx", "pelvis_ty", "pelvis_tz")]


def sole_points(model: mujoco.MjModel, feet: FootModel, qpos: np.ndarray) -> np.ndarray:
    """(T, 2, 4, 3) world positions of the contact points, z-up world."""
    data = mujoco.MjData(model)
    out = np.empty((qpos.shape[0], 2, 4, 3))
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, data)
        xm = data.xmat[feet.body].reshape(2, 4, 3, 3)
        out[i] = data.xpos[feet.body] + np.einsum("fpab,fpb->fpa", xm, feet.local)
    return out @ feet.to_zup.T


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def stance_weights(gait: dict, t: np.ndarray, blend: float = 0.04) -> np.ndarray:
    """(T, 2) stance weights [left, right] from the gait timing of a cyclic motion (``Fourier.gait``):
    1 during stance (cycle fraction in [0, duty]), 0 in swing, smoothstep ramps ``blend`` cycles wide
    centred on heel strike and toe-off."""
    out = np.empty((t.shape[0], 2))
    for i, side in enumerate(("left", "right")):
        s = np.mod(gait["freq"] * t + gait["shift"][side] / (2 * np.pi) + 0.5, 1.0) - 0.5  # in [-0.5, 0.5)
        on = _smoothstep((s + blend / 2) / blend)
        s2 = np.mod(s - gait["duty"] + 0.5, 1.0) - 0.5  # relative to toe-off
        off = 1.0 - _smoothstep((s2 + blend / 2) / blend)
        out[:, i] = np.where(s < gait["duty"] / 2, on, off) if gait["duty"] < 1 else 1.0
    return out


class RootPlanter:
    """Solves and smooths the root translation (z-up world) on ``[t_start, t_end]``.

    ``relative_points(t)`` -> (T, 2, 4, 3) sole points with the root translation zeroed;
    ``prior(t)`` -> (r, r') (T, 3) each, the motion's own root translation (z-up)."""

    def __init__(self, relative_points: Callable, prior: Callable, t_start: float, t_end: float,
                 both_feet: bool, gait: dict | None = None, cutoff_hz: float = CUTOFF_HZ):
        h = 1.0 / FINE_HZ
        tf = np.arange(np.floor((t_start - PAD_S) / h), np.ceil((t_end + PAD_S) / h) + 1) * h
        d = relative_points(tf)
        r_prior, v_prior = prior(tf)
        z = d[..., 2]
        rz = -z.min(axis=(1, 2))
        foot_low = z.min(-1) + rz[:, None]  # (T, 2) height of each foot's lowest point
        if both_feet:
            w = np.ones_like(foot_low)
        elif gait is not None:
            w_phase = stance_weights(gait, tf)
            w, rz_floor = w_phase, rz
            for _ in range(3):  # stance feet (weighted) on the floor, no sole point below it
                rz_stance = -(w * z.min(-1)).sum(1) / np.maximum(w.sum(1), 1e-9)
                rz = np.where(w.sum(1) > 1e-6, np.maximum(rz_stance, rz_floor), rz_floor)
                foot_low = z.min(-1) + rz[:, None]  # a stance foot the legs lift off the floor does not count
                w = w_phase * (1.0 - _smoothstep((foot_low - STANCE_LOW) / (STANCE_HIGH - STANCE_LOW)))
        else:
            w = 1.0 - _smoothstep((foot_low - STANCE_LOW) / (STANCE_HIGH - STANCE_LOW))
        a = np.exp(-(z - z.min(-1, keepdims=True)) / 0.01)  # (T, 2, 4)
        dv = np.gradient(d[..., :2], h, axis=0)  # (T, 2, 4, 2)
        c_vel = (a[..., None] * dv).sum(2) / a.sum(2)[..., None]  # (T, 2, 2)
        v_xy = (-(w[..., None] * c_vel).sum(1) + EPS * v_prior[:, :2]) / (w.sum(1) + EPS)[:, None]
        r_xy = r_prior[0, :2] + np.concatenate([np.zeros((1, 2)), np.cumsum(0.5 * h * (v_xy[1:] + v_xy[:-1]), 0)])
        r = np.concatenate([r_xy, rz[:, None]], axis=1)
        lam = h / (2 * np.pi * cutoff_hz) ** 4  # transfer 1 / (1 + (lam/h) w^4): -6 dB at the cut-off
        self.splines = [make_smoothing_spline(tf, r[:, c], lam=lam) for c in range(3)]
        self.t_fine, self.weights, self.raw = tf, w, r

    def __call__(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Root position, velocity, acceleration (T, 3) each, z-up world."""
        return tuple(np.stack([s.derivative(n)(t) if n else s(t) for s in self.splines], axis=1)
                     for n in range(3))


def planted_rajagopal(body: RajagopalBody, motion: Fourier, t_start: float, t_end: float,
                      both_feet: bool) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A function ``t -> (q, qd, qdd)`` (T, 23) of the motion with planted feet on ``[t_start, t_end]``."""
    feet = rajagopal_feet(body)

    def relative(t):
        q = motion(t)[0]
        q[:, _TRANS] = 0.0
        return sole_points(body.model, feet, rajagopal_state(body, q))

    def prior(t):
        q, qd, _ = motion(t)
        return q[:, _TRANS] @ OSIM_TO_ZUP.T, qd[:, _TRANS] @ OSIM_TO_ZUP.T

    planter = RootPlanter(relative, prior, t_start, t_end, both_feet, gait=motion.gait)

    def evaluate(t: np.ndarray):
        q, qd, qdd = motion(t)
        r, rd, rdd = planter(t)
        q[:, _TRANS], qd[:, _TRANS], qdd[:, _TRANS] = r @ OSIM_TO_ZUP, rd @ OSIM_TO_ZUP, rdd @ OSIM_TO_ZUP
        return q, qd, qdd

    evaluate.planter = planter
    return evaluate


def planted_smpl(body: SmplBody, motion: Fourier, t_start: float, t_end: float,
                 both_feet: bool) -> Callable[[np.ndarray], SmplTrajectory]:
    """A function ``t -> SmplTrajectory`` of the SMPL motion with planted feet on ``[t_start, t_end]``."""
    feet = smpl_feet(body)

    def relative(t):
        traj = smpl_trajectory(motion, t)
        traj.pos = np.zeros_like(traj.pos)
        return sole_points(body.model, feet, smpl_state(body, traj)[0])

    def prior(t):
        q, qd, _ = motion(t)
        return q[:, :3], qd[:, :3]

    planter = RootPlanter(relative, prior, t_start, t_end, both_feet, gait=motion.gait)

    def evaluate(t: np.ndarray) -> SmplTrajectory:
        traj = smpl_trajectory(motion, t)
        traj.pos, traj.vel, traj.acc = planter(t)
        return traj

    evaluate.planter = planter
    return evaluate

"""The two bodies as the ground-motion planner sees them: a :class:`Rig` per body, and the poses read from it.

A :class:`Rig` holds what the foot plans (:mod:`hdys.physics.plans`, :mod:`hdys.physics.gait`) and the leg
inverse kinematics (:mod:`hdys.physics.legs`) need of a MuJoCo body: how generator coordinates (a
:class:`hdys.physics.fourier.Fourier`'s columns) become qpos, which joints the IK solves (Rajagopal: hip 3, knee,
ankle, subtalar; SMPL: hip 3, knee flexion, ankle 3) and their limits, the root translation and heading, the
joints that follow a coordinate (the Rajagopal walker knees) and how the whole body is turned by a rotation
(:func:`hdys.physics.flight.spin_correction`).

Each foot is a rigid sole: the four contact points of :mod:`hdys.physics.contact` (:func:`sole_points`, z-up
world; heel pair, then toe pair), laid out as in the neutral pose (:func:`foot_template`: joint angles zero, the
toe joints held at the generator's mean angle; in the facing frame, relative to the whole-body COM).
:func:`com_offset` is the COM's offset from the root translation, from which the IK places the pelvis.

The generators mean the Rajagopal pelvis angles heading first (a tilt is a lean in the facing direction);
OpenSim's pelvis joint turns tilt first. :func:`heading_first` converts the one to the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from hdys.frames import Y_UP_TO_Z_UP
from hdys.physics.bodies import RajagopalBody, SmplBody
from hdys.physics.contact import FootModel, rajagopal_feet, smpl_feet
from hdys.physics.inverse import rajagopal_state, smpl_state
from hdys.physics.smpl_motions import UPRIGHT, smpl_trajectory
from hdys.physics.osim_model import CouplingTable
from hdys.physics.rotations import axis_rotation
from hdys.schema import RAJAGOPAL_COORDINATES, SMPL_JOINT_NAMES


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


def couple(rig: Rig, q: np.ndarray) -> np.ndarray | None:
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
# Poses of a rig


def sole_points(model: mujoco.MjModel, feet: FootModel, qpos: np.ndarray) -> np.ndarray:
    """(T, 2, 4, 3) world positions of the contact points, z-up world."""
    data = mujoco.MjData(model)
    out = np.empty((qpos.shape[0], 2, 4, 3))
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, data)
        out[i] = points(data, feet)
    return out @ feet.to_zup.T


def points(data: mujoco.MjData, feet: FootModel) -> np.ndarray:
    xm = data.xmat[feet.body].reshape(2, 4, 3, 3)
    return data.xpos[feet.body] + np.einsum("fpab,fpb->fpa", xm, feet.local)


def foot_template(rig: Rig, q_mean: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The neutral pose (joint angles zero, toes at ``q_mean``): its sole points (2, 4, 3) in the facing
    frame (x forward, y left, horizontally relative to the whole-body COM; z above the lowest sole
    point), the pelvis height and the COM height above the floor."""
    pts, _, stand_z, com_z = neutral(rig, q_mean)
    return pts, stand_z, com_z


def neutral(rig: Rig, q_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """:func:`foot_template`'s sole points, with the ankle joints (2, 3) in the same frame (``rig.chain``)."""
    q = np.zeros_like(q_mean)
    q[rig.fixed] = q_mean[rig.fixed]
    data = mujoco.MjData(rig.model)
    data.qpos[:] = rig.to_qpos(q[None])[0]
    mujoco.mj_kinematics(rig.model, data)
    mujoco.mj_comPos(rig.model, data)
    unturn = axis_rotation(2, np.array(-rig.yaw_offset)) @ rig.to_zup
    pts = points(data, rig.feet) @ unturn.T
    ankles = data.xpos[rig.chain[:, 2]] @ unturn.T
    com = unturn @ data.subtree_com[0]
    low = pts[..., 2].min()
    for p in (pts, ankles):
        p[..., 2] -= low
        p[..., :2] -= com[:2]
    return pts, ankles, float(-low), float(com[2] - low)


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


def flexion(quat: np.ndarray) -> float:
    """Angle (rad) of a rotation about x given as a unit quaternion (w, x, y, z)."""
    w, x = (quat[0], quat[1]) if quat[0] >= 0 else (-quat[0], -quat[1])
    return float(2 * np.arctan2(x, w))

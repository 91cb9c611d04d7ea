"""The shoulder and elbow muscles of myo-sim's ``myofullbody``, for the arms of hdys's Rajagopal body.

``myofullbody`` (myo-sim 0.2.4, ``myo_sim.load_model("myofullbody")``, 416 muscles) joins ``myolegs``, a
lumbar spine and two MoBL-ARMS arms (Saul KR, Hu X, Goehler CM, Vidt ME, Daly M, Velisar A, Murray WM
(2015), "Benchmarking of dynamic simulation predictions in two software platforms using an upper limb
musculoskeletal model", Computer Methods in Biomechanics and Biomedical Engineering 18(13):1445-1458; muscle
paths and parameters from Holzbaur KRS, Murray WM, Delp SL (2005), Annals of Biomedical Engineering
33(6):829-840). hdys uses, per arm, the :data:`ARM_MUSCLES`: every muscle that crosses the shoulder or the
elbow and neither the wrist nor a finger (hdys's forearm and hand are one rigid body): the deltoid, rotator
cuff, teres major, pectoralis major, latissimus dorsi and coracobrachialis parts, the three triceps heads,
anconeus, both biceps heads, brachialis, brachioradialis and pronator teres. As in :mod:`hdys.physics.myolegs`
only MuJoCo's position stages run (moment arms and force-length-velocity terms).

**Coordinates.** The MoBL-ARMS shoulder is a plane of elevation ``elv_angle``, an elevation
``shoulder_elv`` and an axial rotation ``shoulder_rot`` (with ``shoulder1_r2 = -elv_angle``), and the clavicle
and scapula follow ``shoulder_elv`` through joint equalities (a scapulohumeral rhythm, filled as the myolegs
knee's are). hdys's arm is ``arm_flex``, ``arm_add``, ``arm_rot`` (:data:`hdys.physics.bodies.ARM_COORDINATES`).
Both models' humeri are aligned with their thorax when the arm hangs (checked in tests), so a pose maps by
the humerus' rotation relative to the thorax: per frame, the MoBL shoulder angles whose humerus has the
same rotation as hdys's are found by Gauss-Newton, started from the plane and angle of elevation of the
humerus' long axis and the previous frame's axial rotation; the plane of elevation and the axial rotation are
then kept within one turn. The elevation is kept at least :data:`MIN_ELEVATION` from hanging straight down and
from pointing straight up, where the plane of elevation is undefined (hdys's arms never hang closer than
0.05 rad; :func:`hdys.physics.arm_motions.rajagopal_arms`). The elbows are the same coordinate in both (flexion
positive), clipped to the model's range; the forearm stays in neutral rotation (``pro_sup`` 0: palm facing the
thigh, as hdys's hand). Moment arms then follow from virtual work: with
``A = d(MoBL shoulder angles) / d(hdys shoulder angles) = J_m^-1 J_h`` (``J_m``, ``J_h``: the humerus'
angular velocity relative to the thorax per unit rate of each model's coordinates) the moment arms in hdys's
coordinates are ``A^T`` times those in MoBL's, and the muscle velocities are those of the mapped rates.

**Elbow wrapping.** In myo-sim 0.2.4's ``myofullbody`` three of the arm's elbow wrapping surfaces sit away from
the elbow: ``TRI_cylinder`` (wrapped by the triceps and brachialis) 0.41 m along the humerus' z axis, 5.8 cm off
its axis line, so the brachialis never wraps near extension (moment arm 0.07 cm at full extension) and the
triceps stop wrapping past 1.6 rad; the biceps short head's sphere and the brachioradialis' cylinder 4.5 and
6.8 cm along z. myo-sim's standalone MyoArm (``arm/assets/myoarm_body.xml``, MyoHub/myo_sim commit 2cef885),
converted from the same MoBL-ARMS model, has them at the elbow; :data:`ELBOW_WRAPS` restores its positions (the
left arm mirrored) before the model is compiled. With them the brachialis' moment arm at full extension is
1.44 cm and the triceps' at 2.0 rad 1.93 cm, as in myo-sim's own ``myoelbow`` (1.51 and 1.98 cm) and near
Pigeon et al.'s (1996, J Biomech 29(10):1365-1370) regressions of cadaver data (1.55 cm brachialis at
extension); ``benchmarks/RESULTS.md`` has the table.

**Subject scaling** as for the legs: geometric scale ``k = h / arm_model_height_m`` on moment arms, where
``arm_model_height_m`` is the stature at which de Leva's upper arm (0.2817 m at 1.741 m) equals the model's
shoulder-elbow distance (0.290 m, measured at load); forces ``m / ARM_MODEL_MASS_KG``. Holzbaur et al. scaled
their model to a 50th-percentile male and give no mass; hdys assumes the 75 kg of the generic Rajagopal model
(mass scaling of arm muscle force is an assumption carried over from the legs).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np
from scipy.spatial.transform import Rotation

from hdys.physics.bodies import ARM_AXES, mirror_axis
from hdys.physics.myolegs import JointCouplings, actuation_terms, joint_couplings, silenced
from hdys.physics.rotations import rotation_log

ARM_MUSCLES = ("DELT1", "DELT2", "DELT3", "SUPSP", "INFSP", "SUBSC", "TMIN", "TMAJ", "PECM1", "PECM2", "PECM3",
               "LAT1", "LAT2", "LAT3", "CORB", "TRIlong", "TRIlat", "TRImed", "ANC", "BIClong", "BICshort", "BRA",
               "BRD", "PT")
SIDES = ("r", "l")
ARM_MUSCLE_NAMES = tuple(f"{m}_{s}" for s in SIDES for m in ARM_MUSCLES)  # hdys names, right arm first
MOBL_COORDINATES = ("elv_angle", "shoulder_elv", "shoulder_rot", "elbow_flexion")
HDYS_ARM = ("arm_flex", "arm_add", "arm_rot", "elbow_flex")  # per side, as bodies.ARM_COORDINATES
ARM_MODEL_MASS_KG = 75.0
DE_LEVA_UPPER_ARM = 0.2817 / 1.741  # upper arm length / stature (de Leva 1996, male)
MIN_ELEVATION = 0.05  # rad
_GN_TOL = 1e-10  # rad: rotation mismatch at which the per-frame fit stops
_GN_ITERS = 30
# humerus-frame positions (m) of the elbow wrapping surfaces in myo-sim's standalone MyoArm (module docstring);
# the left arm's are mirrored in z
ELBOW_WRAPS = {"TRI_cylinder": (0.0028, -0.2919, -0.0119),
               "Elbow_BIC_BRD_ellipsoid_BICshort": (0.00286868, -0.290754, -0.0140545),
               "ElbowBICBRD_ellipsoid_wrap": (0.0019, -0.289, -0.014)}


@dataclass(frozen=True)
class MyoArms:
    """``myofullbody`` with the index maps of both arms; N = 48 muscles (:data:`ARM_MUSCLE_NAMES`)."""

    model: mujoco.MjModel
    actuators: np.ndarray  # (48,) actuator ids, ARM_MUSCLE_NAMES order
    max_isometric_force: np.ndarray  # (48,) N, generic model
    coord_qpos: np.ndarray  # (8,) qpos addresses, sides concatenated
    coord_dof: np.ndarray  # (8,)
    coord_range: np.ndarray  # (8, 2)
    couplings: JointCouplings  # scapula, clavicle and shoulder1_r2 (drivers index coord_qpos)
    thorax: int  # body id
    humerus: tuple[int, int]  # body ids per side
    height_m: float  # stature of the generic arm (module docstring)


def _model_name(muscle: str, side: str) -> str:
    return muscle if side == "r" else f"{muscle}_l"


@lru_cache(maxsize=1)
def load_myoarms() -> MyoArms:
    """Load ``myofullbody`` once per process (shared: do not modify the model)."""
    import myo_sim

    with silenced():
        spec = myo_sim.load_spec("myofullbody", build_kwargs={"postures": True})  # as myo_sim.load_model
        try:
            for name, pos in ELBOW_WRAPS.items():
                spec.geom(name).pos = pos
                spec.geom(f"{name}_l").pos = (pos[0], pos[1], -pos[2])
        except AttributeError as e:  # spec.geom returns None for a name it lacks
            raise RuntimeError(f"myofullbody has no elbow wrap geom {name!r}; this myo-sim version is not the one "
                               "hdys was written for (myo-sim==0.2.4)") from e
        model = spec.compile()
    try:
        act = [model.actuator(_model_name(m, s)).id for s in SIDES for m in ARM_MUSCLES]
        joints = np.array([[model.joint(f"{c}_{s}").id for c in MOBL_COORDINATES] for s in SIDES])
        thorax, humerus = model.body("torso").id, (model.body("humerus_r").id, model.body("humerus_l").id)
    except KeyError as e:
        raise RuntimeError(f"myofullbody: {e}; this myo-sim version is not the one hdys was written for "
                           "(myo-sim==0.2.4)") from e
    flat = [int(j) for j in joints.ravel()]
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    upper_arm = np.linalg.norm(data.xanchor[joints[0, 3]] - data.xpos[humerus[0]])
    return MyoArms(model=model, actuators=np.array(act), max_isometric_force=model.actuator_gainprm[act, 2].copy(),
                   coord_qpos=model.jnt_qposadr[flat].copy(),
                   coord_dof=model.jnt_dofadr[flat].copy(), coord_range=model.jnt_range[flat].copy(),
                   couplings=joint_couplings(model, flat), thorax=int(thorax), humerus=humerus,
                   height_m=float(upper_arm / DE_LEVA_UPPER_ARM))


def hdys_humerus(q: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray]:
    """hdys's humerus rotation relative to the torso (T, 3, 3) for ``arm_flex, arm_add, arm_rot`` ``q`` (T, 3)
    of ``side``, and its angular-velocity Jacobian (T, 3, 3) (torso frame, per unit coordinate rate): the
    three hinges of :func:`hdys.physics.bodies.rajagopal_body`, applied in order."""
    axes = [np.asarray(ARM_AXES[n] if side == "r" else mirror_axis(ARM_AXES[n]), float) for n in HDYS_ARM[:3]]
    rot = np.broadcast_to(np.eye(3), (q.shape[0], 3, 3))
    jac = np.empty((q.shape[0], 3, 3))
    for i, a in enumerate(axes):
        jac[:, :, i] = rot @ a
        rot = rot @ Rotation.from_rotvec(q[:, i, None] * a).as_matrix()
    return rot, jac


def _initial_shoulder(rot: np.ndarray, side: str) -> np.ndarray:
    """MoBL (elv_angle, shoulder_elv, shoulder_rot) guess from the long axis of the humerus (torso frame)."""
    down = -rot[:, 1]  # the humerus' distal direction (its -y axis)
    lateral = down[2] if side == "r" else -down[2]
    return np.array([np.arctan2(down[0], lateral), np.arccos(np.clip(-down[1], -1.0, 1.0)), 0.0])


def arm_state(q: np.ndarray, qd: np.ndarray):
    """myofullbody state for hdys arm coordinates ``q``, ``qd`` (T, 8) (``ARM_COORDINATES`` order).

    Returns ``qpos (T, nq)``, ``qvel (T, nv)`` and ``jac (T, nv, 8)``, ``d qpos / d q`` (the shoulder map,
    the elbows and the couplings), with ``qvel = jac @ qd``. The rest of the body stays at the model's
    reference pose.
    """
    arms = load_myoarms()
    m = arms.model
    q, qd = np.array(q, dtype=float, ndmin=2), np.array(qd, dtype=float, ndmin=2)
    if q.shape[1] != 8 or qd.shape != q.shape or not (np.isfinite(q).all() and np.isfinite(qd).all()):
        raise ValueError(f"arm coordinates and rates must be finite with shape (T, 8), got {q.shape}, {qd.shape}")
    nt = q.shape[0]
    # only the elevation and the elbows are bounded: a plane of elevation or an axial rotation past the model's
    # joint range is a pose the arm can take (hdys's ranges differ), and the muscle paths are evaluated there
    lo, hi = np.full(8, -np.inf), np.full(8, np.inf)
    lo[[1, 5]], hi[[1, 5]] = MIN_ELEVATION, np.pi - MIN_ELEVATION
    lo[3::4], hi[3::4] = arms.coord_range[3::4, 0], arms.coord_range[3::4, 1]
    shoulders = [np.arange(4 * s, 4 * s + 3) for s in range(2)]
    target, jac_h = zip(*(hdys_humerus(q[:, 4 * s:4 * s + 3], side) for s, side in enumerate(SIDES)))
    data = mujoco.MjData(m)
    jacr = np.zeros((3, m.nv))
    x = np.zeros(8)  # MoBL coordinates of the current frame, sides concatenated
    qpos, jac = np.empty((nt, m.nq)), np.empty((nt, m.nv, 8))

    def shoulder_jacobian(s: int, dq_dx: np.ndarray) -> np.ndarray:
        """(3, 3) world angular velocity of humerus ``s`` per unit rate of its MoBL shoulder angles."""
        mujoco.mj_jacBody(m, data, None, jacr, arms.humerus[s])
        return jacr @ dq_dx[:, shoulders[s]]

    for t in range(nt):
        x[3::4] = np.clip(q[t, 3::4], lo[3::4], hi[3::4])  # elbows: the same coordinate
        for s, side in enumerate(SIDES):
            # the plane and angle of elevation from this frame's humerus axis, the axial rotation from the
            # previous frame (a warm start alone can wind the plane of elevation round or park the fit at
            # an elevation bound when the pose jumps)
            guess = _initial_shoulder(target[s][t], side)
            guess[2] = x[shoulders[s][2]]
            x[shoulders[s]] = np.clip(guess, lo[shoulders[s]], hi[shoulders[s]])
        for _ in range(_GN_ITERS):  # Gauss-Newton on the humerus rotations
            dq_dx = _pose(arms, data, x)
            thorax = data.xmat[arms.thorax].reshape(3, 3)
            worst = 0.0
            for s in range(2):
                err = rotation_log(thorax @ target[s][t] @ data.xmat[arms.humerus[s]].reshape(3, 3).T
                                   )  # world frame, current -> target
                step = np.linalg.lstsq(shoulder_jacobian(s, dq_dx), err, rcond=1e-8)[0]
                idx = shoulders[s]
                x[idx] = np.clip(x[idx] + step, lo[idx], hi[idx])
                worst = max(worst, float(np.abs(err).max()))
            if worst < _GN_TOL:
                break
        x[[0, 2, 4, 6]] = np.mod(x[[0, 2, 4, 6]] + np.pi, 2 * np.pi) - np.pi  # the same pose, within one turn
        dq_dx = _pose(arms, data, x)
        thorax = data.xmat[arms.thorax].reshape(3, 3)
        dx_dq = np.zeros((8, 8))
        for s in range(2):
            dx_dq[np.ix_(shoulders[s], shoulders[s])] = np.linalg.solve(thorax.T @ shoulder_jacobian(s, dq_dx),
                                                                        jac_h[s][t])
            dx_dq[4 * s + 3, 4 * s + 3] = 1.0
        qpos[t] = data.qpos
        jac[t] = dq_dx @ dx_dq
    return qpos, np.einsum("tvc,tc->tv", jac, qd), jac


def _pose(arms: MyoArms, data: mujoco.MjData, x: np.ndarray) -> np.ndarray:
    """Set ``data`` to the MoBL coordinates ``x`` (8,) with their couplings and run the kinematics (and
    ``mj_comPos``, which body Jacobians need); returns ``d qpos / d x`` (nv, 8)."""
    m = arms.model
    qpos = m.qpos0.copy()[None]
    qpos[0, arms.coord_qpos] = x
    jac = np.zeros((1, m.nv, 8))
    jac[0, arms.coord_dof, np.arange(8)] = 1.0
    arms.couplings.fill(x[None], qpos, jac)
    data.qpos[:] = qpos[0]
    mujoco.mj_kinematics(m, data)
    mujoco.mj_comPos(m, data)
    return jac[0]


def arm_muscle_terms(q: np.ndarray, qd: np.ndarray, height_m: float, mass_kg: float):
    """Moment arms and force terms of the 48 arm muscles for a subject along arm coordinates ``q``, ``qd``
    (T, 8) (``ARM_COORDINATES`` order).

    Returns ``moment (T, 8, 48)`` (d torque / d muscle force in hdys's arm coordinates), ``gain`` and
    ``bias`` (T, 48) with the muscle force ``gain * a + bias`` (N, MuJoCo sign), scaled to the subject.
    """
    if not (height_m > 0 and mass_kg > 0):
        raise ValueError(f"subject scaling needs a positive height and mass, got {height_m} m, {mass_kg} kg")
    arms = load_myoarms()
    qpos, qvel, jac = arm_state(q, qd)
    dense, gain, bias = actuation_terms(arms.model, qpos, qvel, arms.actuators)
    k, force_scale = height_m / arms.height_m, mass_kg / ARM_MODEL_MASS_KG
    return k * (dense @ jac).transpose(0, 2, 1), force_scale * gain, force_scale * bias

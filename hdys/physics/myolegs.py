"""The 80 lower-limb muscles of myo-sim's ``myolegs`` in hdys's Rajagopal coordinates.

``myolegs`` (myo-sim 0.2.4, ``myo_sim.load_model("myolegs")``) is the MuJoCo port of the Rajagopal et al.
2016 full-body model's legs (Rajagopal A, Dembia CL, DeMers MS, Delp DD, Hicks JL, Delp SL, "Full-body
musculoskeletal model for muscle-driven simulation of human gait", IEEE TBME 63(10):2068-2079): 40 muscles
per leg with OpenSim names (``glmax1_r``, ``vaslat_l``, ...), spatial tendons with wrapping surfaces and
MuJoCo's Hill-type muscle model. hdys uses it for moment arms and force-length-velocity terms only; the
inverse dynamics stay on hdys's own Rajagopal body (:mod:`hdys.physics.bodies`), which has the trunk.

**Coordinates.** The 14 leg coordinates of ``RAJAGOPAL_COORDINATES`` (``hip_flexion``, ``hip_adduction``,
``hip_rotation``, ``knee_angle``, ``ankle_angle``, ``subtalar_angle``, ``mtp_angle`` per side) are
myolegs joints of the same names. Checked numerically against hdys's body (tests): every coordinate moves
the distal segments the same way in both models (``mtp_angle``: positive = toes down, as in
``Rajagopal2015.osim``). The knee is a
coupled joint: seven more DoFs per side (tibia translations and rotations, patella) follow ``knee_angle``
through MuJoCo joint equalities ``y - y0 = sum_k c_k (x - x0)^k`` (``eq_data``). They are filled from those
polynomials, so that the pose satisfies the model's own constraints; only the position stages of MuJoCo
run (kinematics, tendons, transmission), so no constraint force (equality, limit, contact) enters. With the coupling Jacobian
``C = d qpos / d q`` (nv x 14: the sign on the independent DoFs, the polynomial slopes on the dependent
ones) the moment arms in hdys's coordinates are ``R = actuator_moment C`` (MuJoCo's ``actuator_moment``
is ``d length / d qpos``; a pulling muscle has negative force, so ``R^T F`` is the joint torque) and the
muscle velocities ``R q̇``. ``knee_angle`` is clipped to the model's range [0, 2.094] rad, where the
coupling polynomials were fitted.

**Force model.** MuJoCo's muscle force is ``F = gain(l, v) a + bias(l)`` (``mju_muscleGain``,
``mju_muscleBias``; ``gain`` <= 0 and ``bias`` <= 0 with MuJoCo's sign). Both come from
``mj_fwdActuation`` run twice per frame (activation 1 and 0), which evaluates those functions for all 80
muscles in C (tests check the equality with ``mju_muscleGain``/``mju_muscleBias``).

**Subject scaling.** The generic model stands ``MYOLEGS_HEIGHT_M`` tall (Rajagopal et al. 2016: 170 cm;
its bones span 1.69 m from the sole of the calcaneus to the vertex of the skull, checked in tests) and
weighs ``MyoLegs.mass_kg`` (its body masses, 75.0 kg). A subject of height ``h`` and mass ``m`` is the
model scaled uniformly by ``k = h / MYOLEGS_HEIGHT_M``: moment arms, muscle-tendon lengths, optimal
lengths and length ranges all scale by ``k`` and velocities by ``k`` (same joint angles and rates), so
MuJoCo's normalised length and velocity, hence the force-length-velocity factors, are those of the
generic model at the same joint state. Maximum isometric forces scale with body mass, ``m / m_ref``:
Handsfield et al. 2014 (Handsfield GG, Meyer CH, Hart JM, Abel MF, Blemker SS, "Relationships of 35 lower
limb muscles to height and body mass quantified using MRI", J Biomech 47(3):631-638) found lower-limb
muscle volumes proportional to height x mass; with fibre lengths proportional to height the
physiological cross-section ``volume / fibre length``, and the force, is proportional to mass. So
``R_subject = k R``, ``gain_subject = (m / m_ref) gain`` and ``bias_subject = (m / m_ref) bias``.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

import mujoco
import numpy as np

from hdys.schema import RAJAGOPAL_COORDINATES

LEG_COORDINATES = RAJAGOPAL_COORDINATES[6:20]  # the 14 muscle-actuated coordinates
MYOLEGS_HEIGHT_M = 1.70  # stature of the generic Rajagopal 2016 model
_REVERSED: tuple[str, ...] = ()  # coordinates whose myolegs axis is opposite to hdys's (none: both are OpenSim's)


@dataclass(frozen=True)
class JointCouplings:
    """MuJoCo joint equalities ``y - y0 = sum_k c_k (x - x0)^k`` whose driver ``x`` is one of a model's
    independent coordinates; D coupled DoFs."""

    qpos: np.ndarray  # (D,) qpos address of each coupled DoF
    dof: np.ndarray  # (D,) its dof address
    driver: np.ndarray  # (D,) index of the driving coordinate among the independent ones
    poly: np.ndarray  # (D, 5) polynomial coefficients c_0..c_4
    ref: np.ndarray  # (D, 2) reference positions (y0, x0)

    def fill(self, x: np.ndarray, qpos: np.ndarray, jac: np.ndarray) -> None:
        """Set the coupled DoFs of ``qpos`` (T, nq) from the independent coordinates' model angles ``x``
        (T, C) and their rows of the coupling Jacobian ``jac`` (T, nv, C), in place."""
        dx = x[:, self.driver] - self.ref[:, 1]  # (T, D)
        powers = dx[..., None] ** np.arange(5)  # (T, D, 5)
        qpos[:, self.qpos] = self.ref[:, 0] + (powers * self.poly).sum(-1)
        jac[:, self.dof, self.driver] = (powers[..., :4] * self.poly[:, 1:] * np.arange(1, 5)).sum(-1)


def joint_couplings(model: mujoco.MjModel, joint_ids: list[int]) -> JointCouplings:
    """The joint equalities of ``model`` driven by one of ``joint_ids`` (the independent coordinates)."""
    eq = [e for e in range(model.neq) if model.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT
          and int(model.eq_obj2id[e]) in joint_ids]
    dep = model.eq_obj1id[eq]
    return JointCouplings(qpos=model.jnt_qposadr[dep].copy(), dof=model.jnt_dofadr[dep].copy(),
                          driver=np.array([joint_ids.index(int(model.eq_obj2id[e])) for e in eq], dtype=int),
                          poly=model.eq_data[eq, :5].copy(),
                          ref=np.stack([model.qpos0[model.jnt_qposadr[dep]],
                                        model.qpos0[model.jnt_qposadr[model.eq_obj2id[eq]]]], axis=1))


@dataclass(frozen=True)
class MyoLegs:
    """The loaded model and its index maps; N = 80 muscles."""

    model: mujoco.MjModel
    muscle_names: tuple[str, ...]  # (N,) actuator order, OpenSim names
    max_isometric_force: np.ndarray  # (N,) N, generic model
    mass_kg: float  # generic model mass
    coord_qpos: np.ndarray  # (14,) qpos address of each LEG_COORDINATES entry
    coord_dof: np.ndarray  # (14,) dof address
    coord_sign: np.ndarray  # (14,) myolegs angle = sign * hdys angle
    knee_range: np.ndarray  # (2,) rad
    knee: JointCouplings  # the knee-coupled DoFs (drivers index LEG_COORDINATES)


@contextmanager
def silenced():
    """myo-sim's model assembly warns about spec prefixes, as Python warnings and through MuJoCo's
    ``mju_warning`` (stderr and a MUJOCO_LOG.TXT in the working directory); both are muted meanwhile."""
    handler = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda msg: None)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        mujoco.set_mju_user_warning(handler)


@lru_cache(maxsize=1)
def load_myolegs() -> MyoLegs:
    """Load ``myolegs`` once per process (shared: do not modify the model)."""
    try:
        import myo_sim
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise ImportError("static optimisation needs myo-sim's myolegs model: pip install myo-sim==0.2.4") from e
    with silenced():
        model = myo_sim.load_model("myolegs")
    jid = [model.joint(n).id for n in LEG_COORDINATES]
    knee = joint_couplings(model, jid)
    others = [e for e in range(model.neq) if model.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT and model.eq_obj2id[e] >= 0]
    if len(others) != len(knee.qpos) or not all(LEG_COORDINATES[d].startswith("knee_angle") for d in knee.driver):
        raise RuntimeError("myolegs: a joint equality is driven by a joint other than knee_angle; "
                           "this myo-sim version is not the one hdys was written for (myo-sim==0.2.4)")
    return MyoLegs(
        model=model, muscle_names=tuple(model.actuator(i).name for i in range(model.nu)),
        max_isometric_force=model.actuator_gainprm[:, 2].copy(), mass_kg=float(model.body_mass.sum()),
        coord_qpos=model.jnt_qposadr[jid].copy(), coord_dof=model.jnt_dofadr[jid].copy(),
        coord_sign=np.array([-1.0 if n in _REVERSED else 1.0 for n in LEG_COORDINATES]),
        knee_range=model.jnt_range[model.joint("knee_angle_r").id].copy(), knee=knee)


def subject_scale(height_m: float, mass_kg: float) -> tuple[float, float]:
    """(geometric scale k, force scale) of a subject against the generic model (module docstring)."""
    if not (height_m > 0 and mass_kg > 0):
        raise ValueError(f"subject scaling needs a positive height and mass, got {height_m} m, {mass_kg} kg")
    return height_m / MYOLEGS_HEIGHT_M, mass_kg / load_myolegs().mass_kg


def coupled_state(q: np.ndarray, qd: np.ndarray | None = None):
    """myolegs state for leg coordinates ``q`` (T, 14) (LEG_COORDINATES order, hdys signs).

    Returns ``qpos (T, nq)``, ``qvel (T, nv)`` (zero if ``qd`` is None) and the coupling Jacobian
    ``jac (T, nv, 14)`` with ``qvel = jac @ qd``. The root stays at the model's reference pose.
    """
    legs = load_myolegs()
    m = legs.model
    q = np.array(q, dtype=float, ndmin=2)
    if q.shape[1] != len(LEG_COORDINATES) or not np.isfinite(q).all():
        raise ValueError(f"leg coordinates must be finite with shape (T, {len(LEG_COORDINATES)}), got {q.shape}")
    qd = np.zeros_like(q) if qd is None else np.asarray(qd, dtype=float)
    knee = [i for i, n in enumerate(LEG_COORDINATES) if n.startswith("knee_angle")]
    q[:, knee] = np.clip(q[:, knee], *legs.knee_range)
    nt = q.shape[0]
    qpos = np.tile(m.qpos0, (nt, 1))
    qpos[:, legs.coord_qpos] = q * legs.coord_sign
    jac = np.zeros((nt, m.nv, len(LEG_COORDINATES)))
    jac[:, legs.coord_dof, np.arange(len(LEG_COORDINATES))] = legs.coord_sign
    legs.knee.fill(q, qpos, jac)  # knee_angle has the same sign in both models
    return qpos, np.einsum("tvc,tc->tv", jac, qd), jac


def actuation_terms(m: mujoco.MjModel, qpos: np.ndarray, qvel: np.ndarray, actuators: np.ndarray | None = None):
    """MuJoCo's muscle terms along states ``qpos`` (T, nq), ``qvel`` (T, nv) of a muscle model ``m``:
    ``moment (T, n, nv)`` (``actuator_moment``, d length / d qpos), ``gain`` and ``bias`` (T, n) with the
    muscle force ``gain * a + bias`` (generic model, MuJoCo sign: ``mj_fwdActuation`` at activation 1 and 0),
    for the ``actuators`` (ids; default all n = nu)."""
    data = mujoco.MjData(m)
    nt, nu = qpos.shape[0], m.nu
    rows = np.arange(nu) if actuators is None else np.asarray(actuators, dtype=int)
    dense = np.zeros((nu, m.nv))
    moment = np.empty((nt, rows.size, m.nv))
    gain, bias = np.empty((nt, rows.size)), np.empty((nt, rows.size))
    ones, zeros = np.ones(nu), np.zeros(nu)
    for i in range(nt):  # position stages only: no constraint (equality, limit, contact) is ever assembled
        data.qpos[:] = qpos[i]
        # the position stages that muscle lengths and moments need (mj_fwdPosition minus inertia/collisions)
        mujoco.mj_kinematics(m, data)
        mujoco.mj_comPos(m, data)
        mujoco.mj_tendon(m, data)
        mujoco.mj_transmission(m, data)
        mujoco.mju_sparse2dense(dense, data.actuator_moment, data.moment_rownnz, data.moment_rowadr,
                                data.moment_colind)
        moment[i] = dense[rows]
        data.actuator_velocity[:] = dense @ qvel[i]
        data.act[:] = ones
        mujoco.mj_fwdActuation(m, data)
        gain[i] = data.actuator_force[rows]
        data.act[:] = zeros
        mujoco.mj_fwdActuation(m, data)
        bias[i] = data.actuator_force[rows]
    return moment, gain - bias, bias


def leg_muscle_terms(q: np.ndarray, qd: np.ndarray, height_m: float, mass_kg: float):
    """Moment arms and force terms of the 80 muscles for a subject, along leg coordinates ``q``, ``qd`` (T, 14).

    Returns ``moment (T, 14, N)`` (``d torque / d force`` in LEG_COORDINATES, = ``(d length / d q)^T``),
    ``gain (T, N)`` and ``bias (T, N)`` such that the muscle force is ``gain * a + bias`` (N, MuJoCo sign).
    """
    qpos, qvel, jac = coupled_state(q, qd)
    dense, gain, bias = actuation_terms(load_myolegs().model, qpos, qvel)
    moment = dense @ jac
    k, force_scale = subject_scale(height_m, mass_kg)
    return k * moment.transpose(0, 2, 1), force_scale * gain, force_scale * bias

"""Physics checks of a generated corpus (issue 3, section 3): ``validate_corpus_physics`` -> ``validation.json``.

Per domain, from the sequences and the state/quality arrays the fixture keeps in ``Sequence.extra``
(``mj_qpos``, ``mj_qvel``, ``root_residual``, ``contact_residual``, ``contact_point_force``, ``reserve``):

* ``residual``: the root force (and moment) the ground forces cannot explain, in % of body weight
  (moment: % of body weight x height), mean / 95th percentile / max over frames;
* ``walking_grf_peak``: per walking sequence and foot, the peak vertical GRF in body weights
  (normative walking: about 1.0-1.3 BW, rising with speed, e.g. Winter 2009); ``running_grf_peak`` the same for running
  (slow running: about 2-3 BW, Cavanagh P.R. & Lafortune M.A. 1980, J Biomech 13:397-406);
  ``jump_grf_peak``: per countermovement jump with a flight, the peak vertical GRF of both feet together
  (the landing: about 3-5 BW after a maximal jump, e.g. McMahon et al. 2018, Strength Cond J 40(4):96-106);
* ``stance_slide``: per contact run of a sole point, its largest horizontal displacement (m);
* ``activation`` / ``reserve``: range of the static-optimisation activations and reserve torques;
  ``arm_reserve`` (``emg``): the arms' reserve torques (:func:`hdys.physics.static_opt.arm_static_optimization`);
* ``forward``: from recorded states, forward-simulate ``k = round(HORIZON_S * fps)`` frames (RK4, 4
  sub-steps per frame, forces from a cubic spline over the frames; contacts, limits and equalities off)
  with ``qfrc_applied`` from the exported labels: joint torques (SMPL: rotated back to MuJoCo's child
  frame), ``Σ Jᵀ f`` of the contact point forces, and for one run the root residual wrench. Errors: root
  translation (m) and RMS joint rotation (rad) after ``k`` frames, toes excluded (their tiny inertia
  diverges open-loop within milliseconds). Two runs per start frame:

  - ``with_residual`` (torques + contact forces + residual): labels and residual add up to the inverse
    dynamics' generalized force exactly (float32 rounding of the torques aside), so what is left is
    integration error (it falls as dt²). The tolerances (1 mm, 5 mrad, medians) sit above it and far
    below what a wrong label does (a flipped knee torque, SMPL torques left in the child frame:
    ``tests/physics/test_validation.py``). This run tests the labels' consistency (frames, signs,
    Jacobians, units).
  - ``labels_only`` (torques + contact forces): the motion's dynamic consistency with its labels. The
    unexplained residual makes it drift by ``δq ≈ ∫₀ᴴ (H - s) M⁻¹ Q_res ds`` (reported as
    ``error_over_residual_prediction``). The tolerance is the drift of the tolerated residual, per start frame:
    ``½ H² (σ(B_F) F_tol + σ(B_M) M_tol)`` with ``F_tol`` = 10 % body weight, ``M_tol`` = ``F_tol`` x
    height, ``B_F``, ``B_M`` the root/joint rows of ``M⁻¹ Jᵀ`` at the root (worst direction,
    :func:`residual_drift`); ``drift_ratio`` = error / that, passed when its median is at most 1.

  The horizon is a time (``HORIZON_S`` = 50 ms) so that domains at different frame rates are compared
  over the same physical time (drifts grow as H²; open-loop SMPL runs diverge beyond ~0.1 s).
* ``standing`` (top level): a quiet-standing sequence for each body through the same pipeline; its
  vertical GRF must equal body weight.

Each check carries ``passed`` against the tolerances in :data:`TOLERANCES`; the report's top-level
``passed`` is their conjunction. Sequences without the ``extra`` arrays (e.g. read back from a store)
are skipped by the checks that need them.
"""
from __future__ import annotations

import logging

import mujoco
import numpy as np
from scipy.interpolate import CubicSpline

from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.contact import (G, rajagopal_contact_dynamics, rajagopal_feet, smpl_contact_dynamics, smpl_feet,
                                  stance_slides)
from hdys.physics.inverse import coordinate_mass, rajagopal_forward, unconstrained
from hdys.schema import Sequence

log = logging.getLogger(__name__)

TOLERANCES = {
    "residual_force_mean_pct_bw": 10.0,  # mean root residual force, % body weight
    "walking_grf_peak_median_bw": (0.9, 1.5),  # tolerant range around the normative 1.0-1.3 (to 1.8 m/s)
    "running_grf_peak_median_bw": (1.8, 3.0),  # slow running: about 2-3 (Cavanagh & Lafortune 1980)
    "jump_grf_peak_median_bw": (2.5, 5.5),  # countermovement-jump landings: about 3-5 (both feet together)
    "stance_slide_p95_m": 0.02,
    "activation_range": (0.0, 1.0),
    "reserve_rms_nm": 5.0,
    "forward_with_residual_root_m": 1e-3,  # median after HORIZON_S; see the module docstring
    "forward_with_residual_joint_rad": 5e-3,
    "forward_labels_drift_ratio": 1.0,  # median labels-only error / drift of a tolerated residual wrench
    "standing_grf_rel_error": 0.01,
}
HORIZON_S = 0.05  # forward-simulation horizon: 5 frames at 100 fps, 2 at 30 or 50 fps


def horizon_frames(horizon_s: float, fps: float) -> int:
    """The forward check's ``k``: frames in ``horizon_s`` (at least 1)."""
    return max(1, int(round(horizon_s * fps)))


def _stats(x) -> dict:
    x = np.asarray(x, float).ravel()
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0}
    return {"n": int(x.size), "mean": float(x.mean()), "median": float(np.median(x)),
            "p95": float(np.percentile(x, 95)), "min": float(x.min()), "max": float(x.max())}


def _body_for(seq: Sequence):
    """(model, feet, kind) rebuilt from the subject's height and mass (dynamics do not depend on markers)."""
    if seq.joint_angles is not None or seq.torque_rajagopal is not None or seq.muscle_activation is not None:
        b = rajagopal_body(seq.height_m, seq.mass_kg)
        return b, rajagopal_feet(b), "rajagopal"
    b = smpl_body(seq.height_m, seq.mass_kg)
    return b, smpl_feet(b), "smpl"


def _sole_points(model, feet, qpos):
    from hdys.physics.locomotion import sole_points
    return sole_points(model, feet, qpos)


def _joint_generalized(seq: Sequence, body, kind: str, qpos: np.ndarray) -> np.ndarray:
    """Exported joint torques -> MuJoCo generalized forces (T, nv), root rows zero."""
    out = np.zeros((qpos.shape[0], body.model.nv))
    if kind == "rajagopal":
        tau = seq.torque_rajagopal if seq.torque_rajagopal is not None else seq.extra.get("torque_rajagopal")
        out[:, body.coord_qpos[6:]] = tau
        return out
    for j, (a, d) in enumerate(zip(body.joint_qpos, body.joint_dof)):
        q = qpos[:, a:a + 4]
        rot = np.empty((q.shape[0], 9))
        for i in range(q.shape[0]):
            mujoco.mju_quat2Mat(rot[i], q[i])
        rot = rot.reshape(-1, 3, 3)
        out[:, d:d + 3] = np.einsum("tba,tb->ta", rot, seq.torque_smpl[:, 3 * j:3 * j + 3])  # R^T tau_parent
    return out


def contact_generalized(model, feet, qpos: np.ndarray, point_force: np.ndarray) -> np.ndarray:
    """``Σ_j J_jᵀ f_j`` (T, nv) of contact point forces (T, 2, 4, 3, z-up world) at the recorded states."""
    data = mujoco.MjData(model)
    out = np.zeros((qpos.shape[0], model.nv))
    jac = np.zeros((3, model.nv))
    force_model = point_force @ feet.to_zup  # z-up -> model world (row vectors)
    for i in range(qpos.shape[0]):
        if not force_model[i].any():
            continue
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        for f in range(2):
            for p in range(4):
                if force_model[i, f, p].any():
                    b = feet.body[f, p]
                    x = data.xpos[b] + data.xmat[b].reshape(3, 3) @ feet.local[f, p]
                    mujoco.mj_jac(model, data, jac, None, x, b)
                    out[i] += jac.T @ force_model[i, f, p]
    return out


def residual_generalized(model, feet, qpos: np.ndarray, wrench: np.ndarray) -> np.ndarray:
    """Root residual world wrenches (T, 6: force N, moment N m about the root origin, z-up world, as
    ``ContactDynamics.root_residual``) -> generalized forces (T, nv) ``J6ᵀ (F, M)`` at the recorded states."""
    data = mujoco.MjData(model)
    out = np.zeros((qpos.shape[0], model.nv))
    jacp, jacr = np.zeros((3, model.nv)), np.zeros((3, model.nv))
    rot = feet.to_zup.T  # z-up -> model world
    for i in range(qpos.shape[0]):
        data.qpos[:] = qpos[i]
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_jac(model, data, jacp, jacr, data.xpos[feet.root_body], feet.root_body)
        out[i] = jacp.T @ (rot @ wrench[i, :3]) + jacr.T @ (rot @ wrench[i, 3:])
    return out


def _compared_dofs(model, feet, body=None) -> tuple[np.ndarray, np.ndarray]:
    """(root translation DoFs, joint DoFs without the root, the toes and the joints that follow a coordinate)."""
    toes = np.concatenate([np.arange(model.body_dofadr[b], model.body_dofadr[b] + model.body_dofnum[b])
                           for b in np.unique(feet.body[:, 2:])])
    coupled = _coupled(body)
    coupled = np.zeros(0, int) if coupled is None else coupled
    return feet.root_dofs[:3], np.setdiff1d(np.arange(model.nv), np.concatenate([feet.root_dofs, toes, coupled]))


def _errors(model, feet, dq: np.ndarray, body=None) -> tuple[float, float]:
    root_t, joints = _compared_dofs(model, feet, body)
    return float(np.linalg.norm(dq[root_t])), float(np.sqrt(np.mean(dq[joints] ** 2)))


def _coupled(body) -> np.ndarray | None:
    """DoF addresses of the joints that follow a coordinate (a Rajagopal body's walker knees), or None."""
    addr = getattr(body, "coupled_qpos", None)
    return addr if addr is not None and addr.size else None


def forward_check(model, feet, qpos, qvel, gen, fps: float, start: int, k: int,
                  substeps: int = 4, body=None) -> tuple[float, float]:
    """Simulate ``k`` frames from frame ``start`` with generalized forces ``gen`` (T, nv) as
    ``qfrc_applied``; returns (root translation error m, RMS joint-rotation error rad, toe joints
    excluded) against the recorded ``qpos[start + k]``.

    Classical RK4 (``substeps`` per frame; positions advanced with ``mj_integratePos``, so free and ball
    joints stay on the quaternion manifold) with ``gen`` evaluated at every stage's own time through a
    cubic spline over the frames. (``mj_step`` would hold ``qfrc_applied`` constant over a step, a
    first-order error: 5e-6 m after 5 frames at 100 fps where this gives 1e-7 m or less.)

    ``body``: a Rajagopal body whose walker knees carry joints that follow a coordinate; the simulation then
    runs on its coordinates (:func:`hdys.physics.inverse.rajagopal_forward`), ``gen`` projected onto them at
    the recorded states by virtual work.
    """
    t0, t1 = max(start - 2, 0), min(start + k + 3, qpos.shape[0])  # the frames around the window
    data = mujoco.MjData(model)
    h = 1.0 / (fps * substeps)
    reduced = _coupled(body) is not None
    if reduced:
        coords = body.coordinate_qpos
        frames = np.arange(t0, t1)
        force = CubicSpline(frames, body.coordinate_forces(qpos[frames][:, coords], gen[frames]), axis=0)

        def acc(q, v, u):
            return rajagopal_forward(body, q[None], v[None], force(u)[None])[0]

        def moved(q, v, dt):
            return q + v * dt
    else:
        force = CubicSpline(np.arange(t0, t1), gen[t0:t1], axis=0)

        def acc(q, v, u):
            data.qpos[:], data.qvel[:], data.qfrc_applied[:] = q, v, force(u)
            mujoco.mj_forward(model, data)
            return data.qacc.copy()

        def moved(q, v, dt):
            out = q.copy()
            mujoco.mj_integratePos(model, out, v, dt)
            return out

    old_warning = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda msg: log.debug("mujoco (forward check): %s", msg))  # diverged runs
    old_flags = model.opt.disableflags  # show as large errors
    model.opt.disableflags = old_flags | int(mujoco.mjtDisableBit.mjDSBL_ACTUATION)
    q, v = qpos[start].copy(), qvel[start].copy()
    if reduced:
        q, v = q[coords], v[coords]
    try:
        with unconstrained(model):
            for s in range(k * substeps):
                u, du = start + s / substeps, 1.0 / substeps
                a1 = acc(q, v, u)
                v2 = v + 0.5 * h * a1
                a2 = acc(moved(q, v, 0.5 * h), v2, u + 0.5 * du)
                v3 = v + 0.5 * h * a2
                a3 = acc(moved(q, v2, 0.5 * h), v3, u + 0.5 * du)
                v4 = v + h * a3
                a4 = acc(moved(q, v3, h), v4, u + du)
                q = moved(q, (v + 2 * v2 + 2 * v3 + v4) / 6, h)
                v = v + h * (a1 + 2 * a2 + 2 * a3 + a4) / 6
    finally:
        model.opt.disableflags = old_flags
        mujoco.set_mju_user_warning(old_warning)
    dq = np.zeros(model.nv)
    mujoco.mj_differentiatePos(model, dq, 1.0, qpos[start + k], body.state(q[None])[0] if reduced else q)
    return _errors(model, feet, dq, body)


def _solve_mass(model, data, body, rhs: np.ndarray) -> np.ndarray:
    """``M^-1 rhs`` (R, nv) at the state in ``data``; on a body with coupled joints the coordinates' mass
    matrix is inverted and the result mapped back to all DoFs (``P (P^T M P)^-1 P^T rhs``)."""
    out = np.zeros_like(rhs)
    if _coupled(body) is None:
        mujoco.mj_solveM(model, data, out, rhs)
        return out
    p, mass = coordinate_mass(body, data, data.qpos[body.coordinate_qpos])
    return (p @ np.linalg.solve(mass, p.T @ rhs.T)).T


def residual_drift(model, feet, qpos, res_gen: np.ndarray, fps: float, start: int, k: int,
                   force_n: float, moment_nm: float, body=None) -> tuple[tuple[float, float], tuple[float, float]]:
    """What leaving out the root residual does over ``k`` frames from ``start``, linearised about the
    recorded states: ``δq = ∫₀ᴴ (H - s) M⁻¹(s) Q_res(s) ds`` (H = k / fps).

    Returns ``(predicted, tolerated)``, each (root translation m, RMS joint rad): ``predicted`` from the
    recorded residual ``res_gen`` (T, nv); ``tolerated``: ``½ H² (σ(B_F) force_n + σ(B_M) moment_nm)``,
    the drift a constant root wrench of that size in its worst direction would cause, with ``B_F``,
    ``B_M`` the rows of ``M⁻¹ J_tᵀ``, ``M⁻¹ J_rᵀ`` (start state, root origin) for the root translation,
    resp. the joints (then divided by √(number of joints)), ``σ`` the largest singular value. ``M⁻¹`` is
    the whole body's: the joints keep their recorded torques, so a residual accelerates the root much
    more than ``force / mass`` suggests (the pelvis turns about the hips, the limbs do not follow).
    """
    data = mujoco.MjData(model)
    root_t, joints = _compared_dofs(model, feet, body)
    m_inv_q = np.zeros((k + 1, model.nv))
    jac = np.zeros((6, model.nv))
    b = np.zeros((6, model.nv))
    for j in range(k + 1):
        data.qpos[:], data.qvel[:] = qpos[start + j], 0.0
        mujoco.mj_forward(model, data)
        m_inv_q[j:j + 1] = _solve_mass(model, data, body, res_gen[start + j:start + j + 1])
        if j == 0:
            mujoco.mj_jac(model, data, jac[:3], jac[3:], data.xpos[feet.root_body], feet.root_body)
            b[:] = _solve_mass(model, data, body, jac)  # rows: M⁻¹ Jᵀ e_i, forces then moments
    horizon = k / fps
    s = np.linspace(0.0, k, 8 * k + 1)
    acc = np.stack([np.interp(s, np.arange(k + 1), m_inv_q[:, c]) for c in range(model.nv)], axis=1)
    dq = np.trapz((horizon - s / fps)[:, None] * acc, s / fps, axis=0)

    def bound(dofs):
        sigma_f, sigma_m = np.linalg.norm(b[:3, dofs], 2), np.linalg.norm(b[3:, dofs], 2)
        return 0.5 * horizon ** 2 * (force_n * sigma_f + moment_nm * sigma_m)

    return _errors(model, feet, dq, body), (float(bound(root_t)), float(bound(joints) / np.sqrt(joints.size)))


def standing_check(height_m: float = 1.75, mass_kg: float = 75.0, seconds: float = 1.0, fps: float = 100.0) -> dict:
    """Quiet standing (neutral pose, both feet planted) through the foot planner + contact-aware ID, both bodies:
    vertical GRF / body weight, residual force in % BW, and whether both feet are in contact."""
    from hdys.physics.fixture import smpl_standing_height, standing_pelvis_height
    from hdys.physics.locomotion import ground_rajagopal, ground_smpl
    from hdys.physics.fourier import Fourier

    t = np.arange(int(seconds * fps)) / fps
    out = {}
    mg = mass_kg * G
    raj = rajagopal_body(height_m, mass_kg)
    mean = np.zeros(23)
    mean[4] = standing_pelvis_height(raj)
    still = Fourier(mean, np.zeros(23), np.zeros((23, 1)), np.ones((23, 1)), np.zeros((23, 1)))
    q, qd, qdd = ground_rajagopal(raj, still, 0.0, t[-1])(t)
    _, res = rajagopal_contact_dynamics(raj, q, qd, qdd)
    out["rajagopal"] = res
    smpl = smpl_body(height_m, mass_kg)
    mean = np.zeros(75)
    mean[2] = smpl_standing_height(smpl)
    still = Fourier(mean, np.zeros(75), np.zeros((75, 1)), np.ones((75, 1)), np.zeros((75, 1)))
    traj = ground_smpl(smpl, still, 0.0, t[-1])(t)
    _, res = smpl_contact_dynamics(smpl, traj)
    out["smpl"] = res
    report = {}
    for name, res in out.items():
        fz = res.grf[..., 2].sum(1) / mg
        rel = float(np.abs(fz - 1.0).max())
        report[name] = {"grf_bw_mean": float(fz.mean()), "grf_rel_error_max": rel,
                        "residual_force_pct_bw_max": float(np.linalg.norm(res.root_residual[:, :3], axis=1).max()
                                                           / mg * 100),
                        "both_feet_contact": bool(res.contact.all()),
                        "passed": rel <= TOLERANCES["standing_grf_rel_error"] and bool(res.contact.all())}
    report["passed"] = all(r["passed"] for r in report.values())
    return report


def _forward_report(full: np.ndarray, labels: np.ndarray, predicted: np.ndarray, tolerated: np.ndarray,
                    horizon_s: float, frames: list[int]) -> dict:
    """The ``forward`` entry: with-residual and labels-only errors (each (N, 2): root m, joint rad)."""
    if not len(full):
        return {"horizon_s": horizon_s, "frames": frames, "passed": False}
    ok_full = (float(np.median(full[:, 0])) <= TOLERANCES["forward_with_residual_root_m"]
               and float(np.median(full[:, 1])) <= TOLERANCES["forward_with_residual_joint_rad"])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio, explained = labels / tolerated, labels / predicted
    ok_labels = bool(np.median(ratio, axis=0).max() <= TOLERANCES["forward_labels_drift_ratio"])
    return {"horizon_s": horizon_s, "frames": frames,
            "with_residual": {"root_error_m": _stats(full[:, 0]), "joint_error_rad": _stats(full[:, 1]),
                              "passed": ok_full},
            "labels_only": {"root_error_m": _stats(labels[:, 0]), "joint_error_rad": _stats(labels[:, 1]),
                            "tolerated_drift_root_m": _stats(tolerated[:, 0]),
                            "tolerated_drift_joint_rad": _stats(tolerated[:, 1]),
                            "drift_ratio_root": _stats(ratio[:, 0]), "drift_ratio_joint": _stats(ratio[:, 1]),
                            "error_over_residual_prediction_root": _stats(explained[:, 0]),
                            "error_over_residual_prediction_joint": _stats(explained[:, 1]),
                            "passed": ok_labels},
            "passed": bool(ok_full and ok_labels)}


def _residual_check(with_state: list[Sequence]) -> dict:
    """``residual``: the root force (and moment) the ground forces cannot explain, in % of body weight."""
    if not with_state:
        return {}
    f_pct = np.concatenate([np.linalg.norm(s.extra["root_residual"][:, :3], axis=1) / (s.mass_kg * G) * 100
                            for s in with_state])
    m_pct = np.concatenate([np.linalg.norm(s.extra["root_residual"][:, 3:], axis=1)
                            / (s.mass_kg * G * s.height_m) * 100 for s in with_state])
    by_motion = {}
    for s in with_state:
        by_motion.setdefault(s.extra.get("motion", "?"), []).append(
            np.linalg.norm(s.extra["root_residual"][:, :3], axis=1) / (s.mass_kg * G) * 100)
    ok = float(f_pct.mean()) <= TOLERANCES["residual_force_mean_pct_bw"]
    return {"residual": {"force_pct_bw": _stats(f_pct), "moment_pct_bw_height": _stats(m_pct),
                         "force_pct_bw_mean_by_motion": {m: float(np.concatenate(v).mean())
                                                         for m, v in sorted(by_motion.items())},
                         "contact_solver_residual": _stats(np.concatenate(
                             [s.extra["contact_residual"] for s in with_state])),
                         "passed": ok}}


def _grf_peak_checks(seqs: list[Sequence]) -> dict:
    """``walking_grf_peak_bw``, ``running_grf_peak_bw``, ``jump_grf_peak_bw``: peak vertical GRF in body weights."""
    out = {}
    for motion, name in (("walk", "walking"), ("run", "running")):
        gait = [s for s in seqs if s.grf is not None and s.extra.get("motion") == motion]
        if gait:
            peaks = [s.grf[:, f, 2].max() / (s.mass_kg * G) for s in gait for f in range(2)
                     if s.contact[:, f].any()]
            lo, hi = TOLERANCES[f"{name}_grf_peak_median_bw"]
            ok = bool(peaks) and lo <= float(np.median(peaks)) <= hi
            out[f"{name}_grf_peak_bw"] = {**_stats(peaks), "passed": ok}
    jumps = [s for s in seqs if s.grf is not None and s.extra.get("motion") == "cmj"]
    landed = [s for s in jumps if (~s.contact.any(1)).any() and s.contact.any(1).any()]  # with a flight
    if landed:
        peaks = [s.grf[..., 2].sum(1).max() / (s.mass_kg * G) for s in landed]
        lo, hi = TOLERANCES["jump_grf_peak_median_bw"]
        ok = lo <= float(np.median(peaks)) <= hi
        out["jump_grf_peak_bw"] = {**_stats(peaks), "passed": ok}
    return out


def _muscle_checks(seqs: list[Sequence]) -> dict:
    """``activation``, ``reserve`` and ``arm_reserve``: the static optimisation's activations and reserves."""
    out = {}
    if seqs[0].muscle_activation is not None:
        a = np.concatenate([s.muscle_activation.ravel() for s in seqs])
        lo, hi = TOLERANCES["activation_range"]
        ok = bool(a.min() >= lo - 1e-6 and a.max() <= hi + 1e-6)
        out["activation"] = {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()), "passed": ok}
        res = [s.extra["reserve"] for s in seqs if "reserve" in s.extra]
        if res:
            r = np.concatenate(res)
            lumbar = slice(14, 17)  # lumbar DoFs are torque-driven by design (no muscles)
            rms = float(np.sqrt(np.mean(np.delete(r, np.r_[lumbar], axis=1) ** 2)))
            ok = rms <= TOLERANCES["reserve_rms_nm"]
            out["reserve"] = {"rms_nm_muscle_dofs": rms, "max_abs_nm_muscle_dofs":
                              float(np.abs(np.delete(r, np.r_[lumbar], axis=1)).max()), "passed": ok}
    arm = [s.extra["arm_reserve"] for s in seqs if "arm_reserve" in s.extra]
    if arm:  # emg: the arms' static optimisation (all 8 arm DoFs are muscle-actuated)
        r = np.concatenate(arm)
        rms = float(np.sqrt(np.mean(r ** 2)))
        ok = rms <= TOLERANCES["reserve_rms_nm"]
        out["arm_reserve"] = {"rms_nm": rms, "max_abs_nm": float(np.abs(r).max()),
                              "frames_over_1nm": float((np.abs(r).max(1) > 1.0).mean()), "passed": ok}
    return out


def _forward_runs(s: Sequence, rng: np.random.Generator, horizon_s: float, starts_per_sequence: int):
    """One sequence's stance slides and, from up to ``starts_per_sequence`` start frames drawn from ``rng``,
    its forward errors with and without the residual, the drift the residual predicts and the drift tolerated:
    ``(slides, full, labels, predicted, tolerated)``, lists."""
    full, labels, predicted, tolerated = [], [], [], []
    body, feet, kind = _body_for(s)
    qpos, qvel = s.extra["mj_qpos"], s.extra["mj_qvel"]
    slides = stance_slides(_sole_points(body.model, feet, qpos), s.extra["contact_point_force"]).tolist()
    gen = _joint_generalized(s, body, kind, qpos) + contact_generalized(
        body.model, feet, qpos, s.extra["contact_point_force"])
    res_gen = residual_generalized(body.model, feet, qpos, s.extra["root_residual"])
    n, k = qpos.shape[0], horizon_frames(horizon_s, s.fps)
    force_tol = TOLERANCES["residual_force_mean_pct_bw"] / 100 * s.mass_kg * G
    moment_tol = force_tol * s.height_m
    if n > k + 1:
        for start in rng.choice(n - k, size=min(starts_per_sequence, n - k), replace=False):
            full.append(forward_check(body.model, feet, qpos, qvel, gen + res_gen, s.fps, int(start), k,
                                      body=body))
            labels.append(forward_check(body.model, feet, qpos, qvel, gen, s.fps, int(start), k,
                                        body=body))
            pred, tol = residual_drift(body.model, feet, qpos, res_gen, s.fps, int(start), k,
                                       force_tol, moment_tol, body=body)
            predicted.append(pred)
            tolerated.append(tol)
    return slides, full, labels, predicted, tolerated


def _forward_checks(with_state: list[Sequence], rng: np.random.Generator, horizon_s: float,
                    starts_per_sequence: int, max_forward_sequences: int) -> dict:
    """``stance_slide_m`` and ``forward`` over up to ``max_forward_sequences`` sequences drawn from ``rng``."""
    dyn = [s for s in with_state if "contact_point_force" in s.extra
           and (s.torque_rajagopal is not None or s.torque_smpl is not None)]
    if not dyn:
        return {}
    slides, full, labels, predicted, tolerated = [], [], [], [], []
    pick = rng.permutation(len(dyn))[:max_forward_sequences]
    for idx in pick:
        parts = _forward_runs(dyn[idx], rng, horizon_s, starts_per_sequence)
        for acc, part in zip((slides, full, labels, predicted, tolerated), parts):
            acc += part
    ok = bool(slides) and float(np.percentile(slides, 95)) <= TOLERANCES["stance_slide_p95_m"]
    forward = _forward_report(np.array(full).reshape(-1, 2), np.array(labels).reshape(-1, 2),
                              np.array(predicted).reshape(-1, 2), np.array(tolerated).reshape(-1, 2),
                              horizon_s, sorted({horizon_frames(horizon_s, s.fps) for s in dyn}))
    return {"stance_slide_m": {**_stats(slides), "passed": ok}, "forward": forward}


def validate_corpus_physics(sequences: list[Sequence], horizon_s: float = HORIZON_S, starts_per_sequence: int = 3,
                            max_forward_sequences: int = 20, seed: int = 0) -> dict:
    """JSON-able physics report of a generated corpus, per domain, with a top-level ``passed``."""
    rng = np.random.default_rng(seed)
    by_domain: dict[str, list[Sequence]] = {}
    for s in sequences:
        by_domain.setdefault(s.dataset, []).append(s)
    report: dict = {"tolerances": {k_: list(v) if isinstance(v, tuple) else v for k_, v in TOLERANCES.items()},
                    "domains": {}}
    passed = True
    for domain, seqs in sorted(by_domain.items()):
        with_state = [s for s in seqs if "mj_qpos" in s.extra and "root_residual" in s.extra]
        checks = {**_residual_check(with_state), **_grf_peak_checks(seqs), **_muscle_checks(seqs),
                  **_forward_checks(with_state, rng, horizon_s, starts_per_sequence, max_forward_sequences)}
        rep = {"sequences": len(seqs), **checks, "passed": all(c["passed"] for c in checks.values())}
        passed &= rep["passed"]
        report["domains"][domain] = rep
    report["standing"] = standing_check()
    report["passed"] = bool(passed and report["standing"]["passed"])
    return report

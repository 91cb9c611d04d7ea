"""Physics checks of a generated corpus (issue 3, section 3): ``validate_corpus_physics`` -> ``validation.json``.

Per domain, from the sequences and the state/quality arrays the fixture keeps in ``Sequence.extra``
(``mj_qpos``, ``mj_qvel``, ``root_residual``, ``contact_residual``, ``contact_point_force``, ``reserve``):

* ``residual``: the root force (and moment) the ground forces cannot explain, in % of body weight
  (moment: % of body weight x height), mean / 95th percentile / max over frames;
* ``walking_grf_peak``: per walking sequence and foot, the peak vertical GRF in body weights
  (normative walking: about 1.0-1.3 BW, e.g. Winter 2009);
* ``stance_slide``: per contact run of a sole point, its largest horizontal displacement (m);
* ``activation`` / ``reserve``: range of the static-optimisation activations and reserve torques;
* ``forward``: from recorded states, forward-simulate ``k`` frames (RK4, 4 sub-steps per frame, contacts,
  limits and equalities disabled) with ``qfrc_applied = τ + Jᵀλ`` built from the exported joint
  torques and the contact point forces (Jacobians at the recorded states, linear interpolation between
  frames; the unexplained root residual is *not* applied), then compare with the
  recorded kinematics: root translation error (m) and RMS joint-rotation error (rad) after ``k`` frames
  (toe joints excluded: the toe segments' inertia is tiny, so open-loop toes diverge within milliseconds
  of any force mismatch and would dominate the figure);
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

from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.contact import G, rajagopal_contact_dynamics, rajagopal_feet, smpl_contact_dynamics, smpl_feet
from hdys.physics.inverse import unconstrained
from hdys.schema import Sequence

log = logging.getLogger(__name__)

TOLERANCES = {
    "residual_force_mean_pct_bw": 10.0,  # mean root residual force, % body weight
    "walking_grf_peak_median_bw": (0.9, 1.6),  # tolerant range around the normative 1.0-1.3
    "stance_slide_p95_m": 0.02,
    "activation_range": (0.0, 1.0),
    "reserve_rms_nm": 5.0,
    "forward_root_error_m": 0.01,  # after k frames
    "forward_joint_error_rad": 0.05,
    "standing_grf_rel_error": 0.01,
}


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


def _runs(flag: np.ndarray):
    """(start, stop) of the runs of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], flag.astype(int), [0]]))
    return zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))


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


def forward_check(model, feet, qpos, qvel, gen, fps: float, start: int, k: int,
                  substeps: int = 4) -> tuple[float, float]:
    """Simulate ``k`` frames from frame ``start`` with generalized forces ``gen`` (T, nv; linearly
    interpolated between frames) as ``qfrc_applied``; returns (root translation error m, RMS joint-rotation
    error rad, toe joints excluded) against the recorded ``qpos[start + k]``."""
    data = mujoco.MjData(model)
    old_warning = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(lambda msg: log.debug("mujoco (forward check): %s", msg))  # diverged runs show
    old_dt, old_int, old_flags = model.opt.timestep, model.opt.integrator, model.opt.disableflags  # as errors
    model.opt.timestep = 1.0 / (fps * substeps)
    model.opt.integrator = mujoco.mjtIntegrator.mjINT_RK4
    model.opt.disableflags = old_flags | int(mujoco.mjtDisableBit.mjDSBL_ACTUATION)
    try:
        with unconstrained(model):
            data.qpos[:], data.qvel[:] = qpos[start], qvel[start]
            for s in range(k * substeps):
                u = start + s / substeps
                i0 = int(np.floor(u))
                i1, a = min(i0 + 1, qpos.shape[0] - 1), u - i0
                data.qfrc_applied[:] = (1 - a) * gen[i0] + a * gen[i1]
                mujoco.mj_step(model, data)
    finally:
        model.opt.timestep, model.opt.integrator, model.opt.disableflags = old_dt, old_int, old_flags
        mujoco.set_mju_user_warning(old_warning)
    dq = np.zeros(model.nv)
    mujoco.mj_differentiatePos(model, dq, 1.0, qpos[start + k], data.qpos)
    root_t = feet.root_dofs[:3]
    toes = np.concatenate([np.arange(model.body_dofadr[b], model.body_dofadr[b] + model.body_dofnum[b])
                           for b in np.unique(feet.body[:, 2:])])
    joints = np.setdiff1d(np.arange(model.nv), np.concatenate([feet.root_dofs, toes]))
    return float(np.linalg.norm(dq[root_t])), float(np.sqrt(np.mean(dq[joints] ** 2)))


def standing_check(height_m: float = 1.75, mass_kg: float = 75.0, seconds: float = 1.0, fps: float = 100.0) -> dict:
    """Quiet standing (neutral pose, both feet planted) through the foot planner + contact-aware ID, both bodies:
    vertical GRF / body weight, residual force in % BW, and whether both feet are in contact."""
    from hdys.physics.fixture import smpl_standing_height, standing_pelvis_height
    from hdys.physics.locomotion import ground_rajagopal, ground_smpl
    from hdys.physics.motions import Fourier

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


def validate_corpus_physics(sequences: list[Sequence], k: int = 5, starts_per_sequence: int = 3,
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
        rep: dict = {"sequences": len(seqs)}
        checks = []
        with_state = [s for s in seqs if "mj_qpos" in s.extra and "root_residual" in s.extra]
        if with_state:
            f_pct = np.concatenate([np.linalg.norm(s.extra["root_residual"][:, :3], axis=1) / (s.mass_kg * G) * 100
                                    for s in with_state])
            m_pct = np.concatenate([np.linalg.norm(s.extra["root_residual"][:, 3:], axis=1)
                                    / (s.mass_kg * G * s.height_m) * 100 for s in with_state])
            by_motion = {}
            for s in with_state:
                by_motion.setdefault(s.extra.get("motion", "?"), []).append(
                    np.linalg.norm(s.extra["root_residual"][:, :3], axis=1) / (s.mass_kg * G) * 100)
            ok = float(f_pct.mean()) <= TOLERANCES["residual_force_mean_pct_bw"]
            rep["residual"] = {"force_pct_bw": _stats(f_pct), "moment_pct_bw_height": _stats(m_pct),
                               "force_pct_bw_mean_by_motion": {m: float(np.concatenate(v).mean())
                                                               for m, v in sorted(by_motion.items())},
                               "contact_solver_residual": _stats(np.concatenate(
                                   [s.extra["contact_residual"] for s in with_state])),
                               "passed": ok}
            checks.append(ok)
        walks = [s for s in seqs if s.grf is not None and s.extra.get("motion") == "walk"]
        if walks:
            peaks = [s.grf[:, f, 2].max() / (s.mass_kg * G) for s in walks for f in range(2) if s.contact[:, f].any()]
            lo, hi = TOLERANCES["walking_grf_peak_median_bw"]
            ok = bool(peaks) and lo <= float(np.median(peaks)) <= hi
            rep["walking_grf_peak_bw"] = {**_stats(peaks), "passed": ok}
            checks.append(ok)
        if seqs[0].muscle_activation is not None:
            a = np.concatenate([s.muscle_activation.ravel() for s in seqs])
            lo, hi = TOLERANCES["activation_range"]
            ok = bool(a.min() >= lo - 1e-6 and a.max() <= hi + 1e-6)
            rep["activation"] = {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()), "passed": ok}
            checks.append(ok)
            res = [s.extra["reserve"] for s in seqs if "reserve" in s.extra]
            if res:
                r = np.concatenate(res)
                lumbar = slice(14, 17)  # lumbar DoFs are torque-driven by design (no muscles)
                rms = float(np.sqrt(np.mean(np.delete(r, np.r_[lumbar], axis=1) ** 2)))
                ok = rms <= TOLERANCES["reserve_rms_nm"]
                rep["reserve"] = {"rms_nm_muscle_dofs": rms, "max_abs_nm_muscle_dofs":
                                  float(np.abs(np.delete(r, np.r_[lumbar], axis=1)).max()), "passed": ok}
                checks.append(ok)
        dyn = [s for s in with_state if "contact_point_force" in s.extra
               and (s.torque_rajagopal is not None or s.torque_smpl is not None)]
        if dyn:
            slides, root_err, joint_err = [], [], []
            pick = rng.permutation(len(dyn))[:max_forward_sequences]
            for idx in pick:
                s = dyn[idx]
                body, feet, kind = _body_for(s)
                qpos, qvel = s.extra["mj_qpos"], s.extra["mj_qvel"]
                pts = _sole_points(body.model, feet, qpos)
                active = np.linalg.norm(s.extra["contact_point_force"], axis=-1) > 1e-6
                for f in range(2):
                    for p in range(4):
                        for a0, a1 in _runs(active[:, f, p]):
                            xy = pts[a0:a1, f, p, :2]
                            slides.append(float(np.linalg.norm(xy - xy[0], axis=1).max()))
                gen = _joint_generalized(s, body, kind, qpos) + contact_generalized(
                    body.model, feet, qpos, s.extra["contact_point_force"])
                n = qpos.shape[0]
                if n > k + 1:
                    for start in rng.choice(n - k, size=min(starts_per_sequence, n - k), replace=False):
                        e_r, e_j = forward_check(body.model, feet, qpos, qvel, gen, s.fps, int(start), k)
                        root_err.append(e_r)
                        joint_err.append(e_j)
            ok = bool(slides) and float(np.percentile(slides, 95)) <= TOLERANCES["stance_slide_p95_m"]
            rep["stance_slide_m"] = {**_stats(slides), "passed": ok}
            checks.append(ok)
            ok = (float(np.median(root_err)) <= TOLERANCES["forward_root_error_m"]
                  and float(np.median(joint_err)) <= TOLERANCES["forward_joint_error_rad"]) if root_err else False
            rep["forward"] = {"frames": k, "root_error_m": _stats(root_err), "joint_error_rad": _stats(joint_err),
                              "passed": ok}
            checks.append(ok)
        rep["passed"] = all(checks)
        passed &= rep["passed"]
        report["domains"][domain] = rep
    report["standing"] = standing_check()
    report["passed"] = bool(passed and report["standing"]["passed"])
    return report

"""The forward physics check: exported labels reproduce the inverse dynamics, and wrong labels are caught."""
from __future__ import annotations

import numpy as np
import pytest

from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.contact import G, rajagopal_contact_dynamics, rajagopal_feet, smpl_contact_dynamics, smpl_feet
from hdys.physics.fixture import smpl_standing_height, standing_pelvis_height
from hdys.physics.inverse import rajagopal_state, smpl_state
from hdys.physics.locomotion import ground_rajagopal, ground_smpl
from hdys.physics.motions import rajagopal_motion
from hdys.physics.smpl_motions import smpl_motion
from hdys.physics.validation import (HORIZON_S, TOLERANCES, _joint_generalized, contact_generalized, forward_check,
                                     horizon_frames, residual_drift, residual_generalized, validate_corpus_physics)
from hdys.schema import Sequence


class Case:
    """A squat on the floor with its exported labels (torques rounded to float32 as ``schema.validate`` does)."""

    def __init__(self, body, feet, kind, fps, qpos, qvel, res, seq):
        self.body, self.feet, self.kind, self.fps = body, feet, kind, fps
        self.qpos, self.qvel, self.res, self.seq = qpos, qvel, res, seq
        self.k = horizon_frames(HORIZON_S, fps)

    def generalized(self, seq=None, residual=True) -> np.ndarray:
        m = self.body.model
        gen = _joint_generalized(seq or self.seq, self.body, self.kind, self.qpos)
        gen += contact_generalized(m, self.feet, self.qpos, self.res.point_force)
        if residual:
            gen += residual_generalized(m, self.feet, self.qpos, self.res.root_residual)
        return gen

    def forward(self, gen, starts=(3, 15, 27)) -> np.ndarray:
        """(len(starts), 2) root / joint errors after k frames."""
        return np.array([forward_check(self.body.model, self.feet, self.qpos, self.qvel, gen, self.fps, s, self.k,
                                       body=self.body) for s in starts])

    def on_coordinates(self, gen: np.ndarray) -> np.ndarray:
        """Generalized forces as the coordinates feel them (Rajagopal: the walker knees' coupled joints' forces
        projected onto their knees by virtual work; SMPL: as they are)."""
        if self.kind != "rajagopal":
            return gen
        return self.body.coordinate_forces(self.qpos[:, self.body.coordinate_qpos], gen)


def _rajagopal_case(kind: str, seed: int) -> Case:
    """40 frames at 100 fps of a Rajagopal ``kind`` on the ground, labelled."""
    raj = rajagopal_body(1.75, 72.0)
    motion = rajagopal_motion(kind, np.random.default_rng(seed), raj.coord_range, standing_pelvis_height(raj))
    t = np.arange(40) / 100.0
    q, qd, qdd = ground_rajagopal(raj, motion, 0.0, t[-1])(t)
    tau, res = rajagopal_contact_dynamics(raj, q, qd, qdd)
    seq = Sequence(fps=100.0, joint_angles=q, torque_rajagopal=tau.astype(np.float32))
    return Case(raj, rajagopal_feet(raj), "rajagopal", 100.0, *rajagopal_state(raj, q, qd), res, seq)


@pytest.fixture(scope="module")
def lab() -> Case:
    return _rajagopal_case("squat", 1)


@pytest.fixture(scope="module")
def sim() -> Case:
    """30 fps with the ``sim`` domain's jitter (the hardest case for forces sampled per frame)."""
    smpl = smpl_body(1.70, 65.0)
    rng = np.random.default_rng(2)
    motion = smpl_motion("squat", rng, smpl_standing_height(smpl))
    motion = motion.with_jitter(rng, np.concatenate([np.full(3, 0.002), np.full(72, 0.005)]), fmin=3.0, fmax=8.0)
    t = np.arange(34) / 30.0
    traj = ground_smpl(smpl, motion, 0.0, t[-1])(t)
    tau, res = smpl_contact_dynamics(smpl, traj)
    qpos, qvel, _ = smpl_state(smpl, traj)
    seq = Sequence(fps=30.0, torque_smpl=tau.astype(np.float32))
    return Case(smpl, smpl_feet(smpl), "smpl", 30.0, qpos, qvel, res, seq)


@pytest.mark.parametrize("name", ["lab", "sim"])
def test_exported_labels_reconstruct_the_inverse_dynamics_force(request, name):
    case = request.getfixturevalue(name)
    qfrc = case.on_coordinates(case.res.qfrc)
    scale = np.abs(qfrc).max()
    err = np.abs(case.on_coordinates(case.generalized()) - qfrc)
    root = np.arange(6) if case.kind == "rajagopal" else case.feet.root_dofs  # the pelvis coordinates come first
    assert err.max() < 1e-6 * scale  # float32 torques aside, exact
    assert err[:, root].max() < 1e-9 * scale  # root rows: contact forces + residual only
    # without the residual the root rows miss exactly the residual, the joint rows nothing
    miss = qfrc - case.on_coordinates(case.generalized(residual=False))
    joints = np.setdiff1d(np.arange(qfrc.shape[1]), root)
    assert np.abs(miss[:, joints]).max() < 1e-6 * scale
    assert np.allclose(miss[:, root], case.on_coordinates(case.res.joint)[:, root], atol=1e-9 * scale)


def test_smpl_torques_are_in_the_parent_frame(sim):
    """Child-frame torques (MuJoCo's raw ball-joint forces) labelled as parent-frame ones do not reconstruct."""
    tau_child = np.concatenate([sim.res.joint[:, d:d + 3] for d in sim.body.joint_dof], axis=1)
    wrong = sim.generalized(Sequence(fps=30.0, torque_smpl=tau_child))
    assert np.abs(wrong - sim.res.qfrc).max() > 1.0  # N m


def test_forward_with_residual_reproduces_the_kinematics(lab, sim):
    e = lab.forward(lab.generalized())  # 100 fps, 5 frames: integration error only
    assert e[:, 0].max() < 1e-5 and e[:, 1].max() < 1e-5
    e = sim.forward(sim.generalized())  # 30 fps, 2 frames: forces sampled per frame
    assert np.median(e[:, 0]) < TOLERANCES["forward_with_residual_root_m"]
    assert np.median(e[:, 1]) < TOLERANCES["forward_with_residual_joint_rad"]


def _corrupt_rajagopal(case, coordinate):
    from hdys.schema import RAJAGOPAL_COORDINATES
    tau = case.seq.torque_rajagopal.copy()
    tau[:, RAJAGOPAL_COORDINATES.index(coordinate) - 6] *= -1
    return Sequence(fps=case.fps, joint_angles=case.seq.joint_angles, torque_rajagopal=tau)


def _corrupt_smpl_sign(case, joint, axis):
    from hdys.schema import SMPL_JOINT_NAMES
    tau = case.seq.torque_smpl.copy()
    tau[:, 3 * (SMPL_JOINT_NAMES.index(joint) - 1) + axis] *= -1
    return Sequence(fps=case.fps, torque_smpl=tau)


@pytest.mark.parametrize("name,corrupt", [
    ("lab", lambda c: _corrupt_rajagopal(c, "knee_angle_r")),
    # (a sign error is caught where the torque matters: the squat's left hip adduction torque on the Rajagopal
    # 2015 body is too small for its flip to move the body more than the tolerances in 5 frames)
    ("lab", lambda c: _corrupt_rajagopal(c, "ankle_angle_l")),
    ("sim", lambda c: _corrupt_smpl_sign(c, "left_knee", 0)),
    ("sim", lambda c: Sequence(fps=30.0, torque_smpl=np.concatenate(  # child frame instead of parent frame
        [c.res.joint[:, d:d + 3] for d in c.body.joint_dof], axis=1))),
])
def test_corrupted_torques_are_detected(request, name, corrupt):
    case = request.getfixturevalue(name)
    e = np.median(case.forward(case.generalized(corrupt(case))), axis=0)
    assert (e[0] > 3 * TOLERANCES["forward_with_residual_root_m"]
            or e[1] > 3 * TOLERANCES["forward_with_residual_joint_rad"]), e


@pytest.fixture(scope="module")
def lunge() -> Case:
    """A lunge whose rear heel rises: the ground leaves a root residual (0.3 % body weight on average)."""
    return _rajagopal_case("lunge", 2)


def test_labels_only_drift_is_the_residual(lunge):
    """Without the residual the error is what the residual predicts (linear regime at 100 fps, 50 ms)."""
    lab = lunge
    starts = (3, 15, 27)
    e = lab.forward(lab.generalized(residual=False), starts)
    res_gen = residual_generalized(lab.body.model, lab.feet, lab.qpos, lab.res.root_residual)
    f_tol = 0.1 * lab.body.mass_kg * G
    for (root, joint), s in zip(e, starts):
        (p_root, p_joint), (t_root, t_joint) = residual_drift(lab.body.model, lab.feet, lab.qpos, res_gen, lab.fps,
                                                              s, lab.k, f_tol, f_tol * lab.body.height_m, body=lab.body)
        assert root == pytest.approx(p_root, rel=0.2) and joint == pytest.approx(p_joint, rel=0.2)
        assert 0 < t_root < 1.0 and 0 < t_joint < 2.0
    assert (e > 10 * lab.forward(lab.generalized(), starts)).all()  # the residual is the cause


@pytest.mark.slow
def test_report_has_both_forward_runs():
    from hdys.physics.fixture import generate_subject

    seqs = generate_subject("tiny", 0, "lab", 1) + generate_subject("tiny", 0, "sim", 2)
    rep = validate_corpus_physics(seqs, starts_per_sequence=4)
    for domain, frames in (("lab", [5]), ("sim", [2])):
        on_ground = sum(s.dataset == domain and s.extra["ground_contact"] for s in seqs)
        assert on_ground >= 1
        fwd = rep["domains"][domain]["forward"]
        assert fwd["frames"] == frames and fwd["with_residual"]["passed"], fwd
        lab_only = fwd["labels_only"]
        assert lab_only["root_error_m"]["n"] == 4 * on_ground and lab_only["drift_ratio_root"]["median"] > 0
        assert fwd["passed"] == (fwd["with_residual"]["passed"] and lab_only["passed"])


def test_report_checks_the_arm_reserves():
    from hdys.physics.fixture import generate_subject

    seqs = generate_subject("tiny", 0, "emg", 0)
    rep = validate_corpus_physics(seqs, max_forward_sequences=0)["domains"]["emg"]["arm_reserve"]
    assert rep["passed"] and 0 < rep["rms_nm"] < 5.0 and rep["max_abs_nm"] >= rep["rms_nm"]
    seqs[0].extra["arm_reserve"] = seqs[0].extra["arm_reserve"] + 100.0  # muscles that cannot produce the torques
    assert not validate_corpus_physics(seqs, max_forward_sequences=0)["domains"]["emg"]["arm_reserve"]["passed"]

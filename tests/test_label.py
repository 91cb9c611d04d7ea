"""hdys label: physics labels for kinematics-only corpora (hdys.label).

The fixture's labels come from the same physics on the same (exact) kinematics, so the labeller must
recover them up to the 6 Hz smoothing of the kinematics; the tolerances below are relative RMS errors
over the frames more than 0.1 s from either end (the smoothing spline's free ends bias the derivatives
there). Measured: Rajagopal sit-to-stand 3.2 % torques / 2.3 % GRF; SMPL squat 1.3 % / 1.7 %.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hdys.cli import main
from hdys.label import DEFAULT_MASS_KG, LabelError, LabelOptions, label_corpus, label_sequence, smooth
from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.contact import G, rajagopal_contact_dynamics, smpl_contact_dynamics
from hdys.physics.emg import LEG_CHANNELS
from hdys.physics.fixture import make_fixture, rajagopal_points, smpl_standing_height, standing_pelvis_height
from hdys.physics.ik import marker_ik
from hdys.physics.locomotion import ground_rajagopal, ground_smpl
from hdys.physics.motions import rajagopal_motion
from hdys.physics.smpl_motions import smpl_motion
from hdys.physics.static_opt import static_optimization
from hdys.schema import RAJAGOPAL_COORDINATES, Sequence
from hdys.store import Corpus, write_corpus

TOL = 0.06  # relative RMS error of torques and GRF after smoothing at 6 Hz
TOL_EXACT = 0.05  # the same without smoothing (interpolated kinematics; contact hands over a frame apart)
TOL_FLIGHT = 0.3  # ... for motions with flight phases (measured 0.19 on a tiny-fixture hop)
ROOT = Path(__file__).resolve().parents[1]
DYNAMICS = dict(torque_smpl=None, torque_rajagopal=None, grf=None, cop=None, contact=None, muscle_activation=None,
                muscle_names=None, emg=None, emg_names=None)


def rel_rms(a: np.ndarray, b: np.ndarray, fps: float) -> float:
    m = slice(int(0.1 * fps), -int(0.1 * fps))
    return float(np.sqrt(np.mean((a[m] - b[m]) ** 2)) / np.sqrt(np.mean(b[m] ** 2)))


def smpl_squat(fps: float = 100.0, seconds: float = 2.0):
    """A planted SMPL squat (no jitter) and its exact contact-aware labels."""
    body = smpl_body(1.80, 80.0)
    motion = smpl_motion("squat", np.random.default_rng(1), smpl_standing_height(body))
    t = np.arange(int(seconds * fps)) / fps
    traj = ground_smpl(body, motion, 0.0, float(t[-1]))(t)
    tau, res = smpl_contact_dynamics(body, traj)
    seq = Sequence(fps=fps, sequence_id="squat", dataset="sim", subject="s1", mass_kg=80.0, height_m=1.80,
                   smpl=traj.smpl_params(body.pelvis_j0))
    return seq, tau, res


def rajagopal_squat(fps: float = 100.0, seconds: float = 1.5):
    body = rajagopal_body(1.70, 65.0)
    motion = rajagopal_motion("squat", np.random.default_rng(2), body.coord_range, standing_pelvis_height(body))
    t = np.arange(int(seconds * fps)) / fps
    q, qd, qdd = ground_rajagopal(body, motion, 0.0, float(t[-1]))(t)
    tau, res = rajagopal_contact_dynamics(body, q, qd, qdd)
    seq = Sequence(fps=fps, sequence_id="rsquat", dataset="lab", subject="s1", mass_kg=65.0, height_m=1.70,
                   joint_angles=q, joint_angle_names=list(RAJAGOPAL_COORDINATES))
    return seq, body, (q, qd, tau, res)


def test_smoothing_transfer_and_derivatives():
    fps = 100.0
    t = np.arange(400) / fps
    mid = slice(100, 300)

    def gain(f: float) -> float:
        x = np.sin(2 * np.pi * f * t)
        return float(np.std(smooth(x, fps, 6.0)[0][mid]) / np.std(x[mid]))

    assert gain(1.0) == pytest.approx(1.0, abs=0.01)
    assert gain(6.0) == pytest.approx(0.5, abs=0.02)  # -6 dB at the cut-off
    assert gain(15.0) < 0.05
    x, xd, xdd = smooth(np.sin(2 * np.pi * t)[:, None], fps, 6.0)
    w = 2 * np.pi
    np.testing.assert_allclose(xd[mid, 0], w * np.cos(w * t[mid]), atol=0.02 * w)
    np.testing.assert_allclose(xdd[mid, 0], -w * w * np.sin(w * t[mid]), atol=0.03 * w * w)


@pytest.mark.slow
def test_fixture_labels_recovered_from_stripped_corpus(tmp_path):
    seqs = [s for s in make_fixture("tiny", domains=("lab",)) if s.grf is not None]  # motions on the ground
    assert seqs, "the tiny fixture has no Rajagopal sequence on the ground"
    smpl_seq, smpl_tau, smpl_res = smpl_squat()
    smpl_seq.torque_smpl, smpl_seq.grf, smpl_seq.cop, smpl_seq.contact = (smpl_tau, smpl_res.grf, smpl_res.cop,
                                                                          smpl_res.contact)
    truth = {s.sequence_id: s for s in seqs + [smpl_seq]}
    write_corpus(tmp_path / "in", [dataclasses.replace(s, **DYNAMICS) for s in truth.values()], progress=False)
    # interpolated, not smoothed, kinematics: noise-free labels must come back almost exactly, jumps included
    # (6 Hz smoothing, the default, loses 10-45 % of walking and hopping torques to the transients)
    summary = label_corpus(tmp_path / "in", tmp_path / "out", LabelOptions(cutoff_hz=0.0), progress=False)
    assert summary["labelled"] == len(truth) and summary["skipped"] == 0
    out = Corpus(tmp_path / "out")
    for sid, ref in truth.items():
        got = out.read(sid)
        key = "torque_smpl" if ref.smpl is not None else "torque_rajagopal"
        # with flight phases, contact detected from kinematics (height and speed of the sole points) changes a
        # frame or two away from the generator's (load above 2 % BW), where the forces change fastest
        tol = TOL_FLIGHT if ref.extra.get("motion") in ("run", "jump", "jumping_jack", "cmj") else TOL_EXACT
        assert rel_rms(getattr(got, key), getattr(ref, key), ref.fps) < tol, sid
        assert rel_rms(got.grf, ref.grf, ref.fps) < tol, sid
        assert (got.contact == ref.contact).mean() > 0.95
        assert got.mass_kg == pytest.approx(ref.mass_kg) and got.split == out.entry(sid).split
    report = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert set(report["domains"]) == {"lab", "sim"} and "standing" in report
    assert report["domains"]["sim"]["residual"]["force_pct_bw"]["n"] == smpl_seq.num_frames
    rows = json.loads((tmp_path / "out" / "label_report.json").read_text())["sequences"]
    assert {r["status"] for r in rows} == {"labelled"} and all(r["mass_source"] == "sequence" for r in rows)
    # resumed: nothing left to label, the input corpus untouched
    again = label_corpus(tmp_path / "in", tmp_path / "out", progress=False, validate=False)
    assert again["already_in_out"] == len(truth) and again["labelled"] == 0
    assert not any({"torque_smpl", "torque_rajagopal", "grf"} & set(e.representations)
                   for e in Corpus(tmp_path / "in").entries())


def test_muscles_and_emg_from_joint_angles():
    seq, body, (q, qd, tau, _) = rajagopal_squat()
    out, row = label_sequence(seq, LabelOptions(muscles=True, emg=True))
    so = static_optimization(body, q, qd, tau)
    ref, a = so.activation, out.muscle_activation
    assert a.shape == ref.shape and out.muscle_names == list(so.muscle_names) and len(so.muscle_names) == 80
    assert a.min() >= 0.0 and a.max() <= 1.0
    m = slice(15, -15)
    assert np.sqrt(np.mean((a[m] - ref[m]) ** 2)) < 0.05
    assert out.emg.shape == (seq.num_frames, 6) and out.emg_names == list(LEG_CHANNELS)
    assert np.isfinite(out.emg).all() and out.emg.min() > 0
    assert set(row["labels"]) == {"torque_rajagopal", "grf", "cop", "cop_moment", "contact", "muscle_activation",
                                 "emg"}
    assert "reserve" in out.extra


def test_existing_labels_kept_unless_overwrite():
    seq, tau, _ = smpl_squat(fps=50.0, seconds=1.0)
    seq.torque_smpl = np.zeros_like(tau)
    out, row = label_sequence(seq)
    assert not out.torque_smpl.any() and "torque_smpl" not in row["labels"] and "kept" in row["notes"][0]
    out, _ = label_sequence(seq, LabelOptions(overwrite=True))
    assert rel_rms(out.torque_smpl, tau, 50.0) < TOL


def write_standing_amass(path: Path, seconds: float = 1.0, fps: float = 60.0) -> None:
    """An AMASS *_poses.npz (SMPL-H layout) of a subject standing still, upright in the z-up world."""
    n = int(seconds * fps)
    poses = np.zeros((n, 156))
    poses[:, 0] = np.pi / 2  # root orient: SMPL's y-up body upright in the z-up world
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, poses=poses, trans=np.tile([0.3, -0.2, 0.95], (n, 1)), betas=np.zeros(16),
             gender=np.array("male"), mocap_framerate=np.array(fps))


@pytest.mark.slow
def test_cli_amass_standing_end_to_end(tmp_path):
    write_standing_amass(tmp_path / "src" / "CMU" / "01" / "01_01_poses.npz")
    write_standing_amass(tmp_path / "src" / "CMU" / "02" / "02_01_poses.npz")
    assert main(["-q", "ingest", "amass", str(tmp_path / "src" / "CMU"), "--out", str(tmp_path / "in")]) == 0
    run = [sys.executable, "-m", "hdys.cli", "-q"]
    res = subprocess.run(run + ["label", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--mass-kg", "80",
                                "--workers", "2"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "2 sequence(s) labelled" in res.stdout
    info = subprocess.run(run + ["info", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert info.returncode == 0 and "torque_smpl" in info.stdout and "✓" in info.stdout
    corpus = Corpus(tmp_path / "out")
    for e in corpus.entries():
        seq = corpus.read(e.sequence_id)
        assert seq.mass_kg == 80.0 and seq.height_m == 1.70  # height: the documented default
        fz = seq.grf[..., 2].sum(1)
        np.testing.assert_allclose(fz, 80.0 * G, rtol=0.02)  # standing still: GRF = body weight
        assert seq.contact.all()
        np.testing.assert_allclose(np.abs(seq.grf[..., :2]).max(), 0.0, atol=0.02 * 80 * G)
    rows = json.loads((tmp_path / "out" / "label_report.json").read_text())["sequences"]
    assert [(r["mass_source"], r["height_source"]) for r in rows] == [("option", "default")] * 2


def test_opensim_standing_on_a_raised_floor(tmp_path):
    """OpenSim IK coordinates (.mot, degrees) of quiet standing 5 cm above the lab origin: the floor is
    found, the GRF carries the body weight and the CoP lies on that floor, between the feet."""
    from hdys.formats import read_source
    body = rajagopal_body(1.75, 70.0)
    n = 60
    q = np.zeros((n, 23))
    q[:, RAJAGOPAL_COORDINATES.index("pelvis_ty")] = standing_pelvis_height(body) + 0.05
    q[:, RAJAGOPAL_COORDINATES.index("pelvis_tx")] = 0.4
    deg = q.copy()
    rot = [i for i, c in enumerate(RAJAGOPAL_COORDINATES) if not c.startswith("pelvis_t")]
    deg[:, rot] = np.rad2deg(q[:, rot])
    rows = ["\t".join(f"{v:.8f}" for v in [i / 100.0, *r]) for i, r in enumerate(deg)]
    path = tmp_path / "subj" / "stand_ik.mot"
    path.parent.mkdir()
    path.write_text("\n".join(["Coordinates", "version=1", f"nRows={n}", "nColumns=24", "inDegrees=yes", "endheader",
                               "\t".join(["time", *RAJAGOPAL_COORDINATES]), *rows]) + "\n")
    (seq,) = read_source("opensim", tmp_path, mass_kg=70.0, height_m=1.75)
    out, row = label_sequence(seq)
    assert row["rajagopal"]["floor_z"] == pytest.approx(0.05, abs=1e-3)
    np.testing.assert_allclose(out.grf[..., 2].sum(1), 70.0 * G, rtol=0.02)
    assert out.contact.all() and np.abs(out.torque_rajagopal).max() < 0.1 * 70.0 * G
    cop = out.cop
    np.testing.assert_allclose(cop[..., 2], 0.05, atol=1e-3)
    assert np.all(np.abs(cop[..., 0] - 0.4) < 0.25)  # under the feet (world x = pelvis_tx)


@pytest.mark.slow
def test_marker_ik_exact_and_labels_markers_only_sequences():
    body = rajagopal_body(1.70, 65.0)
    motion = rajagopal_motion("walk", np.random.default_rng(3), body.coord_range, standing_pelvis_height(body))
    q = motion(np.arange(60) / 100.0)[0]
    markers = rajagopal_points(body, q)[0]
    markers[10:20, 3] = np.nan  # an occluded marker
    fit, rms, used = marker_ik(body, body.marker_names, markers)
    # noise-free markers of the same body: exact (this walk's first-frame fit once turned 16 whole turns)
    np.testing.assert_allclose(fit, q, atol=1e-5)
    assert np.nanmax(rms) < 1e-6 and len(used) == len(body.marker_names)
    seq = make_fixture("tiny", domains=("muscle",))[0]  # markers + keypoints (placement noise 1 cm)
    seq = dataclasses.replace(seq, muscle_activation=None, muscle_names=None)
    with pytest.raises(LabelError, match="inverse-kinematics fit is needed first"):
        label_sequence(seq)
    out, row = label_sequence(seq, LabelOptions(ik=True, muscles=True))
    assert row["labels"][:2] == ["joint_angles", "torque_rajagopal"] and out.muscle_activation is not None
    assert out.joint_angles.shape == (seq.num_frames, 23) and 0.005 < row["ik"]["rms_m_mean"] < 0.03
    few = dataclasses.replace(seq, markers=seq.markers[:, :5], marker_names=seq.marker_names[:5])
    with pytest.raises(LabelError, match="only 5 marker name"):
        label_sequence(few, LabelOptions(ik=True))


def test_default_mass_is_reported():
    seq, _, _ = smpl_squat(fps=50.0, seconds=1.0)
    seq.mass_kg = seq.height_m = None
    out, row = label_sequence(seq)
    assert out.mass_kg == DEFAULT_MASS_KG and row["mass_source"] == "default"


def test_height_estimated_from_smpl_keypoints():
    kin = make_fixture("tiny", domains=("kin",))[0]  # SMPL joints of a body of known height
    truth = kin.height_m
    kin.mass_kg = kin.height_m = None
    out, row = label_sequence(kin, LabelOptions(mass_kg=60.0))
    assert row["height_source"] == "keypoints" and out.height_m == pytest.approx(truth, abs=0.01)
    assert (out.mass_kg, row["mass_source"]) == (60.0, "option")


def test_bad_sequences_reported_and_copied(tmp_path):
    smpl_seq, _, _ = smpl_squat(fps=50.0, seconds=1.0)
    kin = next(s for s in make_fixture("tiny", domains=("kin",)))
    markers_only = dataclasses.replace(kin, smpl=None, sequence_id="markers-only")
    short = dataclasses.replace(smpl_seq.slice(0, 3), sequence_id="short")
    write_corpus(tmp_path / "in", [smpl_seq, markers_only, short], progress=False)
    summary = label_corpus(tmp_path / "in", tmp_path / "out", progress=False, validate=False)
    assert (summary["labelled"], summary["skipped"]) == (1, 2)
    rows = {r["sequence_id"]: r for r in json.loads((tmp_path / "out" / "label_report.json").read_text())["sequences"]}
    assert "an inverse-kinematics fit is needed first (ik:" in rows["markers-only"]["reason"]
    assert "3 frame(s)" in rows["short"]["reason"]
    out = Corpus(tmp_path / "out")
    assert len(out) == 3 and out.entry("markers-only").representations == ("markers", "keypoints")
    with pytest.raises(LabelError, match="markers-only"):
        label_corpus(tmp_path / "in", tmp_path / "strict", strict=True, progress=False, validate=False)
    assert main(["-q", "label", str(tmp_path / "in"), "--out", str(tmp_path / "strict2"), "--strict"]) == 2


def test_nan_gap_and_smpl_muscles_refused():
    seq, _, _ = smpl_squat(fps=50.0, seconds=1.0)
    seq.smpl[10:14, 5] = np.nan
    with pytest.raises(LabelError, match=r"smpl: 4 frame\(s\) with NaN.*first 10, last 13"):
        label_sequence(seq)
    seq.smpl[10:14, 5] = 0.0
    with pytest.raises(LabelError, match="need Rajagopal joint_angles"):
        label_sequence(seq, LabelOptions(torques=False, muscles=True))
    out, row = label_sequence(seq, LabelOptions(muscles=True))  # torques still, muscles noted
    assert out.muscle_activation is None and "muscles/EMG not labelled" in row["notes"][0]


def test_step_up_platform_kept_by_the_store_and_used_by_the_labeller(tmp_path):
    """A Rajagopal step-up (its platform in ``extra["terrain"]``): the store keeps the platform, and the
    labeller recovers the generator's torques and GRF with it (without it the feet on the platform would
    never be in contact)."""
    body = rajagopal_body(1.70, 65.0)
    motion = rajagopal_motion("step_up", np.random.default_rng(4), body.coord_range, standing_pelvis_height(body))
    ground = ground_rajagopal(body, motion, 0.0, 3.0)
    t = np.arange(300) / 100
    q, qd, qdd = ground(t)
    terrain = ground.plan.terrain
    tau, res = rajagopal_contact_dynamics(body, q, qd, qdd, terrain=terrain)
    seq = Sequence(fps=100.0, sequence_id="stepup", dataset="lab", subject="s1", mass_kg=65.0, height_m=1.70,
                   joint_angles=q, joint_angle_names=list(RAJAGOPAL_COORDINATES), extra={"terrain": terrain.to_json()})
    write_corpus(tmp_path / "in", [seq], progress=False)
    stored = Corpus(tmp_path / "in").read("stepup")
    assert stored.extra["terrain"] == terrain.to_json()
    label_corpus(tmp_path / "in", tmp_path / "out", LabelOptions(cutoff_hz=0.0), progress=False, validate=False)
    got = Corpus(tmp_path / "out").read("stepup")
    assert got.extra["terrain"] == terrain.to_json()
    assert rel_rms(got.torque_rajagopal, tau, 100.0) < TOL_EXACT
    assert rel_rms(got.grf, res.grf, 100.0) < TOL_EXACT
    flat, _ = label_sequence(dataclasses.replace(stored, extra={}), LabelOptions(cutoff_hz=0.0))
    assert rel_rms(flat.torque_rajagopal, tau, 100.0) > 0.2

"""Physics labels for ingested kinematics: ``hdys label CORPUS --out OUT``.

Recorded motion (AMASS SMPL parameters, OpenSim/AddBiomechanics joint angles) usually comes without
dynamics. This module runs the generator's physics (:mod:`hdys.physics`) on such kinematics and writes
a new corpus with the labels added; the input corpus is never modified.

Per sequence:

1. **Body.** The subject's body is built from its height and mass: the Rajagopal lower body for
   ``joint_angles``, the SMPL-topology humanoid for ``smpl``. Mass and height come from the sequence;
   where it has none, from the caller's ``mass_kg``/``height_m``; otherwise, for SMPL, the height is
   estimated from the SMPL joint keypoints when present (bone lengths against the body's reference
   skeleton) and the defaults :data:`DEFAULT_MASS_KG`, :data:`DEFAULT_HEIGHT_M` are used (AMASS gives
   no body mass). The report says which source each sequence used.
2. **Smoothing and derivatives.** Recorded positions are noisy and differentiating them twice
   amplifies the noise, so every coordinate is low-pass filtered with a cubic smoothing spline whose
   transfer function ``1 / (1 + (f / f_c)^4)`` is -6 dB at ``cutoff_hz`` (default 6 Hz, the usual
   cut-off for gait kinematics: Winter D.A. 2009, *Biomechanics and Motor Control of Human Movement*,
   4th ed., Wiley, ch. 3); the spline's first and second derivatives are the velocities and
   accelerations. Joint angles are unwrapped first. SMPL rotations are smoothed as sign-continuous
   unit quaternions ``q`` (each joint's rotation relative to its parent, the root's in the world);
   with ``n = |q|`` the body-frame angular velocity and acceleration are
   ``ω = 2 vec(q* ⊗ q̇) / n²`` and ``α = (2 vec(q* ⊗ q̈) - 2 ω (q · q̇)) / n²`` (exact for the smoothed,
   not quite unit, ``q``). ``cutoff_hz=0`` interpolates instead (no smoothing).
   The SMPL root position is ``transl + J0`` (``J0``: the body's template pelvis joint, or
   ``extra["smpl_transl_origin"]`` where the sequence carries it).
3. **Floor.** The recorded floor need not be at height 0 for the built body (shape, shoes, calibration):
   the floor is taken as the 5th percentile over frames of the lowest sole point (``floor_z`` fixes it),
   the root is shifted by it for contact detection, and the centre of pressure is shifted back. Platforms
   the feet stand on (a step-up's box: ``extra["terrain"]``, kept by the corpus store) are supports as
   well (:class:`hdys.physics.contact.Terrain`, heights above the same floor).
4. **Dynamics.** Contact-aware inverse dynamics (:mod:`hdys.physics.contact`: sole points lower than
   3 cm and slower than 0.6 m/s may push, friction pyramids, NNLS) gives the joint torques
   (``torque_rajagopal`` or ``torque_smpl``) and ``grf``, ``cop``, ``contact``. Where a sequence has
   both representations, both torques are labelled and the ground forces come from the Rajagopal body.
5. **Muscles** (Rajagopal only; the SMPL body has no muscles): static optimisation of the muscle
   activations against the ID torques (:func:`hdys.physics.static_opt.static_optimization`).
6. **EMG** (needs the activations): the 6 leg channels of Muscles in Action (:data:`emg.LEG_CHANNELS`)
   via :func:`hdys.physics.emg.emg_from_activation` with the fixed parameters :data:`EMG_PARAMS`:
   electromechanical delay 50 ms, envelope time constant 25 ms, unit gain, baseline 0.01, no noise
   (the middle of the generator's per-subject ranges; a deterministic label).

Markers only: with ``ik``, Rajagopal joint angles are first fitted to the markers named as in the body's
marker set (:func:`hdys.physics.ik.marker_ik`), written as the sequence's ``joint_angles`` and labelled as
above (the fit's marker RMS is reported); without it such sequences are not labelled.

Labels a sequence already has are kept unless ``overwrite``. A sequence that cannot be labelled
(markers without ``ik``, or keypoints only: an inverse-kinematics fit is needed first; too short; NaN in
its kinematics; the physics failed) is reported and copied unchanged (or stops the run with ``strict``).

The corpus cannot store the solver's state, so the physics checks of
:func:`hdys.physics.validation.validate_corpus_physics` run during labelling, on the labelled
sequences of a sample (the first ``validate_sample`` of each dataset): ``validation.json`` next to the
output corpus. ``label_report.json`` lists every sequence with its status and figures.
"""
from __future__ import annotations

import dataclasses
import logging
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.interpolate import CubicSpline, make_smoothing_spline
from scipy.spatial.transform import Rotation

from hdys.physics import emg as emg_model
from hdys.physics.bodies import RajagopalBody, SmplBody, rajagopal_body, smpl_body
from hdys.physics.contact import (G, ContactDynamics, Terrain, rajagopal_contact_dynamics, rajagopal_feet,
                                  smpl_contact_dynamics, smpl_feet)
from hdys.physics.ik import marker_ik
from hdys.physics.inverse import rajagopal_state, smpl_state
from hdys.physics.locomotion import sole_points
from hdys.physics.rotations import SmplTrajectory
from hdys.physics.static_opt import static_optimization
from hdys.schema import (NAME_KEYS, RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, RAJAGOPAL_TRANSLATIONS,
                         SMPL_JOINT_NAMES, SMPL_PARENTS, Sequence)

log = logging.getLogger(__name__)

DEFAULT_MASS_KG = 70.0
DEFAULT_HEIGHT_M = 1.70  # the SMPL body's reference stature
CUTOFF_HZ = 6.0
FLOOR_PERCENTILE = 5.0
MIN_FRAMES = 5
EMG_PARAMS = emg_model.EmgParams(delay_s=0.05, tau_s=0.025, gain=np.ones(len(emg_model.LEG_CHANNELS)),
                                 baseline=np.full(len(emg_model.LEG_CHANNELS), 0.01), noise_sd=0.0)
LABELS = ("torques", "muscles", "emg")
_ROT_COLS = [i for i, n in enumerate(RAJAGOPAL_COORDINATES) if n not in RAJAGOPAL_TRANSLATIONS]
_PELVIS_TY = RAJAGOPAL_COORDINATES.index("pelvis_ty")
_HEADING = RAJAGOPAL_COORDINATES.index("pelvis_rotation")
_MUSCLE_DOFS = [i for i, n in enumerate(RAJAGOPAL_TORQUE_DOFS) if not n.startswith("lumbar")]  # lumbar: torque-driven
_NAMES_OF = {array_key: names_key for names_key, (array_key, _) in NAME_KEYS.items()}
VALIDATION_EXTRAS = ("mj_qpos", "mj_qvel", "root_residual", "contact_residual", "contact_point_force", "reserve",
                     "torque_rajagopal")


class LabelError(ValueError):
    """A sequence cannot be labelled; the message names the sequence and the reason."""


@dataclass(frozen=True)
class LabelOptions:
    """What to label and how. ``mass_kg``/``height_m`` are used where a sequence has none;
    ``floor_z`` None = estimated per sequence; ``cutoff_hz`` 0 = no smoothing; ``ik``: fit joint angles
    to the markers of sequences without smpl or joint_angles."""

    torques: bool = True
    muscles: bool = False
    emg: bool = False
    mass_kg: float | None = None
    height_m: float | None = None
    cutoff_hz: float = CUTOFF_HZ
    floor_z: float | None = None
    overwrite: bool = False
    ik: bool = False


# ---------------------------------------------------------------------------------------------------
# kinematics


def smooth(x: np.ndarray, fps: float, cutoff_hz: float = CUTOFF_HZ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Low-pass ``x`` (T, ...) along time with a cubic smoothing spline (-6 dB at ``cutoff_hz``; 0 or at
    least the Nyquist frequency: interpolating spline); returns the smoothed values and their first and
    second time derivatives (per second)."""
    t = np.arange(x.shape[0]) / fps
    flat = np.asarray(x, float).reshape(x.shape[0], -1)
    if 0 < cutoff_hz < fps / 2:
        lam = fps / (2 * np.pi * cutoff_hz) ** 4  # the spline's transfer is 1 / (1 + lam h w^4), h = 1/fps
        spline = make_smoothing_spline(t, flat, lam=lam)
    else:
        spline = CubicSpline(t, flat, axis=0)
    return tuple(spline.derivative(n)(t).reshape(x.shape) if n else spline(t).reshape(x.shape) for n in range(3))


def _quat_product_vec(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Vector part of ``conj(a) ⊗ b`` for quaternions (..., 4) stored w, x, y, z."""
    return a[..., :1] * b[..., 1:] - b[..., :1] * a[..., 1:] - np.cross(a[..., 1:], b[..., 1:])


def smpl_kinematics(smpl: np.ndarray, fps: float, pelvis_j0: np.ndarray,
                    cutoff_hz: float = CUTOFF_HZ) -> SmplTrajectory:
    """Smoothed :class:`SmplTrajectory` of SMPL parameters (T, 75) (the inverse of ``smpl_params``)."""
    t = smpl.shape[0]
    pos, vel, acc = smooth(smpl[:, :3] + pelvis_j0, fps, cutoff_hz)
    xyzw = Rotation.from_rotvec(smpl[:, 3:].reshape(-1, 3)).as_quat().reshape(t, 24, 4)
    quat = np.concatenate([xyzw[..., 3:], xyzw[..., :3]], axis=-1)
    flip = np.cumsum(np.einsum("tjk,tjk->tj", quat[1:], quat[:-1]) < 0, axis=0) % 2  # sign continuity
    quat[1:] *= np.where(flip, -1.0, 1.0)[..., None]
    q, qd, qdd = smooth(quat, fps, cutoff_hz)
    n2 = (q ** 2).sum(-1, keepdims=True)
    omega = 2 * _quat_product_vec(q, qd) / n2
    alpha = (2 * _quat_product_vec(q, qdd) - 2 * omega * (q * qd).sum(-1, keepdims=True)) / n2
    unit = q / np.sqrt(n2)
    rot = Rotation.from_quat(np.concatenate([unit[..., 1:], unit[..., :1]], -1).reshape(-1, 4)).as_matrix()
    return SmplTrajectory(pos, vel, acc, rot.reshape(t, 24, 3, 3), omega, alpha)


def rajagopal_kinematics(q: np.ndarray, fps: float, cutoff_hz: float = CUTOFF_HZ):
    """Smoothed coordinates, velocities, accelerations (T, 23) each; rotations unwrapped first."""
    q = np.asarray(q, float).copy()
    q[:, _ROT_COLS] = np.unwrap(q[:, _ROT_COLS], axis=0)
    return smooth(q, fps, cutoff_hz)


def floor_height(points: np.ndarray) -> float:
    """Floor height (m) from sole points (T, 2, 4, 3), z up: a low percentile of the lowest point per frame."""
    return float(np.percentile(points[..., 2].min(axis=(1, 2)), FLOOR_PERCENTILE))


# ---------------------------------------------------------------------------------------------------
# subject


@lru_cache(maxsize=16)
def _rajagopal(height_m: float, mass_kg: float) -> RajagopalBody:
    return rajagopal_body(height_m, mass_kg)


@lru_cache(maxsize=16)
def _smpl(height_m: float, mass_kg: float) -> SmplBody:
    return smpl_body(height_m, mass_kg)


def smpl_height_from_keypoints(seq: Sequence) -> float | None:
    """Stature (m) from SMPL joint keypoints: the median summed length of the legs' and trunk's bones
    (pelvis -> hips -> knees -> ankles, pelvis -> spine1..3 -> neck -> head) relative to the SMPL body's
    reference skeleton. None without (finite) SMPL keypoints."""
    if seq.keypoints is None or list(seq.keypoint_names or [])[:16] != list(SMPL_JOINT_NAMES[:16]):
        return None
    chain = [SMPL_JOINT_NAMES.index(n) for n in ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                                                 "right_ankle", "spine1", "spine2", "spine3", "neck", "head")]
    parents = [SMPL_PARENTS[j] for j in chain]
    lengths = np.linalg.norm(seq.keypoints[:, chain] - seq.keypoints[:, parents], axis=-1).sum(-1)
    lengths = lengths[np.isfinite(lengths)]
    if not lengths.size:
        return None
    ref = _smpl(DEFAULT_HEIGHT_M, DEFAULT_MASS_KG)
    ref_len = np.linalg.norm(ref.model.body_pos[ref.body[chain]], axis=-1).sum()
    return float(np.median(lengths) / ref_len * DEFAULT_HEIGHT_M)


def subject_size(seq: Sequence, opts: LabelOptions) -> tuple[float, float, str, str]:
    """(mass kg, height m, mass source, height source); sources: sequence, option, keypoints, default."""
    if seq.mass_kg is not None:
        mass, msrc = float(seq.mass_kg), "sequence"
    elif opts.mass_kg is not None:
        mass, msrc = float(opts.mass_kg), "option"
    else:
        mass, msrc = DEFAULT_MASS_KG, "default"
    if seq.height_m is not None:
        height, hsrc = float(seq.height_m), "sequence"
    elif opts.height_m is not None:
        height, hsrc = float(opts.height_m), "option"
    elif seq.smpl is not None and (est := smpl_height_from_keypoints(seq)) is not None and 1.0 <= est <= 2.3:
        height, hsrc = round(est, 3), "keypoints"
    else:
        height, hsrc = DEFAULT_HEIGHT_M, "default"
    return mass, height, msrc, hsrc


# ---------------------------------------------------------------------------------------------------
# one sequence


def _check_finite(seq: Sequence, key: str) -> None:
    bad = ~np.isfinite(getattr(seq, key)).all(axis=1)
    if bad.any():
        idx = np.flatnonzero(bad)
        raise LabelError(f"sequence {seq.sequence_id!r}: {key}: {len(idx)} frame(s) with NaN or inf (first {idx[0]}, "
                         f"last {idx[-1]}); fill the gaps or split the sequence before labelling")


def _figures(res: ContactDynamics, mass: float, height: float) -> dict:
    mg = mass * G
    return {"contact_fraction": [float(x) for x in res.contact.mean(0)],
            "residual_force_pct_bw_mean": float(np.linalg.norm(res.root_residual[:, :3], axis=1).mean() / mg * 100),
            "residual_moment_pct_bw_height_mean": float(np.linalg.norm(res.root_residual[:, 3:], axis=1).mean()
                                                        / (mg * height) * 100),
            "contact_solver_residual_mean": float(res.solver_residual.mean())}


def _terrain(seq: Sequence, floor: float) -> Terrain | None:
    """The sequence's platforms (``extra["terrain"]``, z-up world), their tops made relative to ``floor``."""
    boxes = seq.extra.get("terrain") if isinstance(seq.extra, dict) else None
    if boxes is None:
        return None
    boxes = np.array(boxes, float).reshape(-1, 6)
    boxes[:, 5] -= floor
    return Terrain(boxes)


def _smpl_dynamics(body: SmplBody, traj: SmplTrajectory, floor_z: float | None, seq: Sequence):
    """Contact-aware ID of an SMPL trajectory on the floor at ``floor_z`` (None: estimated) and the
    sequence's platforms, if any; returns ``(torque (T, 69), ContactDynamics, (qpos, qvel), floor)``; the
    trajectory is shifted onto z = 0."""
    floor = floor_z if floor_z is not None else floor_height(
        sole_points(body.model, smpl_feet(body), smpl_state(body, traj)[0]))
    traj.pos[:, 2] -= floor
    tau, res = smpl_contact_dynamics(body, traj, terrain=_terrain(seq, floor))
    return tau, res, smpl_state(body, traj)[:2], floor


def _rajagopal_dynamics(body: RajagopalBody, q: np.ndarray, qd: np.ndarray, qdd: np.ndarray, floor_z: float | None,
                        seq: Sequence):
    """As :func:`_smpl_dynamics` for Rajagopal coordinates (``q`` is shifted in place; OpenSim y is up)."""
    floor = floor_z if floor_z is not None else floor_height(
        sole_points(body.model, rajagopal_feet(body), rajagopal_state(body, q)))
    q[:, _PELVIS_TY] -= floor
    tau, res = rajagopal_contact_dynamics(body, q, qd, qdd, terrain=_terrain(seq, floor))
    return tau, res, rajagopal_state(body, q, qd), floor


def _check_labellable(seq: Sequence, want: set[str], use_ik: bool) -> None:
    """Raise :class:`LabelError` where ``seq`` lacks what the labels in ``want`` are computed from."""
    sid = seq.sequence_id
    if seq.smpl is None and seq.joint_angles is None and not use_ik:
        have = ", ".join(seq.kinematics) or "none"
        raise LabelError(f"sequence {sid!r}: no smpl or joint_angles (kinematics: {have}); an inverse-kinematics "
                         "fit is needed first" + (" (ik: fits markers named as in the Rajagopal body's marker set)"
                                                  if seq.markers is not None else " (from markers: not present)"))
    if seq.num_frames < MIN_FRAMES:
        raise LabelError(f"sequence {sid!r}: {seq.num_frames} frame(s); at least {MIN_FRAMES} are needed to "
                         "differentiate the kinematics")
    if seq.joint_angles is None and not use_ik and want <= {"muscles", "emg"}:
        raise LabelError(f"sequence {sid!r}: muscles and EMG need Rajagopal joint_angles (the SMPL body has no "
                         "muscles); only torques and ground forces can be labelled from smpl")
    for key in ("smpl", "joint_angles"):
        if getattr(seq, key) is not None:
            _check_finite(seq, key)


def _fit_markers(seq: Sequence, out: Sequence, row: dict, height: float, mass: float) -> np.ndarray:
    """Rajagopal joint angles fitted to ``seq``'s markers (``--ik``), also stored in ``out``; ``row["ik"]``
    gets the fit's figures."""
    try:
        joint_angles, rms, used = marker_ik(_rajagopal(height, mass), seq.marker_names, seq.markers)
    except ValueError as exc:
        raise LabelError(f"sequence {seq.sequence_id!r}: markers: {exc}") from None
    stored = joint_angles.copy()
    stored[:, _HEADING] = np.angle(np.exp(1j * stored[:, _HEADING]))  # (-pi, pi], as the corpus keeps it
    out.joint_angles, out.joint_angle_names = stored.astype(np.float32), list(RAJAGOPAL_COORDINATES)
    row["ik"] = {"markers": used, "rms_m_mean": float(np.nanmean(rms)), "rms_m_max": float(np.nanmax(rms)),
                 "frames_interpolated": int(np.isnan(rms).sum())}
    return joint_angles


def _smpl_labels(seq: Sequence, opts: LabelOptions, labels: dict, row: dict, height: float, mass: float):
    """SMPL torques into ``labels``, figures into ``row``; returns the ground state ``(res, state, floor)``."""
    body = _smpl(height, mass)
    j0 = np.asarray(seq.extra.get("smpl_transl_origin", body.pelvis_j0), float)
    tau, res, state, floor = _smpl_dynamics(body, smpl_kinematics(seq.smpl, seq.fps, j0, opts.cutoff_hz),
                                            opts.floor_z, seq)
    labels["torque_smpl"] = tau
    row["smpl"] = {"floor_z": floor, **_figures(res, mass, height)}
    return res, state, floor


def _rajagopal_labels(seq: Sequence, opts: LabelOptions, want: set[str], joint_angles: np.ndarray, out: Sequence,
                      labels: dict, row: dict, height: float, mass: float):
    """Rajagopal torques and, if wanted, muscle activations and EMG by static optimisation into ``labels``
    (solver state into ``out.extra``, figures into ``row``); returns the ground state ``(res, state, floor)``."""
    body = _rajagopal(height, mass)
    q, qd, qdd = rajagopal_kinematics(joint_angles, seq.fps, opts.cutoff_hz)
    tau, res, state, floor = _rajagopal_dynamics(body, q, qd, qdd, opts.floor_z, seq)
    labels["torque_rajagopal"] = tau
    row["rajagopal"] = {"floor_z": floor, **_figures(res, mass, height)}
    out.extra["torque_rajagopal"] = tau
    if want & {"muscles", "emg"}:
        so = static_optimization(body, q, qd, tau)
        out.extra["reserve"] = so.reserve
        row["rajagopal"]["reserve_rms_nm_muscle_dofs"] = float(np.sqrt(np.mean(so.reserve[:, _MUSCLE_DOFS] ** 2)))
        if "muscles" in want:
            labels["muscle_activation"], labels["muscle_names"] = so.activation, list(so.muscle_names)
        if "emg" in want:
            labels["emg"], labels["emg_names"] = emg_model.emg_from_activation(
                so.activation, so.muscle_names, seq.fps, EMG_PARAMS, np.random.default_rng(0))
    return res, state, floor


def _ground_labels(ground, labels: dict, out: Sequence) -> None:
    """GRF, CoP (back in the sequence's floor height) and contact into ``labels``, the contact solver's state
    into ``out.extra``."""
    res, (qpos, qvel), floor = ground
    cop = res.cop.copy()
    cop[..., 2] += floor
    labels.update(grf=res.grf, cop=cop, cop_moment=res.cop_moment, contact=res.contact)
    out.extra.update(root_residual=res.root_residual, contact_residual=res.solver_residual,
                     contact_point_force=res.point_force, mj_qpos=qpos, mj_qvel=qvel)


def _store_labels(seq: Sequence, out: Sequence, labels: dict, overwrite: bool, row: dict) -> list[str]:
    """Set ``labels`` (and their names) on ``out``, keeping what ``seq`` already has unless ``overwrite``;
    returns the keys written."""
    written, kept = [], []
    for key, value in labels.items():
        if key.endswith("_names"):
            continue
        if getattr(seq, key) is not None and not overwrite:
            kept.append(key)
            continue
        setattr(out, key, value)
        if key in _NAMES_OF:
            setattr(out, _NAMES_OF[key], labels[_NAMES_OF[key]])
        written.append(key)
    if kept:
        row["notes"].append(f"kept the sequence's own {', '.join(kept)} (overwrite to replace)")
    return written


def label_sequence(seq: Sequence, opts: LabelOptions = LabelOptions()) -> tuple[Sequence, dict]:
    """The labelled copy of ``seq`` (its ``extra`` holds the solver state the physics checks need) and a
    report row. Raises :class:`LabelError` when nothing requested can be labelled."""
    want = {k for k in LABELS if getattr(opts, k)}
    if not want:
        raise ValueError("nothing to label: ask for at least one of torques, muscles, emg")
    use_ik = seq.smpl is None and seq.joint_angles is None and opts.ik and seq.markers is not None
    _check_labellable(seq, want, use_ik)
    mass, height, msrc, hsrc = subject_size(seq, opts)
    out = dataclasses.replace(seq, extra=dict(seq.extra), mass_kg=mass, height_m=height)
    row: dict = {"sequence_id": seq.sequence_id, "dataset": seq.dataset, "frames": seq.num_frames,
                 "fps": float(seq.fps), "mass_kg": mass, "mass_source": msrc, "height_m": height,
                 "height_source": hsrc, "cutoff_hz": opts.cutoff_hz, "notes": []}
    joint_angles = _fit_markers(seq, out, row, height, mass) if use_ik else seq.joint_angles
    labels: dict[str, np.ndarray | list] = {}
    ground = None
    if seq.smpl is not None and "torques" in want:
        ground = _smpl_labels(seq, opts, labels, row, height, mass)
    if joint_angles is not None:
        ground = _rajagopal_labels(seq, opts, want, joint_angles, out, labels, row, height, mass)
    elif want & {"muscles", "emg"}:
        row["notes"].append("muscles/EMG not labelled: they need Rajagopal joint_angles")
    if ground is not None:
        _ground_labels(ground, labels, out)
    if "torques" not in want:
        for key in ("torque_smpl", "torque_rajagopal", "grf", "cop", "cop_moment", "contact"):
            labels.pop(key, None)
    written = _store_labels(seq, out, labels, opts.overwrite, row)
    row["labels"] = (["joint_angles"] if use_ik else []) + written
    return out, row


# ---------------------------------------------------------------------------------------------------
# a corpus


_WORKER: dict = {}


def _init_worker(src: str) -> None:
    from hdys.store import Corpus
    _WORKER["corpus"] = Corpus(src)


def _label_one(args: tuple[str, LabelOptions]) -> tuple[Sequence, dict, str | None]:
    """(sequence to write, report row, error message or None) for one sequence id of the worker's corpus."""
    sid, opts = args
    seq = _WORKER["corpus"].read(sid)
    try:
        out, row = label_sequence(seq, opts)
        row["status"] = "labelled" if row["labels"] else "unchanged"
        return out, row, None
    except Exception as exc:  # noqa: BLE001 - reported per sequence (raised with strict by the caller)
        reason = str(exc) if isinstance(exc, LabelError) else \
            f"sequence {sid!r}: labelling failed: {type(exc).__name__}: {exc}"
        return seq, {"sequence_id": sid, "dataset": seq.dataset, "frames": seq.num_frames, "status": "skipped",
                     "reason": reason}, reason


def label_corpus(src: str | Path, out: str | Path, opts: LabelOptions = LabelOptions(), *, strict: bool = False,
                 workers: int = 1, progress: bool = True, validate: bool = True,
                 validate_sample: int = 20) -> dict:
    """Label every sequence of the corpus ``src`` and write them to the corpus ``out`` (resumable: ids
    already in ``out`` are left alone; one labelling of ``out`` at a time). Writes ``out/label_report.json``
    and, with ``validate``, ``out/validation.json``; returns the summary (also in the report)."""
    from hdys.locks import holding

    src, out = Path(src), Path(out)
    if src.resolve() == out.resolve():
        raise ValueError(f"--out {out} is the input corpus; labels go to a new corpus (pick another directory)")
    with holding(out, "this hdys label"):
        return _label_corpus(src, out, opts, strict, workers, progress, validate, validate_sample)


def _label_corpus(src: Path, out: Path, opts: LabelOptions, strict: bool, workers: int, progress: bool,
                  validate: bool, validate_sample: int) -> dict:
    from tqdm import tqdm

    from hdys.store import Corpus, write_corpus

    corpus = Corpus(src)
    done = set()
    if (out / "manifest.json").exists():
        done = {e.sequence_id for e in Corpus(out).entries()}
    ids = [e.sequence_id for e in corpus.entries() if e.sequence_id not in done]
    rows: list[dict] = []
    sample: dict[str, list[Sequence]] = {}

    def results() -> Iterator[tuple[Sequence, dict, str | None]]:
        jobs = [(sid, opts) for sid in ids]
        if workers > 1:
            pool = ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(str(src),))
            try:
                yield from pool.map(_label_one, jobs)
            finally:  # a --strict stop does not wait for the queued sequences
                pool.shutdown(wait=True, cancel_futures=True)
        else:
            _init_worker(str(src))
            yield from map(_label_one, jobs)

    def labelled() -> Iterator[Sequence]:
        bar = tqdm(total=len(ids), disable=not progress, unit="seq", desc=f"labelling {src.name}")
        try:
            for seq, row, error in results():
                bar.update(1)
                rows.append(row)
                if error is not None:
                    if strict:
                        raise LabelError(error)
                    log.warning("not labelled: %s", error)
                elif validate and "mj_qpos" in seq.extra and len(sample.setdefault(seq.dataset, [])) < validate_sample:
                    sample[seq.dataset].append(_light(seq))
                yield _without_state(seq)
        finally:
            bar.close()

    write_corpus(out, labelled(), strict=strict, progress=False)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("labelled", "unchanged", "skipped")}
    summary = {"source": str(src), "out": str(out), "already_in_out": len(done), **counts,
               "options": dataclasses.asdict(opts),
               "defaults_used": {"mass_kg": sum(r.get("mass_source") == "default" for r in rows),
                                 "height_m": sum(r.get("height_source") == "default" for r in rows)}}
    if validate:
        from hdys.physics.validation import validate_corpus_physics
        seqs = [s for v in sample.values() for s in v]
        report = validate_corpus_physics(seqs) if seqs else {"passed": False, "domains": {},
                                                             "note": "no sequence was labelled"}
        report["sampled_sequences"] = {d: [s.sequence_id for s in v] for d, v in sample.items()}
        _write_json(out / "validation.json", report)
        summary["validation_passed"] = bool(report["passed"])
    _write_json(out / "label_report.json", {"summary": summary, "sequences": rows})
    return summary


def _without_state(seq: Sequence) -> Sequence:
    return dataclasses.replace(seq, extra={k: v for k, v in seq.extra.items() if k not in VALIDATION_EXTRAS})


def _light(seq: Sequence) -> Sequence:
    """The labelled sequence without the (large, unneeded) markers and keypoints, for the physics checks."""
    return dataclasses.replace(seq, markers=None, keypoints=None, extra=dict(seq.extra))


def _write_json(path: Path, obj: dict) -> None:
    from hdys.report import jsonable
    from hdys.store import atomic_write_json
    atomic_write_json(path, jsonable(obj))

"""AddBiomechanics ``.b3d`` subject files (Werling et al., ECCV 2024), read with nimblephysics' ``SubjectOnDisk``.

A ``.b3d`` (nimblephysics ``dart/biomechanics/SubjectOnDisk``) is an 8-byte little-endian header length, a
protobuf header (subject mass and height, the ground-force bodies, one OpenSim model text per processing
pass, the trials with their time step and per-frame missing-GRF flags), then one record per frame: the
sensor data (marker observations) and one record per processing pass of the trial (``pos``, ``acc``,
``tau``, ground contact force / centre of pressure per ground-force body, joint centres, ...).
Everything is in the OpenSim ground frame (y up), SI units.

One file is one subject (AddBiomechanics splits long subjects into ``<name>_split<i>.b3d`` files; the
suffix is dropped from the subject id, so the splits stay in one train/test split); one trial is one
``Sequence`` (id ``<root>/<file>/<trial name>``, rate ``1 / timestep``).

Processing passes: AddBiomechanics writes KINEMATICS (marker inverse kinematics), LOW_PASS_FILTER and
DYNAMICS (poses and body mass adjusted to agree with the measured GRF); a trial keeps the passes that
succeeded. Everything of a trial is taken from its DYNAMICS pass, so angles and torques agree. A trial
without one gives kinematics only, from its last pass, and the report says so: its GRF is unchecked
(AddBiomechanics#316: the missing-GRF flags of such trials are never set).

| key | from | conversion |
|---|---|---|
| ``joint_angles`` | ``pos`` of the DoFs named like ``RAJAGOPAL_COORDINATES`` | none (rad; ``pelvis_t*`` m in the OpenSim frame, as the ``opensim`` reader); other DoFs (arms) reported as skipped, a missing one is an error |
| ``torque_rajagopal`` | ``tau`` of ``RAJAGOPAL_TORQUE_DOFS`` | N m as stored |
| ``grf``, ``cop``, ``contact`` | ``groundContactForce`` / ``CenterOfPressure`` / ``contact`` of the ground-force bodies ending in ``_l`` / ``_r`` (``calcn_l``, ``calcn_r``) | y up -> z up, (x, y, z) -> (x, -z, y); feet [left, right] |
| ``keypoints`` | ``jointCenters`` (one per skeleton joint, world frame) | y up -> z up; names and parents from the skeleton |
| ``markers`` | the trial's marker observations (a marker absent from a frame is NaN) | y up -> z up |
| ``mass_kg``, ``height_m`` | ``getMassKg()`` (option ``mass_kg`` if the file has none), ``getHeightM()`` (0 = unknown) | |

Frames without a dynamics label get NaN in ``torque_rajagopal``, ``grf`` and ``cop`` (and ``contact``
False), never zero, and are counted in the report: frames flagged by ``getMissingGRF`` (anything but
``notMissingGRF``: the GRF did not explain the motion, so ``tau`` is untrustworthy) and frames where
nimblephysics computed no inverse dynamics (``acc`` and ``tau`` exactly zero: the first and last frame of
every pass, whose accelerations central differences cannot give; nimblephysics#208).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..frames import Y_UP_TO_Z_UP
from ..schema import FEET, RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, Sequence
from .base import Context, FormatError, Reader, Unit, note, root_of, rotate_points, walk
from .markers import apply_option

INSTALL = "pip install nimblephysics==0.10.52.1"
CHUNK = 1000  # frames per readFrames call: nimblephysics' Frame objects are large
SPLIT_SUFFIX = re.compile(r"_split\d+$")
FOOT_SUFFIX = {"left": "_l", "right": "_r"}
DYNAMICS_KEYS = ("torque_rajagopal", "grf", "cop", "contact")


def _nimble():
    try:
        import nimblephysics
    except ImportError:
        raise FormatError(f"reading .b3d needs nimblephysics ({INSTALL}; with numpy<2)") from None
    return nimblephysics


def find(src: Path) -> list[Unit]:
    return [Unit(path=p, files=(p,), root=root_of(src)) for p in walk(src, lambda p: p.suffix.lower() == ".b3d")]


def open_subject(path: Path):
    """``SubjectOnDisk`` of ``path``; a file too short for its own header is refused before nimble sees it."""
    nimble = _nimble()
    size = path.stat().st_size
    if size < 8:
        raise FormatError(f"empty or shorter than the 8-byte header length of a .b3d ({size} bytes)")
    with open(path, "rb") as f:
        header = int.from_bytes(f.read(8), "little")
    if header > size - 8:
        raise FormatError(f"truncated or not a .b3d: its first 8 bytes give a header of {header} bytes, "
                          f"the file has {size}")
    try:
        return nimble.biomechanics.SubjectOnDisk(str(path))
    except (RuntimeError, ValueError) as exc:
        raise FormatError(f"nimblephysics cannot parse the .b3d header (corrupt?): {_details(exc)}") from None


def _details(exc: Exception) -> str:
    """nimblephysics prints why it failed on stdout and raises a bare 'Caught an unknown exception!'."""
    return f"{exc} (nimblephysics printed the details on stdout)"


def skeleton(subject):
    """The skeleton of the last processing pass that carries an OpenSim model (they share DoFs and joints)."""
    for p in reversed(range(subject.getNumProcessingPasses())):
        if subject.getOpensimFileText(p).strip():
            skel = subject.readSkel(p, ignoreGeometry=True)
            if skel is not None:
                if skel.getNumDofs() != subject.getNumDofs():
                    raise FormatError(f"the model of processing pass {p} has {skel.getNumDofs()} DoFs, "
                                      f"the header says {subject.getNumDofs()}")
                return skel
    raise FormatError("no processing pass carries a readable OpenSim model, so the DoFs cannot be named")


def joint_tree(skel) -> tuple[list[str], np.ndarray]:
    """Joint names and each joint's parent joint index (-1 for the root), in the skeleton's joint order."""
    names, parents = [], []
    for i in range(skel.getNumJoints()):
        joint = skel.getJoint(i)
        body = joint.getParentBodyNode()
        names.append(joint.getName())
        parents.append(-1 if body is None else body.getParentJoint().getJointIndexInSkeleton())
    return names, np.asarray(parents, np.int64)


def foot_bodies(bodies: list[str]) -> list[int] | None:
    """Index of the one ground-force body of each foot (FEET order), or None if a foot has not exactly one."""
    idx = []
    for foot in FEET:
        match = [i for i, b in enumerate(bodies) if b.endswith(FOOT_SUFFIX[foot])]
        if len(match) != 1:
            return None
        idx.append(match[0])
    return idx


@dataclass
class TrialArrays:
    """One pass of one trial, y up: pos/acc/tau (T, D), force/cop (T, B, 3), contact (T, B), centres (T, J, 3)."""

    pass_type: str
    pos: np.ndarray
    acc: np.ndarray
    tau: np.ndarray
    force: np.ndarray
    cop: np.ndarray
    contact: np.ndarray
    centres: np.ndarray
    marker_names: list[str]
    markers: np.ndarray  # (T, M, 3)


def read_trial(subject, trial: int, n: int, n_bodies: int, n_joints: int) -> TrialArrays:
    """The arrays of the trial's DYNAMICS pass (else its last pass), read CHUNK frames at a time."""
    nimble = _nimble()
    dyn = nimble.biomechanics.ProcessingPassType.DYNAMICS
    cols: dict[str, list] = {k: [] for k in ("pos", "acc", "tau", "force", "cop", "contact", "centres")}
    observed: list[dict] = []
    chosen, pass_type = None, ""
    for start in range(0, n, CHUNK):
        k = min(CHUNK, n - start)
        try:
            frames = subject.readFrames(trial, start, k, includeSensorData=True, includeProcessingPasses=True)
        except (RuntimeError, ValueError) as exc:
            raise FormatError(f"frames {start}..{start + k - 1} unreadable (truncated or corrupt .b3d): "
                              f"{_details(exc)}") from None
        if len(frames) != k:
            raise FormatError(f"asked for frames {start}..{start + k - 1}, nimblephysics returned {len(frames)} "
                              "(truncated .b3d?)")
        for frame in frames:
            passes = frame.processingPasses
            if chosen is None:
                types = [p.type for p in passes]
                chosen = max(i for i, t in enumerate(types) if t == dyn) if dyn in types else len(types) - 1
                pass_type = types[chosen].name
                _check_sizes(passes[chosen], n_bodies, n_joints)
            fp = passes[chosen]
            cols["pos"].append(np.asarray(fp.pos))
            cols["acc"].append(np.asarray(fp.acc))
            cols["tau"].append(np.asarray(fp.tau))
            cols["force"].append(np.asarray(fp.groundContactForce).reshape(n_bodies, 3))
            cols["cop"].append(np.asarray(fp.groundContactCenterOfPressure).reshape(n_bodies, 3))
            cols["contact"].append(np.asarray(fp.contact).reshape(n_bodies))
            cols["centres"].append(np.asarray(fp.jointCenters).reshape(n_joints, 3))
            observed.append(dict(frame.markerObservations))
    names = list(dict.fromkeys(m for obs in observed for m in obs))
    markers = np.full((n, len(names), 3), np.nan)
    for t, obs in enumerate(observed):
        for j, m in enumerate(names):
            if m in obs:
                markers[t, j] = obs[m]
    return TrialArrays(pass_type=pass_type, marker_names=names, markers=markers,
                       **{k: np.stack(v) for k, v in cols.items()})


def _check_sizes(fp, n_bodies: int, n_joints: int) -> None:
    for field, per, count, what in (("groundContactForce", 3, n_bodies, "ground-force bodies"),
                                    ("groundContactCenterOfPressure", 3, n_bodies, "ground-force bodies"),
                                    ("contact", 1, n_bodies, "ground-force bodies"),
                                    ("jointCenters", 3, n_joints, "skeleton joints")):
        size = np.asarray(getattr(fp, field)).size
        if size != per * count:
            raise FormatError(f"{field} has {size} values per frame, expected {per} x {count} {what}")


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    nimble = _nimble()
    subject = open_subject(unit.path)
    skel = skeleton(subject)
    dofs = [skel.getDofByIndex(i).getName() for i in range(skel.getNumDofs())]
    missing = [c for c in RAJAGOPAL_COORDINATES if c not in dofs]
    if missing:
        raise FormatError(f"the model lacks Rajagopal coordinates {missing} (its DoFs: {dofs})")
    q_idx = [dofs.index(c) for c in RAJAGOPAL_COORDINATES]
    tau_idx = [dofs.index(c) for c in RAJAGOPAL_TORQUE_DOFS]
    joint_names, parents = joint_tree(skel)
    bodies = list(subject.getGroundForceBodies())
    feet = foot_bodies(bodies)
    file_notes = []
    extra_dofs = [d for d in dofs if d not in RAJAGOPAL_COORDINATES]
    if extra_dofs:
        file_notes.append(f"DoFs {extra_dofs} are not among the 23 Rajagopal coordinates; not read")
    if feet is None:
        file_notes.append(f"ground-force bodies {bodies}: need exactly one per foot (names ending _l / _r); "
                          "grf, cop and contact not read")
    elif len(bodies) > 2:
        file_notes.append(f"ground-force bodies {[b for i, b in enumerate(bodies) if i not in feet]} are not "
                          "feet; their forces are not read (they still act in the torques)")
    mass = subject.getMassKg()
    mass = float(mass) if mass > 0 else ctx.get("mass_kg")
    height = subject.getHeightM()
    subject_id = SPLIT_SUFFIX.sub("", unit.rel)
    ok_flag = nimble.biomechanics.MissingGRFReason.notMissingGRF

    seqs: list[tuple[Sequence, list[str], str]] = []
    used_ids: set[str] = set()
    for trial in range(subject.getNumTrials()):
        name = subject.getTrialName(trial) or f"trial{trial}"
        n, dt = subject.getTrialLength(trial), subject.getTrialTimestep(trial)
        if n < 1 or subject.getTrialNumProcessingPasses(trial) < 1 or not dt > 0:
            file_notes.append(f"trial {name!r} skipped: {n} frames, {subject.getTrialNumProcessingPasses(trial)} "
                              f"processing passes, timestep {dt} s")
            continue
        try:
            arr = read_trial(subject, trial, n, len(bodies), len(joint_names))
        except FormatError as exc:
            raise FormatError(f"trial {name!r}: {exc}") from None
        sid = f"{unit.root.name}/{unit.rel}/{name}"
        sid = sid if sid not in used_ids else f"{sid}_{trial}"
        used_ids.add(sid)
        seq = Sequence(fps=1.0 / dt, sequence_id=sid, subject=subject_id, mass_kg=mass,
                       height_m=float(height) if height > 0 else None,
                       joint_angles=arr.pos[:, q_idx], joint_angle_names=list(RAJAGOPAL_COORDINATES),
                       keypoints=rotate_points(arr.centres, Y_UP_TO_Z_UP), keypoint_names=joint_names,
                       keypoint_parents=parents)
        seq.extra["b3d_pass"] = arr.pass_type
        took = ["joint_angles", "keypoints"]
        if arr.marker_names:
            seq.markers = rotate_points(arr.markers, Y_UP_TO_Z_UP)
            seq.marker_names, mapped = apply_option(list(arr.marker_names), ctx.get("marker_names"))
            if mapped and mapped not in file_notes:
                file_notes.append(mapped)
            took.append("markers")
        reason = _dynamics(seq, arr, subject.getMissingGRF(trial), ok_flag, tau_idx, feet, mass)
        took += [k for k in DYNAMICS_KEYS if getattr(seq, k) is not None]
        seqs.append((seq, took, f"trial {name!r}: {reason}" if reason else ""))
    if not seqs:
        raise FormatError("no usable trial" + (f" ({'; '.join(file_notes)})" if file_notes else " (the file has none)"))
    for seq, took, reason in seqs:
        dropped = {key: text for key, text in (("", "; ".join(file_notes)), (unit.path, reason)) if text}
        yield note(seq, {unit.path: took}, dropped)


def _dynamics(seq: Sequence, arr: TrialArrays, flags, ok_flag, tau_idx: list[int], feet: list[int] | None,
              mass: float | None) -> str:
    """Set the dynamics of ``seq`` from a DYNAMICS pass, NaN on unlabelled frames; return what was left out."""
    if arr.pass_type != "DYNAMICS":
        return f"no DYNAMICS pass (dynamics failed or disabled); kinematics only, from its {arr.pass_type} pass"
    if mass is None:
        return "no body mass in the file (option mass_kg); dynamics not read"
    n = len(arr.pos)
    flags = list(flags)
    if len(flags) not in (0, n):
        raise FormatError(f"getMissingGRF gives {len(flags)} flags for {n} frames")
    flagged = np.array([f != ok_flag for f in flags] if flags else [False] * n)
    no_id = ~arr.acc.any(axis=1) & ~arr.tau.any(axis=1)
    bad = flagged | no_id
    if bad.all():
        return f"all {n} frames lack a dynamics label (missing GRF or no inverse dynamics); dynamics not read"
    seq.torque_rajagopal = np.where(bad[:, None], np.nan, arr.tau[:, tau_idx])
    if feet is not None:
        seq.grf = rotate_points(np.where(bad[:, None, None], np.nan, arr.force[:, feet]), Y_UP_TO_Z_UP)
        seq.cop = rotate_points(np.where(bad[:, None, None], np.nan, arr.cop[:, feet]), Y_UP_TO_Z_UP)
        seq.contact = (arr.contact[:, feet] > 0) & ~bad[:, None]
    parts = []
    if flagged.any():
        reasons = Counter(f.name for f, b in zip(flags, flagged) if b)
        parts.append(f"{int(flagged.sum())} of {n} frames flagged missing GRF "
                     f"({', '.join(f'{r}: {c}' for r, c in sorted(reasons.items()))})")
    if (no_id & ~flagged).any():
        parts.append(f"{int((no_id & ~flagged).sum())} frame(s) without inverse dynamics (acc and tau zero: "
                     "first/last frame of the pass)")
    return " and ".join(parts) + " -> NaN torque, grf and cop (contact False)" if parts else ""


READER = Reader(name="addbiomechanics", find=find, read=read, options=("mass_kg", "marker_names"),
                summary="AddBiomechanics .b3d (nimblephysics): Rajagopal angles, torques, GRF/CoP, markers, "
                        "joint centres")

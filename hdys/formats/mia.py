"""Muscles in Action (Chiquier & Vondrick, ICCV 2023) clip folders -> keypoints, smpl, emg.

Layout (``MIADatasetOfficial/{train,val}/SubjectK/<Exercise>/<clip>/``), one 30-frame clip at 30 fps
per folder, pose from VIBE run on the video:

* ``emgvalues.npy`` (8, T): sEMG envelope per channel in ``MIA_EMG_CHANNELS`` order (``emgvaluesstd.npy``
  is used when ``emgvalues.npy`` is absent) -> ``emg`` (T, 8).
* ``joints3d.npy`` (T, 49, 3): VIBE/SPIN joints, metres, camera axes; the first 25 are OpenPose BODY_25
  -> ``keypoints`` (T, 25, 3) with ``BODY25_NAMES`` / ``BODY25_PARENTS`` (root MidHip).
* ``pose.npy`` (T, 72): SMPL axis-angles (global orient + 23 joints) in camera axes -> ``smpl`` with zero
  translation (VIBE gives no metric root trajectory).

Axes: the camera frame is x right, y down, z forward (away from the camera). The world is taken as the
camera's, turned so that z is up and y forward: (x, y, z)_cam -> (x, z, -y)_world (rotation about x,
det +1). The SMPL global orientation is rotated the same way (R_world = C R_cam). This assumes a level
camera; MiA's cameras are roughly level, tripod mounted.

Subject = the ``SubjectK`` folder of the path. The dataset's train/val folders split clips, not
subjects, so no split is set here (the corpus splits by subject). MiA has no body mass, but the schema
requires one with dynamics: option ``mass_kg``, else a nominal ``NOMINAL_MASS_KG`` (70 kg), reported;
EMG envelopes are not mass-normalised, so this only satisfies the schema.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.spatial.transform import Rotation

from ..schema import BODY25_NAMES, BODY25_PARENTS, MIA_EMG_CHANNELS, Sequence
from .base import Context, FormatError, Reader, Unit, note, root_of, rotate_points, walk

FPS = 30.0
NOMINAL_MASS_KG = 70.0
CAMERA_TO_WORLD = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
FILES = ("emgvalues.npy", "emgvaluesstd.npy", "joints3d.npy", "pose.npy")
SUBJECT = re.compile(r"^Subject\d+$", re.IGNORECASE)


def find(src: Path) -> list[Unit]:
    clips = sorted({p.parent for p in walk(src, lambda p: p.name in FILES)})
    units = []
    for clip in clips:
        files = [clip / f for f in FILES if (clip / f).is_file()]
        if (clip / "emgvalues.npy").is_file():
            files = [f for f in files if f.name != "emgvaluesstd.npy"]
        units.append(Unit(path=clip, files=tuple(files), root=root_of(src) if src.is_dir() else clip.parent))
    return units


def _load(path: Path, shape: tuple) -> np.ndarray:
    """An npy array whose shape matches ``shape`` (None = any size)."""
    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise FormatError(f"{path.name}: not a readable npy array ({exc})") from None
    if x.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, x.shape)):
        want = "(" + ", ".join("T" if s is None else str(s) for s in shape) + ")"
        raise FormatError(f"{path.name}: expected shape {want}, got {x.shape}")
    return x.astype(np.float64)


def subject_of(clip: Path) -> str:
    return next((p for p in reversed(clip.parts) if SUBJECT.match(p)), clip.parent.parent.name)


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    clip = unit.path
    seq = Sequence(fps=FPS, sequence_id=f"{unit.root.name}/{unit.rel}", subject=subject_of(clip))
    took: dict[Path, list[str]] = {}
    dropped: dict = {}
    for f in unit.files:
        if f.name.startswith("emgvalues"):
            seq.emg, seq.emg_names = _load(f, (len(MIA_EMG_CHANNELS), None)).T, list(MIA_EMG_CHANNELS)  # (T, 8)
            took[f] = ["emg"]
        elif f.name == "joints3d.npy":
            j = _load(f, (None, None, 3))
            if j.shape[1] < 25:
                raise FormatError(f"{f.name}: expected at least the 25 BODY_25 joints, got shape {j.shape}")
            seq.keypoints = rotate_points(j[:, :25], CAMERA_TO_WORLD)  # (T, 25, 3)
            seq.keypoint_names, seq.keypoint_parents = list(BODY25_NAMES), np.asarray(BODY25_PARENTS)
            took[f] = ["keypoints"]
        elif f.name == "pose.npy":
            pose = _load(f, (None, 72))
            root = Rotation.from_matrix(CAMERA_TO_WORLD) * Rotation.from_rotvec(pose[:, :3])
            seq.smpl = np.concatenate([np.zeros((len(pose), 3)), root.as_rotvec(), pose[:, 3:]], axis=1)  # (T, 75)
            took[f] = ["smpl"]
    lengths = {f.name: len(getattr(seq, k[0])) for f, k in took.items()}
    if len(set(lengths.values())) > 1:
        raise FormatError(f"clip files disagree on the number of frames: {lengths}")
    if not seq.kinematics:
        raise FormatError("clip has no kinematics (joints3d.npy or pose.npy)")
    if seq.emg is not None:
        seq.mass_kg = float(ctx.get("mass_kg", NOMINAL_MASS_KG))
        if ctx.get("mass_kg") is None:
            dropped[""] = f"body mass unknown; nominal {NOMINAL_MASS_KG:g} kg assumed (EMG is not mass-normalised)"
    yield note(seq, took, dropped)


READER = Reader(name="mia", find=find, read=read, options=("mass_kg",),
                summary="Muscles in Action clip folders -> BODY_25 keypoints, smpl (zero translation), 8-channel emg")

"""GroundLink (Han et al., SIGGRAPH Asia 2023) preprocessed trials -> smpl, per-foot grf and cop, mass.

Layout (``GRF/ProcessedData/``): ``S{1..7}/preprocessed/<trial>.pth`` (e.g.
``s007_20220705_hopping_1.pth``), each a ``torch.save`` dict, and ``subjects.csv`` with columns ``Id``
(``S1``..), ``Gender``, ``Age``, ``Height`` (cm), ``Shoe Length``, ``Arm Length``, ``Weight`` (kg),
``Insoles Size``. A trial holds (F frames, MoSh++ SMPL-X fits of optical mocap, world z up, metres):

* ``angles`` (F, 22, 3): SMPL-X axis-angles of the root and the 21 body joints (``poses[:, 1:]`` too).
  SMPL's joints 1..21 are the same; SMPL's hands (22, 23) are set to zero (jaw, eyes and fingers were
  dropped by GroundLink's preprocessing) -> ``smpl`` rotations.
* ``trans`` (F, 1, 3): the pelvis position in the world (MoSh++ ``trans`` + the model's rest pelvis
  offset) -> ``smpl[:, :3]``.
* ``GRF`` (F, 2, 3), feet [left, right]: force-plate force in kN (the plates' N x 0.1 x 0.01), sign
  flipped to the force on the body, world axes -> ``grf`` in N (x 1000).
* ``CoP`` (F, 2, 3): centre of pressure in m, in the heading frame of the pelvis (rotation about z by the
  root's yaw, origin the pelvis projected to the ground); ``to_global`` (F, 4, 4) maps it back ->
  ``cop`` in the world.
* ``framerate``: 250 fps (force plates at 2000 Hz, low-passed at 20 Hz and decimated by 8).
  ``shape``, ``gender``, ``to_global_rot`` and the heading-frame ``poses[:, 0]`` are not needed.

Mass: the subject's ``Weight`` in the nearest ``subjects.csv`` above the trial, else option
``mass_kg``, else the trial is skipped. Subject = the ``S<k>`` folder above the file (else the trial
name's ``s00k_`` prefix). Split: the HDyS protocol (fine-tune on subjects 1-6, evaluate on 7):
``S7`` -> "test", the others "train".

``.pth`` files are read with ``torch.load(weights_only=True)`` (tensors and plain containers only),
allowing numpy's array reconstruction for the ``gender`` string array; no code in a file is executed.
A GroundLinkNet prediction file (a ``prediction`` key) is not a recording and is skipped.
"""
from __future__ import annotations

import csv
import functools
import re
from pathlib import Path
from typing import Iterator

import numpy as np

from ..schema import Sequence
from .base import Context, FormatError, Reader, Unit, note, root_of, walk
from .imdy import checked_array

FPS = 250.0
SUBJECTS_FILE = "subjects.csv"
GRF_TO_NEWTON = 1000.0  # stored in kN
MAX_GRF_KN = 20.0  # |GRF| above this is not in kN (a human pushes well under 20 kN)
TEST_SUBJECTS = ("S7",)
SUBJECT_DIR = re.compile(r"^S(\d+)$", re.IGNORECASE)
SUBJECT_PREFIX = re.compile(r"^s0*(\d+)_", re.IGNORECASE)
HAND_NOTE = "SMPL hand joints 22, 23 set to zero (GroundLink keeps only the 22 SMPL-X body joints)"


def _safe_globals() -> list:
    """numpy names a GroundLink .pth may hold (its ``gender`` is a 0-d numpy string array)."""
    import numpy.core.multiarray as ma  # noqa: PLC0415 - numpy<2 spelling; numpy 2 keeps an alias
    names = [ma._reconstruct, (ma._reconstruct, "numpy._core.multiarray._reconstruct"), np.ndarray, np.dtype]
    return names + [getattr(np.dtypes, n) for n in getattr(np.dtypes, "__all__", ())]


def _short(exc: Exception) -> str:
    """The informative line of torch's long weights-only / zip error messages."""
    boiler = ("Weights only load failed", "Please file an issue", "Check the documentation", "(1)", "(2)",
              "Re-running", "WeightsUnpickler error:")
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(boiler)]
    return (useful or lines or [type(exc).__name__])[0].split(". ")[0][:300]


def load(path: Path) -> dict:
    """The trial dict of a GroundLink .pth, tensors as float64 numpy arrays."""
    import pickle  # noqa: PLC0415

    import torch  # noqa: PLC0415
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            d = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, OSError) as exc:
        # a zip cut short inside its records raises OSError (EINVAL) from the stream reader's seek
        raise FormatError(f"not a readable torch .pth file (truncated or corrupt?): {_short(exc)}") from None
    if not isinstance(d, dict):
        raise FormatError(f"expected a dict of arrays, got {type(d).__name__}")
    return {k: v.detach().double().numpy() if isinstance(v, torch.Tensor) else v for k, v in d.items()}


def _get(d: dict, key: str, shape: tuple, finite: bool = True) -> np.ndarray:
    if key not in d:
        raise FormatError(f"missing key {key!r} (has {sorted(map(str, d))})")
    return checked_array(d[key], key, shape, finite)


@functools.lru_cache(maxsize=8)
def subjects(csv_path: Path) -> dict[str, dict]:
    """Id (upper case) -> row of a GroundLink subjects.csv."""
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise FormatError(f"{csv_path}: unreadable ({exc})") from None
    if rows and "Id" not in rows[0]:
        raise FormatError(f"{csv_path}: expected an 'Id' column, got {list(rows[0])}")
    return {row["Id"].strip().upper(): row for row in rows if row.get("Id")}


def subject_of(path: Path) -> str:
    for folder in list(path.parents)[:3]:  # S<k>/preprocessed/<trial>.pth, or S<k>/<trial>.pth
        m = SUBJECT_DIR.match(folder.name)
        if m:
            return f"S{int(m.group(1))}"
    m = SUBJECT_PREFIX.match(path.name)
    if m:
        return f"S{int(m.group(1))}"
    raise FormatError("cannot tell the subject: no S<k> folder just above the file and no s00<k>_ prefix in "
                      "its name")


def _number(row: dict, column: str, where: str) -> float | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        x = float(value)
    except ValueError:
        raise FormatError(f"{where}: column {column!r} is not a number: {value!r}") from None
    if not np.isfinite(x) or x <= 0:
        raise FormatError(f"{where}: column {column!r} must be a positive number, got {value!r}")
    return x


def anthropometry(path: Path, root: Path, subject: str, ctx: Context) -> tuple[float, float | None, Path | None]:
    """(mass kg, height m or None, the subjects.csv used) for the trial at ``path``."""
    top = root.parent
    csv_path = next((d / SUBJECTS_FILE for d in path.parents if (d / SUBJECTS_FILE).is_file()
                     and (d == top or top in d.parents)), None)
    row = subjects(csv_path).get(subject) if csv_path else None
    where = f"{csv_path}, subject {subject}"
    mass = _number(row, "Weight", where) if row else None
    height = _number(row, "Height", where) if row else None
    if mass is None:
        mass = ctx.get("mass_kg")
    if mass is None:
        why = ("no subjects.csv above the trial" if csv_path is None else
               f"subject {subject} not in {csv_path}" if row is None else f"{where}: empty Weight")
        raise FormatError(f"no body mass: {why}; give mass_kg (hdys ingest groundlink --mass-kg KG)")
    if height is not None and height > 3.0:  # GroundLink's Height is in cm
        height /= 100.0
    return float(mass), height, csv_path


def find(src: Path) -> list[Unit]:
    return [Unit(path=p, files=(p,), root=root_of(src)) for p in walk(src, lambda p: p.suffix == ".pth")]


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    d = load(unit.path)
    if "prediction" in d:
        raise FormatError("a GroundLinkNet prediction file (has a 'prediction' key), not a recorded trial")
    subject = subject_of(unit.path)
    if "angles" not in d and "poses" in d:
        d["angles"] = _get(d, "poses", (None, 23, 3))[:, 1:]
    angles = _get(d, "angles", (None, 22, 3))
    F = len(angles)
    trans = _get(d, "trans", (F, 1, 3))[:, 0]
    grf = _get(d, "GRF", (F, 2, 3), finite=False)  # NaN: no label
    cop_local = _get(d, "CoP", (F, 2, 3), finite=False)
    to_global = _get(d, "to_global", (F, 4, 4))
    if np.nanmax(np.abs(grf), initial=0.0) > MAX_GRF_KN:
        raise FormatError(f"GRF: largest |force| is {np.nanmax(np.abs(grf)):.1f}; GroundLink stores kN "
                          f"(expected under {MAX_GRF_KN}); is this file already in N?")
    fps = float(np.asarray(d.get("framerate", FPS), dtype=np.float64).reshape(-1)[0])
    mass, height, csv_path = anthropometry(unit.path, unit.root, subject, ctx)
    rot, shift = to_global[:, None, :3, :3], to_global[:, None, :3, 3]  # (F, 1, 3, 3), (F, 1, 3)
    cop = np.einsum("fkij,fkj->fki", np.broadcast_to(rot, (F, 2, 3, 3)), cop_local) + shift
    smpl = np.concatenate([trans, angles.reshape(F, 66), np.zeros((F, 6))], axis=1)
    seq = Sequence(fps=fps, sequence_id=f"{subject}/{unit.path.stem}", subject=subject,
                   split="test" if subject in TEST_SUBJECTS else "train", mass_kg=mass, height_m=height,
                   smpl=smpl, grf=grf * GRF_TO_NEWTON, cop=cop)
    seq.extra["subjects_csv"] = str(csv_path) if csv_path else None
    yield note(seq, {unit.path: ["smpl", "grf", "cop", "mass_kg"]}, {"": HAND_NOTE})


READER = Reader(name="groundlink", find=find, read=read, options=("mass_kg",),
                summary="GroundLink preprocessed .pth trials (torch weights-only) + subjects.csv -> smpl, grf, cop")

"""ImDy (Liu et al., ICLR 2025) -> smpl, keypoints, markers, torque_smpl (69), per-foot grf, mass.

ImDy imitates AMASS/KIT motions with a simulated humanoid (PHC in Isaac Gym): 30 fps, world z up,
metres, one neutral SMPL body (betas 0). Two layouts (Hugging Face ``XinpengLiu/ImDy`` and the
repository's ``convert.py``), both written with ``joblib.dump``:

* raw: a folder ``raw_{train,test}/`` with ``pos.pkl``, ``rot.pkl``, ``torque.pkl``, ``grf.pkl`` and
  ``weight.pkl``, each a list over sequences (index i of every list is sequence i):
  ``pos`` (T, 24, 3) global SMPL joint positions -> ``keypoints`` (``SMPL_JOINT_NAMES``) and the root
  translation; ``rot`` (T, 24, 4) global joint quaternions, w first, in the simulator's body frames:
  the SMPL frame is ``rot * (.5, .5, .5, .5)``; local rotations ``R_parent^-1 R_joint`` -> ``smpl``;
  ``torque`` (T, 24, 3) and ``grf`` (T, 24, 3) as below; ``weight`` the body mass in kg.
* converted: one ``imdy_{train,test}/<i>.pkl`` dict per sequence: ``qpos`` (T, 24, 3) axis-angles
  (global orient + 23 local) -> ``smpl``; ``jpos`` (T, J, 3) joints of the posed SMPL model (J = 24,
  or 45/40 with smplx's extra vertex joints) -> ``keypoints``; ``mpos`` (T, 66, 3) virtual markers
  (SMPL vertices of ImDy's ``smpl_opensim_markerset``) -> ``markers`` named ``MARKER_NAMES``;
  ``torque``, ``grf`` as in the raw lists; optional ``weight``. ``cand.pkl`` (an index) is not a sequence.

Conversions:

* ``smpl[:, :3]`` is the pelvis position in the world (raw ``pos[:, 0]``, converted ``jpos[:, 0]``);
  for the SMPL ``transl`` parameter subtract the model's rest pelvis offset.
* ``torque`` (T, 24, 3): ImDy stores, per 30 fps frame, the sum of the torques of its two 60 Hz
  simulator steps; ``torque_smpl`` = half of it (the mean torque over the frame, N m), root dropped
  (joints 1..23 -> 69 values), components as stored (the simulator's joint axes).
* ``grf`` (T, 24, 3): contact force (N, world) on each SMPL body; a foot is its ankle + foot body:
  left = bodies 7 + 10, right = 8 + 11 -> ``grf`` (T, 2, 3) [left, right]. Force on other bodies
  (hands, knees, ...) is dropped and reported. ImDy gives no centre of pressure.
* mass: ``weight``, else option ``mass_kg``, else ImDy's own default ``DEFAULT_MASS_KG`` (reported).

Split: the folder name (``raw_train``/``imdy_train`` -> "train", ``*_test`` -> "test") is ImDy's
official split and is kept. ImDy has no subject ids.

Safety: joblib files are pickles (optionally zlib/gzip/bz2/xz/lzma-compressed) in which each numpy
array is a ``NumpyArrayWrapper`` record followed by the array's raw bytes. ``load_joblib`` reads them
with a restricted unpickler that allows numpy's array reconstruction (``base.NUMPY_ARRAY_CLASSES``, as
``mint.SafeUnpickler``) and the wrapper record, which it replaces by an inert stand-in; anything else
raises, so no code in a file is ever executed. joblib itself is not needed.
"""
from __future__ import annotations

import bz2
import codecs
import io
import lzma
import pickle
import re
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.spatial.transform import Rotation

from ..schema import SMPL_JOINT_NAMES, SMPL_PARENTS, Sequence
from .base import NUMPY_ARRAY_CLASSES, Context, FormatError, Reader, Unit, note, numpy_array_class, root_of, walk
from .markers import apply_option

FPS = 30.0
RAW_FILES = ("pos.pkl", "rot.pkl", "torque.pkl", "grf.pkl", "weight.pkl")
INDEX_FILE = "cand.pkl"
DEFAULT_MASS_KG = 76.3284  # ImDy dataset.py, used where a sequence has no weight
TORQUE_PER_STORED = 0.5  # stored torque = sum of the two 60 Hz simulator steps of a 30 fps frame
PRE_ROTATION = Rotation.from_quat([0.5, 0.5, 0.5, 0.5])  # (w, x, y, z) = (.5, .5, .5, .5); scipy is x, y, z, w
FOOT_BODIES = ((7, 10), (8, 11))  # [left, right] = (ankle, foot) SMPL bodies
OTHER_CONTACT_NOTE = "contact force on bodies other than the feet (hands, knees, ...) dropped"
SPLIT = re.compile(r"(?:^|_)(train|test)$")

# ImDy utils/marker_vids.py::smpl_opensim_markerset, in its order (names only).
MARKER_NAMES = (
    "STRN", "T1", "T8", "T10", "T12", "C7", "CLAV", "LANK", "RANK", "LANI", "RANI", "LASI", "RASI", "LPSI",
    "RPSI", "LSHO", "RSHO", "LTOE", "RTOE", "RHEE", "LHEE", "LKNE", "RKNE", "LKNI", "RKNI", "RIWR", "LIWR",
    "RELB", "LELB", "RELBIN", "LELBIN", "LOWR", "ROWR", "RCLAV", "LCLAV", "RFHD", "LBHD", "LFHD", "RBHD",
    "LMT1", "LMT5", "RMT1", "RMT5", "Tracking_L5", "Tracking_L4", "Tracking_L3", "Tracking_L2", "Tracking_L1",
    "Tracking_T11", "Tracking_T9", "Tracking_T7", "Tracking_T6", "Tracking_T5", "Tracking_T4", "Tracking_T3",
    "Tracking_T2", "rthumb", "rindex", "rmiddle", "rring", "rpinky", "lthumb", "lindex", "lmiddle", "lring",
    "lpinky",
)
# smplx's extra vertex joints after SMPL's 24 (face keypoints only in the older smplx releases), with the
# SMPL joint each hangs from.
FACE_JOINTS = (("nose", 15), ("right_eye", 15), ("left_eye", 15), ("right_ear", 15), ("left_ear", 15))
FEET_HAND_JOINTS = (
    ("left_big_toe", 10), ("left_small_toe", 10), ("left_heel", 7), ("right_big_toe", 11),
    ("right_small_toe", 11), ("right_heel", 8), ("left_thumb", 22), ("left_index", 22), ("left_middle", 22),
    ("left_ring", 22), ("left_pinky", 22), ("right_thumb", 23), ("right_index", 23), ("right_middle", 23),
    ("right_ring", 23), ("right_pinky", 23),
)
JOINT_SETS = {24: (), 40: FEET_HAND_JOINTS, 45: FACE_JOINTS + FEET_HAND_JOINTS}

# --------------------------------------------------------------------------------------------------
# restricted joblib unpickling


class _ArrayWrapper:
    """Inert stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper``: receives its pickled attributes
    (``shape``, ``order``, ``dtype``, ``numpy_array_alignment_bytes``, ...) and nothing else."""

    def read(self, stream: io.BufferedIOBase) -> np.ndarray:
        dtype, shape, order = self.__dict__.get("dtype"), self.__dict__.get("shape"), self.__dict__.get("order", "C")
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple):
            raise pickle.UnpicklingError("joblib array record without a dtype and a shape")
        if dtype.hasobject:
            raise pickle.UnpicklingError("joblib array of Python objects (refusing to unpickle its contents)")
        if self.__dict__.get("numpy_array_alignment_bytes") is not None:  # joblib >= 1.2: padding
            pad = stream.read(1)
            if len(pad) != 1 or len(stream.read(pad[0])) != pad[0]:
                raise EOFError("file ends inside the padding before an array")
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        here = stream.tell()
        left = stream.seek(0, io.SEEK_END) - here
        stream.seek(here)
        if not 0 <= size <= left:
            raise EOFError(f"file ends inside an array of shape {shape} ({left} of {size} bytes left)")
        data = stream.read(size)
        array = np.frombuffer(data, dtype=dtype)
        array = array.reshape(shape[::-1]).T if order == "F" else array.reshape(shape)
        return array.astype(dtype.newbyteorder("="), copy=True)


class JoblibUnpickler(pickle._Unpickler):  # the pure-Python unpickler: BUILD can be extended
    """Allow-list unpickler for joblib files (and plain pickles of numpy arrays)."""

    dispatch = pickle._Unpickler.dispatch.copy()
    WRAPPERS = {("joblib.numpy_pickle", "NumpyArrayWrapper"), ("sklearn.externals.joblib.numpy_pickle",
                                                                "NumpyArrayWrapper")}

    def __init__(self, stream: io.BufferedIOBase):
        super().__init__(stream)
        self.stream = stream

    def find_class(self, module: str, name: str):
        if (module, name) in self.WRAPPERS:
            return _ArrayWrapper
        if (module, name) in NUMPY_ARRAY_CLASSES:
            return numpy_array_class(module, name)
        if (module, name) == ("_codecs", "encode"):  # bytes in protocol 0-2 pickles
            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not a numpy array building block)")

    def load_build(self):
        super().load_build()
        if isinstance(self.stack[-1], _ArrayWrapper):  # the array's bytes follow in the stream
            self.stack[-1] = self.stack[-1].read(self.stream)

    dispatch[pickle.BUILD[0]] = load_build


COMPRESSED = ((b"\x1f\x8b", "gzip"), (b"\x78", "zlib"), (b"BZ", "bz2"), (b"\xfd7zXZ", "xz"), (b"\x5d\x00", "lzma"))


def load_joblib(path: Path):
    """The object in a joblib (or plain pickle) file of numpy arrays, without executing any code."""
    with open(path, "rb") as f:
        head = f.read(5)
        f.seek(0)
        kind = next((k for magic, k in COMPRESSED if head.startswith(magic)), None)
        if head.startswith(b"\x04\x22\x4d\x18"):
            raise FormatError("lz4-compressed joblib file: not supported (re-save it with compress='zlib' or none)")
        if head.startswith(b"ZF"):
            raise FormatError("joblib < 0.9.3 file format: not supported (re-save it with a current joblib)")
        if kind is None:
            return JoblibUnpickler(f).load()
        raw = f.read()
    try:
        if kind in ("gzip", "zlib"):
            data = zlib.decompressobj(wbits=47).decompress(raw)  # 47: zlib or gzip header
        elif kind == "bz2":
            data = bz2.decompress(raw)
        else:
            data = lzma.decompress(raw)
    except (zlib.error, OSError, lzma.LZMAError, EOFError) as exc:
        raise FormatError(f"corrupt {kind} compression ({exc})") from None
    return JoblibUnpickler(io.BytesIO(data)).load()


def _load(path: Path):
    try:
        return load_joblib(path)
    except FormatError as exc:
        raise FormatError(f"{path.name}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, IndexError, ValueError,
            KeyError, MemoryError) as exc:
        raise FormatError(f"{path.name}: not a readable joblib/pickle file (truncated or corrupt?): "
                          f"{type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# conversion


def checked_array(x, key: str, shape: tuple, finite: bool = True) -> np.ndarray:
    """x as float64 of ``shape`` (an int is fixed, None is free: T first, then J); raises ``FormatError``
    naming ``key`` on a wrong shape, no frames, or (with ``finite``) NaN/inf."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(f"{key}: expected a numeric array, got {type(x).__name__}") from None
    if a.ndim != len(shape) or any(s is not None and n != s for n, s in zip(a.shape, shape)):
        want = ", ".join(str(s) if s is not None else "T" if i == 0 else "J" for i, s in enumerate(shape))
        raise FormatError(f"{key}: expected shape ({want}), got {a.shape}")
    if len(a) == 0:
        raise FormatError(f"{key}: no frames")
    bad = ~np.isfinite(a)
    if finite and bad.any():
        raise FormatError(f"{key}: contains NaN/inf (first at index {tuple(int(i) for i in np.argwhere(bad)[0])})")
    return a


def smpl_from_quaternions(rot: np.ndarray) -> np.ndarray:
    """rot (T, 24, 4) global simulator-frame quaternions (w, x, y, z) -> SMPL axis-angles (T, 72):
    global orient, then each joint relative to its parent."""
    norm = np.linalg.norm(rot, axis=-1)
    if np.abs(norm - 1).max() > 1e-2:
        raise FormatError(f"rot: expected unit quaternions (w, x, y, z), norms range "
                          f"{norm.min():.3g}..{norm.max():.3g}")
    T = len(rot)
    glob = Rotation.from_quat(rot[..., [1, 2, 3, 0]].reshape(-1, 4)) * PRE_ROTATION  # SMPL frames, (T*24,)
    mats = glob.as_matrix().reshape(T, 24, 3, 3)
    parents = np.asarray(SMPL_PARENTS)
    local = np.einsum("tjba,tjbc->tjac", mats[:, np.maximum(parents, 0)], mats)  # R_parent^T R_joint
    local[:, 0] = mats[:, 0]
    return Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(T, 72)


def feet_grf(grf: np.ndarray) -> tuple[np.ndarray, float]:
    """grf (T, 24, 3) per SMPL body -> (T, 2, 3) [left, right], and the largest force (N) on another body."""
    feet = np.stack([grf[:, a] + grf[:, b] for a, b in FOOT_BODIES], axis=1)
    others = np.delete(grf, [i for pair in FOOT_BODIES for i in pair], axis=1)
    return feet, float(np.linalg.norm(others, axis=-1).max(initial=0.0))


def _mass(weight, ctx: Context, where: str) -> tuple[float, str]:
    if weight is None:
        if ctx.get("mass_kg") is not None:
            return float(ctx.get("mass_kg")), ""
        return DEFAULT_MASS_KG, f"no weight: ImDy's default mass {DEFAULT_MASS_KG} kg used"
    try:
        mass = float(np.asarray(weight, dtype=np.float64).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        raise FormatError(f"{where}: expected a body mass in kg, got {weight!r}") from None
    if not np.isfinite(mass) or mass <= 0:
        raise FormatError(f"{where}: expected a positive body mass in kg, got {mass!r}")
    return mass, ""


def _sequence(smpl, keypoints, names, parents, torque, grf, mass: float, split: str,
              sid: str) -> tuple[Sequence, str]:
    feet, other = feet_grf(grf)
    seq = Sequence(fps=FPS, sequence_id=sid, split=split, mass_kg=mass, smpl=smpl, keypoints=keypoints,
                   keypoint_names=list(names), keypoint_parents=np.asarray(parents),
                   torque_smpl=TORQUE_PER_STORED * torque[:, 1:].reshape(len(torque), 69), grf=feet)
    seq.extra["grf_other_bodies_max_n"] = other
    return seq, (OTHER_CONTACT_NOTE if other > 1e-6 else "")


def _split(folder: str) -> str:
    m = SPLIT.search(folder)
    return m.group(1) if m else ""


def read_raw(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    lists = {}
    for f in unit.files:
        obj = _load(f)
        if not isinstance(obj, (list, tuple)):
            raise FormatError(f"{f.name}: expected a list over sequences, got {type(obj).__name__}")
        lists[f.stem] = obj
    missing = [k for k in ("pos", "rot", "torque", "grf") if k not in lists]
    if missing:
        raise FormatError(f"raw ImDy folder lacks {[k + '.pkl' for k in missing]}")
    counts = {k: len(v) for k, v in lists.items()}
    if len(set(counts.values())) != 1:
        raise FormatError(f"the lists have different numbers of sequences: {counts}")
    notes = [] if "weight" in lists else [
        f"no weight.pkl: mass from option mass_kg or ImDy's default {DEFAULT_MASS_KG} kg"]
    split = _split(unit.path.name)
    for i in range(counts["pos"]):
        where = f"sequence {i}"
        pos = checked_array(lists["pos"][i], f"pos.pkl[{i}]", (None, 24, 3))
        T = len(pos)
        rot = checked_array(lists["rot"][i], f"rot.pkl[{i}]", (T, 24, 4))
        torque = checked_array(lists["torque"][i], f"torque.pkl[{i}]", (T, 24, 3))
        grf = checked_array(lists["grf"][i], f"grf.pkl[{i}]", (T, 24, 3))
        try:
            smpl_rot = smpl_from_quaternions(rot)
        except FormatError as exc:
            raise FormatError(f"{where}: {exc}") from None
        mass, _ = _mass(lists["weight"][i] if "weight" in lists else None, ctx, f"weight.pkl[{i}]")
        smpl = np.concatenate([pos[:, 0], smpl_rot], axis=1)
        seq, dropped = _sequence(smpl, pos, SMPL_JOINT_NAMES, SMPL_PARENTS, torque, grf, mass, split,
                                 f"{unit.rel}/{i}")
        took = {f: {"pos": ["keypoints", "smpl"], "rot": ["smpl"], "torque": ["torque_smpl"], "grf": ["grf"],
                    "weight": ["mass_kg"]}[f.stem] for f in unit.files}
        reasons = [r for r in notes + [dropped] if r]
        yield note(seq, took, {"": "; ".join(reasons)} if reasons else None)


def read_converted(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    d = _load(unit.path)
    if not isinstance(d, dict):
        raise FormatError(f"expected a dict with keys qpos, jpos, mpos, torque, grf, got {type(d).__name__}")
    missing = [k for k in ("qpos", "jpos", "torque", "grf") if k not in d]
    if missing:
        raise FormatError(f"missing key(s) {missing} (has {sorted(map(str, d))})")
    qpos = checked_array(d["qpos"], "qpos", (None, 24, 3))
    T = len(qpos)
    jpos = checked_array(d["jpos"], "jpos", (T, None, 3))
    torque = checked_array(d["torque"], "torque", (T, 24, 3))
    grf = checked_array(d["grf"], "grf", (T, 24, 3))
    reasons = []
    J = jpos.shape[1]
    if J < 24:
        raise FormatError(f"jpos: expected at least the 24 SMPL joints, got shape {jpos.shape}")
    extra = JOINT_SETS.get(J)
    if extra is None:
        reasons.append(f"jpos joints 24..{J - 1} dropped (unknown extra joint set of {J - 24})")
        jpos, extra = jpos[:, :24], ()
    names = SMPL_JOINT_NAMES + tuple(n for n, _ in extra)
    parents = SMPL_PARENTS + tuple(p for _, p in extra)
    mass, why = _mass(d.get("weight"), ctx, "weight")
    smpl = np.concatenate([jpos[:, 0], qpos.reshape(T, 72)], axis=1)
    seq, dropped = _sequence(smpl, jpos, names, parents, torque, grf, mass, _split(unit.path.parent.name),
                             f"{unit.root.name}/{unit.rel}")
    took = ["smpl", "keypoints", "torque_smpl", "grf"] + (["mass_kg"] if "weight" in d else [])
    if "mpos" in d:
        seq.markers = checked_array(d["mpos"], "mpos", (T, len(MARKER_NAMES), 3))
        seq.marker_names, mapped = apply_option(list(MARKER_NAMES), ctx.get("marker_names"))
        reasons.append(mapped)
        took.insert(0, "markers")
    else:
        reasons.append("no mpos: no markers")
    reasons = [r for r in reasons + [why, dropped] if r]
    yield note(seq, {unit.path: took}, {"": "; ".join(reasons)} if reasons else None)


# --------------------------------------------------------------------------------------------------
# reader


def find(src: Path) -> list[Unit]:
    root = root_of(src)
    pkls = walk(src, lambda p: p.suffix == ".pkl" and p.name != INDEX_FILE)
    raw_dirs = sorted({p.parent for p in pkls if p.name in ("pos.pkl", "rot.pkl")})
    units = [Unit(path=d, files=tuple(d / f for f in RAW_FILES if (d / f).is_file()), root=root) for d in raw_dirs]
    units += [Unit(path=p, files=(p,), root=root) for p in pkls if p.parent not in raw_dirs]
    return sorted(units, key=lambda u: str(u.path))


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    return read_raw(unit, ctx) if unit.path.is_dir() else read_converted(unit, ctx)


READER = Reader(name="imdy", find=find, read=read, options=("mass_kg", "marker_names"),
                summary="ImDy raw joblib lists or converted per-sequence pickles (safe unpickler) -> smpl, "
                        "keypoints, markers, torque_smpl, grf")

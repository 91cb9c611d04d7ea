"""The canonical ``Sequence`` record (schema version 1).

Every source format is converted into this record; everything downstream (store, features, model)
reads only this. All arrays are per frame, float32, SI units, world frame z up.

Shape legend: T frames, M markers, K keypoints, N muscles, C EMG channels.

| key | shape | unit |
|---|---|---|
| fps | scalar | 1/s |
| mass_kg, height_m | scalar | kg, m |
| markers, marker_names | (T,M,3), (M,) | m, NaN = occluded |
| keypoints, keypoint_names, keypoint_parents | (T,K,3), (K,), (K,) | m, parent index (-1 = root), no cycles |
| joint_angles, joint_angle_names | (T,23), (23,) | rad (pelvis_tx/ty/tz in m), OpenSim definitions |
| smpl | (T,75) | root translation m (3), global orient (3), 23 joints axis-angle (69), rad |
| torque_rajagopal | (T,17) | N m, the 17 non-root Rajagopal DoFs |
| torque_smpl | (T,69) | N m, 23 non-root SMPL joints x 3, in the joint's parent frame |
| muscle_activation, muscle_names | (T,N), (N,) | [0, 1] |
| emg, emg_names | (T,C), (C,) | envelope, arbitrary positive units |
| grf, cop, contact | (T,2,3), (T,2,3), (T,2) | N, m, bool; feet ordered [left, right] |
| cop_moment | (T,2,3) | N m, each foot's ground moment about its CoP (the free moment; optional) |

NaN in a dynamics array marks a frame without a label (e.g. a gap); such frames are masked out of
losses and metrics. NaN in ``markers`` or ``keypoints`` marks an occluded point.

Keypoints may follow any tree; the named ones (``KEYPOINT_TREES``: SMPL-24, Rajagopal joint centres,
COCO-17, OpenPose BODY_25) keep their convention's own index order, and ``keypoint_subtree`` gives the
part of a tree that a body or a source has. Marker sets are free: names say which marker it is.
"""
from __future__ import annotations

import dataclasses
import enum
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 1


class SchemaError(ValueError):
    """A sequence does not match the canonical schema. The message names the key and the problem."""


class Kinematics(str, enum.Enum):
    MARKERS = "markers"
    KEYPOINTS = "keypoints"
    JOINT_ANGLES = "joint_angles"
    SMPL = "smpl"


class Dynamics(str, enum.Enum):
    TORQUE_RAJAGOPAL = "torque_rajagopal"
    TORQUE_SMPL = "torque_smpl"
    MUSCLE_ACTIVATION = "muscle_activation"
    EMG = "emg"
    GRF = "grf"


KINEMATICS = tuple(k.value for k in Kinematics)
DYNAMICS = tuple(d.value for d in Dynamics)

# Rajagopal 2015 lower body + lumbar, coordinate order as in AddBiomechanics' armless model.
RAJAGOPAL_COORDINATES = (
    "pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz",
    "hip_flexion_r", "hip_adduction_r", "hip_rotation_r", "knee_angle_r", "ankle_angle_r",
    "subtalar_angle_r", "mtp_angle_r",
    "hip_flexion_l", "hip_adduction_l", "hip_rotation_l", "knee_angle_l", "ankle_angle_l",
    "subtalar_angle_l", "mtp_angle_l",
    "lumbar_extension", "lumbar_bending", "lumbar_rotation",
)
RAJAGOPAL_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")  # metres; the rest radians
RAJAGOPAL_TORQUE_DOFS = RAJAGOPAL_COORDINATES[6:]  # 17 non-root DoFs

SMPL_JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hand", "right_hand",
)
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
SMPL_PARAM_NAMES = (
    ("transl_x", "transl_y", "transl_z", "global_orient_x", "global_orient_y", "global_orient_z")
    + tuple(f"{j}_{a}" for j in SMPL_JOINT_NAMES[1:] for a in "xyz")
)
SMPL_TORQUE_NAMES = SMPL_PARAM_NAMES[6:]  # 69

# Keypoint trees: names and parent indices (-1 = root) in each convention's own index order. Parents need
# not precede their children (the OpenPose and COCO orders do not); a valid tree has no cycle.
# Rajagopal joint centres (as AddBiomechanics exports them) plus neck and head centre.
RAJAGOPAL_KEYPOINTS = ("pelvis", "hip_r", "knee_r", "ankle_r", "subtalar_r", "mtp_r",
                       "hip_l", "knee_l", "ankle_l", "subtalar_l", "mtp_l", "lumbar", "neck", "head")
RAJAGOPAL_KEYPOINT_PARENTS = (-1, 0, 1, 2, 3, 4, 0, 6, 7, 8, 9, 0, 11, 12)
# COCO-17 (Lin et al. 2014, person keypoints). COCO defines a skeleton graph, not a tree; these parents are
# a spanning tree of its edges rooted at the left hip (COCO has no pelvis point).
COCO17_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)
COCO17_PARENTS = (1, 3, 4, 5, 6, 11, 12, 5, 6, 7, 8, -1, 11, 11, 12, 13, 14)
# OpenPose BODY_25 (Cao et al. 2019), OpenPose's index order and limb pairs, root MidHip.
BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip", "RHip",
    "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe",
    "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
BODY25_PARENTS = (1, 8, 1, 2, 3, 1, 5, 6, -1, 8, 9, 10, 8, 12, 13, 0, 0, 15, 16, 14, 19, 14, 11, 22, 11)
KEYPOINT_TREES: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "smpl24": (SMPL_JOINT_NAMES, SMPL_PARENTS),
    "rajagopal": (RAJAGOPAL_KEYPOINTS, RAJAGOPAL_KEYPOINT_PARENTS),
    "coco17": (COCO17_NAMES, COCO17_PARENTS),
    "body25": (BODY25_NAMES, BODY25_PARENTS),
}

# Muscles in Action's 8 sEMG channels, in the dataset's order.
MIA_EMG_CHANNELS = (
    "rightquad", "leftquad", "rightham", "leftham", "rightglutt", "leftglutt", "leftbicep", "rightbicep",
)
FEET = ("left", "right")


def keypoint_subtree(tree: str, keep) -> tuple[list[str], list[int]]:
    """The keypoints of ``KEYPOINT_TREES[tree]`` that are in ``keep``, in the tree's order, with parent
    indices into that subset: a dropped parent is replaced by its nearest kept ancestor (-1 if none)."""
    if tree not in KEYPOINT_TREES:
        raise ValueError(f"unknown keypoint tree {tree!r}; expected one of {sorted(KEYPOINT_TREES)}")
    names, parents = KEYPOINT_TREES[tree]
    keep = set(keep)
    idx = [i for i, n in enumerate(names) if n in keep]
    new = {old: j for j, old in enumerate(idx)}
    out = []
    for i in idx:
        p = parents[i]
        while p >= 0 and p not in new:
            p = parents[p]
        out.append(new[p] if p >= 0 else -1)
    return [names[i] for i in idx], out


def keypoint_cycle(parents) -> list[int]:
    """Indices on a parent cycle (empty for a valid forest); ``parents`` must already be in [-1, K)."""
    parents = [int(p) for p in parents]
    for i in range(len(parents)):
        seen, j = [], i
        while j >= 0 and j not in seen:
            seen.append(j)
            j = parents[j]
        if j >= 0:
            return seen[seen.index(j):]
    return []


@dataclass(frozen=True)
class KeySpec:
    shape: tuple[str | int, ...]  # symbols are per-sequence sizes, ints are fixed
    unit: str
    nan_ok: bool = False


ARRAY_KEYS: dict[str, KeySpec] = {
    "markers": KeySpec(("T", "M", 3), "m", nan_ok=True),
    "keypoints": KeySpec(("T", "K", 3), "m", nan_ok=True),
    "joint_angles": KeySpec(("T", 23), "rad (pelvis_t* in m)"),
    "smpl": KeySpec(("T", 75), "m / rad axis-angle"),
    "torque_rajagopal": KeySpec(("T", 17), "N m", nan_ok=True),
    "torque_smpl": KeySpec(("T", 69), "N m", nan_ok=True),
    "muscle_activation": KeySpec(("T", "N"), "1 (0..1)", nan_ok=True),
    "emg": KeySpec(("T", "C"), "envelope", nan_ok=True),
    "grf": KeySpec(("T", 2, 3), "N", nan_ok=True),
    "cop": KeySpec(("T", 2, 3), "m", nan_ok=True),
    "cop_moment": KeySpec(("T", 2, 3), "N m", nan_ok=True),
    "contact": KeySpec(("T", 2), "bool"),
}
# Plausibility ranges, one row per schema key: a value outside is a unit or scaling mistake (millimetres
# for metres, degrees for radians, N mm for N m), not a movement, and is refused by ``validate``. The
# bounds are far outside what bodies do (joint moments of landings and sprints reach ~10 N m/kg, ground
# forces ~10 body weights) and inside what the usual mistakes produce.
MAX_FPS = 10_000.0  # frames per second (optical motion capture runs at 50-2000)
PLAUSIBLE = {
    "markers": "|coordinate| <= 100 m; the points of a frame spread over >= 0.05 m (median frame)",
    "keypoints": "as markers",
    "joint_angles": "rotations other than the pelvis' within +-pi rad (+-180 deg); pelvis rotations +-4 pi; "
                    "|pelvis_tx|, |pelvis_tz| <= 100 m, |pelvis_ty| <= 5 m",
    "smpl": "|translation| <= 100 m; |axis-angle component| <= 4 pi rad",
    "torque_rajagopal": "|moment| / mass_kg <= 50 N m/kg",
    "torque_smpl": "|moment| / mass_kg <= 50 N m/kg",
    "muscle_activation": "in [0, 1]",
    "grf": "|force| <= 20 body weights (mass_kg x 9.81 N)",
    "cop": "|coordinate| <= 100 m",
    "cop_moment": "|moment| / mass_kg <= 50 N m/kg",
    "fps": f"0 < fps <= {MAX_FPS:.0f}",
    "mass_kg": "10 to 400 kg",
    "height_m": "0.5 to 2.6 m",
}
MAX_COORDINATE_M, MIN_SPREAD_M, MAX_PELVIS_HEIGHT_M = 100.0, 0.05, 5.0
MAX_MOMENT_PER_KG, MAX_FORCE_BW = 50.0, 20.0

NAME_KEYS = {  # names array -> (array key, axis the names index)
    "marker_names": ("markers", 1),
    "keypoint_names": ("keypoints", 1),
    "joint_angle_names": ("joint_angles", 1),
    "muscle_names": ("muscle_activation", 1),
    "emg_names": ("emg", 1),
}
SCALAR_KEYS = ("fps", "mass_kg", "height_m")
META_KEYS = ("sequence_id", "dataset", "split")
SPLITS = ("train", "test")


@dataclass
class Sequence:
    """One recording in canonical form. Arrays are ``None`` where a representation is absent."""

    fps: float
    sequence_id: str = ""
    dataset: str = ""
    split: str = ""
    subject: str = ""  # used for subject-wise splits; not part of the exported npz
    mass_kg: float | None = None
    height_m: float | None = None
    markers: np.ndarray | None = None
    marker_names: list[str] | None = None
    keypoints: np.ndarray | None = None
    keypoint_names: list[str] | None = None
    keypoint_parents: np.ndarray | None = None
    joint_angles: np.ndarray | None = None
    joint_angle_names: list[str] | None = None
    smpl: np.ndarray | None = None
    torque_rajagopal: np.ndarray | None = None
    torque_smpl: np.ndarray | None = None
    muscle_activation: np.ndarray | None = None
    muscle_names: list[str] | None = None
    emg: np.ndarray | None = None
    emg_names: list[str] | None = None
    grf: np.ndarray | None = None
    cop: np.ndarray | None = None
    cop_moment: np.ndarray | None = None
    contact: np.ndarray | None = None
    extra: dict = field(default_factory=dict)  # free-form provenance, never read by the model

    @property
    def num_frames(self) -> int:
        for key in ARRAY_KEYS:
            value = getattr(self, key)
            if value is not None:
                return int(value.shape[0])
        return 0

    @property
    def kinematics(self) -> list[str]:
        return [k for k in KINEMATICS if getattr(self, k) is not None]

    @property
    def dynamics(self) -> list[str]:
        return [d for d in DYNAMICS if getattr(self, d) is not None]

    def slice(self, start: int, stop: int) -> "Sequence":
        """Frames ``start:stop`` of every per-frame array; names and scalars are shared."""
        changes = {k: getattr(self, k)[start:stop] for k in ARRAY_KEYS if getattr(self, k) is not None}
        return dataclasses.replace(self, **changes)


def _where(seq: Sequence, source: str | None) -> str:
    parts = [p for p in (source, seq.sequence_id and f"sequence {seq.sequence_id!r}") if p]
    return f"{' / '.join(parts)}: " if parts else ""


def validate(seq: Sequence, source: str | None = None) -> Sequence:
    """Check shapes, dtypes, units and names; convert arrays to float32 in place and return ``seq``.

    Raises ``SchemaError`` naming the source, the key, what was expected and what was found.
    """
    where = _where(seq, source)

    def fail(key: str, msg: str) -> None:
        raise SchemaError(f"{where}{key}: {msg}")

    try:
        fps = float(seq.fps)
    except (TypeError, ValueError):
        fps = float("nan")
    if not np.isfinite(fps) or not 0 < fps <= MAX_FPS:
        fail("fps", f"expected a frame rate in (0, {MAX_FPS:.0f}] 1/s, got {seq.fps!r}")
    present = [k for k in ARRAY_KEYS if getattr(seq, k) is not None]
    if not present:
        fail("(arrays)", f"no representation present; expected at least one of {', '.join(ARRAY_KEYS)}")
    _check_arrays(seq, present, fail)
    _check_names(seq, fail)
    if seq.keypoints is not None:
        _check_keypoint_parents(seq, fail)
    _check_units(seq, fail)  # plausibility after the structure (shapes, names, trees) is known to be right
    if seq.dynamics and seq.mass_kg is None:
        fail("mass_kg", f"required where dynamics are present ({', '.join(seq.dynamics)})")
    if seq.mass_kg is not None and not (10.0 <= float(seq.mass_kg) <= 400.0):
        fail("mass_kg", f"expected a body mass in kg (10..400), got {seq.mass_kg!r}")
    if seq.mass_kg is not None:
        _check_forces(seq, fail)
    if seq.height_m is not None and not (0.5 <= float(seq.height_m) <= 2.6):
        fail("height_m", f"expected a height in metres (0.5..2.6), got {seq.height_m!r}"
             + (" (centimetres?)" if float(seq.height_m) > 50 else ""))
    if seq.split and seq.split not in SPLITS:
        fail("split", f"expected one of {SPLITS}, got {seq.split!r}")
    return seq


def _check_arrays(seq: Sequence, present: list[str], fail) -> None:
    """Shapes and dtypes of the ``present`` arrays, their shared sizes (``T`` >= 1 frames); converts them in
    place (float32, ``contact`` bool)."""
    sizes: dict[str, int] = {}
    for key in present:
        spec = ARRAY_KEYS[key]
        arr = np.asarray(getattr(seq, key))
        if arr.ndim != len(spec.shape):
            fail(key, f"expected shape {_fmt(spec.shape)}, got {arr.shape}")
        for sym, n in zip(spec.shape, arr.shape):
            if isinstance(sym, int) and n != sym:
                fail(key, f"expected shape {_fmt(spec.shape)}, got {arr.shape}")
            if isinstance(sym, str):
                if sizes.setdefault(sym, n) != n:
                    fail(key, f"expected {sym}={sizes[sym]} (as in the other arrays), got shape {arr.shape}")
        if key == "contact":
            arr = arr.astype(bool)
        else:
            if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
                fail(key, f"expected a real numeric array in {spec.unit}, got dtype {arr.dtype}")
            arr = arr.astype(np.float32)
            finite = np.isfinite(arr)
            if np.isinf(arr).any():
                fail(key, f"contains infinite values (first at index {_first(~finite & ~np.isnan(arr))})")
            if not spec.nan_ok and not finite.all():
                fail(key, f"contains NaN (first at index {_first(~finite)}); NaN is only allowed in markers, "
                          "keypoints and dynamics")
        setattr(seq, key, arr)
    if sizes.get("T", 0) < 1:
        fail("(arrays)", "sequence has no frames")


def _check_names(seq: Sequence, fail) -> None:
    """The ``NAME_KEYS`` lists: one unique name per column (made ``str`` lists in place; missing joint angle
    names default to the Rajagopal coordinates, which joint angles must be in order)."""
    for names_key, (arr_key, axis) in NAME_KEYS.items():
        arr, names = getattr(seq, arr_key), getattr(seq, names_key)
        if arr is None:
            continue
        if names is None:
            if arr_key == "joint_angles":
                seq.joint_angle_names = list(RAJAGOPAL_COORDINATES)
                continue
            fail(names_key, f"required with {arr_key} (one name per column of axis {axis})")
        names = [str(n) for n in names]
        if len(names) != arr.shape[axis]:
            fail(names_key, f"expected {arr.shape[axis]} names to match {arr_key} {arr.shape}, got {len(names)}")
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            fail(names_key, f"duplicate names {dup}")
        setattr(seq, names_key, names)
    if seq.joint_angles is not None and tuple(seq.joint_angle_names) != RAJAGOPAL_COORDINATES:
        unknown = [n for n in seq.joint_angle_names if n not in RAJAGOPAL_COORDINATES]
        fail("joint_angle_names", f"expected the 23 Rajagopal coordinates in order {list(RAJAGOPAL_COORDINATES)}"
             + (f"; unknown names {unknown}" if unknown else "; got them in another order"))


def _check_keypoint_parents(seq: Sequence, fail) -> None:
    """``keypoint_parents``: a tree over the keypoints (default: all roots), made int64 in place."""
    k = seq.keypoints.shape[1]
    parents = np.full(k, -1, np.int64) if seq.keypoint_parents is None else np.asarray(seq.keypoint_parents)
    if parents.shape != (k,) or not np.issubdtype(parents.dtype, np.integer):
        fail("keypoint_parents", f"expected ({k},) integer parent indices, got {parents.dtype} {parents.shape}")
    if ((parents < -1) | (parents >= k)).any():
        fail("keypoint_parents", f"parent indices must be -1 or in [0, {k}), got {parents.tolist()}")
    cycle = keypoint_cycle(parents)
    if cycle:
        fail("keypoint_parents", f"keypoints {[seq.keypoint_names[i] for i in cycle]} (indices {cycle}) form a "
                                 "parent cycle; every keypoint must lead to a root (parent -1)")
    seq.keypoint_parents = parents.astype(np.int64)


def _largest(arr: np.ndarray) -> float:
    finite = np.abs(arr[np.isfinite(arr)])
    return float(finite.max()) if finite.size else 0.0


def _check_units(seq: Sequence, fail) -> None:
    """The ``PLAUSIBLE`` ranges of the kinematics and of the unit-free arrays."""
    for key in ("markers", "keypoints", "cop"):
        arr = getattr(seq, key)
        if arr is None:
            continue
        extent = _largest(arr)
        if extent > MAX_COORDINATE_M:
            fail(key, f"expected metres, largest |coordinate| is {extent:.1f} (millimetres? divide by 1000)")
        if key != "cop" and arr.shape[1] >= 2:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # frames where every point is missing
                spread = np.nanmax(np.nanmax(arr, axis=1) - np.nanmin(arr, axis=1), axis=1)
            spread = spread[np.isfinite(spread)]
            if spread.size and float(np.median(spread)) < MIN_SPREAD_M:
                fail(key, f"expected metres, but the {arr.shape[1]} points of a frame span only "
                          f"{float(np.median(spread)) * 1000:.1f} mm (median frame): millimetres read as metres "
                          "twice, or metres labelled as millimetres?")
    if seq.joint_angles is not None:
        q = seq.joint_angles
        for j, name in enumerate(RAJAGOPAL_COORDINATES):
            worst = _largest(q[:, j])
            if name in RAJAGOPAL_TRANSLATIONS:
                bound = MAX_PELVIS_HEIGHT_M if name == "pelvis_ty" else MAX_COORDINATE_M
                if worst > bound:
                    fail("joint_angles", f"{name}: expected metres, largest |value| is {worst:.1f} (bound "
                                         f"{bound:g} m; millimetres? divide by 1000)")
            elif worst > (4 * np.pi if name.startswith("pelvis") else np.pi + 1e-3):
                fail("joint_angles", f"{name}: expected radians, largest |angle| is {worst:.2f} (beyond "
                                     f"{'4 pi' if name.startswith('pelvis') else 'pi'}; degrees? multiply by pi/180)")
    if seq.smpl is not None:
        worst = _largest(seq.smpl[:, 3:])
        if worst > 4 * np.pi:
            fail("smpl", f"expected axis-angles in radians, largest |component| is {worst:.1f}")
        worst = _largest(seq.smpl[:, :3])
        if worst > MAX_COORDINATE_M:
            fail("smpl", f"translation: expected metres, largest |component| is {worst:.1f} (millimetres? "
                         "divide by 1000)")
    if seq.muscle_activation is not None:
        a = seq.muscle_activation[np.isfinite(seq.muscle_activation)]
        if a.size and (a.min() < -1e-3 or a.max() > 1 + 1e-3):
            fail("muscle_activation", f"expected activations in [0, 1], got range [{a.min():.3g}, {a.max():.3g}]")


def _check_forces(seq: Sequence, fail) -> None:
    """The ``PLAUSIBLE`` ranges of joint moments and ground forces, relative to body mass."""
    mass = float(seq.mass_kg)
    for key in ("torque_rajagopal", "torque_smpl", "cop_moment"):
        arr = getattr(seq, key)
        if arr is not None and _largest(arr) / mass > MAX_MOMENT_PER_KG:
            fail(key, f"expected N m, largest |moment| is {_largest(arr):.4g} N m = {_largest(arr) / mass:.3g} "
                      f"N m/kg for {mass:g} kg (bound {MAX_MOMENT_PER_KG:g}; N mm? divide by 1000)")
    if seq.grf is not None:
        with np.errstate(invalid="ignore"):
            worst = float(np.nanmax(np.linalg.norm(seq.grf, axis=-1), initial=0.0))
        if worst > MAX_FORCE_BW * mass * 9.81:
            fail("grf", f"expected N, largest |force| is {worst:.4g} N = {worst / (mass * 9.81):.3g} body weights "
                        f"for {mass:g} kg (bound {MAX_FORCE_BW:g})")


def _fmt(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"


def _first(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


# --------------------------------------------------------------------------------------------------
# npz input / output


def save_npz(seq: Sequence, path: str | Path) -> Path:
    """Write ``seq`` as an npz with exactly the schema keys present plus sequence_id, dataset, split."""
    path = Path(path)
    out: dict[str, np.ndarray] = {"fps": np.float32(seq.fps)}
    for key in ("mass_kg", "height_m"):
        if getattr(seq, key) is not None:
            out[key] = np.float32(getattr(seq, key))
    for key in ARRAY_KEYS:
        if getattr(seq, key) is not None:
            out[key] = getattr(seq, key)
    for key in NAME_KEYS:
        if getattr(seq, key) is not None:
            out[key] = np.asarray(getattr(seq, key), dtype=str)
    if seq.keypoint_parents is not None:
        out["keypoint_parents"] = np.asarray(seq.keypoint_parents, np.int64)
    for key in META_KEYS:
        out[key] = np.asarray(getattr(seq, key), dtype=str)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **out)
    tmp.replace(path)
    return path


KNOWN_NPZ_KEYS = set(ARRAY_KEYS) | set(NAME_KEYS) | set(SCALAR_KEYS) | set(META_KEYS) | {"keypoint_parents"}


def load_npz(path: str | Path, *, validate_: bool = True) -> Sequence:
    """Read a schema npz. Unknown keys, truncated archives and bad values raise ``SchemaError``."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            raw = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise SchemaError(f"{path}: file not found") from None
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise SchemaError(f"{path}: not a readable npz archive (truncated or corrupt?): {exc}") from None
    unknown = sorted(set(raw) - KNOWN_NPZ_KEYS)
    if unknown:
        raise SchemaError(f"{path}: unknown keys {unknown}; the schema keys are {sorted(KNOWN_NPZ_KEYS)}")
    if "fps" not in raw:
        raise SchemaError(f"{path}: fps: required (frames per second)")
    kwargs: dict = {}
    for key in SCALAR_KEYS:
        if key in raw:
            try:
                kwargs[key] = float(raw[key])
            except (TypeError, ValueError):
                raise SchemaError(f"{path}: {key}: expected a scalar, got shape {raw[key].shape}") from None
    for key in META_KEYS:
        if key in raw:
            kwargs[key] = str(raw[key])
    for key in ARRAY_KEYS:
        if key in raw:
            kwargs[key] = raw[key]
    for key in NAME_KEYS:
        if key in raw:
            kwargs[key] = [str(n) for n in np.atleast_1d(raw[key])]
    if "keypoint_parents" in raw:
        kwargs["keypoint_parents"] = raw["keypoint_parents"]
    if not kwargs.get("sequence_id"):
        kwargs["sequence_id"] = path.stem
    seq = Sequence(**kwargs)
    return validate(seq, source=str(path)) if validate_ else seq

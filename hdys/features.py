"""Derived features: finite differences, the canonical frame, per-window model inputs, statistics.

Paper §3.1: every kinematics representation x is used as (x, ẋ, ẍ), the derivatives taken by finite
differences. Here they are in per-second units (central differences inside, one-sided at the ends,
``numpy.gradient``), computed on the whole read span so that window edges are not special. Point sets with
centimetres of noise per frame (keypoints from video) are low-pass filtered first (``smooth_jittery_points``).

**Canonical frame.** The model must not care where the subject stands or which way it faces. For every
window hdys removes the horizontal position of the root and the heading at the window's centre frame
(world z up): a point p becomes Rz(-h) (p - o), with o = (root_x, root_y, 0) and h the heading, the
direction the body faces, measured from +x. Vectors (velocities, accelerations, ground reaction forces)
are rotated, not translated. The same (o, h) is used for every representation of a window.

Root position, first available of: the keypoint root (parent -1), the SMPL root translation, the
pelvis translation of the joint angles, the mean of the visible markers.
Heading, first available of: the hip keypoints (forward = up x (right hip - left hip)), the ASIS
markers (LASI/RASI), the SMPL global orientation (body +z), the pelvis_rotation coordinate, else 0.

Joint angles are OpenSim coordinates (y up): pelvis_tx and -pelvis_tz are the world x and y, and
pelvis_rotation is the rotation about the vertical; the canonical frame shifts and rotates the
horizontal pelvis translation and subtracts h from pelvis_rotation (exact when pelvis tilt and list are
zero, an approximation otherwise). SMPL: the root translation is shifted/rotated and the global
orientation left-multiplied by Rz(-h).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from .schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, Sequence

MARGIN = 2  # frames read on each side of a window so that its derivatives are central differences
# Version of what ``sequence_stats`` computes. Corpora record it next to the statistics they cache (per
# sequence and merged); statistics of another version are recomputed from the arrays, never used.
# Bump it whenever the features (and so their statistics) change.
FEATURE_VERSION = 3
# what changed since version 1, in words for the warning of a model trained on older features
FEATURE_CHANGES = ("2: markers and keypoints with > 5 mm of frame-to-frame noise low-pass filtered at 6 Hz; "
                   "3: at a cutoff from residual analysis instead")


def window_span(frames: int, start: int, length: int) -> tuple[int, int, int]:
    """The frames [a, b) to read for the window [start, start + length) of a sequence of ``frames``
    frames, with up to MARGIN frames on each side, and how many of them come before ``start``."""
    s = min(max(int(start), 0), frames)
    a = max(s - MARGIN, 0)
    b = min(max(int(start) + int(length) + MARGIN, s), frames)
    return a, b, s - a


def derivatives(x: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """Velocity and acceleration of ``x`` (T, ...) along time, per second. NaN propagates."""
    if x.shape[0] < 2:
        z = np.zeros_like(x)
        return z, z.copy()
    dt = 1.0 / fps
    vel = np.gradient(x, dt, axis=0)
    acc = np.gradient(vel, dt, axis=0) if x.shape[0] >= 2 else np.zeros_like(x)
    return vel.astype(np.float32), acc.astype(np.float32)


# --------------------------------------------------------------------------------------------------
# measurement noise of point trajectories

JITTER_M = 0.005  # point sets whose estimated frame-to-frame noise (m) exceeds this are low-pass filtered
# the low-pass cutoff of a jittery point set is chosen per sequence by Winter's residual analysis (Winter,
# Biomechanics and Motor Control of Human Movement, 4th ed., 2009, §3.4.4.3), within these bounds (Hz)
CUTOFF_MIN_HZ = 1.0  # slower than the slowest voluntary movements of the corpora (arm raises, sit-to-stand)
CUTOFF_MAX_FRACTION = 0.4  # of the frame rate (12 Hz at 30 fps)


def point_jitter(x: np.ndarray) -> float:
    """A robust estimate of the white measurement noise (std, m) of point trajectories ``x`` (T, P, 3).

    The fourth difference along time, ``x[t-2] - 4 x[t-1] + 6 x[t] - 4 x[t+1] + x[t+2]``, is about
    ``(2 pi f dt)^4`` times the amplitude of a motion at f Hz (0.16 for 3 Hz at 30 fps) and has std
    ``sqrt(70) sigma`` for white noise of std sigma: the median absolute fourth difference over frames, points
    and axes, scaled to a std (x 1.4826), over ``sqrt(70)``."""
    if x.shape[0] < 5:
        return 0.0
    r = np.abs(x[:-4] - 4 * x[1:-3] + 6 * x[2:-2] - 4 * x[3:-1] + x[4:])
    r = r[np.isfinite(r)]
    return float(1.4826 * np.median(r) / np.sqrt(70.0)) if r.size else 0.0


def _lowpass(x: np.ndarray, cutoff_hz: float, fps: float) -> np.ndarray:
    """``x`` (T, ...) low-pass filtered along time: 2nd-order Butterworth, forwards and backwards (no lag)."""
    from scipy.signal import butter, filtfilt
    b, a = butter(2, cutoff_hz / (fps / 2))
    return filtfilt(b, a, x, axis=0)


def residual_cutoff(x: np.ndarray, fps: float, noise: float) -> float:
    """The low-pass cutoff (Hz) of trajectories ``x`` (T, C; finite) by Winter's residual analysis: the
    residual RMS of ``x`` filtered at f (``_lowpass``, the filter then applied) falls as f rises, from
    signal and noise removed to noise alone; the cutoff is the f where it equals the noise RMS, so that the
    filter removes about as much as the noise holds and no more. Winter reads the noise RMS off a line fitted
    to the residual's high-frequency end; here it is ``noise``, the fourth-difference estimate of
    :func:`point_jitter` (they agree within ~5 % on the corpora's keypoints). Bisection between
    ``CUTOFF_MIN_HZ`` and ``CUTOFF_MAX_FRACTION * fps``, to 0.05 Hz."""
    def residual(f: float) -> float:
        return float(np.sqrt(np.mean((x - _lowpass(x, f, fps)) ** 2)))

    lo, hi = CUTOFF_MIN_HZ, CUTOFF_MAX_FRACTION * fps
    if residual(lo) <= noise:
        return lo
    if residual(hi) > noise:
        return hi
    while hi - lo > 0.05:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if residual(mid) <= noise else (mid, hi)
    return hi


def smooth_jittery_points(seq: Sequence) -> Sequence:
    """``seq`` with its markers and keypoints low-pass filtered (``_lowpass``) where their ``point_jitter`` exceeds
    ``JITTER_M``, as biomechanics filters noisy marker data before differentiating it: keypoints from video carry
    centimetres of noise per frame, which finite differences turn into accelerations of metres per second squared.
    The cutoff is chosen per sequence and point set by :func:`residual_cutoff` (a slow arm raise gets ~1 Hz, a run
    ~4 Hz, at 1.5 cm of noise and 30 fps). Clean trajectories (optical markers, simulated points) are returned as
    they are, so an impact's acceleration is kept. Missing values (NaN) are bridged for the filter and missing again
    after it. Whole sequences only: a window's features are then those of the filtered sequence, in training, in the
    statistics and in prediction."""
    changes = {}
    for key in ("markers", "keypoints"):
        x = getattr(seq, key)
        if x is None or x.shape[0] < 16 or seq.fps <= 2.5 * CUTOFF_MIN_HZ:
            continue
        noise = point_jitter(x)
        if noise <= JITTER_M:
            continue
        flat = x.reshape(x.shape[0], -1).astype(np.float64)
        ok = np.isfinite(flat)
        filled = flat.copy()
        t = np.arange(len(flat))
        for j in np.flatnonzero(~ok.all(0) & ok.any(0)):
            filled[:, j] = np.interp(t, t[ok[:, j]], flat[ok[:, j], j])
        seen = ok.any(0)  # columns never seen stay NaN and do not enter the residual
        y = _lowpass(filled, residual_cutoff(filled[:, seen], seq.fps, noise), seq.fps)
        y[~ok] = np.nan
        changes[key] = y.reshape(x.shape).astype(np.float32)
    return dataclasses.replace(seq, **changes) if changes else seq


# --------------------------------------------------------------------------------------------------
# root and heading


_LEFT = re.compile(r"(^l(eft)?[_\s]?|[_\s]l$|^l(?=[A-Z])|left)", re.IGNORECASE)
_RIGHT = re.compile(r"(^r(ight)?[_\s]?|[_\s]r$|^r(?=[A-Z])|right)", re.IGNORECASE)


def _side(name: str) -> str | None:
    if _LEFT.search(name) and not _RIGHT.search(name):
        return "left"
    if _RIGHT.search(name) and not _LEFT.search(name):
        return "right"
    return None


def _find_pair(names: list[str] | None, pattern: str) -> tuple[int, int] | None:
    """Indices of the (left, right) names matching ``pattern`` (case-insensitive), or None."""
    if not names:
        return None
    left = right = None
    for i, n in enumerate(names):
        if re.search(pattern, n, re.IGNORECASE):
            side = _side(n)
            if side == "left" and left is None:
                left = i
            elif side == "right" and right is None:
                right = i
    return (left, right) if left is not None and right is not None else None


def _heading_from_pair(points: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    across = points[:, pair[1], :2] - points[:, pair[0], :2]  # (T, 2) right minus left
    # forward = up x across = (-across_y, across_x)
    return np.arctan2(across[:, 0], -across[:, 1])


def _fill_nan(x: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN frames of a (T,) track; all-NaN gives zeros."""
    ok = np.isfinite(x)
    if ok.all():
        return x
    if not ok.any():
        return np.zeros_like(x)
    t = np.arange(len(x))
    return np.interp(t, t[ok], x[ok])


def root_track(seq: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame root horizontal position (T, 2) and heading (T,) in radians, world z up."""
    T = seq.num_frames
    root = heading = None
    if seq.keypoints is not None:
        r = int(np.argmax(np.asarray(seq.keypoint_parents) == -1)) if seq.keypoint_parents is not None else 0
        root = seq.keypoints[:, r, :2].astype(np.float64)
        pair = _find_pair(seq.keypoint_names, r"hip|femur")
        if pair is not None:
            heading = _heading_from_pair(seq.keypoints, pair)
    if root is None and seq.smpl is not None:
        root = seq.smpl[:, 0:2].astype(np.float64)
    if root is None and seq.joint_angles is not None:
        root = np.stack([seq.joint_angles[:, 3], -seq.joint_angles[:, 5]], axis=1).astype(np.float64)
    if root is None and seq.markers is not None:
        with np.errstate(invalid="ignore"), _quiet():
            root = np.nanmean(seq.markers[:, :, :2], axis=1).astype(np.float64)
    if heading is None and seq.markers is not None:
        pair = _find_pair(seq.marker_names, r"asi")
        if pair is not None:
            heading = _heading_from_pair(seq.markers, pair)
    if heading is None and seq.smpl is not None:
        fwd = Rotation.from_rotvec(seq.smpl[:, 3:6].astype(np.float64)).apply([0.0, 0.0, 1.0])
        heading = np.arctan2(fwd[:, 1], fwd[:, 0])
    if heading is None and seq.joint_angles is not None:
        heading = seq.joint_angles[:, 2].astype(np.float64)
    if root is None:
        root = np.zeros((T, 2))
    if heading is None:
        heading = np.zeros(T)
    root = np.stack([_fill_nan(root[:, 0]), _fill_nan(root[:, 1])], axis=1)
    heading = np.unwrap(_fill_nan(np.asarray(heading, np.float64)))
    return root, heading


class _quiet:
    def __enter__(self):
        import warnings
        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


# --------------------------------------------------------------------------------------------------
# canonical frame


def _rot2(h: np.ndarray) -> np.ndarray:
    """(T, 2, 2) rotations by -h about z."""
    c, s = np.cos(h), np.sin(h)
    return np.stack([np.stack([c, s], -1), np.stack([-s, c], -1)], -2)


def rotate_xy(v: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Rotate the x, y of vectors v (T, ..., 3) by -h (T,) about z."""
    R = _rot2(h)  # (T, 2, 2)
    out = v.copy()
    shape = v.shape
    flat = v.reshape(shape[0], -1, shape[-1])  # (T, P, 3)
    xy = np.einsum("tij,tpj->tpi", R, flat[..., :2])
    out.reshape(shape[0], -1, shape[-1])[..., :2] = xy
    return out


def canonicalize(seq: Sequence, origin: np.ndarray, heading: np.ndarray) -> Sequence:
    """A copy of ``seq`` expressed in the frame (origin (T,2), heading (T,)) frame by frame."""
    out = seq.slice(0, seq.num_frames)
    o3 = np.concatenate([origin, np.zeros((len(origin), 1))], axis=1)  # (T, 3)
    for key in ("markers", "keypoints"):
        p = getattr(seq, key)
        if p is not None:
            setattr(out, key, rotate_xy(p - o3[:, None, :], heading).astype(np.float32))
    if seq.smpl is not None:
        s = seq.smpl.astype(np.float64).copy()
        s[:, 0:3] = rotate_xy(s[:, 0:3] - o3, heading)
        Rz = Rotation.from_rotvec(np.stack([np.zeros_like(heading), np.zeros_like(heading), -heading], 1))
        s[:, 3:6] = (Rz * Rotation.from_rotvec(s[:, 3:6])).as_rotvec()
        out.smpl = s.astype(np.float32)
    if seq.joint_angles is not None:
        q = seq.joint_angles.astype(np.float64).copy()
        p = np.stack([q[:, 3], -q[:, 5], np.zeros(len(q))], axis=1) - o3
        p = rotate_xy(p, heading)
        q[:, 3], q[:, 5] = p[:, 0], -p[:, 1]
        q[:, 2] = np.angle(np.exp(1j * (q[:, 2] - heading)))  # wrapped to (-pi, pi]: headings may differ by 2 pi
        out.joint_angles = q.astype(np.float32)
    if seq.grf is not None:
        out.grf = rotate_xy(seq.grf, heading).astype(np.float32)
    if seq.cop is not None:
        out.cop = rotate_xy(seq.cop - o3[:, None, :], heading).astype(np.float32)
    if seq.cop_moment is not None:
        out.cop_moment = rotate_xy(seq.cop_moment, heading).astype(np.float32)
    return out


# --------------------------------------------------------------------------------------------------
# per-window model features


@dataclass
class WindowFeatures:
    """Model inputs and targets of one window, all numpy float32, canonical frame, unnormalised.

    Kinematics (x, ẋ, ẍ) per frame: ``markers`` (T, M, 9), ``keypoints`` (T, K, 9),
    ``joint_angles`` (T, 69), ``smpl`` (T, 225); point masks (T, M)/(T, K) mark visible points.
    Dynamics targets per kilogram where they scale with mass: ``torque_rajagopal`` (T, 17) N·m/kg,
    ``torque_smpl`` (T, 69) N·m/kg, ``grf`` (T, 6) N/kg, ``muscle_activation`` (T, N), ``emg`` (T, C)
    with their channel names.
    """

    dataset: str
    sequence_id: str
    start: int
    mass_kg: float | None
    heading: float = 0.0  # radians; the window's canonical frame is rotated by -heading about z
    kin: dict[str, np.ndarray] = field(default_factory=dict)
    point_mask: dict[str, np.ndarray] = field(default_factory=dict)
    dyn: dict[str, np.ndarray] = field(default_factory=dict)
    channel_names: dict[str, list[str]] = field(default_factory=dict)


def _stack_xva(x: np.ndarray, fps: float) -> np.ndarray:
    v, a = derivatives(x, fps)
    return np.concatenate([x, v, a], axis=-1)


def sequence_features(seq: Sequence, origin: np.ndarray | None = None, heading: np.ndarray | None = None,
                      crop: tuple[int, int] | None = None) -> WindowFeatures:
    """Features of ``seq`` in the frame (origin, heading), given per frame (default: each frame's own
    root). Derivatives are taken after the change of frame, so use a frame that is constant in time
    (as ``window_features`` does) unless velocities relative to the moving root are what you want.

    ``crop`` = (a, b) keeps frames a:b after the derivatives are taken (so the margin is not wasted).
    """
    if origin is None or heading is None:
        origin, heading = root_track(seq)
    c = canonicalize(seq, origin, heading)
    a, b = crop if crop is not None else (0, seq.num_frames)
    f = WindowFeatures(dataset=seq.dataset, sequence_id=seq.sequence_id, start=a, mass_kg=seq.mass_kg)
    for key in ("markers", "keypoints"):
        p = getattr(c, key)
        if p is None:
            continue
        xva = _stack_xva(p, seq.fps)[a:b]  # (T, P, 9)
        ok = np.isfinite(xva).all(-1)  # occluded points, and their neighbours' derivatives
        f.kin[key] = np.where(ok[..., None], xva, 0.0).astype(np.float32)
        f.point_mask[key] = ok
    for key in ("joint_angles", "smpl"):
        x = getattr(c, key)
        if x is not None:
            f.kin[key] = _stack_xva(x, seq.fps)[a:b].astype(np.float32)
    mass = seq.mass_kg
    if c.torque_rajagopal is not None:
        f.dyn["torque_rajagopal"] = (c.torque_rajagopal[a:b] / mass).astype(np.float32)
    if c.torque_smpl is not None:
        f.dyn["torque_smpl"] = (c.torque_smpl[a:b] / mass).astype(np.float32)
    if c.grf is not None:
        f.dyn["grf"] = (c.grf[a:b].reshape(b - a, 6) / mass).astype(np.float32)
    if c.muscle_activation is not None:
        f.dyn["muscle_activation"] = c.muscle_activation[a:b].astype(np.float32)
        f.channel_names["muscle_activation"] = list(seq.muscle_names)
    if c.emg is not None:
        f.dyn["emg"] = c.emg[a:b].astype(np.float32)
        f.channel_names["emg"] = list(seq.emg_names)
    return f


def window_features(seq: Sequence, start: int, length: int, margin_before: int) -> WindowFeatures:
    """Features of frames [margin_before, margin_before + length) of ``seq`` (a read span that includes
    up to MARGIN extra frames on each side), in the canonical frame of the window's centre."""
    root, heading = root_track(seq)
    centre = margin_before + length // 2
    T = seq.num_frames
    origin = np.repeat(root[centre][None], T, 0)
    head = np.full(T, heading[centre])
    f = sequence_features(seq, origin, head, crop=(margin_before, margin_before + length))
    f.start = start
    f.heading = float(heading[centre])
    return f


_SIDE_SWAPS = (("right", "left"), ("Right", "Left"), ("RIGHT", "LEFT"))


def mirror_name(name: str) -> str:
    """The name of the same channel or point on the other side: right/left anywhere in the name, a ``_r``
    / ``_l`` suffix or prefix (OpenSim muscles and coordinates), an ``R``/``L`` initial before a capital
    (Plug-in Gait markers, BODY_25 keypoints). A name without a side is its own mirror."""
    for a, b in _SIDE_SWAPS:
        if a in name or b in name:
            return re.sub(f"{a}|{b}", lambda m: b if m.group(0) == a else a, name)
    for a, b in (("_r", "_l"), ("_l", "_r")):
        if name.endswith(a):
            return name[:-2] + b
    for a, b in (("r_", "l_"), ("l_", "r_")):
        if name.startswith(a):
            return b + name[2:]
    if re.match(r"^[RL][A-Z]", name):
        return ("L" if name[0] == "R" else "R") + name[1:]
    return name


def _partners(names: list[str] | None) -> list[int] | None:
    """For each name, the index of its mirror partner (itself if it has no side); None if a partner is missing."""
    index = {n: i for i, n in enumerate(names or [])}
    partner = [index.get(mirror_name(n)) for n in names or []]
    return None if any(j is None for j in partner) else partner


# Rajagopal 2015 coordinates whose value changes sign in the mirror image: the rotations about the
# anterior and vertical axes and the lateral translation of the pelvis and the lumbar joint. The legs' left
# coordinates turn about mirrored axes (hip_adduction_l about -x, ...), so a left coordinate equals its
# right partner in the image (checked by inverse dynamics in tests/physics/test_dynamics.py).
RAJAGOPAL_MIRROR_NEGATED = frozenset({"pelvis_list", "pelvis_rotation", "pelvis_tz", "lumbar_bending",
                                      "lumbar_rotation"})


def mirror_coordinates(names: list[str] | tuple[str, ...]) -> tuple[list[int], np.ndarray]:
    """(partner index, sign) of each Rajagopal coordinate (or generalised force) in the mirror image."""
    partner = _partners(list(names))
    if partner is None:
        raise ValueError(f"coordinates without a mirror partner in {list(names)}")
    return partner, np.array([-1.0 if n in RAJAGOPAL_MIRROR_NEGATED else 1.0 for n in names], np.float32)


def mirror_sequence(seq: Sequence) -> Sequence | None:
    """``seq``'s mirror image in the world's x-z plane (y -> -y): the same motion with the body's left and
    right exchanged, a second training sample of the same physics for a body that is symmetric. Every
    named point, foot and channel takes its partner's values (``mirror_name``), so that a point keeps its
    name and its place in the array (the root keypoint of COCO's tree is the left hip: it must stay the left
    hip). A marker without a partner (Plug-in Gait's RBAK) stays where it is, reflected.

    Rajagopal joint angles and torques take their partner's value, negated for ``RAJAGOPAL_MIRROR_NEGATED``.
    None where ``seq`` holds something without a mirror rule here (SMPL parameters and torques, whose
    axis-angles would need their rotations reflected) or a side-named channel whose partner is missing."""
    if seq.smpl is not None or seq.torque_smpl is not None:
        return None
    changes: dict = {}
    if seq.joint_angles is not None:
        partner, sign = mirror_coordinates(RAJAGOPAL_COORDINATES)
        changes["joint_angles"] = seq.joint_angles[:, partner] * sign
    if seq.torque_rajagopal is not None:
        partner, sign = mirror_coordinates(RAJAGOPAL_TORQUE_DOFS)
        changes["torque_rajagopal"] = seq.torque_rajagopal[:, partner] * sign
    reflect = np.array([1.0, -1.0, 1.0], np.float32)
    for key, names in (("markers", seq.marker_names), ("keypoints", seq.keypoint_names)):
        x = getattr(seq, key)
        if x is not None:
            index = {n: i for i, n in enumerate(names)}
            order = [index.get(mirror_name(n), i) for i, n in enumerate(names)]
            changes[key] = x[:, order] * reflect
    for key, names in (("muscle_activation", seq.muscle_names), ("emg", seq.emg_names)):
        x = getattr(seq, key)
        if x is not None:
            partner = _partners(names)
            if partner is None:
                return None
            changes[key] = x[:, partner]
    feet = [1, 0]  # [left, right]
    for key, sign in (("grf", reflect), ("cop", reflect), ("cop_moment", -reflect)):  # a moment: pseudo-vector
        x = getattr(seq, key)
        if x is not None:
            changes[key] = x[:, feet] * sign
    if seq.contact is not None:
        changes["contact"] = seq.contact[:, feet]
    return dataclasses.replace(seq, **changes)


# --------------------------------------------------------------------------------------------------
# normalisation statistics (mergeable: count, sum, sum of squares per channel)


@dataclass
class RunningStats:
    count: np.ndarray  # (C,) float64
    total: np.ndarray  # (C,)
    total_sq: np.ndarray  # (C,)

    @classmethod
    def of(cls, x: np.ndarray) -> "RunningStats":
        """Stats of x (..., C) over all leading axes, ignoring NaN."""
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        ok = np.isfinite(x)
        x0 = np.where(ok, x, 0.0)
        return cls(ok.sum(0).astype(np.float64), x0.sum(0), (x0 * x0).sum(0))

    def merge(self, other: "RunningStats") -> "RunningStats":
        return RunningStats(self.count + other.count, self.total + other.total, self.total_sq + other.total_sq)

    def mean_std(self, floor: float = 1e-3, blocks: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and std. A channel's std is floored at ``floor`` and at 1 % of the largest
        std of its block: the channels are ``blocks`` equal consecutive blocks of one unit each (3 for
        kinematics features [x, ẋ, ẍ], whose stds differ by orders of magnitude: one floor over all
        three would let an acceleration's std shrink every position channel)."""
        n = np.maximum(self.count, 1.0)
        mean = self.total / n
        var = np.maximum(self.total_sq / n - mean * mean, 0.0)
        std = np.sqrt(var)
        if blocks < 1 or std.size % blocks:
            raise ValueError(f"{std.size} channels cannot be split into {blocks} equal blocks")
        per_block = std.reshape(blocks, -1)
        largest = per_block.max(axis=1, keepdims=True, initial=0.0)
        std = np.maximum(per_block, np.maximum(floor, 1e-2 * largest)).reshape(-1)
        return mean.astype(np.float32), std.astype(np.float32)

    def to_json(self) -> dict:
        return {"count": self.count.tolist(), "sum": self.total.tolist(), "sum_sq": self.total_sq.tolist()}

    @classmethod
    def from_json(cls, d: dict) -> "RunningStats":
        return cls(np.asarray(d["count"], np.float64), np.asarray(d["sum"], np.float64),
                   np.asarray(d["sum_sq"], np.float64))


STATS_WINDOW = 32  # frames; statistics are taken over windows as the model sees them


def sequence_stats(seq: Sequence, window: int = STATS_WINDOW) -> dict[str, RunningStats]:
    """Statistics of one sequence's features, keyed by feature name; muscle and EMG channels keyed
    ``muscle_activation/<name>`` and ``emg/<name>`` so that corpora with different subsets merge.

    The sequence is cut into consecutive windows, each in its own canonical frame, exactly as training
    reads them: velocities are then those of the body in a fixed frame (a frame that moved with the
    root every frame would take the root's velocity out of them)."""
    out: dict[str, RunningStats] = {}
    seq = smooth_jittery_points(seq)
    T = seq.num_frames
    for start in range(0, T, window):
        a, b = max(0, start - MARGIN), min(T, start + window + MARGIN)
        f = window_features(seq.slice(a, b), start, min(window, T - start), start - a)
        parts: dict[str, RunningStats] = {}
        for key, x in f.kin.items():
            if key in f.point_mask:
                x = x[f.point_mask[key]]  # visible points only, (P, 9)
            parts[key] = RunningStats.of(x)
        for key, x in f.dyn.items():
            if key in f.channel_names:
                for i, name in enumerate(f.channel_names[key]):
                    parts[f"{key}/{name}"] = RunningStats.of(x[:, i:i + 1])
            else:
                parts[key] = RunningStats.of(x)
        out = merge_stats([out, parts])
    return out


def merge_stats(parts: list[dict[str, RunningStats]]) -> dict[str, RunningStats]:
    out: dict[str, RunningStats] = {}
    for part in parts:
        for key, s in part.items():
            out[key] = out[key].merge(s) if key in out else s
    return out

"""Shared pieces of the format readers: the ``Reader`` record, units of work, errors, resampling.

A reader has two functions:

* ``find(src) -> list[Unit]``: the units of ``src`` (a file or a directory, walked sorted, so the order
  is deterministic). A unit is what becomes one or more sequences: a file, a clip folder, the files of
  one OpenSim trial.
* ``read(unit, ctx) -> Iterator[Sequence]``: the sequences of one unit, unvalidated and at the source
  frame rate. A problem with the file raises ``FormatError`` (a ``SchemaError``) whose message says what
  is wrong; ``read_source`` adds the file name, logs and skips (or re-raises when strict).

Provenance for the per-file report travels in ``Sequence.extra``:
``extra["took"] = {path: [keys]}`` (what each file of the unit contributed) and
``extra["dropped"] = {path or "": reason}`` (what was read but left out, and why).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from scipy.spatial.transform import Rotation

from ..schema import ARRAY_KEYS, SchemaError, Sequence


class FormatError(SchemaError):
    """A source file is corrupt, truncated or not in the expected layout."""



# numpy's array-building functions, the only classes a restricted unpickler of array data may resolve
# (under numpy<2 and numpy>=2 module spellings); see mint.SafeUnpickler and imdy.JoblibUnpickler
NUMPY_ARRAY_CLASSES = frozenset({
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "dtype"), ("numpy", "ndarray")})


def numpy_array_class(module: str, name: str):
    """The numpy object a pickle names by (module, name) if it is in ``NUMPY_ARRAY_CLASSES``, else None."""
    if (module, name) not in NUMPY_ARRAY_CLASSES:
        return None
    import numpy.core.multiarray as ma  # noqa: PLC0415 - numpy<2 spelling; numpy 2 keeps an alias
    import numpy.core.numeric as nu  # noqa: PLC0415
    return {"_reconstruct": ma._reconstruct, "scalar": ma.scalar, "_frombuffer": nu._frombuffer,
            "dtype": np.dtype, "ndarray": np.ndarray}[name]

@dataclass(frozen=True)
class Unit:
    """One unit of work: ``path`` names it in reports; ``files`` are all the files it reads."""

    path: Path
    files: tuple[Path, ...]
    root: Path  # the walked source root; sequence ids are relative to it

    @property
    def rel(self) -> str:
        """``path`` relative to the root, posix, without the suffix (the basis of sequence ids)."""
        try:
            rel = self.path.relative_to(self.root)
        except ValueError:
            rel = Path(self.path.name)
        rel = rel if str(rel) != "." else Path(self.path.name)
        return rel.with_suffix("").as_posix() if self.path.is_file() else rel.as_posix()


@dataclass(frozen=True)
class Context:
    """What a reader gets besides the unit: the reader's options (already checked by name)."""

    options: dict = field(default_factory=dict)

    def get(self, name: str, default=None):
        value = self.options.get(name)
        return default if value is None else value


@dataclass(frozen=True)
class Reader:
    """A registry entry. ``options`` lists the keyword options the reader understands."""

    name: str
    find: Callable[[Path], list[Unit]]
    read: Callable[[Unit, Context], Iterator[Sequence]]
    options: tuple[str, ...] = ()
    summary: str = ""


def walk(src: Path, match: Callable[[Path], bool]) -> list[Path]:
    """Files under ``src`` (or ``src`` itself) for which ``match`` holds, sorted by path."""
    if src.is_file():
        return [src] if match(src) else []
    return sorted(p for p in src.rglob("*") if p.is_file() and match(p))


def root_of(src: Path) -> Path:
    return src if src.is_dir() else src.parent


def note(seq: Sequence, took: dict[Path, list[str]], dropped: dict | None = None) -> Sequence:
    """Record provenance in ``seq.extra`` (see the module docstring)."""
    seq.extra.setdefault("took", {}).update({str(p): list(k) for p, k in took.items()})
    if dropped:
        seq.extra.setdefault("dropped", {}).update({str(p): r for p, r in dropped.items()})
    return seq


# --------------------------------------------------------------------------------------------------
# axes




def rotate_points(points: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """points (..., 3) rotated by ``rot`` (3, 3): p' = rot @ p. NaN stays NaN."""
    return np.einsum("ij,...j->...i", rot, points)


# --------------------------------------------------------------------------------------------------
# resampling

SMPL_ROTATION_SLICE = slice(3, 75)  # global orient + 23 joints, axis-angle, in smpl (T, 75)


def _grid(n: int, fps_in: float, fps_out: float) -> np.ndarray:
    """Fractional source frame indices of the output frames (same start, no extrapolation)."""
    duration = (n - 1) / fps_in
    m = int(np.floor(duration * fps_out + 1e-9)) + 1
    return np.arange(m) * (fps_in / fps_out)


def interp_linear(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """x (T, ...) sampled at fractional frame positions pos (T',). An output frame whose two neighbours
    are not both finite is NaN, so gaps are never bridged (an exact hit on a frame takes that frame)."""
    i0 = np.clip(np.floor(pos).astype(int), 0, len(x) - 1)
    i1 = np.minimum(i0 + 1, len(x) - 1)
    w = (pos - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    a, b = x[i0].astype(np.float64), x[i1].astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = a * (1 - w) + b * w
    exact = np.broadcast_to(w == 0, out.shape)
    out[exact] = a[exact]
    return out


def interp_rotvec(r: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Axis-angle r (T, J*3) at fractional positions pos: spherical interpolation between neighbours."""
    T, D = r.shape
    i0 = np.clip(np.floor(pos).astype(int), 0, T - 1)
    i1 = np.minimum(i0 + 1, T - 1)
    w = np.repeat(pos - i0, D // 3)  # (T' * J,)
    r0 = Rotation.from_rotvec(r[i0].reshape(-1, 3))
    r1 = Rotation.from_rotvec(r[i1].reshape(-1, 3))
    rel = (r0.inv() * r1).as_rotvec()  # (T' * J, 3), the shortest arc
    out = (r0 * Rotation.from_rotvec(rel * w[:, None])).as_rotvec()
    return out.reshape(len(pos), D)


def interp_nearest(x: np.ndarray, pos: np.ndarray) -> np.ndarray:
    return x[np.clip(np.rint(pos).astype(int), 0, len(x) - 1)]


def resample(seq: Sequence, fps: float) -> Sequence:
    """``seq`` at ``fps`` frames per second over the same time span (starting at its first frame).

    Positions and values (markers, keypoints, joint angles, translations, dynamics) are interpolated
    linearly, never across NaN (an output frame next to a NaN frame is NaN); SMPL rotations are slerped
    joint by joint; ``contact`` takes the nearest frame. Downsampling does not low-pass first: the
    dynamics here are smooth at mocap rates and EMG comes as an envelope.
    """
    if abs(seq.fps - fps) < 1e-9:
        return seq
    pos = _grid(seq.num_frames, seq.fps, fps)
    changes: dict = {"fps": float(fps)}
    for key in ARRAY_KEYS:
        x = getattr(seq, key)
        if x is None:
            continue
        if key == "contact":
            changes[key] = interp_nearest(x, pos)
        elif key == "smpl":
            out = interp_linear(x, pos)
            out[:, SMPL_ROTATION_SLICE] = interp_rotvec(x[:, SMPL_ROTATION_SLICE].astype(np.float64), pos)
            changes[key] = out.astype(np.float32)
        else:
            changes[key] = interp_linear(x, pos).astype(np.float32)
    out = dataclasses.replace(seq, **changes)
    out.extra = dict(seq.extra, resampled_from_fps=float(seq.fps))
    return out


def resample_to_times(x: np.ndarray, t_src: np.ndarray, t_dst: np.ndarray) -> np.ndarray:
    """x (T, ...) sampled at uniform times t_src, evaluated at times t_dst; NaN outside [t_src[0], t_src[-1]]."""
    if len(t_src) == 1:
        pos = np.where(np.abs(t_dst - t_src[0]) < 1e-9, 0.0, np.nan)
    else:
        dt = (t_src[-1] - t_src[0]) / (len(t_src) - 1)
        pos = (t_dst - t_src[0]) / dt
    inside = (pos > -1e-6) & (pos < len(t_src) - 1 + 1e-6)
    out = np.full((len(t_dst),) + x.shape[1:], np.nan)
    if inside.any():
        out[inside] = interp_linear(x, np.clip(pos[inside], 0, len(t_src) - 1))
    return out


def uniform_rate(t: np.ndarray, what: str) -> float:
    """Frame rate of a time column; raises ``FormatError`` if it is not (nearly) uniform."""
    if len(t) < 2:
        raise FormatError(f"{what}: need at least 2 rows to know the frame rate, got {len(t)}")
    dt = np.diff(t)
    step = float(np.median(dt))
    if step <= 0 or np.abs(dt - step).max() > 0.1 * step:
        raise FormatError(f"{what}: time column is not uniformly sampled (steps {dt.min():.6g}..{dt.max():.6g} s)")
    return 1.0 / step

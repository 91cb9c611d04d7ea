"""C3D motion-capture files (c3d.org, "The C3D File Format User Guide"), read with ``ezc3d``.

* Markers: ``data.points`` (4, M, T) homogeneous, labels ``POINT:LABELS`` (+ ``LABELS2``...), rate
  ``POINT:RATE``, units ``POINT:UNITS`` (``mm`` -> / 1000, ``cm``, ``m``). A residual < 0
  (``meta_points.residuals``) marks an occluded sample -> NaN. Points that are model outputs, not
  markers, are left out: those listed in ``POINT:ANGLES/FORCES/MOMENTS/POWERS/SCALARS`` and unlabelled
  points (``*12``). Axes: C3D has no fixed convention; Vicon and Qualisys labs are z up, which is taken
  as is (option ``up_axis="y"`` rotates a y-up lab, (x, y, z) -> (x, -z, y)). Names are mapped onto
  the canonical vocabulary (``formats.markers``: ``Sub01:LASI`` -> ``LASI``; option
  ``marker_names="keep"`` keeps them); names it does not know are kept and reported.
* EMG: analog channels (``ANALOG:LABELS``, rate ``ANALOG:RATE``) whose label contains ``EMG`` or a
  muscle name become ``emg``: offset removed (channel mean), full-wave rectified, low-passed (4th-order
  zero-phase Butterworth, 6 Hz), then sampled at the marker frame times (linear). The envelope is in the
  units of the analog values as ezc3d returns them ("arbitrary positive units" in the schema).
* Force plates (types 2 and 4) become per-foot ``grf`` (N, on the subject), ``cop`` (m) and ``contact``,
  each plate contact given to the foot whose heel/toe markers are nearest its centre of pressure
  (``formats.forceplates``); plates or contacts that cannot be used are reported.

EMG and GRF are dynamics, so they need a body mass: option ``mass_kg``, else ``PROCESSING:Bodymass`` (Vicon);
without either they are dropped and the report says so. Subject: ``SUBJECTS:NAMES`` if set, else the
folder name.
"""
from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Iterator

import numpy as np
from scipy.signal import butter, filtfilt

from ..frames import Y_UP_TO_Z_UP
from ..schema import Sequence
from .base import Context, FormatError, Reader, Unit, note, root_of, rotate_points, walk
from .forceplates import assign_feet, plate_forces
from .markers import apply_option

UNITS_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0}
NON_MARKER_GROUPS = ("ANGLES", "FORCES", "MOMENTS", "POWERS", "SCALARS", "REACTIONS")
EMG_LABEL = re.compile(r"emg|quad|ham|glut|bicep|tricep|vast|rect|femoris|soleus|gastro|tibial|semiten|"
                       r"semimem|deltoid|erector|pector|trapez|adductor|peroneus|sartor|gracilis",
                       re.IGNORECASE)
EMG_LOWPASS_HZ = 6.0


def _param(c, group: str, name: str, default=None):
    try:
        return c["parameters"][group][name]["value"]
    except KeyError:
        return default


def _labels(c, group: str, base: str = "LABELS") -> list[str]:
    out: list[str] = []
    for name in [base] + [f"{base}{i}" for i in range(2, 10)]:
        value = _param(c, group, name)
        if value is None:
            break
        out += [str(v).strip() for v in value]
    return out


def fill_gaps(x: np.ndarray) -> np.ndarray:
    """Missing (non-finite) samples of each channel of x (S, C) linearly interpolated from their
    neighbours, so that one lost sample does not spread over a whole filtered channel; a channel with
    no finite sample stays NaN."""
    x = x.copy()
    s = np.arange(len(x))
    for j in range(x.shape[1]):
        ok = np.isfinite(x[:, j])
        if ok.any() and not ok.all():
            x[~ok, j] = np.interp(s[~ok], s[ok], x[ok, j])
    return x


def envelope(x: np.ndarray, rate: float, t_out: np.ndarray) -> np.ndarray:
    """EMG x (S, C) at ``rate`` Hz -> envelope (len(t_out), C): gaps filled, demean, rectify, 6 Hz
    low-pass, sample."""
    x = fill_gaps(x)
    x = np.abs(x - x.mean(axis=0, keepdims=True))
    cutoff = min(EMG_LOWPASS_HZ / (rate / 2), 0.99)
    b, a = butter(4, cutoff)
    if len(x) > 3 * max(len(a), len(b)):
        x = filtfilt(b, a, x, axis=0, padlen=min(len(x) - 1, 3 * max(len(a), len(b))))
    t = np.arange(len(x)) / rate
    out = np.stack([np.interp(t_out, t, x[:, j]) for j in range(x.shape[1])], axis=1)
    return np.clip(out, 0.0, None)


def point_scale(c) -> float:
    """Metres per POINT unit (POINT:UNITS, mm when absent)."""
    unit = str((_param(c, "POINT", "UNITS") or ["mm"])[0]).strip().lower()
    if unit not in UNITS_TO_M:
        raise FormatError(f"POINT:UNITS {unit!r} not understood (expected mm, cm or m)")
    return UNITS_TO_M[unit]


def markers(c, path_up: str) -> tuple[list[str], np.ndarray, float]:
    labels = _labels(c, "POINT")
    pts = np.asarray(c["data"]["points"], np.float64)  # (4, M, T)
    if pts.ndim != 3 or pts.shape[0] < 3:
        raise FormatError(f"unexpected point array shape {pts.shape}")
    if len(labels) < pts.shape[1]:
        raise FormatError(f"POINT:LABELS has {len(labels)} labels for {pts.shape[1]} points")
    rate = float(_param(c, "POINT", "RATE", [0])[0])
    if not rate > 0:
        raise FormatError(f"POINT:RATE {rate!r} is not a frame rate")
    xyz = pts[:3].transpose(2, 1, 0) * point_scale(c)  # (T, M, 3)
    res = np.asarray(c["data"]["meta_points"]["residuals"])  # (1, M, T)
    if res.size:
        xyz[res[0].T < 0] = np.nan
    skip = {l for g in NON_MARKER_GROUPS for l in _labels(c, "POINT", g)}
    keep = [i for i, l in enumerate(labels[:pts.shape[1]]) if l and l not in skip and not l.startswith("*")]
    if path_up == "y":
        xyz = rotate_points(xyz, Y_UP_TO_Z_UP)
    return [labels[i] for i in keep], xyz[:, keep], rate


def emg(c, n_frames: int, point_rate: float) -> tuple[list[str], np.ndarray] | None:
    labels = _labels(c, "ANALOG")
    analogs = np.asarray(c["data"]["analogs"], np.float64)  # (1, A, S)
    idx = [i for i, l in enumerate(labels[:analogs.shape[1] if analogs.ndim == 3 else 0]) if EMG_LABEL.search(l)]
    if not idx:
        return None
    rate = float(_param(c, "ANALOG", "RATE", [0])[0])
    if not rate > 0:
        raise FormatError(f"ANALOG:RATE {rate!r} is not a sampling rate")
    return [labels[i] for i in idx], envelope(analogs[0, idx].T, rate, np.arange(n_frames) / point_rate)


def header_frames(path: Path) -> int | None:
    """Frames the C3D header announces (words 4 and 5: first and last frame), read from the file itself:
    ezc3d shortens its header and POINT:FRAMES to the frames it could read, so a truncated file looks
    whole through it. None when the count does not fit the 16-bit header word (POINT:FRAMES holds it)."""
    with open(path, "rb") as f:
        head = f.read(512)
        f.seek(max(head[0] - 1, 0) * 512)
        param = f.read(4)
    big = len(param) == 4 and param[3] == 83 + 3  # processor type 3 (MIPS) is big-endian; Intel and DEC not
    first, last = struct.unpack(">HH" if big else "<HH", head[6:10])
    if last >= 0xFFFF or last < first:
        return None
    return last - first + 1


def find(src: Path) -> list[Unit]:
    return [Unit(path=p, files=(p,), root=root_of(src)) for p in walk(src, lambda p: p.suffix.lower() == ".c3d")]


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    try:
        import ezc3d
    except ImportError:
        raise FormatError("reading .c3d needs ezc3d (pip install ezc3d==1.7.2)") from None
    up = ctx.get("up_axis", "z")
    if up not in ("y", "z"):
        raise ValueError(f"up_axis must be 'y' or 'z', got {up!r}")
    if unit.path.stat().st_size < 512 * 2:
        raise FormatError(f"too short for a C3D file ({unit.path.stat().st_size} bytes; truncated?)")
    with open(unit.path, "rb") as f:
        signature = f.read(2)
    if signature[1] != 0x50:  # byte 2 of every C3D header; ezc3d may try to allocate what garbage announces
        raise FormatError(f"not a C3D file (its second byte is {signature[1]:#04x}, a C3D header has 0x50)")
    try:
        c = ezc3d.c3d(str(unit.path), extract_forceplat_data=False)
    except (RuntimeError, OSError, MemoryError, ValueError) as exc:
        raise FormatError(f"not a readable C3D file (truncated or corrupt?): ezc3d says {exc}") from None
    names, xyz, rate = markers(c, up)
    expected = header_frames(unit.path)
    if expected is not None and len(xyz) < expected:
        raise FormatError(f"the file's header says {expected} frames, its data section holds {len(xyz)}: truncated?")
    took, dropped = ["markers"], []
    names, reason = apply_option(names, ctx.get("marker_names"))
    if reason:
        dropped.append(reason)
    mass = ctx.get("mass_kg", (_param(c, "PROCESSING", "Bodymass") or [None])[0])
    seq = Sequence(fps=rate, sequence_id=f"{unit.root.name}/{unit.rel}", subject=_subject(c, unit),
                   markers=xyz, marker_names=names)
    e = emg(c, len(xyz), rate)
    if e is not None and mass is None:
        dropped.append(f"EMG channels {e[0]} dropped: no body mass (option mass_kg or PROCESSING:Bodymass)")
    elif e is not None:
        seq.emg_names, seq.emg, seq.mass_kg = e[0], e[1], float(mass)
        took.append("emg")
    if not names:
        raise FormatError("no labelled markers in POINT")
    feet = ground_reaction(c, names, xyz, rate, up, dropped)
    if feet is not None and mass is None:
        dropped.append("force plates dropped: no body mass (option mass_kg or PROCESSING:Bodymass)")
    elif feet is not None:
        seq.grf, seq.cop, seq.contact = feet
        seq.mass_kg = float(mass)
        took.append("grf")
    yield note(seq, {unit.path: took}, {unit.path: "; ".join(dropped)} if dropped else None)


def ground_reaction(c, names: list[str], xyz: np.ndarray, rate: float, up: str,
                    dropped: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Per-foot (grf, cop, contact) from the force plates (``formats.forceplates``), or None when the
    file has none or none could be used; what was left out and why is appended to ``dropped``."""
    try:
        plates, reasons = plate_forces(c, len(xyz), rate, point_scale(c), up)
        dropped.extend(reasons)
        if not plates:
            return None
        grf, cop, contact, reasons = assign_feet(plates, names, xyz, rate)
    except FormatError as exc:
        dropped.append(f"force plates not converted: {exc}")
        return None
    dropped.extend(reasons)
    return grf, cop, contact


def _subject(c, unit: Unit) -> str:
    names = [n for n in (_param(c, "SUBJECTS", "NAMES") or []) if str(n).strip()]
    return str(names[0]).strip() if names else unit.path.parent.name


READER = Reader(name="c3d", find=find, read=read, options=("mass_kg", "up_axis", "marker_names"),
                summary="C3D markers (mm -> m, residual < 0 -> NaN), EMG envelopes, per-foot GRF/CoP from force plates")

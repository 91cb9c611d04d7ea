"""C3D force plates -> per-foot ground reaction force and centre of pressure (schema ``grf``, ``cop``).

Conventions (C3D.org, "The C3D File Format User Guide", FORCE_PLATFORM group; AMTI's and Kistler's
plate manuals say the same):

* ``FORCE_PLATFORM:USED`` plates; ``TYPE`` per plate; ``CHANNEL`` (6, USED) the 1-based analog
  channels of Fx, Fy, Fz, Mx, My, Mz; ``CORNERS`` (3, 4, USED) the corners in the lab frame (POINT
  units), numbered by the quadrants of the *plate* frame: +x+y, -x+y, -x-y, +x-y (which gives the
  plate axes in the lab; z = x cross y points down into the plate); ``ORIGIN`` (3, USED) the vector
  from the plate's measurement origin to the centre of its working surface, in the plate frame, so
  its z is negative for an origin below the surface; ``CAL_MATRIX`` (6, 6, USED) for type 4.
* Type 2 (AMTI style, also Bertec and Kistler digital): the channels are the force and moment
  about the measurement origin in the plate frame. Type 4: the same after [F; M] = CAL_MATRIX @
  channels. Types 1 and 3 are reported and skipped.
* Centre of pressure on the surface (plate frame, z of the surface = ORIGIN z = -z0, moments about the
  origin: M = r x F): ``x = (-My - Fx z0) / Fz``, ``y = (Mx - Fy z0) / Fz``; the lab position is the
  surface centre (mean of the corners) + R (x - ORIGIN x, y - ORIGIN y, 0), R = the plate axes.
* The channels hold the load the subject puts on the plate (C3D, AMTI); the force *on the subject* is
  its opposite, -R F. A plate whose channels hold the reaction instead (its vertical force is
  negative during contact) is flipped and the report says so.
* Units: positions in POINT:UNITS, forces N, moments per ANALOG:UNITS (``Nmm`` or ``Nm``; a blank unit
  means N x POINT units, as C3D requires); everything ends in N and m.

The analog samples of each point frame are averaged (C3D stores ANALOG:RATE / POINT:RATE samples per
frame), then the CoP is computed; a plate with a vertical force below ``CONTACT_N`` (20 N, the usual
threshold, e.g. Vicon Nexus and Visual3D) is not in contact (no force, CoP NaN). FORCE_PLATFORM:ZERO
is not applied (lab software has usually zeroed the plates already).

Feet: each contiguous contact of a plate is given to the foot whose outline (heel, metatarsal heads,
toe markers found through ``formats.markers``) is nearest to the CoP (median over the contact): within
``FOOT_RADIUS_M`` and clearly nearer than the other foot, else the contact is ambiguous (two feet on
one plate) and both feet are left unlabelled (NaN) there. A foot loading no plate has no force (0)
while it moves; while it is still (slower than ``STANCE_SPEED_M_S``, or not seen) it may stand on the
floor beside the plates, so its force is unknown (NaN, masked out of losses and metrics).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ..frames import Y_UP_TO_Z_UP
from .base import FormatError, rotate_points
from .markers import canonical_marker

CONTACT_N = 20.0
FOOT_RADIUS_M = 0.15
FOOT_MARGIN_M = 0.05
STANCE_SPEED_M_S = 0.3
FOOT_OUTLINE = ("HEE", "MT5", "TOE", "MT1")  # canonical codes, in order around the foot
MOMENT_UNITS = {"nmm": 1e-3, "nm": 1.0}


@dataclass
class PlateForce:
    """One plate at the point rate, lab frame (z up): ``force`` on the subject (T, 3) N, ``cop``
    (T, 3) m (NaN without contact), ``contact`` (T,)."""

    index: int
    force: np.ndarray
    cop: np.ndarray
    contact: np.ndarray


def _value(c, name: str) -> np.ndarray | None:
    try:
        v = np.asarray(c["parameters"]["FORCE_PLATFORM"][name]["value"])
    except KeyError:
        return None
    return v if v.size else None


def _analog_units(c) -> list[str]:
    try:
        return [str(u).strip() for u in c["parameters"]["ANALOG"]["UNITS"]["value"]]
    except KeyError:
        return []


def plate_forces(c, n_frames: int, point_rate: float, point_scale: float, up_axis: str) -> tuple[list[PlateForce], list[str]]:
    """The force plates of an ezc3d ``c`` at the point frames; second value: reasons for the report
    (plates skipped, signs flipped). ``point_scale``: metres per POINT unit."""
    used_value = _value(c, "USED")
    used = int(used_value.reshape(-1)[0]) if used_value is not None else 0
    if used <= 0:
        return [], []
    analogs = np.asarray(c["data"]["analogs"], np.float64)  # (1, A, S)
    try:
        rate = float(c["parameters"]["ANALOG"]["RATE"]["value"][0])
    except (KeyError, IndexError):
        rate = 0.0
    ratio = int(round(rate / point_rate)) if rate > 0 else 0
    if ratio < 1 or analogs.ndim != 3 or analogs.shape[2] < n_frames * ratio:
        raise FormatError(f"{used} force plate(s) but ANALOG:RATE {rate} and {analogs.shape[-1]} analog samples "
                          f"do not cover {n_frames} frames at {point_rate} Hz")
    frames = analogs[0, :, :n_frames * ratio].reshape(analogs.shape[1], n_frames, ratio).mean(axis=2)  # (A, T)
    types, channels = _value(c, "TYPE"), _value(c, "CHANNEL")
    corners, origins, cal = _value(c, "CORNERS"), _value(c, "ORIGIN"), _value(c, "CAL_MATRIX")
    units = _analog_units(c)
    plates, reasons = [], []
    for k in range(used):
        try:
            plate, flipped = _plate(k, frames, types, channels, corners, origins, cal, units, point_scale, up_axis)
        except FormatError as exc:
            reasons.append(f"force plate {k + 1} skipped: {exc}")
            continue
        plates.append(plate)
        if flipped:
            reasons.append(f"force plate {k + 1}: channels hold the reaction (vertical force negative during "
                           "contact), sign flipped")
    return plates, reasons


def _plate(k, frames, types, channels, corners, origins, cal, units, scale, up_axis) -> tuple[PlateForce, bool]:
    """Plate ``k`` (0-based) from the per-frame analog values ``frames`` (A, T); also whether it was flipped."""
    kind = int(types.reshape(-1)[k]) if types is not None and types.size > k else None
    if kind is None:
        raise FormatError("no FORCE_PLATFORM:TYPE for it")
    if kind not in (2, 4):
        raise FormatError(f"TYPE {kind} is not supported (types 2 and 4 are)")
    if channels is None or channels.ndim != 2 or channels.shape[1] <= k or channels.shape[0] < 6:
        raise FormatError("FORCE_PLATFORM:CHANNEL lacks its 6 channels")
    ch = channels[:6, k].astype(int) - 1
    if (ch < 0).any() or (ch >= len(frames)).any():
        raise FormatError(f"CHANNEL {(ch + 1).tolist()} outside the {len(frames)} analog channels")
    if corners is None or corners.ndim != 3 or corners.shape[:2] != (3, 4) or corners.shape[2] <= k:
        raise FormatError("FORCE_PLATFORM:CORNERS missing or not (3, 4, USED)")
    signals = frames[ch].T  # (T, 6)
    if kind == 4:
        if cal is None or cal.ndim != 3 or cal.shape[:2] != (6, 6) or cal.shape[2] <= k:
            raise FormatError("type 4 without a (6, 6, USED) FORCE_PLATFORM:CAL_MATRIX")
        signals = signals @ cal[:, :, k].T  # [F; M] = CAL @ v per frame
        m_scale = scale
    else:
        unit = units[ch[3]].lower().replace(".", "").replace("*", "").replace(" ", "") if len(units) > ch[3] else ""
        if unit and unit not in MOMENT_UNITS:
            raise FormatError(f"moment unit {units[ch[3]]!r} not understood (expected Nmm or Nm)")
        m_scale = MOMENT_UNITS.get(unit, scale)
    F, M = signals[:, :3], signals[:, 3:] * m_scale  # plate frame; N, N m about the measurement origin
    c4 = corners[:, :, k].T * scale  # (4, 3) m, lab
    x_axis = c4[0] + c4[3] - c4[1] - c4[2]
    y_axis = c4[0] + c4[1] - c4[2] - c4[3]
    if np.linalg.norm(x_axis) < 1e-6 or np.linalg.norm(y_axis) < 1e-6:
        raise FormatError(f"CORNERS {corners[:, :, k].T.tolist()} do not span a plate")
    x_axis /= np.linalg.norm(x_axis)
    y_axis -= x_axis * (x_axis @ y_axis)
    y_axis /= np.linalg.norm(y_axis)
    R = np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)  # columns: plate axes in the lab
    o = (origins[:, k] if origins is not None and origins.ndim == 2 and origins.shape[1] > k else np.zeros(3)) * scale
    z0 = -o[2]
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (-M[:, 1] - F[:, 0] * z0) / F[:, 2]
        y = (M[:, 0] - F[:, 1] * z0) / F[:, 2]
    local = np.stack([x - o[0], y - o[1], np.zeros_like(x)], axis=1)
    cop = c4.mean(axis=0) + local @ R.T  # (T, 3) lab
    force = -F @ R.T  # on the subject
    if up_axis == "y":
        cop, force = rotate_points(cop, Y_UP_TO_Z_UP), rotate_points(force, Y_UP_TO_Z_UP)
    loaded = np.linalg.norm(force, axis=1) > CONTACT_N
    flipped = loaded.any() and np.median(force[loaded, 2]) < 0
    if flipped:
        force = -force
    contact = force[:, 2] > CONTACT_N
    force[~contact] = 0.0
    cop[~contact] = np.nan
    return PlateForce(index=k, force=force, cop=cop, contact=contact), bool(flipped)


# --------------------------------------------------------------------------------------------------
# feet


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of the runs of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _outline_distance(p: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """Horizontal distance (T,) from points p (T, 2) to the polyline ``outline`` (T, P, 2) (a point if P = 1)."""
    if outline.shape[1] == 1:
        return np.linalg.norm(p - outline[:, 0], axis=1)
    best = np.full(len(p), np.inf)
    for a, b in zip(outline[:, :-1].transpose(1, 0, 2), outline[:, 1:].transpose(1, 0, 2)):
        ab = b - a
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.einsum("ti,ti->t", p - a, ab) / np.einsum("ti,ti->t", ab, ab), 0.0, 1.0)
        t = np.where(np.isfinite(t), t, 0.0)
        best = np.fmin(best, np.linalg.norm(p - (a + t[:, None] * ab), axis=1))
    best[np.isinf(best)] = np.nan
    return best


def _nanmedian(x: np.ndarray) -> float:
    """Median of the finite values; inf when there are none (a foot not seen cannot be the nearest)."""
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else np.inf


def foot_outlines(names: list[str], markers: np.ndarray) -> dict[int, np.ndarray]:
    """Per foot (0 left, 1 right): its outline markers (T, P, 3), in ``FOOT_OUTLINE`` order."""
    canon = {canonical_marker(n): i for i, n in enumerate(names)}
    out = {}
    for foot, side in enumerate("LR"):
        idx = [canon[side + code] for code in FOOT_OUTLINE if side + code in canon]
        if idx:
            out[foot] = markers[:, idx]
    return out


def assign_feet(plates: list[PlateForce], names: list[str], markers: np.ndarray,
                fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """grf (T, 2, 3), cop (T, 2, 3), contact (T, 2) per foot [left, right] and reasons for the report
    (see the module docstring). Raises ``FormatError`` when a foot has no heel/toe markers."""
    outlines = foot_outlines(names, markers)
    missing = [side for foot, side in enumerate(("left", "right")) if foot not in outlines]
    if missing:
        raise FormatError(f"no heel/toe markers for the {' and '.join(missing)} foot "
                          f"(looked for {', '.join(FOOT_OUTLINE)} with an L/R side); cannot assign force plates")
    T = len(markers)
    grf = np.zeros((T, 2, 3))
    moment = np.zeros((T, 2, 3))  # sum of Fz * cop, for the force-weighted CoP
    contact = np.zeros((T, 2), bool)
    unknown = np.zeros((T, 2), bool)
    reasons = []
    for plate in plates:
        for a, b in _runs(plate.contact):
            d = [_nanmedian(_outline_distance(plate.cop[a:b, :2], outlines[f][a:b, :, :2])) for f in (0, 1)]
            foot = int(np.argmin(d))
            if not (d[foot] <= FOOT_RADIUS_M and d[1 - foot] - d[foot] >= FOOT_MARGIN_M):
                unknown[a:b] = True
                reasons.append(f"force plate {plate.index + 1}, frames {a}-{b - 1}: CoP {d[0]:.2f} m from the "
                               f"left foot, {d[1]:.2f} m from the right; not assigned (feet unlabelled there)")
                continue
            grf[a:b, foot] += plate.force[a:b]
            moment[a:b, foot] += plate.force[a:b, 2:3] * plate.cop[a:b]
            contact[a:b, foot] = True
    with np.errstate(invalid="ignore", divide="ignore"):
        cop = moment / grf[:, :, 2:3]
    cop[~contact] = np.nan
    for foot in (0, 1):
        with warnings.catch_warnings():  # frames where the foot is not seen stay NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            centre = np.nanmean(outlines[foot], axis=1)  # (T, 3)
        speed = np.linalg.norm(np.gradient(centre[:, :2], axis=0), axis=1) * fps if T > 1 else np.full(T, np.nan)
        still = ~(speed >= STANCE_SPEED_M_S)  # NaN (not seen) counts as possibly standing
        unknown[:, foot] |= still & ~contact[:, foot]
    grf[unknown] = np.nan
    cop[unknown] = np.nan
    contact[unknown] = False
    n = int(unknown.sum())
    if n:
        reasons.append(f"{n} foot-frame(s) without a known force (the foot still off the plates, or an "
                       "unassigned contact) left NaN")
    return grf, cop, contact, reasons

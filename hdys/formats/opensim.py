"""OpenSim text files: ``.trc`` markers and ``.mot``/``.sto`` tables, grouped into trials.

Formats (OpenSim 4 user guide, "File formats"):

* ``.trc``: line 1 ``PathFileType 4 (X/Y/Z) <name>``; line 2 header keys (``DataRate CameraRate
  NumFrames NumMarkers Units OrigDataRate ...``), line 3 their values; line 4 ``Frame# Time <marker>``
  with each name followed by two empty tab fields; line 5 ``X1 Y1 Z1 X2 ...``; then one row per frame
  (``Frame#``, ``Time``, 3 values per marker, an empty field = occluded). Tab separated. Units ``mm``
  or ``m`` (``cm`` accepted). OpenSim is y up: markers are rotated to the z-up world, (x, y, z) -> (x, -z, y).
* ``.mot`` / ``.sto``: a name line, ``key=value`` lines (``version``, ``nRows``, ``nColumns``,
  ``inDegrees=yes|no``, ...), ``endheader``, a tab-separated column line starting with ``time``, rows.
  By columns and name a table is one of:
  - coordinates (IK output): Rajagopal coordinate names -> ``joint_angles`` (T, 23) in
    ``RAJAGOPAL_COORDINATES`` order (degrees -> radians where ``inDegrees=yes``; ``pelvis_t*`` stay in
    metres and keep OpenSim's definition, i.e. y up); extra coordinates (arms) are ignored, a missing
    one is an error naming it.
  - inverse dynamics: ``<coordinate>_moment`` / ``<coordinate>_force`` columns -> ``torque_rajagopal``
    (T, 17), the ``_moment`` of each ``RAJAGOPAL_TORQUE_DOFS``.
  - static optimisation activations (``activation`` in the file name): every column that is not a
    reserve/residual actuator (named like a coordinate, ``*reserve*``, ``*residual*``, ``F/M X/Y/Z``)
    is a muscle -> ``muscle_activation``.
    Columns named like actuators or whose values leave [0, 1] (StaticOptimization writes the model's
    torque actuators, reserves and residuals after the muscles) are left out and reported.
  - ground forces (``<trial>_grf.mot``): per foot the force and its point of application, the columns
    named by the ExternalLoads ``.xml`` beside it (``applied_to_body`` ``calcn_l``/``calcn_r``,
    ``force_identifier``, ``point_identifier``), else ``ground_force_{l,r}_v{x,y,z}`` and ``_p{x,y,z}``
    -> ``grf`` and ``cop`` (N and m, rotated to z up like the markers).
  - anything else (muscle forces) is reported as not read.

Trials: files are grouped by (subject folder, trial stem). The stem drops the usual suffixes
(``_ik``, ``_id``, ``_inverse_dynamics``, ``_StaticOptimization_activation``, ...). The subject folder is
the file's folder, or its parent when the folder is an output folder (``IK``, ``ID``, ``MarkerData``,
``SO``, ... as in AddBiomechanics exports). The coordinates (else the markers) set the time base; the
other tables are interpolated onto it (NaN outside their time span).

Marker names are mapped onto the canonical vocabulary (``formats.markers``; option
``marker_names="keep"`` keeps the file's names); names it does not know are kept and reported.

Body mass (needed for dynamics): option ``mass_kg``, else a sidecar JSON (``<trial>.json``,
``subject.json`` or AddBiomechanics' ``_subject.json`` in the subject folder; keys ``mass_kg`` or
``massKg``, ``height_m`` or ``heightM``, optional ``subject``). Without a mass, torques and activations
are dropped and the report says so.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..frames import Y_UP_TO_Z_UP
from ..schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, RAJAGOPAL_TRANSLATIONS, Sequence
from .base import (Context, FormatError, Reader, Unit, note, resample_to_times, root_of,
                   rotate_points, uniform_rate, walk)
from .markers import apply_option

SUFFIXES = (".trc", ".mot", ".sto")
OUTPUT_FOLDERS = {"ik", "id", "markerdata", "so", "kinematics", "dynamics", "results", "markers",
                  "inversekinematics", "inversedynamics", "staticoptimization"}
STEM_SUFFIX = re.compile(r"_(ik|id|grf|forces|inverse_?dynamics|static_?optimi[sz]ation_(activation|force)|so_activation|"
                         r"activations?|markers|kinematics_q)$", re.IGNORECASE)
UNITS_TO_M = {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "meters": 1.0, "millimeters": 1e-3}
NOT_MUSCLE = re.compile(r"(reserve|residual|^[FM][XYZ]$)", re.IGNORECASE)
GRF_COLUMN = re.compile(r"^(\d+_)?ground_force_([lr]_)?v[xyz]$")


# --------------------------------------------------------------------------------------------------
# parsing


@dataclass
class Table:
    """A parsed file: ``time`` (T,), ``data`` (T, C) for ``columns``, ``header`` key=value pairs."""

    time: np.ndarray
    columns: list[str]
    data: np.ndarray
    header: dict


def _split(line: str) -> list[str]:
    return line.rstrip("\r\n").split("\t") if "\t" in line else line.split()


def _floats(fields: list[str], what: str) -> list[float]:
    try:
        return [float(f) if f.strip() else np.nan for f in fields]
    except ValueError as exc:
        raise FormatError(f"{what}: not a number ({exc})") from None


def read_trc(path: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Marker names, times (T,) in s and markers (T, M, 3) in metres, z up."""
    lines = path.read_text(errors="strict").splitlines()
    if len(lines) < 5 or not lines[0].startswith("PathFileType"):
        raise FormatError("not a TRC file (expected a 'PathFileType' first line and 5 header lines)")
    keys, values = [k.strip() for k in _split(lines[1])], [v.strip() for v in _split(lines[2])]
    header = dict(zip(keys, values))
    for key in ("DataRate", "NumFrames", "NumMarkers", "Units"):
        if key not in header:
            raise FormatError(f"TRC header lacks {key} (header keys {keys})")
    names = [n.strip() for n in _split(lines[3])[2:] if n.strip()]
    try:
        fps, n_frames, n_markers = float(header["DataRate"]), int(header["NumFrames"]), int(header["NumMarkers"])
    except ValueError as exc:
        raise FormatError(f"TRC header values not numeric: {exc}") from None
    if len(names) != n_markers:
        raise FormatError(f"TRC header says NumMarkers={n_markers} but the name line has {len(names)} names")
    scale = UNITS_TO_M.get(header["Units"].lower())
    if scale is None:
        raise FormatError(f"TRC Units {header['Units']!r} not understood (expected mm, cm or m)")
    rows, times = [], []
    for i, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        fields = _split(line)
        if len(fields) < 2:
            raise FormatError(f"line {i}: expected Frame#, Time and marker values (truncated?)")
        times.append(_floats(fields[1:2], f"line {i} Time")[0])
        fields = fields[2:2 + 3 * n_markers]
        rows.append(_floats(fields, f"line {i}") + [np.nan] * (3 * n_markers - len(fields)))
    if len(rows) < n_frames:
        raise FormatError(f"TRC header says NumFrames={n_frames} but there are {len(rows)} rows (truncated?)")
    xyz = np.asarray(rows, np.float64).reshape(len(rows), n_markers, 3) * scale  # (T, M, 3), y up
    t = np.asarray(times)
    if not np.isfinite(t).all():  # no Time column: DataRate
        t = np.arange(len(rows)) / fps
    return names, t, rotate_points(xyz, Y_UP_TO_Z_UP)


def read_table(path: Path) -> Table:
    """A ``.mot``/``.sto`` file (see the module docstring)."""
    lines = path.read_text(errors="strict").splitlines()
    end = next((i for i, ln in enumerate(lines) if ln.strip().lower() == "endheader"), None)
    if end is None:
        raise FormatError("no 'endheader' line (not an OpenSim .mot/.sto table)")
    header = {}
    for ln in lines[:end]:
        if "=" in ln:
            k, v = ln.split("=", 1)
            header[k.strip()] = v.strip()
    body = [ln for ln in lines[end + 1:] if ln.strip()]
    if not body:
        raise FormatError("no column line after 'endheader'")
    columns = [c.strip() for c in _split(body[0])]
    if columns[0].lower() != "time":
        raise FormatError(f"first column should be 'time', got {columns[0]!r}")
    rows = []
    for i, ln in enumerate(body[1:], start=1):
        row = _floats(_split(ln), f"data row {i}")
        if len(row) != len(columns):
            raise FormatError(f"data row {i} has {len(row)} values, expected {len(columns)} (truncated?)")
        rows.append(row)
    if "nRows" in header and header["nRows"].isdigit() and int(header["nRows"]) > len(rows):
        raise FormatError(f"header says nRows={header['nRows']} but there are {len(rows)} rows (truncated?)")
    if not rows:
        raise FormatError("no data rows")
    data = np.asarray(rows, np.float64)  # (T, 1 + C)
    return Table(time=data[:, 0], columns=columns[1:], data=data[:, 1:], header=header)


def table_kind(path: Path, table: Table) -> str:
    """'coordinates', 'id', 'activation', 'grf' or 'other' (see the module docstring)."""
    name = path.name.lower()
    if "activation" in name:
        return "activation"
    if any(GRF_COLUMN.match(c) for c in table.columns):
        return "grf"
    if any(c.endswith("_moment") for c in table.columns):
        return "id"
    if "force" not in name and any(c in RAJAGOPAL_COORDINATES for c in table.columns):
        return "coordinates"
    # the ExternalLoads files beside it are opened only for a table nothing else claimed
    return "grf" if _names_as_datafile(path) else "other"


def coordinates(table: Table) -> np.ndarray:
    """joint_angles (T, 23) in RAJAGOPAL_COORDINATES order, radians (translations metres)."""
    missing = [c for c in RAJAGOPAL_COORDINATES if c not in table.columns]
    if missing:
        raise FormatError(f"coordinates table lacks Rajagopal coordinates {missing}")
    flag = table.header.get("inDegrees", "").lower()
    if flag not in ("yes", "no"):
        raise FormatError("coordinates table header lacks inDegrees=yes|no (cannot tell degrees from radians)")
    q = table.data[:, [table.columns.index(c) for c in RAJAGOPAL_COORDINATES]].copy()  # (T, 23)
    if flag == "yes":
        rot = [i for i, c in enumerate(RAJAGOPAL_COORDINATES) if c not in RAJAGOPAL_TRANSLATIONS]
        q[:, rot] = np.deg2rad(q[:, rot])
    return q


def torques(table: Table) -> np.ndarray:
    """torque_rajagopal (T, 17) from ``<dof>_moment`` columns, N m."""
    want = [f"{d}_moment" for d in RAJAGOPAL_TORQUE_DOFS]
    missing = [c for c in want if c not in table.columns]
    if missing:
        raise FormatError(f"inverse-dynamics table lacks columns {missing}")
    return table.data[:, [table.columns.index(c) for c in want]]


def activations(table: Table) -> tuple[list[str], np.ndarray, list[str]]:
    """(muscle names, activations (T, N), columns left out). StaticOptimization writes the model's
    torque actuators, reserves and residuals after the muscles: columns named like them, or whose
    values leave [0, 1] (an actuator's control, not an activation), are left out."""
    keep, left = [], []
    for i, c in enumerate(table.columns):
        v = table.data[:, i]
        if c in RAJAGOPAL_COORDINATES or NOT_MUSCLE.search(c) or (v < -1e-3).any() or (v > 1 + 1e-3).any():
            left.append(c)
        else:
            keep.append(i)
    if not keep:
        raise FormatError(f"activation table has no muscle columns (all {len(left)} columns are actuators "
                          "or leave [0, 1])")
    return [table.columns[i] for i in keep], table.data[:, keep], left


def external_loads_file(path: Path) -> Path | None:
    """The ExternalLoads ``.xml`` beside a ground-force ``.mot`` (``<trial>_external_loads.xml``, or one
    whose ``datafile`` names the .mot), if there is one."""
    stem = trial_stem(path).removesuffix("_grf")
    for cand in (path.with_name(f"{stem}_external_loads.xml"), path.with_name(f"{path.stem}_external_loads.xml")):
        if cand.is_file():
            return cand
    for cand in sorted(path.parent.glob("*.xml")):
        try:
            text = cand.read_text(errors="replace")
        except OSError:
            continue
        if "<ExternalLoads" in text and path.name in text:
            return cand
    return None


def _names_as_datafile(path: Path) -> bool:
    """Whether an ExternalLoads ``.xml`` beside the table names it as its data file."""
    xml = external_loads_file(path)
    try:
        return xml is not None and f"<datafile>{path.name}</datafile>" in xml.read_text(errors="replace")
    except OSError:
        return False


def ground_forces(path: Path, table: Table) -> np.ndarray:
    """(T, 2, 2, 3): per foot [left, right] the force (N) and the point (m), in the z-up world.

    The columns of each foot come from the ExternalLoads ``.xml`` (each ExternalForce's
    ``applied_to_body``, ``force_identifier``, ``point_identifier``; bodies ``calcn_l``/``calcn_r`` or
    ``toes_*``), else from the names ``ground_force_{l,r}_v{x,y,z}`` and ``_p{x,y,z}``. A point
    expressed in a body rather than the ground is not a centre of pressure: NaN."""
    feet: dict[str, tuple[str, str]] = {}
    in_ground: dict[str, bool] = {}
    xml = external_loads_file(path)
    if xml is not None:
        import xml.etree.ElementTree as ET
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError as exc:
            raise FormatError(f"{xml}: not readable XML ({exc})") from None
        for ef in root.iter("ExternalForce"):
            body = (ef.findtext("applied_to_body") or "").strip().lower()
            side = "l" if body.endswith("_l") else "r" if body.endswith("_r") else None
            if side is None:
                continue
            feet[side] = ((ef.findtext("force_identifier") or "").strip(),
                          (ef.findtext("point_identifier") or "").strip())
            in_ground[side] = (ef.findtext("point_expressed_in_body") or "ground").strip().lower() == "ground"
    for side in ("l", "r"):
        feet.setdefault(side, (f"ground_force_{side}_v", f"ground_force_{side}_p"))
    out = np.full((len(table.time), 2, 2, 3), np.nan)
    for f, side in enumerate(("l", "r")):
        for k, prefix in enumerate(feet[side]):
            cols = [f"{prefix}{a}" for a in "xyz"]
            missing = [c for c in cols if c not in table.columns]
            if missing:
                raise FormatError(f"ground-force table lacks {missing} for the {'left' if side == 'l' else 'right'} "
                                  f"foot ({'per ' + xml.name if xml else 'no ExternalLoads .xml beside it'})")
            out[:, f, k] = table.data[:, [table.columns.index(c) for c in cols]]
        if not in_ground.get(side, True):
            out[:, f, 1] = np.nan
    return rotate_points(out.reshape(len(out), 4, 3), Y_UP_TO_Z_UP).reshape(out.shape)


# --------------------------------------------------------------------------------------------------
# trials


def subject_dir(path: Path) -> Path:
    return path.parent.parent if path.parent.name.lower() in OUTPUT_FOLDERS else path.parent


def trial_stem(path: Path) -> str:
    return STEM_SUFFIX.sub("", path.stem)


def find(src: Path) -> list[Unit]:
    groups: dict[tuple[Path, str], list[Path]] = defaultdict(list)
    for p in walk(src, lambda p: p.suffix.lower() in SUFFIXES):
        groups[(subject_dir(p), trial_stem(p))].append(p)
    order = {".trc": 1, ".mot": 0, ".sto": 2}
    units = []
    for key in sorted(groups):
        files = tuple(sorted(groups[key]))
        primary = min(files, key=lambda p: (order[p.suffix.lower()], str(p)))
        units.append(Unit(path=primary, files=files, root=root_of(src)))
    return units


def sidecar(subject: Path, stem: str) -> dict:
    for name in (f"{stem}.json", "subject.json", "_subject.json"):
        p = subject / name
        if p.is_file():
            try:
                meta = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise FormatError(f"sidecar {p}: unreadable JSON ({exc})") from None
            if not isinstance(meta, dict):
                raise FormatError(f"sidecar {p}: expected a JSON object")
            return {"mass_kg": meta.get("mass_kg", meta.get("massKg")),
                    "height_m": meta.get("height_m", meta.get("heightM")), "subject": meta.get("subject")}
    return {}


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    subject, stem = subject_dir(unit.path), trial_stem(unit.path)
    kin: dict[str, tuple] = {}  # kind -> (path, time (T,), payload)
    dyn: dict[str, tuple] = {}
    dropped: dict[Path, str] = {}
    for p in unit.files:
        try:
            if p.suffix.lower() == ".trc":
                names, t, xyz = read_trc(p)
                uniform_rate(t, "Time column")
                names, reason = apply_option(names, ctx.get("marker_names"))
                if reason:
                    dropped[p] = reason
                kin["markers"] = (p, t, (names, xyz))
                continue
            table = read_table(p)
            kind = table_kind(p, table)
            if kind == "other":
                dropped[p] = f"columns {table.columns[:4]}... are not coordinates, moments or activations; not read"
                continue
            uniform_rate(table.time, "time column")
            if kind == "coordinates":
                kin["joint_angles"] = (p, table.time, coordinates(table))
            elif kind == "id":
                dyn["torque_rajagopal"] = (p, table.time, torques(table))
            elif kind == "grf":
                dyn["grf"] = (p, table.time, ground_forces(p, table))
            else:
                names, values, left = activations(table)
                dyn["muscle_activation"] = (p, table.time, (names, values))
                if left:
                    dropped[p] = (f"{len(left)} column(s) not read as muscles (actuators, reserves, residuals or "
                                  f"values outside [0, 1]): {', '.join(left[:6])}{', ...' if len(left) > 6 else ''}")
        except FormatError as exc:
            raise FormatError(f"{p}: {exc}") from None
        except UnicodeDecodeError as exc:  # named here: the trial's unit is reported under another of its files
            raise FormatError(f"{p}: not a text file (byte {exc.start} is not UTF-8); truncated or corrupt?") from None
    if not kin:
        raise FormatError(f"trial {stem!r} has no kinematics (.trc markers or a coordinates .mot); "
                          f"files {[p.name for p in unit.files]}")
    meta = sidecar(subject, stem)
    mass = ctx.get("mass_kg", meta.get("mass_kg"))
    if dyn and mass is None:
        for p, _, _ in dyn.values():
            dropped[p] = "no body mass (option mass_kg or a sidecar JSON); dynamics dropped"
        dyn = {}
    ref_path, t_ref, _ = kin.get("joint_angles") or kin["markers"]
    fps = uniform_rate(t_ref, f"{ref_path}: time")
    seq = Sequence(fps=fps, sequence_id=f"{unit.root.name}/{_rel(subject, unit.root)}/{stem}".replace("//", "/"),
                   subject=str(meta.get("subject") or subject.name),
                   mass_kg=None if mass is None else float(mass),
                   height_m=ctx.get("height_m", meta.get("height_m")))
    took: dict[Path, list[str]] = defaultdict(list)
    for key, (p, t, payload) in {**kin, **dyn}.items():
        names, values = payload if key in ("markers", "muscle_activation") else (None, payload)
        if key == "markers":
            seq.markers, seq.marker_names = _on(values, t, t_ref), names
        elif key == "muscle_activation":
            seq.muscle_activation, seq.muscle_names = _on(values, t, t_ref), names
        elif key == "grf":
            both = _on(values, t, t_ref)
            seq.grf, seq.cop = both[:, :, 0], both[:, :, 1]
        else:
            setattr(seq, key, _on(values, t, t_ref))
        took[p].append(key)
    yield note(seq, took, dropped)


def _on(x: np.ndarray, t: np.ndarray, t_ref: np.ndarray) -> np.ndarray:
    """x sampled at uniform times t, on the reference times (unchanged if they are the same)."""
    if len(t) == len(t_ref) and np.allclose(t, t_ref, atol=1e-6):
        return x
    return resample_to_times(x, t, t_ref)


def _rel(path: Path, root: Path) -> str:
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = path.name
    return "" if rel == "." else rel


READER = Reader(name="opensim", find=find, read=read, options=("mass_kg", "height_m", "marker_names"),
                summary="OpenSim .trc markers and .mot/.sto coordinates, inverse dynamics, activations")

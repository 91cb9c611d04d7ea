"""Muscles in Time (Schneider et al., NeurIPS 2024 D&B) -> muscle activations (+ GRF) joined with AMASS.

Layout: one folder per AMASS sequence, mirroring AMASS' paths (e.g.
``BMLmovi/BMLmovi/Subject_11_F_MoSh/Subject_11_F_10_poses/``), holding

* ``muscle_activations.pkl``: a pickled pandas DataFrame, index = time in s (50 fps, starting at 0.14 s),
  402 columns (80 ``LU_*`` lower body, 322 ``TL_*`` thoracolumbar), values in [0, 1]. Chunks whose
  simulation failed are missing rows: they become NaN frames (a gap), never interpolated.
* ``grf.pkl`` (optional): DataFrame with ``ground_force_{right,left}_{vx,vy,vz,px,py,pz}`` (N, m;
  OpenSim y up) -> ``grf``/``cop`` (T, 2, 3), feet [left, right], rotated to z up (x, y, z) -> (x, -z, y).
* per-dataset metadata ``*.csv`` anywhere under the source root, columns ``data_path``, ``weight_kg``,
  ``height_cm`` (joined on the folder path) -> ``mass_kg``, ``height_m``.

The pickles are never given to ``pickle.load``: ``SafeUnpickler`` allows only numpy's array
reconstruction callables and a list of pandas names, and the pandas names are replaced by inert stand-ins
(``_Stub``) that record their arguments, so pandas is not imported (nor needed). ``dataframe`` then
rebuilds the index, column names and 2-D values from the stand-ins (pandas 1.x-3.x pickle layouts:
``BlockManager(blocks, axes)`` and the older ``__setstate__`` form).

MinT has only dynamics. A sequence needs its AMASS motion: option ``amass_dir`` (``--amass DIR``); the
AMASS file is ``<amass_dir>/<the folder path>.npz``, trying shorter suffixes of the path too (MinT's
paths repeat the dataset folder). The output is on MinT's 50 fps grid: the AMASS ``smpl`` is sampled at
the grid times (linear translation, slerped rotations), from 0.14 s to the end of the shorter of the two.
Without ``amass_dir`` or without a match, the folder is skipped with a reason. Mass: metadata, else
option ``mass_kg``, else skipped.
"""
from __future__ import annotations

import codecs
import csv
import functools
import io
import pickle
from pathlib import Path
from typing import Iterator

import numpy as np

from ..frames import Y_UP_TO_Z_UP
from ..schema import Sequence
from . import amass
from .base import (NUMPY_ARRAY_CLASSES, Context, FormatError, Reader, SMPL_ROTATION_SLICE, Unit,
                   interp_linear, interp_rotvec, note, numpy_array_class, root_of, rotate_points, walk)

FPS = 50.0
ACTIVATIONS, GRF = "muscle_activations.pkl", "grf.pkl"

# --------------------------------------------------------------------------------------------------
# restricted unpickling


class _Stub:
    """Inert stand-in for a pandas object or function: remembers call arguments and pickled state."""

    kind = "?"
    args: tuple = ()
    state = None

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def __setstate__(self, state):
        self.state = state


PANDAS_NAMES = ("DataFrame", "BlockManager", "SingleBlockManager", "_unpickle_block", "_new_Index", "Index",
                "Float64Index", "Int64Index", "UInt64Index", "NumericIndex", "RangeIndex",
                "__pyx_unpickle_NDArrayBacked", "StringArray", "StringDtype", "new_block", "make_block")
_STUBS = {name: type(name, (_Stub,), {"kind": name}) for name in PANDAS_NAMES}


def _reconstructor(cls, base, state):  # copyreg._reconstructor for protocol 0/1 pickles, stubs only
    if not (isinstance(cls, type) and issubclass(cls, _Stub)):
        raise pickle.UnpicklingError(f"refusing to reconstruct {cls!r}")
    return cls()


class SafeUnpickler(pickle.Unpickler):
    """Unpickler with an allow-list: numpy array reconstruction, ``slice``, ``codecs.encode`` (bytes in
    old protocols), ``copyreg._reconstructor`` (stand-ins only) and pandas stand-ins. Anything else
    (``os.system``, ``builtins.eval``, ...) raises ``UnpicklingError``."""

    NUMPY = NUMPY_ARRAY_CLASSES

    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)  # protocol < 3 names
        if (module, name) in self.NUMPY:
            return numpy_array_class(module, name)
        if (module, name) == ("builtins", "slice"):
            return slice
        if (module, name) == ("builtins", "object"):  # the base argument of copyreg._reconstructor
            return object
        if (module, name) == ("copyreg", "_reconstructor"):
            return _reconstructor
        if (module, name) == ("_codecs", "encode"):  # bytes in protocol 0-2 pickles
            return codecs.encode
        if (module == "pandas" or module.startswith("pandas.")) and name in _STUBS:
            return _STUBS[name]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not a DataFrame building block)")


def _ndarray(x) -> np.ndarray:
    """The ndarray inside an index's data (an ndarray, or a pandas extension array stand-in)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, _Stub):
        parts = list(x.state.values()) if isinstance(x.state, dict) else list(x.state or ()) + list(x.args)
        for part in parts:
            if isinstance(part, np.ndarray):
                return part
    raise FormatError(f"unexpected index data {type(x).__name__}")


def _index(idx) -> np.ndarray:
    if isinstance(idx, np.ndarray):
        return idx
    if isinstance(idx, _Stub) and idx.kind == "_new_Index" and len(idx.args) == 2:
        cls, d = idx.args
        if "data" in d:
            return _ndarray(d["data"])
        if "start" in d:
            return np.arange(d["start"], d["stop"], d.get("step", 1))
    raise FormatError(f"unexpected index object {getattr(idx, 'kind', type(idx).__name__)}")


def _placement(p, n: int) -> np.ndarray:
    if isinstance(p, slice):
        return np.arange(n)[p]
    return np.asarray(p, np.int64).reshape(-1)


def _blocks(mgr) -> tuple[list[tuple[np.ndarray, object]], list]:
    """[(values (k, T), placement)], [columns, index] from a BlockManager stand-in."""
    if not isinstance(mgr, _Stub) or "BlockManager" not in mgr.kind:
        raise FormatError("DataFrame without a block manager")
    if len(mgr.args) >= 2:  # pandas >= 1.3: BlockManager(blocks, axes)
        blocks = [(b.args[0], b.args[1]) for b in mgr.args[0]]
        return blocks, list(mgr.args[1])
    state = mgr.state  # older: (axes, values, items, {"0.14.1": {"axes", "blocks"}})
    if isinstance(state, tuple) and len(state) >= 4 and isinstance(state[3], dict) and "0.14.1" in state[3]:
        new = state[3]["0.14.1"]
        return [(b["values"], b["mgr_locs"]) for b in new["blocks"]], list(new["axes"])
    raise FormatError("unrecognised BlockManager pickle layout")


def dataframe(data: bytes) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(index (T,), column names (C,), values (T, C) float64) of a pickled DataFrame of numbers."""
    obj = SafeUnpickler(io.BytesIO(data)).load()
    if not isinstance(obj, _Stub) or obj.kind != "DataFrame" or not isinstance(obj.state, dict):
        raise FormatError(f"not a pickled pandas DataFrame (got {getattr(obj, 'kind', type(obj).__name__)})")
    blocks, axes = _blocks(obj.state.get("_mgr", obj.state.get("_data")))
    columns, index = _index(axes[0]), _index(axes[1])
    values = np.full((len(index), len(columns)), np.nan)
    for block, placement in blocks:
        cols = _placement(placement, len(columns))
        try:
            values[:, cols] = np.asarray(block, np.float64).reshape(len(cols), len(index)).T
        except (TypeError, ValueError) as exc:
            raise FormatError(f"a block of columns {[str(columns[c]) for c in cols[:3]]} is not numeric: {exc}") from None
    return np.asarray(index, np.float64), [str(c) for c in columns], values


def read_frame(path: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    try:
        return dataframe(path.read_bytes())
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, IndexError) as exc:
        raise FormatError(f"{path.name}: not a readable DataFrame pickle ({type(exc).__name__}: {exc})") from None
    except FormatError as exc:
        raise FormatError(f"{path.name}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# metadata, grid, AMASS


@functools.lru_cache(maxsize=8)
def metadata(root: Path) -> dict[str, dict]:
    """data_path (without .npz) -> {weight_kg, height_cm} from every metadata CSV under ``root``."""
    out: dict[str, dict] = {}
    for p in walk(root, lambda p: p.suffix.lower() == ".csv"):
        with open(p, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                if row.get("data_path"):
                    out[_norm(row["data_path"])] = row
    return out


def _norm(path: str) -> str:
    path = path.strip().replace("\\", "/").strip("/")
    return path[:-4] if path.endswith(".npz") else path


def _meta_for(rel: str, meta: dict[str, dict]) -> dict | None:
    for dp, row in meta.items():
        if rel == dp or rel.endswith("/" + dp) or dp.endswith("/" + rel):
            return row
    return None


def on_grid(times: np.ndarray, values: np.ndarray, t0: float) -> np.ndarray:
    """Rows at ``times`` placed on the 50 fps grid from t0; missing rows (gaps) are NaN."""
    k = (times - t0) * FPS
    if np.abs(k - np.rint(k)).max(initial=0) > 0.1:
        raise FormatError("time index is not on a 50 fps grid")
    k = np.rint(k).astype(int)
    keep = k >= 0
    out = np.full((k[keep].max(initial=-1) + 1,) + values.shape[1:], np.nan)
    out[k[keep]] = values[keep]
    return out


def grf_cop(path: Path, t0: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    times, cols, values = read_frame(path)
    want = [f"ground_force_{side}_{q}{a}" for q in "vp" for side in ("left", "right") for a in "xyz"]
    missing = [c for c in want if c not in cols]
    if missing:
        raise FormatError(f"{path.name}: lacks columns {missing}")
    x = on_grid(times, values[:, [cols.index(c) for c in want]], t0)[:n]  # (T', 12)
    x = np.concatenate([x, np.full((n - len(x), 12), np.nan)]) if len(x) < n else x
    x = rotate_points(x.reshape(n, 2, 2, 3), Y_UP_TO_Z_UP)  # (T, [force, point], [left, right], 3)
    return x[:, 0], x[:, 1]


def amass_file(rel: str, amass_dir: Path) -> Path:
    parts = rel.split("/")
    tried = [amass_dir.joinpath(*parts[k:]).with_name(parts[-1] + ".npz") for k in range(len(parts))]
    for p in tried:
        if p.is_file():
            return p
    raise FormatError(f"no AMASS motion for {rel!r} under {amass_dir} (tried {[str(p) for p in tried[:3]]})")


def smpl_on_grid(path: Path, times: np.ndarray) -> np.ndarray:
    """AMASS smpl (T', 75) at ``times`` (s); rows past the AMASS end are dropped."""
    raw = amass.load(path)
    smpl, _ = amass.smpl_params(raw)
    pos = times * amass.frame_rate(raw)
    pos = pos[pos <= len(smpl) - 1 + 1e-6]
    out = interp_linear(smpl, pos)
    out[:, SMPL_ROTATION_SLICE] = interp_rotvec(smpl[:, SMPL_ROTATION_SLICE], pos)
    return out


# --------------------------------------------------------------------------------------------------
# reader


def find(src: Path) -> list[Unit]:
    root = root_of(src) if src.is_dir() else src.parent.parent
    units = []
    for p in walk(src, lambda p: p.name == ACTIVATIONS):
        files = (p,) + ((p.parent / GRF,) if (p.parent / GRF).is_file() else ())
        units.append(Unit(path=p.parent, files=files, root=root))
    return units


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    rel = unit.rel
    times, names, act = read_frame(unit.path / ACTIVATIONS)
    if len(times) == 0:
        raise FormatError(f"{ACTIVATIONS}: no rows")
    t0 = float(times[0])
    act = on_grid(times, act, t0)  # (T, 402), NaN rows = gaps
    if ctx.get("amass_dir") is None:
        raise FormatError("MinT has only dynamics; its kinematics are the AMASS motion: give amass_dir "
                          "(hdys ingest mint --amass DIR) to join them")
    amass_path = amass_file(rel, Path(ctx.get("amass_dir")))
    smpl = smpl_on_grid(amass_path, t0 + np.arange(len(act)) / FPS)
    n = len(smpl)
    if n == 0:
        raise FormatError(f"AMASS motion {amass_path} ends before the first activation frame ({t0} s)")
    row = _meta_for(rel, metadata(unit.root)) or {}
    mass = row.get("weight_kg") or ctx.get("mass_kg")
    if mass in (None, ""):
        raise FormatError("no body mass: no metadata CSV row with weight_kg for this folder and no mass_kg option")
    seq = Sequence(fps=FPS, sequence_id=f"{unit.root.name}/{rel}", subject=unit.path.parent.name,
                   mass_kg=float(mass), height_m=float(row["height_cm"]) / 100 if row.get("height_cm") else None,
                   smpl=smpl, muscle_activation=act[:n], muscle_names=names)
    took = {unit.path / ACTIVATIONS: ["muscle_activation", "smpl"]}
    if (unit.path / GRF).is_file():
        seq.grf, seq.cop = grf_cop(unit.path / GRF, t0, n)
        took[unit.path / GRF] = ["grf"]
    seq.extra.update(amass=str(amass_path), start_time_s=t0)
    gaps = int(np.isnan(seq.muscle_activation).all(axis=1).sum())
    yield note(seq, took, {"": f"{gaps} gap frame(s) kept as NaN"} if gaps else None)


READER = Reader(name="mint", find=find, read=read, options=("amass_dir", "mass_kg"),
                summary="Muscles in Time activation/GRF DataFrame pickles (safe unpickler), joined with AMASS")

"""Readers of the real dataset formats: source files -> canonical ``Sequence`` (see ``hdys.schema``).

``read_source(fmt, src, ...)`` is the single entry point (``hdys ingest <fmt> <src>`` calls it). It walks
``src`` (a file or a directory, sorted), yields validated sequences (``dataset`` = the format name unless
the reader knows better, ``subject`` set for subject-wise splits, unique ``sequence_id``\\ s), resamples
to ``fps`` when given (``base.resample``: linear for values, slerp for SMPL rotations, never across NaN
gaps), and appends one record per file to ``report``::

    {"path": str, "status": "ok" | "skipped", "took": [keys], "reason": str}

A corrupt, truncated or unexpected file is logged (``logging.warning`` naming the file and the problem)
and skipped, or raises ``SchemaError`` naming the file with ``strict=True``. An "ok" record may still
carry a reason: what was read but left out (e.g. dynamics without a body mass).

Formats and their options (``READERS``; an option not listed for a format is a ``TypeError``):

| format | reads | options |
|---|---|---|
| ``addbiomechanics`` | AddBiomechanics ``.b3d`` (nimblephysics): Rajagopal joint angles, torques, GRF/CoP/contact per foot, markers, joint centres; missing-GRF frames NaN | ``mass_kg`` (where the file has none) |
| ``opensim`` | ``.trc`` markers, ``.mot``/``.sto`` coordinates, inverse-dynamics moments, static-optimisation activations, grouped into trials by file stem | ``mass_kg``, ``height_m`` (else a sidecar JSON) |
| ``c3d`` | ``.c3d`` markers (POINT), EMG analog channels -> envelope; force plates reported | ``mass_kg``, ``up_axis`` ("z" default, or "y") |
| ``amass`` | AMASS ``*_poses.npz`` (SMPL/SMPL-H/SMPL-X) and ``*_stageii.npz`` -> ``smpl`` | ``smpl_model`` (dir; keypoints via ``smplx`` if installed) |
| ``mia`` | Muscles in Action clip folders -> keypoints (BODY_25), smpl, emg | ``mass_kg`` (else a nominal 70 kg, reported) |
| ``mint`` | Muscles in Time folders: ``muscle_activations.pkl``, ``grf.pkl``, metadata CSV, joined with AMASS | ``amass_dir`` (required for any output), ``mass_kg`` |
"""
from __future__ import annotations

import logging
import pickle
import zipfile
from pathlib import Path
from typing import Iterator

from ..schema import SchemaError, Sequence, validate
from . import addbiomechanics, amass, c3d, mia, mint, opensim
from .base import Context, FormatError, Reader, Unit, resample

log = logging.getLogger(__name__)

READERS: dict[str, Reader] = {r.name: r for r in (opensim.READER, c3d.READER, amass.READER, mia.READER, mint.READER,
                                                  addbiomechanics.READER)}

# What a broken file may raise inside a reader or a library it calls (ezc3d raises RuntimeError,
# np.load ValueError/BadZipFile/EOFError, the text parsers FormatError, truncated pickles EOFError).
READ_ERRORS = (SchemaError, OSError, ValueError, EOFError, KeyError, IndexError, RuntimeError,
               pickle.UnpicklingError, zipfile.BadZipFile, UnicodeDecodeError)

__all__ = ["READERS", "Reader", "FormatError", "read_source", "resample"]


def get_reader(fmt: str) -> Reader:
    try:
        return READERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}") from None


def read_source(fmt: str, src: str | Path, *, strict: bool = False, fps: float | None = None,
                report: list | None = None, **options) -> Iterator[Sequence]:
    """Validated sequences of the ``fmt`` files in ``src`` (see the module docstring).

    Bad arguments (unknown format or option, missing ``src``, non-positive ``fps``) raise at once; file
    problems are reported per file as the returned iterator advances.
    """
    reader = get_reader(fmt)
    unknown = sorted(set(options) - set(reader.options))
    if unknown:
        raise TypeError(f"format {fmt!r} does not take option(s) {unknown}; it takes {list(reader.options) or 'none'}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or directory")
    ctx = Context({k: v for k, v in options.items() if v is not None})
    return _iterate(reader, src, ctx, strict, fps, report)


def _iterate(reader: Reader, src: Path, ctx: Context, strict: bool, fps: float | None,
             report: list | None) -> Iterator[Sequence]:
    seen: set[str] = set()
    units = reader.find(src)
    if not units:
        log.warning("%s: no %s files found", src, reader.name)
    for unit in units:
        try:
            seqs = _read_unit(reader, unit, ctx, fps, seen)
        except READ_ERRORS as exc:
            _skip(unit, exc, strict, report)
            continue
        seen.update(s.sequence_id for s in seqs)
        _report_ok(unit, seqs, report)
        yield from seqs


def _read_unit(reader: Reader, unit: Unit, ctx: Context, fps: float | None, seen: set[str]) -> list[Sequence]:
    """All sequences of one unit, validated; a unit is all or nothing."""
    seqs = []
    for seq in reader.read(unit, ctx):
        seq.dataset = seq.dataset or reader.name
        seq.extra.setdefault("source", str(unit.path))
        if fps is not None:
            seq = resample(seq, fps)
        validate(seq, source=str(unit.path))
        if seq.sequence_id in seen or any(s.sequence_id == seq.sequence_id for s in seqs):
            raise FormatError(f"sequence id {seq.sequence_id!r} was already read from another file")
        seqs.append(seq)
    if not seqs:
        raise FormatError("no sequence in it")
    return seqs


def _skip(unit: Unit, exc: Exception, strict: bool, report: list | None) -> None:
    msg = str(exc) if isinstance(exc, SchemaError) else f"{type(exc).__name__}: {exc}"
    if str(unit.path) not in msg:
        msg = f"{unit.path}: {msg}"
    if strict:
        raise SchemaError(msg) from exc
    log.warning("skipping %s", msg)
    if report is not None:
        for f in unit.files:
            report.append({"path": str(f), "status": "skipped", "took": [], "reason": msg})


def _report_ok(unit: Unit, seqs: list[Sequence], report: list | None) -> None:
    if report is None:
        return
    main = unit.path if unit.path in unit.files else unit.files[0]  # gets the unit-wide ("") reasons
    for f in unit.files:
        took: list[str] = []
        reasons: list[str] = []
        for s in seqs:
            took += [k for k in s.extra.get("took", {}).get(str(f), []) if k not in took]
            dropped = s.extra.get("dropped", {})
            for key in (str(f),) + (("",) if f == main else ()):
                if key in dropped and dropped[key] not in reasons:
                    reasons.append(dropped[key])
        status = "ok" if took else "skipped"
        reason = "; ".join(reasons) or ("" if took else "nothing taken from this file")
        if status == "skipped" or reason:
            log.warning("%s: %s", f, reason) if status == "skipped" else log.info("%s: %s", f, reason)
        report.append({"path": str(f), "status": status, "took": took, "reason": reason})

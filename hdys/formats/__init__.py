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

``marker_names`` ("canonical", the default, or "keep"): lab marker labels mapped onto one vocabulary
(``formats.markers``: Plug-in Gait names; ``Sub01:L.ASIS`` -> ``LASI``), names it does not know kept and
reported. The model does not need names, but mixing labs and finding a foot's heel and toe does.

``workers`` > 1 reads units (files, clip folders, trials) in a process pool (``hdys.parallel``); the
sequences, their order and the report are the same as with one worker. ``read_units`` is the same
walk unit by unit (``UnitResult``: the unit, its sequences, its report records), with ``skip(unit)`` to
leave units out; ``hdys.ingest`` builds resumable ingests on it.

Formats and their options (``READERS``; an option not listed for a format is a ``TypeError``):

| format | reads | options |
|---|---|---|
| ``addbiomechanics`` | AddBiomechanics ``.b3d`` (nimblephysics): Rajagopal joint angles, torques, GRF/CoP/contact per foot, markers, joint centres; missing-GRF frames NaN | ``mass_kg`` (where the file has none), ``marker_names`` |
| ``opensim`` | ``.trc`` markers, ``.mot``/``.sto`` coordinates, inverse-dynamics moments, static-optimisation activations, grouped into trials by file stem | ``mass_kg``, ``height_m`` (else a sidecar JSON), ``marker_names`` |
| ``c3d`` | ``.c3d`` markers (POINT), EMG analog channels -> envelope, force plates (types 2, 4) -> per-foot ``grf``/``cop``/``contact`` (``forceplates``) | ``mass_kg``, ``up_axis`` ("z" default, or "y"), ``marker_names`` |
| ``amass`` | AMASS ``*_poses.npz`` (SMPL/SMPL-H/SMPL-X) and ``*_stageii.npz`` -> ``smpl`` | ``smpl_model`` (dir; keypoints via ``smplx`` if installed) |
| ``mia`` | Muscles in Action clip folders -> keypoints (BODY_25), smpl, emg | ``mass_kg`` (else a nominal 70 kg, reported) |
| ``npz`` | schema npz files (``hdys export``), as they are | none |
| ``mint`` | Muscles in Time folders: ``muscle_activations.pkl``, ``grf.pkl``, metadata CSV, joined with AMASS | ``amass_dir`` (required for any output), ``mass_kg`` |
| ``imdy`` | ImDy raw ``raw_*/{pos,rot,torque,grf,weight}.pkl`` joblib lists, converted ``imdy_*/<i>.pkl`` -> smpl, keypoints, markers, torque_smpl, grf (restricted unpickler) | ``mass_kg`` (where no ``weight``; else ImDy's default 76.33 kg), ``marker_names`` |
| ``groundlink`` | GroundLink ``S<k>/preprocessed/*.pth`` trials (torch weights-only) + ``subjects.csv`` -> smpl, grf, cop | ``mass_kg`` (subjects without a ``Weight``) |
"""
from __future__ import annotations

import logging
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from tqdm import tqdm

from ..parallel import imap_ordered
from ..schema import SchemaError, Sequence, validate
from . import addbiomechanics, amass, c3d, groundlink, imdy, mia, mint, npz, opensim
from .base import Context, FormatError, Reader, Unit, resample

log = logging.getLogger(__name__)

READERS: dict[str, Reader] = {r.name: r for r in (opensim.READER, c3d.READER, amass.READER, mia.READER, mint.READER,
                                                  imdy.READER, groundlink.READER, addbiomechanics.READER)}
READERS[npz.READER.name] = npz.READER  # hdys' own exchange format (hdys export)

# What a broken file may raise inside a reader or a library it calls (ezc3d raises RuntimeError,
# np.load ValueError/BadZipFile/EOFError, the text parsers FormatError, truncated pickles EOFError).
READ_ERRORS = (SchemaError, OSError, ValueError, EOFError, KeyError, IndexError, RuntimeError,
               pickle.UnpicklingError, zipfile.BadZipFile, UnicodeDecodeError)

__all__ = ["READERS", "Reader", "FormatError", "Unit", "UnitResult", "read_source", "read_units", "resample"]


def get_reader(fmt: str) -> Reader:
    try:
        return READERS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(sorted(READERS))}") from None


@dataclass
class UnitResult:
    """What one unit (a file, a clip folder, an OpenSim trial) gave: its sequences (validated, in the
    reader's order; empty when it was skipped) and one report record per file of the unit."""

    unit: Unit
    sequences: list[Sequence]
    records: list[dict]


def read_source(fmt: str, src: str | Path, *, strict: bool = False, fps: float | None = None,
                report: list | None = None, workers: int = 1, **options) -> Iterator[Sequence]:
    """Validated sequences of the ``fmt`` files in ``src`` (see the module docstring).

    Bad arguments (unknown format or option, missing ``src``, non-positive ``fps``) raise at once; file
    problems are reported per file as the returned iterator advances. ``workers`` > 1 reads units in
    that many processes; the sequences and the report are the same as with one.
    """
    units = read_units(fmt, src, strict=strict, fps=fps, workers=workers, **options)

    def flatten() -> Iterator[Sequence]:
        for res in units:
            if report is not None:
                report.extend(res.records)
            yield from res.sequences

    return flatten()


def read_units(fmt: str, src: str | Path, *, strict: bool = False, fps: float | None = None, workers: int = 1,
               skip: Callable[[Unit], bool] | None = None, progress: bool = False,
               **options) -> Iterator[UnitResult]:
    """``read_source`` unit by unit, for callers that commit work per unit (``hdys.ingest``).

    Units for which ``skip(unit)`` holds are not read and not yielded (a resumed ingest). The others
    are read in ``workers`` processes (``hdys.parallel``), in the order ``reader.find`` lists them, and
    checked for sequence ids repeated across units here, in that order, so the result does not depend
    on ``workers``. ``progress`` shows a bar over the units.
    """
    reader = get_reader(fmt)
    unknown = sorted(set(options) - set(reader.options))
    if unknown:
        raise TypeError(f"format {fmt!r} does not take option(s) {unknown}; it takes {list(reader.options) or 'none'}")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or directory")
    ctx = Context({k: v for k, v in options.items() if v is not None})
    return _iterate(reader, src, ctx, strict, fps, workers, skip, progress)


def _iterate(reader: Reader, src: Path, ctx: Context, strict: bool, fps: float | None, workers: int,
             skip: Callable[[Unit], bool] | None, progress: bool) -> Iterator[UnitResult]:
    units = reader.find(src)
    if not units:
        log.warning("%s: no %s files found", src, reader.name)
    todo = [u for u in units if skip is None or not skip(u)]
    if len(todo) < len(units):
        log.info("%s: %d of %d %s unit(s) already ingested, not read again", src, len(units) - len(todo),
                 len(units), reader.name)
    seen: set[str] = set()
    results = imap_ordered(_read_job, [(reader.name, u, ctx, fps) for u in todo], workers)
    bar = tqdm(total=len(todo), disable=not progress, unit="file", desc=f"reading {reader.name}")
    try:
        for unit, (seqs, exc) in zip(todo, results):
            bar.update(1)
            if exc is None and seen.intersection(s.sequence_id for s in seqs):
                repeated = sorted(seen.intersection(s.sequence_id for s in seqs))
                exc = FormatError(f"sequence id(s) {repeated} were already read from another file")
            if exc is not None:
                yield UnitResult(unit, [], _skip(unit, exc, strict))
                continue
            seen.update(s.sequence_id for s in seqs)
            yield UnitResult(unit, seqs, _report_ok(unit, seqs))
    finally:
        bar.close()
        results.close()


def _read_job(job: tuple[str, Unit, Context, float | None]) -> tuple[list[Sequence], Exception | None]:
    """One unit, in a worker process or this one: (sequences, None), or ([], the read error)."""
    fmt, unit, ctx, fps = job
    try:
        return _read_unit(READERS[fmt], unit, ctx, fps), None
    except READ_ERRORS as exc:
        return [], exc


def _read_unit(reader: Reader, unit: Unit, ctx: Context, fps: float | None) -> list[Sequence]:
    """All sequences of one unit, validated; a unit is all or nothing."""
    seqs = []
    for seq in reader.read(unit, ctx):
        seq.dataset = seq.dataset or reader.name
        seq.extra.setdefault("source", str(unit.path))
        if fps is not None:
            seq = resample(seq, fps)
        validate(seq, source=str(unit.path))
        if any(s.sequence_id == seq.sequence_id for s in seqs):
            raise FormatError(f"sequence id {seq.sequence_id!r} occurs twice in it")
        seqs.append(seq)
    if not seqs:
        raise FormatError("no sequence in it")
    return seqs


def _skip(unit: Unit, exc: Exception, strict: bool) -> list[dict]:
    msg = str(exc) if isinstance(exc, SchemaError) else f"{type(exc).__name__}: {exc}"
    if not any(str(f) in msg for f in (unit.path, *unit.files)):  # named once, by the file at fault if known
        msg = f"{unit.path}: {msg}"
    if strict:
        raise SchemaError(msg) from exc
    log.warning("skipping %s", msg)
    return [{"path": str(f), "status": "skipped", "took": [], "reason": msg} for f in unit.files]


def _report_ok(unit: Unit, seqs: list[Sequence]) -> list[dict]:
    records = []
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
        records.append({"path": str(f), "status": status, "took": took, "reason": reason})
    return records

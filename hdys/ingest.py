"""``hdys ingest``: dataset files -> corpus, in parallel and resumable.

Units of a source (files, clip folders, OpenSim trials; see ``hdys.formats``) are independent: they are
read in ``workers`` processes (``formats.read_units``), in the reader's order, so the corpus is the
same whatever the worker count. Sequences are committed to the corpus in batches of about
``batch_frames`` frames (``store.write_corpus``, whose manifest is replaced atomically), each batch
followed by the per-file report ``CORPUS/ingest_report.json``: a list of records

    {"path", "status": "ok" | "skipped", "took", "reason", "size", "mtime_ns", "settings"}

with the file's size and modification time when it was read and ``settings`` = {"format", "fps",
"options"} of the ingest that read it. A re-run (the same command after an interruption, or a source
that gained files) does not read again a unit all of whose files have a record with the same size,
mtime and settings and at least one "ok" file. Units that failed are read again (and fail again,
or are fixed). An interruption therefore loses at most the batch in flight; a unit already in the
corpus but not yet in the report is read again and its sequences, identical by checksum, are not
written twice (``write_corpus`` skips ids it holds with the same data).

With ``strict`` every unit is read (and validated) once before anything is written, so that a bad file
stops the ingest with the corpus as it was: the files are read twice. One ingest (or synth, or label)
writes a corpus at a time (``hdys.locks``); a second one is refused with the first one's pid.

Splits are assigned by ``write_corpus`` batch by batch (per subject, by hash); a resumed ingest can
place a dataset's test subject differently from one uninterrupted run when a batch had to move a
subject to give its dataset both splits.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .formats import Unit, read_units
from .locks import holding
from .store import MANIFEST, atomic_write_json, write_corpus

log = logging.getLogger(__name__)

REPORT = "ingest_report.json"


def load_report(out: Path) -> dict[str, dict]:
    """The records of ``out/ingest_report.json`` by path ({} when there is none)."""
    path = Path(out) / REPORT
    if not path.exists():
        return {}
    try:
        records = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable ingest report ({exc}); move it away to ingest from scratch") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "path" in r for r in records):
        raise ValueError(f"{path}: not an ingest report (expected a list of records with a 'path'); "
                         "move it away to ingest from scratch")
    return {r["path"]: r for r in records}


def _fingerprint(path: str) -> dict:
    try:
        st = Path(path).stat()
    except OSError:
        return {"size": None, "mtime_ns": None}
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def ingest(fmt: str, src, out, *, workers: int = 1, strict: bool = False, fps: float | None = None,
           test_fraction: float = 0.2, seed: int = 0, progress: bool = True, batch_frames: int = 100_000,
           **options) -> dict:
    """Read ``src`` as ``fmt`` into the corpus ``out`` (created or appended to); see the module docstring.

    ``options`` are the reader's (``None`` values are left out). Returns a summary: units read and
    resumed (already ingested), sequences read, the report records of files skipped in this run.
    """
    out = Path(out)
    with holding(out, "this hdys ingest"):
        return _ingest(fmt, src, out, workers=workers, strict=strict, fps=fps, test_fraction=test_fraction,
                       seed=seed, progress=progress, batch_frames=batch_frames, **options)


def _ingest(fmt: str, src, out: Path, *, workers: int, strict: bool, fps: float | None, test_fraction: float,
            seed: int, progress: bool, batch_frames: int, **options) -> dict:
    options = {k: v for k, v in sorted(options.items()) if v is not None}
    settings = {"format": fmt, "fps": fps, "options": options}
    old = load_report(out)
    summary = {"units_read": 0, "units_resumed": 0, "sequences": 0, "skipped": []}

    def done(unit: Unit) -> bool:
        recs = [old.get(str(f)) for f in unit.files]
        ok = (all(r is not None and r.get("settings") == settings
                  and {k: r.get(k) for k in ("size", "mtime_ns")} == _fingerprint(str(f))
                  for f, r in zip(unit.files, recs))
              and any(r["status"] == "ok" for r in recs))
        summary["units_resumed"] += ok
        return ok

    if strict:  # check every file first, so that a bad one stops the ingest before anything is written
        for _ in read_units(fmt, src, strict=True, fps=fps, workers=workers, skip=done, progress=progress, **options):
            pass
        summary["units_resumed"] = 0  # counted again below
    units = read_units(fmt, src, strict=strict, fps=fps, workers=workers, skip=done, progress=progress, **options)
    out.mkdir(parents=True, exist_ok=True)
    pending: list = []
    pending_records: list[dict] = []

    def flush() -> None:
        if pending or not (out / MANIFEST).exists():
            write_corpus(out, pending, strict=strict, test_fraction=test_fraction, seed=seed, progress=False)
        for r in pending_records:
            old[r["path"]] = r  # an updated path keeps its place
        atomic_write_json(out / REPORT, list(old.values()))
        pending.clear()
        pending_records.clear()

    try:
        frames = 0
        for res in units:
            summary["units_read"] += 1
            summary["sequences"] += len(res.sequences)
            summary["skipped"] += [r for r in res.records if r["status"] == "skipped"]
            pending.extend(res.sequences)
            pending_records.extend(dict(r, **_fingerprint(r["path"]), settings=settings) for r in res.records)
            frames += sum(s.num_frames for s in res.sequences)
            if frames >= batch_frames:
                flush()
                frames = 0
    finally:  # what was read completely is kept, also when interrupted
        flush()
    return summary

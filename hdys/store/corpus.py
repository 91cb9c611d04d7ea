"""Reading a corpus: :class:`Corpus` (entries, splits, windows, statistics), several corpora at once, and
the npz export and import."""
from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np
from tqdm import tqdm

from ..features import FEATURE_VERSION, RunningStats, merge_stats, sequence_stats, window_span
from ..schema import ARRAY_KEYS, DYNAMICS, KINEMATICS, NAME_KEYS, SPLITS, SchemaError, Sequence, load_npz, save_npz
from .common import (CORPUS_SCHEMA_VERSION, FORMAT, MANIFEST, CorpusError, Entry, _file_name, _group_name,
                     _stats_from_json, checksum)

log = logging.getLogger("hdys.store")


def _feature_version(meta) -> int:
    """The feature version a group's attributes or a manifest records (1: written before versions)."""
    return int(meta.get("feature_version", 1))


def _fallback_entry(g, sid: str, shard: str) -> Entry:
    a = g.attrs
    T = next(g[k].shape[0] for k in ARRAY_KEYS if k in g)
    return Entry(sequence_id=sid, dataset=str(a.get("dataset", "")), subject=str(a.get("subject", "")),
                 split=str(a.get("split", "")), frames=int(T), fps=float(a["fps"]),
                 mass_kg=float(a["mass_kg"]) if "mass_kg" in a else None,
                 height_m=float(a["height_m"]) if "height_m" in a else None,
                 representations=tuple(k for k in ARRAY_KEYS if k in g), shard=shard, checksum="")


# --------------------------------------------------------------------------------------------------
# reading


def _read_meta(g) -> dict:
    meta: dict = {}
    for key in NAME_KEYS:
        if key in g:
            meta[key] = [str(n) for n in g[key].asstr()[()]]
    if "keypoint_parents" in g:
        meta["keypoint_parents"] = np.asarray(g["keypoint_parents"][()], np.int64)
    return meta


def _read_group(g, e: Entry, start: int, stop: int | None, meta: dict | None = None) -> Sequence:
    a = min(max(int(start), 0), e.frames)
    b = e.frames if stop is None else min(max(int(stop), a), e.frames)
    meta = _read_meta(g) if meta is None else meta
    kw: dict = {}
    for key in e.representations:
        if key not in g:
            raise CorpusError(f"{g.file.filename}: sequence {e.sequence_id!r} has no {key!r} array, which the "
                              "manifest lists (run `hdys check` on the corpus)")
        arr = g[key][a:b]
        if arr.shape[0] != b - a:
            raise CorpusError(f"{g.file.filename}: sequence {e.sequence_id!r}: {key!r} holds {g[key].shape[0]} "
                              f"frames, the manifest says {e.frames} (run `hdys check` on the corpus)")
        kw[key] = arr.astype(bool) if key == "contact" else arr
    for key, value in meta.items():
        kw[key] = list(value) if isinstance(value, list) else value.copy()
    if "terrain" in g.attrs:
        kw["extra"] = {"terrain": json.loads(g.attrs["terrain"])}
    return Sequence(fps=e.fps, sequence_id=e.sequence_id, dataset=e.dataset, split=e.split,
                    subject=e.subject, mass_kg=e.mass_kg, height_m=e.height_m, **kw)


class Corpus:
    """Read access to a corpus directory written by ``write_corpus``."""

    def __init__(self, path):
        path = Path(path)
        if path.name == MANIFEST and path.is_file():
            path = path.parent
        self.path = path
        mpath = path / MANIFEST
        if not path.is_dir():
            raise CorpusError(f"{path}: not a corpus (no such directory)")
        if not mpath.is_file():
            raise CorpusError(f"{path}: not a corpus (no {MANIFEST}; write one with write_corpus)")
        try:
            with open(mpath, encoding="utf-8") as f:
                manifest = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorpusError(f"{mpath}: unreadable manifest: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise CorpusError(f"{mpath}: not an {FORMAT} manifest "
                              f"(format {manifest.get('format') if isinstance(manifest, dict) else None!r})")
        if manifest.get("schema_version") != CORPUS_SCHEMA_VERSION:
            raise CorpusError(f"{mpath}: schema_version {manifest.get('schema_version')!r} is not supported "
                              f"(this hdys reads version {CORPUS_SCHEMA_VERSION}); rewrite the corpus")
        for key, typ in (("datasets", dict), ("sequences", list), ("stats", dict)):
            if not isinstance(manifest.get(key), typ):
                raise CorpusError(f"{mpath}: missing or malformed {key!r}")
        try:
            self._entries = [Entry.from_json(e) for e in manifest["sequences"]]
        except (TypeError, KeyError, ValueError) as exc:
            raise CorpusError(f"{mpath}: malformed sequence entry: {exc}") from None
        self.manifest = manifest
        self._by_id = {e.sequence_id: e for e in self._entries}
        self._handles: dict[int, dict[str, h5py.File]] = {}
        self._meta: dict[str, dict] = {}
        self._stale_stats: dict[str, RunningStats] | None = None

    def __repr__(self) -> str:
        return f"Corpus({str(self.path)!r}, {len(self._entries)} sequences)"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, sequence_id) -> bool:
        return sequence_id in self._by_id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __getstate__(self):  # picklable for worker processes; handles are re-opened there
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    @property
    def datasets(self) -> list[str]:
        return sorted(self.manifest["datasets"])

    @property
    def skipped(self) -> list[dict]:
        return list(self.manifest.get("skipped", []))

    @property
    def stats(self) -> dict[str, RunningStats]:
        """Feature statistics of the train split; recomputed from the arrays (once per ``Corpus``) when
        the manifest's were computed by another feature version."""
        version = _feature_version(self.manifest)
        if version == FEATURE_VERSION:
            return _stats_from_json(self.manifest["stats"])
        if self._stale_stats is None:
            train = self.entries(split="train")
            log.warning("%s: statistics were computed by feature version %d, this hdys computes version %d; "
                        "recomputing them from %d train sequences (rewrite the corpus to store them)",
                        self.path, version, FEATURE_VERSION, len(train))
            self._stale_stats = merge_stats([sequence_stats(self.read(e.sequence_id)) for e in train])
        return self._stale_stats

    def entries(self, split: str | None = None, dataset: str | None = None) -> list[Entry]:
        if split is not None and split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
        return [e for e in self._entries
                if (split is None or e.split == split) and (dataset is None or e.dataset == dataset)]

    def entry(self, sequence_id: str) -> Entry:
        try:
            return self._by_id[sequence_id]
        except KeyError:
            raise CorpusError(f"{self.path}: no sequence {sequence_id!r} in the corpus") from None

    def _file(self, shard: str) -> h5py.File:
        handles = self._handles.get(os.getpid())
        if handles is None:  # first use in this process (e.g. after fork): never reuse a parent's handle
            handles = self._handles[os.getpid()] = {}
        f = handles.get(shard)
        if f is None:
            try:
                f = handles[shard] = h5py.File(self.path / shard, "r")
            except OSError as exc:
                raise CorpusError(f"{self.path / shard}: cannot open shard: {exc}") from None
        return f

    def read(self, sequence_id: str, start: int = 0, stop: int | None = None, verify: bool = False) -> Sequence:
        """Frames [start, stop) of a sequence (clipped to [0, frames)). Not validated against the schema;
        with ``verify`` (whole sequences only) the arrays' checksum must equal the manifest's."""
        e = self.entry(sequence_id)
        f = self._file(e.shard)
        try:
            g = f[_group_name(sequence_id)]
        except KeyError:
            raise CorpusError(f"{self.path / e.shard}: no sequence {sequence_id!r} in this shard, which the "
                              "manifest lists (run `hdys check` on the corpus)") from None
        meta = self._meta.get(sequence_id)
        if meta is None:
            meta = self._meta[sequence_id] = _read_meta(g)
        seq = _read_group(g, e, start, stop, meta)
        if verify and e.checksum and (start, stop) == (0, None) and checksum(seq) != e.checksum:
            raise CorpusError(f"{self.path / e.shard}: sequence {sequence_id!r}: its arrays' checksum differs from "
                              "the manifest's: the shard was changed after it was written (run `hdys check`)")
        return seq

    def check(self, progress: bool = True) -> dict[str, list[str]]:
        """Every shard opened and every sequence read whole: shapes and checksums against the manifest.
        Returns ``{"problems": [...], "notes": [...]}``; problems make a corpus unusable as it is, notes
        are harmless (groups of an interrupted write that no manifest entry names)."""
        problems: list[str] = []
        named: dict[str, set[str]] = defaultdict(set)
        for e in self._entries:
            named[e.shard].add(_group_name(e.sequence_id))
        for e in tqdm(self._entries, disable=not progress, unit="seq", desc=f"checking {self.path.name}"):
            try:
                self.read(e.sequence_id, verify=True)
            except (CorpusError, OSError, KeyError, ValueError) as exc:
                if str(exc) not in problems:  # an unreadable shard is reported once
                    problems.append(str(exc))
        notes = []
        for shard in sorted(named):
            try:
                extra = sorted(set(self._file(shard).keys()) - named[shard])
            except CorpusError:
                continue  # reported above
            if extra:
                notes.append(f"{self.path / shard}: {len(extra)} sequence group(s) no manifest entry names "
                             f"(e.g. {extra[0]!r}), left by an interrupted write; never read")
        return {"problems": problems, "notes": notes}

    def read_window(self, sequence_id: str, start: int, length: int) -> tuple[Sequence, int]:
        """Frames [start - MARGIN, start + length + MARGIN) clipped; returns (sequence, margin_before)."""
        a, b, before = window_span(self.entry(sequence_id).frames, start, length)
        return self.read(sequence_id, a, b), before

    def availability(self) -> list[dict]:
        """Per dataset: sequences, frames, subjects, per split counts, sequences per representation."""
        rows = []
        for ds in self.datasets:
            es = self.entries(dataset=ds)
            reps: dict[str, int] = {}
            for key in ARRAY_KEYS:
                n = sum(key in e.representations for e in es)
                if n:
                    reps[key] = n
            splits = {}
            for sp in SPLITS:
                se = [e for e in es if e.split == sp]
                splits[sp] = {"sequences": len(se), "frames": sum(e.frames for e in se),
                              "subjects": len({e.subject_key for e in se})}
            rows.append({"dataset": ds, "sequences": len(es), "frames": sum(e.frames for e in es),
                         "seconds": float(sum(e.frames / e.fps for e in es)),
                         "subjects": len({e.subject_key for e in es}), "splits": splits,
                         "representations": reps})
        return rows

    def info_table(self) -> str:
        """Markdown table, datasets x representations (✓ all sequences, n/N some, - none), sizes."""
        rows = self.availability()
        present = {k for r in rows for k in r["representations"]}
        cols = list(KINEMATICS) + list(DYNAMICS) + [k for k in ("cop", "contact") if k in present]
        head = ["dataset"] + cols + ["sequences", "frames", "hours", "subjects", "train", "test"]
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for r in rows:
            cells = [r["dataset"]]
            for k in cols:
                n = r["representations"].get(k, 0)
                cells.append("✓" if n and n == r["sequences"] else f"{n}/{r['sequences']}" if n else "-")
            cells += [str(r["sequences"]), str(r["frames"]), f"{r['seconds'] / 3600:.2f}", str(r["subjects"]),
                      str(r["splits"]["train"]["sequences"]), str(r["splits"]["test"]["sequences"])]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def close(self) -> None:
        for f in self._handles.pop(os.getpid(), {}).values():
            try:
                f.close()
            except Exception:  # noqa: BLE001 - already closed
                pass


def open_corpora(paths) -> list[Corpus]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    corpora = [Corpus(p) for p in paths]
    seen: dict[str, Path] = {}
    for c in corpora:
        for e in c.entries():
            if e.sequence_id in seen and seen[e.sequence_id] != c.path:
                log.warning("sequence id %r is in both %s and %s", e.sequence_id, seen[e.sequence_id], c.path)
            seen.setdefault(e.sequence_id, c.path)
    return corpora


def merged_stats(corpora) -> dict[str, RunningStats]:
    return merge_stats([c.stats for c in corpora])


# --------------------------------------------------------------------------------------------------
# npz exchange


def export_npz(corpus: Corpus, out_dir, sequence_ids=None, progress: bool = True) -> list[Path]:
    """Write ``<sequence_id>.npz`` (schema.save_npz; '/' in ids escaped as %2F) per sequence."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = [e.sequence_id for e in corpus.entries()] if sequence_ids is None else list(sequence_ids)
    paths = []
    for sid in tqdm(ids, disable=not progress, unit="seq", desc="exporting npz"):
        paths.append(save_npz(corpus.read(sid), out_dir / f"{_file_name(sid)}.npz"))
    return paths


def sequences_from_npz(paths_or_dirs, strict: bool = False, skipped: list | None = None) -> Iterator[Sequence]:
    """Yield validated sequences from schema npz files; a directory means its ``*.npz`` files, sorted.

    A file that cannot be read or does not match the schema is logged and skipped (appended to
    ``skipped`` as {"path", "reason"} when given), or raises ``SchemaError`` with ``strict``.
    """
    if isinstance(paths_or_dirs, (str, os.PathLike)):
        paths_or_dirs = [paths_or_dirs]
    for p in paths_or_dirs:
        p = Path(p)
        files = (sorted(f for f in p.glob("*.npz") if not f.name.endswith(".tmp.npz")) if p.is_dir() else [p])
        for f in files:
            try:
                seq = load_npz(f)
            except SchemaError as exc:
                if strict:
                    raise
                log.warning("skipping %s: %s", f, exc)
                if skipped is not None:
                    skipped.append({"path": str(f), "reason": str(exc)})
                continue
            seq.extra.setdefault("source", str(f))
            yield seq

"""On-disk corpus of canonical sequences: sharded HDF5 plus a JSON manifest.

Layout of a corpus directory::

    manifest.json              datasets, one entry per sequence, train-split normalisation statistics
    <dataset>/shard-000.h5     one group per sequence (group name = sequence id, '/' escaped as %2F)
    <dataset>/shard-001.h5     ... a new shard starts once a shard holds about ``shard_frames`` frames

Each sequence group holds one chunked dataset per present array key (float32, ``contact`` as uint8,
chunks of up to 256 frames along time), its names arrays and ``keypoint_parents`` as datasets, the
scalars (fps, mass_kg, height_m, subject, split, dataset, sequence_id) as attributes, a ``terrain``
attribute (JSON) where ``extra["terrain"]`` gives the platforms the feet stood on (read back into
``extra``; the rest of ``extra`` is not stored), and ``_stats_json``, the sequence's feature statistics
(``features.sequence_stats``) so that the train statistics can be recomputed without re-reading arrays
when a subject changes split. Both the groups and the manifest record the ``features.FEATURE_VERSION``
their statistics were computed with; statistics of another version are recomputed from the arrays.

The manifest is the authority: shard files or groups it does not list are ignored (and shard files
are overwritten by a later write). It is replaced atomically when a :class:`CorpusWriter` closes
(at the end of ``write_corpus``) only, so an interrupted write leaves the previous corpus intact; running
``write_corpus`` again resumes it (sequence ids already present are skipped).

Splits are by subject, per dataset (see :class:`CorpusWriter`).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import h5py
import numpy as np
from tqdm import tqdm

from .features import FEATURE_VERSION, RunningStats, merge_stats, sequence_stats, window_span
from .locks import holding
from .schema import (ARRAY_KEYS, DYNAMICS, KINEMATICS, MAX_FPS, NAME_KEYS, SPLITS, SchemaError, Sequence,
                     load_npz, save_npz, validate)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# the manifest entries a CorpusWriter writes itself (others, such as hdys synth's settings, it keeps)
_MANIFEST_OWN = ("schema_version", "format", "created", "updated", "seed", "test_fraction", "datasets", "sequences",
                 "stats", "feature_version", "skipped")
FORMAT = "hdys-corpus"
CORPUS_SCHEMA_VERSION = 1
CHUNK_FRAMES = 256
STATS_KEY = "_stats_json"


class CorpusError(ValueError):
    """A corpus directory is missing, unreadable or inconsistent, or a sequence id is unknown."""


@dataclass(frozen=True)
class Entry:
    """One sequence of a corpus as listed in its manifest."""

    sequence_id: str
    dataset: str
    subject: str
    split: str
    frames: int
    fps: float
    mass_kg: float | None
    height_m: float | None
    representations: tuple[str, ...]
    shard: str
    checksum: str
    split_given: bool = False  # the split came with the sequence (kept), rather than assigned here

    @classmethod
    def from_json(cls, d: dict) -> "Entry":
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["representations"] = tuple(kw.get("representations", ()))
        entry = cls(**kw)
        entry.check()
        return entry

    def check(self) -> None:
        """Raise a ValueError naming the field when the entry cannot describe a readable sequence."""
        sid = self.sequence_id
        if not isinstance(self.frames, int) or isinstance(self.frames, bool) or self.frames < 1:
            raise ValueError(f"sequence {sid!r}: frames {self.frames!r} (expected an integer >= 1)")
        if not isinstance(self.fps, (int, float)) or not 0.0 < self.fps <= MAX_FPS:
            raise ValueError(f"sequence {sid!r}: fps {self.fps!r} (expected a number in (0, {MAX_FPS:g}])")
        for key in ("mass_kg", "height_m"):
            v = getattr(self, key)
            if v is not None and (not isinstance(v, (int, float)) or not v > 0 or not np.isfinite(v)):
                raise ValueError(f"sequence {sid!r}: {key} {v!r} (expected a positive number or null)")
        unknown = [k for k in self.representations if k not in ARRAY_KEYS]
        if unknown or not self.representations:
            raise ValueError(f"sequence {sid!r}: representations {list(self.representations)!r} "
                             f"(expected one or more of {list(ARRAY_KEYS)})")
        if not isinstance(self.shard, str) or not self.shard or ".." in Path(self.shard).parts \
                or Path(self.shard).is_absolute():
            raise ValueError(f"sequence {sid!r}: shard {self.shard!r} (expected a path inside the corpus)")

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["representations"] = list(self.representations)
        return d

    @property
    def subject_key(self) -> str:
        return self.subject or self.sequence_id


# --------------------------------------------------------------------------------------------------
# helpers


def _group_name(sequence_id: str) -> str:
    return sequence_id.replace("%", "%25").replace("/", "%2F")


def _file_name(sequence_id: str) -> str:
    return sequence_id.replace("%", "%25").replace("/", "%2F").replace("\\", "%5C")


def _dir_name(dataset: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._+-]", "_", dataset).strip(".") or "dataset"
    return name


def checksum(seq: Sequence) -> str:
    """sha256 over the present arrays (key, dtype, shape and bytes, in schema key order)."""
    h = hashlib.sha256()
    for key in ARRAY_KEYS:
        a = getattr(seq, key)
        if a is None:
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{key}:{a.dtype.str}:{a.shape};".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _subject_hash(seed: int, dataset: str, subject: str) -> float:
    digest = hashlib.sha256(f"{seed}\x00{dataset}\x00{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def _stats_to_json(stats: dict[str, RunningStats]) -> dict:
    return {k: stats[k].to_json() for k in sorted(stats)}


def _stats_from_json(d: dict) -> dict[str, RunningStats]:
    return {k: RunningStats.from_json(v) for k, v in d.items()}


def atomic_write_json(path: Path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename, so a reader (or an
    interrupted run) sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------------
# writing


class _ShardWriter:
    """Appends sequence groups to ``<dir>/shard-XXX.h5`` files of one dataset, rolling over by frames."""

    def __init__(self, root: Path, dirname: str, first_index: int, shard_frames: int):
        self.root, self.dirname, self.index, self.shard_frames = root, dirname, first_index, shard_frames
        self.file: h5py.File | None = None
        self.frames = 0
        self.shards: list[str] = []  # relative paths created by this writer

    def _open_next(self) -> None:
        self.close()
        rel = f"{self.dirname}/shard-{self.index:03d}.h5"
        self.index += 1
        (self.root / self.dirname).mkdir(parents=True, exist_ok=True)
        self.file = h5py.File(self.root / rel, "w")  # overwrites an unlisted leftover of an interrupted write
        self.file.attrs["format"] = FORMAT
        self.frames = 0
        self.shards.append(rel)

    def add(self, seq: Sequence, split: str, stats: dict[str, RunningStats]) -> str:
        if self.file is None or self.frames >= self.shard_frames:
            self._open_next()
        g = self.file.create_group(_group_name(seq.sequence_id))
        T = seq.num_frames
        for key in ARRAY_KEYS:
            a = getattr(seq, key)
            if a is None:
                continue
            a = a.astype(np.uint8) if key == "contact" else np.asarray(a, np.float32)
            chunks = (max(1, min(CHUNK_FRAMES, T)),) + a.shape[1:]
            g.create_dataset(key, data=a, chunks=chunks)
        for key in NAME_KEYS:
            names = getattr(seq, key)
            if names is not None and getattr(seq, NAME_KEYS[key][0]) is not None:
                g.create_dataset(key, data=np.asarray([str(n) for n in names], dtype=object),
                                 dtype=h5py.string_dtype())
        if seq.keypoints is not None and seq.keypoint_parents is not None:
            g.create_dataset("keypoint_parents", data=np.asarray(seq.keypoint_parents, np.int64))
        g.create_dataset(STATS_KEY, data=json.dumps(_stats_to_json(stats)), dtype=h5py.string_dtype())
        g.attrs["feature_version"] = FEATURE_VERSION
        g.attrs["sequence_id"] = seq.sequence_id
        g.attrs["dataset"] = seq.dataset
        g.attrs["subject"] = seq.subject or ""
        g.attrs["split"] = split
        g.attrs["fps"] = float(seq.fps)
        for key in ("mass_kg", "height_m"):
            if getattr(seq, key) is not None:
                g.attrs[key] = float(getattr(seq, key))
        if isinstance(seq.extra, dict) and seq.extra.get("terrain") is not None:  # platforms the feet stood on
            g.attrs["terrain"] = json.dumps(seq.extra["terrain"])
        self.frames += T
        return self.shards[-1]

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _load_existing(out: Path) -> dict | None:
    if not (out / MANIFEST).exists():
        return None
    return Corpus(out).manifest  # validates format and version


def write_corpus(out, sequences: Iterable[Sequence], *, progress: bool = True, **kwargs) -> "Corpus":
    """Validate ``sequences`` and write them to the corpus ``out`` (a :class:`CorpusWriter` with ``kwargs``),
    holding its lock (waiting for another writer to finish). ``sequences`` is consumed once, one at a time."""
    with holding(out, "this corpus write", wait=True):
        writer = CorpusWriter(out, **kwargs)
        try:
            for seq in tqdm(sequences, disable=not progress, unit="seq", desc=f"writing {Path(out).name}"):
                writer.add(seq)
        except BaseException:
            writer.abort()
            raise
        return writer.close()


class CorpusWriter:
    """Writes sequences to (or appends them to) the corpus directory ``out``: :meth:`add` each, then
    :meth:`close` writes the manifest; until then the corpus on disk is the one it started from (:meth:`abort`
    closes the shard files and leaves it so). The caller holds the corpus lock (:func:`write_corpus` does).

    A sequence that fails ``schema.validate``, has no sequence_id or dataset, or repeats an id of this writer
    is logged and listed in ``manifest["skipped"]`` (or raises ``SchemaError`` with ``strict``). Ids already in
    the corpus are skipped: silently when the arrays' checksum is the same, with a warning (an error with
    ``strict``) when it differs.

    Splits, per dataset and by subject (the sequence id where the subject is empty): a split the sequence comes
    with is kept; sequences of a subject that already has a split follow it; otherwise the subject goes to test
    when hash(seed, dataset, subject) in [0, 1) is below ``test_fraction``. On close, a dataset with >= 2
    subjects and no test subject gets the assigned subject of smallest hash moved to test (likewise the largest
    to train when it has no train subject). ``manifest["stats"]`` are the merged ``features.sequence_stats`` of
    the train sequences. ``meta``: more top-level manifest entries (``hdys synth`` records its settings there);
    entries of an existing manifest that the writer does not own are kept.
    """

    def __init__(self, out, *, test_fraction: float = 0.2, seed: int = 0, strict: bool = False,
                 shard_frames: int = 500_000, meta: dict | None = None):
        if not 0.0 <= test_fraction <= 1.0:
            raise ValueError(f"test_fraction must be in [0, 1], got {test_fraction}")
        self.out, self.test_fraction, self.seed, self.strict = Path(out), test_fraction, seed, strict
        self.shard_frames, self.meta = shard_frames, dict(meta or {})
        if clash := sorted(set(self.meta) & set(_MANIFEST_OWN)):
            raise ValueError(f"meta may not set the manifest's own entries {clash}")
        self.out.mkdir(parents=True, exist_ok=True)
        self.old = _load_existing(self.out)
        self.old_entries = [Entry.from_json(e) for e in self.old["sequences"]] if self.old else []
        self.old_by_id = {e.sequence_id: e for e in self.old_entries}
        self.datasets_meta: dict[str, dict] = {k: {"shards": list(v.get("shards", []))}
                                               for k, v in (self.old["datasets"] if self.old else {}).items()}
        # known auto-assigned subject splits, so that new sequences of a known subject follow it
        self.subject_split: dict[tuple[str, str], str] = {}
        for e in self.old_entries:
            if not e.split_given:
                self.subject_split.setdefault((e.dataset, e.subject_key), e.split)
        self.used_dirs = {s.split("/")[0] for v in self.datasets_meta.values() for s in v["shards"]}
        self.writers: dict[str, _ShardWriter] = {}
        self.new_entries: list[Entry] = []
        self.new_stats: dict[str, dict[str, RunningStats]] = {}
        self.seen: set[str] = set()
        self.skipped: list[dict] = []
        self.n_same = 0

    def _writer_for(self, dataset: str) -> _ShardWriter:
        if dataset not in self.writers:
            shards = self.datasets_meta.get(dataset, {}).get("shards", [])
            if shards:
                dirname = shards[0].split("/")[0]
                first = 1 + max(int(m.group(1)) for s in shards
                                if (m := re.search(r"shard-(\d+)\.h5$", s)))
            else:
                base = dirname = _dir_name(dataset)
                i = 1
                while dirname in self.used_dirs:
                    dirname = f"{base}_{i}"
                    i += 1
                self.used_dirs.add(dirname)
                first = 0
            self.writers[dataset] = _ShardWriter(self.out, dirname, first, self.shard_frames)
        return self.writers[dataset]

    def _reject(self, sid: str, reason: str) -> None:
        if self.strict:
            raise SchemaError(reason)
        log.warning("skipping sequence %r: %s", sid, reason)
        self.skipped.append({"sequence_id": sid, "reason": reason})

    def _checked(self, seq: Sequence) -> str | None:
        """The sequence's checksum if it is to be written, None if it is rejected or already there."""
        sid = str(seq.sequence_id or "")
        source = seq.extra.get("source") if isinstance(seq.extra, dict) else None
        try:
            if not sid:
                raise SchemaError(f"{source + ': ' if source else ''}sequence_id: required by the corpus")
            if not seq.dataset:
                raise SchemaError(f"{source + ' / ' if source else ''}sequence {sid!r}: dataset: "
                                  "required by the corpus")
            validate(seq, source=source)
        except SchemaError as exc:
            self._reject(sid, str(exc))
            return None
        if sid in self.seen:
            self._reject(sid, f"sequence {sid!r}: duplicate sequence id (already given earlier in this write)")
            return None
        self.seen.add(sid)
        digest = checksum(seq)
        if sid in self.old_by_id:
            if self.old_by_id[sid].checksum == digest:
                self.n_same += 1
            else:
                self._reject(sid, f"sequence {sid!r}: already in the corpus with different data "
                                  f"(checksum {self.old_by_id[sid].checksum[:12]} vs {digest[:12]})")
            return None
        return digest

    def _split(self, seq: Sequence, key: str) -> str:
        if seq.split:
            return seq.split
        split = self.subject_split.get((seq.dataset, key))
        if split is None:
            split = "test" if _subject_hash(self.seed, seq.dataset, key) < self.test_fraction else "train"
            self.subject_split[(seq.dataset, key)] = split
        return split

    def add(self, seq: Sequence) -> None:
        """Validate ``seq`` and write its arrays to its dataset's current shard (or report it skipped)."""
        digest = self._checked(seq)
        if digest is None:
            return
        sid = str(seq.sequence_id)
        try:
            stats = sequence_stats(seq)
        except Exception as exc:  # noqa: BLE001 - reported per sequence, raised with strict
            self._reject(sid, f"sequence {sid!r}: feature statistics failed: {type(exc).__name__}: {exc}")
            return
        split = self._split(seq, seq.subject or sid)
        shard = self._writer_for(seq.dataset).add(seq, split, stats)
        self.new_entries.append(Entry(
            sequence_id=sid, dataset=seq.dataset, subject=seq.subject or "", split=split,
            frames=seq.num_frames, fps=float(seq.fps),
            mass_kg=None if seq.mass_kg is None else float(seq.mass_kg),
            height_m=None if seq.height_m is None else float(seq.height_m),
            representations=tuple(k for k in ARRAY_KEYS if getattr(seq, k) is not None),
            shard=shard, checksum=digest, split_given=bool(seq.split)))
        self.new_stats[sid] = stats

    def abort(self) -> None:
        """Close the shard files without writing the manifest (what was added is not part of the corpus)."""
        for w in self.writers.values():
            w.close()

    def close(self) -> "Corpus":
        """Close the shards, settle the splits, merge the statistics and write the manifest."""
        self.abort()
        for dataset, w in self.writers.items():
            self.datasets_meta.setdefault(dataset, {"shards": []})["shards"].extend(w.shards)
        self.writers = {}
        entries = _resolve_splits(self.old_entries + self.new_entries, self.seed, self.test_fraction)
        old_split = {e.sequence_id: e.split for e in self.old_entries + self.new_entries}
        changed = [e for e in entries if e.split != old_split[e.sequence_id]]
        if changed:
            _rewrite_split_attrs(self.out, changed)
        manifest = {
            "schema_version": CORPUS_SCHEMA_VERSION,
            "format": FORMAT,
            "created": self.old["created"] if self.old else _now(),
            "updated": _now(),
            "seed": self.seed,
            "test_fraction": self.test_fraction,
            "datasets": {k: self.datasets_meta[k] for k in sorted(self.datasets_meta)},
            "sequences": [e.to_json() for e in entries],
            "stats": _stats_to_json(self._train_stats(entries)),
            "feature_version": FEATURE_VERSION,
            "skipped": self.skipped,
        }
        for k, v in {**(self.old or {}), **self.meta}.items():
            if k not in _MANIFEST_OWN:
                manifest[k] = v
        atomic_write_json(self.out / MANIFEST, manifest)
        corpus = Corpus(self.out)
        lines = [f"corpus {self.out}: wrote {len(self.new_entries)} new sequences "
                 f"({sum(e.frames for e in self.new_entries)} frames), {self.n_same} already present, "
                 f"{len(self.skipped)} skipped, {len(changed)} moved between splits"]
        for row in corpus.availability():
            lines.append(f"  {row['dataset']}: {row['sequences']} sequences, {row['frames']} frames, "
                         f"{row['subjects']} subjects; train {row['splits']['train']['sequences']} / "
                         f"test {row['splits']['test']['sequences']} sequences")
        log.info("\n".join(lines))
        return corpus

    def _train_stats(self, entries: list[Entry]) -> dict[str, RunningStats]:
        """The merged statistics of the train sequences, in manifest order (the old ones read back)."""
        by_shard: dict[str, list[str]] = defaultdict(list)
        for e in entries:
            if e.split == "train" and e.sequence_id not in self.new_stats:
                by_shard[e.shard].append(e.sequence_id)
        old_stats = _read_seq_stats(self.out, by_shard)
        return merge_stats([self.new_stats[e.sequence_id] if e.sequence_id in self.new_stats
                            else old_stats[e.sequence_id] for e in entries if e.split == "train"])


def _resolve_splits(entries: list[Entry], seed: int, test_fraction: float) -> list[Entry]:
    """Final split of every entry: given splits kept, a subject's assigned sequences follow its given
    split (if it has exactly one), every dataset with >= 2 subjects gets a test and a train subject."""
    out = {e.sequence_id: e for e in entries}
    by_ds: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_ds[e.dataset].append(e)
    for dataset, ds_entries in by_ds.items():
        given: dict[str, set[str]] = defaultdict(set)
        auto: dict[str, list[Entry]] = defaultdict(list)
        for e in ds_entries:
            (given[e.subject_key].add(e.split) if e.split_given else auto[e.subject_key].append(e))
        auto_split: dict[str, str] = {}
        for subject, es in auto.items():
            if len(given.get(subject, ())) == 1:
                auto_split[subject] = next(iter(given[subject]))
            else:
                # all of a subject's assigned sequences share one split: the first one's
                auto_split[subject] = es[0].split
        free = [s for s in auto if s not in given]  # subjects whose split is ours to choose
        subjects = set(given) | set(auto)
        if len(subjects) >= 2:
            splits_present = {sp for s in given for sp in given[s]} | {auto_split[s] for s in auto}
            order = sorted(free, key=lambda s: (_subject_hash(seed, dataset, s), s))
            if "test" not in splits_present and test_fraction > 0 and order:
                auto_split[order[0]] = "test"
            elif "train" not in splits_present and test_fraction < 1 and order:
                auto_split[order[-1]] = "train"
        for subject, es in auto.items():
            for e in es:
                if e.split != auto_split[subject]:
                    out[e.sequence_id] = dataclasses.replace(e, split=auto_split[subject])
    return [out[e.sequence_id] for e in entries]


def _rewrite_split_attrs(out: Path, changed: list[Entry]) -> None:
    by_shard: dict[str, list[Entry]] = defaultdict(list)
    for e in changed:
        by_shard[e.shard].append(e)
    for shard, es in by_shard.items():
        try:
            with h5py.File(out / shard, "r+") as f:
                for e in es:
                    f[_group_name(e.sequence_id)].attrs["split"] = e.split
        except (OSError, KeyError) as exc:  # the manifest stays the authority
            log.warning("could not update the split attribute in %s (%s); the manifest is authoritative",
                        out / shard, exc)
    moved = sorted({(e.dataset, e.subject_key, e.split) for e in changed})
    for dataset, subject, split in moved:
        n = sum(1 for e in changed if (e.dataset, e.subject_key, e.split) == (dataset, subject, split))
        log.info("dataset %r: subject %r moved to %s (%d sequences) so that both splits have subjects",
                 dataset, subject, split, n)


def _read_seq_stats(out: Path, by_shard: dict[str, list[str]]) -> dict[str, dict[str, RunningStats]]:
    res: dict[str, dict[str, RunningStats]] = {}
    for shard, sids in by_shard.items():
        with h5py.File(out / shard, "r") as f:
            for sid in sids:
                g = f[_group_name(sid)]
                if STATS_KEY in g and _feature_version(g.attrs) == FEATURE_VERSION:
                    res[sid] = _stats_from_json(json.loads(g[STATS_KEY].asstr()[()]))
                else:  # no cached statistics, or of other features: from the arrays
                    res[sid] = sequence_stats(_read_group(g, _fallback_entry(g, sid, shard), 0, None))
    return res


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

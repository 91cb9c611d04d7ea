"""Writing a corpus: :class:`CorpusWriter` (validate, split by subject, shard, record statistics, replace
the manifest atomically on close) and :func:`write_corpus`."""
from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections import defaultdict
from pathlib import Path
from typing import Iterable

import h5py
import numpy as np
from tqdm import tqdm

from ..features import FEATURE_VERSION, RunningStats, merge_stats, sequence_stats
from ..locks import holding
from ..schema import ARRAY_KEYS, NAME_KEYS, SchemaError, Sequence, validate
from .common import (_MANIFEST_OWN, CHUNK_FRAMES, CORPUS_SCHEMA_VERSION, FORMAT, MANIFEST, STATS_KEY, Entry,
                     _dir_name, _group_name, _now, _stats_from_json, _stats_to_json, _subject_hash, atomic_write_json,
                     checksum)
from .corpus import Corpus, _fallback_entry, _feature_version, _read_group

log = logging.getLogger("hdys.store")


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

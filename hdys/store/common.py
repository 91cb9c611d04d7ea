"""What the corpus reader and writer share: the manifest's constants, :class:`Entry`, sequence
checksums, group and file names, and the atomic JSON write."""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..features import RunningStats
from ..schema import ARRAY_KEYS, MAX_FPS, Sequence


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

"""Schema npz files (``schema.save_npz``, ``hdys export``) read back as they are.

Each ``*.npz`` (not the ``*.tmp.npz`` of an interrupted write) is one sequence, validated by
``schema.load_npz``. Its ``sequence_id`` is kept; a file without one gets its path under the source
root. ``dataset`` is kept (``npz`` where the file has none).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..schema import ARRAY_KEYS, Sequence, load_npz
from .base import Context, Reader, Unit, note, root_of, walk


def find(src: Path) -> list[Unit]:
    match = lambda p: p.suffix == ".npz" and not p.name.endswith(".tmp.npz")  # noqa: E731
    return [Unit(path=p, files=(p,), root=root_of(src)) for p in walk(src, match)]


def read(unit: Unit, ctx: Context) -> Iterator[Sequence]:
    seq = load_npz(unit.path)
    seq.sequence_id = seq.sequence_id or unit.rel
    yield note(seq, {unit.path: [k for k in ARRAY_KEYS if getattr(seq, k) is not None]})


READER = Reader(name="npz", find=find, read=read, summary="schema npz files (hdys export), as they are")

"""One writer at a time per corpus and per run directory.

A lock is an OS file lock on ``DIR/.hdys.lock`` taken with ``filelock`` (a maintained, cross-platform
implementation: the OS drops the lock when its process dies, so a killed command never leaves a stale
lock behind). ``DIR/.hdys.lock.json`` names the holder (pid, command, start time) for the message a
second writer gets. Locks are re-entrant within a process: a command that holds its corpus may call
:func:`hdys.store.write_corpus` on it, which takes the same lock again.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)
LOCK_FILE = ".hdys.lock"
OWNER_FILE = ".hdys.lock.json"
_LOCKS: dict[str, FileLock] = {}  # one object per lock file in this process, for re-entrance


class LockedError(RuntimeError):
    """Another process is writing to the directory."""


def _holder(directory: Path) -> str:
    try:
        owner = json.loads((directory / OWNER_FILE).read_text())
        return f"pid {owner['pid']} ({owner['command']}, since {owner['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def acquire(directory: str | Path, what: str, wait: bool = False) -> FileLock:
    """Lock ``directory`` (created if needed) for writing; returns the held lock (``.release()`` it, or
    use :func:`holding`). A held lock raises :class:`LockedError`, or with ``wait`` blocks until free."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    lock = _LOCKS.setdefault(str(path.resolve()), FileLock(str(path)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        holder = _holder(directory)
        if not wait:
            raise LockedError(f"{directory} is in use by {holder}; {what} would write to it at the same time. "
                              "Wait for that command to finish (or stop it), then run this one again") from None
        log.warning("%s: waiting for %s to finish writing", directory, holder)
        lock.acquire()
    if lock.lock_counter == 1:  # first acquisition in this process: say who holds it
        tmp = directory / f"{OWNER_FILE}.{os.getpid()}.tmp"
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]
        tmp.write_text(json.dumps({"pid": os.getpid(), "command": command, "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        os.replace(tmp, directory / OWNER_FILE)
    return lock


@contextmanager
def holding(directory: str | Path, what: str, wait: bool = False):
    """``with holding(corpus, "hdys ingest"):`` the directory is this process's to write while inside."""
    lock = acquire(directory, what, wait)
    try:
        yield lock
    finally:
        lock.release()

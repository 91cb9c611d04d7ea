"""Independent jobs in a process pool, results in input order (``hdys synth``, ``hdys ingest``).

Workers are started with ``spawn``: a fresh interpreter per worker, so no open HDF5 handle, thread or
lock of the parent is inherited (``fork`` is unsafe with h5py and with torch's threads). A job function
must therefore be a module-level function and its argument and result picklable. Results come back
in the order of the inputs whatever the worker count, so a caller's output does not depend on it.
"""
from __future__ import annotations

import multiprocessing as mp
from typing import Callable, Iterable, Iterator, TypeVar

A = TypeVar("A")
R = TypeVar("R")


def imap_ordered(fn: Callable[[A], R], items: Iterable[A], workers: int) -> Iterator[R]:
    """``map(fn, items)`` in ``workers`` processes (in this one when ``workers`` <= 1 or there is at
    most one item). The pool is terminated when the iterator is exhausted, closed or garbage collected,
    so a consumer that stops early (an error, Ctrl-C) leaves no worker behind."""
    items = list(items)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    pool = mp.get_context("spawn").Pool(min(workers, len(items)))
    try:
        yield from pool.imap(fn, items)
    finally:
        pool.terminate()
        pool.join()

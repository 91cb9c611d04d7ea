"""Independent jobs in a process pool, results in input order (``hdys synth``, ``hdys ingest``).

Workers are started with ``spawn``: a fresh interpreter per worker, so no open HDF5 handle, thread or
lock of the parent is inherited (``fork`` is unsafe with h5py and with torch's threads). A job function
must therefore be a module-level function and its argument and result picklable. Results come back
in the order of the inputs whatever the worker count, so a caller's output does not depend on it.
"""
from __future__ import annotations

import multiprocessing as mp
import os
from typing import Callable, Iterable, Iterator, TypeVar

A = TypeVar("A")
R = TypeVar("R")


BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def imap_ordered(fn: Callable[[A], R], items: Iterable[A], workers: int,
                 single_thread_blas: bool = False) -> Iterator[R]:
    """``map(fn, items)`` in ``workers`` processes (in this one when ``workers`` <= 1 or there is at
    most one item). The pool is terminated when the iterator is exhausted, closed or garbage collected,
    so a consumer that stops early (an error, Ctrl-C) leaves no worker behind. ``single_thread_blas``
    starts the workers with one BLAS/OpenMP thread each (they already run in parallel, and threaded BLAS
    on small systems only contends); this process' own environment is left as it was."""
    items = list(items)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    saved = {v: os.environ.get(v) for v in BLAS_THREAD_VARS}
    if single_thread_blas:
        os.environ.update({v: "1" for v in BLAS_THREAD_VARS})
    try:  # spawned workers copy the environment when they start, i.e. inside Pool()
        pool = mp.get_context("spawn").Pool(min(workers, len(items)))
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old
    try:
        yield from pool.imap(fn, items)
    finally:
        pool.terminate()
        pool.join()

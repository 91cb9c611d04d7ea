"""hdys.parallel: ordered results, and single-threaded BLAS for the workers only."""
import os

from hdys.parallel import BLAS_THREAD_VARS, imap_ordered


def test_results_in_order_and_blas_threads_set_only_in_the_workers(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    got = list(imap_ordered(os.getenv, list(BLAS_THREAD_VARS) * 2, workers=2, single_thread_blas=True))
    assert got == ["1"] * 6  # every worker started with one thread per library
    assert os.environ["OMP_NUM_THREADS"] == "7" and "OPENBLAS_NUM_THREADS" not in os.environ  # parent untouched
    assert list(imap_ordered(abs, [-3, 2, -1], workers=2)) == [3, 2, 1]

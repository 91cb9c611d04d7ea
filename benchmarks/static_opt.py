"""Static optimisation: the batched solver against the per-frame ``scipy.optimize.lsq_linear`` (BVLS)
baseline, in one process on the same frames.

A walk of the Rajagopal body (``--frames`` frames at 50 fps) is prepared once (inverse dynamics on hdys's
body and ``muscle_terms`` of the 80 myolegs muscles: moment arms, gains, biases; the model is loaded before
the clock starts); then

* solver only: ``solve_batched`` on all frames and ``solve_bvls`` on the first ``--baseline-frames`` of
  them (each the best of ``--repeats``), frames/s and ratio, plus agreement and KKT residuals on the
  common frames;
* end to end: ``static_optimization(method=...)`` (``muscle_terms`` included) on the same split;
* with ``--fixture``: wall time of ``make_fixture("quick")`` with each method, and the largest difference
  in the activations of the ``muscle`` and ``emg`` domains (both solved on identical inputs).

    python benchmarks/static_opt.py [--frames 1000] [--baseline-frames 200] [--repeats 3] [--fixture]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from hdys.physics import fixture
from hdys.physics.bodies import rajagopal_body
from hdys.physics.inverse import rajagopal_inverse
from hdys.physics.motions import rajagopal_motion
from hdys.physics.myolegs import load_myolegs
from hdys.physics.static_opt import (kkt_residual, muscle_terms, reserve_optimal_torques, so_problem, solve_batched,
                                     solve_bvls, static_optimization)


def solver_benchmark(frames: int, baseline_frames: int, repeats: int) -> None:
    rng = np.random.default_rng(0)
    body = rajagopal_body(1.75, 72.0, rng=rng)
    q, qd, qdd = rajagopal_motion("walk", rng, body.coord_range, 0.95)(np.arange(frames) / 50.0)
    tau, _ = rajagopal_inverse(body, q, qd, qdd)
    load_myolegs()
    t0 = time.perf_counter()
    moment, gain, bias = muscle_terms(body, q, qd)
    t_terms = time.perf_counter() - t0
    a_mat, b_vec = so_problem(moment, gain, bias, tau, reserve_optimal_torques())
    nb = min(baseline_frames, frames)

    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        act, info = solve_batched(a_mat, b_vec)
        best = min(best, time.perf_counter() - t0)
    t_bvls = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        ref = solve_bvls(a_mat[:nb], b_vec[:nb])
        t_bvls = min(t_bvls, time.perf_counter() - t0)
    fps_fast, fps_bvls = frames / best, nb / t_bvls
    print(f"frames: {frames} (batched), {nb} (BVLS baseline); muscle_terms {frames / t_terms:,.0f} frames/s")
    print(f"solver only   batched {fps_fast:10,.0f} frames/s   BVLS {fps_bvls:8,.0f} frames/s   "
          f"ratio {fps_fast / fps_bvls:.1f}x")
    print(f"  subspace solves per frame: median {np.median(info.iterations):.0f}, max {info.iterations.max()}; "
          f"primal phase {info.primal.sum()} frames; BVLS fallback {info.fallback.sum()} frames")
    print(f"  max |a_batched - a_bvls| {np.abs(act[:nb] - ref).max():.2e}; KKT residual batched "
          f"{info.kkt.max():.2e}, BVLS {kkt_residual(a_mat[:nb], b_vec[:nb], ref).max():.2e}")

    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        static_optimization(body, q, qd, tau)
        best = min(best, time.perf_counter() - t0)
    t_bvls = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        static_optimization(body, q[:nb], qd[:nb], tau[:nb], method="bvls")
        t_bvls = min(t_bvls, time.perf_counter() - t0)
    fps_fast, fps_bvls = frames / best, nb / t_bvls
    print(f"end to end    batched {fps_fast:10,.0f} frames/s   BVLS {fps_bvls:8,.0f} frames/s   "
          f"ratio {fps_fast / fps_bvls:.1f}x   (static_optimization, muscle_terms included)")


def fixture_benchmark() -> None:
    original = fixture.static_optimization
    diffs: list[float] = []

    def both(body, q, qd, tau):
        fast = original(body, q, qd, tau, method="batched")
        ref = original(body, q, qd, tau, method="bvls")
        diffs.append(float(np.abs(fast.activation - ref.activation).max()))
        return fast

    times = {}
    try:
        for method in ("batched", "bvls"):
            fixture.static_optimization = lambda body, q, qd, tau, m=method: original(body, q, qd, tau, method=m)
            t0 = time.perf_counter()
            fixture.make_fixture("quick", seed=0)
            times[method] = time.perf_counter() - t0
        fixture.static_optimization = both
        fixture.make_fixture("quick", seed=0, domains=("muscle", "emg"))
    finally:
        fixture.static_optimization = original
    print(f"make_fixture('quick'): batched {times['batched']:.1f} s, BVLS {times['bvls']:.1f} s "
          f"({times['bvls'] / times['batched']:.1f}x)")
    print(f"  muscle + emg activations, {len(diffs)} sequences: max |batched - BVLS| {max(diffs):.2e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--baseline-frames", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--fixture", action="store_true", help="also time make_fixture('quick') with both methods")
    args = ap.parse_args()
    print(f"{platform.machine()}, {platform.processor() or 'cpu'}, numpy {np.__version__}")
    solver_benchmark(args.frames, args.baseline_frames, args.repeats)
    if args.fixture:
        fixture_benchmark()


if __name__ == "__main__":
    main()

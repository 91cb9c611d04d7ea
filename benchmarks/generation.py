"""Seconds to generate subjects of a preset (``hdys.physics.fixture.generate_subject``), this tree against a
baseline revision, in alternating rounds on the same machine, one BLAS thread each (as ``hdys synth``'s workers).

    python benchmarks/generation.py --baseline-rev REV [--preset quick] [--seed 1] [--subjects 0,1]
                                    [--domains lab,muscle,emg,sim,kin] [--rounds 2]

Each round runs both trees in a fresh process (REV exported into a temporary folder by ``revisions.py``
for the baseline); a process first generates one ``tiny`` subject of every domain, so that loading the models
is not timed. Reported: per domain the best round of each tree and their ratio, and the largest relative
difference of any label between the two trees' sequences (0 where the change is bit for bit).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from revisions import ROOT, export_revision  # this folder is on sys.path

CHILD = r"""
import json, sys, time
import numpy as np
from hdys.physics.fixture import generate_subject
from hdys.schema import DYNAMICS, KINEMATICS
preset, seed, domains, subjects, out = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4], sys.argv[5]
for d in domains:
    generate_subject("tiny", 0, d, 0)
times, arrays = {}, {}
for d in domains:
    t = time.perf_counter()
    for s in map(int, subjects.split(",")):
        for q in generate_subject(preset, seed, d, s):
            for k in KINEMATICS + DYNAMICS + ("cop",):
                v = getattr(q, k, None)
                if v is not None:
                    arrays[f"{q.sequence_id}/{k}"] = np.asarray(v, float)
    times[d] = time.perf_counter() - t
np.savez(out + ".npz", **arrays)
json.dump(times, open(out + ".json", "w"))
"""


def _run(tree: Path, args, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-c", CHILD, args.preset, str(args.seed), args.domains, args.subjects, str(out)],
                   env=env, cwd=tree, check=True, stderr=subprocess.DEVNULL)
    return json.loads(Path(str(out) + ".json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-rev", required=True)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--subjects", default="0,1")
    ap.add_argument("--domains", default="lab,muscle,emg,sim,kin")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = export_revision(args.baseline_rev, Path(tmp) / "base")
        best = {"baseline": {}, "this tree": {}}
        for r in range(args.rounds):
            for name, tree in (("baseline", base), ("this tree", ROOT)):
                times = _run(tree, args, Path(tmp) / f"{name.replace(' ', '_')}")
                print(f"round {r + 1} {name}: " + ", ".join(f"{d} {t:.1f} s" for d, t in times.items()), flush=True)
                for d, t in times.items():
                    best[name][d] = min(best[name].get(d, np.inf), t)
        a, b = np.load(Path(tmp) / "baseline.npz"), np.load(Path(tmp) / "this_tree.npz")
        worst = max((float(np.nanmax(np.abs(a[k] - b[k])) / max(np.nanmax(np.abs(a[k])), 1e-12)) for k in a.files),
                    default=0.0)
    print(f"\npreset {args.preset}, seed {args.seed}, subjects {args.subjects}; best of {args.rounds} rounds")
    print("| domain | baseline s | this tree s | speed-up |\n|---|---|---|---|")
    for d in args.domains.split(","):
        print(f"| {d} | {best['baseline'][d]:.1f} | {best['this tree'][d]:.1f} | "
              f"{best['baseline'][d] / best['this tree'][d]:.2f}x |")
    total_b, total_t = sum(best["baseline"].values()), sum(best["this tree"].values())
    print(f"| all | {total_b:.1f} | {total_t:.1f} | {total_b / total_t:.2f}x |")
    print(f"largest relative difference of a label array between the trees: {worst:.1e}")


if __name__ == "__main__":
    main()

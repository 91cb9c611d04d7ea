"""The quickstart's training on this CPU: one process with ``--threads`` torch threads against ``torchrun``
with two processes of one thread each (the same global batch, the gradients averaged), alternating.

    python benchmarks/data_parallel.py CORPUS [--steps 150] [--rounds 2] [--threads 2] [--out DIR]

Each run trains the quickstart's configuration (``hdys.quickstart.QUICK_MODEL``/``QUICK_TRAIN``) for
``--steps`` optimiser steps from scratch; steps per second are taken from ``metrics.jsonl`` between the
10th and the last step (the first steps warm the caches). Keep the machine otherwise quiet.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hdys.config import Config
from hdys.quickstart import QUICK_MODEL, QUICK_TRAIN


def steps_per_s(run: Path) -> float:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    a, b = rows[9], rows[-1]
    return (b["step"] - a["step"]) / (b["time_s"] - a["time_s"])


def run(corpus: str, out: Path, steps: int, processes: int, threads: int) -> float:
    cfg = Config()
    for k, v in QUICK_MODEL.items():
        setattr(cfg.model, k, v)
    for k, v in QUICK_TRAIN.items():
        setattr(cfg.train, k, v)
    cfg.train.max_steps, cfg.train.threads = steps, threads
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg_path = out.parent / f"{out.name}.json"
    cfg_path.write_text(json.dumps(cfg.to_json()))
    hdys = ["-m", "hdys.cli", "-q", "train", "--data", corpus, "--out", str(out), "--config", str(cfg_path)]
    cmd = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *hdys]
           if processes > 1 else [sys.executable, *hdys])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return steps_per_s(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="torch threads of the single process")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="hdys-dp-"))
    rows = []
    for r in range(args.rounds):
        one = run(args.corpus, out / f"one-{r}", args.steps, 1, args.threads)
        two = run(args.corpus, out / f"two-{r}", args.steps, 2, 1)
        rows.append({"round": r, "one_process": one, "two_processes": two, "ratio": two / one})
        print(f"round {r}: 1 process x {args.threads} threads {one:.2f} steps/s, 2 processes x 1 thread "
              f"{two:.2f} steps/s ({two / one:.2f}x)", flush=True)
    (out / "data_parallel.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

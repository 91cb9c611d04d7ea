"""Training and inference throughput of HDyS on this CPU, against the physics label pipeline.

Everything is measured in one process, one after the other, so ratios are comparable on a shared,
noisy machine:

* training frames/s, FLOP per training frame (forward + backward, ``torch.utils.flop_counter``) and the
  achieved GFLOPS against a 1024^3 matmul measured in the same process, for the quickstart configuration
  and the paper's 128-D model (batch shrunk to 768 frames so that a step takes seconds, not minutes);
  with ``--baseline-rev REV``, the quickstart training of revision REV (its own code, exported by ``revisions.py``)
  alternating with this one's;
* inference frames/s of HDyS from each kinematics representation (batched windows, no gradients);
* the label pipeline on a walk of the muscle body: MuJoCo inverse dynamics (``mj_inverse`` per frame),
  static optimisation per frame (bounded least squares, the OpenSim-style baseline) and batched.

    python benchmarks/throughput.py [--corpus DIR] [--steps 6] [--out benchmarks/throughput.json]
                                    [--baseline-rev 86bf8e7 --rounds 3] [--training-only]

Without ``--corpus`` the quick physics corpus is generated into a temporary directory (~30 s).
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hdys.config import Config
from hdys.data import batches, epoch_windows, predict_sequence
from hdys.schema import Sequence
from hdys.store import Corpus, write_corpus
from hdys.train import Trainer


def training_fps(corpus: Path, work: Path, model: dict, train: dict, steps: int, flops: bool = False):
    """Training frames/s over ``steps`` steps (after one warm-up step) of a config given as field dicts;
    with ``flops``, also (FLOP per training frame, forward + backward, by torch's flop counter)."""
    cfg = Config()
    for k, v in model.items():
        setattr(cfg.model, k, v)
    for k, v in train.items():
        setattr(cfg.train, k, v)
    run = work / f"run-{model.get('latent_dim', 128)}"
    shutil.rmtree(run, ignore_errors=True)
    tr = Trainer(cfg, [str(corpus)], run, progress=False)
    tr.setup()
    plan = batches(epoch_windows(tr.by_dataset, cfg.train.window, 64, 0, 0), cfg.train.batch_frames // cfg.train.window)
    plan = plan * -(-(steps + 2) // len(plan))  # repeated when a small corpus gives fewer batches than steps
    tr._step(plan[0])  # warm-up
    t0 = time.perf_counter()
    frames = 0
    for b in plan[1:steps + 1]:
        tr._step(b)
        frames += len(b) * cfg.train.window
    dt = time.perf_counter() - t0
    per_frame = None
    if flops:
        from torch.utils.flop_counter import FlopCounterMode
        counter = FlopCounterMode(display=False)
        with counter:
            tr._step(plan[steps + 1])
        per_frame = counter.get_total_flops() / (len(plan[steps + 1]) * cfg.train.window)
    tr.close()
    return (frames / dt, per_frame) if flops else frames / dt


def matmul_gflops(dtype=torch.float32, n: int = 1024, reps: int = 20) -> float:
    """Achieved GFLOPS of an n x n x n matmul in this process (the peak the model is held against)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


# The training configurations measured: the quickstart's (hdys.quickstart) and the paper's 128-D model
# (its batch cut to 768 frames so that a step takes seconds on this CPU).
def configs() -> dict[str, tuple[dict, dict]]:
    from hdys.quickstart import QUICK_MODEL, QUICK_TRAIN
    train = {k: v for k, v in QUICK_TRAIN.items() if k not in ("epochs", "checkpoint_every", "sequences_per_dataset")}
    return {"quickstart": (dict(QUICK_MODEL), train),
            "paper 128-D (768-frame batches)": ({}, {**train, "batch_frames": 768})}


BASELINE_SNIPPET = """
import json, sys
from pathlib import Path
sys.path[:0] = [{root!r}, {root!r} + '/benchmarks']
from throughput import training_fps
print(json.dumps(training_fps(Path({corpus!r}), Path({work!r}), {model!r}, {train!r}, {steps})))
"""


def baseline_fps(rev: str, corpus: Path, work: Path, steps: int, config: tuple[dict, dict] | None = None) -> float:
    """Training frames/s of revision ``rev`` (its own code, exported, a subprocess), so that a speed-up
    is measured against the code it replaces on the same machine: of 86bf8e7's quickstart config (the model
    issue's baseline), or of ``config`` (model, train field dicts) where the revision's code accepts it."""
    import subprocess
    import sys

    from revisions import export_revision  # this folder is on sys.path

    root = work / f"baseline-{rev}"
    if not root.exists():
        export_revision(rev, root)
    model, train = config or ({"latent_dim": 64, "fd_frame_stride": 2}, {"batch_frames": 384, "window": 32})
    code = BASELINE_SNIPPET.format(root=str(root), corpus=str(corpus), work=str(work / "bw"), model=model,
                                   train=train, steps=steps)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=root)
    return float(out.stdout.strip().splitlines()[-1])


def inference_fps(corpus: Path, work: Path) -> dict[str, float]:
    """Frames/s of predicting whole test sequences from each representation (the quickstart's model), and
    the time of 10k and 100k frames of one sequence repeated (``scaling``: seconds, and their ratio)."""
    from hdys.quickstart import QUICK_MODEL
    cfg = Config()
    for k, v in QUICK_MODEL.items():
        setattr(cfg.model, k, v)
    cfg.train.batch_frames, cfg.train.epochs, cfg.train.max_steps = 384, 1, 1
    run = work / "run-infer"
    shutil.rmtree(run, ignore_errors=True)
    tr = Trainer(cfg, [str(corpus)], run, progress=False)
    tr.setup()
    model, norm, vocab = tr.model.eval(), tr.norm, tr.vocab
    c = Corpus(corpus)
    out: dict[str, float] = {}
    seqs = [c.read(e.sequence_id) for e in c.entries(split="test")]
    for rep in ("markers", "keypoints", "joint_angles", "smpl"):
        todo = [s for s in seqs if getattr(s, rep) is not None]
        t0 = time.perf_counter()
        frames = 0
        with torch.no_grad():
            for s in todo:
                predict_sequence(model, s, norm, vocab, cfg.train.window, reps=[rep], windows_per_batch=128)
                frames += s.num_frames
        out[rep] = frames / (time.perf_counter() - t0)
    base = next(s for s in seqs if s.markers is not None)
    seconds = {}
    for n in (10_000, 100_000):
        reps = -(-n // base.num_frames)
        long = Sequence(fps=base.fps, mass_kg=base.mass_kg, markers=np.concatenate([base.markers] * reps)[:n],
                        marker_names=base.marker_names)
        t0 = time.perf_counter()
        with torch.no_grad():
            predict_sequence(model, long, norm, vocab, cfg.train.window, reps=["markers"], windows_per_batch=128)
        seconds[n] = time.perf_counter() - t0
    out["scaling"] = {"seconds_10k_frames": seconds[10_000], "seconds_100k_frames": seconds[100_000],
                      "ratio_100k_to_10k": seconds[100_000] / seconds[10_000]}
    tr.close()
    return out


def pipeline_fps(frames: int = 600) -> dict[str, float]:
    """The label pipeline on one walking motion of the Rajagopal body with the myolegs muscles."""
    from hdys.physics.bodies import rajagopal_body
    from hdys.physics.inverse import rajagopal_inverse
    from hdys.physics.motions import rajagopal_motion
    from hdys.physics.myolegs import load_myolegs
    from hdys.physics.static_opt import static_optimization

    rng = np.random.default_rng(0)
    body = rajagopal_body(1.75, 72.0, rng=rng)
    load_myolegs()  # once per process, not timed
    motion = rajagopal_motion("walk", rng, body.coord_range, 0.95)
    q, qd, qdd = motion(np.arange(frames) / 100.0)
    t0 = time.perf_counter()
    tau, _ = rajagopal_inverse(body, q, qd, qdd)
    t_id = time.perf_counter() - t0
    n_so = min(frames, 200)
    t0 = time.perf_counter()
    static_optimization(body, q[:n_so], qd[:n_so], tau[:n_so], method="bvls")
    t_so = time.perf_counter() - t0
    t0 = time.perf_counter()
    static_optimization(body, q, qd, tau, method="batched")
    t_batched = time.perf_counter() - t0
    return {"inverse_dynamics": frames / t_id, "static_optimisation_per_frame_bvls": n_so / t_so,
            "static_optimisation_batched": frames / t_batched,
            "id_plus_so": 1.0 / (t_id / frames + t_so / n_so),
            "id_plus_batched_so": 1.0 / (t_id / frames + t_batched / frames)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, help="an existing corpus (default: generate the quick preset)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/throughput.json"))
    ap.add_argument("--baseline-rev", help="also measure this git revision's quickstart training, alternating "
                                           "with this one's (e.g. 86bf8e7, before the model issue)")
    ap.add_argument("--rounds", type=int, default=3, help="alternations with --baseline-rev (medians reported)")
    ap.add_argument("--same-config", action="store_true", help="run --baseline-rev on this revision's quickstart "
                                                               "config (default: 86bf8e7's)")
    ap.add_argument("--training-only", action="store_true", help="skip inference and the label pipeline")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hdys-bench-"))
    try:
        corpus = args.corpus
        if corpus is None:
            from hdys.physics.fixture import make_fixture
            corpus = work / "corpus"
            write_corpus(corpus, make_fixture("quick"), progress=False)
        peak = {"fp32": matmul_gflops(torch.float32), "bf16": matmul_gflops(torch.bfloat16)}
        res = {
            "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
            "torch": torch.__version__,
            "matmul_1024_gflops": peak,
            "training": {},
        }
        for name, (model, train) in configs().items():
            fps, flop = training_fps(corpus, work, model, train, args.steps, flops=True)
            from hdys.train import autocast_dtype
            amp = autocast_dtype(train.get("precision", "fp32"), torch.device("cpu"))
            key = "fp32" if amp is None else "bf16"
            res["training"][name] = {"frames_per_s": fps, "flop_per_frame": flop, "gflops": fps * flop / 1e9,
                                     "share_of_matmul_peak": fps * flop / 1e9 / peak[key], "peak_dtype": key,
                                     "model": model, "train": train}
        if args.baseline_rev:
            import statistics
            model, train = configs()["quickstart"]
            new, old = [], []
            for _ in range(args.rounds):
                new.append(training_fps(corpus, work, model, train, args.steps))
                old.append(baseline_fps(args.baseline_rev, corpus, work, args.steps,
                                        (model, train) if args.same_config else None))
            res["quickstart_vs_baseline"] = {"revision": args.baseline_rev, "same_config": args.same_config,
                                             "new_frames_per_s": new,
                                             "baseline_frames_per_s": old,
                                             "speedup_of_medians": statistics.median(new) / statistics.median(old)}
        if not args.training_only:
            res["inference_frames_per_s"] = inference_fps(corpus, work)
            res["pipeline_frames_per_s"] = pipeline_fps()
            for key in ("id_plus_so", "id_plus_batched_so"):
                base = res["pipeline_frames_per_s"][key]
                res[f"inference_speedup_vs_{key}"] = {k: v / base for k, v in res["inference_frames_per_s"].items()
                                                       if k != "scaling"}
        args.out.write_text(json.dumps(res, indent=1))
        print(json.dumps(res, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

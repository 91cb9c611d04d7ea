"""Training and inference throughput of HDyS on this CPU, against the physics label pipeline.

Everything is measured in one process, one after the other, so ratios are comparable on a shared,
noisy machine:

* training frames/s of the quickstart configuration (64-D, 384-frame batches) and of the paper's
  default (128-D; batch shrunk to 768 frames so that a step takes seconds, not minutes);
* inference frames/s of HDyS from each kinematics representation (batched windows, no gradients);
* the label pipeline on a walk of the muscle body: MuJoCo inverse dynamics (``mj_inverse`` per frame),
  static optimisation per frame (bounded least squares, the OpenSim-style baseline) and batched.

    python benchmarks/throughput.py [--corpus DIR] [--steps 6] [--out benchmarks/throughput.json]

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
from hdys.store import Corpus, write_corpus
from hdys.train import Trainer


def training_fps(corpus: Path, work: Path, model: dict, train: dict, steps: int) -> float:
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
    tr._step(plan[0])  # warm-up
    t0 = time.perf_counter()
    frames = 0
    for b in plan[1:steps + 1]:
        tr._step(b)
        frames += len(b) * cfg.train.window
    dt = time.perf_counter() - t0
    tr.close()
    return frames / dt


def inference_fps(corpus: Path, work: Path) -> dict[str, float]:
    """Frames/s of predicting whole test sequences from each representation (64-D quickstart model)."""
    cfg = Config()
    cfg.model.latent_dim = 64
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
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hdys-bench-"))
    try:
        corpus = args.corpus
        if corpus is None:
            from hdys.physics.fixture import make_fixture
            corpus = work / "corpus"
            write_corpus(corpus, make_fixture("quick"), progress=False)
        res = {
            "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads",
            "torch": torch.__version__,
            "train_frames_per_s": {
                "quickstart (64-D, 384-frame batches, FDAE every 2nd frame)":
                    training_fps(corpus, work, {"latent_dim": 64, "fd_frame_stride": 2},
                                 {"batch_frames": 384, "window": 32}, args.steps),
                "paper default (128-D, 768-frame batches)":
                    training_fps(corpus, work, {}, {"batch_frames": 768, "window": 32}, args.steps),
            },
            "inference_frames_per_s": inference_fps(corpus, work),
            "pipeline_frames_per_s": pipeline_fps(),
        }
        for key in ("id_plus_so", "id_plus_batched_so"):
            base = res["pipeline_frames_per_s"][key]
            res[f"inference_speedup_vs_{key}"] = {k: v / base for k, v in res["inference_frames_per_s"].items()}
        args.out.write_text(json.dumps(res, indent=1))
        print(json.dumps(res, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""``hdys quickstart``: the main job on the embedded default, within 12 minutes on 2 CPU cores.

1. generate the ``quick`` physically exact corpus (MuJoCo bodies, inverse dynamics, static optimisation),
2. train HDyS on all five domains for a fixed time budget,
3. evaluate on the held-out subjects, also a mean predictor as a floor,
4. write ``report.md``, ``report.json`` and plots of predicted against reference dynamics.

Every stage is skipped when its output already exists, so an interrupted quickstart continues.
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from .config import Config
from .store import Corpus, atomic_write_json

log = logging.getLogger("hdys.quickstart")

# CPU-sized training for the quickstart: the paper's HDyS-64D variant with point-set encoders of one layer and
# 8 heads (the paper: three layers, 2 heads; on this budget one layer trains twice the steps and predicts better,
# and 8 heads let its summary token read 8 groups of points instead of 2), 384-frame batches (the paper's
# 9600-frame batches of the 128-D model take ~25 s per step on 2 cores), the FDAE on every 4th frame and the
# alignment on at most 128 frames of a batch (cheaper steps: more of them in the budget), every dataset in every
# batch, the reconstruction weight shared by the dynamics types, the correlation term for muscles and EMG, also
# on quiet windows (a reference std from 0.01 normalised units on), lr 2e-3 decayed linearly over the last fifth
# of the budget (each chosen on a validation corpus of other subjects: benchmarks/RESULTS.md, "The training
# recipe").
QUICK_MODEL = {"latent_dim": 64, "point_layers": 1, "point_heads": 8, "fd_frame_stride": 4, "align_max_frames": 128,
               "loss_balance": "dynamics", "corr_weight": 1.0, "corr_min_std": 0.01}
QUICK_TRAIN = {"batch_frames": 384, "window": 32, "sequences_per_dataset": 48, "epochs": 1000,
               "checkpoint_every": 100, "stratified": True, "lr": 2e-3, "lr_schedule": "wsd"}


def quickstart(out: str | Path, budget_minutes: float = 5.5, seed: int = 0, progress: bool = True,
               preset: str = "quick") -> dict:
    from .evaluate import evaluate
    from .physics.synth import synth
    from .report import markdown_table
    from .train import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    corpus_dir, run_dir = out / "corpus", out / "run"
    timings = {}
    if not (corpus_dir / "manifest.json").exists() or not (out / "corpus.done").exists():
        workers = max(1, os.cpu_count() or 1)
        log.info("1/4 generating the %s corpus in %s (%d processes)", preset, corpus_dir, workers)
        # resumable: an interrupted generation keeps the subjects it wrote and continues with the rest
        synth(corpus_dir, preset, seed=seed, workers=workers, progress=progress, validate=False)
        (out / "corpus.done").write_text("")
    timings["corpus_s"] = time.perf_counter() - t0
    print(Corpus(corpus_dir).info_table())

    t1 = time.perf_counter()
    cfg = Config()
    for k, v in QUICK_MODEL.items():
        setattr(cfg.model, k, v)
    for k, v in QUICK_TRAIN.items():
        setattr(cfg.train, k, v)
    cfg.train.seed = seed
    cfg.train.budget_minutes = budget_minutes
    resume = (run_dir / "checkpoints" / "latest.json").exists()
    if not resume or not (out / "trained.json").exists():
        log.info("2/4 training for up to %.1f minutes in %s", budget_minutes, run_dir)
        summary = train(cfg, [str(corpus_dir)], run_dir, resume=resume, progress=progress)
        atomic_write_json(out / "trained.json", summary)  # the marker of a finished training: whole or absent
    timings["train_s"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    log.info("3/4 evaluating on held-out subjects")
    report = evaluate(run_dir, [str(corpus_dir)], out / "eval.json", progress=progress, plot_dir=out / "plots")
    floor = mean_predictor_results(corpus_dir)
    timings["eval_s"] = time.perf_counter() - t2
    timings["total_s"] = time.perf_counter() - t0

    table = markdown_table({"HDyS": report["results"], "mean predictor": floor},
                           f"HDyS on the {preset} physics corpus (test subjects), avg/best over representations")
    summary = json.loads((out / "trained.json").read_text())
    md = [
        "# hdys quickstart report", "",
        f"Corpus: `{corpus_dir}` (preset {preset}, seed {seed}). Run: `{run_dir}`.",
        f"Training: {summary['steps']} steps, stopped by {summary['stopped_by']}, "
        f"{summary['elapsed_s'] / 60:.1f} min. Total wall time {timings['total_s'] / 60:.1f} min.", "",
        *verdict_lines(report["results"], floor), "",
        table, "",
        "mPJE in N·m/kg (torques) or N/kg (GRF); RMSE in activation / EMG units; PCC per window.",
        "Plots of predicted against reference dynamics: `plots/`. Training curve: `run/training_curve.png`.",
    ]
    (out / "report.md").write_text("\n".join(md) + "\n")
    atomic_write_json(out / "report.json", {"hdys": report, "mean_predictor": floor, "timings": timings,
                                            "training": summary})
    print("\n".join(md))
    log.info("4/4 report written to %s", out / "report.md")
    return report


def verdict_lines(results: dict, floor: dict) -> list[str]:
    """The headline numbers in words: per dataset and dynamics type, HDyS's averaged prediction against
    the mean predictor (errors as a ratio: below 1 is better than predicting the training mean)."""
    from .metrics import HEADLINE_METRICS
    lines = ["## Summary", "", "| dataset | dynamics | metric | HDyS (avg) | mean predictor | HDyS / mean |",
             "|---|---|---|---|---|---|"]
    for dataset in sorted(results):
        for dyn, per_metric in sorted(results[dataset].items()):
            for metric in HEADLINE_METRICS.get(dyn, ()):
                v = per_metric.get(metric, {}).get("avg")
                f = floor.get(dataset, {}).get(dyn, {}).get(metric, {}).get("avg")
                if v is None:
                    continue
                ratio = f"{v / f:.2f}x" if metric != "PCC" and f else "-"
                lines.append(f"| {dataset} | {dyn} | {metric} | {v:.3f} | "
                             f"{'-' if f is None else f'{f:.3f}'} | {ratio} |")
    return lines


def mean_predictor_results(corpus_dir: Path, split: str = "test", train_corpus: Path | None = None) -> dict:
    """Metrics of predicting every frame of ``split`` (test, train or all) as the train-split mean of each
    channel (a floor); the means are those of ``train_corpus`` where given (a validation corpus)."""
    import numpy as np

    from . import metrics as M
    from .data import FIXED_DYN, Normalizer, channel_vocabulary
    from .evaluate import targets_of

    corpus = Corpus(corpus_dir)
    stats = Corpus(train_corpus).stats if train_corpus is not None else corpus.stats
    vocab = {d: channel_vocabulary(stats, d) for d in ("muscle_activation", "emg")}
    norm = Normalizer.from_stats(stats, vocab["muscle_activation"], vocab["emg"])
    acc = M.MetricAccumulator()
    for e in corpus.entries(split=None if split == "all" else split):
        seq = corpus.read(e.sequence_id)
        for d, (y, cols) in targets_of(seq, vocab).items():
            mean = norm.mean[d] if cols is None else norm.mean[d][cols]
            if d in FIXED_DYN:  # learned per kilogram
                mean = mean * seq.mass_kg
            acc.add(seq.dataset, d, "avg", np.broadcast_to(mean, (len(y), mean.size)).reshape(y.shape), y,
                    mass_kg=seq.mass_kg)
    return acc.result()

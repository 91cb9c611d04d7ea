"""``hdys eval``: metrics per dataset and input representation on the test split (paper §4.3).

Each test sequence is predicted from every kinematics representation it has (sliding windows over the
whole sequence) and from their average (the paper's *avg*); *best* is the best single representation.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import metrics as M
from .checkpoint import load_run
from .store import atomic_write_json
from .data import average_over_representations, predict_sequence
from .schema import Sequence
from .store import Corpus

log = logging.getLogger("hdys.evaluate")


def targets_of(seq: Sequence, vocab: dict[str, list[str]]) -> dict[str, tuple[np.ndarray, list[int] | None]]:
    """Reference dynamics of ``seq`` and, for muscle/EMG, the model columns of its channels."""
    out: dict = {}
    for d in ("torque_rajagopal", "torque_smpl", "grf"):
        y = getattr(seq, d)
        if y is not None:
            out[d] = (y, None)
    for d, names in (("muscle_activation", seq.muscle_names), ("emg", seq.emg_names)):
        y = getattr(seq, d)
        if y is None or not vocab.get(d):
            continue
        index = {n: i for i, n in enumerate(vocab[d])}
        keep = [i for i, n in enumerate(names) if n in index]
        if not keep:
            continue
        out[d] = (y[:, keep], [index[names[i]] for i in keep])
    return out


def _shape_pred(d: str, pred: np.ndarray, cols: list[int] | None) -> np.ndarray:
    if d == "grf":
        return pred.reshape(len(pred), 2, 3)
    return pred[:, cols] if cols is not None else pred


def evaluate(run_dir: str | Path, corpora: list[str], out: str | Path | None = None, split: str = "test",
             progress: bool = True, plot_dir: str | Path | None = None, max_sequences: int = 0) -> dict:
    """Evaluate the latest checkpoint of ``run_dir`` on ``split`` (train, test, or all: a corpus of other
    subjects used for validation) of every corpus; writes a JSON report
    (and a markdown table next to it) when ``out`` is given. Returns the report dict."""
    model, cfg, norm, vocab = load_run(run_dir)
    acc = M.MetricAccumulator()
    frames = 0
    t0 = time.perf_counter()
    examples: dict[str, tuple] = {}
    for path in corpora:
        corpus = Corpus(path)
        entries = corpus.entries(split=None if split == "all" else split)
        if max_sequences:
            entries = entries[:max_sequences]
        for e in tqdm(entries, desc=f"eval {Path(path).name}", disable=not progress, leave=False):
            seq = corpus.read(e.sequence_id)
            targets = targets_of(seq, vocab)
            if not targets or not seq.kinematics:
                continue
            per_rep = predict_sequence(model, seq, norm, vocab, cfg.train.window)
            per_rep.pop("_latent")
            per_rep["avg"] = average_over_representations(per_rep)
            frames += seq.num_frames * (len(per_rep) - 1)
            for d, (y, cols) in targets.items():
                if d not in per_rep["avg"]:  # a model without this dynamics type
                    continue
                for rep, preds in per_rep.items():
                    if d not in preds:
                        continue
                    acc.add(seq.dataset, d, rep, _shape_pred(d, preds[d], cols), y, mass_kg=seq.mass_kg)
                if (seq.dataset, d) not in examples:
                    examples[(seq.dataset, d)] = (seq, _shape_pred(d, per_rep["avg"][d], cols), y, cols)
        corpus.close()
    elapsed = time.perf_counter() - t0
    report = {"run": str(run_dir), "corpora": [str(c) for c in corpora], "split": split,
              "results": acc.result(), "sequences": {"/".join(k): v for k, v in acc.num_sequences().items()},
              "units": {f"{d}/{m}": u for (d, m), u in M.UNITS.items()},
              "inference_frames_per_s": frames / max(elapsed, 1e-9)}
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out, report)
        from .report import markdown_table
        out.with_suffix(".md").write_text(markdown_table({"HDyS": report["results"]}, "HDyS on " +
                                                         ", ".join(Path(c).name for c in corpora)) + "\n")
    if plot_dir is not None:
        _plot_examples(Path(plot_dir), examples, vocab)
    return report


def _plot_examples(plot_dir: Path, examples: dict, vocab: dict) -> None:
    from .plots import plot_prediction
    from .schema import RAJAGOPAL_TORQUE_DOFS, SMPL_TORQUE_NAMES

    plot_dir.mkdir(parents=True, exist_ok=True)
    for (dataset, d), (seq, pred, y, cols) in examples.items():
        T = len(y)
        t = np.arange(T) / seq.fps
        if d == "grf":
            names = [f"{foot} {axis}" for foot in ("left", "right") for axis in "xyz"]
            pred, y = pred.reshape(T, 6), y.reshape(T, 6)
        elif d == "torque_rajagopal":
            names = list(RAJAGOPAL_TORQUE_DOFS)
        elif d == "torque_smpl":
            names = list(SMPL_TORQUE_NAMES)
        else:
            names = [vocab[d][c] for c in cols]
        # the channels with the largest reference range are the informative ones
        order = np.argsort(-(np.nanmax(y, 0) - np.nanmin(y, 0)))[:6]
        unit = {"torque_rajagopal": "N·m", "torque_smpl": "N·m", "grf": "N", "muscle_activation": "activation",
                "emg": "envelope"}[d]
        plot_prediction(plot_dir / f"{dataset}_{d}.png", t, pred[:, order], y[:, order],
                        [names[i] for i in order], f"{dataset} {seq.sequence_id}: {d} (HDyS avg vs reference)",
                        unit=unit)

"""Figure 3: t-SNE of the HDyS latents, coloured by representation and by dataset, with and without L_align,
and the k-nearest-neighbour accuracies of telling either from a latent.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .registry import PAPER_NAMES

log = logging.getLogger("hdys.experiment")

FIG3_FRAMES = 1500  # frames (x representations) embedded per model
FIG3_SEQUENCES = 8  # test sequences per dataset read for Figure 3


def tsne(x: np.ndarray, dims: int = 2, perplexity: float = 30.0, iterations: int = 500, seed: int = 0) -> np.ndarray:
    """t-SNE (van der Maaten & Hinton 2008) of ``x`` (n, F) -> (n, dims), scikit-learn's Barnes-Hut
    implementation with a PCA initialisation; the perplexity is capped at (n - 1) / 3 for small n."""
    from sklearn.manifold import TSNE

    x = np.asarray(x, np.float64)
    if len(x) < 5:
        raise ValueError(f"t-SNE needs at least 5 points, got {len(x)}")
    y = TSNE(dims, perplexity=min(perplexity, (len(x) - 1) / 3), init="pca", max_iter=max(iterations, 250),
             random_state=seed).fit_transform(x)
    return y - y.mean(0)


def knn_accuracy(x: np.ndarray, labels, k: int = 10) -> float:
    """Leave-one-out k-nearest-neighbour accuracy of predicting ``labels`` from ``x`` (majority vote)."""
    from sklearn.neighbors import NearestNeighbors

    _, codes = np.unique(np.asarray(labels), return_inverse=True)
    x = np.asarray(x, np.float64)
    k = min(k, len(x) - 1)
    nn = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)  # each point's own left out
    votes = np.array([np.bincount(codes[row], minlength=codes.max() + 1).argmax() for row in nn])
    return float((votes == codes).mean())


def collect_latents(run_dir: Path, data: list[str], per_dataset: int = FIG3_SEQUENCES) -> tuple[np.ndarray, list, list]:
    """Per-frame latents (N, D) of the first ``per_dataset`` test sequences of every dataset, from every
    representation, with the representation and dataset of each frame."""
    from .checkpoint import load_run
    from .data import predict_sequence
    from .store import Corpus

    model, cfg, norm, vocab = load_run(run_dir)
    zs, reps, dss = [], [], []
    for path in data:
        corpus, seen = Corpus(path), {}
        for e in corpus.entries(split="test"):
            if seen.get(e.dataset, 0) >= per_dataset:
                continue
            seq = corpus.read(e.sequence_id)
            if not seq.kinematics:
                continue
            seen[e.dataset] = seen.get(e.dataset, 0) + 1
            for rep, z in predict_sequence(model, seq, norm, vocab, cfg.train.window)["_latent"].items():
                zs.append(z)  # (T, D)
                reps += [rep] * len(z)
                dss += [e.dataset] * len(z)
        corpus.close()
    if not zs:
        raise ValueError(f"{run_dir}: no latents on the test split of {data}")
    return np.concatenate(zs), reps, dss


def figure3(results: dict, out_dir: Path, data: list[str], frames: int | None = None) -> dict:
    """t-SNE of the latents of HDyS and HDyS w/o L_align (same frames), 2 x 2 panels coloured by
    representation and by dataset, written to ``out_dir/fig3.png``; k-NN accuracies in the returned dict."""
    frames = frames or FIG3_FRAMES
    recs = [r for r in results["variants"].values() if r["role"] in ("hdys", "no_align")]
    models, panels = {}, []
    for rec in recs:
        z, reps, dss = collect_latents(Path(rec["dir"]) / "run", data)
        idx = np.sort(np.random.default_rng(0).choice(len(z), min(len(z), frames), replace=False))
        z, reps, dss = z[idx], [reps[i] for i in idx], [dss[i] for i in idx]
        log.info("t-SNE of %d latent frames of %s", len(z), rec["name"])
        y = tsne(z, perplexity=30.0)
        models[rec["name"]] = {"representation_knn": knn_accuracy(z, reps), "dataset_knn": knn_accuracy(z, dss),
                               "frames": len(z)}
        panels.append((rec["name"], y, reps, dss))
        np.savez(out_dir / f"fig3_{rec['key']}.npz", embedding=y, representation=np.array(reps),
                 dataset=np.array(dss))
    png = _plot_fig3(out_dir / "fig3.png", panels)
    return {"png": str(png), "frames": min(frames, max(m["frames"] for m in models.values())),
            "perplexity": 30.0, "models": models}


def _plot_fig3(path: Path, panels: list) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5 * len(panels)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 2, squeeze=False)
    for row, (name, y, reps, dss) in enumerate(panels):
        for col, (labels, what) in enumerate(((reps, "representation"), (dss, "dataset"))):
            ax = axes[row, col]
            for i, lab in enumerate(sorted(set(labels))):
                m = np.array([v == lab for v in labels])
                ax.scatter(y[m, 0], y[m, 1], s=4, color=f"C{i % 10}", label=PAPER_NAMES.get(lab, lab)
                           if what == "dataset" else lab, alpha=0.7)
            ax.set_title(f"{name}: by {what}")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.legend(markerscale=3, fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png")
    return path

"""``hdys experiment NAME``: the paper's Tables 1, 2, 3, 4, 5, 7, 9, 10, 11 and Figure 3 on a corpus, as measured.

An experiment is a closed list of *variants*; a variant is a row name and the config overrides that
make it (``train.datasets``, ``train.fractions``, ``train.shares``, ``model.arch``, ablation switches).
Every variant of an experiment starts from the same CPU-sized config (the quickstart's, changed by
``base_overrides``), the same seed and the same data, and trains under one protocol:

* equal per-dataset exposure (the default; the paper's §4.2): every variant trains the same number of
  epochs, an epoch drawing ``train.sequences_per_dataset`` windows from every dataset the variant uses,
  so a mixture of five datasets takes five times the steps of a single-dataset variant and each sees
  its target dataset as often;
* equal steps (``train.max_steps``): separates design choices from their cost per step;
* equal time (``train.budget_minutes = budget / variants that train``): what a user with a fixed
  machine gets.

Each table says which protocol it used. Each variant trains into ``out/<experiment>/<variant>/run`` and is
evaluated on the same test split into ``out/<experiment>/<variant>/eval.json``. Finished variants (an
``eval.json``) are skipped on a re-run; a variant with a checkpoint but no evaluation resumes its training.

Results go to ``out/<experiment>/results.json`` (every number, the budget, corpora, commands) and
``out/<experiment>/table.md`` (the paper's layout plus a *Reading* of the paper's claims, checked on
the measured numbers by :func:`claims`).

Variants are built from the corpus: its domains (datasets), which of them have dynamics labels, and
their train-sequence counts. Domain names of the physics fixture and the paper's datasets they stand
for: ``lab`` AddBiomechanics, ``sim`` ImDy, ``muscle`` MinT, ``emg`` MiA, ``kin`` AMASS, ``grf`` GroundLink
(Tables 4 and 10, the fine-tuning target: ``hdys synth --preset grf``, or real trials ingested as
``groundlink``; the other datasets of ``--data`` are the pretraining corpus).
"""
from __future__ import annotations

import json
import logging
import re
import shlex
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .config import Config, apply_overrides
from .metrics import AVG, BEST, HEADLINE_METRICS, LOWER_IS_BETTER, MPJE_LEFT, MPJE_RIGHT
from .quickstart import QUICK_MODEL, QUICK_TRAIN
from .report import format_value, jsonable, markdown_table
from .schema import DYNAMICS, KINEMATICS

log = logging.getLogger("hdys.experiment")

PAPER_NAMES = {"lab": "AddBiomechanics", "sim": "ImDy", "muscle": "MinT", "emg": "MiA", "kin": "AMASS",
               "grf": "GroundLink"}
FINETUNE_TARGETS = ("grf", "groundlink")  # dataset names of the GRF fine-tuning target (Tables 4, 10)
# columns of tables whose paper columns are not Table 1's: Tables 4 and 10 report each foot's GRF
TABLE_METRICS = {"table4": {"grf": (MPJE_LEFT, MPJE_RIGHT)}, "table10": {"grf": (MPJE_LEFT, MPJE_RIGHT)}}
TORQUE_TYPES = ("torque_rajagopal", "torque_smpl", "grf")
MUSCLE_TYPES = ("muscle_activation", "emg")
BASELINE_NAMES = {"imdys": "ImDyS", "mia": "MiA", "groundlink": "GroundLinkNet", "mean": "mean predictor",
                  "mlp": "per-frame MLP"}
LATENT_DIMS = (32, 64, 128)  # HDyS sizes of Table 1 (the base size is the HDyS row itself)
TABLE2_TARGETS = ("lab", "emg")  # AddBiomechanics and MiA, as in the paper
REP_ROWS = {"markers": "HDyS-marker", "keypoints": "HDyS-keypoint", "joint_angles": "HDyS-angle",
            "smpl": "HDyS-SMPL"}
EPOCHS = 1_000_000  # the base epoch count, never reached: the protocol (epochs, steps or budget) ends a run
FIG3_FRAMES = 1500  # frames (x representations) embedded per model
FIG3_SEQUENCES = 8  # test sequences per dataset read for Figure 3
# the paper's Table 7, for reference next to the measured counts
PAPER_PARAMS = {"mia": "5.4M", "imdys": "4.0M", "hdys": "3.9M", "hdys-32d": "0.6M", "hdys-64d": "1.4M",
                "hdys-128d": "3.9M"}
# Epochs every variant trains by default (the paper's protocol: equal per-dataset exposure; an epoch draws
# train.sequences_per_dataset windows from every dataset, so a mixture of 5 datasets takes 5x the steps of
# one). 25 epochs of the CPU config are 500 steps of HDyS on 5 datasets (~6 min on 2 CPU cores).
DEFAULT_EPOCHS = {"table1": 25, "table2": 25, "table3": 25, "table7": 0, "table9": 25, "fig3": 25}


@dataclass(frozen=True)
class Variant:
    """One row of an experiment: ``key`` is its directory, ``name`` its row label, ``overrides`` the
    config overrides on top of the base config, ``datasets`` the datasets its row shows (empty: all),
    ``role``/``param`` what the claims read (e.g. ``single``/``lab``), ``composition`` train sequences
    per dataset where a share is drawn (Table 8)."""
    key: str
    name: str
    overrides: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    role: str = "hdys"
    param: str = ""
    composition: tuple[tuple[str, int], ...] = ()


@dataclass
class CorpusInfo:
    """What the variants are built from: per dataset, train / test sequence counts, dynamics and
    kinematics representations (over all corpora, datasets in order of first appearance)."""
    train: dict[str, int] = field(default_factory=dict)
    test: dict[str, int] = field(default_factory=dict)
    dynamics: dict[str, list[str]] = field(default_factory=dict)
    kinematics: dict[str, list[str]] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return list(self.dynamics)

    @property
    def labelled(self) -> list[str]:
        """Datasets with dynamics labels."""
        return [d for d, dyn in self.dynamics.items() if dyn]


def describe_corpora(data: list[str]) -> CorpusInfo:
    from .store import Corpus

    info = CorpusInfo()
    for path in data:
        corpus = Corpus(path)
        for e in corpus.entries():
            info.dynamics.setdefault(e.dataset, [])
            info.kinematics.setdefault(e.dataset, [])
            counts = info.train if e.split == "train" else info.test
            counts[e.dataset] = counts.get(e.dataset, 0) + 1
            for key, names in ((DYNAMICS, info.dynamics[e.dataset]), (KINEMATICS, info.kinematics[e.dataset])):
                names.extend(r for r in e.representations if r in key and r not in names)
        corpus.close()
    for d in info.dynamics:
        info.dynamics[d] = [x for x in DYNAMICS if x in info.dynamics[d]]
        info.kinematics[d] = [x for x in KINEMATICS if x in info.kinematics[d]]
    return info


# -------------------------------------------------------------------------------------------------
# the registry


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _datasets(names) -> str:
    return "train.datasets=" + json.dumps(list(names))


def quick_overrides() -> list[str]:
    """The quickstart's CPU-sized config (64-D, 384-frame batches, FDAE on every 2nd frame) as overrides
    of the default config, with an epoch count no budget reaches."""
    quick = [f"model.{k}={json.dumps(v)}" for k, v in QUICK_MODEL.items()]
    quick += [f"train.{k}={json.dumps(v)}" for k, v in QUICK_TRAIN.items() if k != "epochs"]
    return quick + [f"train.epochs={EPOCHS}"]


def base_config(base_overrides=()) -> Config:
    """The base config of every variant: the quickstart's, changed by ``base_overrides``."""
    return apply_overrides(Config(), [*quick_overrides(), *base_overrides])


def _hdys_rows(base: Config) -> list[Variant]:
    return [Variant("hdys", "HDyS", (), role="hdys", param=str(base.model.latent_dim))]


def _baseline_rows(info: CorpusInfo) -> list[Variant]:
    """Each baseline trains on the datasets with dynamics it predicts and kinematics it reads."""
    from .model import MODELS

    rows = []
    for arch, label in BASELINE_NAMES.items():
        cls = MODELS[arch]
        supports, reads = set(getattr(cls, "supports", DYNAMICS)), set(getattr(cls, "reads", KINEMATICS))
        use = [d for d in info.labelled if supports & set(info.dynamics[d]) and reads & set(info.kinematics[d])
               and info.train.get(d)]
        if use:
            rows.append(Variant(arch, label, (f"model.arch={arch}", _datasets(use)), tuple(use), "baseline", arch))
    return rows


def table1_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    rows = _hdys_rows(base)
    trainable = [d for d in info.datasets if info.train.get(d)]
    if len(trainable) > 1:
        rows += [Variant(f"single-{_slug(d)}", f"{d}-only HDyS", (_datasets([d]),), (d,), "single", d)
                 for d in info.labelled if info.train.get(d)]
        for d in trainable:
            rest = [x for x in trainable if x != d]
            if any(x in info.labelled for x in rest):
                rows.append(Variant(f"wo-{_slug(d)}", f"HDyS w/o {d}", (_datasets(rest),),
                                    tuple(x for x in rest if x in info.labelled), "drop", d))
    rows += [Variant("wo-align", "HDyS w/o L_align", ("model.use_align=false",), role="no_align"),
             Variant("wo-fdae", "HDyS w/o FDAE", ("model.use_fdae=false",), role="no_fdae")]
    rows += [Variant(f"latent{d}", f"HDyS-{d}D", (f"model.latent_dim={d}",), role="latent", param=str(d))
             for d in LATENT_DIMS if d != base.model.latent_dim]
    return rows + _baseline_rows(info)


def fifty_fifty(info: CorpusInfo, target: str) -> dict[str, int]:
    """Train sequences per dataset of HDyS-50/50 (paper Table 8): half of the target's (as
    ``train.fractions`` rounds it) plus the other datasets drawn proportionally to their sizes, so
    that the total equals the target's own count (the scale of HDyS-Single)."""
    n_t = info.train[target]
    half = max(1, round(0.5 * n_t))
    others = {d: n for d, n in info.train.items() if d != target and n > 0}
    want = min(n_t - half, sum(others.values()))
    total = sum(others.values()) or 1
    quota = {d: want * n / total for d, n in others.items()}
    counts = {d: int(np.floor(q)) for d, q in quota.items()}
    for d in sorted(others, key=lambda d: counts[d] - quota[d])[: want - sum(counts.values())]:
        counts[d] += 1  # largest remainders
    return {target: half, **{d: c for d, c in counts.items() if c > 0}}


def table2_variants(info: CorpusInfo, base: Config, targets=TABLE2_TARGETS) -> list[Variant]:
    """Single-50, 50/50 and Single per target (``lab`` and ``emg``; on a corpus without them the first
    two labelled datasets). Every row sees the same number of windows per epoch, one dataset's
    ``sequences_per_dataset``: the 50/50 row draws half of them from the target and the other half from
    the other datasets in proportion to its mix (``train.shares``), so its batches hold the mix."""
    chosen = [t for t in targets if t in info.labelled and info.train.get(t)]
    if not chosen:
        chosen = [d for d in info.labelled if info.train.get(d)][:2]
    rows = []
    for t in chosen:
        mix = fifty_fifty(info, t)
        fractions = {d: c / info.train[d] for d, c in mix.items() if c < info.train[d]}
        # an epoch draws as many windows as a single-dataset epoch, split as the mix is (half the target)
        shares = {d: c / info.train[t] for d, c in mix.items()}
        rows += [
            Variant(f"{_slug(t)}-single50", f"{t}: HDyS-Single-50",
                    (_datasets([t]), "train.fractions=" + json.dumps({t: 0.5})), (t,), "single50", t,
                    ((t, max(1, round(0.5 * info.train[t]))),)),
            Variant(f"{_slug(t)}-fifty-fifty", f"{t}: HDyS-50/50",
                    (_datasets(list(mix)), "train.fractions=" + json.dumps(fractions),
                     "train.shares=" + json.dumps(shares)), (t,), "fifty_fifty", t,
                    tuple(mix.items())),
            Variant(f"{_slug(t)}-single", f"{t}: HDyS-Single", (_datasets([t]),), (t,), "single", t,
                    ((t, info.train[t]),)),
        ]
    return rows


def table9_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    return _hdys_rows(base) + [Variant("wo-temporal", "HDyS w/o Temporal Refinement",
                                       ("model.use_temporal=false",), role="no_temporal")]


def fig3_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    return _hdys_rows(base) + [Variant("wo-align", "HDyS w/o L_align", ("model.use_align=false",), role="no_align")]


def finetune_target(info: CorpusInfo) -> str:
    """The GRF fine-tuning target among the corpora's datasets (Tables 4 and 10)."""
    found = [d for d in info.datasets if d in FINETUNE_TARGETS and info.train.get(d) and info.test.get(d)]
    if not found:
        raise ValueError(f"Tables 4 and 10 fine-tune on a GroundLink-like dataset ({' or '.join(FINETUNE_TARGETS)}) "
                         f"with train and test sequences; the corpora hold {info.datasets} (generate one with "
                         "`hdys synth --preset grf`, or `hdys ingest groundlink`, and add it to --data)")
    if len(info.datasets) < 2:
        raise ValueError("Tables 4 and 10 also need the pretraining corpus in --data (e.g. the default corpus)")
    return found[0]


def table4_variants(info: CorpusInfo, base: Config) -> list[Variant]:
    """GroundLinkNet and HDyS from scratch on the target, HDyS pretrained on the other datasets, and that
    model fine-tuned on the target (its ``train.init_from`` is the pretrained row's run: ``@hdys``)."""
    t = finetune_target(info)
    rest = [d for d in info.datasets if d != t and info.train.get(d)]
    return [Variant("groundlink", "GroundLinkNet", ("model.arch=groundlink", _datasets([t])), (t,), "baseline",
                    "groundlink"),
            Variant(f"{_slug(t)}-only", f"{PAPER_NAMES.get(t, t)}-only HDyS", (_datasets([t]),), (t,), "target_only",
                    t),
            Variant("hdys", "HDyS pretrained (not fine-tuned)", (_datasets(rest),), (t,), "pretrained", t),
            Variant("finetuned", "HDyS", ("train.init_from=@hdys", _datasets([t])), (t,), "hdys", t)]


@dataclass(frozen=True)
class Experiment:
    paper: str
    what: str
    variants: Callable[[CorpusInfo, Config], list[Variant]]
    reuse_table1: bool = False  # take finished runs of `table1` in the same out dir instead of training
    reuse_from: str = "table1"  # ... or of this experiment


EXPERIMENTS: dict[str, Experiment] = {
    "table1": Experiment("Table 1", "HDyS, single-dataset, drop-one-out, ablations, sizes and baselines",
                         table1_variants),
    "table2": Experiment("Tables 2 and 8", "scale vs heterogeneity: Single-50, 50/50, Single", table2_variants),
    "table3": Experiment("Table 3", "results per kinematics representation", lambda i, b: _hdys_rows(b),
                         reuse_table1=True),
    "table7": Experiment("Table 7", "parameter counts", lambda i, b: []),
    "table9": Experiment("Table 9", "w/o temporal refinement", table9_variants),
    "fig3": Experiment("Figure 3", "t-SNE of latents by representation and dataset, with and without L_align",
                       fig3_variants, reuse_table1=True),
    "table4": Experiment("Table 4", "GRF estimation: GroundLinkNet, HDyS on the target only, HDyS pretrained "
                         "and fine-tuned", table4_variants, reuse_table1=True),
    "table10": Experiment("Table 10", "the fine-tuned HDyS of Table 4 from each kinematics representation",
                          table4_variants, reuse_table1=True, reuse_from="table4"),
    "table5": Experiment("Table 5", "biomechanical simulation: HDyS's and the recording's torques, k = 1..5 steps "
                         "at 90 fps", lambda i, b: _hdys_rows(b), reuse_table1=True),
    "table11": Experiment("Table 11", "biomechanical simulation at 90, 120 and 150 fps, k = 1..5 steps",
                          lambda i, b: _hdys_rows(b), reuse_table1=True),
}
SIMULATION_FPS = {"table5": [90.0], "table11": [90.0, 120.0, 150.0]}
SIMULATION_K = 5


def variants(name: str, data: list[str] | CorpusInfo, base_overrides=()) -> list[Variant]:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    info = data if isinstance(data, CorpusInfo) else describe_corpora(list(data))
    return EXPERIMENTS[name].variants(info, base_config(base_overrides))


# -------------------------------------------------------------------------------------------------
# running


def _command(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def _run_variant(v: Variant, vdir: Path, data: list[str], overrides: list[str], progress: bool) -> dict:
    """Train (or resume) and evaluate one variant; returns its record (eval report included)."""
    from .evaluate import evaluate
    from .train import train

    run, ev, done = vdir / "run", vdir / "eval.json", vdir / "trained.json"
    record = {"key": v.key, "name": v.name, "role": v.role, "param": v.param, "overrides": list(v.overrides),
              "datasets_shown": list(v.datasets), "composition": dict(v.composition), "dir": str(vdir),
              "commands": [_command(["hdys", "train", "--data", ",".join(data), "--out", str(run), *overrides]),
                           _command(["hdys", "eval", str(run), "--data", ",".join(data), "--out", str(ev)])]}
    if ev.exists():
        record["status"] = "done before (skipped)"
    else:
        if not done.exists():
            resume = run.exists() and any(run.iterdir())
            log.info("training %s (%s) into %s%s", v.name, " ".join(v.overrides) or "base config", run,
                     " (resuming)" if resume else "")
            summary = train(apply_overrides(Config(), overrides), data, run, resume=resume, progress=progress)
            done.write_text(json.dumps(summary))
            record["status"] = "resumed and evaluated" if resume else "trained and evaluated"
        else:
            record["status"] = "evaluated (training was done)"
        log.info("evaluating %s", v.name)
        evaluate(run, data, ev, progress=progress)
    record["training"] = json.loads(done.read_text()) if done.exists() else None
    record["budget_minutes"] = json.loads((run / "config.json").read_text())["train"]["budget_minutes"]
    record["eval"] = json.loads(ev.read_text())
    return record


def run_experiment(name: str, data: list[str], out, budget_minutes: float = 0.0, progress: bool = True,
                   base_overrides: list[str] = (), steps: int = 0, epochs: int = 0) -> dict:
    """Run experiment ``name`` on the corpora ``data`` into ``out/<name>``; returns the results dict
    (also written to ``out/<name>/results.json``, with ``table.md`` beside it).

    Protocol, the first that is given: ``epochs`` > 0, every variant trains that many epochs of
    ``train.sequences_per_dataset`` windows per dataset it trains on (the paper's equal per-dataset
    exposure); ``steps`` > 0, every variant trains exactly that many optimiser steps; else
    ``budget_minutes`` split evenly over the variants (equal time). With epochs or steps, a budget > 0
    caps each variant's share."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; known: {sorted(EXPERIMENTS)}")
    if budget_minutes < 0:
        raise ValueError(f"budget must be >= 0 minutes, got {budget_minutes}")
    if steps < 0 or epochs < 0:
        raise ValueError(f"steps and epochs must be >= 0, got {steps}, {epochs}")
    protocol = "exposure" if epochs else "steps" if steps else "minutes"
    data = [str(Path(p).resolve()) for p in data]
    root = Path(out)
    out_dir = root / name
    out_dir.mkdir(parents=True, exist_ok=True)
    exp = EXPERIMENTS[name]
    info = describe_corpora(data)
    base = base_config(base_overrides)
    t0 = time.perf_counter()
    results = {"experiment": name, "paper": exp.paper, "what": exp.what, "corpora": data,
               "base_overrides": list(base_overrides),
               "command": _command(["hdys", "experiment", name, "--data", ",".join(data), "--out", str(root),
                                    *(["--epochs", str(epochs)] if epochs else []),
                                    *(["--steps", str(steps)] if steps and not epochs else []),
                                    *(["--budget", f"{budget_minutes:g}"] if budget_minutes else []),
                                    *base_overrides]),
               "corpus": asdict(info), "budget_minutes": budget_minutes, "protocol": protocol,
               "steps_per_variant": steps if protocol == "steps" else 0,
               "epochs_per_variant": epochs, "sequences_per_dataset": base.train.sequences_per_dataset,
               "device": _device_name()}
    if name == "table7":
        results.update(budget_minutes=0.0, budget_per_variant_minutes=0.0, variants={}, params=_parameters(data, base))
        return _finish(results, out_dir, t0)

    vs = exp.variants(info, base)
    reused = _reusable(name, exp, root, vs, info)
    trained = [v for v in vs if v.key not in reused]
    if trained and budget_minutes <= 0 and not steps and not epochs:
        raise ValueError(f"experiment {name} trains {len(trained)} variant(s); give it a number of epochs "
                         "(equal per-dataset exposure), a number of steps or a budget > 0 minutes")
    per = budget_minutes / max(1, len(trained))
    results.update(budget_per_variant_minutes=per, variants_trained=len(trained), variants={})
    limit = {"exposure": [f"train.epochs={epochs}"], "steps": [f"train.max_steps={steps}"], "minutes": []}[protocol]
    overrides = [*quick_overrides(), f"train.budget_minutes={per:.6g}", *limit, *base_overrides]
    dirs = {v.key: reused.get(v.key, out_dir / v.key) for v in vs}
    for i, v in enumerate(vs):
        log.info("[%d/%d] %s: %s", i + 1, len(vs), name, v.name)
        vdir = dirs[v.key]
        # "@key" stands for the run directory of the variant ``key`` (trained before this one)
        own = [re.sub(r"=@([\w.-]+)$", lambda m: f"={dirs[m.group(1)] / 'run'}", o) for o in v.overrides]
        rec = _run_variant(v, vdir, data, [*overrides, *own], progress)
        if v.key in reused:
            rec["status"] = f"taken from {exp.reuse_from} ({vdir})"
        results["variants"][v.key] = rec
    if name == "fig3":
        results["fig3"] = figure3(results, out_dir, data)
    if name in SIMULATION_FPS:
        results["simulation"] = simulation(results, out_dir, data, SIMULATION_FPS[name], progress)
    if name in TABLE_METRICS and "hdys" in results["variants"]:
        _zero_shot(results["variants"]["hdys"], out_dir, data, progress)
    return _finish(results, out_dir, t0)


def simulation(results: dict, out_dir: Path, data: list[str], fps: list[float], progress: bool) -> dict:
    """Tables 5 and 11: the HDyS row's run simulates the `lab` test sequences of ``data``
    (:func:`hdys.simulate.simulate_run`); ``simulation.json``/``simulate.png`` in ``out_dir``."""
    from .simulate import simulate_run
    from .store import Corpus, atomic_write_json

    rec = next(r for r in results["variants"].values() if r["role"] == "hdys")
    seqs = []
    for path in data:
        with Corpus(path) as c:
            seqs += [c.read(e.sequence_id) for e in c.entries("test", "lab")]
    if not seqs:
        raise ValueError(f"{', '.join(data)}: no `lab` test sequences (Rajagopal angles with ground forces) "
                         "to simulate")
    path, run = out_dir / "simulation.json", str(Path(rec["dir"]) / "run")
    try:  # a re-run with the same run, rates, k and sequences: the simulation is done
        old = json.loads(path.read_text())
        ids = {s["sequence"] for s in old["sequences"]} | {s["sequence"] for s in old["skipped"]}
        if (old["run"], old["fps"], old["k"], ids) == (run, fps, SIMULATION_K, {s.sequence_id for s in seqs}):
            log.info("simulation done before: %s", path)
            return old
    except (OSError, ValueError, KeyError, TypeError):  # none yet, or unreadable: simulate
        pass
    res = simulate_run(run, seqs, k=SIMULATION_K, fps=fps, progress=progress, plot=out_dir / "simulate.png")
    atomic_write_json(path, res)  # an interrupted write never leaves half a file to be taken as done
    return res


def _zero_shot(rec: dict, out_dir: Path, data: list[str], progress: bool) -> None:
    """The pretrained row of Tables 4 and 10 on the fine-tuning target, when its run was taken from an
    experiment that did not evaluate it there (``out_dir/hdys-zero-shot.json``)."""
    from .evaluate import evaluate
    from .store import Corpus

    target = rec["param"]
    if target in rec["eval"]["results"]:
        return
    path = out_dir / "hdys-zero-shot.json"
    if not path.exists():
        corpora = []
        for p in data:
            with Corpus(p) as c:
                if target in c.datasets:
                    corpora.append(p)
        log.info("evaluating %s on %s (zero-shot)", rec["name"], target)
        evaluate(Path(rec["dir"]) / "run", corpora, path, progress=progress)
    rec["eval"]["results"][target] = json.loads(path.read_text())["results"].get(target, {})


def _reusable(name: str, exp: Experiment, root: Path, vs: list[Variant], info: CorpusInfo) -> dict[str, Path]:
    """Variants of ``name`` whose finished runs are taken from ``root/<exp.reuse_from>``. Table 4 takes only
    its pretrained row from table1, and only if table1 did not train on the fine-tuning target."""
    if not exp.reuse_table1:
        return {}
    src = root / exp.reuse_from
    try:
        done = json.loads((src / "results.json").read_text())
    except (OSError, ValueError):
        done = {}
    keys = [v.key for v in vs]
    if name == "table4":
        shown = done.get("corpus", {}).get("train")
        if shown is None:
            return {}
        if finetune_target(info) in shown:
            log.info("table1 in %s trained on %s: table4 pretrains its own HDyS", root, finetune_target(info))
            return {}
        keys = ["hdys"]
    recorded = done.get("variants", {})  # runs that experiment itself took from elsewhere (table10 <- table4 <- table1)
    found = {}
    for k in keys:
        for d in (src / k, Path(recorded.get(k, {}).get("dir", src / k))):
            if (d / "eval.json").exists():
                found[k] = d
                break
    return found


def _device_name() -> str:
    import platform

    import torch

    if torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)}"
    return f"cpu: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"


def _finish(results: dict, out_dir: Path, t0: float) -> dict:
    results["wall_minutes"] = (time.perf_counter() - t0) / 60
    results["rows"] = rows_of(results)
    results["claims"] = claims(results)
    results = jsonable(results)
    (out_dir / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / "table.md").write_text(table_markdown(results))
    log.info("wrote %s and %s", out_dir / "results.json", out_dir / "table.md")
    return results


# -------------------------------------------------------------------------------------------------
# rows and tables


def _keep(nested: dict, datasets) -> dict:
    return {d: v for d, v in nested.items() if not datasets or d in datasets}


PAPER_ORDER = ("sim", "lab", "muscle", "emg", "kin")  # ImDy, AddBiomechanics, MinT, MiA (Table 1 columns)


def _ordered(nested: dict) -> dict:
    rank = {d: i for i, d in enumerate(PAPER_ORDER)}
    return dict(sorted(nested.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def rows_of(results: dict) -> dict[str, dict]:
    """Row name -> nested metrics ``{dataset: {dynamics: {metric: {rep: value}}}}`` as the table shows it."""
    rows: dict[str, dict] = {}
    for rec in results.get("variants", {}).values():
        nested = _ordered(_keep(rec["eval"]["results"], rec["datasets_shown"]))
        if results["experiment"] == "table10" and rec["role"] != "hdys":
            continue
        if results["experiment"] in ("table3", "table10"):
            for rep, label in REP_ROWS.items():
                per = {ds: {dyn: {m: {rep: v[rep]} for m, v in pm.items() if rep in v} for dyn, pm in pd.items()}
                       for ds, pd in nested.items()}
                per = {ds: {dyn: pm for dyn, pm in pd.items() if pm} for ds, pd in per.items()}
                if any(per.values()):
                    rows[label] = {ds: pd for ds, pd in per.items() if pd}
            if results["experiment"] == "table10":  # and the average over them, the paper's last column
                rows["HDyS (all)"] = {ds: {dyn: {m: {AVG: v[AVG]} for m, v in pm.items() if AVG in v}
                                           for dyn, pm in pd.items()} for ds, pd in nested.items()}
        else:
            rows[rec["name"]] = nested
    return rows


def table_markdown(results: dict) -> str:
    name = results["experiment"]
    corpora = ", ".join(Path(c).name for c in results["corpora"])
    lines = [f"# `{name}`: the paper's {results['paper']} ({results['what']})", "",
             f"Command: `{results['command']}`", f"Corpora: {', '.join(results['corpora'])}",
             f"Device: {results['device']}. Wall time: {results['wall_minutes']:.1f} min.", ""]
    if name == "table7":
        lines += ["| Model | #params (paper vocabularies) | #params (this corpus, base config) | paper |",
                  "|---|---|---|---|"]
        for arch, row in results["params"].items():
            lines.append(f"| {row['label']} | {row['paper_vocab']:,} | "
                         f"{row['this_corpus']:,} | "
                         f"{PAPER_PARAMS.get(arch, '-')} |")
        lines.append("")
    else:
        n = results["variants_trained"]
        budgets = sorted({round(r["budget_minutes"], 4) for r in results["variants"].values()})
        per = " / ".join(f"{b:.2f}" for b in budgets)
        protocol = results.get("protocol", "steps" if results.get("steps_per_variant") else "minutes")
        cap = f" (at most {per} min each)" if results["budget_minutes"] > 0 else ""
        if protocol == "exposure":
            what = (f"equal per-dataset exposure, the paper's protocol: {results['epochs_per_variant']} epochs of "
                    f"{results['sequences_per_dataset']} windows per dataset per variant{cap} ({n} trained here")
        elif protocol == "steps":
            what = f"equal steps: {results['steps_per_variant']} optimiser steps per variant{cap} ({n} trained here"
        else:
            what = (f"equal time: {per} min of training per variant ({n} trained here of "
                    f"{results['budget_minutes']:g} min in all")
        title = (f"{results['paper']} on {corpora}: {what}"
                 + (f", the others taken from {EXPERIMENTS[name].reuse_from}" if n < len(results["variants"]) else "")
                 + "), same seed and test split")
        rows = results["rows"]
        if name == "table2":
            for target in dict.fromkeys(r["param"] for r in results["variants"].values()):
                sub = {k: v for k, v in rows.items() if k.startswith(f"{target}: ")}
                lines += [markdown_table(sub, f"{title}; target {target}"), ""]
            lines += _composition_table(results)
        else:
            lines += [markdown_table(rows, title, TABLE_METRICS.get(name)), ""]
        if results.get("simulation"):
            from .simulate import simulation_markdown
            lines += ["## Simulation", "", simulation_markdown(results["simulation"]), "![simulation](simulate.png)",
                      ""]
        if name == "fig3" and results.get("fig3"):
            f = results["fig3"]
            lines += [f"![Figure 3]({Path(f['png']).name})", "",
                      f"t-SNE of {f['frames']} latent frames (perplexity {f['perplexity']}), "
                      "k-NN (k=10) accuracy of telling the representation / dataset from the latent:", "",
                      "| Model | representation k-NN acc. | dataset k-NN acc. |", "|---|---|---|"]
            lines += [f"| {m} | {v['representation_knn']:.3f} | {v['dataset_knn']:.3f} |" for m, v in f["models"].items()]
            lines.append("")
        lines += ["Datasets stand for the paper's: " + ", ".join(f"`{k}` {v}" for k, v in PAPER_NAMES.items()) + ".",
                  "Single-dataset, drop-one-out and baseline rows show only the datasets they trained on.", "",
                  "#### Variants", "", "| Row | overrides | steps | stopped by | train min | status |",
                  "|---|---|---|---|---|---|"]
        for rec in results["variants"].values():
            tr = rec.get("training") or {}
            lines.append(f"| {rec['name']} | `{' '.join(rec['overrides']) or '-'}` | {tr.get('steps', '-')} | "
                         f"{tr.get('stopped_by', '-')} | {tr.get('elapsed_s', 0) / 60:.2f} | {rec['status']} |")
        lines.append("")
    if results.get("claims"):
        lines += ["## Reading", ""]
        for c in results["claims"]:
            lines.append(f"- **{c['claim']}**: {c['verdict']}. {c['summary']}")
        lines.append("")
    return "\n".join(lines)


def _composition_table(results: dict) -> list[str]:
    recs = [r for r in results["variants"].values() if r["composition"]]
    names = list(dict.fromkeys(d for r in recs for d in r["composition"]))
    lines = ["#### Training sequences per dataset (the paper's Table 8)", "",
             "| Row | " + " | ".join(names) + " | total |", "|---|" + "---|" * (len(names) + 1)]
    for r in recs:
        c = r["composition"]
        lines.append(f"| {r['name']} | " + " | ".join(str(c.get(d, "-")) for d in names) + f" | {sum(c.values())} |")
    return lines + [""]


def _parameters(data: list[str], base: Config) -> dict:
    """Table 7: every arch (and HDyS-32/64/128D) with the paper's vocabularies (402 muscles, 8 EMG
    channels), and at the base config with this corpus' channel vocabularies (the models trained here)."""
    from .data import channel_vocabulary
    from .model import build_model
    from .model.baselines import parameter_table
    from .store import merged_stats, open_corpora

    corpora = open_corpora(data)
    stats = merged_stats(corpora)
    for c in corpora:
        c.close()
    out = {}
    for key, count in parameter_table().items():
        arch, _, dim = key.partition("-")
        label = BASELINE_NAMES.get(arch, "HDyS") + (f"-{dim.upper()}" if dim else "")
        cfg = apply_overrides(base, [f"model.arch={arch}"] + ([f"model.latent_dim={dim[:-1]}"] if dim else []))
        cfg.model.muscle_names = channel_vocabulary(stats, "muscle_activation")
        cfg.model.emg_names = channel_vocabulary(stats, "emg")
        here = sum(p.numel() for p in build_model(cfg.model).parameters())
        out[key] = {"label": label, "paper_vocab": count, "this_corpus": here}
    return out


# -------------------------------------------------------------------------------------------------
# claims: the paper's statements checked on the measured numbers


def _columns(nested: dict, datasets=None, headline=None) -> list[tuple[str, str, str]]:
    metrics = {**HEADLINE_METRICS, **(headline or {})}
    return [(ds, dyn, m) for ds, per_dyn in nested.items() if not datasets or ds in datasets
            for dyn, per_metric in per_dyn.items() for m in metrics.get(dyn, ()) if m in per_metric]


def _value(nested: dict, col: tuple[str, str, str], which: str = AVG) -> float | None:
    ds, dyn, m = col
    per_rep = nested.get(ds, {}).get(dyn, {}).get(m) or {}
    v = per_rep.get(which)
    if v is None and len(per_rep) == 1:  # a single-representation row
        v = next(iter(per_rep.values()))
    return None if v is None or not np.isfinite(v) else float(v)


def _compare(rows: dict, a: str, b: str, which: str = AVG, datasets=None, headline=None) -> list[dict]:
    """Per common headline column (``headline``: see ``report._columns``): the values of rows ``a`` and ``b``
    and whether ``a`` is better."""
    if a not in rows or b not in rows:
        return []
    out = []
    for col in _columns(rows[a], datasets, headline):
        va, vb = _value(rows[a], col, which), _value(rows[b], col, which)
        if va is None or vb is None:
            continue
        better = va < vb if LOWER_IS_BETTER[col[2]] else va > vb
        out.append({"column": " ".join(col), "a": a, "b": b, "a_value": va, "b_value": vb, "a_better": better})
    return out


def _verdict(flags: list[bool]) -> str:
    if not flags:
        return "not testable (no common numbers)"
    return "holds" if all(flags) else "does not hold" if not any(flags) else "mixed"


def _claim(text: str, comps: list[dict], note: str = "") -> dict:
    flags = [c["a_better"] for c in comps]
    parts = [f"{c['column']}: {c['a']} {format_value(c['a_value'])} vs {c['b']} {format_value(c['b_value'])}"
             + (" ✓" if c["a_better"] else " ✗") for c in comps]
    summary = "; ".join(parts) + (f" ({sum(flags)}/{len(flags)} columns)" if flags else "") + (f". {note}" if note else "")
    return {"claim": text, "verdict": _verdict(flags), "summary": summary, "comparisons": comps}


def _harm(rows: dict, full: str, dropped: str, target: str) -> float | None:
    """Mean degradation of ``target``'s headline metrics (avg) from ``full`` to ``dropped``, relative
    for errors, the PCC difference for correlations (positive: dropping hurts)."""
    vals = []
    for col in _columns(rows.get(full, {}), [target]):
        a, b = _value(rows[full], col), _value(rows.get(dropped, {}), col)
        if a is None or b is None or (a == 0 and LOWER_IS_BETTER[col[2]]):
            continue
        # errors relative to HDyS's; correlations (bounded, near 0 early in training) as a difference
        vals.append((b - a) / abs(a) if LOWER_IS_BETTER[col[2]] else a - b)
    return float(np.mean(vals)) if vals else None


def _types(dynamics: list[str]) -> set[str]:
    return ({"torque"} if set(dynamics) & set(TORQUE_TYPES) else set()) | \
           ({"muscle"} if set(dynamics) & set(MUSCLE_TYPES) else set())


def _drop_claims(rows: dict, by_role: dict, dynamics: dict[str, list[str]], full: str) -> list[dict]:
    drops = {r["param"]: r["name"] for r in by_role.get("drop", [])}
    per_target, flags, kin_flags, kin_parts = [], [], [], []
    for target in [d for d in dynamics if _types(dynamics[d])]:
        harms = {d: _harm(rows, full, name, target) for d, name in drops.items() if d != target}
        harms = {d: h for d, h in harms.items() if h is not None}
        same = {d: h for d, h in harms.items() if _types(dynamics[d]) & _types(dynamics[target])}
        other = {d: h for d, h in harms.items() if _types(dynamics[d]) and not _types(dynamics[d]) & _types(dynamics[target])}
        for d, h in harms.items():
            if not _types(dynamics[d]):
                kin_flags.append(h > 0)
                kin_parts.append(f"w/o {d} on {target} {100 * h:+.1f}")
        if not same or not other:
            continue
        holds = float(np.mean(list(same.values()))) > float(np.mean(list(other.values())))
        flags.append(holds)
        fmt = lambda hs: ", ".join(f"w/o {d} {100 * h:+.1f}" for d, h in hs.items())  # noqa: E731
        per_target.append({"target": target, "same_type": same, "other_type": other, "holds": holds,
                           "text": f"{target}: same type {fmt(same)} vs other type {fmt(other)} "
                                   + ("✓" if holds else "✗")})
    out = [{"claim": "dropping a dataset hurts most where the dynamics types match (torque vs muscle)",
            "verdict": _verdict(flags),
            "summary": "; ".join(p["text"] for p in per_target) + " (relative degradation of the target's "
                       "headline metrics against HDyS, avg prediction: % for errors, PCC difference x 100 for "
                       "correlations; + = dropping hurts)",
            "comparisons": per_target}]
    if kin_flags:
        out.append({"claim": "data without dynamics labels (AMASS-like) helps", "verdict": _verdict(kin_flags),
                    "summary": "; ".join(kin_parts) + " (% for errors, PCC x 100; + = dropping it hurts)", "comparisons": kin_parts})
    return out


def claims(results: dict) -> list[dict]:
    """The paper's claims for this experiment, each with the numbers it rests on and a verdict
    (holds / mixed / does not hold) on the averaged prediction (best single representation for Table 2,
    as the paper reports there)."""
    name, rows = results["experiment"], results.get("rows") or rows_of(results)
    by_role: dict[str, list[dict]] = {}
    for rec in results.get("variants", {}).values():
        by_role.setdefault(rec["role"], []).append(rec)
    full = by_role["hdys"][0]["name"] if by_role.get("hdys") else None
    out: list[dict] = []
    if name == "table1" and full:
        for rec in by_role.get("single", []):
            out.append(_claim(f"heterogeneous training beats {rec['param']}-only training on {rec['param']}",
                              _compare(rows, full, rec["name"], datasets=[rec["param"]])))
        out += _drop_claims(rows, by_role, results["corpus"]["dynamics"], full)
        for role, text in (("no_align", "L_align helps"), ("no_fdae", "FDAE helps")):
            for rec in by_role.get(role, []):
                out.append(_claim(text, _compare(rows, full, rec["name"])))
        dims = {int(full_rec["param"]): full_rec["name"] for full_rec in by_role["hdys"]}
        dims.update({int(r["param"]): r["name"] for r in by_role.get("latent", [])})
        order = sorted(dims, reverse=True)
        comps = [c for hi, lo in zip(order, order[1:]) for c in _compare(rows, dims[hi], dims[lo])]
        if len(order) > 1:
            out.append(_claim(" > ".join(f"{d}-D" for d in order), comps,
                              f"{full} is {by_role['hdys'][0]['param']}-D"))
        for rec in by_role.get("baseline", []):
            out.append(_claim(f"HDyS beats {rec['name']}", _compare(rows, full, rec["name"], datasets=rec["datasets_shown"])))
    elif name == "table9" and full:
        for rec in by_role.get("no_temporal", []):
            out.append(_claim("temporal refinement helps", _compare(rows, full, rec["name"])))
    elif name == "table2":
        named = {(r["role"], r["param"]): r["name"] for r in results["variants"].values()}
        for (role, t), row in named.items():
            if role != "fifty_fifty":
                continue
            out.append(_claim(f"{t}: HDyS-50/50 beats HDyS-Single-50 (same target data, plus other datasets; best representation)",
                              _compare(rows, row, named.get(("single50", t), ""), BEST, [t])))
            out.append(_claim(f"{t}: HDyS-50/50 beats HDyS-Single (same scale; best representation; the paper "
                              "finds it on AddBiomechanics, not on MiA)", _compare(rows, row, named.get(("single", t), ""), BEST, [t])))
    elif name == "table3":
        joint = [REP_ROWS[r] for r in ("joint_angles", "smpl")]
        cart = [REP_ROWS[r] for r in ("markers", "keypoints")]
        comps = [c for j in joint for k in cart for c in _compare(rows, j, k)]
        out.append(_claim("joint-space representations (angles, SMPL) beat Cartesian ones (markers, keypoints)", comps))
        m = REP_ROWS["markers"]
        out.append(_claim("markers are the worst representation",
                          [c for other in REP_ROWS.values() if other != m for c in _compare(rows, other, m)]))
    elif name == "table4" and full:
        role = {r["role"]: r["name"] for r in results["variants"].values()}
        t = results["variants"]["finetuned"]["param"]
        for a, b in (("hdys", "baseline"), ("hdys", "target_only"), ("target_only", "baseline"),
                     ("hdys", "pretrained")):
            if a in role and b in role:
                out.append(_claim(f"{role[a]} beats {role[b]} on {t}",
                                  _compare(rows, role[a], role[b], datasets=[t], headline=TABLE_METRICS[name])))
    elif name == "table10":
        per = [REP_ROWS[r] for r in REP_ROWS if REP_ROWS[r] in rows]
        out.append(_claim("all representations together beat each one alone",
                          [c for r in per for c in _compare(rows, "HDyS (all)", r, headline=TABLE_METRICS[name])]))
    elif name in SIMULATION_FPS and results.get("simulation"):
        for rate, rows_k in results["simulation"]["mse"].items():
            if "labels" not in rows_k:
                continue
            comps = [{"a": "HDyS", "b": "Optimized", "column": f"k={i + 1}", "a_value": a, "b_value": b,
                      "a_better": a < b} for i, (a, b) in enumerate(zip(rows_k["hdys"], rows_k["labels"]))]
            out.append(_claim(f"simulating with HDyS's torques drifts less than with the recording's ({rate} fps, "
                              "per-frame MSE)", comps))
    elif name == "fig3" and full:
        for rec in by_role.get("no_align", []):
            out.append(_claim("L_align helps", _compare(rows, full, rec["name"])))
        f = results.get("fig3") or {}
        models = f.get("models", {})
        if full in models and len(models) == 2:
            other = next(k for k in models if k != full)
            a, b = models[full]["representation_knn"], models[other]["representation_knn"]
            out.append({"claim": "L_align keeps the latent from being dominated by the representation "
                                 "(lower k-NN accuracy of telling the representation from the latent)",
                        "verdict": "holds" if a < b else "does not hold",
                        "summary": f"representation k-NN accuracy {full} {a:.3f} vs {other} {b:.3f}",
                        "comparisons": [{"a": full, "b": other, "a_value": a, "b_value": b, "a_better": a < b}]})
    return out


# -------------------------------------------------------------------------------------------------
# Figure 3: t-SNE of the latents


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

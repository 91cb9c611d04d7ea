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
the measured numbers by :func:`hdys.tables.claims`). The variants of each experiment are in
:mod:`hdys.registry`, Figure 3 in :mod:`hdys.figure3`.

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
from dataclasses import asdict
from pathlib import Path

from .config import Config, apply_overrides
from .figure3 import figure3
from .registry import (BASELINE_NAMES, EXPERIMENTS, SIMULATION_FPS, SIMULATION_K, TABLE_METRICS, CorpusInfo,
                       Experiment, Variant, base_config, describe_corpora, finetune_target, quick_overrides)
from .report import jsonable
from .store import atomic_write_json
from .tables import claims, rows_of, table_markdown

log = logging.getLogger("hdys.experiment")


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
            atomic_write_json(done, summary)  # the marker of a finished training: whole or absent
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
    control = [o for o in base_overrides if o.startswith("control.")]  # Table 6's policy settings
    base_overrides = [o for o in base_overrides if not o.startswith("control.")]
    if control and name != "table6":
        raise ValueError(f"control.* overrides ({control[0]!r}) are settings of table6, not of {name}")
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
                                    *base_overrides, *control]),
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
    if name == "table6":
        from .control.table6 import control_table
        results["control"] = control_table(results, out_dir, data, control, progress)
    if name in TABLE_METRICS and "hdys" in results["variants"]:
        _zero_shot(results["variants"]["hdys"], out_dir, data, progress)
    return _finish(results, out_dir, t0)


def simulation(results: dict, out_dir: Path, data: list[str], fps: list[float], progress: bool) -> dict:
    """Tables 5 and 11: the HDyS row's run simulates the `lab` test sequences of ``data``
    (:func:`hdys.simulate.simulate_run`); ``simulation.json``/``simulate.png`` in ``out_dir``."""
    from .simulate import simulate_run
    from .store import Corpus

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
    atomic_write_json(out_dir / "results.json", results)
    (out_dir / "table.md").write_text(table_markdown(results))
    log.info("wrote %s and %s", out_dir / "results.json", out_dir / "table.md")
    return results


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

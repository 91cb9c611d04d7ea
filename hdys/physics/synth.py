"""``hdys synth``: generate the physics corpus, deterministic, resumable, parallel and shardable.

Work is cut into jobs, one per (domain, subject); a job's sequences depend only on (preset, seed, domain,
subject), so any worker count and any sharding give the same sequences.

* ``workers``: jobs run in that many processes.
* ``shard=(i, n)``: only jobs i, i+n, i+2n, ... run, so that a cluster scheduler can run one shard per job;
  give every shard its own ``--out`` and train on all of them (``hdys train --data a,b,c``).
* Resume: completed jobs are appended to the corpus in batches; a re-run skips every subject the corpus
  already holds in full, so an interrupted run loses at most the batch in flight.
* At the end the physics checks run over the whole corpus and ``validation.json`` is written next to it;
  ``quality.json`` holds every sequence's residual and peak torque, recorded as it was generated.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from tqdm import tqdm

from ..frames import G
from ..locks import holding
from ..parallel import imap_ordered
from ..store import Corpus, atomic_write_json, write_corpus
from .fixture import GENERATOR_VERSION, PRESETS, generate_subject, subject_id, subject_jobs

log = logging.getLogger("hdys.synth")


def parse_shard(text: str | None) -> tuple[int, int]:
    """'I/N' -> (I, N) with 0 <= I < N; None -> (0, 1)."""
    if not text:
        return 0, 1
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard: expected I/N such as 0/4, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard: expected 0 <= I < N, got {text!r}")
    return i, n


def _run_job(args: tuple[str, int, str, int]):
    preset, seed, domain, subj = args
    return domain, subj, generate_subject(preset, seed, domain, subj)


def synth(out: str | Path, preset: str = "quick", seed: int = 0, workers: int = 1, shard: str | None = None,
          progress: bool = True, validate: bool = True) -> dict:
    """Generate (or complete) the corpus ``out``; returns a summary dict (also logged)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; expected one of {sorted(PRESETS)}")
    if workers < 1:
        raise ValueError(f"--workers must be >= 1, got {workers}")
    out = Path(out)
    with holding(out, "this hdys synth"):
        return _synth(out, preset, seed, workers, parse_shard(shard), progress, validate)


def _synth(out: Path, preset: str, seed: int, workers: int, shard: tuple[int, int], progress: bool,
           validate: bool) -> dict:
    i, n = shard
    jobs = subject_jobs(preset)[i::n]
    done: set[str] = set()
    version = GENERATOR_VERSION
    if (out / "manifest.json").exists():
        corpus = Corpus(out)
        meta = corpus.manifest.get("synth")
        if meta and (meta.get("preset"), meta.get("seed")) != (preset, seed):
            raise ValueError(f"{out} was generated with preset {meta.get('preset')!r} and seed {meta.get('seed')}; "
                             f"refusing to add preset {preset!r} seed {seed} to it (choose another --out)")
        per_subject: dict[str, int] = {}
        for e in corpus.entries():
            per_subject[e.subject] = per_subject.get(e.subject, 0) + 1
        done = {s for s, k in per_subject.items() if k >= PRESETS[preset]["sequences"]}
        corpus.close()
        if meta:  # a corpus of hdys synth from before the version was recorded: 1
            version = meta.get("generator", 1)
    todo = [(preset, seed, d, s) for d, s in jobs if subject_id(d, s) not in done]
    if todo and version != GENERATOR_VERSION:
        raise ValueError(f"{out} holds labels of generator version {version}; this hdys generates version "
                         f"{GENERATOR_VERSION} (hdys.physics.fixture.GENERATOR_VERSION) and would mix the two in "
                         f"adding {len(todo)} subjects; regenerate it into another --out")
    log.info("synth %s (seed %d, shard %d/%d): %d subjects to generate, %d already done", preset, seed, i, n,
             len(todo), len(jobs) - len(todo))
    t0 = time.perf_counter()
    batch_size = max(2 * workers, 4)
    bar = tqdm(total=len(todo), desc=f"synth {preset}", unit="subject", disable=not progress)
    pending: list = []
    # the generator's settings, in the manifest from the first write on (a re-run cannot mix presets)
    meta = {"synth": {"preset": preset, "seed": seed, "shard": f"{i}/{n}", "generator": GENERATOR_VERSION}}

    def flush() -> None:
        if pending:
            write_corpus(out, list(pending), seed=seed, progress=False, meta=meta)
            _record_quality(out, pending)
            pending.clear()

    results = imap_ordered(_run_job, todo, workers, single_thread_blas=True)
    try:
        for k, (_, _, seqs) in enumerate(results, 1):
            pending.extend(seqs)
            bar.update(1)
            if k % batch_size == 0:
                flush()
        flush()
    finally:
        bar.close()
        results.close()
    summary = {"corpus": str(out), "preset": preset, "seed": seed, "shard": f"{i}/{n}",
               "generated_subjects": len(todo), "skipped_subjects": len(jobs) - len(todo),
               "seconds": round(time.perf_counter() - t0, 1)}
    if validate and (out / "manifest.json").exists():
        report = validate_corpus(out, preset, seed, jobs)
        summary["validation_passed"] = report.get("passed")
    return summary


# A sequence whose labels the ground cannot explain on average by half a body weight, or with a joint torque
# above 20 N m/kg (the default corpus' largest, landings and runs included, is 11), is broken, not merely imperfect.
OUTLIER_RESIDUAL_PCT_BW = 50.0
OUTLIER_TORQUE_NM_PER_KG = 20.0


def sequence_quality(seq) -> dict:
    """Per-sequence quality figures from the generator's ``extra`` (lost when the corpus is stored):
    mean root residual force (% body weight) of motions on the ground and the largest joint torque
    (N m/kg)."""
    out = {"motion": seq.extra.get("motion")}
    if "root_residual" in seq.extra:
        force = np.linalg.norm(seq.extra["root_residual"][:, :3], axis=1)
        out["residual_force_mean_pct_bw"] = float(force.mean() / (seq.mass_kg * G) * 100)
    tau = next((x for x in (seq.torque_rajagopal, seq.torque_smpl, seq.extra.get("torque_rajagopal"))
                if x is not None), None)
    if tau is not None:
        out["peak_torque_nm_per_kg"] = float(np.abs(tau).max() / seq.mass_kg)
    return out


def _record_quality(out: Path, seqs) -> None:
    """Merge the figures of ``seqs`` into ``out/quality.json`` (keyed by sequence id; atomic)."""
    path = out / "quality.json"
    table = json.loads(path.read_text()) if path.exists() else {}
    table.update({s.sequence_id: sequence_quality(s) for s in seqs})
    atomic_write_json(path, table)


def quality_outliers(out: str | Path) -> tuple[int, list[dict]]:
    """(number of sequences with quality figures, the outliers among them) from ``out/quality.json``."""
    path = Path(out) / "quality.json"
    if not path.exists():
        return 0, []
    table = json.loads(path.read_text())
    bad = [{"sequence_id": k, **v} for k, v in sorted(table.items())
           if v.get("residual_force_mean_pct_bw", 0.0) > OUTLIER_RESIDUAL_PCT_BW
           or v.get("peak_torque_nm_per_kg", 0.0) > OUTLIER_TORQUE_NM_PER_KG]
    return len(table), bad


def validate_corpus(out: str | Path, preset: str, seed: int, jobs: list[tuple[str, int]],
                    subjects_per_domain: int = 2) -> dict:
    """Physics checks, written to ``validation.json``.

    The checks that need the solver's state (residual root wrench, contact forces, forward simulation)
    run on a sample of ``subjects_per_domain`` subjects per domain, regenerated here (generation is
    deterministic, so they are the corpus' own sequences); value checks (activations in [0, 1]) run on
    every sequence of the corpus as stored, and every sequence's quality figures, recorded at generation
    (``quality.json``), are screened for broken labels (``OUTLIER_*``)."""
    from .validation import validate_corpus_physics
    sample: dict[str, list[int]] = {}
    for d, s in jobs:
        if len(sample.setdefault(d, [])) < subjects_per_domain:
            sample[d].append(s)
    seqs = [seq for d, subjects in sample.items() for s in subjects for seq in generate_subject(preset, seed, d, s)]
    report = validate_corpus_physics(seqs)
    report["sampled_subjects"] = {d: [subject_id(d, s) for s in subjects] for d, subjects in sample.items()}
    corpus = Corpus(out)
    bad = []
    for e in corpus.entries():
        if "muscle_activation" in e.representations:
            a = corpus.read(e.sequence_id).muscle_activation
            if not (np.nanmin(a) >= -1e-6 and np.nanmax(a) <= 1 + 1e-6):
                bad.append(e.sequence_id)
    corpus.close()
    checked, outliers = quality_outliers(out)
    report["all_sequences"] = {"activation_out_of_range": bad, "quality_checked": checked,
                               "quality_outliers": outliers, "passed": not bad and not outliers}
    report["passed"] = bool(report["passed"] and report["all_sequences"]["passed"])
    for o in outliers:
        log.warning("broken labels: %s (%s)", o["sequence_id"], o)
    atomic_write_json(Path(out) / "validation.json", report)
    log.info("physics validation %s: %s", "passed" if report["passed"] else "FAILED", Path(out) / "validation.json")
    return report

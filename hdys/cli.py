"""The ``hdys`` command line: one small function per verb."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger("hdys")


def cmd_info(args) -> int:
    if args.corpus is None:
        from .train import model_parameter_table
        counts, total = model_parameter_table()
        print("default HDyS model (latent 128; 402 muscle channels, 8 EMG channels)")
        for name, n in counts.items():
            print(f"  {name:<14} {n:>10,d}")
        print(f"total parameters: {total}")
        return 0
    from .store import Corpus
    corpus = Corpus(args.corpus)
    print(corpus.info_table())
    return 0


def cmd_check(args) -> int:
    from .store import Corpus
    corpus = Corpus(args.corpus)
    found = corpus.check(progress=not args.quiet)
    for note in found["notes"]:
        print(f"note: {note}")
    for problem in found["problems"]:
        print(f"problem: {problem}")
    n = len(corpus.entries())
    if found["problems"]:
        print(f"{args.corpus}: {len(found['problems'])} problem(s) in {n} sequences")
        return 1
    print(f"{args.corpus}: intact ({n} sequences read whole, shapes and checksums as the manifest says)")
    return 0


def cmd_export(args) -> int:
    from .store import Corpus, export_npz
    paths = export_npz(Corpus(args.corpus), args.out, args.sequence_ids or None, progress=not args.quiet)
    print(f"wrote {len(paths)} npz file(s) to {args.out}")
    return 0


def cmd_ingest(args) -> int:
    from .ingest import REPORT, ingest
    from .store import Corpus
    options = {"mass_kg": args.mass_kg, "height_m": args.height_m, "amass_dir": args.amass,
               "smpl_model": args.smpl_model, "up_axis": args.up_axis, "marker_names": args.marker_names}
    try:  # an option the format does not take is refused before any file is read
        summary = ingest(args.format, args.src, args.out, workers=args.workers, strict=args.strict, fps=args.fps,
                         test_fraction=args.test_fraction, seed=args.seed, progress=not args.quiet, **options)
    except TypeError as exc:
        raise ValueError(str(exc)) from None
    for r in summary["skipped"]:
        reason = str(r.get("reason"))
        print(f"skipped {reason}" if str(r.get("path")) in reason else f"skipped {r.get('path')}: {reason}",
              file=sys.stderr)
    print(Corpus(args.out).info_table())
    print(f"{summary['sequences']} sequence(s) read from {summary['units_read']} unit(s), "
          f"{len(summary['skipped'])} file(s) skipped, {summary['units_resumed']} unit(s) already ingested; "
          f"per-file report in {Path(args.out) / REPORT}")
    if summary["units_read"] + summary["units_resumed"] == 0:
        print(f"hdys ingest: error: no {args.format} files found in {args.src}", file=sys.stderr)
        return 1
    if summary["units_read"] and not summary["sequences"] and not summary["units_resumed"]:
        print(f"hdys ingest: error: none of the {summary['units_read']} {args.format} unit(s) read could be used "
              "(see the reasons above)", file=sys.stderr)
        return 1
    return 0


def cmd_synth(args) -> int:
    from .physics.synth import synth
    from .store import Corpus
    summary = synth(args.out, args.preset, seed=args.seed, workers=args.workers, shard=args.shard,
                    progress=not args.quiet, validate=not args.no_validate)
    if (Path(args.out) / "manifest.json").exists():
        print(Corpus(args.out).info_table())
    print(json.dumps(summary))
    return 0


def cmd_label(args) -> int:
    from .label import LabelOptions, label_corpus
    from .store import Corpus
    picked = {k: getattr(args, k) for k in ("torques", "muscles", "emg")}
    if not any(picked.values()):
        picked["torques"] = True
    opts = LabelOptions(**picked, mass_kg=args.mass_kg, height_m=args.height_m, cutoff_hz=args.cutoff_hz,
                        floor_z=args.floor_z, overwrite=args.overwrite, ik=args.ik)
    summary = label_corpus(args.corpus, args.out, opts, strict=args.strict, workers=args.workers,
                           progress=not args.quiet, validate=not args.no_validate)
    print(Corpus(args.out).info_table())
    print(f"{summary['labelled']} sequence(s) labelled, {summary['unchanged']} unchanged, {summary['skipped']} "
          f"not labelled (copied as they are); report in {Path(args.out) / 'label_report.json'}")
    if summary["defaults_used"]["mass_kg"] or summary["defaults_used"]["height_m"]:
        print(f"default body size used: mass {summary['defaults_used']['mass_kg']}, height "
              f"{summary['defaults_used']['height_m']} sequence(s) (set --mass-kg / --height-m)")
    if "validation_passed" in summary:
        print(f"physics checks {'passed' if summary['validation_passed'] else 'FAILED'}: "
              f"{Path(args.out) / 'validation.json'}")
    return 0


def _config(args):
    from .config import load_config
    return load_config(args.config, args.overrides)


def _train(cfg, args) -> int:
    """Train ``cfg`` on ``--data`` into ``--out`` (``--device``, ``--resume``) and print the summary."""
    from .train import train
    if args.device:
        cfg.train.device = args.device
    summary = train(cfg, args.data.split(","), args.out, resume=args.resume, progress=not args.quiet)
    print(json.dumps(summary))
    return 0


def cmd_train(args) -> int:
    return _train(_config(args), args)


def cmd_finetune(args) -> int:
    from .config import load_config
    base = Path(args.run) / "config.json"
    if not base.exists():
        raise FileNotFoundError(f"{args.run}: not a run directory (no config.json)")
    freeze = [] if args.freeze in (None, "none") else [f.strip() for f in args.freeze.split(",") if f.strip()]
    cfg = load_config(str(base), [*args.overrides, f"train.init_from={args.run}"])
    cfg.train.freeze = freeze
    cfg.train.datasets, cfg.train.fractions, cfg.train.shares = [], {}, {}  # the new corpus decides
    return _train(cfg, args)


def cmd_eval(args) -> int:
    from .evaluate import evaluate
    report = evaluate(args.run, args.data.split(","), args.out, split=args.split, progress=not args.quiet,
                      plot_dir=args.plots)
    print(Path(args.out).with_suffix(".md").read_text())
    return 0 if report["results"] else 1


def cmd_predict(args) -> int:
    from .predict import osim_mass, predict_file, predict_paths
    if len(args.inputs) == 1 and args.out.endswith(".npz"):  # one schema npz in, one npz out
        out = predict_file(args.run, args.inputs[0], args.out, args.representations)
        keys = ", ".join(f"{k} {tuple(v.shape)}" for k, v in out.items() if "__" not in k)
        print(f"wrote {args.out}: {keys}")
        return 0
    mass = args.mass_kg
    if args.model:
        mass = osim_mass(args.model)
        print(f"body mass {mass:.2f} kg from {args.model}")
    written = predict_paths(args.run, args.inputs, args.out, fmt=args.format, representations=args.representations,
                            outputs=[o.strip() for o in args.output.split(",") if o.strip()], mass_kg=mass,
                            height_m=args.height_m, progress=not args.quiet)
    if not written:
        print(f"hdys predict: error: nothing could be predicted from {', '.join(args.inputs)} (see the warnings)",
              file=sys.stderr)
        return 1
    print(f"wrote {len(written)} file(s) to {args.out}")
    return 0


def cmd_simulate(args) -> int:
    from .predict import read_inputs
    from .simulate import simulate_run, simulation_markdown
    from .store import MANIFEST, Corpus

    def sequences():
        files = []
        for p in map(Path, args.inputs):
            if (p / MANIFEST).is_file():
                with Corpus(p) as c:
                    for e in c.entries(args.split, args.dataset):
                        yield c.read(e.sequence_id)
            else:
                files.append(p)
        if files:
            yield from read_inputs(files, args.format, mass_kg=args.mass_kg, height_m=args.height_m)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fps = [float(f) for f in args.fps.split(",")] if args.fps else None
    res = simulate_run(args.run, list(sequences()), k=args.k, fps=fps, representations=args.representations,
                       progress=not args.quiet, plot=out / "simulate.png")
    (out / "simulate.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "simulate.md").write_text(simulation_markdown(res))
    print(simulation_markdown(res))
    return 0 if res["sequences"] else 1


def cmd_experiment(args) -> int:
    from .experiment import run_experiment
    from .registry import DEFAULT_EPOCHS
    epochs = args.epochs
    if not epochs and not args.steps and args.budget is None:
        epochs = DEFAULT_EPOCHS[args.name]  # the paper's protocol unless another is asked for
    run_experiment(args.name, args.data.split(","), args.out, args.budget or 0.0, progress=not args.quiet,
                   base_overrides=args.overrides, steps=args.steps, epochs=epochs)
    print((Path(args.out) / args.name / "table.md").read_text())
    return 0


def cmd_quickstart(args) -> int:
    from .quickstart import quickstart
    quickstart(args.out, budget_minutes=args.budget, seed=args.seed, progress=not args.quiet, preset=args.preset)
    return 0


def _add_corpus_verbs(sub) -> None:
    """``info``, ``check``, ``export``: look at a corpus."""
    s = sub.add_parser("info", help="a corpus' datasets x representations, or the model's parameter counts")
    s.add_argument("corpus", nargs="?", help="corpus directory (omit for the default model's parameters)")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("check", help="verify a corpus: every shard opened, every sequence's shape and checksum "
                                     "against the manifest (exit 1 on a problem)")
    s.add_argument("corpus")
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("export", help="write sequences of a corpus as schema npz files")
    s.add_argument("corpus")
    s.add_argument("sequence_ids", nargs="*", help="sequence ids (default: all)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_export)


def _add_ingest(sub) -> None:
    from .formats import READERS
    s = sub.add_parser("ingest", help="build a corpus from dataset files (AddBiomechanics, AMASS, MiA, "
                                      "MinT, OpenSim, C3D, ImDy, GroundLink, npz); parallel and resumable")
    s.add_argument("format", choices=sorted(READERS), help="source format")
    s.add_argument("src", help="a file or a directory of files")
    s.add_argument("--out", required=True, help="corpus directory (appended to if it exists; files already "
                                                "ingested into it, per its ingest_report.json, are not read again)")
    s.add_argument("--workers", type=int, default=1, help="processes reading files (same corpus as with 1)")
    s.add_argument("--strict", action="store_true", help="stop at the first bad file instead of skipping it")
    s.add_argument("--fps", type=float, help="resample to this frame rate")
    s.add_argument("--mass-kg", type=float, help="body mass where the files do not give one")
    s.add_argument("--height-m", type=float, help="body height where the files do not give one (opensim)")
    s.add_argument("--amass", help="AMASS root to join Muscles in Time activations with their motions (mint)")
    s.add_argument("--smpl-model", help="SMPL model directory for keypoints via smplx (amass)")
    s.add_argument("--up-axis", choices=["z", "y"], help="vertical axis of the lab (c3d; default z)")
    s.add_argument("--marker-names", choices=["canonical", "keep"],
                   help="c3d, opensim: map marker names onto hdys' vocabulary (default canonical; unmapped "
                        "names are kept and reported) or keep the file's names")
    s.add_argument("--test-fraction", type=float, default=0.2, help="fraction of subjects held out")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_ingest)


def _add_synth(sub) -> None:
    from .presets import PRESETS
    s = sub.add_parser("synth", help="generate the physics corpus (MuJoCo bodies, inverse dynamics, ground "
                                     "contact, static optimisation, sEMG); resumable, parallel, shardable")
    s.add_argument("--preset", choices=list(PRESETS), default="quick",
                   help="corpus size; grf: the GroundLink-like fine-tuning target (7 subjects, GRF only, subject 7 "
                        "the test split), never pretraining data")
    s.add_argument("--out", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--workers", type=int, default=1, help="processes")
    s.add_argument("--shard", help="I/N: generate only shard I of N (each shard into its own --out)")
    s.add_argument("--no-validate", action="store_true", help="skip the physics checks (validation.json)")
    s.set_defaults(func=cmd_synth)


def _add_label(sub) -> None:
    s = sub.add_parser("label", help="physics labels (torques, GRF, muscle activations, EMG) for a corpus' "
                                     "smpl / joint_angles kinematics, written to a new corpus")
    s.add_argument("corpus", help="input corpus (not modified)")
    s.add_argument("--out", required=True, help="output corpus (resumed if it exists)")
    s.add_argument("--torques", action="store_true", help="joint torques, GRF, CoP, contact (the default)")
    s.add_argument("--muscles", action="store_true", help="muscle activations by static optimisation "
                                                          "(joint_angles only)")
    s.add_argument("--emg", action="store_true", help="6-channel leg EMG envelopes (joint_angles only)")
    s.add_argument("--mass-kg", type=float, help="body mass where a sequence has none (default 70)")
    s.add_argument("--height-m", type=float, help="height where a sequence has none (default: from SMPL "
                                                  "keypoints, else 1.70)")
    s.add_argument("--cutoff-hz", type=float, default=6.0, help="low-pass cut-off of the kinematics before "
                                                                "differentiation (0: none; default 6)")
    s.add_argument("--floor-z", type=float, help="floor height in m (default: estimated per sequence)")
    s.add_argument("--overwrite", action="store_true", help="replace labels a sequence already has")
    s.add_argument("--ik", action="store_true", help="markers-only sequences: fit Rajagopal joint angles to the "
                                                     "markers named as in the body's marker set first")
    s.add_argument("--strict", action="store_true", help="stop at the first sequence that cannot be labelled")
    s.add_argument("--workers", type=int, default=1, help="processes")
    s.add_argument("--no-validate", action="store_true", help="skip the physics checks (validation.json)")
    s.set_defaults(func=cmd_label)


def _add_training_verbs(sub) -> None:
    """``train`` and ``finetune``."""
    s = sub.add_parser("train", help="train HDyS on one or more corpora")
    s.add_argument("--data", required=True, help="corpus directories, comma separated")
    s.add_argument("--out", required=True, help="run directory")
    s.add_argument("--config", help="JSON config (any subset of the fields of hdys.config)")
    s.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides train.device")
    s.add_argument("overrides", nargs="*", help="section.field=value, e.g. model.latent_dim=64 train.epochs=5")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("finetune", help="train a trained run further on new data (new datasets, new subjects)")
    s.add_argument("run", help="the pretrained run directory (its weights, normalisation and model configuration)")
    s.add_argument("--data", required=True, help="corpus directories, comma separated")
    s.add_argument("--out", required=True, help="the new run directory")
    s.add_argument("--freeze", default="none", help="comma-separated modules not trained (e.g. encoders,temporal), "
                                                    "or none (default)")
    s.add_argument("--resume", action="store_true", help="continue the fine-tuning in --out")
    s.add_argument("--device", choices=["auto", "cpu", "cuda"], help="overrides train.device")
    s.add_argument("overrides", nargs="*", help="section.field=value over the pretrained run's config, e.g. "
                                                "train.epochs=20 train.lr=5e-4")
    s.set_defaults(func=cmd_finetune)


def _add_eval(sub) -> None:
    s = sub.add_parser("eval", help="metrics on the test split: mPJE, RMSE, PCC per dataset and representation")
    s.add_argument("run")
    s.add_argument("--data", required=True, help="corpus directories, comma separated")
    s.add_argument("--out", required=True, help="report JSON (a markdown table is written next to it)")
    s.add_argument("--split", default="test", choices=["train", "test", "all"],
                   help="all: every sequence (a validation corpus of other subjects)")
    s.add_argument("--plots", help="directory for predicted-vs-reference plots")
    s.set_defaults(func=cmd_eval)


def _add_predict(sub) -> None:
    from .formats import READERS
    s = sub.add_parser("predict", help="dynamics and latents for every frame of your recordings (any format "
                                       "hdys ingest reads): npz, OpenSim files, plots")
    s.add_argument("run")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="files or folders (.c3d, .trc + .mot trials, .b3d, AMASS "
                                                               "or schema .npz, ...); the format is detected")
    s.add_argument("--out", required=True, help="output folder (or, for one schema npz input, an output .npz)")
    s.add_argument("--format", choices=sorted(READERS), help="read every input as this format")
    s.add_argument("--output", default="npz,plots", help="comma-separated: npz, opensim, plots (default npz,plots)")
    s.add_argument("--mass-kg", type=float, help="body mass where a file has none (torques and GRF in N m and N)")
    s.add_argument("--height-m", type=float, help="body height where a file has none")
    s.add_argument("--model", help="an OpenSim .osim model: its total mass is the body mass")
    s.add_argument("--representations", nargs="*", help="use only these kinematics representations")
    s.set_defaults(func=cmd_predict)


def _add_simulate(sub) -> None:
    from .formats import READERS
    s = sub.add_parser("simulate", help="biomechanical simulation (paper Tables 5, 11): step the Rajagopal body k "
                                        "frames with the run's predicted torques, compare with the recording")
    s.add_argument("run")
    s.add_argument("inputs", nargs="+", metavar="INPUT", help="corpus directories or recordings with Rajagopal "
                                                               "joint angles, GRF and CoP, mass and height")
    s.add_argument("--out", required=True, help="output folder: simulate.json, simulate.md, simulate.png")
    s.add_argument("--k", type=int, default=5, help="steps simulated from each frame (MSE after 1..k)")
    s.add_argument("--fps", help="comma-separated frame rates to resample to first (e.g. 90,120,150); default "
                                 "each input's own")
    s.add_argument("--split", default="test", choices=["train", "test"], help="corpus split (default test)")
    s.add_argument("--dataset", default="lab", help="corpus dataset (default lab)")
    s.add_argument("--format", choices=sorted(READERS), help="read every recording as this format")
    s.add_argument("--mass-kg", type=float, help="body mass where a file has none")
    s.add_argument("--height-m", type=float, help="body height where a file has none")
    s.add_argument("--representations", nargs="*", help="kinematics representations the model uses")
    s.set_defaults(func=cmd_simulate)


def _add_experiment(sub) -> None:
    from .registry import EXPERIMENTS
    s = sub.add_parser("experiment", help="the paper's experiments (Tables 1-7, 9-11, Figure 3) on a corpus")
    s.add_argument("name", choices=sorted(EXPERIMENTS))
    s.add_argument("--data", required=True, help="corpus directories, comma separated")
    s.add_argument("--out", required=True, help="output directory (re-running resumes)")
    s.add_argument("--epochs", type=int, default=0,
                   help="the paper's protocol, equal per-dataset exposure (the default, 25 epochs): every variant "
                        "trains this many epochs of train.sequences_per_dataset windows per dataset it uses")
    s.add_argument("--steps", type=int, default=0, help="equal steps instead: train every variant for exactly this "
                                                       "many optimiser steps")
    s.add_argument("--budget", type=float, help="equal time instead: training minutes for the whole experiment, "
                                                "split evenly over its variants (with --epochs or --steps: a cap)")
    s.add_argument("overrides", nargs="*", help="section.field=value applied to every variant")
    s.set_defaults(func=cmd_experiment)


def _add_quickstart(sub) -> None:
    s = sub.add_parser("quickstart", help="the main job: generate a corpus, train, evaluate, report")
    s.add_argument("--out", required=True)
    s.add_argument("--budget", type=float, default=5.5, help="training minutes (default 5.5)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--preset", choices=["tiny", "quick"], default="quick", help="corpus size (tiny: a smoke test)")
    s.set_defaults(func=cmd_quickstart)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hdys", description="Homogeneous Dynamics Space: any kinematics in, "
                                "any dynamics out (Liu et al., CVPR 2025).")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="verb", required=True)
    for add in (_add_corpus_verbs, _add_ingest, _add_synth, _add_label, _add_training_verbs, _add_eval,
                _add_predict, _add_simulate, _add_experiment, _add_quickstart):
        add(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
        # overrides after the options: argparse matches the positional list before them (empty) and stops
        args.overrides = [*(args.overrides or []), *extra]
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from .checkpoint import CheckpointError
    from .locks import LockedError
    from .schema import SchemaError
    from .store import CorpusError
    try:
        return args.func(args)
    except (SchemaError, CorpusError, CheckpointError, LockedError, FileExistsError, FileNotFoundError,
            ValueError) as exc:
        if args.verbose:
            log.exception("details")
        print(f"hdys {args.verb}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"hdys {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The training recipe, each change on and off: same seed, same corpus, same budget, judged on a
validation corpus of other subjects (never the test split).

    python benchmarks/recipe.py --train CORPUS --val VAL_CORPUS --out DIR [--steps 500] [--variants a,b]

``VAL_CORPUS`` is a corpus generated with another seed (``hdys synth --preset quick --seed 1``): all its
subjects are new to the model. Every variant starts from the quickstart configuration; a variant that
changes the batch size gets the steps that keep the frames seen equal. Re-running skips finished
variants. Writes ``DIR/recipe.json`` and ``DIR/recipe.md`` (errors as a ratio of the mean predictor's,
which predicts the training means).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from hdys.config import apply_overrides
from hdys.evaluate import evaluate
from hdys.registry import base_config
from hdys.quickstart import mean_predictor_results
from hdys.train import train

FULL = ["train.stratified=true", "model.loss_balance=dynamics", "train.lr_schedule=cosine",
        "train.warmup_steps=30"]
# Each variant is a list of overrides of the quickstart configuration of commit b7a5236 (64-D, 384-frame
# batches, FDAE on every 2nd frame, at most 512 frames per alignment pair, lr 1e-3 constant, the paper's loss
# and sampling); they are spelled out so that the rows keep their meaning when the quickstart changes.
BASE = ["model.fd_frame_stride=2", "model.align_max_frames=512", "model.loss_balance=sum", "train.stratified=false",
        "train.lr=0.001", "train.lr_schedule=constant", "model.corr_weight=0", "model.corr_min_std=0.05"]
VARIANTS = {
    "paper": [],  # constant rate, shuffled epochs, plain sum of the terms
    "recipe": FULL,
    "recipe - cosine": [o for o in FULL if "lr_schedule" not in o and "warmup" not in o],
    "recipe - stratified": [o for o in FULL if "stratified" not in o],
    "recipe - balance": [o for o in FULL if "loss_balance" not in o],
    "recipe + 2x batch": FULL + ["train.batch_frames=768"],
    "recipe + lr 2e-3": FULL + ["train.lr=0.002"],
    # equal-time comparisons (--minutes): the chosen recipe, and with the cheaper FDAE and alignment
    "chosen": ["train.stratified=true", "model.loss_balance=dynamics"],
    "chosen + cheaper steps": ["train.stratified=true", "model.loss_balance=dynamics", "model.fd_frame_stride=4",
                               "model.align_max_frames=128"],
    "chosen + cheaper steps + lr 2e-3": ["train.stratified=true", "model.loss_balance=dynamics",
                                         "model.fd_frame_stride=4", "model.align_max_frames=128", "train.lr=0.002"],
    # the point-set transformers of markers and keypoints are most of a step: fewer layers, more steps
    "chosen + cheaper steps + lr 2e-3 + 2 point layers": [
        "train.stratified=true", "model.loss_balance=dynamics", "model.fd_frame_stride=4", "model.align_max_frames=128",
        "train.lr=0.002", "model.point_layers=2"],
    "chosen + cheaper steps + lr 2e-3 + 1 point layer": [
        "train.stratified=true", "model.loss_balance=dynamics", "model.fd_frame_stride=4", "model.align_max_frames=128",
        "train.lr=0.002", "model.point_layers=1"],
}
# the quickstart of commit 8bbf2d8 with one point-transformer layer, and changes on top of it
_ONE = VARIANTS["chosen + cheaper steps + lr 2e-3 + 1 point layer"]
# the quickstart of 46632c0 (2 point heads)
_Q2 = _ONE + ["train.lr_schedule=wsd", "model.corr_weight=1.0", "model.corr_min_std=0.01"]
# the quickstart's recipe as of 0456074 (hdys/quickstart.py)
_QS = _Q2 + ["model.point_heads=8"]
VARIANTS.update({
    "1 point layer + 2 temporal layers": _ONE + ["model.temporal_layers=2"],
    "1 point layer + lr 3e-3": _ONE + ["train.lr=0.003"],
    "1 point layer + FDAE every 8th frame": _ONE + ["model.fd_frame_stride=8"],
    # the learning rate decayed over the last fifth of the run; the correlation term for muscles and EMG
    "1 point layer + wsd": _ONE + ["train.lr_schedule=wsd"],
    "1 point layer + corr 0.5": _ONE + ["model.corr_weight=0.5"],
    "1 point layer + wsd + corr 0.5": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=0.5"],
    "1 point layer + wsd + corr 1": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=1.0"],
    "1 point layer + wsd + corr 2": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=2.0"],
    "1 point layer + wsd 40% + corr 0.5": _ONE + ["train.lr_schedule=wsd", "train.decay_fraction=0.4",
                                                  "model.corr_weight=0.5"],
    # twice the emg windows in every batch (the biceps of curls and arm raises are a rare pattern)
    "1 point layer + wsd + corr 1 + emg share 2": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=1.0",
                                                          'train.shares={"emg": 2}'],
    # the correlation term on quieter windows: at 0.05 normalised units it left out a quarter to a half of the
    # (window, channel) pairs of curls, raises, squats, kicks and lunges, whose small changes PCC still judges
    "1 point layer + wsd + corr 1 + corr floor 0.01": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=1.0",
                                                              "model.corr_min_std=0.01"],
    "1 point layer + wsd + corr 1 + corr floor 0.002": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=1.0",
                                                               "model.corr_min_std=0.002"],
    # twice the context per window (the same frames per batch): a curl's or a step-up's activation depends on
    # where in the movement a frame is, and 32 frames are 1.07 s at 30 fps
    "quickstart + 2 point layers": _Q2 + ["model.point_layers=2"],
    "quickstart + 3 point layers": _Q2 + ["model.point_layers=3"],
    "quickstart + 8 point heads": _Q2 + ["model.point_heads=8"],
    "quickstart + 16 point heads": _Q2 + ["model.point_heads=16"],
    "quickstart (8 point heads)": _QS,
    "quickstart + emg head 64": _QS + ['model.head_hidden={"torque_rajagopal": 32, "emg": 64, "joint_angles_acc": 32, '
                                       '"keypoints_acc": 32, "torque_smpl": 64, "smpl_acc": 64, '
                                       '"muscle_activation": 64, "grf": 32}'],
    "quickstart + emg share 2": _QS + ['train.shares={"emg": 2}'],
    "floor 0.01 + window 64": _ONE + ["train.lr_schedule=wsd", "model.corr_weight=1.0", "model.corr_min_std=0.01",
                                      "train.window=64"],
})
COLUMNS = [("lab", "torque_rajagopal", "mPJE"), ("sim", "torque_smpl", "mPJE"), ("lab", "grf", "mPJE"),
           ("sim", "grf", "mPJE"), ("muscle", "muscle_activation", "RMSE"), ("muscle", "muscle_activation", "PCC"),
           ("emg", "emg", "RMSE"), ("emg", "emg", "PCC")]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True, help="corpus, or corpora separated by commas (the mean predictor "
                                                   "uses the first one's training means)")
    ap.add_argument("--val", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=0.0, help="equal time instead of equal frames: each variant "
                                                               "trains this long (keep the machine quiet)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    ap.add_argument("overrides", nargs="*", help="applied to every variant (e.g. train.precision=bf16)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corpora = args.train.split(",")
    floor = mean_predictor_results(Path(args.val), split="all", train_corpus=Path(corpora[0]))
    rows = {}
    for name in args.variants.split(","):
        vdir = out / _slug(name)
        val = vdir / "val.json"
        cfg = apply_overrides(base_config(), [*BASE, *VARIANTS[name], *args.overrides])
        steps = args.steps * 384 // cfg.train.batch_frames  # equal frames seen (unless --minutes)
        if not val.exists():
            limit = ["train.max_steps=0", f"train.budget_minutes={args.minutes}"] if args.minutes else \
                [f"train.max_steps={steps}", "train.budget_minutes=0"]
            cfg = apply_overrides(cfg, limit)
            t0 = time.perf_counter()
            run = vdir / "run"
            summary = train(cfg, corpora, run, resume=run.exists(), progress=False)
            report = evaluate(run, [args.val], split="all", progress=False)
            report["train_minutes"] = (time.perf_counter() - t0) / 60
            report["training"] = summary
            val.write_text(json.dumps(report, indent=1))
        rows[name] = json.loads(val.read_text())
        print(name, {f"{d}/{k}": round(rows[name]["results"].get(d, {}).get(k, {}).get(m, {}).get("avg", float("nan")), 4)
                     for d, k, m in COLUMNS})
    lines = ["| variant | steps | train min | " + " | ".join(f"{d} {k.split('_')[0]} {m}" for d, k, m in COLUMNS) + " |",
             "|---|---|---|" + "---|" * len(COLUMNS)]
    for name, r in rows.items():
        cells = []
        for d, k, m in COLUMNS:
            v = r["results"].get(d, {}).get(k, {}).get(m, {}).get("avg")
            f = floor.get(d, {}).get(k, {}).get(m, {}).get("avg")
            cells.append("-" if v is None else f"{v:.3f}" + (f" ({v / f:.2f}x)" if m != "PCC" and f else ""))
        lines.append(f"| {name} | {r['training']['steps']} | {r['train_minutes']:.1f} | " + " | ".join(cells) + " |")
    lines.append("| mean predictor | - | - | " + " | ".join(
        f"{floor.get(d, {}).get(k, {}).get(m, {}).get('avg', float('nan')):.3f}" for d, k, m in COLUMNS) + " |")
    (out / "recipe.md").write_text("\n".join(lines) + "\n")
    (out / "recipe.json").write_text(json.dumps({"rows": rows, "mean_predictor": floor, "steps": args.steps,
                                                 "minutes": args.minutes,
                                                 "overrides": args.overrides}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

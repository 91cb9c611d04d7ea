"""The imitation policy's action scale (rad per unit action of the residual PD targets), chosen on clips of
other subjects (never the test split).

    python benchmarks/control_action_scale.py TRAIN_CORPUS VAL_CORPUS OUT [--scales 0.5,1.5] [--steps 60000]

For every scale a Baseline policy (no HDyS latents, the CPU policy of ``hdys.control.policy``) trains on the
train clips of ``TRAIN_CORPUS`` as ``hdys experiment table6`` picks them, then tracks the train-split clips
of ``VAL_CORPUS`` (a corpus of another seed: all its subjects are new); PD control towards the reference
with no policy is the first row. Writes ``OUT/action_scale.json``; re-running resumes the policies.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import hdys.control.env as control_env
from hdys.control.clips import clips_from_corpus
from hdys.control.policy import PolicyConfig, evaluate_policy, evaluate_reference_pd, train_policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train")
    ap.add_argument("val")
    ap.add_argument("out")
    ap.add_argument("--scales", default="0.5,1.5")
    ap.add_argument("--steps", type=int, default=60_000)
    ap.add_argument("--val-clips", type=int, default=40)
    args = ap.parse_args()
    out = Path(args.out)
    train_clips = clips_from_corpus(args.train, "train", limit=PolicyConfig().train_clips)
    val_clips = clips_from_corpus(args.val, "train", limit=args.val_clips)
    rows = {"PD on the reference (no policy)": evaluate_reference_pd(val_clips)["total"]}
    for scale in (float(s) for s in args.scales.split(",")):
        control_env.ACTION_SCALE = scale
        pdir = out / f"scale-{scale:g}"
        train_policy(train_clips, pdir, PolicyConfig(timesteps=args.steps), progress=False)
        rows[f"action scale {scale:g} rad"] = evaluate_policy(val_clips, pdir)["total"]
        print(f"{scale:g}: {json.dumps(rows[f'action scale {scale:g} rad'])}", flush=True)
    (out / "action_scale.json").write_text(json.dumps({"steps": args.steps, "train_clips": len(train_clips),
                                                       "val_clips": len(val_clips), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

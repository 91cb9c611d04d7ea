"""The imitation environment's controller: PD gains, the inverse-dynamics feedforward and the action scale,
chosen on validation clips (never the test split).

    python benchmarks/control_controller.py CORPUS OUT [--variants 1:0:1.5,2:1:0.75] [--steps 120000] [--seed 0]

A variant is ``gains : feedforward (0/1) : action scale (rad)``, the gains as a multiple of the first ones
(``KP / 2``). For each, PD control towards the reference with no policy tracks the validation clips, then a
Baseline policy (no HDyS latents, the CPU policy of ``hdys.control.policy``) trains on the train clips and is
scored on the validation clips every 20,000 steps; the clips are those of ``hdys experiment table6`` (the first
``train_clips`` of the train split, the next ``--val-clips``). Writes ``OUT/controller.json``; re-running
resumes the policies.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import hdys.control.env as control_env
from hdys.control.policy import PolicyConfig, evaluate_policy, evaluate_reference_pd, train_policy
from hdys.control.table6 import gather_clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--variants", default="1:0:1.5,2:1:0.75")
    ap.add_argument("--steps", type=int, default=120_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-clips", type=int, default=16)
    args = ap.parse_args()
    out = Path(args.out)
    cfg = PolicyConfig(timesteps=args.steps, seed=args.seed)
    clips = gather_clips([args.corpus], "train", cfg.train_clips + args.val_clips)
    train, val = clips[:cfg.train_clips], clips[cfg.train_clips:]
    kp0 = dict(control_env.KP)
    path = out / "controller.json"
    rows = json.loads(path.read_text())["rows"] if path.exists() else {}
    for variant in args.variants.split(","):
        mult, ff, scale = variant.split(":")
        control_env.KP = {k: v * float(mult) / 2.0 for k, v in kp0.items()}  # KP holds twice the first gains
        control_env.FEEDFORWARD, control_env.ACTION_SCALE = ff == "1", float(scale)
        pdir = out / f"kp{mult}-ff{ff}-scale{scale}-seed{args.seed}"
        train_policy(train, pdir, cfg, progress=False, validation=val)
        selection = json.loads((pdir / "validation.json").read_text())  # the chosen checkpoint is its "best"
        rows[pdir.name] = {"pd": evaluate_reference_pd(val)["total"], "validation": selection["history"],
                           "train_clips_best": evaluate_policy(train, pdir / "best")["total"]}
        print(f"{pdir.name}: PD {json.dumps(rows[pdir.name]['pd'])}\n  best {json.dumps(selection['best'])}",
              flush=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"steps": args.steps, "train_clips": len(train), "val_clips": len(val),
                                    "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

"""Table 6: physics-based character control with and without HDyS latents (paper §4.4.3).

Two PPO policies (:mod:`hdys.control.policy`) learn to imitate the same training clips with the same seed
and number of environment steps: the Baseline with PHC's observation, Baseline + HDyS with the frozen
HDyS keypoint latent of the reference's next frame appended. Both then track the held-out clips from their
first frame. The HDyS model is the experiment's HDyS row (taken from ``table1`` in the same output
directory when it is there).

Clips: the SMPL sequences of the ``sim`` and ``kin`` domains, ``control.train_clips`` (and
``control.validation_clips`` more) from the train split and ``TEST_CLIPS`` from the test split (the paper:
PHC's AMASS training set, 140 held-out clips). The policy
settings are :class:`hdys.control.policy.PolicyConfig`'s, changed by ``control.<field>=<value>`` overrides
(for a GPU run: ``control.policy=paper control.timesteps=...``).
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from ..store import atomic_write_json

log = logging.getLogger("hdys.control")

TEST_CLIPS = 24
ROWS = {"baseline": ("Baseline", False), "hdys": ("Baseline + HDyS", True)}
PD_ROW = "PD on the reference (no policy)"  # zero actions: the floor the policies have to beat
METRICS = (("success_rate", "Succ ↑", True), ("mpjpe_g", "MPJPE_g ↓ (mm)", False),
           ("mpjpe_l", "MPJPE_l ↓ (mm)", False), ("e_vel", "E_vel ↓ (mm/frame)", False),
           ("e_acc", "E_acc ↓ (mm/frame²)", False))
PAPER = {"Baseline": {"mpjpe_g": 74.5, "mpjpe_l": 49.0, "e_vel": 11.6, "e_acc": 14.2},
         "Baseline + HDyS": {"mpjpe_g": 72.7, "mpjpe_l": 47.9, "e_vel": 11.3, "e_acc": 13.8}}


def policy_config(overrides: list[str]):
    """A :class:`PolicyConfig` from ``control.<field>=<value>`` overrides (values as JSON, else strings)."""
    from ..config import override_value
    from .policy import PolicyConfig

    names = {f.name for f in fields(PolicyConfig)} - {"net_arch"}
    values = {}
    for o in overrides:
        key, _, raw = o.removeprefix("control.").partition("=")
        if key not in names:
            raise ValueError(f"unknown control setting {key!r} in {o!r}; known: {sorted(names)}")
        values[key] = override_value(raw)
    return PolicyConfig(**values)


def gather_clips(data: list[str], split: str, limit: int, model=None) -> list:
    from .clips import clips_from_corpus

    out = []
    for path in data:
        out += clips_from_corpus(path, split, limit=limit - len(out), model=model)
        if len(out) >= limit:
            break
    return out


def control_table(results: dict, out_dir: Path, data: list[str], overrides: list[str], progress: bool) -> dict:
    """Train and evaluate both policies into ``out_dir/control`` (resumable) and return the table's data."""
    import hdys

    from .policy import evaluate_policy, evaluate_reference_pd, train_policy

    cfg = policy_config(overrides)
    rec = next(r for r in results["variants"].values() if r["role"] == "hdys")
    run = Path(rec["dir"]) / "run"
    model = hdys.load(run)
    train_clips = gather_clips(data, "train", cfg.train_clips + cfg.validation_clips, model)
    train_clips, validation = train_clips[:cfg.train_clips], train_clips[cfg.train_clips:] or None
    test_clips = gather_clips(data, "test", TEST_CLIPS, model)
    if not train_clips or not test_clips:
        raise ValueError(f"{', '.join(data)}: table6 needs SMPL clips (`sim` or `kin`) in both splits; found "
                         f"{len(train_clips)} train and {len(test_clips)} test clips")
    pd = evaluate_reference_pd(test_clips)
    rows, per_clip = {PD_ROW: pd["total"]}, {PD_ROW: pd["per_clip"]}
    selected, policy_dirs = {}, {}
    for key, (label, with_latent) in ROWS.items():
        pdir = out_dir / "control" / key
        best = train_policy(train_clips, pdir, cfg, with_latent, progress, validation)["best"]
        policy_dir, selected[label] = (pdir / "best", best["timesteps"]) if best else (pdir, cfg.timesteps)
        policy_dirs[key] = policy_dir
        path = pdir / "eval.json"
        names = [c.name for c in test_clips]
        done = json.loads(path.read_text()) if path.exists() else None
        if not done or done.get("clips") != names or done.get("timesteps") != cfg.timesteps or \
                done.get("selected_timesteps") != selected[label]:
            done = {"clips": names, "timesteps": cfg.timesteps, "selected_timesteps": selected[label],
                    **evaluate_policy(test_clips, policy_dir, with_latent)}
            atomic_write_json(path, done)
        rows[label], per_clip[label] = done["total"], done["per_clip"]
    pngs = {"frames": str(plot_frames_tracked(test_clips, per_clip, out_dir / "control" / "frames_tracked.png")),
            "longest": str(plot_tracking(test_clips, policy_dirs, out_dir / "control" / "tracking.png"))}
    # the longest clip the Baseline tracks to its end: what tracking looks like where it works
    tracked = [i for i, c in enumerate(test_clips) if per_clip[ROWS["baseline"][0]][c.name]["success"]]
    if tracked:
        i = max(tracked, key=lambda k: test_clips[k].frames)
        pngs["tracked"] = str(plot_tracking(test_clips, policy_dirs, out_dir / "control" / "tracking_tracked.png", i))
    return {"config": asdict(cfg), "hdys_run": str(run), "train_clips": [c.name for c in train_clips],
            "validation_clips": [c.name for c in validation or []], "selected_timesteps": selected,
            "test_clips": [c.name for c in test_clips], "rows": rows, "pngs": pngs}


# bodies whose heights the tracking plot shows, with the ankle that moves more in the clip's reference
TRACKED = ("pelvis", "head", "left_wrist")


def plot_frames_tracked(clips: list, per_clip: dict[str, dict], out_png: Path) -> Path:
    """Per clip, the share of its frames each row (``per_clip``: row label -> clip name -> result) tracked before
    falling (1: to the end)."""
    from ..plots import _save
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 1.2 + 0.32 * len(clips)))
    ax = fig.subplots()
    height = 0.8 / len(per_clip)
    for k, (label, results) in enumerate(per_clip.items()):
        share = [(results[c.name]["frames"] - 1) / (c.frames - 1) for c in clips]
        ax.barh(np.arange(len(clips)) + (k - (len(per_clip) - 1) / 2) * height, share, height, label=label)
    ax.set_yticks(np.arange(len(clips)), [c.name for c in clips], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the clip tracked before falling (1: to its end)")
    ax.legend(loc="lower right", fontsize=7)
    fig.subplots_adjust(left=0.22)  # room for the clip names
    return _save(fig, out_png)


def plot_tracking(clips: list, policy_dirs: dict[str, Path], out_png: Path, i: int | None = None) -> Path:
    """Heights of a few bodies, tracked by each policy (``policy_dirs``: its evaluated checkpoint per ``ROWS``
    key) against the reference, on clip ``i`` (default: the longest)."""
    from ..plots import _save
    from ..schema import SMPL_JOINT_NAMES
    from .policy import load_for_tracking, track
    from matplotlib.figure import Figure

    if i is None:
        i = max(range(len(clips)), key=lambda k: clips[k].frames)
    ref = clips[i].states[0]
    ankles = [SMPL_JOINT_NAMES.index(a) for a in ("left_ankle", "right_ankle")]
    bodies = TRACKED + (SMPL_JOINT_NAMES[max(ankles, key=lambda j: np.ptp(ref[:, j, 2]))],)
    fig = Figure(figsize=(11, 2.6 * len(bodies)))
    axes = fig.subplots(len(bodies), 1, sharex=True)
    for ax, body in zip(axes, bodies):
        ax.plot(np.arange(len(ref)) / clips[i].fps, ref[:, SMPL_JOINT_NAMES.index(body), 2], "k-", lw=2,
                label="reference")
        ax.set_ylabel(f"{body} z (m)")
    for key, (label, with_latent) in ROWS.items():
        env, model, venv, _ = load_for_tracking(clips, policy_dirs[key], with_latent)
        pos, _, failed = track(env, i, model, venv)
        for ax, body in zip(axes, bodies):
            ax.plot(np.arange(len(pos)) / clips[i].fps, pos[:, SMPL_JOINT_NAMES.index(body), 2], "--",
                    label=label + (f" (fell at {(len(pos) - 1) / clips[i].fps:.2f} s)" if failed else ""))
    axes[0].set_title(f"Tracking {clips[i].name} ({clips[i].frames} frames)")
    axes[0].legend(loc="best", fontsize=8)
    axes[-1].set_xlabel("time (s)")
    return _save(fig, out_png)


def control_markdown(control: dict) -> list[str]:
    cfg = control["config"]
    lines = [f"Imitation of {len(control['test_clips'])} held-out clips after {cfg['timesteps']:,} environment steps "
             f"of PPO on {len(control['train_clips'])} training clips (policy {cfg['policy']}: "
             f"{'-'.join(map(str, cfg['net_arch']))}, SiLU, sigma {cfg['sigma']}; seed {cfg['seed']}); the paper's "
             "numbers (PHC on AMASS, 140 held-out clips) in brackets.", ""]
    if control.get("validation_clips"):
        lines[-1:] = [f"Each policy is evaluated at the checkpoint (every {cfg['checkpoint_every']:,} steps) that "
                      f"tracked {len(control['validation_clips'])} validation clips of the train split best (most "
                      "clips to the end, then the lowest MPJPE_g): " + ", ".join(
                          f"{label} at {steps:,}" for label, steps in control["selected_timesteps"].items())
                      + " steps.", ""]
    lines += ["| Method | " + " | ".join(m[1] for m in METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for label, row in control["rows"].items():
        paper = PAPER.get(label, {})
        cells = [f"{row[k]:.3f}" if k == "success_rate" else
                 f"{row[k]:.1f}" + (f" ({paper[k]})" if k in paper else "") for k, _, _ in METRICS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for name, png in control.get("pngs", {}).items():
        lines += ["", f"![{name}](control/{Path(png).name})"]
    return lines + [""]


def control_claim(control: dict) -> dict | None:
    """The paper's claim: HDyS latents improve every tracking metric."""
    rows = control.get("rows", {})
    labels = [label for label, _ in ROWS.values()]
    if not all(label in rows for label in labels):
        return None
    (b, rb), (a, ra) = ((label, rows[label]) for label in labels)
    comps = [{"a": a, "b": b, "column": k, "a_value": ra[k], "b_value": rb[k],
              "a_better": ra[k] > rb[k] if higher else ra[k] < rb[k]} for k, _, higher in METRICS]
    wins = sum(c["a_better"] for c in comps)
    verdict = "holds" if wins == len(comps) else "does not hold" if wins == 0 else "mixed"
    return {"claim": "HDyS latents as extra observations improve motion imitation", "verdict": verdict,
            "summary": f"{wins}/{len(comps)} metrics better with HDyS: " + ", ".join(
                f"{c['column']} {c['a_value']:.3g} vs {c['b_value']:.3g}" for c in comps),
            "comparisons": comps}

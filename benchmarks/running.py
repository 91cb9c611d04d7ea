"""Quality of the generator's runs: labels of runs drawn by the generator for subjects drawn like the corpus's,
both bodies (Rajagopal at 100 fps, SMPL at 30 fps, 3 s each).

Per run: the speed (m/s at 1.75 m stature, Froude-scaled), cadence (steps/min), stance fraction, the fraction of
frames without ground force (detected) and planned as flight, the root residual force (mean, % body weight), the
peak vertical GRF of each foot (median of the feet, body weights), the root residual moment in the frames without
ground force (mean, % body weight x height: in flight nothing can change the body's angular momentum), the
largest joint torque (N m/kg), the IK's largest miss of a planned stance sole point (mm) and, Rajagopal only, the
knee at touchdown, its largest flexion in stance and in swing, and the range of the pelvis tilt (deg).

    python benchmarks/running.py --runs 24 --out benchmarks/running.json
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from hdys.physics.bodies import rajagopal_body, smpl_body
from hdys.physics.contact import G, rajagopal_contact_dynamics, smpl_contact_dynamics
from hdys.physics.fixture import sample_subject, smpl_standing_height, standing_pelvis_height
from hdys.physics.locomotion import ground_rajagopal, ground_smpl, sole_points
from hdys.physics.motions import rajagopal_motion
from hdys.physics.smpl_motions import smpl_motion
from hdys.physics.timing import Cyclic
from hdys.schema import RAJAGOPAL_COORDINATES

KNEES = [list(RAJAGOPAL_COORDINATES).index(f"knee_angle_{s}") for s in "lr"]  # [left, right], as the feet


def phases(gait: Cyclic, t: np.ndarray) -> np.ndarray:
    """(T, 2) each leg's gait phase in [0, 1) ([left, right]; stance while below ``gait.duty``)."""
    shift = np.array(gait.shifts) / (2 * np.pi)
    return np.mod(gait.freq * t[:, None] + shift, 1.0)


def one(which: str, seed: int, seconds: float = 3.0) -> dict:
    rng = np.random.default_rng([seed, 11])
    height, mass = sample_subject(rng)
    fps = 100 if which == "rajagopal" else 30
    t = np.arange(int(seconds * fps)) / fps
    if which == "rajagopal":
        body = rajagopal_body(height, mass)
        motion = rajagopal_motion("run", rng, body.coord_range, standing_pelvis_height(body))
        ground = ground_rajagopal(body, motion, 0.0, t[-1])
        q, qd, qdd = ground(t)
        tau, res = rajagopal_contact_dynamics(body, q, qd, qdd)
    else:
        body = smpl_body(height, mass)
        motion = smpl_motion("run", rng, smpl_standing_height(body))
        evaluate = ground_smpl(body, motion, 0.0, t[-1])
        tau, res = smpl_contact_dynamics(body, evaluate(t))
        ground = evaluate.ground
    gait, plan, rig = motion.gait, ground.plan, ground.rig
    stance = phases(gait, t) < gait.duty
    on_plan = phases(gait, plan.t) < gait.duty  # the IK grid's stance feet
    miss = np.linalg.norm(plan.points - sole_points(rig.model, rig.feet, ground.qpos), axis=-1).max(-1)
    travel = np.linalg.norm(plan.com_xy[-1] - plan.com_xy[0]) / (plan.t[-1] - plan.t[0])
    weight = mass * G
    out = {"body": which, "seed": seed, "height_m": height, "speed_at_175": travel / np.sqrt(height / 1.75),
           "cadence": 120 * gait.freq, "duty": gait.duty,
           "flight_detected": float((~res.contact.any(1)).mean()), "flight_planned": float((~stance.any(1)).mean()),
           "residual_pct_bw": float(np.linalg.norm(res.root_residual[:, :3], axis=1).mean() / weight * 100),
           "grf_peak_bw": float(np.median(res.grf[..., 2].max(0) / weight)),
           "flight_moment_pct_bwh": float(np.linalg.norm(res.root_residual[~res.contact.any(1), 3:], axis=1).mean()
                                          / (weight * height) * 100),
           "torque_max_nm_kg": float(np.abs(tau).max() / mass), "stance_miss_mm": float(1000 * miss[on_plan].max())}
    if which == "rajagopal":
        knees = np.rad2deg(q[:, KNEES])
        touchdown = stance & ~np.roll(stance, 1, axis=0)
        touchdown[0] = False
        out.update({"touchdown_knee_deg": float(np.median(knees[touchdown])),
                    "stance_knee_max_deg": float(knees[stance].max()),
                    "swing_knee_max_deg": float(knees[~stance].max()),
                    "pelvis_tilt_range_deg": float(np.rad2deg(np.ptp(q[:, 0])))})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=24, help="runs per body")
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    start = time.perf_counter()
    rows = [one(which, seed) for which in ("rajagopal", "smpl") for seed in range(args.runs)]
    keys = ("speed_at_175", "cadence", "duty", "flight_detected", "flight_planned", "residual_pct_bw", "grf_peak_bw",
            "flight_moment_pct_bwh", "torque_max_nm_kg", "stance_miss_mm", "touchdown_knee_deg", "stance_knee_max_deg",
            "swing_knee_max_deg", "pelvis_tilt_range_deg")
    print(f"{len(rows)} runs in {time.perf_counter() - start:.0f} s; median (min-max)")
    print("| body | runs | " + " | ".join(keys) + " |")
    print("|---" * (2 + len(keys)) + "|")
    for which in ("rajagopal", "smpl"):
        sel = [r for r in rows if r["body"] == which]
        cells = []
        for k in keys:
            v = [r[k] for r in sel if k in r]
            cells.append(f"{np.median(v):.2f} ({np.min(v):.2f}-{np.max(v):.2f})" if v else "-")
        print(f"| {which} | {len(sel)} | " + " | ".join(cells) + " |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()

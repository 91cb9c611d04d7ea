"""Quality of the generator's walks across the speed range: labels of walks drawn by the generator, binned by
speed (m/s at 1.75 m stature, i.e. Froude-scaled), for both bodies.

Per walk: the root residual force (mean, % body weight), the peak vertical GRF of each foot (body weights),
the largest joint torque (N m/kg), the IK's largest miss of a planned sole point (mm), the pelvis's lowest and
highest height below standing (cm) and the largest stance knee flexion in mid-stance (deg, Rajagopal).

    python benchmarks/walking.py --walks 36 --out benchmarks/walking.json
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
from hdys.schema import RAJAGOPAL_COORDINATES

NAMES = list(RAJAGOPAL_COORDINATES)
BINS = ((0.8, 1.1), (1.1, 1.4), (1.4, 1.6), (1.6, 1.8))


def one(which: str, seed: int, seconds: float = 3.0) -> dict:
    rng = np.random.default_rng([seed, 7])
    height, mass = sample_subject(rng)
    if which == "rajagopal":
        body = rajagopal_body(height, mass)
        stand = standing_pelvis_height(body)
        motion = rajagopal_motion("walk", rng, body.coord_range, stand)
        t = np.arange(int(seconds * 100)) / 100
        ground = ground_rajagopal(body, motion, 0.0, t[-1])
        q, qd, qdd = ground(t)
        tau, res = rajagopal_contact_dynamics(body, q, qd, qdd)
        pelvis = q[:, NAMES.index("pelvis_ty")]
        shifts = np.array(motion.gait.shifts[::-1])  # (right, left), as the knees
        u = np.mod(motion.gait.freq * t[:, None] + shifts / (2 * np.pi), 1.0)
        knees = np.rad2deg(q[:, [NAMES.index("knee_angle_r"), NAMES.index("knee_angle_l")]])
        mid = (u > 0.15) & (u < 0.35)
        extra = {"mid_stance_knee_max_deg": float(knees[mid].max())}
    else:
        body = smpl_body(height, mass)
        stand = smpl_standing_height(body)
        motion = smpl_motion("walk", rng, stand)
        t = np.arange(int(seconds * 30)) / 30
        evaluate = ground_smpl(body, motion, 0.0, t[-1])
        traj = evaluate(t)
        tau, res = smpl_contact_dynamics(body, traj)
        ground = evaluate.ground
        pelvis = traj.pos[:, 2]
        extra = {}
    rig = ground.rig
    speed = float(np.linalg.norm((motion.slope[rig.trans] @ rig.to_zup.T)[:2]))
    miss = np.linalg.norm(ground.plan.points - sole_points(rig.model, rig.feet, ground.qpos), axis=-1).max()
    weight = mass * G
    return {"body": which, "seed": seed, "height_m": height, "speed": speed,
            "speed_at_175": speed / np.sqrt(height / 1.75), "cadence": 120 * motion.gait.freq,
            "residual_pct_bw": float(np.linalg.norm(res.root_residual[:, :3], axis=1).mean() / weight * 100),
            "grf_peak_bw": float(np.median(res.grf[..., 2].max(0) / weight)),
            "torque_max_nm_kg": float(np.abs(tau).max() / mass), "ik_miss_mm": float(1000 * miss),
            "pelvis_low_cm": float(100 * (stand - pelvis.min())), "pelvis_high_cm": float(100 * (stand - pelvis.max())),
            **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--walks", type=int, default=36, help="walks per body")
    ap.add_argument("--out", default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    rows = []
    start = time.perf_counter()
    for which in ("rajagopal", "smpl"):
        for seed in range(args.walks):
            rows.append(one(which, seed))
    keys = ("residual_pct_bw", "grf_peak_bw", "torque_max_nm_kg", "ik_miss_mm", "pelvis_low_cm", "pelvis_high_cm",
            "mid_stance_knee_max_deg")
    print(f"{len(rows)} walks in {time.perf_counter() - start:.0f} s; medians (max) per speed bin (m/s at 1.75 m)")
    print("| body | speed | walks | cadence | " + " | ".join(keys) + " |")
    print("|---" * (4 + len(keys)) + "|")
    for which in ("rajagopal", "smpl"):
        for lo, hi in BINS:
            sel = [r for r in rows if r["body"] == which and lo <= r["speed_at_175"] < hi + 1e-9]
            if not sel:
                continue
            cells = []
            for k in keys:
                v = [r[k] for r in sel if k in r]
                cells.append(f"{np.median(v):.2f} ({np.max(v):.2f})" if v else "-")
            cad = np.median([r["cadence"] for r in sel])
            print(f"| {which} | {lo}-{hi} | {len(sel)} | {cad:.0f} | " + " | ".join(cells) + " |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()

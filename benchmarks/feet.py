"""Feet on the floor where the ankles reach their limits, and angular momentum in a jump's flight: labels of
countermovement jumps, hops, jumping jacks, lunges and step-ups drawn by the generator for subjects drawn like the
corpus's, Rajagopal body at 100 fps (3 s each), each motion generated twice in the same process: as the
generator does now, and with the fix in question switched off by its constants.

Fixes (``hdys.physics.locomotion``, ``hdys.physics.gait``): ``heels`` (jumps, hops, lunges, step-ups: the heels rise
where a foot pitches toes-down in the IK, ``locomotion.HEEL_PASSES`` = 0 to switch off), ``spin`` (jumps: the body
turns so that its angular momentum is constant in flight, ``locomotion.SPIN_PASSES`` = 0), ``push`` (hops: the heels
rise to ``gait.HOP_TOE_OFF_PITCH`` at take-off, 0.7 rad = ``plans.TOE_OFF_PITCH`` to switch off).

Per motion: the IK's largest miss of a planned sole point outside flight (mm), the deepest sole point below its
support (mm), stance slides (95th percentile, mm), the root residual force (mean and largest, % body weight), the
residual moment (mean, and mean in flight, % body weight x height), the largest joint torque (N m/kg), the
frames without contact between two with contact.

    python benchmarks/feet.py --motions 8 --out benchmarks/feet.json
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import hdys.physics.gait as gait
import hdys.physics.locomotion as loc
from hdys.physics.bodies import rajagopal_body
from hdys.physics.contact import G, rajagopal_contact_dynamics, stance_slides
from hdys.physics.fixture import sample_subject, standing_pelvis_height
from hdys.physics.motions import rajagopal_motion
from hdys.physics.plans import TOE_OFF_PITCH

# each fix: (the module that reads the constant, its name, the value that switches the fix off)
FIXES = {"heels": (loc, "HEEL_PASSES", 0), "spin": (loc, "SPIN_PASSES", 0),
         "push": (gait, "HOP_TOE_OFF_PITCH", TOE_OFF_PITCH)}
CASES = [("cmj", "heels"), ("cmj", "spin"), ("jump", "heels"), ("jump", "push"), ("jumping_jack", "heels"),
         ("jumping_jack", "push"), ("lunge", "heels"), ("step_up", "heels")]


def one(kind: str, seed: int, seconds: float = 3.0) -> dict:
    rng = np.random.default_rng([seed, 17])
    height, mass = sample_subject(rng)
    body = rajagopal_body(height, mass)
    motion = rajagopal_motion(kind, rng, body.coord_range, standing_pelvis_height(body))
    t = np.arange(int(seconds * 100)) / 100
    ground = loc.ground_rajagopal(body, motion, 0.0, t[-1])
    q, qd, qdd = ground(t)
    tau, res = rajagopal_contact_dynamics(body, q, qd, qdd, terrain=ground.plan.terrain)
    plan, rig = ground.plan, ground.rig
    miss = np.linalg.norm(plan.points - loc.sole_points(rig.model, rig.feet, ground.qpos), axis=-1).max((1, 2))
    if plan.flight is not None:
        miss[plan.flight] = 0.0
    support = 0.0 if plan.terrain is None else plan.terrain.height(res.point_pos[..., :2])
    weight = mass * G
    force = np.linalg.norm(res.root_residual[:, :3], axis=1) / weight * 100
    moment = np.linalg.norm(res.root_residual[:, 3:], axis=1) / (weight * height) * 100
    contact = res.contact.any(1).astype(int)
    flight = contact == 0
    return {"kind": kind, "seed": seed, "miss_mm": float(miss.max() * 1000),
            "below_mm": float(-(res.point_pos[..., 2] - support).min() * 1000),
            "slide_p95_mm": float(np.percentile(np.r_[0.0, stance_slides(res.point_pos, res.point_force)], 95) * 1000),
            "force_mean": float(force.mean()), "force_max": float(force.max()), "moment_mean": float(moment.mean()),
            "moment_flight": float(moment[flight].mean()) if flight.any() else 0.0,
            "torque_max": float(np.abs(tau).max() / mass),
            "gaps": int(((contact[1:-1] == 0) & (contact[:-2] == 1) & (contact[2:] == 1)).sum())}


COLUMNS = [("miss_mm", "IK miss (mm, max)", max), ("below_mm", "below support (mm, max)", max),
           ("slide_p95_mm", "slide p95 (mm, mean)", np.mean), ("force_mean", "residual F (% BW, mean)", np.mean),
           ("force_max", "residual F (% BW, max)", max), ("moment_mean", "residual M (% BW x H, mean)", np.mean),
           ("moment_flight", "M in flight (mean)", np.mean), ("torque_max", "peak torque (N m/kg, max)", max),
           ("gaps", "contact gaps", sum)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--motions", type=int, default=8, help="motions of each kind")
    ap.add_argument("--out", default=None, help="JSON file for the per-motion figures")
    args = ap.parse_args()
    start = time.time()
    rows, table = [], []
    for kind, fix in CASES:
        module, name, off = FIXES[fix]
        on = getattr(module, name)
        for state, value in (("off", off), ("on", on)):
            setattr(module, name, value)
            try:
                got = [one(kind, seed) for seed in range(args.motions)]
            finally:
                setattr(module, name, on)
            rows += [{**g, "fix": fix, "state": state} for g in got]
            table.append([kind, f"{fix} {state}"] + [f"{agg([g[k] for g in got]):.2f}" for k, _, agg in COLUMNS])
    print("| motion | fix | " + " | ".join(label for _, label, _ in COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for row in table:
        print("| " + " | ".join(row) + " |")
    print(f"{len(rows)} motions, {time.time() - start:.0f} s")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

"""Frames per second of each stage of the label pipeline, in one process on the same walk.

A Rajagopal-body walk on the ground (``--seconds`` at 100 fps, subject 1.75 m / 72 kg) is generated once
(foot plan, balance and leg IK: ``hdys.physics.locomotion.ground_rajagopal``, timed as "kinematics"); then,
each the best of ``--repeats``:

* raw ``mj_inverse`` (``inverse_dynamics``: one call per frame, constraints off), the reference speed;
* contact-aware inverse dynamics in its two stages: inverse dynamics (``inverse_pass``: ``mj_inverse`` per
  frame, keeping what the contact step needs) and contact forces (``contact_forces``: for all frames at once the
  sole points' Jacobians from ``cdof`` and the friction-pyramid least squares, one batched active-set solve),
  each and together with their ratios to raw ``mj_inverse``;
* static optimisation of the 80 myolegs muscles, batched (``static_optimization``) and per frame
  (``method="bvls"``, the ``scipy.optimize.lsq_linear`` baseline, on the first ``--baseline-frames``);
* the full pipeline (kinematics + contact ID + batched SO) against the same with per-frame SO.

    python benchmarks/pipeline.py [--seconds 10] [--baseline-frames 300] [--repeats 3]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from hdys.physics.bodies import rajagopal_body
from hdys.physics.contact import contact_forces, contact_inverse_dynamics, inverse_pass, rajagopal_feet
from hdys.physics.fixture import standing_pelvis_height
from hdys.physics.inverse import inverse_dynamics, rajagopal_state
from hdys.physics.locomotion import ground_rajagopal
from hdys.physics.motions import rajagopal_motion
from hdys.physics.myolegs import load_myolegs
from hdys.physics.static_opt import static_optimization

FPS = 100.0


def best_of(repeats: int, fn) -> tuple[float, object]:
    """(fastest wall time in s, the last result) of ``repeats`` calls of ``fn``."""
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--baseline-frames", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    body = rajagopal_body(1.75, 72.0, rng=rng)
    motion = rajagopal_motion("walk", rng, body.coord_range, standing_pelvis_height(body))
    t = np.arange(int(args.seconds * FPS)) / FPS
    n = len(t)
    load_myolegs()
    t_kin, (q, qd, qdd) = best_of(1, lambda: ground_rajagopal(body, motion, 0.0, float(t[-1]))(t))
    qpos, qvel, qacc = (rajagopal_state(body, x) for x in (q, qd, qdd))
    feet = rajagopal_feet(body)
    t_id, _ = best_of(args.repeats, lambda: inverse_dynamics(body.model, qpos, qvel, qacc))
    t_pass, passed = best_of(args.repeats, lambda: inverse_pass(body.model, qpos, qvel, qacc))
    t_forces, _ = best_of(args.repeats, lambda: contact_forces(body.model, feet, qvel, passed, body.mass_kg))
    t_cid, res = best_of(args.repeats, lambda: contact_inverse_dynamics(body.model, feet, qpos, qvel, qacc,
                                                                        body.mass_kg))
    tau = res.joint[:, body.coord_qpos[6:]]
    t_so, _ = best_of(args.repeats, lambda: static_optimization(body, q, qd, tau))
    m = min(args.baseline_frames, n)
    t_bvls, _ = best_of(args.repeats, lambda: static_optimization(body, q[:m], qd[:m], tau[:m], method="bvls"))
    t_bvls_all = t_bvls * n / m
    print(f"{platform.machine()}, {n} frames of a {args.seconds:g} s walk on the ground at {FPS:g} fps "
          f"(per-frame SO on {m} frames, scaled)")
    rows = [("kinematics (foot plan, balance, leg IK)", t_kin), ("raw mj_inverse", t_id),
            ("inverse dynamics stage (inverse_pass)", t_pass), ("contact forces stage (contact_forces)", t_forces),
            ("contact-aware ID (both stages)", t_cid), ("static optimisation, batched", t_so),
            ("static optimisation, per-frame lsq_linear", t_bvls_all),
            ("full pipeline, batched SO", t_kin + t_cid + t_so),
            ("full pipeline, per-frame SO", t_kin + t_cid + t_bvls_all)]
    for name, sec in rows:
        print(f"{name:45s} {n / sec:12,.0f} frames/s")
    print(f"time / raw mj_inverse: inverse dynamics stage {t_pass / t_id:.2f}x, contact forces stage "
          f"{t_forces / t_id:.2f}x, contact-aware ID {t_cid / t_id:.2f}x; batched / per-frame SO speed: "
          f"{t_bvls_all / t_so:.1f}x; full pipeline batched / per-frame: "
          f"{(t_kin + t_cid + t_bvls_all) / (t_kin + t_cid + t_so):.1f}x")


if __name__ == "__main__":
    main()

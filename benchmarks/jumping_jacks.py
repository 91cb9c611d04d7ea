"""Jumping jacks' labels before and after the low-hop jack (commit of this script): muscle-domain jacks (Rajagopal
body with myolegs, 50 fps, 3 s each) of subjects drawn like the corpus's, each generated twice in the same process:
as the generator does now, and with the jack's old constants (stance fraction 0.45-0.55, feet 0.3 m further apart,
the COM 6 cm below the neutral pose's at touchdown, as hops).

Per jack: the static optimisation's reserve torques (RMS over the muscle-actuated DoFs, N m: the validation's
``reserve_rms_nm``, tolerance 5), the root residual force (mean, % body weight), the largest hip rotation moment
(N m/kg) and the deepest knee flexion (deg).

    python benchmarks/jumping_jacks.py --subjects 6
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

import hdys.physics.gait as gait
import hdys.physics.timing as timing
from hdys.frames import G
from hdys.physics.bodies import rajagopal_body
from hdys.physics.fixture import _fill_rajagopal, sample_subject
from hdys.schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, Sequence

OLD = replace(timing.JACK, duty=(0.45, 0.55), spread=0.3)  # the jack's timing before the low-hop jack
OLD_DROP = gait.HOP_DROP  # gait.JACK_DROP (then in locomotion) before: the hops' drop
LUMBAR = [RAJAGOPAL_TORQUE_DOFS.index(n) for n in ("lumbar_extension", "lumbar_bending", "lumbar_rotation")]
HIP_ROT = [RAJAGOPAL_TORQUE_DOFS.index(f"hip_rotation_{s}") for s in "rl"]


def jack(subject: int) -> dict:
    """One jack's figures, for the subject drawn from seed ``[subject, 99]``."""
    rng = np.random.default_rng([subject, 99])
    height, mass = sample_subject(rng)
    body = rajagopal_body(height, mass, rng=rng)
    t = np.arange(150) / 50.0
    seq = Sequence(fps=50.0, sequence_id="jack", dataset="muscle", subject="s", mass_kg=mass, height_m=height,
                   extra={"motion": "jumping_jack"})
    _fill_rajagopal(seq, body, "muscle", "jumping_jack", t, rng, None)
    reserve = np.delete(seq.extra["reserve"], LUMBAR, axis=1)
    knees = [body.coord_qpos[RAJAGOPAL_COORDINATES.index(f"knee_angle_{s}")] for s in "rl"]
    return {"reserve_rms_nm": float(np.sqrt(np.mean(reserve ** 2))),
            "root_residual_pct_bw": float(np.linalg.norm(seq.extra["root_residual"][:, :3], axis=1).mean()
                                          / (mass * G) * 100),
            "hip_rotation_nm_per_kg": float(np.abs(seq.extra["torque_rajagopal"][:, HIP_ROT]).max() / mass),
            "knee_max_deg": float(np.degrees(np.abs(seq.extra["mj_qpos"][:, knees]).max()))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=6)
    args = ap.parse_args()
    rows = {}
    for name in ("now", "before"):
        saved = timing.JACK, gait.JACK_DROP
        if name == "before":
            timing.JACK, gait.JACK_DROP = OLD, OLD_DROP
        try:
            rows[name] = [jack(s) for s in range(args.subjects)]
        finally:
            timing.JACK, gait.JACK_DROP = saved
    keys = list(rows["now"][0])
    print("| jacks | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for name, rs in rows.items():
        cells = [f"{np.mean([r[k] for r in rs]):.2f} ({min(r[k] for r in rs):.2f}-{max(r[k] for r in rs):.2f})"
                 for k in keys]
        print(f"| {name} | " + " | ".join(cells) + " |")
    pooled = {n: float(np.sqrt(np.mean([r["reserve_rms_nm"] ** 2 for r in rs]))) for n, rs in rows.items()}
    print(f"\npooled reserve RMS: now {pooled['now']:.2f} N m, before {pooled['before']:.2f} N m")


if __name__ == "__main__":
    main()

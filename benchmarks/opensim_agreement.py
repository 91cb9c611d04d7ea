"""Do hdys' Rajagopal torque labels agree with OpenSim 4.6's inverse dynamics on the same motions?

    python benchmarks/opensim_agreement.py --out DIR --osim-python PY [--height 1.75 --mass 72 --seconds 3]

``PY`` is the python of a separate venv with ``pip install opensim==4.6`` (OpenSim needs numpy >= 2.1,
hdys numpy < 2). For each reference motion (a squat, a walk, a run, a lunge, a countermovement jump) this
script generates the motion on the hdys Rajagopal body of one subject, labels it with hdys' contact-aware
inverse dynamics (joint torques, per-foot ground forces and centres of pressure), and writes an OpenSim
trial: the coordinates (``.mot``, degrees) and hdys' ground forces as a ``.mot`` with its ExternalLoads
``.xml``: the contact points' forces of each foot body (the heel points' on ``calcn``, the metatarsal
heads' on ``toes``, as hdys applies them), each body's as one force at the mean of its points plus the
torque about it (the free moment and the points' height differences), in ground. Then, in
OpenSim's python, it scales ``Rajagopal2015.osim`` (from the nimblephysics wheel) the way hdys does (one
scale factor, ``height / 1.70 m``, for every body; masses to the subject's mass with the distribution
kept: ``Model.scale(..., preserveMassDist=True, mass)``), unlocks subtalar and mtp (locked in the generic
model; hdys keeps them free) and runs the ``InverseDynamicsTool`` (no filter: the motions are smooth).

Per DoF it reports the mean absolute difference (N m/kg) and the correlation where the DoF's OpenSim moment
moves (standard deviation above 0.02 N m/kg). Issue 18's bar: every DoF within 0.02 N m/kg and
correlation >= 0.98 on every motion. Writes ``DIR/opensim_agreement.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from opensim_files import RUN_ID, SCALE_SIDE, run_osim_side  # this folder is on sys.path when the script runs

OSIM_SIDE = r'''
import json, sys
import opensim as osim
''' + RUN_ID + SCALE_SIDE + r'''
job = json.loads(open(sys.argv[1]).read())
osim.Logger.setLevelString("error")
scaled_model(job)
out = {}
for t in job["trials"]:
    m = osim.Model(job["scaled"])
    m.initSystem()
    out[t["name"]] = run_id(m, t["ik"], t["xml"], t["t0"], t["t1"], t["dir"])
    out[t["name"]]["mass"] = m.getTotalMass(m.initSystem())
open(sys.argv[2], "w").write(json.dumps(out))
'''

MOTIONS = ("squat", "walk", "run", "lunge", "cmj")
BODIES = (("calcn_r", 1, (0, 1)), ("toes_r", 1, (2, 3)), ("calcn_l", 0, (0, 1)), ("toes_l", 0, (2, 3)))


def write_point_loads(mot: Path, xml: Path, time: np.ndarray, point_pos: np.ndarray, point_force: np.ndarray) -> None:
    """The contact points' forces (T, 2, 4, 3), z up, feet [left, right], as per-body ExternalForces."""
    from hdys.opensim_files import Z_UP_TO_Y_UP, write_table

    columns, blocks, forces = [], [], []
    for body, foot, pts in BODIES:
        p, f = point_pos[:, foot, list(pts)], point_force[:, foot, list(pts)]  # (T, 2, 3)
        centre = p.mean(1)
        torque = np.cross(p - centre[:, None], f).sum(1)
        columns += [f"{body}_v{a}" for a in "xyz"] + [f"{body}_p{a}" for a in "xyz"] + [f"{body}_t{a}" for a in "xyz"]
        blocks += [f.sum(1) @ Z_UP_TO_Y_UP.T, centre @ Z_UP_TO_Y_UP.T, torque @ Z_UP_TO_Y_UP.T]
        forces.append(f"""<ExternalForce name="{body}_grf"><applied_to_body>{body}</applied_to_body>
<force_expressed_in_body>ground</force_expressed_in_body><point_expressed_in_body>ground</point_expressed_in_body>
<force_identifier>{body}_v</force_identifier><point_identifier>{body}_p</point_identifier>
<torque_identifier>{body}_t</torque_identifier><data_source_name>{mot.name}</data_source_name></ExternalForce>""")
    write_table(mot, mot.name, columns, time, np.concatenate(blocks, axis=1))
    xml.write_text('<?xml version="1.0" encoding="UTF-8" ?><OpenSimDocument Version="40000">'
                   '<ExternalLoads name="externalloads"><objects>' + "".join(forces) +
                   f"</objects><groups /><datafile>{mot.name}</datafile></ExternalLoads></OpenSimDocument>\n")


def reference_trials(out: Path, height: float, mass: float, seconds: float, fps: float, motions: list[str]):
    """Generate and label each motion on the hdys body of one subject and write its OpenSim trial into
    ``out/<motion>/``. Returns (body, time (T,), OpenSim trial dicts, {motion: {"q", "qd", "tau"}})."""
    from hdys.opensim_files import write_table
    from hdys.physics.bodies import rajagopal_body
    from hdys.physics.contact import rajagopal_contact_dynamics
    from hdys.physics.fixture import standing_pelvis_height
    from hdys.physics.locomotion import ground_rajagopal
    from hdys.physics.motions import rajagopal_motion
    from hdys.schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TRANSLATIONS

    body = rajagopal_body(height, mass)
    t = np.arange(int(round(seconds * fps))) / fps
    trials, labels = [], {}
    for i, kind in enumerate(motions):
        motion = rajagopal_motion(kind, np.random.default_rng([18, i]), body.coord_range, standing_pelvis_height(body))
        kin = ground_rajagopal(body, motion, float(t[0]), float(t[-1]))
        q, qd, qdd = kin(t)
        tau, res = rajagopal_contact_dynamics(body, q, qd, qdd, terrain=kin.plan.terrain)
        d = out / kind
        d.mkdir(exist_ok=True)
        deg = q.copy()
        rot = [c for c, n in enumerate(RAJAGOPAL_COORDINATES) if n not in RAJAGOPAL_TRANSLATIONS]
        deg[:, rot] = np.rad2deg(deg[:, rot])
        ik = write_table(d / f"{kind}_ik.mot", "Coordinates", list(RAJAGOPAL_COORDINATES), t, deg)
        ik.write_text(ik.read_text().replace("inDegrees=no", "inDegrees=yes"))
        write_point_loads(d / f"{kind}_grf.mot", d / f"{kind}_external_loads.xml", t, res.point_pos, res.point_force)
        labels[kind] = {"q": q, "qd": qd, "tau": tau}
        trials.append({"name": kind, "dir": str(d), "ik": str(ik), "xml": str(d / f"{kind}_external_loads.xml"),
                       "t0": float(t[0]), "t1": float(t[-1])})
        print(f"{kind}: generated and labelled", flush=True)
    return body, t, trials, labels


def reference_args(doc: str) -> argparse.Namespace:
    """The command line of the OpenSim comparisons (``doc``: the script's docstring); creates ``--out``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--osim-python", required=True)
    ap.add_argument("--height", type=float, default=1.75)
    ap.add_argument("--mass", type=float, default=72.0)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--fps", type=float, default=100.0)
    ap.add_argument("--motions", default=",".join(MOTIONS))
    args = ap.parse_args()
    args.out = Path(args.out).resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def main() -> None:
    args = reference_args(__doc__)
    from hdys.physics.bodies import RAJAGOPAL_STATURE, rajagopal_osim_path
    from hdys.schema import RAJAGOPAL_TORQUE_DOFS

    out = args.out
    _, t, trials, labels = reference_trials(out, args.height, args.mass, args.seconds, args.fps,
                                            args.motions.split(","))
    osim = run_osim_side(OSIM_SIDE, {"model": str(rajagopal_osim_path()), "scale": args.height / RAJAGOPAL_STATURE,
                                     "mass": args.mass, "scaled": str(out / "scaled.osim"), "trials": trials},
                         out, args.osim_python)
    result, worst = {}, {}
    for kind, label in labels.items():
        tau = label["tau"]
        o = osim[kind]
        ref, cols = np.asarray(o["data"]), o["columns"]
        t_ref = np.asarray(o["time"])
        per = {}
        for j, dof in enumerate(RAJAGOPAL_TORQUE_DOFS):
            a = np.interp(t_ref, t, tau[:, j]) / args.mass
            b = ref[:, cols.index(f"{dof}_moment")] / args.mass
            moves = np.std(b) > 0.02
            per[dof] = {"mae": float(np.mean(np.abs(a - b))),
                        "corr": float(np.corrcoef(a, b)[0, 1]) if moves and np.std(a) > 0 else None,
                        "opensim_range": float(np.ptp(b))}
            w = worst.setdefault(dof, {"mae": 0.0, "corr": 1.0})
            w["mae"] = max(w["mae"], per[dof]["mae"])
            if per[dof]["corr"] is not None:
                w["corr"] = min(w["corr"], per[dof]["corr"])
        result[kind] = {"per_dof": per, "opensim_mass": o["mass"]}
    kinds = list(labels)
    lines = ["| DoF | " + " | ".join(f"{k} MAE / corr." for k in kinds) + " | worst MAE | worst corr. |",
             "|---|" + "---|" * (len(kinds) + 2)]
    for dof in RAJAGOPAL_TORQUE_DOFS:
        cells = []
        for k in kinds:
            p = result[k]["per_dof"][dof]
            cells.append(f"{p['mae']:.3f} / " + ("-" if p["corr"] is None else f"{p['corr']:.3f}"))
        lines.append(f"| {dof} | " + " | ".join(cells) + f" | {worst[dof]['mae']:.3f} | {worst[dof]['corr']:.3f} |")
    ok = all(w["mae"] <= 0.02 and w["corr"] >= 0.98 for w in worst.values())
    lines += ["", f"Every DoF within 0.02 N m/kg and correlation >= 0.98 on every motion: {'yes' if ok else 'no'}"]
    (out / "opensim_agreement.json").write_text(json.dumps({"result": result, "worst": worst, "ok": ok}, indent=1))
    (out / "opensim_agreement.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""hdys' static optimisation against OpenSim 4.6's StaticOptimization on the same motions.

    python benchmarks/opensim_static_opt.py --out DIR --osim-python PY [--height 1.75 --mass 72 --seconds 3]

The reference motions, the subject and the scaled ``Rajagopal2015.osim`` are those of
``opensim_agreement.py`` (a squat, a walk, a run, a lunge, a countermovement jump, generated and labelled by
hdys; hdys' ground forces as ExternalLoads). hdys solves its static optimisation (paper Eq. 1: the 80
myolegs muscles, MuJoCo's muscle model, reserves costing like a fully active muscle per N m) on its own
inverse-dynamics torques. OpenSim runs the AnalyzeTool's StaticOptimization (activation exponent 2, muscle
physiology on: Millard 2012 equilibrium muscles at the rigid-tendon fibre state) on the same coordinates and
loads, with a reserve actuator of optimal force 1 N m on each of the 14 leg coordinates (the same cost as hdys'
reserves), residual actuators of optimal force 10^4 on the 6 pelvis coordinates and the model's own lumbar and
arm actuators.

The muscle models differ (MuJoCo's against Millard's curves and tendons), so equality is not expected; per
muscle group (both sides, the group's mean activation) it reports the correlation over time where OpenSim's
group activation moves (standard deviation above 0.01) and the mean absolute difference. Frames where OpenSim's
optimiser did not find a muscle solution (a leg reserve above ``FAILED_RESERVE_NM``: in fast running some frames
come back with reserves of thousands of N m) are left out and counted. Writes ``DIR/opensim_static_opt.json``
and ``.md``.
"""
from __future__ import annotations

import json

import numpy as np

from opensim_agreement import SCALE_SIDE, reference_args, reference_trials  # this folder is on sys.path
from opensim_files import run_osim_side

OSIM_SIDE = r'''
import json, sys
import opensim as osim
''' + SCALE_SIDE + r'''
job = json.loads(open(sys.argv[1]).read())
osim.Logger.setLevelString("error")
model = osim.Model(scaled_model(job))


def reserve(coordinate, optimal_force):
    a = osim.CoordinateActuator(coordinate)
    a.setName(f"reserve_{coordinate}")
    a.setOptimalForce(optimal_force)
    a.setMinControl(-1e9)
    a.setMaxControl(1e9)
    model.addForce(a)


for c in job["leg_coordinates"]:
    reserve(c, 1.0)
for c in job["pelvis_coordinates"]:
    reserve(c, 1e4)
model.finalizeConnections()
model.printToXML(job["with_reserves"])


def read_sto(path):
    lines = open(path).read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "endheader") + 1
    columns = lines[start].split("\t")
    rows = [[float(x) for x in line.split("\t")] for line in lines[start + 1:] if line.strip()]
    return columns, rows


out = {}
for t in job["trials"]:
    tool = osim.AnalyzeTool()
    tool.setName(t["name"])
    tool.setModelFilename(job["with_reserves"])
    tool.setCoordinatesFileName(t["ik"])
    tool.setExternalLoadsFileName(t["xml"])
    tool.setLowpassCutoffFrequency(-1.0)
    tool.setInitialTime(t["t0"])
    tool.setFinalTime(t["t1"])
    tool.setResultsDir(t["dir"])
    so = osim.StaticOptimization()
    so.setStartTime(t["t0"])
    so.setEndTime(t["t1"])
    so.setUseModelForceSet(True)
    so.setActivationExponent(2)
    so.setUseMusclePhysiology(True)
    tool.getAnalysisSet().cloneAndAppend(so)
    setup = t["dir"] + "/so_setup.xml"
    tool.printToXML(setup)
    osim.AnalyzeTool(setup).run()
    columns, rows = read_sto(t["dir"] + f"/{t['name']}_StaticOptimization_activation.sto")
    out[t["name"]] = {"columns": columns, "rows": rows}
open(sys.argv[2], "w").write(json.dumps(out))
'''

FAILED_RESERVE_NM = 50.0  # an OpenSim frame whose leg reserves exceed this is an optimiser failure, not a solution
# muscle groups (OpenSim names without the side suffix)
GROUPS = {
    "gluteus maximus": ("glmax1", "glmax2", "glmax3"),
    "gluteus medius/minimus": ("glmed1", "glmed2", "glmed3", "glmin1", "glmin2", "glmin3"),
    "iliopsoas": ("iliacus", "psoas"),
    "adductors": ("addbrev", "addlong", "addmagDist", "addmagIsch", "addmagMid", "addmagProx", "grac"),
    "hamstrings": ("bflh", "bfsh", "semimem", "semiten"),
    "rectus femoris": ("recfem",),
    "vasti": ("vasint", "vaslat", "vasmed"),
    "gastrocnemius": ("gaslat", "gasmed"),
    "soleus": ("soleus",),
    "dorsiflexors": ("tibant", "edl", "ehl"),
    "other plantarflexors": ("tibpost", "perbrev", "perlong", "fdl", "fhl"),
}


def main() -> None:
    args = reference_args(__doc__)
    from hdys.physics.bodies import RAJAGOPAL_STATURE, rajagopal_osim_path
    from hdys.physics.myolegs import LEG_COORDINATES
    from hdys.physics.static_opt import static_optimization
    from hdys.schema import RAJAGOPAL_COORDINATES

    out = args.out
    body, t, trials, labels = reference_trials(out, args.height, args.mass, args.seconds, args.fps,
                                               args.motions.split(","))
    hdys_so = {}
    for kind, label in labels.items():
        hdys_so[kind] = static_optimization(body, label["q"], label["qd"], label["tau"])
        print(f"{kind}: hdys static optimisation done", flush=True)
    osim = run_osim_side(OSIM_SIDE, {"model": str(rajagopal_osim_path()), "scale": args.height / RAJAGOPAL_STATURE,
                                     "mass": args.mass, "scaled": str(out / "scaled.osim"),
                                     "with_reserves": str(out / "scaled_with_reserves.osim"),
                                     "leg_coordinates": list(LEG_COORDINATES),
                                     "pelvis_coordinates": list(RAJAGOPAL_COORDINATES[:6]), "trials": trials},
                         out, args.osim_python)
    result = {}
    for kind, so in hdys_so.items():
        cols, rows = osim[kind]["columns"], np.asarray(osim[kind]["rows"])
        reserves = [c for c in cols if c.startswith("reserve_") and c[8:] in LEG_COORDINATES]
        failed = np.abs(rows[:, [cols.index(c) for c in reserves]]).max(axis=1) > FAILED_RESERVE_NM
        rows = rows[~failed]
        t_ref = rows[:, 0]
        per = {}
        for group, members in GROUPS.items():
            corr, mad = [], []
            for side in "rl":
                names = [f"{m}_{side}" for m in members]
                a = np.mean([np.interp(t_ref, t, so.activation[:, so.muscle_names.index(n)]) for n in names], axis=0)
                b = np.mean([rows[:, cols.index(n)] for n in names], axis=0)
                mad.append(float(np.mean(np.abs(a - b))))
                if np.std(b) > 0.01 and np.std(a) > 0:
                    corr.append(float(np.corrcoef(a, b)[0, 1]))
            per[group] = {"corr": float(np.mean(corr)) if corr else None, "mad": float(np.mean(mad))}
        kept = np.interp(t_ref, t, np.arange(len(t))).round().astype(int)  # hdys' frames at OpenSim's kept times
        result[kind] = {"groups": per, "opensim_failed_frames": int(failed.sum()), "frames": len(failed),
                        "opensim_reserve_rms_nm":
                            float(np.sqrt(np.mean(rows[:, [cols.index(c) for c in reserves]] ** 2))),
                        "hdys_reserve_rms_nm": float(np.sqrt(np.mean(so.reserve[kept, :14] ** 2)))}  # lumbar out
    kinds = list(hdys_so)
    lines = ["| muscle group | " + " | ".join(f"{k} corr. / MAD" for k in kinds) + " |", "|---|" + "---|" * len(kinds)]
    for group in GROUPS:
        cells = []
        for k in kinds:
            g = result[k]["groups"][group]
            cells.append(("-" if g["corr"] is None else f"{g['corr']:.2f}") + f" / {g['mad']:.3f}")
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    lines.append("| OpenSim frames left out (failed) | " + " | ".join(
        f"{result[k]['opensim_failed_frames']} of {result[k]['frames']}" for k in kinds) + " |")
    lines.append("| leg reserve RMS on the kept frames, hdys / OpenSim (N m) | " + " | ".join(
        f"{result[k]['hdys_reserve_rms_nm']:.2f} / {result[k]['opensim_reserve_rms_nm']:.2f}" for k in kinds) + " |")
    (out / "opensim_static_opt.json").write_text(json.dumps(result, indent=1))
    (out / "opensim_static_opt.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

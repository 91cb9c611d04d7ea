"""Do OpenSim 4.6 and hdys agree on the files `hdys predict --output opensim` writes?

    python benchmarks/opensim_files.py --run RUN --corpus CORPUS --out DIR --osim-python PY [--n 3]

``PY`` is the python of a separate venv with ``pip install opensim==4.6`` (it needs numpy >= 2.1, hdys
needs numpy < 2). For ``--n`` test sequences of the corpus' ``lab`` dataset (Rajagopal joint angles with
GRF and CoP), this script writes an OpenSim trial (``<trial>_ik.mot`` in degrees, the reference
``<trial>_grf.mot`` with its ExternalLoads ``.xml``), predicts it with ``hdys predict --output
npz,opensim`` from the joint angles, and then, in OpenSim's python:

1. opens every written file with ``opensim.TimeSeriesTable`` (the ``.sto``/``.mot``) and
   ``opensim.ExternalLoads`` (the ``.xml``) and checks columns, row counts and values against the npz;
2. runs OpenSim's ``InverseDynamicsTool`` on ``Rajagopal2015.osim`` (from the nimblephysics wheel) scaled
   to the trial's subject as hdys scales it (``height / 1.70 m`` for every body, the subject's mass, subtalar
   and mtp unlocked: ``SCALE_SIDE``, shared with ``opensim_agreement.py``; no low-pass filter, the motions are
   smooth) with the trial's coordinates and reference ground forces, and compares its ``<coordinate>_moment``
   columns, per kilogram, with hdys' ``_id.sto`` and with the corpus' own labels. The reference forces are
   what a force plate gives, each foot's force at its CoP on ``calcn`` with its free moment (``cop_moment``,
   where the corpus has it); the labels were computed with the generator's sole-point forces (heels on
   ``calcn``, metatarsal heads on ``toes``), whose split a corpus does not keep: the two differ where that
   split matters (mtp), and at hip rotation and subtalar too for corpora written without ``cop_moment``.

Writes ``DIR/opensim_files.json`` and ``DIR/opensim_files.md``.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

# OpenSim's InverseDynamicsTool on a model, no filter, the model's own forces excluded (the Python tool keeps
# the muscles' passive forces otherwise; the GUI excludes them); both OpenSim benchmarks run it.
RUN_ID = r'''
def run_id(model, ik, loads_xml, t0, t1, out_dir):
    idt = osim.InverseDynamicsTool()
    idt.setModel(model)
    idt.setCoordinatesFileName(ik)
    idt.setExternalLoadsFileName(loads_xml)
    idt.setLowpassCutoffFrequency(-1.0)
    excluded = osim.ArrayStr()
    excluded.append("ALL")
    idt.setExcludedForces(excluded)
    idt.setStartTime(t0)
    idt.setEndTime(t1)
    idt.setResultsDir(out_dir)
    idt.setOutputGenForceFileName("opensim_id.sto")
    idt.run()
    table = osim.TimeSeriesTable(out_dir + "/opensim_id.sto")
    return {"columns": list(table.getColumnLabels()), "time": list(table.getIndependentColumn()),
            "data": table.getMatrix().to_numpy().tolist()}
'''

SCALE_SIDE = r'''
def scaled_model(job):
    """Rajagopal2015.osim scaled as hdys scales it, subtalar and mtp unlocked, written to job["scaled"]."""
    model = osim.Model(job["model"])
    state = model.initSystem()
    scales = osim.ScaleSet()
    for i in range(model.getBodySet().getSize()):
        sc = osim.Scale()
        sc.setSegmentName(model.getBodySet().get(i).getName())
        sc.setScaleFactors(osim.Vec3(job["scale"], job["scale"], job["scale"]))
        sc.setApply(True)
        scales.cloneAndAppend(sc)
    model.scale(state, scales, True, job["mass"])
    for n in ("subtalar_angle_r", "subtalar_angle_l", "mtp_angle_r", "mtp_angle_l"):
        model.getCoordinateSet().get(n).set_locked(False)
    model.printToXML(job["scaled"])
    return job["scaled"]
'''

OSIM_SIDE = r'''
import json, sys
import numpy as np
import opensim as osim
''' + RUN_ID + SCALE_SIDE + r'''
job = json.loads(open(sys.argv[1]).read())
osim.Logger.setLevelString("error")
out = {}
for t in job["trials"]:
    res = {"files": {}}
    for f in t["tables"]:
        table = osim.TimeSeriesTable(f)
        cols = list(table.getColumnLabels())
        data = table.getMatrix().to_numpy()
        res["files"][f] = {"rows": table.getNumRows(), "columns": cols, "sum": float(np.nansum(data))}
    loads = osim.ExternalLoads(t["xml"], True)
    res["external_loads"] = [(loads.get(i).getName(), loads.get(i).get_applied_to_body(),
                              loads.get(i).get_force_identifier()) for i in range(loads.getSize())]
    model = osim.Model(scaled_model({"model": job["model"], "scale": t["scale"], "mass": t["mass"],
                                     "scaled": t["dir"] + "/scaled.osim"}))
    res["opensim_id"] = run_id(model, t["ik"], t["ref_xml"], t["t0"], t["t1"], t["dir"])
    state = model.initSystem()
    res["model_mass"] = model.getTotalMass(state)
    out[t["name"]] = res
open(sys.argv[2], "w").write(json.dumps(out))
'''


def run_osim_side(script: str, job: dict, out: Path, osim_python: str) -> dict:
    """Run ``script`` (an OpenSim-side program) in ``osim_python`` on ``job``; its JSON result."""
    (out / "job.json").write_text(json.dumps(job))
    (out / "osim_side.py").write_text(script)
    proc = subprocess.run([osim_python, str(out / "osim_side.py"), str(out / "job.json"), str(out / "osim.json")],
                          capture_output=True, text=True, cwd=out)  # OpenSim writes its opensim.log there
    if proc.returncode:
        sys.exit(f"OpenSim side failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "osim.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--osim-python", required=True)
    ap.add_argument("--n", type=int, default=3)
    args = ap.parse_args()
    import nimblephysics

    from hdys.cli import main as hdys_main
    from hdys.opensim_files import write_ground_forces, write_table
    from hdys.schema import RAJAGOPAL_COORDINATES, RAJAGOPAL_TORQUE_DOFS, RAJAGOPAL_TRANSLATIONS
    from hdys.store import Corpus

    from hdys.physics.bodies import RAJAGOPAL_STATURE

    model = Path(nimblephysics.__file__).parent / "models" / "rajagopal_data" / "Rajagopal2015.osim"
    out = Path(args.out).resolve()  # the OpenSim side runs in it: its paths must not be relative
    corpus = Corpus(args.corpus)
    entries = [e for e in corpus.entries(split="test", dataset="lab")][: args.n]
    trials, masses, labels = [], {}, {}
    for e in entries:
        seq = corpus.read(e.sequence_id)
        name = e.sequence_id.replace("/", "_")
        d = out / name / "subj"
        d.mkdir(parents=True, exist_ok=True)
        t = np.arange(seq.num_frames) / seq.fps
        q = np.asarray(seq.joint_angles, np.float64).copy()
        rot = [i for i, c in enumerate(RAJAGOPAL_COORDINATES) if c not in RAJAGOPAL_TRANSLATIONS]
        q[:, rot] = np.rad2deg(q[:, rot])
        ik = write_table(d / f"{name}_ik.mot", "Coordinates", list(RAJAGOPAL_COORDINATES), t, q)
        ik.write_text(ik.read_text().replace("inDegrees=no", "inDegrees=yes"))
        ref = out / name / "ref"
        ref.mkdir(exist_ok=True)
        grf = np.nan_to_num(seq.grf)
        cop = np.where(np.isfinite(seq.cop), seq.cop, 0.0)
        write_ground_forces(ref / f"{name}_grf.mot", ref / f"{name}_external_loads.xml", t, grf, cop,
                            seq.cop_moment)
        pred_dir = out / name / "pred"
        assert hdys_main(["-q", "predict", args.run, str(d), "--out", str(pred_dir), "--mass-kg", str(seq.mass_kg),
                          "--output", "npz,opensim"]) == 0
        stem = f"subj__{name}"
        masses[name] = float(seq.mass_kg)
        labels[name] = np.asarray(seq.torque_rajagopal, np.float64)
        trials.append({"name": name, "dir": str(out / name), "scale": float(seq.height_m) / RAJAGOPAL_STATURE,
                       "mass": float(seq.mass_kg), "ik": str(ik), "ref_xml": str(ref / f"{name}_external_loads.xml"),
                       "xml": str(pred_dir / f"{stem}_external_loads.xml"), "t0": float(t[0]), "t1": float(t[-1]),
                       "tables": [str(pred_dir / f"{stem}{s}") for s in
                                  ("_id.sto", "_activations.sto", "_grf.mot", "_emg.sto")],
                       "npz": str(pred_dir / f"{stem}.npz")})
    osim = run_osim_side(OSIM_SIDE, {"model": str(model), "trials": trials}, out, args.osim_python)
    rows, result = [], {}
    for t in trials:
        o = osim[t["name"]]
        with np.load(t["npz"]) as z:
            tau = z["torque_rajagopal"]
            n_muscles = len(z["muscle_names"])
        files = o["files"]
        checks = {
            "id.sto columns": files[t["tables"][0]]["columns"] == [f"{d}_moment" for d in RAJAGOPAL_TORQUE_DOFS],
            "rows": all(f["rows"] == len(tau) for f in files.values()),
            "activations": len(files[t["tables"][1]]["columns"]) == n_muscles,
            "id values": abs(files[t["tables"][0]]["sum"] - float(tau.astype(np.float64).sum())) <= 1e-3 * max(
                1.0, float(np.abs(tau).sum())),
            "external loads": sorted(x[1] for x in o["external_loads"]) == ["calcn_l", "calcn_r"],
        }
        cols = o["opensim_id"]["columns"]
        ref = np.asarray(o["opensim_id"]["data"])
        t_ref = np.asarray(o["opensim_id"]["time"])
        t_pred = np.arange(len(tau)) / float(np.load(t["npz"])["fps"])
        per_dof = {}
        for j, dof in enumerate(RAJAGOPAL_TORQUE_DOFS):
            c = f"{dof}_moment"
            if c not in cols:
                continue
            a = np.interp(t_ref, t_pred, tau[:, j]) / masses[t["name"]]
            lab = np.interp(t_ref, t_pred, labels[t["name"]][:, j]) / masses[t["name"]]
            b = ref[:, cols.index(c)] / o["model_mass"]
            moves = np.std(b) > 0.05
            per_dof[dof] = {"corr": float(np.corrcoef(a, b)[0, 1]) if moves and np.std(a) > 0 else None,
                            "corr_label": float(np.corrcoef(lab, b)[0, 1]) if moves and np.std(lab) > 0 else None,
                            "mae_per_kg": float(np.mean(np.abs(a - b))),
                            "mae_label_per_kg": float(np.mean(np.abs(lab - b)))}
        result[t["name"]] = {"checks": checks, "per_dof": per_dof, "model_mass": o["model_mass"],
                             "subject_mass": masses[t["name"]]}
        corr = [v["corr"] for v in per_dof.values() if v["corr"] is not None]
        rows.append(f"| {t['name']} | {'all pass' if all(checks.values()) else [k for k, v in checks.items() if not v]} | "
                    f"{len(corr)} | {np.median(corr):.2f} | {sum(c > 0 for c in corr)}/{len(corr)} | "
                    f"{np.mean([v['mae_per_kg'] for v in per_dof.values()]):.3f} |")
    lines = ["| trial | files in OpenSim 4.6 | DoFs that move | median corr. with OpenSim ID | positive corr. | "
             "MAE N m/kg |", "|---|---|---|---|---|---|", *rows]
    lines += ["", "| DoF | corr. OpenSim ID vs hdys label | vs hdys prediction | MAE label (N m/kg) | MAE prediction |",
              "|---|---|---|---|---|"]
    for dof in RAJAGOPAL_TORQUE_DOFS:
        vals = [r["per_dof"][dof] for r in result.values() if dof in r["per_dof"]]

        def med(key):
            v = [x[key] for x in vals if x[key] is not None]
            return f"{np.median(v):.2f}" if v else "-"
        lines.append(f"| {dof} | {med('corr_label')} | {med('corr')} | {med('mae_label_per_kg')} | {med('mae_per_kg')} |")
    (out / "opensim_files.json").write_text(json.dumps(result, indent=1))
    (out / "opensim_files.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

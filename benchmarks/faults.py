"""Bad input and faults, tried as a user meets them: every case through the CLI in a fresh process,
each outcome classified, one table.

    python benchmarks/faults.py --out DIR [--kills 12]

Outcomes: *clean error* (a non-zero exit or a skipped file, with a message that names the file and no
traceback), *silent acceptance* (exit 0 and the bad data in the corpus or the run), *crash* (a
Python traceback). Kills: a training run or an ingest is SIGKILLed at random moments, then the same
command is run again; *survived* means it finished and its result equals the uninterrupted one
(weights bit for bit, the same sequences), *data lost* counts sequences missing afterwards.
Writes ``DIR/faults.json`` and ``DIR/faults.md``. Uses the test suite's file writers (tests/ must be
beside this script) and a tiny model; about 5 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "formats")]

from conftest import synthetic_sequences, tiny_config  # noqa: E402
from hdys.schema import Sequence, save_npz  # noqa: E402
from hdys.store import Corpus, checksum, export_npz, write_corpus  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def hdys(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hdys.cli", "-q", *args], env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def classify(proc: subprocess.CompletedProcess, accepted: bool, name: str) -> tuple[str, str]:
    """(outcome, the message the user saw: the last line of stderr)."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("skipped ") or ": error:" in line]
    said += [line for line in proc.stdout.splitlines() if line.startswith("problem:")]
    message = said[0] if said else (lines[-1] if lines else "")
    if "Traceback" in proc.stderr:
        return "crash", lines[-1] if lines else ""
    if accepted:
        return "silent acceptance", ""
    if name and name not in proc.stderr + proc.stdout:
        return "error without the file's name", message
    return "clean error", message


# --------------------------------------------------------------------------------------------------
# bad input files: (case, format, writer(dir) -> the bad file's name)


def _walk(**change) -> Sequence:
    """One plausible walking sequence in SI units, with one field changed."""
    seq = next(s for s in synthetic_sequences() if s.sequence_id == "b00")
    seq.sequence_id, seq.mass_kg = "walk", 70.0
    for k, v in change.items():
        setattr(seq, k, v(getattr(seq, k)) if callable(v) else v)
    return seq


def _npz(**change):
    def write(d: Path) -> str:
        save_npz(_walk(**change), d / "walk.npz")
        return "walk.npz"
    return write


def _c3d(kind: str):
    def write(d: Path) -> str:
        from test_c3d import write_c3d
        path = d / "trial.c3d"
        write_c3d(path, units="m" if kind != "labelled_mm" else "mm")
        data = path.read_bytes()
        if kind == "cut":
            path.write_bytes(data[: len(data) // 2])
        elif kind == "random":
            path.write_bytes(np.random.default_rng(0).bytes(len(data)))
        elif kind == "labelled_mm":  # metres written under POINT:UNITS mm
            import ezc3d
            c = ezc3d.c3d(str(path))
            pts = c["data"]["points"]
            pts[:3] *= 1e-3
            c["data"]["points"] = pts
            c.write(str(path))
        elif kind == "emg_nan":
            import ezc3d
            c = ezc3d.c3d(str(path))
            a = c["data"]["analogs"]
            a[0, 0, 100] = np.nan
            c["data"]["analogs"] = a
            c.write(str(path))
        return "trial.c3d"
    return write


def _trial(kind: str):
    def write(d: Path) -> str:
        from test_opensim import coords_deg, write_sto, write_trc
        from hdys.schema import RAJAGOPAL_COORDINATES
        s = d / "subj01"
        (s / "IK").mkdir(parents=True)
        (s / "MarkerData").mkdir()
        xyz = np.zeros((6, 3, 3))
        xyz[:, :, 1] = [[1000.0, 500.0, 100.0]]
        xyz[:, :, 0] = [[0.0, 200.0, -150.0]]
        write_trc(s / "MarkerData" / "walk.trc", ["RASI", "LASI", "RTOE"], xyz)
        write_sto(s / "IK" / "walk_ik.mot", list(RAJAGOPAL_COORDINATES), coords_deg())
        trc = s / "MarkerData" / "walk.trc"
        if kind == "random":
            trc.write_bytes(np.random.default_rng(0).bytes(2000))
        elif kind == "uneven":
            lines = trc.read_text().splitlines()
            f = lines[8].split("\t")
            f[1] = f"{float(f[1]) + 0.025:.5f}"
            lines[8] = "\t".join(f)
            trc.write_text("\n".join(lines) + "\n")
        return "walk.trc"
    return write


def _pth(kind: str):
    def write(d: Path) -> str:
        from test_groundlink import trial, write
        path = write(d, "S1", "s001_walk_1", trial(1)[0])
        (d / "subjects.csv").write_text("Subject,Weight\nS1,70\n")
        data = path.read_bytes()
        path.write_bytes(data[:-50] if kind == "cut" else np.random.default_rng(0).bytes(len(data)))
        return path.name
    return write


INPUTS = [
    ("c3d cut inside its frames", "c3d", _c3d("cut")),
    ("c3d of random bytes", "c3d", _c3d("random")),
    ("c3d in metres labelled mm", "c3d", _c3d("labelled_mm")),
    ("c3d with one NaN EMG sample", "c3d", _c3d("emg_nan")),
    ("trc of random bytes beside its .mot", "opensim", _trial("random")),
    ("trc with an uneven time column", "opensim", _trial("uneven")),
    ("GroundLink .pth cut inside", "groundlink", _pth("cut")),
    ("GroundLink .pth of random bytes", "groundlink", _pth("random")),
    ("npz: SMPL translation in mm", "npz", _npz(smpl=lambda a: np.concatenate([a[:, :3] * 1000 + 900, a[:, 3:]], 1))),
    ("npz: joint angles in degrees (< 12.6)", "npz", _npz(
        joint_angles=np.tile(np.r_[np.zeros(3), [0, 0.95, 0], np.linspace(2, 12, 17)], (60, 1)),
        joint_angle_names=None)),
    ("npz: GRF of 1e9 N", "npz", _npz(grf=lambda a: a * 3e6)),
    ("npz: torques x 1e6", "npz", _npz(torque_smpl=lambda a: a * 1e6)),
    ("npz: CoP in mm", "npz", _npz(cop=np.full((60, 2, 3), 450.0))),
    ("npz: fps 1e30", "npz", _npz(fps=1e30)),
    ("npz: complex GRF", "npz", _npz(grf=lambda a: a * (1 + 1j))),
]


def try_inputs(root: Path) -> list[dict]:
    rows = []
    for case, fmt, write in INPUTS:
        d = root / "inputs" / case.replace(" ", "_").replace(":", "").replace("/", "_").replace(".", "")
        d.mkdir(parents=True)
        src = d / "src"
        src.mkdir()
        name = write(src)
        proc = hdys("ingest", fmt, str(src), "--out", str(d / "corpus"), *(["--mass-kg", "70"] if fmt != "npz" else []))
        report = d / "corpus" / "ingest_report.json"
        records = json.loads(report.read_text()) if report.exists() else []
        bad = [r for r in records if Path(r["path"]).name == name]
        accepted = proc.returncode == 0 and bool(bad) and bad[0]["status"] == "ok"
        if case.endswith("NaN EMG sample"):  # the right outcome is acceptance, with the channel intact
            seq = Corpus(d / "corpus").read(Corpus(d / "corpus").entries()[0].sequence_id) if accepted else None
            ok = seq is not None and np.isfinite(seq.emg).all()
            rows.append({"case": case, "outcome": "read, channel intact" if ok else "channel lost",
                         "message": ""})
            continue
        outcome, message = classify(proc, accepted, name)
        rows.append({"case": case, "outcome": outcome, "message": message[-160:]})
    return rows


# --------------------------------------------------------------------------------------------------
# corpora and runs


def _corpus(path: Path) -> Path:
    write_corpus(path, synthetic_sequences(), progress=False)
    return path


def _edit(corpus: Path, sid: str, **fields) -> None:
    m = json.loads((corpus / "manifest.json").read_text())
    for e in m["sequences"]:
        if e["sequence_id"] == sid:
            e.update(fields)
    (corpus / "manifest.json").write_text(json.dumps(m))


def _cfg(path: Path, **train) -> Path:
    path.write_text(json.dumps(tiny_config(**train).to_json()))
    return path


def try_corpora(root: Path) -> list[dict]:
    rows = []

    def shard_of(c: Path, sid: str) -> Path:
        return c / Corpus(c).entry(sid).shard

    def edited(c):
        with h5py.File(shard_of(c, "a10"), "r+") as f:
            f["a10"]["markers"][3, 0, 0] += 0.5

    def truncated(c):
        p = shard_of(c, "b00")
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])

    def nan_in_shard(c):  # NaN written with its checksum: only training can see it
        with h5py.File(shard_of(c, "a00"), "r+") as f:
            f["a00"]["joint_angles"][10, 7] = np.nan
        _edit(c, "a00", checksum=checksum(Corpus(c).read("a00")))

    def group_missing(c):
        with h5py.File(shard_of(c, "a01"), "r+") as f:
            del f["a01"]

    cases = [
        ("shard edited after writing", edited, ["check", "train"]),
        ("shard truncated", truncated, ["check", "train", "export"]),
        ("manifest fps 0", lambda c: _edit(c, "c10", fps=0), ["info", "train"]),
        ("manifest frames beyond the shard", lambda c: _edit(c, "a00", frames=600), ["check", "export"]),
        ("group missing from its shard", group_missing, ["check", "export"]),
        ("NaN in a shard's joint angles", nan_in_shard, ["train"]),
    ]
    for case, damage, verbs in cases:
        for verb in verbs:
            d = root / "corpora" / f"{case.replace(' ', '_')}_{verb}"
            c = _corpus(d / "c")
            damage(c)
            args = {"check": ["check", str(c)], "info": ["info", str(c)],
                    "export": ["export", str(c), "--out", str(d / "npz")],
                    "train": ["train", "--data", str(c), "--out", str(d / "run"),
                              "--config", str(_cfg(d / "cfg.json", epochs=3))]}[verb]
            proc = hdys(*args)
            accepted = proc.returncode == 0
            if verb == "train" and (d / "run" / "checkpoints").exists():
                from safetensors.numpy import load_file
                for ck in (d / "run" / "checkpoints").glob("step-*"):
                    if not all(np.isfinite(v).all() for v in load_file(ck / "model.safetensors").values()):
                        accepted = True  # a NaN checkpoint is the worst acceptance
            outcome, message = classify(proc, accepted, "")
            rows.append({"case": f"{case} ({verb})", "outcome": outcome, "message": message[-160:]})
    return rows


def try_concurrency(root: Path) -> list[dict]:
    rows = []
    d = root / "concurrent"
    src = d / "npz"
    export_npz(Corpus(_corpus(d / "seed")), src, progress=False)
    procs = [subprocess.Popen([sys.executable, "-m", "hdys.cli", "-q", "ingest", "npz", str(src), "--out",
                               str(d / "c")], env=ENV, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate()[1] for p in procs]
    n = len(Corpus(d / "c").entries())
    outcome = "crash" if any("Traceback" in e for e in errs) else (
        "second refused, nothing lost" if n == 18 and sum(p.returncode != 0 for p in procs) <= 1 else f"{18 - n} lost")
    rows.append({"case": "two ingests into one corpus at once", "outcome": outcome,
                 "message": next((e.strip().splitlines()[-1] for e in errs if e.strip()), "")[-160:]})
    cfg = _cfg(d / "cfg.json", epochs=40)
    args = ["-m", "hdys.cli", "-q", "train", "--data", str(d / "c"), "--out", str(d / "run"), "--config", str(cfg)]
    first = subprocess.Popen([sys.executable, *args], env=ENV, stderr=subprocess.PIPE, text=True)
    time.sleep(8)
    second = subprocess.run([sys.executable, *args, "--resume"], env=ENV, capture_output=True, text=True)
    first.kill()
    first.wait()
    outcome = "crash" if "Traceback" in second.stderr else ("second refused" if second.returncode else "both ran")
    rows.append({"case": "two trainings of one run at once", "outcome": outcome,
                 "message": second.stderr.strip().splitlines()[-1][-160:] if second.stderr.strip() else ""})
    return rows


def try_kills(root: Path, kills: int, rng: random.Random) -> list[dict]:
    """Training killed at random moments (one kill per attempt, then resumed to the end), against one
    uninterrupted run: the final weights must be equal bit for bit."""
    from safetensors.numpy import load_file
    d = root / "kills"
    c = _corpus(d / "c")
    cfg = _cfg(d / "cfg.json", epochs=6, checkpoint_every=2, max_steps=12)
    ref = hdys("train", "--data", str(c), "--out", str(d / "ref"), "--config", str(cfg))
    assert ref.returncode == 0, ref.stderr[-2000:]

    def weights(run: Path):
        ck = json.loads((run / "checkpoints" / "latest.json").read_text())["dir"]
        return load_file(run / "checkpoints" / ck / "model.safetensors")

    want = weights(d / "ref")
    survived, bitwise, crashes = 0, 0, []
    for k in range(kills):
        run = d / f"run{k}"
        args = [sys.executable, "-m", "hdys.cli", "-q", "train", "--data", str(c), "--out", str(run), "--config",
                str(cfg)]
        p = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 9.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
        for _ in range(3):  # resumed until it finishes
            r = subprocess.run(args + (["--resume"] if run.exists() else []), env=ENV, capture_output=True, text=True)
            if r.returncode == 0:
                break
        got = weights(run) if r.returncode == 0 else None
        if got is not None and all(np.allclose(want[n], got[n], rtol=0, atol=1e-6) for n in want):
            survived += 1
            bitwise += all(np.array_equal(want[n], got[n]) for n in want)
        else:
            crashes.append(r.stderr.strip().splitlines()[-1] if r.stderr.strip() else "weights differ")
    return [{"case": f"training SIGKILLed at a random moment, then resumed ({kills} kills)",
             "outcome": f"{survived}/{kills} survived ({bitwise} bit for bit, the rest within 1e-6)",
             "message": "; ".join(crashes)[-160:]}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kills", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = Path(args.out)
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty")
    rows = {"bad input files (hdys ingest)": try_inputs(root), "damaged corpora": try_corpora(root),
            "two writers": try_concurrency(root), "kills": try_kills(root, args.kills, random.Random(args.seed))}
    (root / "faults.json").write_text(json.dumps(rows, indent=1))
    lines = ["| group | case | outcome | message |", "|---|---|---|---|"]
    for group, items in rows.items():
        for r in items:
            msg = r["message"].replace("|", "\\|").replace(str(root), "DIR")
            lines.append(f"| {group} | {r['case']} | {r['outcome']} | {msg} |")
    (root / "faults.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

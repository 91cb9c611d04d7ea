"""The real entry point, verb by verb, on the tiny synthetic corpus."""
import json

import numpy as np
import pytest

from conftest import tiny_config
from hdys.cli import main
from hdys.schema import load_npz, save_npz


@pytest.fixture(scope="module")
def run_dir(synth_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    cfg_path = out.parent / "cfg.json"
    cfg_path.write_text(json.dumps(tiny_config(epochs=1).to_json()))
    assert main(["-q", "train", "--data", str(synth_corpus), "--out", str(out), "--config", str(cfg_path),
                 "train.epochs=2"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["epochs"] == 2
    return out


def test_info_prints_parameter_total(capsys):
    assert main(["info"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("total parameters: ") and int(last.split(": ")[1]) > 1_000_000


def test_info_of_a_corpus_lists_datasets(synth_corpus, capsys):
    assert main(["info", str(synth_corpus)]) == 0
    out = capsys.readouterr().out
    for word in ("a", "b", "c", "markers", "torque_smpl", "muscle_activation"):
        assert word in out


def test_export_then_ingest_round_trip(synth_corpus, tmp_path):
    assert main(["-q", "export", str(synth_corpus), "a00", "b10", "--out", str(tmp_path / "npz")]) == 0
    files = sorted(p.name for p in (tmp_path / "npz").glob("*.npz"))
    assert files == ["a00.npz", "b10.npz"]
    seq = load_npz(tmp_path / "npz" / "a00.npz")
    assert seq.dataset == "a" and seq.split in ("train", "test") and seq.joint_angles.shape[1] == 23
    (tmp_path / "npz" / "broken.npz").write_bytes(b"not a zip")
    assert main(["-q", "ingest", "npz", str(tmp_path / "npz"), "--out", str(tmp_path / "c2")]) == 0
    manifest = json.loads((tmp_path / "c2" / "manifest.json").read_text())
    assert {s["sequence_id"] for s in manifest["sequences"]} == {"a00", "b10"}
    assert main(["-q", "ingest", "npz", str(tmp_path / "npz"), "--out", str(tmp_path / "c3"), "--strict"]) == 2


def test_eval_writes_json_and_markdown(run_dir, synth_corpus, tmp_path):
    out = tmp_path / "report.json"
    assert main(["-q", "eval", str(run_dir), "--data", str(synth_corpus), "--out", str(out),
                 "--plots", str(tmp_path / "plots")]) == 0
    rep = json.loads(out.read_text())["results"]
    assert set(rep) == {"a", "b", "c"}
    mpje = rep["a"]["torque_rajagopal"]["mPJE"]
    assert {"avg", "best", "markers", "joint_angles"} <= set(mpje)
    assert mpje["best"] == min(mpje["markers"], mpje["joint_angles"])
    assert "PCC" in rep["c"]["muscle_activation"] and "mPJE" in rep["b"]["grf"]
    assert "| HDyS |" in out.with_suffix(".md").read_text()
    assert any((tmp_path / "plots").glob("*.png"))


def test_predict_outputs_schema_names(run_dir, synth_corpus, tmp_path):
    main(["-q", "export", str(synth_corpus), "b00", "--out", str(tmp_path)])
    assert main(["-q", "predict", str(run_dir), str(tmp_path / "b00.npz"), "--out", str(tmp_path / "p.npz")]) == 0
    with np.load(tmp_path / "p.npz") as z:
        T = load_npz(tmp_path / "b00.npz").num_frames
        assert z["torque_smpl"].shape == (T, 69) and z["grf"].shape == (T, 2, 3)
        assert z["torque_rajagopal"].shape == (T, 17)
        assert "torque_smpl__markers" in z.files and "torque_smpl__smpl" in z.files
        np.testing.assert_allclose(z["torque_smpl"], (z["torque_smpl__markers"] + z["torque_smpl__smpl"]) / 2,
                                   atol=1e-4)
        assert list(z["muscle_names"]) == ["glmax1_r", "recfem_r", "soleus_r", "tibant_r"]
        assert z["latent__smpl"].shape[0] == T


def test_predict_without_mass_gives_per_kg(run_dir, synth_corpus, tmp_path):
    main(["-q", "export", str(synth_corpus), "a00", "--out", str(tmp_path)])
    seq = load_npz(tmp_path / "a00.npz")
    seq.mass_kg, seq.torque_rajagopal = None, None
    save_npz(seq, tmp_path / "nomass.npz")
    assert main(["-q", "predict", str(run_dir), str(tmp_path / "nomass.npz"), "--out", str(tmp_path / "p.npz"),
                 "--representations", "joint_angles"]) == 0
    with np.load(tmp_path / "p.npz") as z:
        assert "torque_rajagopal_per_kg" in z.files and "torque_rajagopal" not in z.files


def test_bad_inputs_give_one_line_errors(run_dir, synth_corpus, tmp_path, capsys):
    np.savez(tmp_path / "mm.npz", fps=30.0, markers=np.ones((5, 2, 3)) * 1000, marker_names=np.array(["a", "b"]))
    assert main(["-q", "predict", str(run_dir), str(tmp_path / "mm.npz"), "--out", str(tmp_path / "p.npz")]) == 2
    assert "millimetres" in capsys.readouterr().err
    np.savez(tmp_path / "dyn.npz", fps=30.0, mass_kg=70.0, emg=np.ones((5, 1)), emg_names=np.array(["x"]))
    assert main(["-q", "predict", str(run_dir), str(tmp_path / "dyn.npz"), "--out", str(tmp_path / "p.npz")]) == 2
    assert "no kinematics representation" in capsys.readouterr().err
    assert main(["-q", "eval", str(tmp_path), "--data", str(synth_corpus), "--out", str(tmp_path / "r.json")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["-q", "info", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["-q", "train", "--data", str(synth_corpus), "--out", str(tmp_path / "x"), "model.nope=1"]) == 2
    assert "unknown field" in capsys.readouterr().err


@pytest.mark.slow
def test_quickstart_smoke_runs_every_stage_and_resumes(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["-q", "quickstart", "--out", str(out), "--preset", "tiny", "--budget", "0.05"]) == 0
    report = (out / "report.md").read_text()
    assert "| HDyS |" in report and "| mean predictor |" in report
    assert {"hdys", "mean_predictor", "timings", "training"} <= set(json.loads((out / "report.json").read_text()))
    assert any((out / "plots").glob("*.png"))
    steps = json.loads((out / "trained.json").read_text())["steps"]
    assert steps > 0
    # a second call reuses the corpus and the trained run
    assert main(["-q", "quickstart", "--out", str(out), "--preset", "tiny", "--budget", "0.05"]) == 0
    assert json.loads((out / "trained.json").read_text())["steps"] == steps


def test_ingest_amass_then_train_on_a_mixture(synth_corpus, tmp_path):
    """Done-means of the ingest issue: an ingested corpus and another corpus train together."""
    src = tmp_path / "amass" / "subj01"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for k in range(2):
        np.savez(src / f"walk{k}_poses.npz", poses=0.1 * rng.standard_normal((90, 156)),
                 trans=np.cumsum(0.01 * np.ones((90, 3)), 0), betas=np.zeros(16), gender="neutral",
                 mocap_framerate=60.0)
    assert main(["-q", "ingest", "amass", str(tmp_path / "amass"), "--out", str(tmp_path / "ac"), "--fps", "30"]) == 0
    manifest = json.loads((tmp_path / "ac" / "manifest.json").read_text())
    assert len(manifest["sequences"]) == 2 and manifest["sequences"][0]["fps"] == 30.0
    assert main(["-q", "ingest", "amass", str(tmp_path / "amass"), "--out", str(tmp_path / "x"), "--mass-kg", "70"]) == 2
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(tiny_config(epochs=1).to_json()))
    assert main(["-q", "train", "--data", f"{synth_corpus},{tmp_path / 'ac'}", "--out", str(tmp_path / "run"),
                 "--config", str(cfg_path)]) == 0
    log = (tmp_path / "run" / "train.log").read_text()
    assert "'amass'" in log and "'a'" in log

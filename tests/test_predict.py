"""hdys predict and hdys.load on real-format files: format detection, OpenSim files that hdys' own OpenSim
reader reads back, plots, bad inputs, time linear in length (issue 19)."""
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

import hdys
from conftest import tiny_config
from hdys.cli import main
from hdys.formats import read_source
from hdys.predict import detect_format, osim_mass
from hdys.schema import RAJAGOPAL_TORQUE_DOFS, save_npz
from hdys.store import Corpus

sys.path.insert(0, str(Path(__file__).parent / "formats"))  # the format tests' file writers
T = 60


@pytest.fixture(scope="module")
def run_dir(synth_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("predict") / "run"
    cfg = out.parent / "cfg.json"
    cfg.write_text(json.dumps(tiny_config(epochs=1).to_json()))
    assert main(["-q", "train", "--data", str(synth_corpus), "--out", str(out), "--config", str(cfg)]) == 0
    return out


@pytest.fixture
def opensim_trial(tmp_path):
    """subj01/{MarkerData/walk.trc (3 markers, mm), IK/walk_ik.mot (degrees)}, as OpenSim writes them."""
    from test_opensim import write_sto, write_trc
    from hdys.schema import RAJAGOPAL_COORDINATES
    s = tmp_path / "subj01"
    (s / "MarkerData").mkdir(parents=True)
    (s / "IK").mkdir()
    t = np.arange(T) / 100.0
    xyz = np.zeros((T, 3, 3))
    xyz[:, :, 1] = [900.0, 920.0, 80.0]
    xyz[:, :, 0] = np.array([0.0, 250.0, 100.0]) + 1000 * t[:, None]
    write_trc(s / "MarkerData" / "walk.trc", ["RASI", "LASI", "RTOE"], xyz)
    q = np.zeros((T, 23))
    q[:, 4] = 0.93
    q[:, 9] = 30 + 20 * np.sin(2 * np.pi * t)  # knee, degrees
    write_sto(s / "IK" / "walk_ik.mot", list(RAJAGOPAL_COORDINATES), q)
    return tmp_path


def test_the_python_api_names_its_outputs_and_predicts_a_sequence(run_dir, synth_corpus):
    model = hdys.load(run_dir)
    assert model.outputs["torque_rajagopal"] == {"unit": "N m", "channels": list(RAJAGOPAL_TORQUE_DOFS)}
    assert model.outputs["grf"]["unit"] == "N" and len(model.outputs["grf"]["channels"]) == 6
    assert model.outputs["muscle_activation"]["channels"] == ["glmax1_r", "recfem_r", "soleus_r", "tibant_r"]
    seq = Corpus(synth_corpus).read("b00")
    pred = model.predict(seq)
    assert pred.arrays["torque_smpl"].shape == (seq.num_frames, 69) and pred.arrays["grf"].shape == (seq.num_frames, 2, 3)


def test_formats_are_detected_from_the_files(tmp_path, opensim_trial, synth_corpus):
    from test_c3d import write_c3d
    write_c3d(tmp_path / "a.c3d")
    assert detect_format(tmp_path / "a.c3d") == "c3d"
    assert detect_format(opensim_trial / "subj01") == "opensim"
    np.savez(tmp_path / "x_poses.npz", poses=np.zeros((5, 156)), trans=np.zeros((5, 3)), mocap_framerate=60.0)
    assert detect_format(tmp_path / "x_poses.npz") == "amass"
    save_npz(Corpus(synth_corpus).read("a00"), tmp_path / "a00.npz")
    assert detect_format(tmp_path / "a00.npz") == "npz"
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="--format"):
        detect_format(tmp_path / "notes.txt")


@pytest.mark.slow
def test_predict_writes_opensim_files_that_read_back(run_dir, opensim_trial, tmp_path):
    out = tmp_path / "pred"
    assert main(["-q", "predict", str(run_dir), str(opensim_trial / "subj01"), "--out", str(out), "--mass-kg", "70",
                 "--output", "npz,opensim,plots"]) == 0
    stem = "subj01__walk"
    names = {p.name for p in out.iterdir()}
    assert {f"{stem}.npz", f"{stem}_id.sto", f"{stem}_activations.sto", f"{stem}_grf.mot",
            f"{stem}_external_loads.xml", f"{stem}_emg.sto"} <= names
    with np.load(out / f"{stem}.npz") as z:
        tau, grf, act = z["torque_rajagopal"], z["grf"], z["muscle_activation"]
        muscles = list(z["muscle_names"])
    # hdys' own OpenSim reader takes the written files as an OpenSim trial: moments, activations, forces
    trial = tmp_path / "back" / "subj01"
    trial.mkdir(parents=True)
    for f in (f"{stem}_id.sto", f"{stem}_activations.sto", f"{stem}_grf.mot", f"{stem}_external_loads.xml"):
        (trial / f.replace(stem, "walk")).write_text((out / f).read_text().replace(f"{stem}_grf.mot", "walk_grf.mot"))
    (trial / "walk_ik.mot").write_text((opensim_trial / "subj01" / "IK" / "walk_ik.mot").read_text())
    (back,) = read_source("opensim", trial, mass_kg=70)
    np.testing.assert_allclose(back.torque_rajagopal, tau, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(back.grf, grf, rtol=1e-6, atol=1e-4)  # y up in the file, z up again here
    assert back.muscle_names == muscles
    np.testing.assert_allclose(back.muscle_activation, np.clip(act, 0, 1), atol=1e-6)
    assert np.isnan(back.cop).all()  # no CoP predicted: applied at the calcaneus, not read as a CoP
    assert any(p.suffix == ".png" for p in (out / "plots").iterdir())


@pytest.mark.slow
def test_many_inputs_of_several_formats_in_one_call(run_dir, opensim_trial, synth_corpus, tmp_path, capsys):
    from test_c3d import write_c3d
    write_c3d(tmp_path / "lab.c3d")
    save_npz(Corpus(synth_corpus).read("a00"), tmp_path / "a00.npz")
    out = tmp_path / "pred"
    assert main(["-q", "predict", str(run_dir), str(tmp_path / "lab.c3d"), str(opensim_trial / "subj01"),
                 str(tmp_path / "a00.npz"), "--out", str(out), "--output", "npz,plots"]) == 0
    npz = sorted(p.name for p in out.glob("*.npz"))
    assert len(npz) == 3 and "a00.npz" in npz
    # a00 carries its own torques: the plot is predicted against reference, the error in its title
    assert (out / "plots" / "a00_torque_rajagopal.png").exists()


def test_an_osim_model_gives_the_mass(tmp_path):
    (tmp_path / "m.osim").write_text("<OpenSimDocument><Model><BodySet><objects><Body name='pelvis'><mass>11.7</mass>"
                                     "</Body><Body name='femur_r'><mass>9.3</mass></Body></objects></BodySet></Model>"
                                     "</OpenSimDocument>")
    assert osim_mass(tmp_path / "m.osim") == pytest.approx(21.0)
    (tmp_path / "bad.osim").write_text("<nope")
    with pytest.raises(ValueError, match="bad.osim"):
        osim_mass(tmp_path / "bad.osim")


def test_inputs_without_information_are_refused(run_dir, synth_corpus, tmp_path, capsys, caplog):
    seq = Corpus(synth_corpus).read("c00")  # markers only
    seq.markers[:] = np.nan
    seq.muscle_activation = seq.emg = None
    save_npz(seq, tmp_path / "blind.npz")
    assert main(["-q", "predict", str(run_dir), str(tmp_path / "blind.npz"), "--out", str(tmp_path / "p.npz")]) == 2
    assert "carries information" in capsys.readouterr().err
    seq = Corpus(synth_corpus).read("b00")
    seq.markers[:] = np.nan  # markers lost, SMPL still there: predicted from SMPL alone, with a warning
    with caplog.at_level(logging.WARNING):
        pred = hdys.load(run_dir).predict(seq)
    assert list(pred.arrays["representations"]) == ["smpl"] and "markers carries no information" in caplog.text


def test_prediction_time_is_linear_in_length(run_dir, synth_corpus):
    """The work per frame does not grow with the length (it did: each window allocated full-length
    arrays). Counted, not timed: the elements np.zeros allocates grow with the frames, not their square."""
    from hdys import data
    model = hdys.load(run_dir)
    base = Corpus(synth_corpus).read("a00")
    sizes = {}
    real_zeros = np.zeros

    def counting_zeros(shape, *a, **k):
        sizes["n"] = sizes.get("n", 0) + int(np.prod(shape))
        return real_zeros(shape, *a, **k)

    for reps in (10, 40):
        seq = base.slice(0, base.num_frames)
        for key in ("joint_angles", "markers", "torque_rajagopal"):
            setattr(seq, key, np.concatenate([getattr(base, key)] * reps))
        sizes["n"] = 0
        data.np.zeros = counting_zeros
        try:
            model.predict(seq)
            sizes[reps] = sizes["n"]
        finally:
            data.np.zeros = real_zeros
    # zeros allocated grow 4x for 4x the frames (they grew 16x before)
    assert sizes[40] <= 4.5 * sizes[10]


def test_a_model_trained_on_older_features_is_named_at_load(run_dir, tmp_path, caplog):
    """A run records the feature version its statistics were computed by; loading a run of another (or an
    unrecorded) version warns that its predictions differ from what it learned."""
    import shutil
    from hdys.features import FEATURE_VERSION
    assert json.loads((run_dir / "normalizer.json").read_text())["feature_version"] == FEATURE_VERSION
    with caplog.at_level(logging.WARNING, logger="hdys"):
        hdys.load(run_dir)
    assert "features of version" not in caplog.text
    old = tmp_path / "old"
    shutil.copytree(run_dir, old)
    norm = json.loads((old / "normalizer.json").read_text())
    del norm["feature_version"]  # as written before the version was recorded
    (old / "normalizer.json").write_text(json.dumps(norm))
    with caplog.at_level(logging.WARNING, logger="hdys"):
        hdys.load(old)  # still loads
    assert f"{old} was trained on features of version 1 or 2 (not recorded)" in caplog.text
    assert f"computes version {FEATURE_VERSION}" in caplog.text

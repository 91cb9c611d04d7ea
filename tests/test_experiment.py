"""`hdys experiment`: the registry's variants, the table7 parameter table, a trained and resumed
two-variant experiment, Figure 3 and the t-SNE."""
import json
import shutil

import numpy as np
import pytest

import hdys.experiment as X
import hdys.figure3
from hdys.config import apply_overrides, Config
from hdys.experiment import run_experiment
from hdys.figure3 import knn_accuracy, tsne
from hdys.registry import CorpusInfo, describe_corpora, fifty_fifty, variants
from hdys.tables import claims
from hdys.model import MODELS

# tests/conftest.py's tiny_config as overrides, a few steps per variant
TINY = ["model.latent_dim=32", "model.encoder_hidden=[64,32]", "model.point_layers=1", "model.temporal_layers=1",
        "train.sequences_per_dataset=4", "train.batch_frames=96", "train.window=16", "train.checkpoint_every=2",
        "train.max_steps=2", "train.threads=2"]

FIXTURE = CorpusInfo(
    train={"lab": 28, "sim": 28, "muscle": 20, "emg": 24, "kin": 28},
    test={"lab": 4, "sim": 4, "muscle": 12, "emg": 8, "kin": 4},
    dynamics={"lab": ["torque_rajagopal", "grf"], "sim": ["torque_smpl", "grf"], "muscle": ["muscle_activation"],
              "emg": ["emg"], "kin": []},
    kinematics={"lab": ["markers", "keypoints", "joint_angles"], "sim": ["markers", "keypoints", "smpl"],
                "muscle": ["markers", "keypoints"], "emg": ["markers", "keypoints"],
                "kin": ["markers", "keypoints", "smpl"]})


def _over(v, key):
    return {o.split("=", 1)[0]: json.loads(o.split("=", 1)[1]) if o.split("=", 1)[1][:1] in "[{" else o.split("=", 1)[1]
            for o in v.overrides}.get(key)


def test_table1_variants_have_the_right_overrides():
    vs = {v.key: v for v in variants("table1", FIXTURE)}
    for d in ("lab", "sim", "muscle", "emg"):
        assert _over(vs[f"single-{d}"], "train.datasets") == [d] and vs[f"single-{d}"].datasets == (d,)
    assert "single-kin" not in vs  # no dynamics: no single-dataset row
    for d in FIXTURE.datasets:
        assert _over(vs[f"wo-{d}"], "train.datasets") == [x for x in FIXTURE.datasets if x != d]
        assert d not in vs[f"wo-{d}"].datasets and "kin" not in vs[f"wo-{d}"].datasets
    assert _over(vs["wo-align"], "model.use_align") == "false" and _over(vs["wo-fdae"], "model.use_fdae") == "false"
    # the base config is the quickstart's 64-D, so the size rows are 32-D and 128-D
    assert {k for k in vs if k.startswith("latent")} == {"latent32", "latent128"}
    assert _over(vs["imdys"], "train.datasets") == ["lab", "sim"]  # torques / GRF
    assert _over(vs["mia"], "train.datasets") == ["muscle", "emg"]
    assert _over(vs["groundlink"], "train.datasets") == ["lab", "sim"]
    assert {"imdys", "mia", "groundlink", "mean", "mlp"} <= set(vs)
    assert len(vs) == 1 + 4 + 5 + 2 + 2 + 5
    for v in vs.values():  # every override list makes a valid config
        apply_overrides(Config(), list(v.overrides))
    assert {v.key for v in variants("table1", FIXTURE, ["model.latent_dim=128"])} >= {"latent32", "latent64"}


def test_table2_fifty_fifty_keeps_the_target_scale():
    vs = {v.key: v for v in variants("table2", FIXTURE)}
    assert set(vs) == {f"{t}-{k}" for t in ("lab", "emg") for k in ("single50", "fifty-fifty", "single")}
    for t in ("lab", "emg"):
        mix = fifty_fifty(FIXTURE, t)
        assert sum(mix.values()) == FIXTURE.train[t] and mix[t] == FIXTURE.train[t] // 2
        fr = _over(vs[f"{t}-fifty-fifty"], "train.fractions")
        assert fr[t] == 0.5 and _over(vs[f"{t}-fifty-fifty"], "train.datasets") == list(mix)
        # what train.subset draws from these fractions
        assert sum(max(1, round(fr.get(d, 1.0) * FIXTURE.train[d])) for d in mix) == FIXTURE.train[t]
        # an epoch of 50/50 draws as many windows as one of a single dataset, half from the target
        shares = _over(vs[f"{t}-fifty-fifty"], "train.shares")
        assert shares[t] == pytest.approx(0.5, abs=0.02) and sum(shares.values()) == pytest.approx(1.0)
        assert _over(vs[f"{t}-single50"], "train.fractions") == {t: 0.5}
        assert _over(vs[f"{t}-single"], "train.datasets") == [t]
    other = {d: c for d, c in fifty_fifty(FIXTURE, "lab").items() if d != "lab"}
    assert other == {"sim": 4, "muscle": 3, "emg": 3, "kin": 4}  # proportional to 28, 20, 24, 28


def test_table7_lists_every_arch_without_training(synth_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr("hdys.train.train", lambda *a, **k: pytest.fail("table7 must not train"))
    res = run_experiment("table7", [str(synth_corpus)], tmp_path, 5.0, progress=False)
    assert set(MODELS) <= set(res["params"]) and {"hdys-32d", "hdys-64d", "hdys-128d"} <= set(res["params"])
    assert all(r["paper_vocab"] > 0 and r["this_corpus"] > 0 for r in res["params"].values())
    md = (tmp_path / "table7" / "table.md").read_text()
    assert "GroundLinkNet" in md and "HDyS-32D" in md
    assert not list((tmp_path / "table7").glob("*/run"))


def test_cli_takes_overrides_after_the_options_and_defaults_every_experiment(synth_corpus, tmp_path, capsys):
    from hdys.cli import main
    from hdys.registry import DEFAULT_EPOCHS, EXPERIMENTS
    assert set(DEFAULT_EPOCHS) == set(EXPERIMENTS)  # `hdys experiment NAME` alone runs the paper's protocol
    assert main(["-q", "experiment", "table7", "--data", str(synth_corpus), "--out", str(tmp_path),
                 "model.latent_dim=32"]) == 0
    res = json.loads((tmp_path / "table7" / "results.json").read_text())
    assert res["base_overrides"] == ["model.latent_dim=32"]
    with pytest.raises(ValueError, match="settings of table6"):
        run_experiment("table7", [str(synth_corpus)], tmp_path, 0.0, progress=False,
                       base_overrides=["control.timesteps=10"])


@pytest.fixture(scope="module")
def table9(synth_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    return out, run_experiment("table9", [str(synth_corpus)], out, 0.4, progress=False, base_overrides=TINY)


def test_table9_trains_evaluates_and_skips_finished_variants(table9, synth_corpus, monkeypatch):
    root, res = table9
    out = root / "table9"
    assert res["budget_per_variant_minutes"] == pytest.approx(0.2)
    assert set(res["variants"]) == {"hdys", "wo-temporal"}
    for key, rec in res["variants"].items():
        assert (out / key / "eval.json").exists() and rec["training"]["steps"] == 2
        assert "train.budget_minutes=0.2" in rec["commands"][0]
    cfg = json.loads((out / "wo-temporal" / "run" / "config.json").read_text())
    assert cfg["model"]["use_temporal"] is False and cfg["train"]["budget_minutes"] == 0.2
    saved = json.loads((out / "results.json").read_text())
    assert saved["rows"]["HDyS"]["a"]["torque_rajagopal"]["mPJE"]["avg"] > 0
    assert saved["budget_minutes"] == 0.4 and saved["corpora"] == [str(synth_corpus.resolve())]
    md = (out / "table.md").read_text()
    assert "0.20 min of training per variant" in md and "HDyS w/o Temporal Refinement" in md
    assert "## Reading" in md and "temporal refinement helps" in md
    assert saved["claims"][0]["verdict"] in ("holds", "mixed", "does not hold")

    import hdys.evaluate
    import hdys.train
    monkeypatch.setattr(hdys.train, "train", lambda *a, **k: pytest.fail("a finished variant must not retrain"))
    monkeypatch.setattr(hdys.evaluate, "evaluate", lambda *a, **k: pytest.fail("nor re-evaluate"))
    again = run_experiment("table9", [str(synth_corpus)], root, 0.4, progress=False, base_overrides=TINY)
    assert all(r["status"].startswith("done before") for r in again["variants"].values())
    assert again["rows"] == saved["rows"]


def test_a_variant_with_a_checkpoint_but_no_eval_resumes(table9, synth_corpus, tmp_path, monkeypatch):
    shutil.copytree(table9[0] / "table9", tmp_path / "table9")
    (tmp_path / "table9" / "hdys" / "eval.json").unlink()
    (tmp_path / "table9" / "hdys" / "trained.json").unlink()
    calls = []
    import hdys.train
    real = hdys.train.train
    monkeypatch.setattr(hdys.train, "train", lambda *a, **k: calls.append(k["resume"]) or real(*a, **k))
    res = run_experiment("table9", [str(synth_corpus)], tmp_path, 0.4, progress=False,
                         base_overrides=[*TINY[:-2], "train.max_steps=3"])
    assert calls == [True] and res["variants"]["hdys"]["training"]["steps"] == 3
    assert res["variants"]["hdys"]["status"] == "resumed and evaluated"
    assert res["variants"]["wo-temporal"]["status"].startswith("done before")


def test_fig3_takes_table1_runs_and_writes_the_tsne_png(table9, synth_corpus, tmp_path, monkeypatch):
    # a finished table1 in the same out dir (its HDyS run stands in for both rows here): no training
    for key in ("hdys", "wo-align"):
        shutil.copytree(table9[0] / "table9" / "hdys", tmp_path / "table1" / key)
    import hdys.train
    monkeypatch.setattr(hdys.train, "train", lambda *a, **k: pytest.fail("fig3 must take the table1 runs"))
    monkeypatch.setattr(hdys.figure3, "FIG3_FRAMES", 300)
    res = run_experiment("fig3", [str(synth_corpus)], tmp_path, 0.1, progress=False, base_overrides=TINY)
    png = tmp_path / "fig3" / "fig3.png"
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"
    assert set(res["fig3"]["models"]) == {"HDyS", "HDyS w/o L_align"}
    assert all(0 <= m["representation_knn"] <= 1 for m in res["fig3"]["models"].values())
    assert all(r["status"].startswith("taken from table1") for r in res["variants"].values())
    assert any("L_align keeps" in c["claim"] for c in res["claims"])
    assert "fig3.png" in (tmp_path / "fig3" / "table.md").read_text()


def test_tsne_separates_two_gaussian_clusters():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(80, 10)), rng.normal(size=(80, 10)) + 6.0])
    labels = [0] * 80 + [1] * 80
    y = tsne(x, perplexity=20, iterations=300)
    assert y.shape == (160, 2) and knn_accuracy(y, labels) == 1.0
    c0, c1 = y[:80].mean(0), y[80:].mean(0)
    assert np.linalg.norm(c0 - c1) > 3 * max(y[:80].std(0).max(), y[80:].std(0).max())


def test_claims_read_the_numbers():
    def nested(v):
        return {"lab": {"torque_rajagopal": {"mPJE": {"avg": v, "best": v}}},
                "emg": {"emg": {"RMSE": {"avg": 10 * v, "best": 10 * v}, "PCC": {"avg": 1 - v, "best": 1 - v}}}}

    def rec(name, role, param="", shown=()):
        return {"name": name, "role": role, "param": param, "datasets_shown": list(shown)}

    rows = {"HDyS": nested(0.1), "lab-only HDyS": nested(0.2), "HDyS w/o L_align": nested(0.05),
            "HDyS w/o emg": nested(0.3), "HDyS w/o lab": nested(0.11)}
    results = {"experiment": "table1", "rows": rows, "corpus": {"dynamics": {"lab": ["torque_rajagopal"],
                                                                             "emg": ["emg"]}},
               "variants": {"a": rec("HDyS", "hdys", "64"), "b": rec("lab-only HDyS", "single", "lab", ["lab"]),
                            "c": rec("HDyS w/o L_align", "no_align"), "d": rec("HDyS w/o emg", "drop", "emg"),
                            "e": rec("HDyS w/o lab", "drop", "lab")}}
    got = {c["claim"]: c for c in claims(results)}
    assert got["heterogeneous training beats lab-only training on lab"]["verdict"] == "holds"
    assert "0.1000 vs lab-only HDyS 0.2000" in got["heterogeneous training beats lab-only training on lab"]["summary"]
    assert got["L_align helps"]["verdict"] == "does not hold"
    # no same-type dataset to drop for either target: not testable
    assert got["dropping a dataset hurts most where the dynamics types match (torque vs muscle)"]["verdict"].startswith("not")


def test_equal_steps_trains_every_variant_for_the_same_number_of_steps(synth_corpus, tmp_path):
    res = run_experiment("table9", [str(synth_corpus)], tmp_path, 0.0, progress=False,
                         base_overrides=TINY[:-2], steps=3)
    assert res["steps_per_variant"] == 3 and res["budget_per_variant_minutes"] == 0.0
    for rec in res["variants"].values():
        assert rec["training"]["steps"] == 3 and rec["training"]["stopped_by"] == "max_steps"
        assert "train.max_steps=3" in rec["commands"][0]
    md = (tmp_path / "table9" / "table.md").read_text()
    assert "3 optimiser steps per variant" in md and "--steps 3" in md
    with pytest.raises(ValueError, match="number of epochs"):
        run_experiment("table9", [str(synth_corpus)], tmp_path / "b", 0.0, progress=False, base_overrides=TINY)


def test_equal_exposure_gives_every_dataset_the_same_windows_whatever_the_variant_trains_on(synth_corpus, tmp_path):
    """The paper's protocol: a variant on one dataset trains 1/k of the steps of one on k datasets."""
    tiny = [o for o in TINY if not o.startswith("train.max_steps")]
    res = run_experiment("table9", [str(synth_corpus)], tmp_path, progress=False, epochs=2,
                         base_overrides=[*tiny, "train.datasets=[\"a\"]"])
    full = run_experiment("table9", [str(synth_corpus)], tmp_path / "all", progress=False, epochs=2,
                          base_overrides=tiny)
    k = len(describe_corpora([str(synth_corpus)]).train)
    assert k > 1
    one, many = res["variants"]["hdys"]["training"], full["variants"]["hdys"]["training"]
    assert one["stopped_by"] == many["stopped_by"] == "epochs" and one["epochs_done"] == 2
    windows_per_step = 96 // 16
    assert one["steps"] == 2 * -(-4 // windows_per_step) and many["steps"] == 2 * -(-4 * k // windows_per_step)
    md = (tmp_path / "table9" / "table.md").read_text()
    assert "equal per-dataset exposure" in md and "2 epochs of 4 windows per dataset" in md
    assert "--epochs 2" in md


@pytest.mark.slow
def test_table5_simulates_the_lab_test_sequences_with_the_hdys_run(tmp_path, monkeypatch):
    from hdys.physics.fixture import generate_subject
    from hdys.store import write_corpus
    seqs = [s.slice(0, 60) for subj in range(3) for s in generate_subject("tiny", 0, "lab", subj)]
    write_corpus(tmp_path / "lab", seqs, test_fraction=0.5, progress=False)
    res = run_experiment("table5", [str(tmp_path / "lab")], tmp_path / "out", progress=False, steps=2,
                         base_overrides=TINY)
    sim = res["simulation"]
    assert list(sim["mse"]) == ["90"] and set(sim["mse"]["90"]) == {"hdys", "labels", "inverse"}
    assert all(len(v) == 5 for v in sim["mse"]["90"].values())
    assert sim["sequences"] and all(s["fps"] == 90.0 for s in sim["sequences"])
    claim = next(c for c in res["claims"] if "drifts less" in c["claim"])
    assert len(claim["comparisons"]) == 5
    md = (tmp_path / "out" / "table5" / "table.md").read_text()
    assert "| HDyS | 90 |" in md and (tmp_path / "out" / "table5" / "simulate.png").exists()
    import hdys.simulate
    monkeypatch.setattr(hdys.simulate, "simulate_run", lambda *a, **k: pytest.fail("a re-run must not simulate again"))
    again = run_experiment("table5", [str(tmp_path / "lab")], tmp_path / "out", progress=False, steps=2,
                           base_overrides=TINY)
    assert again["simulation"]["mse"] == sim["mse"]


@pytest.fixture(scope="module")
def grf_corpus(tmp_path_factory):
    """A GroundLink-like target: subject 1 (train, from the tiny preset) and subject 7 (test), 40 frames each."""
    from hdys.physics.fixture import generate_subject
    from hdys.store import write_corpus
    seqs = generate_subject("tiny", 0, "grf", 0) + generate_subject("grf", 0, "grf", 6)[:3]
    path = tmp_path_factory.mktemp("grf") / "grf"
    write_corpus(path, [s.slice(0, 40) for s in seqs], progress=False)
    return path


@pytest.mark.slow
def test_table4_fine_tunes_the_pretrained_run_and_table10_takes_it(grf_corpus, synth_corpus, tmp_path, monkeypatch):
    data = [str(synth_corpus), str(grf_corpus)]
    res = run_experiment("table4", data, tmp_path, progress=False, steps=2, base_overrides=TINY)
    v = res["variants"]
    assert list(v) == ["groundlink", "grf-only", "hdys", "finetuned"]
    pre = json.loads((tmp_path / "table4" / "hdys" / "run" / "config.json").read_text())
    assert pre["train"]["datasets"] == ["a", "b", "c"]  # pretrained without the target
    init = next(o for o in v["finetuned"]["commands"][0].split() if o.startswith("train.init_from="))
    assert init == f"train.init_from={tmp_path / 'table4' / 'hdys' / 'run'}"
    cfg = json.loads((tmp_path / "table4" / "finetuned" / "run" / "config.json").read_text())
    assert cfg["train"]["datasets"] == ["grf"] and cfg["train"]["init_from"].endswith("hdys/run")
    rows = res["rows"]
    assert {"GroundLinkNet", "GroundLink-only HDyS", "HDyS"} <= set(rows)
    grf = rows["HDyS"]["grf"]["grf"]
    assert {"mPJE_left", "mPJE_right"} <= set(grf)
    claim = next(c for c in res["claims"] if c["claim"] == "HDyS beats GroundLinkNet on grf")
    assert [c["column"] for c in claim["comparisons"]] == ["grf grf mPJE_left", "grf grf mPJE_right"]
    import hdys.train
    # table4 took its pretrained row from a finished table1: table10 follows it there
    shutil.move(tmp_path / "table4" / "hdys", tmp_path / "table1" / "hdys")
    rec = json.loads((tmp_path / "table4" / "results.json").read_text())
    rec["variants"]["hdys"]["dir"] = str(tmp_path / "table1" / "hdys")
    (tmp_path / "table4" / "results.json").write_text(json.dumps(rec))
    monkeypatch.setattr(hdys.train, "train", lambda *a, **k: pytest.fail("table10 must take the table4 runs"))
    again = run_experiment("table10", data, tmp_path, progress=False, steps=2, base_overrides=TINY)
    assert all(r["status"].startswith("taken from table4") for r in again["variants"].values())
    assert {"HDyS-marker", "HDyS-keypoint", "HDyS-SMPL", "HDyS (all)"} <= set(again["rows"])
    assert again["rows"]["HDyS (all)"]["grf"]["grf"]["mPJE"]["avg"] == grf["mPJE"]["avg"]
    assert "grf grf mPJE_left" in (tmp_path / "table10" / "table.md").read_text()  # the paper's per-foot columns
    # a pretrained row taken from a table1 that never saw the target is evaluated on it (zero-shot)
    rec = {"name": "pretrained", "param": "grf", "dir": str(tmp_path / "table1" / "hdys"), "eval": {"results": {}}}
    X._zero_shot(rec, tmp_path, data, progress=False)
    assert rec["eval"]["results"]["grf"]["grf"]["mPJE_left"]["avg"] > 0
    assert (tmp_path / "hdys-zero-shot.json").exists()


@pytest.mark.slow
def test_table6_trains_both_policies_evaluates_them_and_resumes(tmp_path, monkeypatch):
    """`hdys experiment table6` end to end on tiny `sim` clips: the HDyS row, both policies, the PD floor,
    the tracking plot, the table and the claim; a re-run evaluates nothing again."""
    from hdys.physics.fixture import generate_subject
    from hdys.store import write_corpus
    seqs = [s.slice(0, 45) for subj in range(4) for s in generate_subject("tiny", 0, "sim", subj)]
    write_corpus(tmp_path / "sim", seqs, test_fraction=0.5, progress=False)
    control = ["control.train_clips=1",  # the rest of the train split validates
               "control.timesteps=64", "control.n_envs=1", "control.n_steps=32", "control.batch_size=32",
               "control.n_epochs=1", "control.checkpoint_every=32", "control.max_episode_frames=20"]
    res = run_experiment("table6", [str(tmp_path / "sim")], tmp_path / "out", progress=False, steps=2,
                         base_overrides=[*TINY, *control])
    rows = res["control"]["rows"]
    assert list(rows) == ["PD on the reference (no policy)", "Baseline", "Baseline + HDyS"]
    for row in rows.values():
        assert 0.0 <= row["success_rate"] <= 1.0 and row["mpjpe_g"] > 0 and np.isfinite(row["e_acc"])
    assert res["control"]["train_clips"] and res["control"]["test_clips"]
    assert not set(res["control"]["train_clips"]) & set(res["control"]["test_clips"])
    validation = res["control"]["validation_clips"]  # checkpoints chosen on train-split clips, never on test
    assert validation and not set(validation) & (set(res["control"]["train_clips"]) | set(res["control"]["test_clips"]))
    assert set(res["control"]["selected_timesteps"].values()) <= {32, 64}
    claim = next(c for c in res["claims"] if "motion imitation" in c["claim"])
    assert len(claim["comparisons"]) == 5
    out = tmp_path / "out" / "table6"
    md = (out / "table.md").read_text()
    assert "| Baseline + HDyS |" in md and "control.timesteps=64" in md and "validation clips" in md
    assert (out / "control" / "tracking.png").stat().st_size > 0
    # every test clip's share tracked, per row, beside the plots of single clips
    assert (out / "control" / "frames_tracked.png").stat().st_size > 0 and "control/frames_tracked.png" in md
    assert json.loads((out / "control" / "hdys" / "config.json").read_text())["with_latent"] is True
    import hdys.control.policy
    monkeypatch.setattr(hdys.control.policy, "evaluate_policy",
                        lambda *a, **k: pytest.fail("a re-run must not evaluate the policies again"))
    again = run_experiment("table6", [str(tmp_path / "sim")], tmp_path / "out", progress=False, steps=2,
                           base_overrides=[*TINY, *control])
    assert again["control"]["rows"] == rows

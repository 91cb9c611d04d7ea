"""Baselines (hdys.model.baselines): every registered model trains and predicts through the same contract."""
import numpy as np
import pytest
import torch

from conftest import tiny_config
from hdys.config import Config
from hdys.model import MODELS, build_model, parameter_counts
from hdys.model.baselines import BASELINES, flatten_points, parameter_table, point_windows

# what each baseline reads and predicts (None: every representation / dynamics type)
READS = {"imdys": {"markers", "keypoints"}, "mia": {"keypoints"}, "groundlink": {"smpl", "keypoints"}}
PREDICTS = {"imdys": {"torque_smpl", "torque_rajagopal", "grf"}, "mia": {"emg", "muscle_activation"},
            "groundlink": {"grf"}}


def _batch(corpus_path, cfg, T=16):
    """A batch of every dataset of the synthetic corpus, with a keypoint set (a copy of the markers) so
    that the keypoint-only baselines have an input."""
    from conftest import make_batch
    batch = make_batch(corpus_path, cfg, T)
    mk = batch["kin"]["markers"]
    valid = mk["valid"].clone()
    valid[:, :, -2:] = False  # some occluded keypoints
    valid[0, 3] = False  # and a frame with none visible
    batch["kin"]["keypoints"] = {"x": mk["x"] * valid[..., None], "valid": valid, "idx": mk["idx"]}
    return batch


@pytest.mark.parametrize("arch", sorted(MODELS))
def test_every_model_trains_one_step_and_predicts(synth_corpus, arch):
    cfg = tiny_config()
    cfg.model.arch = arch
    batch = _batch(synth_corpus, cfg)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())
    loss, logs = model(batch)
    assert torch.isfinite(loss) and loss > 0
    assert logs["loss"] == pytest.approx(float(loss.detach())) and all(isinstance(v, float) for v in logs.values())
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    assert all(torch.isfinite(g).all() for g in grads)
    counts = parameter_counts(model)
    assert sum(counts.values()) == sum(p.numel() for p in model.parameters())  # nothing outside the modules

    model.eval()
    preds, latents = model.infer(batch)
    reads = READS.get(arch, set(batch["kin"]))
    assert set(preds) == reads
    dims = {"torque_smpl": 69, "torque_rajagopal": 17, "grf": 6, "muscle_activation": 4, "emg": 2}
    predicts = PREDICTS.get(arch, set(dims))
    for rep, by_dyn in preds.items():
        n = batch["kin"][rep]["x"].shape[0]
        assert set(by_dyn) == predicts
        for dyn, y in by_dyn.items():
            assert y.shape == (n, 16, dims[dyn]) and torch.isfinite(y).all(), (rep, dyn)
    for rep, z in latents.items():
        assert z.shape[:2] == (batch["kin"][rep]["x"].shape[0], 16)
    # deterministic: no dropout, eval == train mode
    again, _ = model.infer(batch)
    for rep in preds:
        for dyn in preds[rep]:
            torch.testing.assert_close(preds[rep][dyn], again[rep][dyn])


@pytest.mark.parametrize("arch", sorted(BASELINES))
def test_a_batch_without_readable_input_gives_a_zero_loss(synth_corpus, arch):
    cfg = tiny_config()
    cfg.model.arch = arch
    batch = _batch(synth_corpus, cfg)
    batch["kin"] = {r: k for r, k in batch["kin"].items() if r == "joint_angles"}
    model = build_model(cfg.model)
    loss, logs = model(batch)
    if arch in READS:  # none of them reads joint angles
        assert float(loss.detach()) == 0.0 and not any(k.startswith("id/") for k in logs)
        loss.backward()  # the graph is connected: the trainer can step
    else:
        assert float(loss.detach()) > 0


def test_point_windows_are_centred_and_edge_padded():
    n, T, P = 2, 5, 3
    x = torch.arange(T, dtype=torch.float32).view(1, T, 1, 1).expand(n, T, P, 9).clone()  # value = frame index
    valid = torch.ones(n, T, P, dtype=torch.bool)
    valid[0, 2, 1] = False
    tokens, mask = point_windows(x, valid, 2, 2)
    assert tokens.shape == (n, T, P, 30)
    frames = tokens.view(n, T, P, 5, 6)[..., 0]  # the x coordinate per window frame
    assert frames[1, 0, 0].tolist() == [0, 0, 0, 1, 2]
    assert frames[1, 2, 0].tolist() == [0, 1, 2, 3, 4]
    assert frames[1, 4, 0].tolist() == [2, 3, 4, 4, 4]
    assert frames[0, 3, 1].tolist() == [1, 0, 3, 4, 4]  # the occluded frame reads as zero
    assert torch.equal(mask, valid)


def test_flattened_keypoints_are_padded_and_masked():
    x = torch.randn(2, 4, 14, 9)
    valid = torch.ones(2, 4, 14, dtype=torch.bool)
    valid[:, :, 3] = False
    flat = flatten_points(x, valid)
    assert flat.shape == (2, 4, 25 * 10)
    points, flags = flat[..., :225].view(2, 4, 25, 9), flat[..., 225:]
    torch.testing.assert_close(points[:, :, :3], x[:, :, :3])
    assert (points[:, :, 3] == 0).all() and (points[:, :, 14:] == 0).all()
    assert flags[0, 0].tolist() == [1] * 3 + [0] + [1] * 10 + [0] * 11
    with pytest.raises(ValueError, match="MAX_KEYPOINTS"):
        flatten_points(torch.zeros(1, 1, 26, 9), torch.ones(1, 1, 26, dtype=torch.bool))


def test_parameter_table_has_every_model_and_the_papers_scale():
    table = parameter_table()
    assert set(MODELS) <= set(table) and {"hdys-32d", "hdys-64d", "hdys-128d"} <= set(table)
    assert table["hdys-32d"] < table["hdys-64d"] < table["hdys-128d"] == table["hdys"]
    assert 4.5e6 < table["mia"] < 6e6  # paper Table 7: MiA 5.4M
    assert table["mean"] == 69 + 17 + 6 + 402 + 8
    cfg = Config().model  # the table does not change the default config
    assert cfg.arch == "hdys" and not cfg.muscle_names


@pytest.fixture(scope="module")
def marker_corpus(tmp_path_factory):
    """Dataset 'b' of the synthetic corpus with markers as its only kinematics: ImDyS reads all of it."""
    from conftest import synthetic_sequences
    from hdys.store import write_corpus

    def markers_only():
        for seq in synthetic_sequences():
            if seq.dataset == "b":
                seq.smpl = None
                yield seq
    path = tmp_path_factory.mktemp("markers") / "c"
    write_corpus(path, markers_only(), progress=False)
    return path


def _train_and_evaluate(arch, corpus, out):
    from hdys.evaluate import evaluate
    from hdys.train import train

    cfg = tiny_config()
    cfg.model.arch = arch
    summary = train(cfg, [str(corpus)], out, progress=False)
    assert summary["steps"] > 0 and summary["stopped_by"] == "epochs"
    return evaluate(out, [str(corpus)], progress=False)


@pytest.mark.parametrize("arch", ["imdys", "mlp"])
def test_baseline_trains_and_evaluates_through_the_trainer(marker_corpus, synth_corpus, tmp_path, arch):
    corpus = marker_corpus if arch == "imdys" else synth_corpus  # a corpus of what the model reads
    report = _train_and_evaluate(arch, corpus, tmp_path / arch)
    results = report["results"]
    assert report["inference_frames_per_s"] > 0
    expected = {"b": {"grf", "torque_smpl"}} if arch == "imdys" else \
        {"a": {"torque_rajagopal"}, "b": {"grf", "torque_smpl"}, "c": {"muscle_activation", "emg"}}
    assert {ds: set(r) for ds, r in results.items()} == expected


def test_imdys_evaluates_on_a_heterogeneous_corpus(synth_corpus, tmp_path):
    """ImDyS reads markers and predicts torques and GRF: on a corpus whose datasets carry other inputs and muscle
    dynamics too, it is judged on the torques and GRF only, from markers, with finite errors."""
    results = _train_and_evaluate("imdys", synth_corpus, tmp_path / "imdys")["results"]
    assert {ds: set(r) for ds, r in results.items()} == {"a": {"torque_rajagopal"}, "b": {"grf", "torque_smpl"}}
    cells = [cell for r in results.values() for metrics in r.values() for cell in metrics.values()]
    assert cells and all(set(c) >= {"markers", "avg"} and np.isfinite(list(c.values())).all() for c in cells)

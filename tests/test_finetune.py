"""hdys finetune (issue 20): a trained run trained further on new data, with frozen modules, resumable."""
import json

import pytest
import torch
from safetensors.torch import load_file

from conftest import synthetic_sequences, tiny_config
from hdys.checkpoint import latest_checkpoint
from hdys.cli import main
from hdys.store import write_corpus


def _weights(run):
    return load_file(latest_checkpoint(run) / "model.safetensors")


@pytest.fixture(scope="module")
def pretrained(synth_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("ft") / "run"
    cfg = out.parent / "cfg.json"
    cfg.write_text(json.dumps(tiny_config(epochs=2).to_json()))
    assert main(["-q", "train", "--data", str(synth_corpus), "--out", str(out), "--config", str(cfg)]) == 0
    return out


@pytest.fixture(scope="module")
def new_data(tmp_path_factory):
    """Dataset 'b' only, other subjects (another seed): SMPL and markers -> SMPL torques and GRF."""
    path = tmp_path_factory.mktemp("ft") / "b"
    write_corpus(path, (s for s in synthetic_sequences(seed=7) if s.dataset == "b"), progress=False)
    return path


def test_frozen_encoders_stay_and_the_rest_trains(pretrained, new_data, tmp_path):
    out = tmp_path / "ft"
    assert main(["-q", "finetune", str(pretrained), "--data", str(new_data), "--out", str(out),
                 "--freeze", "encoders,temporal", "train.epochs=3"]) == 0
    before, after = _weights(pretrained), _weights(out)
    assert before.keys() == after.keys()
    frozen = [k for k in before if k.startswith(("encoders.", "temporal."))]
    trained = [k for k in before if k.startswith("heads.grf.")]
    assert frozen and trained
    assert all(torch.equal(before[k], after[k]) for k in frozen)
    assert any(not torch.equal(before[k], after[k]) for k in trained)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["init_from"] == str(pretrained) and cfg["train"]["freeze"] == ["encoders", "temporal"]
    assert (out / "normalizer.json").read_text() == (pretrained / "normalizer.json").read_text()


def test_a_resumed_finetune_equals_an_uninterrupted_one(pretrained, new_data, tmp_path):
    args = ["-q", "finetune", str(pretrained), "--data", str(new_data), "--freeze", "encoders", "train.epochs=3",
            "train.checkpoint_every=1"]
    assert main([*args, "--out", str(tmp_path / "full")]) == 0
    assert main([*args, "--out", str(tmp_path / "cut"), "train.max_steps=2"]) == 0
    assert main([*args, "--out", str(tmp_path / "cut"), "--resume", "train.max_steps=0"]) == 0
    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_an_unknown_module_is_a_clean_error(pretrained, new_data, tmp_path, capsys):
    assert main(["-q", "finetune", str(pretrained), "--data", str(new_data), "--out", str(tmp_path / "x"),
                 "--freeze", "encoder"]) == 2
    assert "no parameters under 'encoder'" in capsys.readouterr().err
    assert main(["-q", "finetune", str(tmp_path), "--data", str(new_data), "--out", str(tmp_path / "y")]) == 2

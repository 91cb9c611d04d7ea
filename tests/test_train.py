"""Training: determinism, resume equivalence, checkpoint format, data parallel equivalence."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import tiny_config
from hdys.checkpoint import latest_checkpoint
from hdys.config import Config
from hdys.train import Trainer, train

REPO = Path(__file__).resolve().parents[1]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(latest_checkpoint(run) / "model.safetensors")


def _assert_same(a, b, atol=0.0):
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=atol, rtol=0 if atol == 0 else 1e-4, msg=k)


def test_training_is_deterministic_and_writes_safetensors(synth_corpus, tmp_path):
    s1 = train(tiny_config(), [str(synth_corpus)], tmp_path / "r1", progress=False)
    s2 = train(tiny_config(), [str(synth_corpus)], tmp_path / "r2", progress=False)
    assert s1["steps"] == s2["steps"] > 0 and s1["stopped_by"] == "epochs"
    _assert_same(_weights(tmp_path / "r1"), _weights(tmp_path / "r2"))
    ck = latest_checkpoint(tmp_path / "r1")
    assert {p.name for p in ck.iterdir()} == {"model.safetensors", "optimizer.safetensors", "state.json"}
    state = json.loads((ck / "state.json").read_text())
    assert state["epoch"] == 2 and state["step"] == s1["steps"]
    assert (tmp_path / "r1" / "train.log").read_text().count("training finished") == 1
    assert len((tmp_path / "r1" / "metrics.jsonl").read_text().splitlines()) == s1["steps"]
    # the loss went down from the first steps to the last ones
    rows = [json.loads(x) for x in (tmp_path / "r1" / "metrics.jsonl").read_text().splitlines()]
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in rows)


def test_resume_after_interruption_equals_uninterrupted_run(synth_corpus, tmp_path):
    full = train(tiny_config(epochs=3), [str(synth_corpus)], tmp_path / "full", progress=False)
    # stop mid-epoch (step 3 of 2+ per epoch), as a killed run leaves it: last checkpoint only
    part = train(tiny_config(epochs=3, max_steps=3, checkpoint_every=1), [str(synth_corpus)], tmp_path / "cut",
                 progress=False)
    assert part["stopped_by"] == "max_steps" and part["steps"] == 3 < full["steps"]
    resumed = train(tiny_config(epochs=3, max_steps=0), [str(synth_corpus)], tmp_path / "cut", resume=True,
                    progress=False)
    assert resumed["steps"] == full["steps"]
    _assert_same(_weights(tmp_path / "full"), _weights(tmp_path / "cut"), atol=1e-6)


def test_a_resumed_run_keeps_the_fused_optimiser(synth_corpus, tmp_path):
    train(tiny_config(max_steps=2, checkpoint_every=1), [str(synth_corpus)], tmp_path / "r", progress=False)
    state_path = latest_checkpoint(tmp_path / "r") / "state.json"
    state = json.loads(state_path.read_text())
    assert all(g["fused"] for g in state["optimizer"]["param_groups"])
    for g in state["optimizer"]["param_groups"]:  # as a checkpoint of the per-tensor optimiser records it
        g["fused"], g["foreach"] = None, None
    state_path.write_text(json.dumps(state))
    tr = Trainer(tiny_config(max_steps=3), [str(synth_corpus)], tmp_path / "r", resume=True, progress=False)
    try:
        tr.setup()
        assert tr.step == 2 and all(g["fused"] for g in tr.opt.param_groups)
    finally:
        tr.close()


def test_existing_run_dir_is_not_overwritten(synth_corpus, tmp_path):
    train(tiny_config(epochs=1), [str(synth_corpus)], tmp_path / "r", progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny_config(epochs=1), [str(synth_corpus)], tmp_path / "r", progress=False)


def _write_config(path: Path, cfg: Config) -> Path:
    path.write_text(json.dumps(cfg.to_json()))
    return path


def _train_two_processes(cfg: Config, corpus: Path, tmp_path: Path, timeout: float) -> None:
    """``hdys train`` of ``cfg`` under torchrun, two processes of one thread, into ``tmp_path / "two"``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "hdys.cli", "-q", "train", "--data", str(corpus), "--out", str(tmp_path / "two"),
           "--config", str(_write_config(tmp_path / "cfg.json", cfg))]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_match_one_process_of_the_same_global_batch(synth_corpus, tmp_path):
    cfg = tiny_config(epochs=1, sequences_per_dataset=8, threads=1)
    single = tiny_config(epochs=1, sequences_per_dataset=8, threads=1, grad_accum=2)
    train(single, [str(synth_corpus)], tmp_path / "one", progress=False)
    _train_two_processes(cfg, synth_corpus, tmp_path, timeout=300)
    _assert_same(_weights(tmp_path / "one"), _weights(tmp_path / "two"), atol=1e-5)


@pytest.mark.slow
def test_two_processes_stop_together_at_the_budget(synth_corpus, tmp_path):
    """Each process reads its own clock; a budget that ends mid-epoch must stop both at the same step (one
    stopping alone leaves the other waiting in the all-reduce: a hang, caught by the timeout)."""
    cfg = tiny_config(epochs=1000, sequences_per_dataset=8, threads=1, checkpoint_every=1000)
    cfg.train.budget_minutes = 0.05
    _train_two_processes(cfg, synth_corpus, tmp_path, timeout=120)
    state = json.loads((latest_checkpoint(tmp_path / "two") / "state.json").read_text())
    # stopped by the 3-second budget (1,000 epochs would take minutes); each process reads its own clock, so
    # rank 0's elapsed time may be a little short of it where rank 1 reached it first
    assert state["step"] > 0 and state["epoch"] < 1000
    assert "'stopped_by': 'budget'" in (tmp_path / "two" / "train.log").read_text()


RECIPE = {"stratified": True, "lr_schedule": "cosine", "warmup_steps": 2}


@pytest.mark.parametrize("recipe", [{}, RECIPE], ids=["paper", "recipe"])
def test_ctrl_c_writes_a_checkpoint_and_resume_loses_nothing(synth_corpus, tmp_path, monkeypatch, recipe):
    from hdys import train as train_mod
    full = train(tiny_config(epochs=3, **recipe), [str(synth_corpus)], tmp_path / "full", progress=False)
    real_step = train_mod.Trainer._step
    calls = {"n": 0}

    def interrupted_step(self, batch):
        calls["n"] += 1
        if calls["n"] == 4:  # Ctrl-C arrives during the 4th step, before it updates anything
            raise KeyboardInterrupt
        return real_step(self, batch)

    monkeypatch.setattr(train_mod.Trainer, "_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(epochs=3, checkpoint_every=100, **recipe), [str(synth_corpus)], tmp_path / "cut",
              progress=False)
    monkeypatch.setattr(train_mod.Trainer, "_step", real_step)
    state = json.loads((latest_checkpoint(tmp_path / "cut") / "state.json").read_text())
    assert state["step"] == 3  # the three finished steps were saved although checkpoint_every=100
    train(tiny_config(epochs=3, **recipe), [str(synth_corpus)], tmp_path / "cut", resume=True, progress=False)
    _assert_same(_weights(tmp_path / "full"), _weights(tmp_path / "cut"), atol=1e-6)
    assert full["steps"] == json.loads((latest_checkpoint(tmp_path / "cut") / "state.json").read_text())["step"]


def test_dataset_selection_and_fractions(synth_corpus, tmp_path):
    from hdys.train import Trainer
    cfg = tiny_config()
    cfg.train.datasets = ["a", "c"]
    cfg.train.fractions = {"c": 0.5}
    tr = Trainer(cfg, [str(synth_corpus)], tmp_path / "r", progress=False)
    tr.setup()
    try:
        assert set(tr.by_dataset) == {"a", "c"}
        n_c = len([e for e in tr.corpora[0].entries(split="train") if e.dataset == "c"])
        assert len(tr.by_dataset["c"]) == round(n_c / 2)
        assert set(tr.refs) == {r.sequence_id for refs in tr.by_dataset.values() for r in refs}
    finally:
        tr.close()
    bad = tiny_config()
    bad.train.datasets = ["zzz"]
    with pytest.raises(ValueError, match="zzz"):
        train(bad, [str(synth_corpus)], tmp_path / "r2", progress=False)


def test_resume_keeps_the_runs_own_dataset_selection(synth_corpus, tmp_path):
    from hdys.train import Trainer
    cfg = tiny_config(epochs=1)
    cfg.train.datasets = ["a"]
    train(cfg, [str(synth_corpus)], tmp_path / "r", progress=False)
    tr = Trainer(tiny_config(epochs=2), [str(synth_corpus)], tmp_path / "r", resume=True, progress=False)
    tr.setup()  # resumed with a default config on the command line
    try:
        assert set(tr.by_dataset) == {"a"} and tr.cfg.train.epochs == 2
    finally:
        tr.close()


@pytest.mark.slow
def test_sigterm_checkpoints_and_exits(synth_corpus, tmp_path):
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(tiny_config(epochs=500, checkpoint_every=1000).to_json()))
    proc = subprocess.Popen([sys.executable, "-m", "hdys.cli", "-q", "train", "--data", str(synth_corpus),
                             "--out", str(tmp_path / "r"), "--config", str(cfg_path)],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    metrics = tmp_path / "r" / "metrics.jsonl"
    import time
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        time.sleep(0.2)
    proc.send_signal(15)
    assert proc.wait(timeout=120) == 143
    state = json.loads((latest_checkpoint(tmp_path / "r") / "state.json").read_text())
    assert state["step"] >= 2  # the finished steps are saved although checkpoint_every=1000


def test_cosine_schedule_warms_up_and_decays_to_its_final_share():
    from hdys.train import lr_factor
    tc = Config().train
    assert lr_factor(tc, 0, 0.5) == 1.0  # the paper's constant rate
    tc.lr_schedule, tc.warmup_steps, tc.lr_final = "cosine", 4, 0.1
    assert [round(lr_factor(tc, s, 0.0), 6) for s in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert lr_factor(tc, 100, 0.5) == pytest.approx(0.55)
    assert lr_factor(tc, 100, 1.0) == pytest.approx(0.1) == lr_factor(tc, 100, 1.7)


def test_wsd_schedule_holds_the_rate_then_decays_over_its_last_share():
    from hdys.train import lr_factor
    tc = Config().train
    tc.lr_schedule, tc.warmup_steps, tc.lr_final, tc.decay_fraction = "wsd", 2, 0.1, 0.25
    assert [lr_factor(tc, s, 0.0) for s in range(3)] == [0.5, 1.0, 1.0]
    assert lr_factor(tc, 100, 0.75) == 1.0
    assert lr_factor(tc, 100, 0.875) == pytest.approx(0.55)
    assert lr_factor(tc, 100, 1.0) == pytest.approx(0.1) == lr_factor(tc, 100, 1.3)


def test_the_run_writes_its_learning_rate_and_ends_near_the_final_rate(synth_corpus, tmp_path):
    cfg = tiny_config(epochs=3, lr_schedule="cosine", warmup_steps=2, lr_final=0.2)
    train(cfg, [str(synth_corpus)], tmp_path / "r", progress=False)
    lrs = [json.loads(x)["lr"] for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] == pytest.approx(0.5 * cfg.train.lr) and max(lrs) <= cfg.train.lr
    assert lrs[-1] < 0.3 * cfg.train.lr
    assert all(b <= a for a, b in zip(lrs[1:], lrs[2:]))  # decays after the warm-up


def test_sequences_kept_in_memory_give_the_same_windows_as_reading_them(synth_corpus, tmp_path):
    from hdys.train import Trainer
    train(tiny_config(cache_mb=0), [str(synth_corpus)], tmp_path / "disk", progress=False)
    train(tiny_config(), [str(synth_corpus)], tmp_path / "memory", progress=False)
    _assert_same(_weights(tmp_path / "disk"), _weights(tmp_path / "memory"))
    tr = Trainer(tiny_config(), [str(synth_corpus)], tmp_path / "t", progress=False)
    tr.setup()
    sid = next(iter(tr.refs))
    for start in (0, 3, tr.refs[sid].frames - 16):  # edges: the margin is clipped where there is none
        cached = tr._read((sid, start))
        tr._cache.clear()
        tr.cfg.train.cache_mb = 0
        read = tr._read((sid, start))
        tr.cfg.train.cache_mb = 4096
        for k in cached.kin:
            np.testing.assert_array_equal(cached.kin[k], read.kin[k])
    tr.close()


def test_mirrored_windows_are_drawn_per_step_and_resume_the_same(synth_corpus, tmp_path, monkeypatch):
    import hdys.train as T
    calls = []
    monkeypatch.setattr(T, "mirror_sequence", lambda s: calls.append(s.sequence_id) or s)
    train(tiny_config(max_steps=3), [str(synth_corpus)], tmp_path / "none", progress=False)
    assert calls == []
    train(tiny_config(max_steps=3, mirror=1.0), [str(synth_corpus)], tmp_path / "all", progress=False)
    assert len(calls) == 3 * 6  # every window of 3 steps (96-frame batches of 16-frame windows)
    calls.clear()
    full = train(tiny_config(epochs=3, mirror=0.5), [str(synth_corpus)], tmp_path / "full", progress=False)
    drawn = list(calls)
    assert 0 < len(drawn) < full["steps"] * 6
    calls.clear()
    train(tiny_config(epochs=3, mirror=0.5, max_steps=3, checkpoint_every=1), [str(synth_corpus)], tmp_path / "cut",
          progress=False)
    train(tiny_config(epochs=3, mirror=0.5), [str(synth_corpus)], tmp_path / "cut", resume=True, progress=False)
    assert calls == drawn  # the same windows mirrored after a resume

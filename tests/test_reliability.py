"""Faults a run or a corpus must survive: a kill while a checkpoint is replaced, resuming a finished run,
two writers at once, NaN in the data (issue 22)."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import synthetic_sequences, tiny_config
from hdys import checkpoint
from hdys.checkpoint import latest_checkpoint, load_run, save_checkpoint
from hdys.locks import LockedError
from hdys.store import Corpus, write_corpus
from hdys.train import TrainingError, train

REPO = Path(__file__).resolve().parents[1]


def _tiny_model():
    model = torch.nn.Linear(3, 2)
    return model, torch.optim.AdamW(model.parameters())


def test_a_kill_while_a_step_is_saved_again_keeps_a_complete_checkpoint(tmp_path, monkeypatch):
    model, opt = _tiny_model()
    save_checkpoint(tmp_path, 2, model, opt, {"epoch": 0}, keep=2)
    save_checkpoint(tmp_path, 4, model, opt, {"epoch": 0}, keep=2)
    real_replace = checkpoint.os.replace

    def killed(src, dst):  # the process dies as the new copy would take the step's name
        if Path(src).name == ".step-00000004.tmp":
            raise SystemExit("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed)
    with pytest.raises(SystemExit):
        save_checkpoint(tmp_path, 4, model, opt, {"epoch": 1}, keep=2)
    monkeypatch.setattr(checkpoint.os, "replace", real_replace)
    found = latest_checkpoint(tmp_path)  # latest.json names step-00000004, which is not in place
    assert json.loads((found / "state.json").read_text())["step"] == 4
    # the next save puts everything in order again
    save_checkpoint(tmp_path, 6, model, opt, {"epoch": 1}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["latest.json", "step-00000004", "step-00000006"]


def test_latest_json_naming_a_deleted_checkpoint_falls_back_to_the_newest_complete_one(tmp_path, caplog):
    model, opt = _tiny_model()
    save_checkpoint(tmp_path, 2, model, opt, {}, keep=3)
    save_checkpoint(tmp_path, 4, model, opt, {}, keep=3)
    (tmp_path / "checkpoints" / "step-00000004" / "optimizer.safetensors").unlink()  # incomplete now
    assert latest_checkpoint(tmp_path).name == "step-00000002"
    assert "incomplete" in caplog.text
    for p in (tmp_path / "checkpoints").glob("step-*"):
        for f in p.iterdir():
            f.unlink()
    with pytest.raises(checkpoint.CheckpointError, match="no complete checkpoint"):
        latest_checkpoint(tmp_path)


def test_a_run_killed_inside_its_final_save_resumes_and_predicts(synth_corpus, tmp_path, monkeypatch):
    # 2 batches per epoch: step 4 is checkpointed at the end of epoch 2, then saved again as the run ends
    cfg = tiny_config(epochs=3, max_steps=4, checkpoint_every=2)
    full = train(cfg, [str(synth_corpus)], tmp_path / "full", progress=False)
    real_replace, seen = checkpoint.os.replace, {"n": 0}

    def killed_in_the_second_save(src, dst):
        if Path(src).name == ".step-00000004.tmp":
            seen["n"] += 1
            if seen["n"] == 2:
                raise SystemExit("killed")
        return real_replace(src, dst)

    monkeypatch.setattr(checkpoint.os, "replace", killed_in_the_second_save)
    with pytest.raises(SystemExit):
        train(cfg, [str(synth_corpus)], tmp_path / "run", progress=False)
    monkeypatch.undo()
    assert seen["n"] == 2
    load_run(tmp_path / "run")  # predict and eval can load it
    again = train(cfg, [str(synth_corpus)], tmp_path / "run", resume=True, progress=False)
    assert again["steps"] == 4
    a, b = (load_file(latest_checkpoint(tmp_path / r) / "model.safetensors") for r in ("full", "run"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resuming_a_finished_run_trains_no_further_and_logs_each_step_once(synth_corpus, tmp_path, monkeypatch):
    from hdys import train as train_mod
    cfg = tiny_config(epochs=3, max_steps=6, checkpoint_every=3)
    first = train(cfg, [str(synth_corpus)], tmp_path / "full", progress=False)
    before = load_file(latest_checkpoint(tmp_path / "full") / "model.safetensors")
    for _ in range(2):
        again = train(cfg, [str(synth_corpus)], tmp_path / "full", resume=True, progress=False)
        assert again["steps"] == first["steps"] == 6
    after = load_file(latest_checkpoint(tmp_path / "full") / "model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)

    # killed after step 5 was logged, with the last checkpoint at step 3: steps 4 and 5 are logged again
    real_step, real_save, calls = train_mod.Trainer._step, train_mod.Trainer.save, {"n": 0}

    def dies_in_step_6(self, batch):
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("killed")
        return real_step(self, batch)

    monkeypatch.setattr(train_mod.Trainer, "_step", dies_in_step_6)
    monkeypatch.setattr(train_mod.Trainer, "save", lambda self: None if self.step != 3 else real_save(self))
    with pytest.raises(RuntimeError, match="killed"):
        train(cfg, [str(synth_corpus)], tmp_path / "cut", progress=False)
    monkeypatch.undo()
    train(cfg, [str(synth_corpus)], tmp_path / "cut", resume=True, progress=False)
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]


def _hold_lock(directory: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the directory's lock for ``seconds``; returns once it holds it."""
    code = textwrap.dedent(f"""
        import sys, time
        from hdys.locks import acquire
        acquire({str(directory)!r}, "the test's other writer")
        print("held", flush=True)
        time.sleep({seconds})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_trainer_on_a_run_is_refused(synth_corpus, tmp_path):
    train(tiny_config(epochs=1), [str(synth_corpus)], tmp_path / "run", progress=False)
    other = _hold_lock(tmp_path / "run", 60)
    try:
        with pytest.raises(LockedError, match=rf"in use by pid {other.pid} "):
            train(tiny_config(epochs=2), [str(synth_corpus)], tmp_path / "run", resume=True, progress=False)
    finally:
        other.kill()
        other.wait()
    # the OS dropped the killed holder's lock: the run continues
    assert train(tiny_config(epochs=2), [str(synth_corpus)], tmp_path / "run", resume=True,
                 progress=False)["epochs_done"] == 2


def test_ingest_into_a_corpus_being_written_is_refused_and_write_corpus_waits(tmp_path, capsys):
    from hdys.cli import main
    from hdys.store import export_npz
    seqs = list(synthetic_sequences())
    src = tmp_path / "npz"
    write_corpus(tmp_path / "first", seqs[:4], progress=False)
    export_npz(Corpus(tmp_path / "first"), src)
    other = _hold_lock(tmp_path / "c", 1.5)
    assert main(["ingest", "npz", str(src), "--out", str(tmp_path / "c")]) == 2
    assert "is in use by pid" in capsys.readouterr().err
    assert not (tmp_path / "c" / "manifest.json").exists()
    write_corpus(tmp_path / "c", seqs, progress=False)  # waits for the other writer, then writes
    other.wait()
    assert len(Corpus(tmp_path / "c").entries()) == len(seqs)


def test_nan_in_a_shard_stops_training_with_the_sequence_named_and_no_nan_checkpoint(tmp_path):
    corpus = tmp_path / "c"
    write_corpus(corpus, synthetic_sequences(), progress=False)
    entry = Corpus(corpus).entry("a00")
    with h5py.File(corpus / entry.shard, "r+") as f:  # NaN written with the data (its checksum says so)
        f["a00"]["joint_angles"][10, 7] = np.nan
    _refresh_checksum(corpus, "a00")
    with pytest.raises(TrainingError, match=r"step \d+: the loss is nan .*a/a00 \(joint_angles\)"):
        train(tiny_config(epochs=4, checkpoint_every=1), [str(corpus)], tmp_path / "run", progress=False)
    for ck in (tmp_path / "run" / "checkpoints").glob("step-*"):
        assert all(torch.isfinite(v).all() for v in load_file(ck / "model.safetensors").values())


def _refresh_checksum(corpus: Path, sid: str) -> None:
    from hdys.store import checksum
    manifest = json.loads((corpus / "manifest.json").read_text())
    digest = checksum(Corpus(corpus).read(sid))
    for e in manifest["sequences"]:
        if e["sequence_id"] == sid:
            e["checksum"] = digest
    (corpus / "manifest.json").write_text(json.dumps(manifest))


def _edit_manifest(corpus: Path, sid: str, **fields) -> None:
    manifest = json.loads((corpus / "manifest.json").read_text())
    for e in manifest["sequences"]:
        if e["sequence_id"] == sid:
            e.update(fields)
    (corpus / "manifest.json").write_text(json.dumps(manifest))


@pytest.fixture
def corpus(tmp_path):
    write_corpus(tmp_path / "c", synthetic_sequences(), progress=False)
    return tmp_path / "c"


def test_check_finds_an_edited_shard_and_training_refuses_it(corpus, tmp_path, capsys):
    from hdys.cli import main
    assert main(["-q", "check", str(corpus)]) == 0
    assert "intact (18 sequences" in capsys.readouterr().out
    entry = Corpus(corpus).entry("a10")
    with h5py.File(corpus / entry.shard, "r+") as f:
        f["a10"]["markers"][3, 0, 0] += 0.5
    assert main(["-q", "check", str(corpus)]) == 1
    out = capsys.readouterr().out
    assert "problem:" in out and "'a10'" in out and "checksum" in out and "1 problem(s)" in out
    from hdys.store import CorpusError
    with pytest.raises(CorpusError, match="'a10'.*checksum"):
        train(tiny_config(epochs=2), [str(corpus)], tmp_path / "run", progress=False)


def test_check_reports_a_truncated_shard_once(corpus, capsys):
    from hdys.cli import main
    shard = corpus / Corpus(corpus).entry("b00").shard
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    assert main(["-q", "check", str(corpus)]) == 1
    problems = [line for line in capsys.readouterr().out.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and "cannot open shard" in problems[0] and shard.name in problems[0]


@pytest.mark.parametrize("fields, message", [
    ({"fps": 0}, "fps 0 "), ({"fps": 1e30}, "fps 1e+30"), ({"frames": 0}, "frames 0 "),
    ({"mass_kg": -70.0}, "mass_kg -70.0"), ({"shard": "../elsewhere.h5"}, "shard '../elsewhere.h5'")])
def test_an_inconsistent_manifest_is_a_clean_error_naming_the_field(corpus, capsys, fields, message):
    from hdys.cli import main
    _edit_manifest(corpus, "c10", **fields)
    assert main(["info", str(corpus)]) == 2
    err = capsys.readouterr().err
    assert "manifest.json" in err and "'c10'" in err and message in err


def test_frames_beyond_the_shard_and_a_missing_group_are_clean_errors(corpus, tmp_path, capsys):
    from hdys.cli import main
    _edit_manifest(corpus, "a00", frames=600)
    assert main(["export", str(corpus), "a00", "--out", str(tmp_path / "x")]) == 2
    assert "holds 60 frames, the manifest says 600" in capsys.readouterr().err
    _edit_manifest(corpus, "a00", frames=60)
    with h5py.File(corpus / Corpus(corpus).entry("a01").shard, "r+") as f:
        del f["a01"]
    assert main(["export", str(corpus), "a01", "--out", str(tmp_path / "y")]) == 2
    assert "no sequence 'a01' in this shard" in capsys.readouterr().err

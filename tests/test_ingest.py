"""hdys ingest: the same corpus whatever the worker count; resumable without duplicates."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import hdys.ingest as ingest_mod
from hdys.cli import main
from hdys.ingest import REPORT, ingest
from hdys.store import Corpus


def write_amass(folder, names, frames=40):
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        rng = np.random.default_rng(k)
        np.savez(folder / f"{name}_poses.npz", poses=0.1 * rng.standard_normal((frames + k, 156)),
                 trans=np.cumsum(0.01 * np.ones((frames + k, 3)), 0), betas=np.zeros(16), gender="neutral",
                 mocap_framerate=60.0)


@pytest.fixture
def src(tmp_path):
    for subj in ("s1", "s2", "s3"):
        write_amass(tmp_path / "amass" / subj, [f"walk{i}" for i in range(2)])
    (tmp_path / "amass" / "s2" / "bad_poses.npz").write_bytes(b"truncated")
    return tmp_path / "amass"


def corpus_content(path):
    c = Corpus(path)
    entries = [{k: v for k, v in e.to_json().items() if k != "shard"} for e in c.entries()]
    arrays = {e.sequence_id: c.read(e.sequence_id).smpl for e in c.entries()}
    c.close()
    return entries, arrays


def test_two_workers_give_the_same_corpus_and_report(src, tmp_path):
    one = ingest("amass", src, tmp_path / "one", workers=1, progress=False, fps=30.0)
    two = ingest("amass", src, tmp_path / "two", workers=2, progress=False, fps=30.0)
    assert one == two and one["sequences"] == 6 and len(one["skipped"]) == 1
    e1, a1 = corpus_content(tmp_path / "one")
    e2, a2 = corpus_content(tmp_path / "two")
    assert e1 == e2 and list(a1) == list(a2)
    for sid in a1:
        np.testing.assert_array_equal(a1[sid], a2[sid])
    r1 = json.loads((tmp_path / "one" / REPORT).read_text())
    r2 = json.loads((tmp_path / "two" / REPORT).read_text())
    assert r1 == r2 and [r["status"] for r in r1].count("skipped") == 1
    assert all(r["settings"] == {"format": "amass", "fps": 30.0, "options": {}} and r["size"] > 0 for r in r1)


def test_subset_then_full_resumes_without_duplicates(src, tmp_path):
    part = tmp_path / "part"
    shutil.copytree(src / "s1", part / "s1")
    first = ingest("amass", part, tmp_path / "c", progress=False)
    assert first["units_read"] == 2 and first["units_resumed"] == 0
    for subj in ("s2", "s3"):  # the rest of the source arrives (same files as the full source)
        shutil.copytree(src / subj, part / subj)
    second = ingest("amass", part, tmp_path / "c", progress=False)
    assert second["units_resumed"] == 2 and second["units_read"] == 5 and second["sequences"] == 4
    ids = [e.sequence_id for e in Corpus(tmp_path / "c").entries()]
    assert len(ids) == len(set(ids)) == 6
    full = ingest("amass", part, tmp_path / "full", progress=False)
    assert corpus_content(tmp_path / "full")[1].keys() == corpus_content(tmp_path / "c")[1].keys()
    # the bad file is tried again (and reported again); nothing else is read
    third = ingest("amass", part, tmp_path / "c", progress=False)
    assert third["units_read"] == 1 and third["units_resumed"] == 6 and full["sequences"] == 6
    # other settings (a frame rate) read everything again
    assert ingest("amass", part, tmp_path / "c", progress=False, fps=30.0)["units_resumed"] == 0


def test_interrupted_ingest_keeps_what_was_read(src, tmp_path, monkeypatch):
    real = ingest_mod.read_units

    def interrupted(*args, **kwargs):
        for k, res in enumerate(real(*args, **kwargs)):
            if k == 2:
                raise KeyboardInterrupt
            yield res

    monkeypatch.setattr(ingest_mod, "read_units", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ingest("amass", src, tmp_path / "c", progress=False, batch_frames=10**9)
    assert len(Corpus(tmp_path / "c")) == 2 and len(json.loads((tmp_path / "c" / REPORT).read_text())) == 2
    monkeypatch.setattr(ingest_mod, "read_units", real)
    # the report of the last unit is lost (as if killed between the corpus write and the report write):
    # the unit is read again and its sequence, already in the corpus, is not written twice
    records = json.loads((tmp_path / "c" / REPORT).read_text())
    (tmp_path / "c" / REPORT).write_text(json.dumps(records[:1]))
    again = ingest("amass", src, tmp_path / "c", progress=False)
    assert again["units_resumed"] == 1 and again["units_read"] == 6
    c = Corpus(tmp_path / "c")
    assert len(c) == 6 and not c.skipped


def test_cli_workers_and_resume(src, tmp_path, capsys):
    assert main(["-q", "ingest", "amass", str(src), "--out", str(tmp_path / "c"), "--workers", "1"]) == 0
    assert main(["-q", "ingest", "amass", str(src), "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "6 unit(s) already ingested" in out and len(Corpus(tmp_path / "c")) == 6
    assert main(["-q", "ingest", "amass", str(src), "--out", str(tmp_path / "x"), "--workers", "0"]) == 2


def test_strict_stops_before_writing_anything(src, tmp_path, capsys):
    # s2/bad_poses.npz sorts after s1's files: without the check first, s1 would be committed
    assert main(["-q", "ingest", "amass", str(src), "--out", str(tmp_path / "c"), "--strict"]) == 2
    err = capsys.readouterr().err
    assert "bad_poses.npz" in err and err.count(str(src / "s2" / "bad_poses.npz")) == 1
    assert not (tmp_path / "c" / "manifest.json").exists()


def test_an_ingest_that_reads_nothing_usable_fails(tmp_path, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "bad_poses.npz").write_bytes(b"truncated")
    assert main(["-q", "ingest", "amass", str(tmp_path / "src"), "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err
    assert "none of the 1 amass unit(s) read could be used" in err
    assert err.count(str(tmp_path / "src" / "bad_poses.npz")) == 1  # the path once, not repeated
    assert main(["-q", "ingest", "amass", str(tmp_path / "empty_dir_is_absent"), "--out", str(tmp_path / "d")]) == 2
    (tmp_path / "none").mkdir()
    assert main(["-q", "ingest", "amass", str(tmp_path / "none"), "--out", str(tmp_path / "e")]) == 1
    assert "no amass files found" in capsys.readouterr().err

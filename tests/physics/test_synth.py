"""hdys synth: deterministic whatever the workers and shards, resumable, validated."""
import json

import pytest

from hdys.physics.synth import parse_shard, quality_outliers, synth
from hdys.physics.fixture import subject_jobs as real_jobs
from hdys.store import Corpus

pytestmark = pytest.mark.slow  # every test here generates a corpus


def _checksums(path):
    return {e.sequence_id: e.checksum for e in Corpus(path).entries()}


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "one"
    summary = synth(out, "tiny", seed=3, workers=1, progress=False)
    return out, summary


def test_synth_writes_all_domains_and_a_validation_report(single):
    out, summary = single
    assert summary["generated_subjects"] == 15 and summary["skipped_subjects"] == 0
    assert set(Corpus(out).datasets) == {"lab", "sim", "muscle", "emg", "kin"}
    report = json.loads((out / "validation.json").read_text())
    assert report["standing"]["passed"]  # quiet standing: GRF = weight
    assert set(report["domains"]) == {"lab", "sim", "muscle", "emg", "kin"}
    assert report["passed"] and summary["validation_passed"]  # every check of every domain
    assert all(d["passed"] for d in report["domains"].values())
    assert report["all_sequences"]["passed"]  # activations within [0, 1], no broken labels
    # every sequence's quality figures were recorded as it was generated, and screened
    quality = json.loads((out / "quality.json").read_text())
    assert set(quality) == set(_checksums(out)) and report["all_sequences"]["quality_checked"] == len(quality)
    on_ground = [q for q in quality.values() if "residual_force_mean_pct_bw" in q]
    assert on_ground and all(q["residual_force_mean_pct_bw"] < 20 for q in on_ground)
    assert all(q["peak_torque_nm_per_kg"] < 10 for q in quality.values() if "peak_torque_nm_per_kg" in q)


def test_broken_labels_are_outliers(tmp_path):
    (tmp_path / "quality.json").write_text(json.dumps({
        "lab-s01-walk-01": {"motion": "walk", "residual_force_mean_pct_bw": 2.1, "peak_torque_nm_per_kg": 2.5},
        "sim-s05-lunge-05": {"motion": "lunge", "residual_force_mean_pct_bw": 15699.0, "peak_torque_nm_per_kg": 3.0},
        "lab-s02-jump-01": {"motion": "jump", "residual_force_mean_pct_bw": 6.0, "peak_torque_nm_per_kg": 31.0}}))
    checked, bad = quality_outliers(tmp_path)
    assert checked == 3 and [b["sequence_id"] for b in bad] == ["lab-s02-jump-01", "sim-s05-lunge-05"]
    assert quality_outliers(tmp_path / "missing") == (0, [])


def test_workers_and_shards_give_the_same_sequences(single, tmp_path):
    out, _ = single
    synth(tmp_path / "two", "tiny", seed=3, workers=2, progress=False, validate=False)
    assert _checksums(tmp_path / "two") == _checksums(out)
    synth(tmp_path / "s0", "tiny", seed=3, shard="0/2", progress=False, validate=False)
    synth(tmp_path / "s1", "tiny", seed=3, shard="1/2", progress=False, validate=False)
    a, b = _checksums(tmp_path / "s0"), _checksums(tmp_path / "s1")
    assert not set(a) & set(b) and {**a, **b} == _checksums(out)


def test_rerun_resumes_and_refuses_another_preset(single):
    out, _ = single
    again = synth(out, "tiny", seed=3, progress=False, validate=False)
    assert again["generated_subjects"] == 0 and again["skipped_subjects"] == 15
    with pytest.raises(ValueError, match="seed 3"):
        synth(out, "tiny", seed=4, progress=False, validate=False)


def test_rerun_does_not_mix_generator_versions(single, tmp_path, monkeypatch):
    """A corpus whose manifest predates the recorded generator version (version 1) is not completed with this
    generator's labels; complete, it is left as it is (a re-run only validates)."""
    import shutil

    from hdys.physics import synth as synth_module

    out, _ = single
    old = tmp_path / "old"
    shutil.copytree(out, old)
    manifest = json.loads((old / "manifest.json").read_text())
    assert manifest["synth"]["generator"] == synth_module.GENERATOR_VERSION > 1
    del manifest["synth"]["generator"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert synth(old, "tiny", seed=3, progress=False, validate=False)["generated_subjects"] == 0
    # one more subject to generate (as if the run had been interrupted): refused, nothing written
    monkeypatch.setattr(synth_module, "subject_jobs", lambda preset: [*real_jobs(preset), ("lab", 99)])
    with pytest.raises(ValueError, match=r"generator version 1; this hdys generates version \d+.*adding 1 subj"):
        synth(old, "tiny", seed=3, progress=False, validate=False)
    assert _checksums(old) == _checksums(out)


def test_parse_shard():
    assert parse_shard("2/5") == (2, 5) and parse_shard(None) == (0, 1)
    for bad in ("5/5", "x", "1/0"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)

import json
import logging
import pickle

import numpy as np
import pytest

from hdys import schema
from hdys.features import FEATURE_VERSION, MARGIN, merge_stats, sequence_stats
from hdys.schema import RAJAGOPAL_COORDINATES, SchemaError, Sequence
from hdys.store import (Corpus, CorpusError, CorpusWriter, export_npz, merged_stats, open_corpora,
                        sequences_from_npz, write_corpus)

MUSCLES = ["soleus_r", "gasmed_r", "recfem_r"]
MARKERS = ["LASI", "RASI", "LKNE", "RKNE"]
KEYPOINTS = ["pelvis", "left_hip", "right_hip"]


def make_seq(sid, dataset, subject, T=40, seed=0, split="", dynamics=True, markers=True, keypoints=True):
    rng = np.random.default_rng(seed)
    kw = {}
    if markers:
        m = rng.normal(0, 0.3, (T, len(MARKERS), 3)).astype(np.float32)
        m[3, 1] = np.nan  # an occluded marker
        kw.update(markers=m, marker_names=list(MARKERS))
    if keypoints:
        kw.update(keypoints=rng.normal(0, 0.3, (T, 3, 3)).astype(np.float32), keypoint_names=list(KEYPOINTS),
                  keypoint_parents=np.array([-1, 0, 0]))
    kw.update(joint_angles=rng.normal(0, 0.2, (T, 23)).astype(np.float32),
              joint_angle_names=list(RAJAGOPAL_COORDINATES))
    if dynamics:
        kw.update(torque_rajagopal=rng.normal(0, 20, (T, 17)).astype(np.float32),
                  muscle_activation=rng.uniform(0, 1, (T, 3)).astype(np.float32), muscle_names=list(MUSCLES),
                  contact=rng.uniform(size=(T, 2)) > 0.5)
    return Sequence(fps=100.0, sequence_id=sid, dataset=dataset, subject=subject, split=split,
                    mass_kg=70.0 + seed, height_m=1.75, **kw)


def make_all():
    seqs = []
    for d, n_subj in (("alpha", 5), ("beta", 3)):
        for s in range(n_subj):
            for k in range(2):
                i = len(seqs)
                seqs.append(make_seq(f"{d}_s{s}_t{k}", d, f"s{s}", T=30 + 7 * i, seed=i, dynamics=(d == "alpha")))
    return seqs


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "c", (s for s in make_all()), progress=False, shard_frames=150)


def assert_same(a: Sequence, b: Sequence):
    for key in schema.ARRAY_KEYS:
        x, y = getattr(a, key), getattr(b, key)
        assert (x is None) == (y is None), key
        if x is not None:
            assert x.dtype == y.dtype, key
            np.testing.assert_array_equal(x, y, err_msg=key)
    for key in schema.NAME_KEYS:
        assert getattr(a, key) == getattr(b, key), key
    if a.keypoint_parents is not None:
        np.testing.assert_array_equal(a.keypoint_parents, b.keypoint_parents)
    for key in ("fps", "mass_kg", "height_m", "sequence_id", "dataset"):
        assert getattr(a, key) == pytest.approx(getattr(b, key)) if isinstance(getattr(a, key), float) \
            else getattr(a, key) == getattr(b, key), key


def test_round_trip(corpus):
    originals = {s.sequence_id: schema.validate(s) for s in make_all()}
    assert len(corpus.entries()) == len(originals)
    assert corpus.datasets == ["alpha", "beta"]
    shards = {e.shard for e in corpus.entries(dataset="alpha")}
    assert len(shards) > 1  # small shard_frames rolls over
    for sid, orig in originals.items():
        got = corpus.read(sid)
        assert_same(orig, got)
        assert got.subject == orig.subject and got.split == corpus.entry(sid).split
        e = corpus.entry(sid)
        assert e.frames == orig.num_frames and e.dataset == orig.dataset
        assert set(e.representations) == set(orig.kinematics + orig.dynamics + ["contact"] * (orig.contact is not None))
    part = corpus.read("alpha_s0_t0", 5, 12)
    assert_same(originals["alpha_s0_t0"].slice(5, 12), part)
    assert corpus.read("alpha_s0_t0", -3, 10_000).num_frames == originals["alpha_s0_t0"].num_frames
    assert corpus.read("alpha_s0_t0", 20, 10).num_frames == 0
    with pytest.raises(CorpusError, match="nope"):
        corpus.read("nope")
    with pytest.raises(CorpusError, match="nope"):
        corpus.entry("nope")
    corpus.close()
    assert_same(originals["beta_s1_t1"], pickle.loads(pickle.dumps(corpus)).read("beta_s1_t1"))


def test_h5_layout(corpus):
    import h5py
    e = corpus.entry("alpha_s1_t0")
    with h5py.File(corpus.path / e.shard, "r") as f:
        g = f["alpha_s1_t0"]
        assert g["markers"].chunks[0] <= 256 and g["markers"].dtype == np.float32
        assert g["contact"].dtype == np.uint8
        assert g.attrs["split"] == e.split and g.attrs["subject"] == "s1"
        assert g.attrs["fps"] == 100.0 and g.attrs["mass_kg"] == pytest.approx(e.mass_kg)
    m = json.loads((corpus.path / "manifest.json").read_text())
    assert m["schema_version"] == 1 and m["format"] == "hdys-corpus" and m["created"]
    assert all(s.startswith("alpha/shard-") for s in m["datasets"]["alpha"]["shards"])


def test_read_window_margins(corpus):
    sid = "alpha_s0_t0"
    full = corpus.read(sid)
    T = full.num_frames
    seq, mb = corpus.read_window(sid, 0, 10)  # left edge: nothing before
    assert mb == 0 and seq.num_frames == 10 + MARGIN
    np.testing.assert_array_equal(seq.joint_angles, full.joint_angles[0:10 + MARGIN])
    seq, mb = corpus.read_window(sid, 1, 10)
    assert mb == 1 and seq.num_frames == 1 + 10 + MARGIN
    seq, mb = corpus.read_window(sid, 10, 5)
    assert mb == MARGIN and seq.num_frames == 5 + 2 * MARGIN
    np.testing.assert_array_equal(seq.joint_angles[mb:mb + 5], full.joint_angles[10:15])
    seq, mb = corpus.read_window(sid, T - 5, 5)  # right edge: nothing after
    assert mb == MARGIN and seq.num_frames == MARGIN + 5
    np.testing.assert_array_equal(seq.joint_angles[mb:], full.joint_angles[T - 5:])


def test_split_by_subject(corpus):
    for ds in corpus.datasets:
        train = {e.subject for e in corpus.entries("train", ds)}
        test = {e.subject for e in corpus.entries("test", ds)}
        assert not train & test
        assert test and train
        assert train | test == {e.subject for e in corpus.entries(dataset=ds)}


def test_split_deterministic_and_fixup(tmp_path):
    a = write_corpus(tmp_path / "a", make_all(), progress=False, seed=3)
    b = write_corpus(tmp_path / "b", iter(make_all()), progress=False, seed=3)
    assert [e.split for e in a.entries()] == [e.split for e in b.entries()]
    # test_fraction tiny: the hash would put nobody in test; the fix-up moves one subject per dataset
    c = write_corpus(tmp_path / "c", make_all(), progress=False, test_fraction=1e-9)
    for ds in c.datasets:
        assert len({e.subject for e in c.entries("test", ds)}) == 1
    expected = merge_stats([sequence_stats(schema.validate(s)) for s in make_all()
                            if c.entry(s.sequence_id).split == "train"])
    for k, v in expected.items():
        np.testing.assert_allclose(c.stats[k].total, v.total, rtol=1e-10)
    import h5py
    for e in c.entries():  # the split attribute was rewritten too
        with h5py.File(c.path / e.shard, "r") as f:
            assert f[e.sequence_id].attrs["split"] == e.split
    # given splits are kept
    seqs = make_all()
    for s in seqs:
        s.split = "test" if s.subject == "s0" else "train"
    d = write_corpus(tmp_path / "d", seqs, progress=False)
    assert {e.subject for e in d.entries("test")} == {"s0"}


def test_stats_train_only(corpus):
    train_ids = {e.sequence_id for e in corpus.entries("train")}
    assert 0 < len(train_ids) < len(corpus.entries())
    expected = merge_stats([sequence_stats(schema.validate(s)) for s in make_all() if s.sequence_id in train_ids])
    got = corpus.stats
    assert set(got) == set(expected)
    assert "muscle_activation/soleus_r" in got
    for k in expected:
        np.testing.assert_allclose(got[k].count, expected[k].count)
        np.testing.assert_allclose(got[k].total, expected[k].total, rtol=1e-10)
        np.testing.assert_allclose(got[k].total_sq, expected[k].total_sq, rtol=1e-10)
    m = merged_stats([corpus, corpus])
    np.testing.assert_allclose(m["joint_angles"].count, 2 * expected["joint_angles"].count)


def test_append_and_resume(tmp_path, caplog):
    seqs = make_all()
    out = tmp_path / "c"
    c1 = write_corpus(out, seqs[:6], progress=False)
    splits1 = {e.sequence_id: e.split for e in c1.entries()}
    shards1 = set(c1.manifest["datasets"]["alpha"]["shards"])
    # an interrupted write leaves an unlisted shard behind; it must be ignored and overwritten
    (out / "alpha" / "shard-001.h5").write_bytes(b"garbage")
    c2 = write_corpus(out, make_all(), progress=False)  # same ids again + new ones
    assert len(c2.entries()) == len(seqs)
    assert not c2.skipped
    assert set(c2.manifest["datasets"]["alpha"]["shards"]) >= shards1
    for sid, sp in splits1.items():
        if c2.entry(sid).dataset == "alpha":
            assert c2.entry(sid).split == sp
    for s in make_all():
        assert_same(schema.validate(s), c2.read(s.sequence_id))
    # stats equal those of a fresh write with the same splits
    train = {e.sequence_id for e in c2.entries("train")}
    expected = merge_stats([sequence_stats(schema.validate(s)) for s in make_all() if s.sequence_id in train])
    for k in expected:
        np.testing.assert_allclose(c2.stats[k].total, expected[k].total, rtol=1e-10)
    # same id, different data: warning + skip, error with strict
    changed = make_seq("alpha_s0_t0", "alpha", "s0", T=30, seed=99)
    with caplog.at_level(logging.WARNING):
        c3 = write_corpus(out, [changed], progress=False)
    assert [s["sequence_id"] for s in c3.skipped] == ["alpha_s0_t0"]
    assert "alpha_s0_t0" in caplog.text
    with pytest.raises(SchemaError, match="different data"):
        write_corpus(out, [make_seq("alpha_s0_t0", "alpha", "s0", T=30, seed=99)], progress=False, strict=True)
    assert len(Corpus(out).entries()) == len(seqs)


def test_interrupted_write_keeps_manifest(tmp_path):
    out = tmp_path / "c"
    write_corpus(out, make_all()[:4], progress=False)
    before = (out / "manifest.json").read_text()

    def gen():
        yield from make_all()[4:7]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_corpus(out, gen(), progress=False)
    assert (out / "manifest.json").read_text() == before
    c = write_corpus(out, make_all(), progress=False)  # resume
    assert len(c.entries()) == len(make_all())
    for s in make_all():
        assert_same(schema.validate(s), c.read(s.sequence_id))


def test_writer_records_meta_and_a_later_write_keeps_it(tmp_path):
    """``hdys synth`` records its settings through ``meta``: in the manifest from the first write on, kept by
    later writes that do not set them; the manifest's own entries cannot be overridden."""
    out = tmp_path / "c"
    writer = CorpusWriter(out, meta={"synth": {"preset": "tiny", "seed": 3}})
    for s in make_all()[:3]:
        writer.add(s)
    assert not (out / "manifest.json").exists()  # nothing is part of the corpus before close
    c = writer.close()
    assert c.manifest["synth"] == {"preset": "tiny", "seed": 3} and len(c.entries()) == 3
    c = write_corpus(out, make_all()[3:5], progress=False)
    assert c.manifest["synth"] == {"preset": "tiny", "seed": 3} and len(c.entries()) == 5
    with pytest.raises(ValueError, match="own entries"):
        CorpusWriter(out, meta={"stats": {}})


def test_bad_sequences(tmp_path, caplog):
    good = make_all()[:3]
    bad_shape = make_seq("bad_shape", "alpha", "s9")
    bad_shape.torque_rajagopal = bad_shape.torque_rajagopal[:, :10]
    no_mass = make_seq("no_mass", "alpha", "s9")
    no_mass.mass_kg = None
    dup = make_seq(good[0].sequence_id, "alpha", "s0", seed=5)
    with caplog.at_level(logging.WARNING):
        c = write_corpus(tmp_path / "c", [good[0], bad_shape, good[1], no_mass, dup, good[2]], progress=False)
    assert [e.sequence_id for e in c.entries()] == [s.sequence_id for s in good]
    reasons = {s["sequence_id"]: s["reason"] for s in c.skipped}
    assert set(reasons) == {"bad_shape", "no_mass", good[0].sequence_id}
    assert "torque_rajagopal" in reasons["bad_shape"]
    assert "mass_kg" in reasons["no_mass"]
    assert "duplicate" in reasons[good[0].sequence_id]
    assert "bad_shape" in caplog.text and "no_mass" in caplog.text
    assert json.loads((tmp_path / "c" / "manifest.json").read_text())["skipped"] == c.skipped
    with pytest.raises(SchemaError, match="torque_rajagopal"):
        write_corpus(tmp_path / "s1", [good[0], bad_shape], progress=False, strict=True)
    with pytest.raises(SchemaError, match="mass_kg"):
        write_corpus(tmp_path / "s2", [no_mass], progress=False, strict=True)
    with pytest.raises(SchemaError, match="duplicate"):
        write_corpus(tmp_path / "s3", [make_all()[0], make_all()[0]], progress=False, strict=True)


def test_npz_round_trip(corpus, tmp_path, caplog):
    paths = export_npz(corpus, tmp_path / "npz", progress=False)
    assert len(paths) == len(corpus.entries()) and all(p.suffix == ".npz" for p in paths)
    # a truncated and a corrupt file among good ones
    raw = paths[0].read_bytes()
    (tmp_path / "npz" / "aaa_truncated.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "npz" / "zzz_corrupt.npz").write_bytes(b"not a zip at all")
    skipped = []
    with caplog.at_level(logging.WARNING):
        seqs = list(sequences_from_npz([tmp_path / "npz"], skipped=skipped))
    assert len(seqs) == len(paths)
    assert {p["path"].rsplit("/", 1)[-1] for p in skipped} == {"aaa_truncated.npz", "zzz_corrupt.npz"}
    assert "aaa_truncated.npz" in caplog.text and "zzz_corrupt.npz" in caplog.text
    with pytest.raises(SchemaError, match="aaa_truncated"):
        list(sequences_from_npz(tmp_path / "npz", strict=True))
    c2 = write_corpus(tmp_path / "c2", sequences_from_npz(tmp_path / "npz"), progress=False)
    assert sorted(e.sequence_id for e in c2.entries()) == sorted(e.sequence_id for e in corpus.entries())
    for e in corpus.entries():
        assert c2.entry(e.sequence_id).split == e.split  # the split travels in the npz
        assert c2.entry(e.sequence_id).checksum == e.checksum
        assert_same(corpus.read(e.sequence_id), c2.read(e.sequence_id))


def test_availability_and_info_table(corpus):
    rows = {r["dataset"]: r for r in corpus.availability()}
    a, b = rows["alpha"], rows["beta"]
    assert a["sequences"] == 10 and b["sequences"] == 6 and a["subjects"] == 5
    assert a["frames"] == sum(e.frames for e in corpus.entries(dataset="alpha"))
    assert a["splits"]["train"]["sequences"] + a["splits"]["test"]["sequences"] == 10
    assert a["representations"]["torque_rajagopal"] == 10 and "torque_rajagopal" not in b["representations"]
    assert b["representations"]["markers"] == 6
    table = corpus.info_table()
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    alpha = [c.strip() for c in next(l for l in lines if l.startswith("| alpha")).strip("|").split("|")]
    beta = [c.strip() for c in next(l for l in lines if l.startswith("| beta")).strip("|").split("|")]
    col = header.index
    assert alpha[col("torque_rajagopal")] == "✓" and beta[col("torque_rajagopal")] == "-"
    assert alpha[col("smpl")] == "-" and beta[col("markers")] == "✓"
    assert alpha[col("sequences")] == "10" and beta[col("frames")] == str(b["frames"])


def test_partial_availability(tmp_path):
    seqs = [make_seq("x0", "gamma", "a"), make_seq("x1", "gamma", "b", markers=False)]
    c = write_corpus(tmp_path / "c", seqs, progress=False)
    row = c.availability()[0]
    assert row["representations"]["markers"] == 1
    line = next(l for l in c.info_table().splitlines() if l.startswith("| gamma"))
    assert "1/2" in line


def test_corpus_errors(tmp_path):
    with pytest.raises(CorpusError, match="missing_dir"):
        Corpus(tmp_path / "missing_dir")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="empty"):
        Corpus(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text("{ not json")
    with pytest.raises(CorpusError, match="bad"):
        Corpus(bad)
    (bad / "manifest.json").write_text(json.dumps({"schema_version": 99, "format": "hdys-corpus",
                                                   "datasets": {}, "sequences": [], "stats": {}}))
    with pytest.raises(CorpusError, match="schema_version"):
        Corpus(bad)
    assert issubclass(CorpusError, ValueError)
    with pytest.raises(CorpusError, match="missing_dir"):
        open_corpora([tmp_path / "missing_dir"])


_FORKED = {}


def _child_read(sid):
    corpus = _FORKED["corpus"]  # inherited through fork, with the parent's cached handles
    return float(np.nansum(corpus.read(sid).joint_angles))


def test_read_after_fork(corpus):
    import multiprocessing as mp
    sids = [e.sequence_id for e in corpus.entries()][:4]
    expected = [float(np.nansum(corpus.read(s).joint_angles)) for s in sids]  # parent handles are cached
    _FORKED["corpus"] = corpus
    try:
        with mp.get_context("fork").Pool(2) as pool:
            got = pool.map(_child_read, sids)
    finally:
        _FORKED.clear()
    assert got == pytest.approx(expected)
    assert [float(np.nansum(corpus.read(s).joint_angles)) for s in sids] == pytest.approx(expected)


def test_summary_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="hdys.store"):
        write_corpus(tmp_path / "c", make_all()[:4], progress=True)
    assert "wrote 4 new sequences" in caplog.text and "alpha" in caplog.text


def test_stale_feature_statistics_are_recomputed(tmp_path, caplog):
    """Statistics cached by another feature version (manifest and groups) are recomputed, not used."""
    import h5py

    out = tmp_path / "c"
    seqs = make_all()
    c = write_corpus(out, seqs[:6], progress=False)
    fresh = c.stats
    assert c.manifest["feature_version"] == FEATURE_VERSION
    # what an older hdys would have left: other numbers, recorded under another version
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["feature_version"] = 0
    manifest["stats"] = {k: {kk: [7.0] * len(vv) for kk, vv in v.items()} for k, v in manifest["stats"].items()}
    (out / "manifest.json").write_text(json.dumps(manifest))
    for e in c.entries():
        with h5py.File(out / e.shard, "r+") as f:
            g = f[e.sequence_id]
            del g["_stats_json"]
            g.create_dataset("_stats_json", data=json.dumps(manifest["stats"]), dtype=h5py.string_dtype())
            g.attrs["feature_version"] = 0
    with caplog.at_level(logging.WARNING):
        stale = Corpus(out).stats
    assert "feature version 0" in caplog.text
    for k in fresh:
        np.testing.assert_allclose(stale[k].total, fresh[k].total, rtol=1e-10)
    # appending recomputes the stale groups' statistics and stores the current version
    c2 = write_corpus(out, seqs, progress=False)
    assert c2.manifest["feature_version"] == FEATURE_VERSION
    train = {e.sequence_id for e in c2.entries("train")}
    expected = merge_stats([sequence_stats(schema.validate(s)) for s in make_all() if s.sequence_id in train])
    for k in expected:
        np.testing.assert_allclose(c2.stats[k].total, expected[k].total, rtol=1e-10)

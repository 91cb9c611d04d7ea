"""ImDy reader: raw joblib lists and converted per-sequence pickles, read without joblib and without
executing pickled code.

joblib is not a dependency, so ``joblib_dump`` below writes joblib's own layout (pickle protocol 4 in
which every ndarray is a ``joblib.numpy_pickle.NumpyArrayWrapper`` record, the frame flushed, a padding
byte + padding to 16-byte alignment, then the array's C-order bytes), optionally zlib/gzip compressed.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import re
import subprocess
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hdys.cli import main
from hdys.formats import read_source
from hdys.formats.imdy import DEFAULT_MASS_KG, MARKER_NAMES, load_joblib
from hdys.formats.markers import map_marker_names
from hdys.schema import SMPL_JOINT_NAMES, SMPL_PARENTS, SchemaError

T = 8


class NumpyArrayWrapper:  # joblib's record, as its pickle names it
    __module__ = "joblib.numpy_pickle"

    def __init__(self, subclass, shape, order, dtype, allow_mmap=False, numpy_array_alignment_bytes=16):
        self.subclass, self.shape, self.order, self.dtype = subclass, shape, order, dtype
        self.allow_mmap, self.numpy_array_alignment_bytes = allow_mmap, numpy_array_alignment_bytes


class _JoblibPickler(pickle._Pickler):
    def __init__(self, f, protocol):
        super().__init__(f, protocol=protocol)
        self.f = f

    def save(self, obj, save_persistent_id=True):
        if type(obj) is np.ndarray:
            super().save(NumpyArrayWrapper(np.ndarray, obj.shape, "C", obj.dtype, allow_mmap=True))
            self.framer.commit_frame(force=True)
            pad = 16 - (self.f.tell() + 1) % 16
            self.f.write(bytes([pad]) + b"\xff" * pad)
            self.f.write(np.ascontiguousarray(obj).tobytes())
            return
        super().save(obj, save_persistent_id)


@pytest.fixture
def joblib_dump(monkeypatch):
    pkg, mod = types.ModuleType("joblib"), types.ModuleType("joblib.numpy_pickle")
    mod.NumpyArrayWrapper = NumpyArrayWrapper
    monkeypatch.setitem(sys.modules, "joblib", pkg)
    monkeypatch.setitem(sys.modules, "joblib.numpy_pickle", mod)

    def dump(obj, path, compress=None):
        buf = io.BytesIO()
        _JoblibPickler(buf, protocol=4).dump(obj)
        data = buf.getvalue()
        data = {None: data, "zlib": zlib.compress(data, 3), "gzip": gzip.compress(data)}[compress]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    return dump


def smpl_pose(seed: int, n: int = T) -> np.ndarray:
    """Axis-angles (n, 24, 3): global orient + 23 local joint rotations."""
    return 0.4 * np.random.default_rng(seed).standard_normal((n, 24, 3))


def simulator_quaternions(pose: np.ndarray) -> np.ndarray:
    """What ImDy stores in rot.pkl for an SMPL pose: global joint frames (w, x, y, z) before the
    (.5, .5, .5, .5) pre-rotation that turns them into SMPL frames."""
    glob = [None] * 24
    for j, p in enumerate(SMPL_PARENTS):
        r = Rotation.from_rotvec(pose[:, j])
        glob[j] = r if p < 0 else glob[p] * r
    pre = Rotation.from_quat([0.5, 0.5, 0.5, 0.5])
    q = np.stack([(g * pre.inv()).as_quat() for g in glob], axis=1)  # (n, 24, xyzw)
    return q[..., [3, 0, 1, 2]]


def dynamics(seed: int, n: int = T):
    rng = np.random.default_rng(seed)
    torque = rng.standard_normal((n, 24, 3)).astype(np.float32)
    grf = np.zeros((n, 24, 3), np.float32)
    grf[:, 7] = [0, 0, 300.0]  # left ankle
    grf[:, 10] = [10.0, 0, 100.0]  # left foot
    grf[:, 8] = [0, 5.0, 200.0]  # right ankle
    grf[:, 11] = [0, 0, 50.0]  # right foot
    return torque, grf


def converted(seed: int = 0, joints: int = 45, **drop) -> dict:
    rng = np.random.default_rng(seed)
    torque, grf = dynamics(seed)
    d = dict(qpos=smpl_pose(seed).astype(np.float32), jpos=rng.uniform(-1, 1, (T, joints, 3)).astype(np.float32),
             mpos=rng.uniform(-1, 1, (T, 66, 3)).astype(np.float32), torque=torque, grf=grf)
    for k in drop:
        d.pop(k)
    return d


def test_converted_sequence(tmp_path, joblib_dump):
    d = converted()
    d["grf"][:, 20] = [0, 0, 40.0]  # a hand on the ground: not a foot
    joblib_dump(d, tmp_path / "imdy_train" / "0.pkl")
    joblib_dump(converted(1, joints=24), tmp_path / "imdy_train" / "1.pkl", compress="zlib")
    joblib_dump([("imdy_train/0.pkl", T)], tmp_path / "imdy_train" / "cand.pkl")  # the index: not listed
    report = []
    s0, s1 = read_source("imdy", tmp_path, report=report)
    assert (s0.sequence_id, s0.split, s0.fps) == (f"{tmp_path.name}/imdy_train/0", "train", 30.0)
    assert s0.mass_kg == pytest.approx(DEFAULT_MASS_KG)
    np.testing.assert_allclose(s0.smpl[:, 3:], d["qpos"].reshape(T, 72), atol=1e-6)
    np.testing.assert_allclose(s0.smpl[:, :3], d["jpos"][:, 0], atol=1e-6)  # the pelvis position
    assert s0.keypoint_names[:24] == list(SMPL_JOINT_NAMES) and s0.keypoint_names[24] == "nose"
    assert s0.keypoint_names[-1] == "right_pinky" and s0.keypoint_parents[-1] == 23
    np.testing.assert_allclose(s0.keypoints, d["jpos"], atol=1e-6)
    # ImDy's own names mapped onto the Plug-in Gait vocabulary (e.g. RIWR -> RWRA); marker_names="keep" keeps them
    assert len(MARKER_NAMES) == 66 and len(set(s0.marker_names)) == 66 and "RWRA" in s0.marker_names
    assert s0.marker_names == map_marker_names(list(MARKER_NAMES)).names
    kept = next(read_source("imdy", tmp_path, marker_names="keep"))
    assert kept.marker_names == list(MARKER_NAMES) and kept.marker_names[-1] == "lpinky"
    np.testing.assert_allclose(s0.markers, d["mpos"], atol=1e-6)
    np.testing.assert_allclose(s0.torque_smpl, 0.5 * d["torque"][:, 1:].reshape(T, 69), atol=1e-6)
    np.testing.assert_allclose(s0.grf[:, 0], np.tile([10.0, 0, 400.0], (T, 1)))  # left = ankle 7 + foot 10
    np.testing.assert_allclose(s0.grf[:, 1], np.tile([0, 5.0, 250.0], (T, 1)))  # right = 8 + 11
    assert s1.keypoint_names == list(SMPL_JOINT_NAMES)  # plain 24 joints, from a zlib-compressed file
    assert [r["status"] for r in report] == ["ok", "ok"] and report[0]["took"][0] == "markers"
    assert "default mass" in report[0]["reason"] and "other than the feet" in report[0]["reason"]
    assert s0.extra["grf_other_bodies_max_n"] == pytest.approx(40.0) and s1.extra["grf_other_bodies_max_n"] == 0


def test_converted_mass_option(tmp_path, joblib_dump):
    d = converted()
    joblib_dump(dict(d, weight=np.float64(61.0)), tmp_path / "a" / "0.pkl", compress="gzip")
    joblib_dump(d, tmp_path / "a" / "1.pkl")
    s0, s1 = read_source("imdy", tmp_path / "a", mass_kg=70.0)
    assert (s0.mass_kg, s1.mass_kg, s0.split, s0.sequence_id) == (61.0, 70.0, "", "a/0")


def test_raw_lists(tmp_path, joblib_dump):
    rng = np.random.default_rng(3)
    poses = [smpl_pose(4, T), smpl_pose(5, T + 3)]
    raw = tmp_path / "raw_test"
    pos = [rng.uniform(-1, 1, (len(p), 24, 3)) for p in poses]
    joblib_dump(pos, raw / "pos.pkl")
    joblib_dump([simulator_quaternions(p) for p in poses], raw / "rot.pkl")
    dyn = [dynamics(6, len(p)) for p in poses]
    joblib_dump([t for t, _ in dyn], raw / "torque.pkl")
    joblib_dump([g for _, g in dyn], raw / "grf.pkl")
    joblib_dump([np.float64(62.5), 80.0], raw / "weight.pkl")
    report = []
    seqs = list(read_source("imdy", raw, report=report))
    assert [s.sequence_id for s in seqs] == ["raw_test/0", "raw_test/1"]
    assert [s.mass_kg for s in seqs] == [62.5, 80.0] and {s.split for s in seqs} == {"test"}
    for s, p, x, (tq, g) in zip(seqs, poses, pos, dyn):
        got = Rotation.from_rotvec(s.smpl[:, 3:].reshape(-1, 3).astype(np.float64))
        angle = (got.inv() * Rotation.from_rotvec(p.reshape(-1, 3))).magnitude()
        assert angle.max() < 1e-4  # every joint's local rotation recovered from the global quaternions
        np.testing.assert_allclose(s.smpl[:, :3], x[:, 0], atol=1e-6)
        np.testing.assert_allclose(s.keypoints, x, atol=1e-6)
        assert s.keypoint_names == list(SMPL_JOINT_NAMES) and s.markers is None
        np.testing.assert_allclose(s.torque_smpl, 0.5 * tq[:, 1:].reshape(-1, 69), atol=1e-6)
        np.testing.assert_allclose(s.grf[:, 0, 2], 400.0)
    names = ["pos.pkl", "rot.pkl", "torque.pkl", "grf.pkl", "weight.pkl"]
    assert [r["path"].rsplit("/", 1)[1] for r in report] == names
    assert report[1]["took"] == ["smpl"] and report[4]["took"] == ["mass_kg"]
    np.testing.assert_allclose(load_joblib(raw / "pos.pkl")[1], pos[1])  # the loader on its own


def test_raw_nan_weight_skipped(tmp_path, joblib_dump):
    raw = tmp_path / "raw_train"
    p = smpl_pose(0)
    torque, grf = dynamics(0)
    pos = np.random.default_rng(0).uniform(-1, 1, (T, 24, 3))  # a body's spread (all-zero points are refused)
    for name, value in dict(pos=pos, rot=simulator_quaternions(p), torque=torque, grf=grf).items():
        joblib_dump([value, value], raw / f"{name}.pkl")
    joblib_dump([70.0, float("nan")], raw / "weight.pkl")
    report = []
    assert list(read_source("imdy", raw, report=report)) == []
    assert all(r["status"] == "skipped" for r in report) and "weight.pkl[1]" in report[0]["reason"]
    with pytest.raises(SchemaError, match=r"raw_train.*weight\.pkl\[1\].*nan"):
        list(read_source("imdy", raw, strict=True))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize("case, message", [
    ("truncated", "truncated or corrupt"),
    ("code", "refusing to load posix.system"),
    ("shape", r"qpos: expected shape \(T, 24, 3\), got \(8, 23, 3\)"),
    ("missing", r"missing key\(s\) \['grf'\]"),
    ("nan", r"torque: contains NaN"),
])
def test_malformed_converted(tmp_path, joblib_dump, case, message):
    good, bad = tmp_path / "s" / "0.pkl", tmp_path / "s" / "1.pkl"
    joblib_dump(converted(), good)
    d = converted(grf=None) if case == "missing" else converted()
    if case == "shape":
        d["qpos"] = d["qpos"][:, :23]
    if case == "nan":
        d["torque"][3, 5, 1] = np.nan
    joblib_dump(d, bad)
    if case == "truncated":
        bad.write_bytes(bad.read_bytes()[:700])
    if case == "code":
        bad.write_bytes(pickle.dumps({"qpos": _Evil()}))
    report = []
    (seq,) = read_source("imdy", tmp_path / "s", report=report)
    assert seq.sequence_id == "s/0" and report[0]["status"] == "ok"
    assert report[1]["status"] == "skipped" and report[1]["path"].endswith("1.pkl")
    assert re.search(message, report[1]["reason"]), report[1]["reason"]
    with pytest.raises(SchemaError, match="1.pkl"):
        list(read_source("imdy", tmp_path / "s", strict=True))


def test_cli_ingest_and_info(tmp_path, joblib_dump, capsys):
    joblib_dump(converted(0), tmp_path / "src" / "imdy_train" / "0.pkl")
    joblib_dump(converted(1), tmp_path / "src" / "imdy_test" / "0.pkl")
    (tmp_path / "src" / "imdy_test" / "1.pkl").write_bytes(b"\x80\x04garbage")
    out = tmp_path / "corpus"
    proc = subprocess.run([sys.executable, "-m", "hdys.cli", "-q", "ingest", "imdy", str(tmp_path / "src"), "--out",
                           str(out)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stderr and "1.pkl" in proc.stderr
    assert "2 sequence(s) read from" in proc.stdout and "1 file(s) skipped" in proc.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert {(s["sequence_id"], s["split"]) for s in manifest["sequences"]} == {
        ("src/imdy_train/0", "train"), ("src/imdy_test/0", "test")}
    report = json.loads((out / "ingest_report.json").read_text())
    assert [r["status"] for r in report] == ["ok", "skipped", "ok"]
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    for word in ("imdy", "markers", "keypoints", "smpl", "torque_smpl", "grf"):
        assert word in info
    assert main(["-q", "ingest", "imdy", str(tmp_path / "src"), "--out", str(tmp_path / "c2"), "--strict"]) == 2

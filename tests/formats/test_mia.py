"""Muscles in Action reader: clip folder -> BODY_25 keypoints (camera -> z up), smpl, 8-channel emg."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hdys.formats import read_source
from hdys.schema import BODY25_NAMES, MIA_EMG_CHANNELS, SchemaError

T = 30


def write_clip(clip, emg_shape=(8, T)):
    clip.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(clip / "emgvalues.npy", rng.random(emg_shape))
    j = np.zeros((T, 49, 3))
    j[:, 0] = [0.1, -0.6, 3.0]  # nose: above the hip (camera y down), 3 m in front
    np.save(clip / "joints3d.npy", j)
    pose = np.zeros((T, 72))
    pose[:, 0] = np.pi  # VIBE's usual upside-down global orient about x (camera y down)
    pose[:, 3:] = 0.1
    np.save(clip / "pose.npy", pose)
    np.save(clip / "betas.npy", np.zeros((T, 10)))


def test_clip(tmp_path):
    clip = tmp_path / "train" / "Subject3" / "Squat" / "0042"
    write_clip(clip)
    report = []
    (seq,) = read_source("mia", tmp_path, report=report)
    assert (seq.fps, seq.subject, seq.num_frames) == (30.0, "Subject3", T)
    assert seq.emg_names == list(MIA_EMG_CHANNELS) and seq.emg.shape == (T, 8)
    np.testing.assert_allclose(seq.emg, np.load(clip / "emgvalues.npy").T, atol=1e-6)
    assert seq.keypoint_names == list(BODY25_NAMES) and seq.keypoints.shape == (T, 25, 3)
    assert seq.keypoint_parents[BODY25_NAMES.index("MidHip")] == -1
    np.testing.assert_allclose(seq.keypoints[0, 0], [0.1, 3.0, 0.6], atol=1e-6)  # (x, z, -y): up is +z
    assert not seq.smpl[:, :3].any()
    up = Rotation.from_rotvec(seq.smpl[0, 3:6]).apply([0.0, 1.0, 0.0])  # SMPL body up axis (+y) in the world
    np.testing.assert_allclose(up, [0, 0, 1], atol=1e-6)
    assert seq.mass_kg == 70.0 and "nominal" in report[0]["reason"]
    assert sorted(k for r in report for k in r["took"]) == ["emg", "keypoints", "smpl"]


def test_wrong_shapes_named(tmp_path):
    write_clip(tmp_path / "Subject1" / "Run" / "1", emg_shape=(7, T))
    with pytest.raises(SchemaError, match="emgvalues.npy.*expected shape \\(8, T\\)"):
        list(read_source("mia", tmp_path, strict=True))
    report = []
    assert list(read_source("mia", tmp_path, report=report)) == []
    assert {r["status"] for r in report} == {"skipped"}


def test_truncated_npy(tmp_path):
    clip = tmp_path / "Subject1" / "Run" / "1"
    write_clip(clip)
    (clip / "pose.npy").write_bytes((clip / "pose.npy").read_bytes()[:200])
    with pytest.raises(SchemaError, match="pose.npy"):
        list(read_source("mia", tmp_path, strict=True, mass_kg=65.0))

"""Muscles in Time reader: DataFrame pickles read without pandas (restricted unpickler), gaps, AMASS join.

Writing a real DataFrame pickle needs pandas (a `dev` extra, not a dependency): those tests skip without it.
"""
from __future__ import annotations

import csv
import os
import pickle

import numpy as np
import pytest

from hdys.formats import read_source
from hdys.formats.mint import SafeUnpickler, dataframe
from hdys.schema import SchemaError

REL = "BMLmovi/BMLmovi/Subject_11_F_MoSh/Subject_11_F_10_poses"
AMASS_REL = "BMLmovi/Subject_11_F_MoSh/Subject_11_F_10_poses.npz"


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_unpickler_refuses_code():
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        dataframe(pickle.dumps(_Evil()))
    assert SafeUnpickler.NUMPY  # only array reconstruction is allowed from numpy


@pytest.fixture
def mint(tmp_path):
    pd = pytest.importorskip("pandas")
    folder = tmp_path / "MinT" / REL
    folder.mkdir(parents=True)
    rows = np.r_[0:5, 8:10]  # frames 5..7 missing: a gap
    t = 0.14 + rows / 50.0
    names = [f"LU_m{i}" for i in range(80)] + [f"TL_m{i}" for i in range(322)]  # MinT's 80 + 322 = 402
    act = np.linspace(0, 1, len(rows) * len(names)).reshape(len(rows), len(names))
    pd.DataFrame(act, index=t, columns=names).to_pickle(folder / "muscle_activations.pkl")
    cols = [f"ground_force_{s}_{q}{a}" for s in ("right", "left") for q in "vp" for a in "xyz"]
    g = np.zeros((len(rows), len(cols)))
    g[:, cols.index("ground_force_left_vy")] = 700.0  # vertical in OpenSim's y-up frame
    g[:, cols.index("ground_force_right_px")] = 0.3
    pd.DataFrame(g, index=t, columns=cols).to_pickle(folder / "grf.pkl")
    with open(tmp_path / "MinT" / "BMLmovi_metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerows([["data_path", "weight_kg", "height_cm"], [AMASS_REL, "61.5", "168"]])
    amass = tmp_path / "AMASS" / AMASS_REL
    amass.parent.mkdir(parents=True)
    trans = np.zeros((60, 3))
    trans[:, 0] = np.arange(60) / 120.0  # 1 m/s forward: x = t
    np.savez(amass, poses=np.zeros((60, 156)), trans=trans, betas=np.zeros(16), gender=np.array("female"),
             mocap_framerate=np.array(120.0))
    return tmp_path, names, act


def test_join_with_amass(mint):
    root, names, act = mint
    report = []
    (seq,) = read_source("mint", root / "MinT", amass_dir=root / "AMASS", report=report)
    assert (seq.fps, seq.mass_kg, seq.height_m, seq.subject) == (50.0, 61.5, 1.68, "Subject_11_F_MoSh")
    assert seq.muscle_names == names and seq.num_frames == 10  # 0.14 .. 0.32 s, within the 0.49 s of AMASS
    gap = np.isnan(seq.muscle_activation).all(axis=1)
    assert gap.tolist() == [False] * 5 + [True] * 3 + [False] * 2
    np.testing.assert_allclose(seq.muscle_activation[~gap], act, atol=1e-6)  # every one of the 402 columns
    np.testing.assert_allclose(seq.smpl[:, 0], 0.14 + np.arange(10) / 50, atol=1e-6)  # AMASS sampled at t
    np.testing.assert_allclose(seq.grf[0, 0], [0, 0, 700.0], atol=1e-4)  # left foot, z up
    np.testing.assert_allclose(seq.cop[0, 1], [0.3, 0, 0], atol=1e-6)  # right foot
    assert "3 gap frame(s)" in report[0]["reason"] and report[0]["status"] == "ok"
    assert report[1]["took"] == ["grf"]


def test_resampling_keeps_gaps(mint):
    root, _, _ = mint
    (seq,) = read_source("mint", root / "MinT", amass_dir=root / "AMASS", fps=100.0)
    gap = np.isnan(seq.muscle_activation).all(axis=1)
    assert gap[10:15].all() and not gap[:9].any()  # frames 5..7 at 50 fps = 10..14 at 100 fps, plus edges


def test_without_amass_skipped_with_reason(mint):
    root, _, _ = mint
    report = []
    assert list(read_source("mint", root / "MinT", report=report)) == []
    assert "amass_dir" in report[0]["reason"] and "muscle_activations.pkl" in report[0]["path"]
    with pytest.raises(SchemaError, match="AMASS"):
        list(read_source("mint", root / "MinT", amass_dir=root / "elsewhere", strict=True))


def test_truncated_pickle(mint):
    root, _, _ = mint
    p = root / "MinT" / REL / "muscle_activations.pkl"
    p.write_bytes(p.read_bytes()[:150])
    with pytest.raises(SchemaError, match="muscle_activations.pkl"):
        list(read_source("mint", root / "MinT", amass_dir=root / "AMASS", strict=True))

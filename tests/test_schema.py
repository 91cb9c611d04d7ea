import numpy as np
import pytest

from hdys.schema import (RAJAGOPAL_COORDINATES, SchemaError, Sequence, load_npz, save_npz, validate)


def _seq(**kw):
    T = 10
    base = dict(fps=100.0, sequence_id="s1", dataset="d", split="train", mass_kg=70.0,
                joint_angles=np.zeros((T, 23)), torque_rajagopal=np.zeros((T, 17)))
    base.update(kw)
    return Sequence(**base)


def test_valid_sequence_is_float32_and_named():
    s = validate(_seq())
    assert s.joint_angles.dtype == np.float32
    assert tuple(s.joint_angle_names) == RAJAGOPAL_COORDINATES
    assert s.kinematics == ["joint_angles"] and s.dynamics == ["torque_rajagopal"]


@pytest.mark.parametrize("kw, words", [
    (dict(joint_angles=np.zeros((10, 22))), ["joint_angles", "(T, 23)", "(10, 22)"]),
    (dict(torque_rajagopal=np.zeros((9, 17))), ["torque_rajagopal", "T=10"]),
    (dict(mass_kg=None), ["mass_kg", "required"]),
    (dict(mass_kg=70000.0), ["mass_kg", "70000"]),
    (dict(fps=0.0), ["fps"]),
    (dict(joint_angles=np.full((10, 23), np.nan)), ["joint_angles", "NaN"]),
    (dict(joint_angles=np.full((10, 23), 90.0)), ["joint_angles", "degrees"]),
    (dict(markers=np.ones((10, 3, 3)) * 1500, marker_names=["a", "b", "c"]), ["markers", "millimetres"]),
    (dict(markers=np.ones((10, 3, 3)), marker_names=["a", "b"]), ["marker_names", "3 names"]),
    (dict(markers=np.ones((10, 2, 3)), marker_names=["a", "a"]), ["marker_names", "duplicate"]),
    (dict(markers=np.ones((10, 2, 3))), ["marker_names", "required"]),
    (dict(joint_angle_names=[f"x{i}" for i in range(23)]), ["joint_angle_names", "unknown"]),
    (dict(muscle_activation=np.full((10, 2), 1.5), muscle_names=["a", "b"]), ["muscle_activation", "[0, 1]"]),
    (dict(split="validation"), ["split", "validation"]),
])
def test_bad_input_names_key_and_value(kw, words):
    with pytest.raises(SchemaError) as err:
        validate(_seq(**kw), source="file.npz")
    msg = str(err.value)
    assert "file.npz" in msg
    for w in words:
        assert w in msg


def test_markers_may_be_occluded():
    m = np.ones((10, 2, 3))
    m[3, 1] = np.nan
    validate(_seq(markers=m, marker_names=["a", "b"]))


def test_npz_round_trip(tmp_path):
    s = validate(_seq(markers=np.random.rand(10, 2, 3), marker_names=["LASI", "RASI"]))
    p = save_npz(s, tmp_path / "x.npz")
    with np.load(p) as z:
        assert set(z.files) == {"fps", "mass_kg", "markers", "marker_names", "joint_angles", "joint_angle_names",
                                "torque_rajagopal", "sequence_id", "dataset", "split"}
    r = load_npz(p)
    np.testing.assert_array_equal(r.markers, s.markers)
    assert r.marker_names == ["LASI", "RASI"] and r.sequence_id == "s1" and r.split == "train"


def test_npz_errors_name_the_file(tmp_path):
    bad = tmp_path / "trunc.npz"
    save_npz(validate(_seq()), bad)
    bad.write_bytes(bad.read_bytes()[:50])
    with pytest.raises(SchemaError, match="trunc.npz.*truncated or corrupt"):
        load_npz(bad)
    odd = tmp_path / "odd.npz"
    np.savez(odd, fps=30.0, poses=np.zeros((3, 72)))
    with pytest.raises(SchemaError, match="unknown keys \\['poses'\\]"):
        load_npz(odd)
    nofps = tmp_path / "nofps.npz"
    np.savez(nofps, smpl=np.zeros((3, 75)))
    with pytest.raises(SchemaError, match="fps"):
        load_npz(nofps)

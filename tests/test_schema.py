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


def _walk(T=10, **kw):
    """A plausible sequence in metres, radians, N m and N, to which one mistake is made."""
    rng = np.random.default_rng(0)
    q = np.zeros((T, 23))
    q[:, 4] = 0.95
    q[:, 9] = np.linspace(0.1, 1.2, T)  # a knee flexing to 69 degrees
    base = dict(fps=100.0, sequence_id="w", dataset="d", mass_kg=70.0, joint_angles=q,
                markers=rng.uniform(-0.3, 1.6, (T, 4, 3)), marker_names=list("abcd"),
                smpl=np.concatenate([np.tile([0.5, 0.9, 2.0], (T, 1)), np.zeros((T, 72))], axis=1),
                torque_rajagopal=np.full((T, 17), 80.0), grf=np.tile([0.0, 700.0, 0.0], (T, 2, 1)),
                cop=np.tile([0.3, 0.0, 0.1], (T, 2, 1)))
    base.update(kw)
    return Sequence(**base)


def _scaled(key, factor, **kw):
    seq = _walk(**kw)
    return getattr(seq, key) * factor


@pytest.mark.parametrize("mistake, words", [
    (dict(fps=1e30), ["fps", "1e+30"]),
    (dict(joint_angles=_walk().joint_angles * np.r_[[180 / np.pi] * 3, [1] * 3, [180 / np.pi] * 17]),
     ["knee_angle_r", "degrees", "pi"]),
    (dict(joint_angles=_scaled("joint_angles", 1000)), ["pelvis_ty", "millimetres"]),
    (dict(smpl=_scaled("smpl", 1000)), ["smpl", "translation", "millimetres"]),
    (dict(cop=_scaled("cop", 1000)), ["cop", "millimetres"]),
    (dict(markers=_scaled("markers", 1e-3)), ["markers", "span only", "labelled as millimetres"]),
    (dict(torque_rajagopal=_scaled("torque_rajagopal", 1e6)), ["torque_rajagopal", "N m/kg", "N mm"]),
    (dict(grf=_scaled("grf", 1e9 / 700)), ["grf", "body weights"]),
    (dict(grf=_walk().grf * (1 + 1j)), ["grf", "real numeric", "complex"]),
])
def test_unit_and_scaling_mistakes_are_refused(mistake, words):
    validate(_walk())  # the sequence without the mistake is fine
    with pytest.raises(SchemaError) as err:
        validate(_walk(**mistake), source="trial.npz")
    for w in ["trial.npz", *words]:
        assert w in str(err.value)


def test_markers_may_be_occluded():
    m = np.ones((10, 2, 3))
    m[:, 1] = 0.0
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

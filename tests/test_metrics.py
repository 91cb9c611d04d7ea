import math

import numpy as np
import pytest

from hdys import metrics as M


# ---------------------------------------------------------------- mPJE


def test_mpje_vector_norm_and_mass():
    target = np.zeros((1, 6))
    pred = np.array([[3.0, 4.0, 0.0, 0.0, 0.0, 0.0]])  # joint 0 error norm 5, joint 1 error 0
    assert M.mpje(pred, target, mass_kg=1.0, joint_dim=3) == pytest.approx(2.5)
    assert M.mpje(pred, target, mass_kg=50.0, joint_dim=3) == pytest.approx(2.5 / 50.0)


def test_mpje_smpl_shape_and_components_variant():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(4, 69))
    err = np.zeros((4, 23, 3))
    err[:, :, 0], err[:, :, 1] = 3.0, 4.0
    pred = target + err.reshape(4, 69)
    assert M.mpje(pred, target, 70.0, 3) == pytest.approx(5.0 / 70.0)
    # per-component variant: mean(|3|,|4|,|0|) = 7/3
    assert M.mpje_components(pred, target, 70.0) == pytest.approx(7.0 / 3.0 / 70.0)


def test_mpje_rajagopal_is_abs_error():
    target = np.zeros((2, 17))
    pred = np.zeros((2, 17))
    pred[0, 0] = -3.4  # only one of 34 values wrong
    assert M.mpje(pred, target, 2.0, 1) == pytest.approx(3.4 / 34 / 2.0)


def test_mpje_grf_two_feet():
    target = np.zeros((2, 2, 3))
    pred = np.zeros((2, 2, 3))
    pred[:, 0] = [0.0, 3.0, 4.0]  # left foot error 5 N, right 0
    assert M.mpje(pred, target, 10.0, 3) == pytest.approx(2.5 / 10.0)


def test_mpje_nan_target_excludes_joint_frame():
    target = np.zeros((2, 6))
    pred = np.zeros((2, 6))
    pred[0, :3] = [3.0, 4.0, 0.0]
    pred[1, :3] = [100.0, 0.0, 0.0]
    target[1, 2] = np.nan  # joint 0 of frame 1 unlabelled -> excluded (3 valid joint-frames)
    assert M.mpje(pred, target, 1.0, 3) == pytest.approx(5.0 / 3.0)
    assert M.mpje_stats(pred, target, 1.0, 3)[1] == 3


def test_mpje_channel_mask_and_all_missing():
    target = np.zeros((3, 6))
    pred = np.ones((3, 6))
    pred[:, 3:] = 10.0
    mask = np.array([True] * 3 + [False] * 3)
    assert M.mpje(pred, target, 1.0, 3, mask=mask) == pytest.approx(math.sqrt(3))
    assert math.isnan(M.mpje(pred, np.full_like(target, np.nan), 1.0, 3))


def test_mpje_rejects_bad_input():
    with pytest.raises(ValueError):
        M.mpje(np.zeros((2, 5)), np.zeros((2, 5)), 1.0, 3)
    with pytest.raises(ValueError):
        M.mpje(np.zeros((2, 6)), np.zeros((2, 7)), 1.0, 3)
    with pytest.raises(ValueError):
        M.mpje(np.zeros((2, 6)), np.zeros((2, 6)), 0.0, 3)
    pred = np.zeros((2, 6))
    pred[1, 1] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        M.mpje(pred, np.zeros((2, 6)), 1.0, 3)


# ---------------------------------------------------------------- RMSE


def test_rmse_hand_computed_and_nan():
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[0.0, 0.0], [3.0, np.nan]])
    # valid errors 1, 2, 0 -> sqrt(5/3)
    assert M.rmse(pred, target) == pytest.approx(math.sqrt(5.0 / 3.0))
    assert M.rmse(pred, target, mask=np.array([True, False])) == pytest.approx(math.sqrt(1.0 / 2.0))
    assert math.isnan(M.rmse(pred, np.full((2, 2), np.nan)))


# ---------------------------------------------------------------- PCC


def _signal(T, C, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(T, C)), axis=0)


def test_pcc_scale_offset_and_negation():
    y = _signal(128, 4)
    assert M.pcc(3.0 * y + 7.0, y, window=32) == pytest.approx(1.0, abs=1e-6)
    assert M.pcc(-0.5 * y + 1.0, y, window=32) == pytest.approx(-1.0, abs=1e-6)


def test_pcc_matches_numpy_corrcoef_and_mint_denominator():
    x, y = _signal(50, 1, seed=1), _signal(50, 1, seed=2)
    r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
    assert M.pcc(x, y, window=50) == pytest.approx(r, abs=1e-6)
    assert M.pcc(x, y, window=50, mint_denominator=True) == pytest.approx(r * 50 / 49, abs=1e-6)


def test_pcc_windowing_drops_partial_and_short_sequence():
    assert M.window_bounds(10, 4) == [(0, 4), (4, 8)]
    assert M.window_bounds(3, 4) == [(0, 3)]
    assert M.window_bounds(8, 4) == [(0, 4), (4, 8)]
    y = _signal(10, 2)
    pred = y.copy()
    pred[4:8] *= -1.0  # window 2 anti-correlated
    pred[8:] = _signal(2, 2, seed=9)  # partial last window: dropped, must not matter
    assert M.pcc(pred, y, window=4) == pytest.approx(0.0, abs=1e-6)
    assert len(M.pcc_windows(pred, y, window=4)) == 2
    # shorter than a window: one window over the whole sequence
    assert M.pcc(2 * y[:3], y[:3], window=4) == pytest.approx(1.0, abs=1e-6)


def test_pcc_skips_constant_and_masked_channels():
    y = _signal(20, 3)
    y[:, 1] = 0.5  # constant target channel: skipped
    pred = y.copy()
    pred[:, 2] *= -1.0  # masked channel
    pred[:, 1] = _signal(20, 1, seed=5)[:, 0]
    assert M.pcc(pred, y, window=20, mask=np.array([True, True, False])) == pytest.approx(1.0, abs=1e-6)
    # without mask: mean of +1 (ch0) and -1 (ch2)
    assert M.pcc(pred, y, window=20) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(M.pcc(pred, np.full_like(y, np.nan), window=20))
    assert math.isnan(M.pcc(pred[:, 1:2], y[:, 1:2], window=20))


def test_pcc_nan_frames_excluded_within_window():
    y = _signal(16, 1)
    pred = 2 * y + 1
    pred[5] = 1e6  # garbage where the label is missing
    y_nan = y.copy()
    y_nan[5] = np.nan
    assert M.pcc(pred, y_nan, window=16) == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- accumulator


def test_accumulator_frame_weighting_and_best():
    acc = M.MetricAccumulator(pcc_window=4)
    # EMG, two sequences of different lengths: errors 1 over 2 frames and 3 over 6 frames
    t1, t2 = np.zeros((2, 1)), np.zeros((6, 1))
    acc.add("mia", "emg", "keypoints", t1 + 1.0, t1)
    acc.add("mia", "emg", "keypoints", t2 + 3.0, t2)
    pooled = math.sqrt((2 * 1 + 6 * 9) / 8)  # frame-weighted, not (1 + 3) / 2
    # torque_rajagopal: mPJE pooled over joint-frames, mass applied per sequence
    a, b = np.zeros((1, 17)), np.zeros((3, 17))
    acc.add("addb", "torque_rajagopal", "markers", a + 10.0, a, mass_kg=10.0)  # 1 N m/kg, 17 values
    acc.add("addb", "torque_rajagopal", "markers", b + 40.0, b, mass_kg=20.0)  # 2 N m/kg, 51 values
    acc.add("addb", "torque_rajagopal", "joint_angles", b + 20.0, b, mass_kg=20.0)  # 1 N m/kg
    acc.add("addb", "torque_rajagopal", "avg", b + 30.0, b, mass_kg=20.0)
    res = acc.result()
    assert res["mia"]["emg"]["RMSE"]["keypoints"] == pytest.approx(pooled)
    assert res["mia"]["emg"]["RMSE"]["best"] == pytest.approx(pooled)
    r = res["addb"]["torque_rajagopal"]
    assert r["mPJE"]["markers"] == pytest.approx((17 * 1 + 51 * 2) / 68)
    assert r["mPJE"]["joint_angles"] == pytest.approx(1.0)
    assert r["mPJE"]["avg"] == pytest.approx(1.5)
    assert r["mPJE"]["best"] == pytest.approx(1.0)  # min over individual reps, "avg" not a candidate
    assert r["RMSE"]["joint_angles"] == pytest.approx(20.0)
    assert set(r) == {"mPJE", "RMSE"}


def test_accumulator_pcc_mean_over_windows():
    acc = M.MetricAccumulator(pcc_window={"mint": 4})
    y = _signal(12, 2)
    acc.add("mint", "muscle_activation", "smpl", y, y)  # 3 windows of +1
    acc.add("mint", "muscle_activation", "smpl", -y[:4], y[:4])  # 1 window of -1
    acc.add("mint", "muscle_activation", "markers", 2 * y, y)
    res = acc.result()["mint"]["muscle_activation"]["PCC"]
    assert res["smpl"] == pytest.approx((3 - 1) / 4, abs=1e-6)
    chosen = M.best_representations(acc.result())["mint"]  # one representation's numbers, not the max PCC
    assert res["best"] == res[chosen]


def test_accumulator_grf_and_smpl_metric_sets():
    acc = M.MetricAccumulator()
    t = np.zeros((2, 2, 3))
    p = t.copy()
    p[:, 1] = [0.0, 3.0, 4.0]
    acc.add("groundlink", "grf", "keypoints", p, t, mass_kg=5.0)
    acc.add("imdy", "torque_smpl", "smpl", np.ones((2, 69)), np.zeros((2, 69)), mass_kg=1.0)
    res = acc.result()
    g = res["groundlink"]["grf"]
    assert g["mPJE"]["keypoints"] == pytest.approx(0.5)
    assert g["mPJE_left"]["keypoints"] == pytest.approx(0.0)
    assert g["mPJE_right"]["keypoints"] == pytest.approx(1.0)
    s = res["imdy"]["torque_smpl"]
    assert s["mPJE"]["smpl"] == pytest.approx(math.sqrt(3))
    assert s["mPJE_components"]["smpl"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mass"):
        acc.add("imdy", "torque_smpl", "smpl", np.ones((2, 69)), np.zeros((2, 69)))


def test_registries_consistent():
    for dyn, names in M.METRICS_FOR.items():
        for name in names:
            assert name in M.LOWER_IS_BETTER
            assert (dyn, name) in M.UNITS
    assert M.LOWER_IS_BETTER["PCC"] is False and M.LOWER_IS_BETTER["mPJE"] is True


def test_best_is_one_representation_per_dataset():
    """The paper's *bst* is one representation's row: RMSE and PCC must come from the same input."""
    acc = M.MetricAccumulator(pcc_window=16)
    y = _signal(64, 2)
    z = np.roll(_signal(64, 2), 5, axis=0)
    acc.add("mint", "muscle_activation", "markers", y + 0.5, y)  # PCC 1, RMSE 0.5
    acc.add("mint", "muscle_activation", "smpl", y + 0.02 * z, y)  # PCC < 1, RMSE 0.02 x |z|
    res = acc.result()["mint"]["muscle_activation"]
    assert res["PCC"]["markers"] > res["PCC"]["smpl"] and res["RMSE"]["smpl"] < res["RMSE"]["markers"]
    # one rank each: the tie goes to the first headline metric (RMSE), and both numbers are smpl's
    assert M.best_representations(acc.result()) == {"mint": "smpl"}
    assert res["RMSE"]["best"] == res["RMSE"]["smpl"] and res["PCC"]["best"] == res["PCC"]["smpl"]
    # a representation best in more columns wins even where another is better in one of them
    results = {"addb": {"torque_rajagopal": {"mPJE": {"markers": 2.0, "joint_angles": 1.0, "avg": 0.5}},
                        "grf": {"mPJE": {"markers": 3.0, "joint_angles": 2.0}},
                        "emg": {"RMSE": {"markers": 0.1, "joint_angles": 0.2}}}}
    assert M.best_representations(results) == {"addb": "joint_angles"}

import numpy as np
import torch

from hdys.data import Normalizer, average_over_representations, batches, collate, epoch_windows, window_starts
from hdys.features import WindowFeatures, RunningStats


def _norm(muscles):
    stats = {f"muscle_activation/{m}": RunningStats.of(np.array([[0.0], [1.0]])) for m in muscles}
    return Normalizer.from_stats(stats, muscles, [])


def test_collate_masks_missing_channels_nan_labels_and_padding():
    vocab = {"muscle_activation": ["a", "b", "c"], "emg": []}
    w1 = WindowFeatures("d", "s1", 0, 70.0, kin={"joint_angles": np.zeros((4, 69), np.float32)},
                        dyn={"muscle_activation": np.array([[0.2, 0.9]] * 4, np.float32)},
                        channel_names={"muscle_activation": ["c", "a"]})
    y = np.full((3, 1), 0.5, np.float32)
    y[1] = np.nan
    w2 = WindowFeatures("d", "s2", 0, 70.0, kin={"joint_angles": np.zeros((3, 69), np.float32)},
                        dyn={"muscle_activation": y}, channel_names={"muscle_activation": ["b"]})
    batch = collate([w1, w2], _norm(["a", "b", "c"]), vocab, T=4)
    m = batch["dyn"]["muscle_activation"]
    assert m["idx"].tolist() == [0, 1]
    valid = m["valid"].numpy()
    assert valid[0].all(axis=0).tolist() == [True, False, True]  # window 1 has a and c
    assert valid[1, :, 1].tolist() == [True, False, True, False]  # NaN frame and the padded 4th frame
    assert not valid[1, :, [0, 2]].any()
    vals = m["y"].numpy()
    np.testing.assert_allclose(vals[0, 0, [0, 2]], (np.array([0.9, 0.2]) - 0.5) / 0.5, atol=1e-6)
    assert np.isfinite(vals).all()
    assert batch["kin"]["joint_angles"]["x"].shape == (2, 4, 69)


def test_balanced_sampler_is_deterministic_and_balanced():
    class E:
        def __init__(self, i, frames):
            self.sequence_id, self.frames = f"s{i}", frames
    data = {"big": [E(i, 100) for i in range(50)], "small": [E(100 + i, 40) for i in range(3)]}
    w = epoch_windows(data, 32, 10, seed=1, epoch=0)
    assert w == epoch_windows(data, 32, 10, seed=1, epoch=0) != epoch_windows(data, 32, 10, seed=1, epoch=1)
    big = [x for x in w if int(x[0][1:]) < 100]
    assert len(big) == 10 and len(w) == 20  # every dataset the same number per epoch
    assert all(0 <= s <= 40 - 32 for sid, s in w if int(sid[1:]) >= 100)


def test_window_starts_cover_every_frame():
    for frames in (5, 32, 33, 100):
        covered = np.zeros(frames, bool)
        for s in window_starts(frames, 32):
            covered[s:s + 32] = True
        assert covered.all()


def test_average_over_representations():
    per_rep = {"markers": {"grf": np.ones((2, 6))}, "smpl": {"grf": 3 * np.ones((2, 6))}, "_latent": {}}
    np.testing.assert_allclose(average_over_representations(per_rep)["grf"], 2.0)


def test_normalizer_floors_positions_velocities_and_accelerations_apart():
    """Joint-angle features are [x, ẋ, ẍ]; accelerations' stds are ~100x the angles'. A floor over the
    whole group (1 % of its largest std) used to flatten every angle channel to the acceleration scale."""
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.2, size=(500, 23))  # rad
    feats = np.concatenate([x, 5 * rng.normal(size=x.shape), 70 * rng.normal(size=x.shape)], 1)
    norm = Normalizer.from_stats({"joint_angles": RunningStats.of(feats)}, [], [])
    np.testing.assert_allclose(norm.std["joint_angles"][:23], x.std(0), rtol=1e-4)
    # a channel that barely moves is still floored, at 1 % of its own block's largest std
    feats[:, 0] = 1e-6 * rng.normal(size=500)
    std = Normalizer.from_stats({"joint_angles": RunningStats.of(feats)}, [], []).std["joint_angles"]
    assert np.isclose(std[0], 0.01 * feats[:, 1:23].std(0).max(), rtol=1e-4)


def test_sampler_realises_shares_and_stratified_batches_hold_every_dataset():
    class E:
        def __init__(self, name, i, frames=100):
            self.sequence_id, self.frames = f"{name}{i}", frames
    data = {n: [E(n, i) for i in range(k)] for n, k in (("a", 40), ("b", 7), ("c", 3), ("d", 11), ("e", 5))}
    # Table 8's 50/50 mix: half of the epoch from the target, half from the others
    shares = {"a": 0.5, "b": 0.2, "c": 0.1, "d": 0.1, "e": 0.1}
    w = epoch_windows(data, 32, 60, seed=0, epoch=0, shares=shares)
    counts = {n: sum(sid.startswith(n) for sid, _ in w) for n in data}
    assert counts == {"a": 30, "b": 12, "c": 6, "d": 6, "e": 6}
    # stratified: the same windows, every batch of 5 holds each of 5 equally shared datasets once
    even = epoch_windows(data, 32, 12, seed=0, epoch=3, stratified=True)
    assert sorted(even) == sorted(epoch_windows(data, 32, 12, seed=0, epoch=3))
    for batch in batches(even, 5):
        assert sorted(sid[0] for sid, _ in batch) == list("abcde")
    shuffled = batches(epoch_windows(data, 32, 12, seed=0, epoch=3), 5)
    assert any(len({sid[0] for sid, _ in b}) < 5 for b in shuffled)  # what stratifying prevents


class _PositionModel:
    """Predicts, for every frame of a window, 1 + its position in the window (torque channel 0)."""

    def eval(self):
        return self

    def infer(self, batch):
        n, T = batch["kin"]["joint_angles"]["x"].shape[:2]
        y = torch.zeros(n, T, 17)
        y[..., 0] = 1.0 + torch.arange(T, dtype=torch.float32)
        return {"joint_angles": {"torque_rajagopal": y}}, {}


def test_overlapping_windows_blend_without_jumps_and_keep_what_every_window_agrees_on():
    from hdys.data import predict_sequence
    from hdys.schema import Sequence
    T = 100
    seq = Sequence(fps=100.0, joint_angles=np.zeros((T, 23), np.float32), mass_kg=1.0)
    norm = Normalizer({"torque_rajagopal": np.zeros(17, np.float32), "joint_angles": np.zeros(69, np.float32)},
                      {"torque_rajagopal": np.ones(17, np.float32), "joint_angles": np.ones(69, np.float32)})
    vocab = {"muscle_activation": [], "emg": []}
    plain = predict_sequence(_PositionModel(), seq, norm, vocab, 32, overlap=False)["joint_angles"]["torque_rajagopal"]
    blend = predict_sequence(_PositionModel(), seq, norm, vocab, 32)["joint_angles"]["torque_rajagopal"]
    assert np.abs(np.diff(plain[:, 0])).max() == 31  # a jump where non-overlapping windows meet
    inner = blend[16:T - 16, 0]  # away from the sequence ends every frame has two windows
    assert np.abs(np.diff(inner)).max() < 4 and np.abs(inner - 16.5).max() < 8
    np.testing.assert_array_equal(blend[:, 1:], 0.0)  # what every window predicts stays exact


class _AccelerationModel:
    """Predicts, for every frame, the mean |acceleration| of its keypoints (torque channel 0)."""

    def eval(self):
        return self

    def infer(self, batch):
        x = batch["kin"]["keypoints"]["x"]  # (n, T, P, 9)
        y = torch.zeros(*x.shape[:2], 17)
        y[..., 0] = x[..., 6:9].norm(dim=-1).mean(-1)
        return {"keypoints": {"torque_rajagopal": y}}, {}


def test_prediction_reads_jittery_keypoints_filtered_as_training_does(monkeypatch):
    import hdys.data
    from hdys.data import predict_sequence
    from hdys.features import smooth_jittery_points
    from hdys.schema import Sequence
    T, rng = 90, np.random.default_rng(0)
    t = np.arange(T)[:, None, None] / 30.0
    kp = (0.2 * np.sin(2 * np.pi * t + np.arange(5)[None, :, None]) + rng.normal(0, 0.015, (T, 5, 3)))
    seq = Sequence(fps=30.0, keypoints=kp.astype(np.float32), keypoint_names=[f"k{i}" for i in range(5)],
                   keypoint_parents=np.array([-1, 0, 0, 0, 0]), mass_kg=1.0)
    norm = Normalizer({"torque_rajagopal": np.zeros(17, np.float32), "keypoints": np.zeros(9, np.float32)},
                      {"torque_rajagopal": np.ones(17, np.float32), "keypoints": np.ones(9, np.float32)})
    vocab = {"muscle_activation": [], "emg": []}
    raw = predict_sequence(_AccelerationModel(), seq, norm, vocab, 32)["keypoints"]["torque_rajagopal"][:, 0]
    smooth = smooth_jittery_points(seq)
    assert smooth.keypoints is not seq.keypoints
    filtered = predict_sequence(_AccelerationModel(), smooth, norm, vocab, 32)["keypoints"]["torque_rajagopal"][:, 0]
    np.testing.assert_allclose(raw, filtered, rtol=1e-5)
    monkeypatch.setattr(hdys.data, "smooth_jittery_points", lambda s: s)
    unfiltered = predict_sequence(_AccelerationModel(), seq, norm, vocab, 32)["keypoints"]["torque_rajagopal"][:, 0]
    assert unfiltered.mean() > 1.5 * raw.mean()  # the noise differentiated twice

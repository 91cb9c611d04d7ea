import numpy as np

from hdys.features import (CUTOFF_MAX_FRACTION, CUTOFF_MIN_HZ, JITTER_M, RunningStats, canonicalize, derivatives,
                           mirror_name, mirror_sequence, point_jitter, residual_cutoff, root_track, sequence_features,
                           sequence_stats, smooth_jittery_points, window_features)
from hdys.schema import Sequence, validate


def _walker(heading: float, offset=(3.0, -2.0), T=40, fps=100.0):
    """Pelvis + hips walking forward at 1 m/s along ``heading``."""
    t = np.arange(T) / fps
    fwd = np.array([np.cos(heading), np.sin(heading), 0.0])
    left = np.array([-np.sin(heading), np.cos(heading), 0.0])
    root = np.array([*offset, 0.0]) + t[:, None] * fwd + np.array([0, 0, 0.9])
    kp = np.stack([root, root + 0.1 * left - [0, 0, 0.05], root - 0.1 * left - [0, 0, 0.05]], 1)
    mk = kp + 0.02 * fwd  # markers fixed to the body
    return validate(Sequence(fps=fps, keypoints=kp, keypoint_names=["pelvis", "left_hip", "right_hip"],
                             keypoint_parents=np.array([-1, 0, 0]), markers=mk, marker_names=["a", "b", "c"],
                             mass_kg=70.0, grf=np.tile(fwd * 10 + [0, 0, 700], (T, 2, 1))))


def test_derivatives_per_second():
    t = np.arange(50) / 50.0
    v, a = derivatives((t ** 2)[:, None], 50.0)
    np.testing.assert_allclose(v[5:-5, 0], 2 * t[5:-5], atol=1e-5)
    np.testing.assert_allclose(a[5:-5, 0], 2.0, atol=1e-3)


def test_heading_from_hips():
    for h in (0.0, 1.0, -2.5):
        _, head = root_track(_walker(h))
        np.testing.assert_allclose(np.angle(np.exp(1j * (head - h))), 0.0, atol=1e-5)


def test_window_features_do_not_depend_on_position_or_heading():
    a = window_features(_walker(0.3, (0, 0)), 0, 20, 0)
    b = window_features(_walker(-2.0, (5, 7)), 0, 20, 0)
    for key in ("markers", "keypoints"):  # float32 positions 7 m away: acceleration noise ~5e-3 m/s^2
        np.testing.assert_allclose(a.kin[key][..., :6], b.kin[key][..., :6], atol=1e-4)
        np.testing.assert_allclose(a.kin[key][..., 6:], b.kin[key][..., 6:], atol=1e-2)
    np.testing.assert_allclose(a.dyn["grf"], b.dyn["grf"], atol=1e-4)
    # in the canonical frame the walker moves along +x at 1 m/s
    np.testing.assert_allclose(a.kin["keypoints"][5, 0, 3:6], [1, 0, 0], atol=1e-4)
    assert abs(a.heading - 0.3) < 1e-6


def test_canonicalize_smpl_and_joint_angles_consistently():
    T = 5
    q = np.zeros((T, 23), np.float32)
    q[:, 2] = 0.7  # pelvis_rotation
    q[:, 3], q[:, 5] = 2.0, -1.0  # world x = 2, world y = 1
    s = validate(Sequence(fps=30.0, joint_angles=q))
    root, head = root_track(s)
    np.testing.assert_allclose(root[0], [2.0, 1.0])
    np.testing.assert_allclose(head, 0.7, atol=1e-6)
    c = canonicalize(s, root, head)
    np.testing.assert_allclose(c.joint_angles[:, [2, 3, 5]], 0.0, atol=1e-6)


def test_occluded_markers_masked():
    s = _walker(0.0)
    s.markers[10, 1] = np.nan
    f = sequence_features(s)
    assert not f.point_mask["markers"][10, 1] and f.point_mask["markers"][30, 1]
    assert np.isfinite(f.kin["markers"]).all()


def test_running_stats_merge_equals_whole():
    x = np.random.default_rng(0).normal(3, 2, size=(100, 4))
    whole = RunningStats.of(x)
    merged = RunningStats.of(x[:30]).merge(RunningStats.of(x[30:]))
    np.testing.assert_allclose(whole.mean_std()[0], merged.mean_std()[0])
    np.testing.assert_allclose(merged.mean_std()[0], x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(merged.mean_std()[1], x.std(0), rtol=1e-6)
    assert RunningStats.from_json(merged.to_json()).count.tolist() == [100] * 4


def test_pelvis_rotation_is_wrapped_in_the_canonical_frame():
    T = 4
    q = np.zeros((T, 23), np.float32)
    q[:, 2] = 3.1  # facing almost -x; a heading found elsewhere may read -3.18 (the same direction)
    s = validate(Sequence(fps=30.0, joint_angles=q))
    c = canonicalize(s, np.zeros((T, 2)), np.full(T, 3.1 - 2 * np.pi))
    np.testing.assert_allclose(c.joint_angles[:, 2], 0.0, atol=1e-5)


def test_the_mirror_image_reflects_points_feet_and_channels():
    s = _walker(0.4)
    T = s.num_frames
    t = np.arange(T) / s.fps
    s.keypoints[:, :, 1] += 0.3 * t[:, None] ** 2  # a sideways drift: lateral velocities and accelerations
    s.markers[:, :, 1] += 0.3 * t[:, None] ** 2
    s.grf[:, 0] += [5.0, 40.0, -100.0]  # the feet carry different, sideways forces
    s.emg = np.stack([np.sin(t) ** 2, 0.2 + 0.1 * t], 1).astype(np.float32)
    s.emg_names = ["leftquad", "rightquad"]
    m = mirror_sequence(s)
    a, b = window_features(s, 0, 30, 0), window_features(m, 0, 30, 0)
    # in the canonical frame (root: the pelvis, on the plane of symmetry) the image is y -> -y with the hips exchanged
    lateral = np.array([1, -1, 1] * 3, np.float32)
    np.testing.assert_allclose(b.kin["keypoints"], a.kin["keypoints"][:, [0, 2, 1]] * lateral, atol=2e-4)
    np.testing.assert_allclose(b.kin["markers"], a.kin["markers"] * lateral, atol=2e-4)  # unnamed: not reordered
    np.testing.assert_allclose(b.dyn["grf"], a.dyn["grf"][:, [3, 4, 5, 0, 1, 2]] * lateral[:6], atol=1e-5)
    np.testing.assert_array_equal(b.dyn["emg"], a.dyn["emg"][:, ::-1])
    assert b.kin["keypoints"][10, 0, 4] < -0.05  # the drift's lateral velocity did change sign
    twice = mirror_sequence(m)
    for key in ("keypoints", "markers", "grf", "emg"):
        np.testing.assert_array_equal(getattr(twice, key), getattr(s, key))


def test_the_mirror_image_keeps_a_side_root_on_its_side():
    """COCO's keypoint tree is rooted at the left hip: the image's root is the image's left hip, so that the
    window's origin is the same body point as in the recordings."""
    s = _walker(0.0)
    s.keypoint_names, s.keypoint_parents = ["left_hip", "pelvis", "right_hip"], np.array([-1, 0, 0])
    s.keypoints = s.keypoints[:, [1, 0, 2]]
    f = window_features(mirror_sequence(s), 0, 20, 0)
    np.testing.assert_allclose(f.kin["keypoints"][10, 0, :2], 0.0, atol=1e-5)  # the root at the origin
    assert f.kin["keypoints"][10, 2, 1] < -0.15  # the right hip on the right (canonical +y is left)


def test_mirror_names_and_what_has_no_mirror_rule():
    pairs = {"rightquad": "leftquad", "addbrev_r": "addbrev_l", "hip_flexion_l": "hip_flexion_r", "RASI": "LASI",
             "LShoulder": "RShoulder", "left_hip": "right_hip", "C7": "C7", "MidHip": "MidHip", "Nose": "Nose"}
    assert {n: mirror_name(n) for n in pairs} == pairs
    s = _walker(0.0)
    s.emg, s.emg_names = np.ones((s.num_frames, 2), np.float32), ["rightquad", "rightham"]  # no left partners
    assert mirror_sequence(s) is None
    s.emg = s.emg_names = None
    s.smpl = np.zeros((s.num_frames, 75), np.float32)  # axis-angles: no rule here
    assert mirror_sequence(s) is None


def _swinging(T=120, fps=30.0):
    """Ten points swinging 0.2 m at 0.5-2 Hz."""
    t = np.arange(T)[:, None, None] / fps
    f = np.linspace(0.5, 2.0, 10)[None, :, None]
    return (0.2 * np.sin(2 * np.pi * f * t + np.arange(3)) + [0, 0, 1]).astype(np.float32)


def test_point_jitter_measures_white_noise_and_not_motion():
    x = _swinging()
    assert point_jitter(x) < 0.2 * JITTER_M
    noise = np.random.default_rng(0).normal(0.0, 0.015, x.shape)
    assert abs(point_jitter(x + noise) - 0.015) < 0.002


def test_residual_cutoff_follows_the_motion_and_the_noise():
    """Winter's residual analysis: the cutoff rises with the motion's frequency and falls as the noise grows,
    and at the cutoff the filter removes about as much as the noise holds."""
    from scipy.signal import butter, filtfilt
    fps, T = 30.0, 150
    t = np.arange(T)[:, None] / fps
    rng = np.random.default_rng(2)

    def motion(hz: float) -> np.ndarray:
        return 0.2 * np.sin(2 * np.pi * hz * t + np.arange(12)) + 0.05 * np.sin(2 * np.pi * 2 * hz * t)

    def cut(hz: float, noise: float) -> tuple[float, np.ndarray]:
        x = motion(hz) + rng.normal(0.0, noise, (T, 12))
        return residual_cutoff(x, fps, noise), x

    slow, _ = cut(0.5, 0.015)
    fast, x = cut(2.0, 0.015)
    assert CUTOFF_MIN_HZ <= slow < fast < CUTOFF_MAX_FRACTION * fps
    assert cut(2.0, 0.003)[0] > fast  # less noise, less filtering
    b, a = butter(2, fast / (fps / 2))
    removed = np.sqrt(np.mean((x - filtfilt(b, a, x, axis=0)) ** 2))
    assert abs(removed - 0.015) < 0.001
    assert residual_cutoff(np.zeros((T, 3)), fps, 0.01) == CUTOFF_MIN_HZ  # nothing to remove: the floor


def test_only_jittery_points_are_filtered():
    clean = _swinging()
    noisy = clean + np.random.default_rng(1).normal(0.0, 0.015, clean.shape).astype(np.float32)
    noisy[40:43, 2] = np.nan  # an occluded point
    s = Sequence(fps=30.0, markers=clean, marker_names=[f"m{i}" for i in range(10)],
                 keypoints=noisy, keypoint_names=[f"k{i}" for i in range(10)])
    out = smooth_jittery_points(s)
    assert out.markers is clean  # optical-marker-like data: untouched
    ok = np.isfinite(noisy)
    assert np.isnan(out.keypoints[40:43, 2]).all() and np.isfinite(out.keypoints[ok]).all()
    # the 0.5-2 Hz motion passes the filter, most of the noise does not: what it does to accelerations
    rows = slice(45, None)  # away from the bridged gap
    acc = [derivatives(x[rows], 30.0)[1] for x in (clean, noisy, out.keypoints)]
    before, after = (np.sqrt(np.nanmean((a - acc[0]) ** 2)) for a in acc[1:])
    assert after < 0.5 * before  # 9 m/s^2 of noise to 3.4
    assert smooth_jittery_points(out).keypoints is out.keypoints  # filtered once is smooth
    # the statistics see the filtered points
    a, b = sequence_stats(s)["keypoints"], sequence_stats(out)["keypoints"]
    np.testing.assert_allclose(a.total_sq, b.total_sq, rtol=1e-5)

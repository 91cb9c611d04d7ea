"""The OpenSim skeleton reader and the Rajagopal 2015 body built from it."""
import xml.etree.ElementTree as ET

import mujoco
import numpy as np
import pytest

from hdys.physics.bodies import RAJAGOPAL_STATURE, rajagopal_2015, rajagopal_body, rajagopal_osim_path
from hdys.physics.osim_model import CouplingTable, Linear, OsimError, Spline, read_osim
from hdys.schema import RAJAGOPAL_COORDINATES


def _osim_text(tag: str, body: str) -> str:
    """The text of ``<tag>`` in the raw Rajagopal2015.osim, for ``body``'s element, read independently."""
    root = ET.parse(rajagopal_osim_path()).getroot()
    el = next(b for b in root.iter("Body") if b.get("name") == body)
    return el.findtext(tag) if el.find(tag) is not None else el.find(".//" + tag).text


def test_spline_interpolates_is_c2_and_has_the_fmm_end_condition():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.uniform(0.1, 0.3, 9))
    y = np.sin(3 * x) + rng.normal(0, 0.05, 9)
    s = Spline(tuple(x), tuple(y))
    v, d1, d2 = s(x)
    assert np.allclose(v, y, atol=1e-12)
    eps = 1e-7
    for xi in x[1:-1]:  # first and second derivatives continuous at interior knots
        lo, hi = s(np.array([xi - eps])), s(np.array([xi + eps]))
        assert abs(lo[1][0] - hi[1][0]) < 1e-5 and abs(lo[2][0] - hi[2][0]) < 1e-4
    # derivatives agree with finite differences inside an interval
    xm = 0.5 * (x[3] + x[4])
    h = 1e-5
    f = lambda t: s(np.array([t]))[0][0]  # noqa: E731
    assert s(np.array([xm]))[1][0] == pytest.approx((f(xm + h) - f(xm - h)) / (2 * h), rel=1e-6)
    # third derivative on the first interval = that of the cubic through the first four knots
    third = (s(np.array([x[1] - 1e-9]))[2][0] - s(np.array([x[0]]))[2][0]) / (x[1] - 1e-9 - x[0])
    cubic = np.polyfit(x[:4], y[:4], 3)
    assert third == pytest.approx(6 * cubic[0], rel=1e-6)
    # a cubic polynomial is reproduced exactly (the FMM end conditions are exact for cubics)
    p = np.poly1d([0.3, -1.0, 0.5, 2.0])
    sp = Spline(tuple(x), tuple(p(x)))
    xs = np.linspace(x[0], x[-1], 50)
    assert np.allclose(sp(xs)[0], p(xs), atol=1e-10)
    # straight continuation outside the knots with the end slope
    out = sp(np.array([x[-1] + 0.2]))
    assert out[0][0] == pytest.approx(p(x[-1]) + 0.2 * p.deriv()(x[-1]), rel=1e-9) and out[2][0] == 0.0


def test_rajagopal_2015_is_read_as_the_file_says():
    m = rajagopal_2015()
    assert m.mass == pytest.approx(75.337, abs=1e-3)
    assert m.bodies["femur_r"].mass == pytest.approx(float(_osim_text("mass", "femur_r")))
    assert np.allclose(m.bodies["torso"].com, [float(t) for t in _osim_text("mass_center", "torso").split()])
    assert m.bodies["tibia_r"].inertia[1, 1] == pytest.approx(float(_osim_text("inertia_yy", "tibia_r")))
    joints = {j.name: j for j in m.joints}
    hip = [float(t) for t in _osim_text("location_in_parent", "femur_r").split()]
    assert np.allclose(joints["hip_r"].parent_pos, hip)
    knee = joints["walker_knee_r"]
    assert [a.kind for a in knee.axes] == ["translation", "translation", "translation", "rotation", "rotation",
                                           "rotation"]
    assert isinstance(knee.axes[3].function, Linear) and isinstance(knee.axes[4].function, Spline)
    assert m.couplers["knee_angle_r_beta"][0] == "knee_angle_r"
    assert [j.child for j in m.joints][:2] == ["pelvis", "femur_r"]  # parents first
    assert m.coordinates["subtalar_angle_r"].locked  # the generic model locks them; hdys keeps them free


def test_body_axes_centres_and_inertias_are_the_models():
    """Joint axes in their parent bodies, joint centres and segment inertias of the built body against the
    Rajagopal 2015 values (its published oblique ankle and subtalar axes)."""
    body = rajagopal_body(RAJAGOPAL_STATURE, 75.337)
    m = body.model
    data = mujoco.MjData(m)
    data.qpos[:] = body.state(np.zeros((1, 23)))[0]
    mujoco.mj_kinematics(m, data)

    def axis_in(parent: str, joint: str) -> np.ndarray:
        j = m.joint(joint).id
        world = data.xmat[m.jnt_bodyid[j]].reshape(3, 3) @ m.jnt_axis[j]
        return data.xmat[m.body(parent).id].reshape(3, 3).T @ world

    assert np.allclose(axis_in("tibia_r", "ankle_angle_r"), [-0.10501355, -0.17402245, 0.97912632], atol=1e-6)
    assert np.allclose(axis_in("talus_r", "subtalar_angle_r"), [0.78717961, 0.60474746, -0.12094949], atol=1e-6)
    assert np.allclose(axis_in("talus_l", "subtalar_angle_l"), [-0.78717961, -0.60474746, -0.12094949], atol=1e-6)
    hip = data.xpos[m.body("femur_r").id] - data.xpos[m.body("pelvis").id]
    assert np.allclose(hip, [-0.056276, -0.07849, 0.07726], atol=1e-9)
    i = m.body("femur_r").id
    assert m.body_mass[i] == pytest.approx(9.3014)
    assert np.allclose(np.sort(m.body_inertia[i]), np.sort([0.1339, 0.0351, 0.1412]), rtol=1e-9)
    # scaled: lengths with the stature, masses with the mass, inertias with both
    big = rajagopal_body(1.1 * RAJAGOPAL_STATURE, 2 * 75.337)
    j = big.model.body("femur_r").id
    assert big.model.body_mass[j] == pytest.approx(2 * 9.3014)
    assert np.allclose(big.model.body_pos[big.model.body("femur_r").id], 1.1 * m.body_pos[i])
    assert np.allclose(np.sort(big.model.body_inertia[j]), np.sort(m.body_inertia[i]) * 2 * 1.21, rtol=1e-9)


def test_walker_knee_moves_the_tibia_as_the_splines_say():
    """At 90 deg of flexion the tibia has turned about its long axis and slid as the model's splines give;
    the knee coordinate is the rotation about the joint's own axis."""
    body = rajagopal_body(RAJAGOPAL_STATURE, 75.337)
    q = np.zeros((2, 23))
    q[1, RAJAGOPAL_COORDINATES.index("knee_angle_r")] = np.pi / 2
    qpos = body.state(q)
    names = body.couplings.name
    rot3 = qpos[1, body.coupled_qpos[names.index("walker_knee_r_rotation3")]]
    assert rot3 == pytest.approx(0.25977, abs=2e-5)  # the spline's knot at 1.5708 rad
    assert qpos[0, body.coupled_qpos].any()  # the patella's offsets hold at zero flexion too
    assert abs(qpos[0, body.coupled_qpos[names.index("walker_knee_r_rotation3")]]) < 1e-12  # zero (to rounding)


def test_read_osim_refuses_what_it_cannot_read(tmp_path):
    bad = tmp_path / "x.osim"
    bad.write_text("<OpenSimDocument><Model name='m'><JointSet/></Model></OpenSimDocument>")
    with pytest.raises(OsimError, match="OpenSim 4"):
        read_osim(bad)
    bad.write_text("<OpenSimDocument><Model")
    with pytest.raises(OsimError, match="not a readable"):
        read_osim(bad)
    text = rajagopal_osim_path().read_text().replace("<mass>9.3014</mass>", "<mass>heavy</mass>", 1)
    bad.write_text(text)
    with pytest.raises(OsimError, match="femur_r.*mass.*heavy"):
        read_osim(bad)


def test_coupling_table_matches_the_functions():
    """The IK's tabulated couplings: values and slopes of the walker knee's functions within 1e-6 over the knee's
    range and a little beyond."""
    body = rajagopal_body(1.80, 80.0)
    c = body.couplings
    moving = np.flatnonzero(c.driver >= 0)
    table = CouplingTable(tuple(c.function[k] for k in moving), np.full(len(moving), -0.5), np.full(len(moving), 2.6))
    xs = np.random.default_rng(0).uniform(-0.4, 2.5, (20, len(moving)))
    for x in xs:
        v, s, _ = table(x)
        exact = [c.function[k](x[i:i + 1]) for i, k in enumerate(moving)]
        assert np.allclose(v, [e[0][0] for e in exact], atol=1e-6)
        assert np.allclose(s, [e[1][0] for e in exact], atol=1e-5)
    # a batch of frames (T, D), and a subset of the functions, give exactly the values of one call per frame
    batched = table(xs)
    part = table.subset(np.array([len(moving) - 1, 0]))
    for t, x in enumerate(xs):
        for b, one, sub in zip(batched, table(x), part(x[[-1, 0]])):
            assert np.array_equal(b[t], one)
            assert np.array_equal(sub, one[[-1, 0]])

"""The myolegs muscles in hdys coordinates: coupling, moment arms, force terms, sign conventions, scaling."""
from __future__ import annotations

import mujoco
import numpy as np
import pytest

from hdys.physics.bodies import rajagopal_body
from hdys.physics.inverse import rajagopal_state
from hdys.physics.myolegs import (LEG_COORDINATES, MYOLEGS_HEIGHT_M, coupled_state, leg_muscle_terms, load_myolegs,
                                  subject_scale)
from hdys.schema import RAJAGOPAL_COORDINATES

# inside every coordinate's range in both models (hip_flexion, adduction, rotation, knee, ankle, subtalar, mtp)
LO = np.array([-0.45, -0.8, -0.6, 0.02, -0.6, -0.3, -0.45] * 2)
HI = np.array([2.0, 0.45, 0.6, 2.05, 0.45, 0.3, 0.45] * 2)


@pytest.fixture(scope="module")
def legs():
    return load_myolegs()


def random_poses(seed: int, n: int):
    rng = np.random.default_rng(seed)
    return rng.uniform(LO, HI, (n, 14)), rng.normal(0.0, 2.0, (n, 14))


def col(name: str) -> int:
    return LEG_COORDINATES.index(name)


def test_model_names_mass_and_height(legs):
    m = legs.model
    assert m.nu == len(legs.muscle_names) == 80 and len(set(legs.muscle_names)) == 80
    for base in ("glmax1", "vaslat", "bflh", "soleus", "tibant", "recfem", "semiten"):
        assert f"{base}_r" in legs.muscle_names and f"{base}_l" in legs.muscle_names
    assert legs.mass_kg == pytest.approx(75.0, abs=0.5)
    assert (legs.max_isometric_force > 100).all()
    # bone extent in the neutral standing pose: sole of the calcaneus/toes to the vertex of the skull
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    lo, hi = np.inf, -np.inf
    for g in range(m.ngeom):
        if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and m.geom_bodyid[g] > 0:
            mid = m.geom_dataid[g]
            v = m.mesh_vert[m.mesh_vertadr[mid]:m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
            z = (d.geom_xpos[g] + v @ d.geom_xmat[g].reshape(3, 3).T)[:, 2]
            lo, hi = min(lo, z.min()), max(hi, z.max())
    assert 0.0 < MYOLEGS_HEIGHT_M - (hi - lo) < 0.03  # stature = bones + heel pad and scalp


def test_coupled_pose_satisfies_the_model_equalities(legs):
    """The dependent knee DoFs filled from eq_data satisfy MuJoCo's own joint equalities."""
    q, _ = random_poses(0, 6)
    qpos, _, _ = coupled_state(q)
    m, d = legs.model, mujoco.MjData(legs.model)
    for i in range(len(q)):
        d.qpos[:] = qpos[i]
        mujoco.mj_fwdPosition(m, d)
        eq = d.efc_type == mujoco.mjtConstraint.mjCNSTR_EQUALITY
        assert eq.sum() == m.neq == 14
        assert np.abs(d.efc_pos[eq]).max() < 1e-12
    assert np.allclose(qpos[:, legs.coord_qpos], q * legs.coord_sign)


def test_moment_arms_equal_length_derivatives(legs):
    """R[d, j] = d length_j / d q_d through the coupling (central differences of actuator_length)."""
    q, qd = random_poses(1, 4)
    height, mass = 1.83, 88.0
    k, _ = subject_scale(height, mass)
    moment, _, _ = leg_muscle_terms(q, qd, height, mass)
    m, d = legs.model, mujoco.MjData(legs.model)
    h = 1e-6
    for i in range(len(q)):
        for c in range(14):
            lengths = []
            for s in (-h, h):
                qq = q[i:i + 1].copy()
                qq[0, c] += s
                d.qpos[:] = coupled_state(qq)[0][0]
                mujoco.mj_fwdPosition(m, d)
                lengths.append(d.actuator_length.copy())
            fd = (lengths[1] - lengths[0]) / (2 * h)
            assert np.allclose(moment[i, c] / k, fd, atol=1e-7)


def test_gain_and_bias_equal_mujoco_muscle_functions(legs):
    """Against mju_muscleGain/mju_muscleBias at MuJoCo's own length and velocity (mj_fwdVelocity)."""
    q, qd = random_poses(2, 3)
    _, gain, bias = leg_muscle_terms(q, qd, MYOLEGS_HEIGHT_M, legs.mass_kg)
    qpos, qvel, _ = coupled_state(q, qd)
    m, d = legs.model, mujoco.MjData(legs.model)
    for i in range(len(q)):
        d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
        mujoco.mj_fwdPosition(m, d)
        mujoco.mj_fwdVelocity(m, d)
        for j in range(m.nu):
            lr, acc0 = m.actuator_lengthrange[j], m.actuator_acc0[j]
            g = mujoco.mju_muscleGain(d.actuator_length[j], d.actuator_velocity[j], lr, acc0, m.actuator_gainprm[j, :9])
            b = mujoco.mju_muscleBias(d.actuator_length[j], lr, acc0, m.actuator_biasprm[j, :9])
            assert gain[i, j] == pytest.approx(g, abs=1e-9) and bias[i, j] == pytest.approx(b, abs=1e-9)
    assert (gain < 0).all() and (bias <= 0).all()  # MuJoCo: pulling force is negative
    assert np.abs(qd).max() > 1.0 and (np.abs(qvel) > 0).any()


def test_anatomical_signs(legs):
    """d length / d q: a muscle shortens when its joint moves the way it pulls (knee_angle + = flexion,
    ankle_angle + = dorsiflexion, hip_flexion + = flexion)."""
    q, qd = random_poses(3, 20)
    moment, _, _ = leg_muscle_terms(q, qd, MYOLEGS_HEIGHT_M, legs.mass_kg)
    idx = {n: i for i, n in enumerate(legs.muscle_names)}
    for side in ("r", "l"):
        knee, ankle, hip = col(f"knee_angle_{side}"), col(f"ankle_angle_{side}"), col(f"hip_flexion_{side}")
        for mus in ("vasint", "vaslat", "vasmed", "recfem"):  # knee extensors
            assert (moment[:, knee, idx[f"{mus}_{side}"]] > 0.01).all()
        for mus in ("bflh", "bfsh", "semimem", "semiten"):  # knee flexors
            assert (moment[:, knee, idx[f"{mus}_{side}"]] < 0).all()
        for mus in ("soleus", "gasmed", "gaslat"):  # plantarflexors
            assert (moment[:, ankle, idx[f"{mus}_{side}"]] > 0.01).all()
        assert (moment[:, ankle, idx[f"tibant_{side}"]] < -0.01).all()  # dorsiflexor
        assert (moment[:, hip, idx[f"iliacus_{side}"]] < 0).all() and (moment[:, hip, idx[f"psoas_{side}"]] < 0).all()
        assert (moment[:, hip, idx[f"glmax2_{side}"]] > 0).all() and (moment[:, hip, idx[f"bflh_{side}"]] > 0).all()
        # muscles of one leg do not act on the other
        other = [col(n) for n in LEG_COORDINATES if not n.endswith(f"_{side}")]
        own = [j for n, j in idx.items() if n.endswith(f"_{side}")]
        assert np.abs(moment[:, other][:, :, own]).max() == 0.0


def test_coordinates_move_the_segments_as_in_the_hdys_body(legs):
    """Same OpenSim names, same meaning: each coordinate displaces the distal joint centres and a point on
    the toes in the same direction (pelvis frame) in myolegs (through coupled_state) and in hdys's body."""
    body = rajagopal_body(MYOLEGS_HEIGHT_M, 75.0)
    points = {"tibia": np.zeros(3), "talus": np.zeros(3), "calcn": np.array([0.1, 0.0, 0.0]),
              "toes": np.array([0.05, 0.0, 0.0])}

    def segment_points(model, qpos, side):
        d = mujoco.MjData(model)
        d.qpos[:] = qpos
        mujoco.mj_kinematics(model, d)
        p = model.body("pelvis").id
        rot_p = d.xmat[p].reshape(3, 3)
        out = []
        for name, local in points.items():
            b = model.body(f"{name}_{side}").id
            out.append(rot_p.T @ (d.xpos[b] + d.xmat[b].reshape(3, 3) @ local - d.xpos[p]))
        return np.concatenate(out)

    q0 = np.zeros((1, 14))
    q0[0, [col("knee_angle_r"), col("knee_angle_l")]] = 0.3
    for c, name in enumerate(LEG_COORDINATES):
        side = name[-1]
        q1 = q0.copy()
        q1[0, c] += 0.3
        moves = []
        for q in (q0, q1):
            full = np.zeros((1, 23))
            full[0, [RAJAGOPAL_COORDINATES.index(n) for n in LEG_COORDINATES]] = q
            moves.append((segment_points(legs.model, coupled_state(q)[0][0], side),
                          segment_points(body.model, rajagopal_state(body, full)[0], side)))
        a, b = moves[1][0] - moves[0][0], moves[1][1] - moves[0][1]
        assert a @ b > 0.95 * np.linalg.norm(a) * np.linalg.norm(b), name


def test_subject_scaling(legs):
    """Uniform scaling: moment arms by k = h / h_ref; forces (gain, bias) by m / m_ref; FLV unchanged."""
    q, qd = random_poses(4, 5)
    ref = leg_muscle_terms(q, qd, MYOLEGS_HEIGHT_M, legs.mass_kg)
    big = leg_muscle_terms(q, qd, 1.1 * MYOLEGS_HEIGHT_M, 1.3 * legs.mass_kg)
    assert subject_scale(1.1 * MYOLEGS_HEIGHT_M, 1.3 * legs.mass_kg) == pytest.approx((1.1, 1.3))
    assert np.allclose(big[0], 1.1 * ref[0], rtol=1e-12, atol=0)
    assert np.allclose(big[1], 1.3 * ref[1], rtol=1e-12, atol=0)
    assert np.allclose(big[2], 1.3 * ref[2], rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="height and mass"):
        subject_scale(0.0, 70.0)
    with pytest.raises(ValueError, match="shape"):
        coupled_state(np.zeros((3, 13)))


def test_knee_clipped_to_the_coupling_range(legs):
    q = np.zeros((2, 14))
    q[0, col("knee_angle_r")] = -0.05  # hyperextended: outside myolegs' range
    qpos, _, _ = coupled_state(q)
    assert np.array_equal(qpos[0], qpos[1])

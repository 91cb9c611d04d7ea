"""The batched static-optimisation solver against the per-frame BVLS reference."""
from __future__ import annotations

import numpy as np
import pytest

from hdys.physics.bodies import rajagopal_body
from hdys.physics.inverse import rajagopal_inverse
from hdys.physics.motions import rajagopal_motion
from hdys.physics.static_opt import (KKT_TOL, kkt_residual, muscle_terms, reserve_optimal_torques, so_problem,
                                     solve_batched, solve_bvls, static_optimization)
from hdys.schema import RAJAGOPAL_TORQUE_DOFS

MUSCLED = [i for i, d in enumerate(RAJAGOPAL_TORQUE_DOFS) if not d.startswith("lumbar")]
N_MUSCLES = 80  # as in myolegs


@pytest.fixture(scope="module")
def body():
    return rajagopal_body(1.70, 66.0)


@pytest.fixture(scope="module", params=["walk", "squat", "run"])
def motion_problem(request, body):
    rng = np.random.default_rng(11)
    q, qd, qdd = rajagopal_motion(request.param, rng, body.coord_range, 0.95)(np.arange(60) / 50)
    tau, _ = rajagopal_inverse(body, q, qd, qdd)
    return q, qd, tau


def random_problem(rng: np.random.Generator, nt: int, demand: float):
    """Rajagopal-like frames: each muscle crosses 1-3 of the 17 DoFs with ~3 cm moment arms and pulls with
    200-3000 N; the demanded torque is what activations ``demand * U(0, 1)`` would produce, plus noise.
    ``demand`` > 1 asks for more than the muscles can give (saturation, a = 1 active)."""
    moment = rng.normal(0.0, 0.03, (nt, 17, N_MUSCLES))
    crosses = np.zeros((17, N_MUSCLES), bool)
    for j in range(N_MUSCLES):
        crosses[rng.choice(17, size=rng.integers(1, 4), replace=False), j] = True
    moment *= crosses
    gain = -rng.uniform(200.0, 3000.0, (nt, N_MUSCLES))
    bias = -rng.uniform(0.0, 50.0, (nt, N_MUSCLES))
    act = demand * rng.uniform(0.0, 1.0, (nt, N_MUSCLES))
    tau = np.einsum("tdn,tn->td", moment, gain * act + bias) + rng.normal(0.0, 2.0, (nt, 17))
    return so_problem(moment, gain, bias, tau, reserve_optimal_torques())


def objective(a_mat, b_vec, act):
    r = np.einsum("tmn,tn->tm", a_mat, act) - b_vec
    return (act * act).sum(1) + (r * r).sum(1)


def check_against_bvls(a_mat, b_vec, act=None, min_exact_ref=1.0):
    """Same optimum as BVLS: the batched solution satisfies the KKT conditions on every frame and is within
    1e-5 of BVLS wherever BVLS does too. BVLS stops on its own tolerance, relative to the (huge) residual of
    heavily saturated frames, and can end slightly short there; then the batched objective is the lower."""
    if act is None:
        act, info = solve_batched(a_mat, b_vec)
        assert not info.fallback.any()  # the batched method itself converged
        assert (info.kkt <= KKT_TOL).all()
    ref = solve_bvls(a_mat, b_vec)
    assert act.min() >= 0.0 and act.max() <= 1.0
    assert kkt_residual(a_mat, b_vec, act).max() <= KKT_TOL
    exact_ref = kkt_residual(a_mat, b_vec, ref) <= KKT_TOL
    assert exact_ref.mean() >= min_exact_ref
    assert np.abs(act - ref)[exact_ref].max() < 1e-5
    j_fast, j_ref = objective(a_mat, b_vec, act), objective(a_mat, b_vec, ref)
    assert (j_fast <= j_ref + 1e-12 * (1.0 + j_ref)).all()
    return act


def test_fixture_motions_match_bvls(body, motion_problem):
    q, qd, tau = motion_problem
    fast = static_optimization(body, q, qd, tau)
    ref = static_optimization(body, q, qd, tau, method="bvls")
    assert np.abs(fast.activation - ref.activation).max() < 1e-5
    moment, gain, bias = muscle_terms(body, q, qd)
    a_mat, b_vec = so_problem(moment, gain, bias, tau, reserve_optimal_torques())
    assert kkt_residual(a_mat, b_vec, fast.activation).max() <= KKT_TOL
    # feasible motions: the muscles reproduce the torques, reserves on muscle-driven DoFs stay small
    assert 0.0 <= fast.activation.min() and fast.activation.max() <= 1.0
    assert np.abs(fast.residual).max() < 1e-9
    assert np.abs(fast.reserve[:, MUSCLED]).max() < 0.5
    assert np.abs(fast.reserve[:, MUSCLED]).max() < 0.05 * np.abs(tau[:, MUSCLED]).max()
    assert np.allclose(fast.reserve, ref.reserve, atol=1e-6)


def test_random_feasible_frames_match_bvls():
    rng = np.random.default_rng(0)
    a_mat, b_vec = random_problem(rng, 150, 0.6)
    act = check_against_bvls(a_mat, b_vec)
    assert (act == 0.0).any() and ((act > 0.0) & (act < 1.0)).any()


@pytest.mark.parametrize("demand", [1.5, 3.0])
def test_random_saturating_frames_match_bvls(demand):
    rng = np.random.default_rng(int(demand * 10))
    a_mat, b_vec = random_problem(rng, 120, demand)
    act, info = solve_batched(a_mat, b_vec)
    assert (act == 1.0).sum() > 0.05 * act.size  # the upper bound is active
    assert info.primal.any()  # exercises the monotone primal phase after PDAS cycles
    check_against_bvls(a_mat, b_vec, act, min_exact_ref=0.95)


def test_saturation_leaves_torque_to_the_reserves():
    rng = np.random.default_rng(3)
    a_mat, b_vec = random_problem(rng, 40, 1.0)
    act, _ = solve_batched(a_mat, 50.0 * b_vec)  # far beyond what the muscles can produce
    assert (act == 1.0).mean() > 0.3
    check_against_bvls(a_mat, 50.0 * b_vec, act, min_exact_ref=0.9)


def test_degenerate_frames():
    rng = np.random.default_rng(5)
    a_mat, b_vec = random_problem(rng, 6, 0.5)
    a_mat[:, :, :10] = 0.0  # muscles that cross no DoF stay off
    b_vec[0] = 0.0  # nothing demanded: all off
    a_mat[1, :, 20] = a_mat[1, :, 21]  # two identical muscles share the load equally
    act = check_against_bvls(a_mat, b_vec)
    assert (act[:, :10] == 0.0).all() and (act[0] == 0.0).all()
    assert act[1, 20] == pytest.approx(act[1, 21], abs=1e-9)


def test_kkt_residual_detects_a_perturbed_solution():
    rng = np.random.default_rng(6)
    a_mat, b_vec = random_problem(rng, 30, 0.6)
    act, _ = solve_batched(a_mat, b_vec)
    bumped = np.clip(act + 1e-4 * rng.standard_normal(act.shape), 0.0, 1.0)
    assert (kkt_residual(a_mat, b_vec, bumped) > 1e3 * KKT_TOL).all()


def test_deterministic_and_independent_of_the_batch():
    rng = np.random.default_rng(7)
    a_mat, b_vec = random_problem(rng, 80, 1.2)
    first, _ = solve_batched(a_mat, b_vec)
    again, _ = solve_batched(a_mat.copy(), b_vec.copy())
    assert np.array_equal(first, again)
    perm = rng.permutation(80)[:33]
    subset, _ = solve_batched(a_mat[perm], b_vec[perm])
    assert np.array_equal(subset, first[perm])
    one, _ = solve_batched(a_mat[5:6], b_vec[5:6])
    assert np.array_equal(one[0], first[5])


def test_method_argument(body, motion_problem):
    q, qd, tau = motion_problem
    with pytest.raises(ValueError, match="method"):
        static_optimization(body, q[:3], qd[:3], tau[:3], method="fista")
    with pytest.raises(ValueError, match="non-finite"):
        a_mat, b_vec = random_problem(np.random.default_rng(8), 2, 0.5)
        b_vec[1, 3] = np.nan
        solve_batched(a_mat, b_vec)

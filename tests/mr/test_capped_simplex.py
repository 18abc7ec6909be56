import numpy as np
import pytest
from scipy.optimize import minimize

from keras_mr.mr.capped_simplex import project_capped_simplex
from keras_mr.mr.capped_simplex import project_capped_simplex_log


def _kl(q, p):
    q = np.maximum(q, 1e-300)
    return float(np.sum(q * (np.log(q) - np.log(p))))


def _brute_force(p, kappa):
    n = p.size
    res = minimize(
        lambda q: _kl(q, p),
        np.full(n, 1.0 / n),
        jac=lambda q: np.log(np.maximum(q, 1e-300)) - np.log(p) + 1.0,
        bounds=[(1e-12, kappa)] * n,
        constraints=[{"type": "eq", "fun": lambda q: q.sum() - 1.0, "jac": lambda q: np.ones(n)}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success, res.message
    return res.x


def test_hand_computed():
    # 0.7 is clipped to 0.5; the remaining 0.5 is split 2:1 over (0.2, 0.1)
    q = project_capped_simplex(np.array([0.7, 0.2, 0.1]), 0.5)
    np.testing.assert_allclose(q, [0.5, 1 / 3, 1 / 6], rtol=1e-12)


def test_hand_computed_cascade():
    # capping 0.5 at 0.3 pushes 0.3 over the cap too: two entries clipped
    # q = (0.3, 0.3, c*0.15, c*0.05) with c = 0.4 / 0.2 = 2
    q = project_capped_simplex(np.array([0.5, 0.3, 0.15, 0.05]), 0.3)
    np.testing.assert_allclose(q, [0.3, 0.3, 0.3, 0.1], rtol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_solver(seed):
    rng = np.random.default_rng(seed)
    n = 6
    p = rng.dirichlet(np.full(n, 0.3))
    kappa = rng.uniform(1.0 / n + 0.02, p.max() - 0.01) if p.max() > 1.0 / n + 0.05 else 0.3
    q = project_capped_simplex(p, kappa)
    q_ref = _brute_force(p, kappa)
    assert _kl(q, p) <= _kl(q_ref, p) + 1e-9
    np.testing.assert_allclose(q, q_ref, atol=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_properties(seed):
    rng = np.random.default_rng(seed)
    n = 1000
    log_p = rng.normal(scale=5.0, size=n)
    kappa = 5.0 / n
    q = np.exp(project_capped_simplex_log(log_p, kappa))
    assert q.sum() == pytest.approx(1.0, abs=1e-10)
    assert q.max() <= kappa * (1 + 1e-10)
    order = np.argsort(log_p)
    assert np.all(np.diff(q[order]) >= -1e-15)  # order preserved
    # unclipped entries keep their ratios (scaled by one constant)
    free = q < kappa * (1 - 1e-9)
    ratio = q[free] / np.exp(log_p[free])
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-8)


def test_no_op_when_under_cap_and_uniform_at_one_over_n():
    p = np.array([0.4, 0.35, 0.25])
    np.testing.assert_allclose(project_capped_simplex(p, 0.5), p)
    np.testing.assert_allclose(project_capped_simplex(p, 1 / 3), np.full(3, 1 / 3))
    np.testing.assert_allclose(project_capped_simplex(p, None), p)


def test_tiny_weights_stay_finite_in_log_space():
    log_p = np.array([0.0, -800.0, -900.0, -1000.0])  # exp underflows in float64
    out = project_capped_simplex_log(log_p, 0.5)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out[0], np.log(0.5))
    np.testing.assert_allclose(out[2] - out[1], -100.0)


def test_infeasible_cap():
    with pytest.raises(ValueError, match="max_weight"):
        project_capped_simplex(np.array([0.5, 0.3, 0.2]), 0.2)


def test_large_n_vectorised():
    rng = np.random.default_rng(0)
    log_p = rng.normal(scale=3.0, size=200_000)
    q = np.exp(project_capped_simplex_log(log_p, 10.0 / log_p.size))
    assert q.sum() == pytest.approx(1.0, abs=1e-9)
    assert q.max() <= 10.0 / log_p.size * (1 + 1e-9)

"""Tests of the pure CIW instance-weight functions (keras_mr.ciw)."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from backend_neutral_scripts import CIW_SCRIPT as JAX_SCRIPT
from scipy import optimize

from keras_mr import ciw

NAMED = ["kl", "reverse_kl", "hellinger", "chi2"]
ALPHAS = NAMED + [3.0, -1.0, 0.3]


def weights(losses, temperature=1.0, divergence="kl", reference=None):
    return np.asarray(
        ciw.instance_weights(
            np.asarray(losses, "float32"),
            temperature,
            divergence,
            None if reference is None else np.asarray(reference, "float32"),
        )
    )


def test_kl_hand_values():
    e = math.e
    np.testing.assert_allclose(
        weights([0.0, 1.0], 1.0, "kl"), [e / (e + 1), 1 / (e + 1)], rtol=1e-6
    )


def test_chi2_hand_values():
    # q_i = 1/2 [1 + nu - l_i]_+ ; sum = 1  =>  nu = 1/2  =>  q = (3/4, 1/4)
    np.testing.assert_allclose(weights([0.0, 1.0], 1.0, "chi2"), [0.75, 0.25], atol=1e-6)
    # sparse case: the third example is cut off entirely.
    # support {1, 2}: 1/3 (2 + 2 nu - 0.1) = 1 => nu = 0.55 ; q = (1.55, 1.45)/3
    np.testing.assert_allclose(
        weights([0.0, 0.1, 5.0], 1.0, "chi2"), [1.55 / 3, 1.45 / 3, 0.0], atol=1e-6
    )


def test_reverse_kl_hand_values():
    # q_i = 1/2 / (1 + l_i - nu): 1/(2(1-nu)) + 1/(2(2-nu)) = 1
    # => nu^2 - 2 nu + 1/2 = 0 => nu = 1 - 1/sqrt(2) ; q = (1/sqrt2, 1 - 1/sqrt2)
    s = 1 / math.sqrt(2)
    np.testing.assert_allclose(weights([0.0, 1.0], 1.0, "reverse_kl"), [s, 1 - s], atol=1e-5)


def test_alpha3_hand_values():
    # q_i = 1/2 sqrt(1 + 2 (nu - l_i)); sqrt(a) + sqrt(a - 2) = 2 => sqrt(a) = 1.5
    np.testing.assert_allclose(weights([0.0, 1.0], 1.0, 3.0), [0.75, 0.25], atol=1e-5)


def test_hellinger_hand_values():
    # alpha = 1/2: q_i = p_i / (1 + (l_i - nu) / (2 lam))^2.  With losses
    # (0, 2) and lam = 1 the two brackets are 1 - nu/2 and 2 - nu/2; sum = 1
    # with p = 1/2 gives nu = 1.4349... : check q against its closed form.
    q = weights([0.0, 2.0], 1.0, "hellinger")
    nu = optimize.brentq(
        lambda n: 0.5 / (1 - n / 2) ** 2 + 0.5 / (2 - n / 2) ** 2 - 1, 0, 1.99
    )
    expected = [0.5 / (1 - nu / 2) ** 2, 0.5 / (2 - nu / 2) ** 2]
    np.testing.assert_allclose(q, expected, atol=1e-5)
    # and it sits between the KL and chi2 solutions' sharpness ordering
    assert q[0] > 0.5


@pytest.mark.parametrize("divergence", ALPHAS)
def test_sums_to_one_and_monotone(divergence):
    rng = np.random.default_rng(1)
    losses = rng.exponential(size=64).astype("float32")
    q = weights(losses, 0.7, divergence)
    assert np.all(q >= 0)
    np.testing.assert_allclose(q.sum(), 1.0, atol=1e-5)
    order = np.argsort(losses)
    assert np.all(np.diff(q[order]) <= 1e-7), "weights must not increase with loss"
    assert q[order[0]] > q[order[-1]]


@pytest.mark.parametrize("temperature", [0.1, 1.0, 10.0])
def test_kl_equals_softmax(temperature):
    rng = np.random.default_rng(2)
    losses = rng.exponential(size=32).astype("float32")
    z = -losses / temperature
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(weights(losses, temperature, "kl"), expected, rtol=1e-5)


def test_kl_with_reference_is_product():
    # MR weights as the reference: q ∝ w exp(-l / lam)
    losses = np.array([0.2, 1.0, 0.5, 3.0], "float32")
    w = np.array([2.0, 1.0, 0.0, 1.0], "float32")
    expected = w * np.exp(-losses / 0.5)
    expected /= expected.sum()
    np.testing.assert_allclose(weights(losses, 0.5, "kl", w), expected, rtol=1e-5)


@pytest.mark.parametrize("divergence", ALPHAS)
def test_zero_reference_weight_gives_zero_weight(divergence):
    q = weights([0.1, 0.5, 0.2], 1.0, divergence, reference=[1.0, 0.0, 1.0])
    assert q[1] == 0.0
    np.testing.assert_allclose(q.sum(), 1.0, atol=1e-5)


@pytest.mark.parametrize("divergence", ALPHAS)
def test_temperature_limits(divergence):
    losses = np.array([0.0, 0.5, 1.0, 2.0], "float32")
    np.testing.assert_allclose(weights(losses, 1e4, divergence), 0.25, atol=1e-3)
    cold = weights(losses, 1e-3, divergence)
    assert cold[0] > 0.9


def _numerical_optimum(losses, lam, alpha, p):
    """scipy: min <q, l> + lam D_alpha(q || p) over the simplex."""

    def objective(q):
        q = np.maximum(q, 1e-12)
        if alpha == 1.0:
            d = np.sum(q * np.log(q / p))
        elif alpha == 0.0:
            d = np.sum(p * np.log(p / q))
        else:
            d = np.sum(p * ((q / p) ** alpha - 1)) / (alpha * (alpha - 1))
        return float(np.dot(q, losses) + lam * d)

    res = optimize.minimize(
        objective,
        p.copy(),
        method="SLSQP",
        bounds=[(0, 1)] * len(p),
        constraints=[{"type": "eq", "fun": lambda q: q.sum() - 1}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    return res.x, objective


@pytest.mark.parametrize("divergence", ALPHAS)
@pytest.mark.parametrize("case", range(3))
def test_matches_numerical_solver(divergence, case):
    rng = np.random.default_rng(10 + case)
    n = 5
    losses = rng.exponential(size=n)
    p = rng.uniform(0.5, 2.0, size=n) if case == 2 else np.ones(n)
    p = p / p.sum()
    lam = [0.5, 1.0, 2.0][case]
    alpha = ciw.resolve_alpha(divergence)
    q_num, objective = _numerical_optimum(losses, lam, alpha, p)
    q = weights(losses, lam, divergence, p).astype("float64")
    # the closed form is at least as good as the solver, and close to it
    assert objective(q) <= objective(q_num) + 1e-5
    np.testing.assert_allclose(q, q_num, atol=2e-3)


@pytest.mark.tf_only
def test_weights_are_constants_in_the_gradient():
    tf = pytest.importorskip("tensorflow")
    if os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow":
        pytest.skip("TF backend")
    losses = tf.Variable([0.2, 1.0, 3.0])
    with tf.GradientTape() as tape:
        q = ciw.instance_weights(losses, 1.0, "hellinger")
        total = tf.reduce_sum(q * losses)
    grad = tape.gradient(total, losses)
    np.testing.assert_allclose(grad.numpy(), q.numpy(), rtol=1e-6)


def test_alpha_divergence_values():
    q = np.array([0.75, 0.25])
    p = np.array([0.5, 0.5])
    np.testing.assert_allclose(
        float(ciw.alpha_divergence(q, p, "kl")),
        0.75 * math.log(1.5) + 0.25 * math.log(0.5),
        rtol=1e-6,
    )
    # alpha = 2: half Pearson chi^2 = 1/2 sum (q - p)^2 / p = 1/2 * 0.25 = 0.125
    np.testing.assert_allclose(float(ciw.alpha_divergence(q, p, "chi2")), 0.125, rtol=1e-6)


def test_temperature_schedule():
    sched = lambda t: float(
        ciw.temperature_schedule(t, 2.0, 0.25, 0.5, 100, burn_in_steps=50)
    )
    assert sched(0) == 2.0
    assert sched(50) == 2.0  # decay starts after the burn-in
    assert sched(150) == pytest.approx(1.0)
    assert sched(250) == pytest.approx(0.5)
    assert sched(10_000) == pytest.approx(0.25)  # floor
    assert float(ciw.temperature_schedule(10_000, 2.0)) == 2.0  # constant


def test_bad_arguments():
    with pytest.raises(ValueError, match="divergence"):
        ciw.instance_weights([1.0, 2.0], 1.0, "wasserstein")
    with pytest.raises(TypeError, match="divergence"):
        ciw.instance_weights([1.0, 2.0], 1.0, None)
    with pytest.raises(ValueError, match="temperature"):
        ciw.instance_weights([1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="reduction=None"):
        ciw.instance_weights(np.ones((2, 3)), 1.0)
    with pytest.raises(ValueError, match="decay_rate"):
        ciw.temperature_schedule(0, 1.0, 0.1, decay_rate=2.0)


def test_pure_functions_on_jax_backend():
    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True, text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    line = res.stdout.strip().splitlines()[-1]
    assert "[0.7311, 0.2689]" in line
    assert "[0.75, 0.25]" in line
    assert "[0.7071, 0.2929]" in line
    assert "[[0.3, 0.0, 0.7]]" in line
    # zero-weight second example: both mixed targets carry only label 0
    assert line.endswith("[[1.0, 0.0], [1.0, 0.0]]")

"""Tests of the closed-form CICW class weights (keras_mr.cicw) against scipy."""

import numpy as np
import pytest
from scipy import optimize

from keras_mr import cicw


def class_weights(losses, y, **kwargs):
    return np.asarray(
        cicw.class_weights(np.asarray(losses, "float32"), np.asarray(y, "float32"), **kwargs)
    ).astype("float64")


def _cases(n_cases=4, k=4, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=n_cases)
    labels = rng.integers(0, k, size=n_cases)
    # make sure some labels disagree with the prediction
    labels[0] = (np.argmax(probs[0]) + 1) % k
    y = np.eye(k)[labels]
    return -np.log(probs), y


def _slsqp(objective, k, x0):
    res = optimize.minimize(
        objective,
        x0,
        method="SLSQP",
        bounds=[(0, 1)] * k,
        constraints=[{"type": "eq", "fun": lambda v: v.sum() - 1}],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    return res.x


@pytest.mark.parametrize("lam", [0.3, 1.0, 3.0])
def test_kl_matches_solver(lam):
    eps = 0.1
    losses, y = _cases(seed=1)
    k = y.shape[1]
    v = class_weights(losses, y, divergence="kl", temperature=lam, smoothing=eps)
    for i in range(len(y)):
        ref = (1 - eps) * y[i] + eps / k

        def obj(u, i=i, ref=ref):
            u = np.maximum(u, 1e-12)
            return u @ losses[i] + lam * np.sum(u * np.log(u / ref))

        v_num = _slsqp(obj, k, ref.copy())
        assert obj(v[i]) <= obj(v_num) + 1e-5
        np.testing.assert_allclose(v[i], v_num, atol=2e-3)


def test_kl_closed_form_and_smoothing_limit():
    losses, y = _cases(seed=2)
    k = y.shape[1]
    eps = 0.2
    v = class_weights(losses, y, divergence="kl", temperature=1.0, smoothing=eps)
    # lam = 1 and cross-entropy losses: v ∝ y_eps * p
    expected = ((1 - eps) * y + eps / k) * np.exp(-losses)
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(v, expected, rtol=1e-5)
    # lam -> inf: static label smoothing
    v_inf = class_weights(losses, y, divergence="kl", temperature=1e6, smoothing=eps)
    np.testing.assert_allclose(v_inf, (1 - eps) * y + eps / k, atol=1e-5)


@pytest.mark.parametrize("lam", [0.5, 2.0, 10.0])
def test_l2_matches_solver(lam):
    losses, y = _cases(seed=3)
    k = y.shape[1]
    v = class_weights(losses, y, divergence="l2", temperature=lam)
    for i in range(len(y)):

        def obj(u, i=i):
            return u @ losses[i] + lam / 2 * np.sum((u - y[i]) ** 2)

        v_num = _slsqp(obj, k, y[i] * 0.5 + 0.5 / k)
        assert obj(v[i]) <= obj(v_num) + 1e-5
        np.testing.assert_allclose(v[i], v_num, atol=1e-4)


def _l1_linprog(losses, y, delta):
    # variables (v, t), min <l, v>  s.t. |v - y| <= t, sum t <= delta, sum v = 1
    k = len(losses)
    c = np.concatenate([losses, np.zeros(k)])
    eye = np.eye(k)
    a_ub = np.block([[eye, -eye], [-eye, -eye], [np.zeros((1, k)), np.ones((1, k))]])
    b_ub = np.concatenate([y, -y, [delta]])
    a_eq = np.concatenate([np.ones(k), np.zeros(k)])[None]
    res = optimize.linprog(c, a_ub, b_ub, a_eq, [1.0], bounds=[(0, 1)] * k + [(0, 2)] * k)
    return res.x[:k], res.fun


@pytest.mark.parametrize("delta", [0.0, 0.3, 1.0, 2.0])
def test_l1_matches_linprog(delta):
    losses, y = _cases(seed=4)
    # also a soft label
    y[1] = np.array([0.5, 0.3, 0.2, 0.0])
    v = class_weights(losses, y, divergence="l1", budget=delta)
    for i in range(len(y)):
        _, best = _l1_linprog(losses[i], y[i], delta)
        np.testing.assert_allclose(v[i] @ losses[i], best, atol=1e-5)
        assert np.abs(v[i] - y[i]).sum() <= delta + 1e-5
        np.testing.assert_allclose(v[i].sum(), 1.0, atol=1e-6)


def test_l1_is_hard_bootstrapping():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    beta = 0.7
    v = class_weights(-np.log(probs), y, divergence="l1", budget=2 * (1 - beta))
    boot = beta * y + (1 - beta) * np.eye(3)[np.argmax(probs, 1)]
    np.testing.assert_allclose(v, boot, atol=1e-6)
    np.testing.assert_allclose(v[0], [0.3, 0.0, 0.7], atol=1e-6)
    np.testing.assert_allclose(v[1], y[1], atol=1e-6)  # agreeing label unchanged


def test_project_simplex():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(6, 5)) * 2
    out = np.asarray(cicw.project_simplex(z.astype("float32")))
    for i in range(len(z)):
        ref = _slsqp(lambda u, i=i: np.sum((u - z[i]) ** 2), 5, np.ones(5) / 5)
        np.testing.assert_allclose(out[i], ref, atol=1e-4)
    np.testing.assert_allclose(cicw.project_simplex(np.array([[0.2, 0.8]])), [[0.2, 0.8]], atol=1e-7)


@pytest.mark.parametrize("divergence", ["l1", "l2"])
def test_rows_are_distributions_and_favour_predicted(divergence):
    losses, y = _cases(n_cases=16, k=5, seed=6)
    v = class_weights(losses, y, divergence=divergence, temperature=1.0, budget=0.5)
    np.testing.assert_allclose(v.sum(1), 1.0, atol=1e-5)
    assert np.all(v >= -1e-7)
    # mass never moves towards a class with larger loss than the label's
    # (KL is excluded: its smoothed reference puts mass on every class)
    gained = np.clip(v - y, 0, None)
    label_loss = (losses * y).sum(1, keepdims=True)
    assert np.all(gained[losses > label_loss + 1e-6] < 1e-6)


def test_crossentropy_class_losses():
    logits = np.array([[1.0, 2.0, 0.5]], "float32")
    p = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(cicw.crossentropy_class_losses(logits, True), -np.log(p), rtol=1e-5)
    np.testing.assert_allclose(cicw.crossentropy_class_losses(p, False), -np.log(p), rtol=1e-5)


def test_smooth_labels():
    np.testing.assert_allclose(
        cicw.smooth_labels(np.array([[0.0, 1.0, 0.0, 0.0]]), 0.2), [[0.05, 0.85, 0.05, 0.05]]
    )


def test_bad_arguments():
    losses, y = _cases()
    with pytest.raises(ValueError, match="divergence"):
        cicw.class_weights(losses, y, divergence="tv")
    with pytest.raises(ValueError, match="smoothing"):
        cicw.class_weights(losses, y, divergence="kl", smoothing=0.0)
    with pytest.raises(ValueError, match="budget"):
        cicw.class_weights(losses, y, divergence="l1", budget=3.0)
    with pytest.raises(ValueError, match="One-hot"):
        cicw.class_weights(losses, np.array([0, 1, 2, 3]), divergence="l2")

"""Tests of MR + mixup / label smoothing and CICW-Mixup (pure functions)."""

import numpy as np
import pytest

from keras_mr import cicw_mixup
from keras_mr import mixup


def _batch(b=6, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(b, 4)).astype("float32")
    y = np.eye(k, dtype="float32")[rng.integers(0, k, size=b)]
    w = rng.uniform(0.0, 2.0, size=b).astype("float32")
    partners = rng.permutation(b).astype("int32")
    lam = rng.uniform(size=b).astype("float32")
    return x, y, w, partners, lam


def test_uniform_weights_reduce_to_vanilla_mixup():
    x, y, _, j, lam = _batch()
    xm, ym, wm = (np.asarray(t) for t in mixup.mixup_with_weights(x, y, None, j, lam))
    np.testing.assert_allclose(xm, lam[:, None] * x + (1 - lam[:, None]) * x[j], rtol=1e-6)
    np.testing.assert_allclose(ym, lam[:, None] * y + (1 - lam[:, None]) * y[j], rtol=1e-6)
    np.testing.assert_allclose(wm, np.ones(len(x)), rtol=1e-6)


def test_weight_rule_and_label_mass_consistency():
    x, y, w, j, lam = _batch()
    _, ym, wm = (np.asarray(t) for t in mixup.mixup_with_weights(x, y, w, j, lam))
    w_raw = lam * w + (1 - lam) * w[j]  # the combination rule
    np.testing.assert_allclose(wm, w_raw * len(x) / w_raw.sum(), rtol=1e-5)
    np.testing.assert_allclose(wm.sum(), len(x), rtol=1e-5)
    np.testing.assert_allclose(ym.sum(1), 1.0, rtol=1e-6)
    # weighted label mass of each mixed example = what its two sources put in
    mass = lam[:, None] * w[:, None] * y + (1 - lam[:, None]) * w[j][:, None] * y[j]
    np.testing.assert_allclose(w_raw[:, None] * ym, mass, rtol=1e-5, atol=1e-6)
    # total weighted label mass over the batch
    np.testing.assert_allclose((w_raw[:, None] * ym).sum(0), mass.sum(0), rtol=1e-5)


def test_weighted_crossentropy_decomposes():
    # sum_i w_mix CE(y_mix, p) == sum_i lam w_i CE(y_i, p) + (1-lam) w_j CE(y_j, p)
    x, y, w, j, lam = _batch(seed=1)
    _, ym, _ = (np.asarray(t) for t in mixup.mixup_with_weights(x, y, w, j, lam))
    w_raw = lam * w + (1 - lam) * w[j]
    logp = np.log(np.random.default_rng(2).dirichlet(np.ones(3), size=len(x)))
    lhs = np.sum(w_raw * -(ym * logp).sum(1))
    rhs = np.sum(lam * w * -(y * logp).sum(1) + (1 - lam) * w[j] * -(y[j] * logp).sum(1))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-5)


def test_zero_weight_label_does_not_leak():
    x = np.eye(2, dtype="float32")
    y = np.eye(2, dtype="float32")
    w = np.array([1.0, 0.0], "float32")
    j = np.array([1, 0], "int32")
    lam = np.array([0.5, 0.5], "float32")
    _, ym, wm = mixup.mixup_with_weights(x, y, w, j, lam)
    np.testing.assert_allclose(ym, [[1, 0], [1, 0]], atol=1e-7)
    np.testing.assert_allclose(wm, [1, 1], atol=1e-6)
    # the simpler rule lets the zero-weight label in through its partner
    _, ym2, _ = mixup.mixup_with_weights(x, y, w, j, lam, consistent_targets=False)
    np.testing.assert_allclose(ym2, [[0.5, 0.5], [0.5, 0.5]], atol=1e-7)


def test_mr_mixup_random_batch():
    x, y, w, _, _ = _batch(b=64, seed=3)
    xm, ym, wm = (np.asarray(t) for t in mixup.mr_mixup(x, y, w, mixup_alpha=1.0, seed=0))
    assert xm.shape == x.shape and ym.shape == y.shape and wm.shape == (64,)
    np.testing.assert_allclose(ym.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(wm.sum(), 64, rtol=1e-4)
    assert not np.allclose(xm, x)
    with pytest.raises(ValueError, match="mixup_alpha"):
        mixup.mr_mixup(x, y, w, mixup_alpha=0.0)


def test_label_smoothing():
    ys = np.asarray(mixup.smooth_labels(np.eye(4, dtype="float32")[[2]], 0.1))
    np.testing.assert_allclose(ys, [[0.025, 0.025, 0.925, 0.025]], rtol=1e-6)


def test_weight_ratios():
    q = np.array([0.6, 0.3, 0.1, 0.0], "float32")
    j = np.array([1, 2, 0, 3], "int32")
    lam = np.asarray(cicw_mixup.weight_ratios(q, j))
    np.testing.assert_allclose(lam, [0.6 / 0.9, 0.3 / 0.4, 0.1 / 0.7, 0.5], rtol=1e-6)


def test_weighted_partner_sampling_follows_weights():
    q = np.array([0.7, 0.2, 0.1, 0.0], "float32")
    draws = np.concatenate(
        [np.asarray(cicw_mixup.weighted_partners(q, seed=s)) for s in range(500)]
    )
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert freq[3] == 0.0  # a zero-weight example is never a partner
    np.testing.assert_allclose(freq[:3], q[:3], atol=0.03)


@pytest.mark.parametrize("variant", ["both", "sampling", "ratio"])
def test_cicw_mixup_variants(variant):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.dirichlet(np.ones(4), size=32).astype("float32")  # soft CICW targets
    q = rng.uniform(size=32).astype("float32")
    q[:8] = 0.0
    xm, ym, j, lam = (
        np.asarray(t) for t in cicw_mixup.cicw_mixup(x, y, q, variant=variant, seed=1)
    )
    np.testing.assert_allclose(ym.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(xm, lam[:, None] * x + (1 - lam[:, None]) * x[j], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ym, lam[:, None] * y + (1 - lam[:, None]) * y[j], rtol=1e-5, atol=1e-6)
    if variant in ("both", "sampling"):
        assert np.all(j >= 8)  # partners never come from zero-weight examples
    else:
        assert sorted(j.tolist()) == list(range(32))  # a permutation
    if variant in ("both", "ratio"):
        np.testing.assert_allclose(lam, np.where(q + q[j] > 0, q / np.maximum(q + q[j], 1e-30), 0.5), rtol=1e-5)
        # the mixed example leans towards the higher-weight source
        assert np.all((lam >= 0.5) == (q >= q[j]))
    with pytest.raises(ValueError, match="variant"):
        cicw_mixup.cicw_mixup(x, y, q, variant="random")

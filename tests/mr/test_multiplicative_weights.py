import numpy as np
import pytest

from keras_mr.mr.multiplicative_weights import mw_log_weights
from keras_mr.mr.multiplicative_weights import mw_update


def test_hand_computed_two_examples():
    # w = exp(-eta * L): L = (0, log 3), eta = 1 -> w = (1, 1/3) -> p = (3/4, 1/4)
    p = np.exp(mw_log_weights(np.array([0.0, np.log(3.0)]), eta=1.0))
    np.testing.assert_allclose(p, [0.75, 0.25], rtol=1e-12)


def test_hand_computed_three_examples_history():
    # two epochs of losses, eta = 0.5: L = (1+1, 2+0, 0+4) = (2, 2, 4)
    log_p, cum, _ = mw_update(None, np.array([1.0, 2.0, 0.0]), 0.5)
    log_p, cum, _ = mw_update(cum, np.array([1.0, 0.0, 4.0]), 0.5)
    np.testing.assert_allclose(cum, [2.0, 2.0, 4.0])
    w = np.exp([-1.0, -1.0, -2.0])
    np.testing.assert_allclose(np.exp(log_p), w / w.sum(), rtol=1e-12)


@pytest.mark.parametrize("eta", [1e-4, 0.01, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e2, 1e4])
def test_no_nan_and_sums_to_one(eta, scale):
    rng = np.random.default_rng(0)
    losses = rng.random(1000) * scale
    p = np.exp(mw_log_weights(losses, eta))
    assert np.all(np.isfinite(p))
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    # the naive formula underflows to 0/0 here, the log-domain one does not
    assert p[np.argmin(losses)] == p.max()


def test_extreme_scale_keeps_argmin():
    # eta * L ~ 1e6: exp underflows for every example, log domain is exact
    losses = np.array([1e4, 1e4 + 1e-2, 2e4])
    log_p = mw_log_weights(losses, eta=100.0)
    assert np.all(np.isfinite(log_p))
    np.testing.assert_allclose(log_p[0] - log_p[1], 100.0 * 1e-2, rtol=1e-9)


def test_monotone_decreasing_in_loss():
    rng = np.random.default_rng(1)
    losses = rng.exponential(size=200)
    p = np.exp(mw_log_weights(losses, 0.3))
    order = np.argsort(losses)
    assert np.all(np.diff(p[order]) <= 0)


def test_invariant_to_shuffling():
    rng = np.random.default_rng(2)
    losses = rng.random(50)
    perm = rng.permutation(50)
    np.testing.assert_allclose(
        mw_log_weights(losses[perm], 2.0), mw_log_weights(losses, 2.0)[perm], rtol=1e-12
    )


def test_history_modes_with_schedule():
    l1, l2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    # rescale: eta_2 = 2 multiplies the whole history L = (1, 1) -> uniform
    lp, cum, sc = mw_update(None, l1, 1.0, "rescale")
    lp, _, _ = mw_update(cum, l2, 2.0, "rescale", sc)
    np.testing.assert_allclose(np.exp(lp), [0.5, 0.5])
    # accumulate: S = (1*1 + 2*0, 1*0 + 2*1) = (1, 2) -> softmax(-S)
    lp, cum, sc = mw_update(None, l1, 1.0, "accumulate")
    lp, _, _ = mw_update(cum, l2, 2.0, "accumulate", sc)
    w = np.exp([-1.0, -2.0])
    np.testing.assert_allclose(np.exp(lp), w / w.sum())


@pytest.mark.parametrize("eta", [0, -1.0, float("nan"), float("inf")])
def test_bad_eta(eta):
    with pytest.raises(ValueError, match="eta"):
        mw_log_weights(np.ones(3), eta)


def test_nan_losses_are_rejected_with_indices():
    with pytest.raises(ValueError, match=r"non-finite.*\[1\]"):
        mw_update(None, np.array([0.1, np.nan, 0.3]), 0.1)


def test_size_change_is_rejected():
    _, cum, sc = mw_update(None, np.ones(3), 0.1)
    with pytest.raises(ValueError, match="number of training examples"):
        mw_update(cum, np.ones(4), 0.1, scaled_history=sc)


def test_bad_history_mode():
    with pytest.raises(ValueError, match="history_mode"):
        mw_update(None, np.ones(3), 0.1, history_mode="sum")

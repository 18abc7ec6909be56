"""The pure MR update (keras_mr.mr.mr_update): numbers by hand, the automatic settings'
steps, purity, and the callback being a thin layer over it."""

import keras
import numpy as np
import pytest

import keras_mr
from keras_mr.mr import auto_tuning
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.mr_update import MRConfig
from keras_mr.mr.mr_update import init_mr_state
from keras_mr.mr.mr_update import mr_update


def _two_groups(n=1000, noisy=300, seed=0):
    rng = np.random.default_rng(seed)
    return np.exp(np.concatenate([rng.normal(-4, 1, n - noisy), rng.normal(1, 0.3, noisy)]))


def test_fixed_eta_is_the_softmax_of_the_loss_history():
    config = MRConfig(eta=0.5, max_weight=None)
    l1, l2 = np.array([0.0, 1.0, 2.0, 4.0]), np.array([1.0, 1.0, 0.0, 2.0])
    state, log_p, eta, rate = mr_update(init_mr_state(4), config, l1)
    assert eta == 0.5 and rate is None
    state, log_p, _, _ = mr_update(state, config, l2)
    expected = np.exp(-0.5 * (l1 + l2))  # [e^-0.5, e^-1, e^-1, e^-3]
    np.testing.assert_allclose(np.exp(log_p), expected / expected.sum(), rtol=1e-12)
    np.testing.assert_array_equal(state.cumulative_loss, np.float32([1, 2, 2, 6]))
    np.testing.assert_array_equal(state.last_loss, np.float32(l2))
    # nothing automatic ran: the rate and reference stay at their initial values
    assert (state.noise_rate, state.reference_loss, state.split_updates) == (0.0, 0.0, 0)


def test_accumulate_keeps_each_losses_own_eta():
    l1, l2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    state, _, _, _ = mr_update(init_mr_state(2), MRConfig(1.0, None, "accumulate"), l1)
    _, log_p, _, _ = mr_update(state, MRConfig(3.0, None, "accumulate"), l2)
    expected = np.exp([-1.0, -3.0])  # -(1 * l1 + 3 * l2)
    np.testing.assert_allclose(np.exp(log_p), expected / expected.sum(), rtol=1e-7)


def test_a_fixed_cap_is_the_kl_projection():
    losses = np.array([0.0, 0.0, 5.0, 5.0, 5.0])
    _, log_p, _, _ = mr_update(init_mr_state(5), MRConfig(1.0, 0.3), losses)
    np.testing.assert_allclose(log_p, project_capped_simplex_log(-losses - np.log(2 + 3 * np.exp(-5.0)), 0.3))
    assert np.exp(log_p).max() == pytest.approx(0.3)
    # by hand: the two clean examples are capped at 0.3, the other 0.4 is shared equally
    np.testing.assert_allclose(np.exp(log_p), [0.3, 0.3, 0.4 / 3, 0.4 / 3, 0.4 / 3], rtol=1e-9)


def test_auto_before_a_split_keeps_uniform_weights_and_records_the_reference():
    losses = np.exp(np.random.default_rng(1).gumbel(-3, 1, 500))  # one skewed group
    state, log_p, eta, rate = mr_update(init_mr_state(500), MRConfig(), losses)
    assert eta == auto_tuning.ETA_BEFORE_SPLIT and rate == 0.0
    assert state.split_updates == 0 and state.eta == 0.0
    assert state.reference_loss == float(np.float32(losses.mean()))
    assert np.exp(log_p).max() * 500 == pytest.approx(1.0, abs=1e-4)  # no cap, ~uniform


def test_auto_after_a_split_caps_at_the_rate_and_never_lowers_eta():
    losses = _two_groups()
    state = init_mr_state(losses.size)
    etas = []
    for _ in range(4):
        state, log_p, eta, rate = mr_update(state, MRConfig(), losses)
        etas.append(eta)
        p = np.exp(log_p)
        assert p.max() <= auto_tuning.auto_max_weight(rate, losses.size) * (1 + 1e-6)
    assert state.split_updates == 4
    assert state.noise_rate == pytest.approx(0.3, abs=0.02)
    assert etas == sorted(etas) and state.eta == etas[-1]
    assert np.exp(log_p)[700:].sum() < 0.01  # the high-loss group has lost its weight
    # the ESS target of the first split update (ramp step 0) was hit exactly
    first, log_p1, eta1, rate1 = mr_update(init_mr_state(losses.size), MRConfig(), losses)
    uncapped = -eta1 * first.cumulative_loss.astype(np.float64)
    target = auto_tuning.ess_target(rate1, 0)
    assert auto_tuning.effective_sample_fraction(uncapped) == pytest.approx(target, abs=1e-3)


def test_the_update_is_pure():
    losses = _two_groups()
    state = init_mr_state(losses.size)
    before = [a.copy() for a in state[:3]]
    one = mr_update(state, MRConfig(), losses)
    two = mr_update(state, MRConfig(), losses)
    for a, b in zip(state[:3], before):
        np.testing.assert_array_equal(a, b)  # the input state is not modified
    np.testing.assert_array_equal(one.log_weights, two.log_weights)
    assert one.state.cumulative_loss.dtype == np.float32
    for value in (one.state.eta, one.state.noise_rate, one.state.reference_loss):
        assert value == float(np.float32(value))  # float32-exact: a saved state repeats it


def test_bad_losses_and_eta_are_refused():
    with pytest.raises(ValueError, match="non-finite"):
        mr_update(init_mr_state(3), MRConfig(1.0, None), np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="eta"):
        mr_update(init_mr_state(3), MRConfig(-1.0, None), np.zeros(3))
    with pytest.raises(ValueError, match="number of training examples"):
        mr_update(init_mr_state(4), MRConfig(1.0, None), np.zeros(3))


class _Losses(keras_mr.mr.LossSource):
    name = "scripted"

    def __init__(self, per_update):
        self.per_update = per_update

    def collect(self, model, dataset, num_examples, verbose=False):
        losses = self.per_update[int(model.optimizer.iterations.numpy()) // 4 - 1]
        return losses, np.ones(num_examples, bool)


def test_the_callback_publishes_exactly_what_the_pure_update_returns():
    n = 400
    per_update = [_two_groups(n, 120, seed=s) for s in range(3)]
    x = np.random.default_rng(0).normal(size=(n, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    weighter = keras_mr.MRSampleWeighter(loss_source=_Losses(per_update), verbose=0)
    ds = weighter.attach(x, y, batch_size=100, seed=0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=3, verbose=0, shuffle=False, callbacks=[weighter])
    state = init_mr_state(n)
    for t, losses in enumerate(per_update):
        state, log_p, eta, rate = mr_update(state, MRConfig(), losses)
        assert history.history["mr_eta"][t] == pytest.approx(eta, rel=1e-6)
        assert history.history["mr_noise_rate"][t] == pytest.approx(rate, rel=1e-6)
    np.testing.assert_array_equal(weighter.state.log_weights.numpy(), log_p.astype(np.float32))
    np.testing.assert_array_equal(weighter.state.cumulative_loss.numpy(), state.cumulative_loss)
    assert int(weighter.state.split_updates.numpy()) == state.split_updates == 3

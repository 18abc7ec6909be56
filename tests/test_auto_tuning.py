"""eta="auto" and max_weight="auto": settings derived from the estimated noise rate."""

import keras
import numpy as np
import pytest
from noisy_blobs import blob_classifier
from noisy_blobs import noisy_blobs

import keras_mr
from keras_mr.mr import auto_tuning
from keras_mr.mr.multiplicative_weights import log_softmax


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95])
def test_eta_for_ess_hits_the_target(target):
    L = np.random.default_rng(0).exponential(size=5000)
    eta = auto_tuning.eta_for_ess(L, target)
    assert auto_tuning.effective_sample_fraction(log_softmax(-eta * L)) == pytest.approx(
        target, abs=1e-4
    )
    assert auto_tuning.eta_for_ess(L, target - 0.1) > eta  # a smaller ESS needs a larger eta


def test_eta_for_ess_at_the_ends_of_its_range():
    assert auto_tuning.eta_for_ess(np.zeros(10), 0.5) == 1e6  # equal losses: ESS stays N
    assert auto_tuning.eta_for_ess(np.arange(10.0), 1.0) == 1e-6


def test_auto_cap_and_schedule():
    assert auto_tuning.auto_max_weight(0.25, 100) == pytest.approx(1 / 75)
    assert auto_tuning.auto_max_weight(0.9, 100) == pytest.approx(1 / 50)  # r clipped to 0.5
    # 1 - (1 - 0.75 * 0.8) * ramp, ramp = 1/5, 5/5, 1: 0.92, 0.6, 0.6
    assert [auto_tuning.ess_target(0.2, t) for t in (0, 4, 9)] == pytest.approx([0.92, 0.6, 0.6])
    assert auto_tuning.ess_target(0.0, 9) == pytest.approx(0.75)


def _log_normal_losses(clean, noisy, gap, seed=0):
    rng = np.random.default_rng(seed)
    return np.exp(np.concatenate([rng.normal(-3.0, 1.0, clean), rng.normal(gap - 3, 0.5, noisy)]))


@pytest.mark.parametrize("rate", [0.1, 0.25, 0.4])
def test_guiding_rate_equals_the_noise_rate_when_the_groups_are_separated(rate):
    noisy = int(rate * 4000)
    losses = _log_normal_losses(4000 - noisy, noisy, gap=8.0)
    assert auto_tuning.guiding_noise_rate(losses) == pytest.approx(rate, abs=0.01)


def test_guiding_rate_is_generous_when_the_groups_overlap():
    """Early in training the groups overlap: the mixture weight falls below the true rate,
    the fraction of examples that are not confidently clean does not."""
    from keras_mr.mr.noise_rate import fit_two_gaussians

    losses = _log_normal_losses(3000, 2000, gap=3.0, seed=1)
    mixture_weight = fit_two_gaussians(np.log(losses + 1e-6))[0][1]
    guiding = auto_tuning.guiding_noise_rate(losses)
    assert guiding > mixture_weight
    assert 0.4 <= guiding <= 0.5  # true 0.4; clipped at 0.5
    assert auto_tuning.guiding_noise_rate(_log_normal_losses(500, 500, gap=0.5)) == 0.5
    assert auto_tuning.guiding_noise_rate(np.ones(10)) == 0.0


def test_large_n_uses_a_fixed_subsample():
    values = np.arange(100_000, dtype=np.float64)
    a, b = auto_tuning.fit_subsample(values), auto_tuning.fit_subsample(values)
    assert a.size == auto_tuning.FIT_SAMPLE and np.array_equal(a, b)  # same rows every time
    assert np.all(np.diff(a) > 0)  # sorted rows, no repeats
    assert auto_tuning.fit_subsample(values[:10]).size == 10
    L = np.random.default_rng(0).exponential(size=200_000)
    eta = auto_tuning.eta_for_ess(L, 0.6)
    exact = auto_tuning.effective_sample_fraction(log_softmax(-eta * L))
    assert exact == pytest.approx(0.6, abs=0.01)  # the subsample's ESS fraction is the whole's


def test_auto_eta_needs_the_rescale_history():
    with pytest.raises(ValueError, match="rescale"):
        keras_mr.MRSampleWeighter(eta="auto", history_mode="accumulate")
    # a schedule replaces the default eta="auto", with either history mode
    keras_mr.MRSampleWeighter(eta_schedule=lambda epoch: 0.1, history_mode="accumulate")
    with pytest.raises(ValueError, match="max_weight"):
        keras_mr.MRSampleWeighter(max_weight="automatic")


@pytest.mark.tf_only
def test_auto_settings_spread_the_weight_over_the_presumed_clean_examples():
    x, y, noisy = noisy_blobs()
    n = len(y)
    model = blob_classifier()
    weighter = keras_mr.MRSampleWeighter(noise_mask=noisy)  # eta="auto", max_weight="auto"
    history = model.fit(weighter.attach(x, y, batch_size=50, seed=0), epochs=8, shuffle=False,
                        verbose=0, callbacks=[weighter])
    logs = history.history
    rates, etas, ess = logs["mr_noise_rate"], logs["mr_eta"], logs["mr_ess"]
    assert np.all(np.diff(etas) >= 0)  # eta never decreases
    # an upper estimate: this small model is still learning at the first update (12 steps
    # an epoch), so the rate starts at the 0.5 clip, and it never decreases
    assert rates == [0.5] * 8
    p = weighter.example_weights()
    assert p.max() <= 2 / n + 1e-6  # the cap of r = 0.5
    assert logs["mr_noisy_mass"][-1] < 0.01  # uniform weights: 0.25
    assert ess[0] > 0.85 and ess[0] > ess[1] > ess[2]  # moves away from uniform gradually
    assert min(ess) >= 0.5  # the cap keeps at least (1 - 0.5) N examples in play


def test_guiding_rate_never_decreases():
    losses = _log_normal_losses(700, 300, gap=8.0)
    assert auto_tuning.guiding_noise_rate(losses) == pytest.approx(0.3, abs=0.01)
    assert auto_tuning.guiding_noise_rate(losses, 0.45) == 0.45
    assert auto_tuning.guiding_noise_rate(losses, 0.2) == pytest.approx(0.3, abs=0.01)
    assert auto_tuning.guiding_noise_rate(np.ones(10), 0.2) == 0.2


class _ScriptedLosses(keras_mr.mr.LossSource):
    """Update t's losses: 30% noisy examples, a quarter more of them memorised each update."""

    name = "scripted"

    def __init__(self, n=400):
        rng = np.random.default_rng(3)
        self.clean = rng.normal(-3.0, 1.0, n)
        self.noisy = np.arange(n) >= int(0.7 * n)

    def losses(self, t):
        n = self.clean.size
        memorised = np.arange(n) < int(0.7 * n) + int(0.25 * t * 0.3 * n)
        return np.exp(np.where(self.noisy & ~memorised, self.clean * 0.3 + 6.0, self.clean))

    def collect(self, weighter):
        losses = self.losses(weighter.num_updates)
        return losses, np.ones(losses.size, dtype=bool)


def _auto_fit(tmp_path, epochs, initial_epoch=0, restore=None):
    x = np.random.default_rng(0).normal(size=(400, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    weighter = keras_mr.MRSampleWeighter(loss_source=_ScriptedLosses(), verbose=0)
    ds = weighter.attach(x, y, batch_size=100, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    if restore is not None:
        weighter.set_model(model)
        model.load_weights(restore)
    history = model.fit(ds, epochs=epochs, initial_epoch=initial_epoch, verbose=0,
                        shuffle=False, callbacks=[weighter])
    path = str(tmp_path / f"auto{epochs}.weights.h5")
    model.save_weights(path)
    return weighter, history.history, path


def test_auto_state_is_saved_and_a_resumed_run_repeats_it(tmp_path):
    ref, ref_logs, _ = _auto_fit(tmp_path, 4)
    _, _, path = _auto_fit(tmp_path, 2)
    resumed, logs, _ = _auto_fit(tmp_path, 4, initial_epoch=2, restore=path)
    np.testing.assert_array_equal(resumed.example_weights(), ref.example_weights())
    assert logs["mr_noise_rate"] == ref_logs["mr_noise_rate"][2:]
    assert logs["mr_eta"] == ref_logs["mr_eta"][2:]
    # the restored maxima mattered: fresh estimates from update 3's losses are lower
    fresh = auto_tuning.guiding_noise_rate(_ScriptedLosses().losses(3))
    assert fresh < 0.15 and logs["mr_noise_rate"][-1] == pytest.approx(0.3, abs=0.01)

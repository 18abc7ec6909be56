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


@pytest.mark.parametrize("rate", [0.05, 0.1, 0.25, 0.4])
def test_two_groups_give_the_noise_rate(rate):
    noisy = int(rate * 4000)
    guide = auto_tuning.guiding_noise_rate(_log_normal_losses(4000 - noisy, noisy, gap=8.0))
    assert guide.separated and guide.rate == pytest.approx(rate, abs=0.05)


@pytest.mark.parametrize(
    "losses",
    [
        np.exp(np.random.default_rng(0).normal(-3.0, 1.0, 4000)),  # one log-normal group
        np.random.default_rng(1).gamma(0.5, 0.2, 4000),  # a spike near 0 and a long tail
        np.exp(np.random.default_rng(2).gumbel(-3.0, 1.5, 4000)),  # skewed on the log scale
        np.concatenate([np.zeros(2000), np.random.default_rng(3).exponential(0.01, 2000)]),
        np.ones(10),
    ],
)
def test_one_group_gives_rate_zero(losses):
    """Clean data: whatever its shape, a mixture's second component is no noise group."""
    guide = auto_tuning.guiding_noise_rate(losses)
    assert guide == (0.0, False)
    assert auto_tuning.guiding_noise_rate(losses, previous_rate=0.2) == (0.2, False)  # held


def test_a_high_group_far_below_the_first_loss_is_not_noise():
    """Late in clean training a tail of hard examples can look like a second group; its
    losses have fallen a hundredfold since the first update, mislabelled ones have not."""
    losses = _log_normal_losses(3000, 1000, gap=5.0)  # high group around exp(2) = 7.4
    assert auto_tuning.guiding_noise_rate(losses, reference_loss=20.0).separated
    assert not auto_tuning.guiding_noise_rate(losses, reference_loss=200.0).separated


def test_overlapping_groups_are_generous_but_not_locked_before_they_separate():
    """Early in training the groups overlap: no split, rate 0.  Once they separate the rate
    is the share of examples that are not confidently clean, above the mixture weight."""
    from keras_mr.mr.noise_rate import fit_two_gaussians

    early = _log_normal_losses(3000, 2000, gap=1.0, seed=1)  # true 0.4, not yet separated
    first = auto_tuning.guiding_noise_rate(early)
    assert first == (0.0, False)
    later = _log_normal_losses(3000, 2000, gap=4.0, seed=1)
    guide = auto_tuning.guiding_noise_rate(later, first.rate)
    mixture_weight = fit_two_gaussians(np.log(later + 1e-6))[0][1]
    assert guide.separated and guide.rate > mixture_weight
    assert guide.rate == pytest.approx(0.4, abs=0.05)


def test_the_rate_of_separated_updates_is_held_at_its_maximum():
    """Wrong labels that keep weight get memorised and pull later estimates down."""
    losses = _log_normal_losses(700, 300, gap=8.0)
    assert auto_tuning.guiding_noise_rate(losses).rate == pytest.approx(0.3, abs=0.01)
    assert auto_tuning.guiding_noise_rate(losses, 0.45).rate == 0.45
    assert auto_tuning.guiding_noise_rate(losses, 0.2).rate == pytest.approx(0.3, abs=0.01)


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
def test_auto_settings_start_at_the_split_and_spread_the_weight_over_the_clean_examples():
    x, y, noisy = noisy_blobs()
    n = len(y)
    model = blob_classifier()
    weighter = keras_mr.MRSampleWeighter(noise_mask=noisy)  # eta="auto", max_weight="auto"
    history = model.fit(weighter.attach(x, y, batch_size=50, seed=0), epochs=8, shuffle=False,
                        verbose=0, callbacks=[weighter])
    logs = history.history
    rates, etas, ess = logs["mr_noise_rate"], logs["mr_eta"], logs["mr_ess"]
    assert np.all(np.diff(etas) >= 0)  # eta never decreases
    # 12 steps an epoch: the small model has not separated the groups at the first update,
    # so MR waits (uniform weights) instead of locking a guess in
    assert rates[0] == 0.0 and ess[0] == pytest.approx(1.0, abs=1e-4)
    assert rates[-1] == pytest.approx(noisy.mean(), abs=0.05)  # true 0.25
    p = weighter.example_weights()
    assert p.max() <= 1 / ((1 - rates[-1]) * n) + 1e-6  # the cap of the final rate
    assert logs["mr_noisy_mass"][-1] < 0.02  # uniform weights: 0.25
    first = rates.index(next(r for r in rates if r > 0))
    assert ess[first] > 0.85 and ess[first] > ess[first + 1]  # moves away gradually
    assert min(ess) >= 1 - rates[-1] - 0.05  # the cap keeps (1 - r) N examples in play


@pytest.mark.tf_only
def test_auto_defaults_leave_clean_data_alone():
    """0% noise, 19 steps an epoch: MR's defaults end within a point of plain training and
    flag (almost) nothing."""
    from keras_mr.benchmarking.datasets import load_dataset
    from keras_mr.benchmarking.runner.models import make_model_builder

    data = load_dataset("default", n_train=1200, n_test=1000, seed=0)
    build = make_model_builder("mlp", data.input_shape, data.num_classes)

    def accuracy(model):
        return np.mean(model.predict(data.x_test, verbose=0).argmax(-1) == data.y_test)

    keras.utils.set_random_seed(0)
    plain = build()
    plain.fit(data.x_train, data.y_train, batch_size=64, epochs=15, verbose=0)
    keras.utils.set_random_seed(0)
    model = build()
    weighter = keras_mr.MRSampleWeighter(verbose=0)
    ds = weighter.attach(data.x_train, data.y_train, batch_size=64, seed=0)
    history = model.fit(ds, epochs=15, shuffle=False, verbose=0, callbacks=[weighter])
    assert history.history["mr_noise_rate"] == [0.0] * 15
    assert history.history["mr_ess"][-1] == pytest.approx(1.0, abs=1e-4)
    assert abs(accuracy(model) - accuracy(plain)) <= 0.01
    assert keras_mr.find_label_issues(weighter).mean() <= 0.02


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

    def collect(self, model, dataset, num_examples, verbose=False):
        # update t follows epoch t: 4 steps an epoch (400 examples, batch 100); the
        # optimizer's step count is saved with the weights, so a resumed run repeats it
        losses = self.losses(int(model.optimizer.iterations.numpy()) // 4 - 1)
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
    fresh = auto_tuning.guiding_noise_rate(_ScriptedLosses().losses(3)).rate
    assert fresh < 0.15 and logs["mr_noise_rate"][-1] == pytest.approx(0.3, abs=0.01)

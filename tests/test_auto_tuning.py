"""eta="auto" and max_weight="auto": settings derived from the estimated noise rate."""

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
    assert [auto_tuning.ess_target(0.2, t) for t in (0, 4, 9)] == pytest.approx([0.96, 0.8, 0.8])


def test_auto_eta_needs_the_rescale_history():
    with pytest.raises(ValueError, match="rescale"):
        keras_mr.MRSampleWeighter(eta="auto", history_mode="accumulate")
    with pytest.raises(ValueError, match="max_weight"):
        keras_mr.MRSampleWeighter(max_weight="automatic")


@pytest.mark.tf_only
def test_auto_settings_spread_the_weight_over_the_estimated_clean_examples():
    x, y, noisy = noisy_blobs()
    n = len(y)
    model = blob_classifier()
    weighter = keras_mr.MRSampleWeighter(eta="auto", max_weight="auto", noise_mask=noisy)
    history = model.fit(weighter.attach(x, y, batch_size=50, seed=0), epochs=8, shuffle=False,
                        verbose=0, callbacks=[weighter])
    rate = history.history["mr_noise_rate"][-1]
    assert rate == pytest.approx(0.25, abs=0.05)
    p = weighter.example_weights()
    assert p.max() <= 1 / ((1 - rate) * n) + 1e-9
    assert history.history["mr_ess"][-1] == pytest.approx(1 - rate, abs=0.05)
    assert history.history["mr_noisy_mass"][-1] < 0.06  # uniform weights: 0.25
    ess = history.history["mr_ess"]
    assert ess[0] > 0.85 and ess[0] > ess[1] > ess[2]  # moves away from uniform gradually
    assert min(ess) >= 0.5  # the cap keeps at least (1 - 0.5) N examples in play

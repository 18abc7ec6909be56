import numpy as np
import pytest

from keras_mr.mr.random_weighting import rectified_gaussian_weights
from keras_mr.mr.weight_stats import weight_statistics


def test_rectified_gaussian_distribution():
    w = rectified_gaussian_weights(20_000, seed=3)
    assert w.sum() == pytest.approx(1.0)
    assert np.all(w >= 0)
    # P(z <= 0) = 1/2 for z ~ N(0, 1)
    assert abs(np.mean(w == 0) - 0.5) < 0.02
    # E[max(0,z)^2] / E[max(0,z)]^2 = (1/2) / (1/(2 pi)) = pi -> ESS/N = 1/pi
    assert weight_statistics(w)["ess"] == pytest.approx(1 / np.pi, rel=0.05)


def test_reproducible_per_update_and_different_across_updates():
    a = rectified_gaussian_weights(100, seed=1, update=4)
    np.testing.assert_array_equal(a, rectified_gaussian_weights(100, seed=1, update=4))
    assert not np.allclose(a, rectified_gaussian_weights(100, seed=1, update=5))


def test_weight_statistics_hand_computed():
    p = np.array([0.5, 0.25, 0.25, 0.0])
    s = weight_statistics(p, noise_mask=[False, True, False, True])
    assert s["entropy"] == pytest.approx(-(0.5 * np.log(0.5) + 0.5 * np.log(0.25)))
    assert s["ess"] == pytest.approx(1 / (0.25 + 0.0625 * 2) / 4)
    assert s["weight_min"] == 0.0
    assert s["weight_max"] == pytest.approx(2.0)
    assert s["noisy_mass"] == pytest.approx(0.25)


def test_weight_statistics_mask_shape():
    with pytest.raises(ValueError, match="noise_mask"):
        weight_statistics(np.full(3, 1 / 3), noise_mask=[True])

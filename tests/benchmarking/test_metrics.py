import itertools

import numpy as np
import pytest

from keras_mr import metrics


def _brute_auc(w, m):
    """P(noisy weight < clean weight) + 0.5 P(tie), by enumerating pairs."""
    w, m = np.asarray(w, float), np.asarray(m, bool)
    pairs = list(itertools.product(w[m], w[~m]))
    return np.mean([1.0 if a < b else 0.5 if a == b else 0.0 for a, b in pairs])


def test_auc_hand_computed():
    # noisy 0.1 beats both clean; noisy 0.4 beats 0.8 only: 3 of 4 pairs.
    assert metrics.noisy_detection_auc([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0]) == pytest.approx(0.75)
    # A tie counts one half: pairs (0.2 vs 0.2) = 0.5, (0.2 vs 0.9) = 1 -> 0.75.
    assert metrics.noisy_detection_auc([0.2, 0.2, 0.9], [True, False, False]) == pytest.approx(0.75)
    assert metrics.noisy_detection_auc([0.0, 1.0], [True, False]) == 1.0
    assert metrics.noisy_detection_auc([1.0, 0.0], [True, False]) == 0.0
    assert metrics.noisy_detection_auc(np.ones(6), [1, 0, 1, 0, 0, 0]) == 0.5
    assert np.isnan(metrics.noisy_detection_auc([0.1, 0.2], [False, False]))


def test_auc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(0)
    w = rng.integers(0, 6, size=60).astype(float)  # many ties
    m = rng.random(60) < 0.3
    assert metrics.noisy_detection_auc(w, m) == pytest.approx(_brute_auc(w, m))
    # Scale invariance: only the order matters.
    assert metrics.noisy_detection_auc(3 * w + 1, m) == pytest.approx(_brute_auc(w, m))


def test_average_precision_hand_computed():
    # Increasing weight: 0.1 N (P=1, R=.5), 0.35 C, 0.4 N (P=2/3, R=1): AP = .5 + .5 * 2/3.
    ap = metrics.noisy_detection_average_precision([0.1, 0.4, 0.35, 0.8], [1, 1, 0, 0])
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    # Ties enter together: one threshold holding 1 noisy + 1 clean -> P = 1/2 at R = 1.
    assert metrics.noisy_detection_average_precision([0.2, 0.2, 0.9], [1, 0, 0]) == pytest.approx(0.5)
    # Perfect ranking -> 1; all-equal weights -> the noise rate.
    assert metrics.noisy_detection_average_precision([0, 0, 1, 1, 1], [1, 1, 0, 0, 0]) == 1.0
    assert metrics.noisy_detection_average_precision(np.ones(5), [1, 1, 0, 0, 0]) == pytest.approx(0.4)
    assert np.isnan(metrics.noisy_detection_average_precision([1.0, 2.0], [0, 0]))


def test_noisy_weight_mass():
    w = np.array([1.0, 3.0, 4.0, 2.0])
    m = np.array([True, False, False, True])
    assert metrics.noisy_weight_mass(w, m) == pytest.approx(3.0 / 10.0)
    # Uniform weights: the noise rate.
    assert metrics.noisy_weight_mass(np.ones(10), np.arange(10) < 4) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="positive sum"):
        metrics.noisy_weight_mass(np.zeros(3), [True, False, False])


def test_noisy_weight_mass_per_class():
    w = np.array([1.0, 3.0, 4.0, 2.0, 5.0])
    m = np.array([True, False, False, True, False])
    y = np.array([0, 0, 1, 1, 1])
    # class 0: 1 / (1 + 3); class 1: 2 / (4 + 2 + 5); class 2: empty -> nan.
    out = metrics.noisy_weight_mass_per_class(w, m, y, num_classes=3)
    np.testing.assert_allclose(out[:2], [0.25, 2.0 / 11.0])
    assert np.isnan(out[2])


def test_bad_inputs():
    with pytest.raises(ValueError, match="same length"):
        metrics.noisy_detection_auc([0.1, 0.2], [True])
    with pytest.raises(ValueError, match="NaN"):
        metrics.noisy_detection_auc([np.nan, 0.2], [True, False])
    with pytest.raises(ValueError, match="boolean"):
        metrics.noisy_detection_auc([0.1, 0.2], [2, 0])


def test_plots_write_files(tmp_path):
    pytest.importorskip("matplotlib")
    from keras_mr.benchmarking import plots

    rng = np.random.default_rng(0)
    m = rng.random(100) < 0.4
    w = np.where(m, 1e-4, 1.0) * rng.random(100)
    plots.plot_weight_histograms(w, m, path=str(tmp_path / "h.png"))
    plots.plot_noisy_mass({"mr": [0.4, 0.2, 0.1]}, noise_rate=0.4, path=str(tmp_path / "m.png"))
    plots.plot_accuracy_curves({"base": [[0.5, 0.6], [0.55, 0.65]], "mr": [0.6, 0.7]},
                               path=str(tmp_path / "a.png"))
    for f in ("h.png", "m.png", "a.png"):
        assert (tmp_path / f).stat().st_size > 1000

"""Noise-rate estimate and the flagged set of label issues (no oracle k)."""

import numpy as np
import pytest
from noisy_blobs import blob_classifier
from noisy_blobs import noisy_blobs

import keras_mr
from keras_mr.mr.label_issues import find_label_issues
from keras_mr.mr.label_issues import label_issues_table
from keras_mr.mr.noise_rate import estimate_noise_rate
from keras_mr.mr.noise_rate import fit_two_gaussians


def _weights(clean, noisy, seed=0):
    """MR-like weights exp(-L): log-normal losses, clean ones orders of magnitude lower."""
    rng = np.random.default_rng(seed)
    log_losses = np.concatenate([rng.normal(-5.0, 1.0, clean), rng.normal(1.0, 0.3, noisy)])
    return np.exp(-np.exp(log_losses))


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.45])
def test_mixture_recovers_component_weights_and_means(rate):
    rng = np.random.default_rng(1)
    n_noisy = int(rate * 2000)
    s = np.concatenate([rng.normal(-2.0, 0.6, 2000 - n_noisy), rng.normal(1.0, 0.5, n_noisy)])
    weights, means, stds, resp = fit_two_gaussians(rng.permutation(s))
    assert weights[1] == pytest.approx(rate, abs=0.02)
    assert means == pytest.approx([-2.0, 1.0], abs=0.1)
    assert stds == pytest.approx([0.6, 0.5], abs=0.1)
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)


def test_noise_rate_overall_and_per_class():
    rng = np.random.default_rng(2)
    # class 0: 10% noisy of 500; class 1: 40% noisy of 500
    w = np.concatenate([_weights(450, 50, seed=3), _weights(300, 200, seed=4)])
    labels = np.repeat([0, 1], 500)
    order = rng.permutation(1000)
    estimate = estimate_noise_rate(w[order], labels[order])
    assert estimate.noise_rate == pytest.approx(0.25, abs=0.02)
    assert estimate.per_class[0] == pytest.approx(0.10, abs=0.03)
    assert estimate.per_class[1] == pytest.approx(0.40, abs=0.03)
    assert estimate.suspicion.shape == (1000,)


def test_flagged_set_size_comes_from_the_estimate():
    w = _weights(700, 300)
    mask = find_label_issues(w)
    assert mask.dtype == bool and mask.shape == (1000,)
    assert mask.sum() == pytest.approx(300, abs=10)
    assert mask[700:].mean() > 0.97 and mask[:700].mean() < 0.02
    assert find_label_issues(w, filter_by="mixture").sum() == pytest.approx(300, abs=10)


def test_flagged_set_is_equivariant_to_shuffling():
    w = _weights(300, 100, seed=5)
    perm = np.random.default_rng(6).permutation(400)
    np.testing.assert_array_equal(find_label_issues(w[perm]), find_label_issues(w)[perm])


def test_per_class_sizes_explicit_k_threshold_and_ranking():
    w = np.concatenate([_weights(90, 10, seed=7), _weights(60, 40, seed=8)])
    labels = np.repeat([0, 1], 100)
    mask = find_label_issues(w, labels, filter_by="noise_rate_per_class")
    assert mask[:100].sum() == pytest.approx(10, abs=2)
    assert mask[100:].sum() == pytest.approx(40, abs=3)
    top = find_label_issues(w, num_issues=5, return_indices_ranked_by="loss")
    np.testing.assert_array_equal(top, np.argsort(w, kind="stable")[:5])
    ranked = find_label_issues(w, threshold=0.9, return_indices_ranked_by="suspicion")
    suspicion = estimate_noise_rate(w).suspicion
    assert np.all(suspicion[ranked] > 0.9) and np.all(np.diff(suspicion[ranked]) <= 0)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(filter_by="confident_learning"), ValueError),
        (dict(num_issues=3, threshold=0.5), ValueError),
        (dict(filter_by="noise_rate_per_class"), ValueError),
        (dict(return_indices_ranked_by="margin"), ValueError),
        (dict(num_issues=2.5), TypeError),
        (dict(threshold=1.0), ValueError),
    ],
)
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(error):
        find_label_issues(_weights(50, 10), **kwargs)


def test_random_weights_and_untrained_weighters_are_rejected():
    with pytest.raises(TypeError, match="random"):
        find_label_issues(keras_mr.RandomSampleWeighter(seed=0))
    weighter = keras_mr.MRSampleWeighter()
    weighter.attach(np.zeros((8, 2), "float32"), np.zeros(8, int), batch_size=4)
    with pytest.raises(ValueError, match="no update"):
        find_label_issues(weighter)
    with pytest.raises(ValueError, match="non-negative"):
        find_label_issues(np.array([1.0, -1.0, 1.0, 1.0]))


def test_label_issues_table(tmp_path):
    w = np.array([0.30, 0.05, 0.60, 0.05])
    y = np.array([0, 1, 1, 2])
    t = label_issues_table(w, y, top_k=3, predictions=np.eye(3)[[0, 0, 1, 2]],
                           noisy_mask=[False, True, False, False],
                           class_names=["a", "b", "c"])
    # Lowest weight first; the tie (0.05) is broken by index.
    assert list(t.indices) == [1, 3, 0]
    assert t.rows[0] == {"rank": 1, "index": 1, "weight": 0.05, "relative_weight": pytest.approx(0.2),
                         "given_label": 1, "class_name": "b", "predicted_label": 0, "is_noisy": True}
    path = t.to_csv(str(tmp_path / "issues.csv"))
    lines = open(path).read().strip().splitlines()
    assert lines[0] == "rank,index,weight,relative_weight,given_label,class_name,predicted_label,is_noisy"
    assert lines[1].startswith("1,1,0.05,0.2,1,b,0,True")
    assert len(lines) == 4
    assert "| 1 | 1 |" in t.to_markdown()
    assert len(label_issues_table(w, y, top_k=None)) == 4


def test_label_issues_table_bad_inputs():
    with pytest.raises(ValueError, match="top_k"):
        label_issues_table([0.1, 0.2], [0, 1], top_k=0)
    with pytest.raises(ValueError, match="labels"):
        label_issues_table([0.1, 0.2], [0, 1, 1])
    with pytest.raises(TypeError, match="random"):
        label_issues_table(keras_mr.RandomSampleWeighter(seed=0), [0, 1])


def test_label_issues_table_rows_are_the_ranked_label_issues():
    w = _weights(90, 10, seed=9)
    labels = np.arange(100) % 3
    table = label_issues_table(w, labels, top_k=12)
    ranked = find_label_issues(w, num_issues=12, return_indices_ranked_by="loss")
    np.testing.assert_array_equal(table.indices, ranked)
    np.testing.assert_array_equal(table.columns["weight"], w[ranked])


@pytest.mark.tf_only
def test_mr_training_estimates_the_injected_noise_rate_and_flags_the_flipped_labels():
    x, y, noisy = noisy_blobs()
    model = blob_classifier()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, verbose=0)
    model.fit(weighter.attach(x, y, batch_size=50, seed=0), epochs=8, shuffle=False, verbose=0,
              callbacks=[weighter])
    estimate = estimate_noise_rate(weighter, y)
    mask = find_label_issues(weighter, y)
    precision, recall = noisy[mask].mean(), mask[noisy].mean()
    assert estimate.noise_rate == pytest.approx(0.25, abs=0.04)
    assert precision > 0.9 and recall > 0.9, (precision, recall)
    table = label_issues_table(weighter, y, top_k=20)
    np.testing.assert_array_equal(
        table.indices, find_label_issues(weighter, num_issues=20, return_indices_ranked_by="loss"))
    np.testing.assert_allclose(table.columns["weight"], weighter.weights[table.indices])


@pytest.mark.parametrize(
    "losses",
    [
        np.exp(np.random.default_rng(0).normal(-3.0, 1.5, 3000)),  # one group
        np.random.default_rng(1).gamma(0.5, 0.2, 3000),  # spike near 0, long tail
    ],
)
def test_clean_data_gives_rate_zero_and_flags_nothing(losses):
    w = np.exp(-losses)
    estimate = estimate_noise_rate(w, labels=np.arange(3000) % 3)
    assert estimate.noise_rate == 0.0 and not estimate.suspicion.any()
    assert estimate.per_class == {0: 0.0, 1: 0.0, 2: 0.0}
    assert not find_label_issues(w).any()
    assert find_label_issues(w, num_issues=5).sum() == 5  # a ranking is still there


def test_multi_hot_labels_get_a_clear_error():
    w = _weights(700, 300)
    multi_hot = np.zeros((1000, 4))
    multi_hot[np.arange(1000), np.arange(1000) % 4] = 1
    with pytest.raises(ValueError, match="multi-hot or one-hot"):
        estimate_noise_rate(w, multi_hot)

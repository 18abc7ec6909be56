import numpy as np
import pytest

from keras_mr import noise

K = 10


def _labels(n_per_class=103, k=K, seed=0):
    y = np.repeat(np.arange(k), n_per_class)
    return np.random.default_rng(seed).permutation(y)


GENERATORS = {
    "symmetric": lambda y, r, s: noise.symmetric_noise(y, r, K, seed=s),
    "pair": lambda y, r, s: noise.pair_flip_noise(y, r, K, seed=s),
    "flip": lambda y, r, s: noise.flip_noise(y, r, K, seed=s),
    "flip2": lambda y, r, s: noise.flip2_noise(y, r, K, seed=s),
    "instance": lambda y, r, s: noise.instance_dependent_noise(
        np.random.default_rng(7).normal(size=(y.size, 12)), y, r, K, seed=s
    ),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
@pytest.mark.parametrize("rate", [0.0, 0.2, 0.37, 0.45])
def test_exact_rate_and_mask(name, rate):
    y = _labels()
    res = GENERATORS[name](y, rate, 0)
    n = y.size
    # Exactly round(rate * N) labels changed: no "20% asked, 4% delivered".
    assert res.noisy_mask.sum() == round(rate * n)
    np.testing.assert_array_equal(res.noisy_mask, res.noisy_labels != y)
    assert res.noisy_labels.dtype == np.int64
    assert res.noisy_labels.min() >= 0 and res.noisy_labels.max() < K
    # Per class (class-conditional models): floor or ceil of rate * n_c.
    for c in range(K) if name != "instance" else []:
        k_c = res.noisy_mask[y == c].sum()
        assert abs(k_c - rate * np.sum(y == c)) <= 1


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_deterministic_and_seed_dependent(name):
    y = _labels()
    a, b, c = GENERATORS[name](y, 0.3, 1), GENERATORS[name](y, 0.3, 1), GENERATORS[name](y, 0.3, 2)
    np.testing.assert_array_equal(a.noisy_labels, b.noisy_labels)
    np.testing.assert_array_equal(a.transition_matrix, b.transition_matrix)
    assert not np.array_equal(a.noisy_labels, c.noisy_labels)


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_transition_matrix_matches_realised(name):
    y = _labels(n_per_class=200)
    res = GENERATORS[name](y, 0.4, 3)
    t = res.transition_matrix
    assert t.shape == (K, K)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    assert (t >= 0).all()
    emp = noise.empirical_transition_matrix(y, res.noisy_labels, K)
    # Per-target splits are exact up to one example per cell (1/200).
    np.testing.assert_allclose(emp, t, atol=1.0 / 200 + 1e-12)
    if name == "instance":  # realised matrix, global exact count
        assert np.mean(np.diag(t)) == pytest.approx(0.6)
    else:
        np.testing.assert_allclose(np.diag(t), 0.6, atol=1e-12)


def test_symmetric_exclusive_matrix_hand_computed():
    y = np.repeat(np.arange(4), 30)
    res = noise.symmetric_noise(y, 0.3, 4, seed=0)
    expected = np.full((4, 4), 0.1)
    np.fill_diagonal(expected, 0.7)
    np.testing.assert_allclose(res.transition_matrix, expected)
    # 9 corrupted per class, 3 to each of the 3 other classes.
    emp_counts = np.zeros((4, 4), int)
    np.add.at(emp_counts, (y, res.noisy_labels), 1)
    np.testing.assert_array_equal(emp_counts, np.where(np.eye(4, dtype=bool), 21, 3))


def test_symmetric_include_true_convention():
    y = np.repeat(np.arange(4), 100)
    res = noise.symmetric_noise(y, 0.4, 4, seed=0, include_true=True)
    expected = np.full((4, 4), 0.1) + 0.6 * np.eye(4)
    np.testing.assert_allclose(res.transition_matrix, expected)
    # 40 resampled per class, 10 land on the true class: 30 actually changed.
    np.testing.assert_array_equal(np.bincount(y[res.noisy_mask], minlength=4), [30] * 4)
    assert res.noisy_mask.mean() == pytest.approx(0.4 * 3 / 4)


def test_pair_flip_targets_next_class():
    y = _labels()
    res = noise.pair_flip_noise(y, 0.3, K, seed=0)
    np.testing.assert_array_equal(res.noisy_labels[res.noisy_mask], (y[res.noisy_mask] + 1) % K)
    assert res.transition_matrix[K - 1, 0] == pytest.approx(0.3)
    assert res.transition_matrix[0, 1] == pytest.approx(0.3)


def test_flip_single_target_per_class():
    y = _labels()
    res = noise.flip_noise(y, 0.3, K, seed=0)
    for c in range(K):
        targets = np.unique(res.noisy_labels[(y == c) & res.noisy_mask])
        assert targets.size == 1 and targets[0] != c
        assert res.transition_matrix[c, targets[0]] == pytest.approx(0.3)


def test_flip2_two_targets_evenly_split():
    y = _labels(n_per_class=100)
    res = noise.flip2_noise(y, 0.2, K, seed=0)
    for c in range(K):
        targets, counts = np.unique(res.noisy_labels[(y == c) & res.noisy_mask], return_counts=True)
        assert targets.size == 2 and c not in targets
        np.testing.assert_array_equal(counts, [10, 10])
        np.testing.assert_allclose(res.transition_matrix[c, targets], 0.1)


def test_instance_dependent_depends_on_features():
    rng = np.random.default_rng(0)
    y = _labels(n_per_class=200)
    x = rng.normal(size=(y.size, 16))
    res = noise.instance_dependent_noise(x, y, 0.4, K, seed=0)
    # Identical features in one class map to identical target preferences: with two
    # prototype inputs the wrong labels of a class concentrate, unlike symmetric noise.
    x2 = np.where((np.arange(y.size) % 2)[:, None] == 0, 1.0, -1.0) * np.ones((1, 16))
    res2 = noise.instance_dependent_noise(x2, y, 0.4, K, seed=0)
    assert res.noisy_mask.sum() == res2.noisy_mask.sum() == round(0.4 * y.size)
    def top2_share(r):
        shares = []
        for c in range(K):
            wrong = r.noisy_labels[(y == c) & r.noisy_mask]
            shares.append(np.sort(np.bincount(wrong, minlength=K))[-2:].sum() / wrong.size)
        return np.mean(shares)

    sym = noise.symmetric_noise(y, 0.4, K, seed=0)
    # Two prototype inputs per class => wrong labels concentrate on few classes.
    assert top2_share(res2) > 0.4
    assert top2_share(res2) > top2_share(sym) + 0.15


def test_apply_noise_dispatch_and_none():
    y = _labels()
    np.testing.assert_array_equal(
        noise.apply_noise("symmetric", y, 0.2, K, seed=0).noisy_labels,
        noise.symmetric_noise(y, 0.2, K, seed=0).noisy_labels,
    )
    res = noise.apply_noise("none", y, 0.0, K)
    assert not res.noisy_mask.any()
    with pytest.raises(ValueError, match="kind"):
        noise.apply_noise("gaussian", y, 0.2, K)
    with pytest.raises(ValueError, match="`x` is required"):
        noise.apply_noise("instance", y, 0.2, K)


def test_bad_inputs():
    y = _labels()
    with pytest.raises(ValueError, match="rate"):
        noise.symmetric_noise(y, 1.5, K)
    with pytest.raises(ValueError, match="num_classes"):
        noise.symmetric_noise(y, 0.2, 5)
    with pytest.raises(ValueError, match="one-hot"):
        noise.symmetric_noise(np.eye(K)[y], 0.2, K)
    with pytest.raises(TypeError, match="integer"):
        noise.symmetric_noise(y + 0.5, 0.2, K)
    with pytest.raises(ValueError, match="num_classes"):
        noise.flip2_noise(np.array([0, 1, 0]), 0.2, 2)
    with pytest.raises(ValueError, match="one row per label"):
        noise.instance_dependent_noise(np.zeros((3, 2)), y, 0.2, K)


def test_lookalike_classes_are_the_nearest_class_means():
    from keras_mr.benchmarking.noise import lookalike_classes

    # class means on a line at 0, 1, 3, 7: neighbours by distance
    x = np.repeat(np.array([[0.0], [1.0], [3.0], [7.0]]), 5, axis=0)
    y = np.repeat(np.arange(4), 5)
    near = lookalike_classes(x, y, 4, how_many=2)
    assert near.tolist() == [[1, 2], [0, 2], [1, 0], [2, 1]]
    with pytest.raises(ValueError, match="every one"):
        lookalike_classes(x[:10], y[:10], 4)


def test_confusion_noise_flips_to_lookalikes_two_to_one():
    from keras_mr.benchmarking.noise import confusion_noise

    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
    y = np.repeat(np.arange(4), 300)
    x = centres[y] + 0.01 * rng.normal(size=(1200, 2))
    res = confusion_noise(x, y, 0.3, 4, seed=1)
    assert res.noisy_mask.sum() == 360  # exact count
    # class 0 -> 1 (nearest) twice as often as -> 2, never -> 3
    moved = res.noisy_labels[(y == 0) & res.noisy_mask]
    assert np.bincount(moved, minlength=4).tolist() == [0, 60, 30, 0]
    np.testing.assert_allclose(res.transition_matrix[0], [0.7, 0.2, 0.1, 0.0])
    np.testing.assert_allclose(res.transition_matrix.sum(1), 1.0)
    via_registry = noise.apply_noise("confusion", y, 0.3, 4, seed=1, x=x)
    np.testing.assert_array_equal(via_registry.noisy_labels, res.noisy_labels)
    with pytest.raises(ValueError, match="`x` is required"):
        noise.apply_noise("confusion", y, 0.3, 4, seed=1)

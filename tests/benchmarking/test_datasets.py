import gzip
import os

import numpy as np
import pytest

from keras_mr import datasets
from keras_mr.benchmarking.datasets import fashion_mnist as fm_module


def _check_common(d, n_train, n_test, num_classes):
    assert len(d.x_train) == n_train and len(d.x_test) == n_test
    assert d.y_train.dtype == np.int64 and d.y_test.dtype == np.int64
    assert d.y_train.shape == (n_train,) and d.y_test.shape == (n_test,)
    np.testing.assert_array_equal(d.train_indices, np.arange(n_train))
    assert d.train_indices.dtype == np.int64
    np.testing.assert_array_equal(d.test_indices, np.arange(n_test))
    assert d.num_classes == num_classes


def test_default_dataset():
    d = datasets.load_default()
    _check_common(d, 2000, 1000, 10)
    assert d.x_train.shape == (2000, 8, 8, 1) and d.x_train.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(d.y_train), [200] * 10)  # balanced
    d2 = datasets.load_default()
    np.testing.assert_array_equal(d.x_train, d2.x_train)  # deterministic, no files
    assert not np.array_equal(d.x_train, datasets.load_default(seed=1).x_train)
    # Classes are learnable: nearest class mean (from train) is accurate on test.
    means = np.stack([d.x_train[d.y_train == c].mean(0) for c in range(10)]).reshape(10, -1)
    dist = ((d.x_test.reshape(len(d.x_test), 1, -1) - means[None]) ** 2).sum(-1)
    assert (dist.argmin(1) == d.y_test).mean() > 0.9
    with pytest.raises(ValueError, match="n_train"):
        datasets.load_default(n_train=0)


def test_indexed_train_and_subset():
    d = datasets.load_default(n_train=100, n_test=50)
    ds = d.indexed_train()
    x, y, i = next(iter(ds.batch(100)))
    np.testing.assert_array_equal(i.numpy(), np.arange(100))
    np.testing.assert_array_equal(y.numpy(), d.y_train)
    np.testing.assert_allclose(x.numpy(), d.x_train)
    s = d.subset(n_train=40, n_test=20, seed=3)
    _check_common(s, 40, 20, 10)
    np.testing.assert_array_equal(np.bincount(s.y_train, minlength=10), [4] * 10)  # stratified
    # Rows are real rows of the original set.
    assert any(np.array_equal(s.x_train[0], row) for row in d.x_train)


def test_two_moons():
    d = datasets.load_two_moons(n_train=200, n_test=100, noise_std=0.0)
    _check_common(d, 200, 100, 2)
    assert d.x_train.shape == (200, 2) and d.x_train.dtype == np.float32
    x0 = d.x_train[d.y_train == 0]
    x1 = d.x_train[d.y_train == 1]
    # Without noise points lie exactly on the two half circles.
    np.testing.assert_allclose(np.hypot(*x0.T), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(x1[:, 0] - 1, x1[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (x0[:, 1] >= -1e-6).all() and (x1[:, 1] <= 0.5 + 1e-6).all()


def test_logistic_1d():
    d = datasets.load_logistic_1d()
    _check_common(d, 15, 15, 2)
    assert d.noisy_mask.sum() == 5  # round(15 / 3)
    np.testing.assert_array_equal(d.x_train[:, 0], d.y_train_clean)  # x_i = y_i
    np.testing.assert_array_equal(d.y_train[d.noisy_mask], -d.y_train_clean[d.noisy_mask])
    np.testing.assert_array_equal(d.y_train[~d.noisy_mask], d.y_train_clean[~d.noisy_mask])
    assert set(np.unique(d.y_train)) <= {-1, 1}


def test_least_squares_1d():
    x, y, y_noisy, mask = datasets.least_squares_1d_arrays(n=15, epsilon=1.0)
    assert mask.sum() == 5
    np.testing.assert_allclose(y_noisy - y, np.where(mask, -y, 0.0))
    # The noisy LS solution theta = x.y~ / x.x is off by epsilon * (#corrupted) / N.
    theta = x @ y_noisy / (x @ x)
    assert theta == pytest.approx(1.0 - 5.0 / 15.0)
    _, _, y_r, m_r = datasets.least_squares_1d_arrays(n=15, epsilon=2.0, sign="random", seed=1)
    assert set(np.round(np.abs(y_r[m_r] - datasets.least_squares_1d_arrays(
        n=15, epsilon=2.0, sign="random", seed=1)[1][m_r]), 6)) == {2.0}
    d = datasets.load_least_squares_1d()
    np.testing.assert_allclose(d.info["targets_train"], y_noisy)
    with pytest.raises(ValueError, match="sign"):
        datasets.least_squares_1d_arrays(sign="up")


def _write_idx(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


def test_fashion_mnist_from_folder(tmp_path):
    rng = np.random.default_rng(0)
    x_tr, x_te = rng.integers(0, 256, (12, 28, 28)), rng.integers(0, 256, (5, 28, 28))
    y_tr, y_te = np.arange(12) % 10, np.arange(5)
    for name, arr in zip(fm_module.FILES, (y_tr, x_tr, y_te, x_te)):
        _write_idx(tmp_path / name, arr)
    d = datasets.load_fashion_mnist(data_dir=str(tmp_path))
    _check_common(d, 12, 5, 10)
    assert d.x_train.shape == (12, 28, 28, 1) and d.x_train.dtype == np.float32
    np.testing.assert_allclose(d.x_train[..., 0] * 255, x_tr, atol=1e-3)
    np.testing.assert_array_equal(d.y_train, y_tr)
    assert d.class_names[9] == "Ankle boot"
    raw = datasets.load_fashion_mnist(data_dir=str(tmp_path), normalize=False, channel_axis=False)
    assert raw.x_train.dtype == np.uint8 and raw.x_train.shape == (12, 28, 28)


def test_fashion_mnist_missing_files_message(tmp_path, monkeypatch):
    monkeypatch.setattr(fm_module, "SYSTEM_DIR", str(tmp_path / "nothing"))
    monkeypatch.setattr(fm_module, "_keras_cache_dir", lambda: str(tmp_path / "cache"))
    assert not datasets.fashion_mnist_available()
    with pytest.raises(FileNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        datasets.load_fashion_mnist()
    with pytest.raises(FileNotFoundError, match="data_dir"):
        datasets.load_fashion_mnist(data_dir=str(tmp_path))


@pytest.mark.skipif(not datasets.fashion_mnist_available(), reason="Fashion-MNIST files not installed")
def test_fashion_mnist_real():
    d = datasets.load_fashion_mnist()
    _check_common(d, 60000, 10000, 10)
    assert d.x_train.shape == (60000, 28, 28, 1)
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(d.y_train), [6000] * 10)


@pytest.mark.parametrize("name,k", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_via_tfds_mock(name, k):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=9):
        d = datasets.load_dataset(name)
    _check_common(d, 9, 9, k)
    assert d.x_train.shape == (9, 32, 32, 3) and d.x_train.dtype == np.float32
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert d.y_train.min() >= 0 and d.y_train.max() < k
    assert len(d.class_names) == k


def test_cifar_not_prepared_message(tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(FileNotFoundError, match="download=True"):
        datasets.load_cifar10(data_dir=str(tmp_path))


def _fake_clothing1m(root, annotations_subdir=False):
    import tensorflow as tf

    rng = np.random.default_rng(0)
    keys = [f"images/{i % 3}/{i:02d}/{1000 + i}.jpg" for i in range(10)]
    for i, k in enumerate(keys):
        os.makedirs(os.path.dirname(os.path.join(root, k)), exist_ok=True)
        img = rng.integers(0, 256, (20 + i, 16, 3), dtype=np.uint8)
        tf.io.write_file(os.path.join(root, k), tf.io.encode_jpeg(img))
    ann = os.path.join(root, "annotations") if annotations_subdir else root
    os.makedirs(ann, exist_ok=True)
    noisy = {k: i % 14 for i, k in enumerate(keys[:7])}
    clean = {keys[0]: 0, keys[1]: 5, keys[7]: 3, keys[8]: 13, keys[9]: 2}

    def write(name, lines):
        with open(os.path.join(ann, name), "w") as f:
            f.write("\n".join(lines) + "\n")

    write("noisy_label_kv.txt", [f"{k} {v}" for k, v in noisy.items()])
    write("clean_label_kv.txt", [f"{k} {v}" for k, v in clean.items()])
    write("noisy_train_key_list.txt", keys[:7])
    write("clean_train_key_list.txt", keys[:2])
    write("clean_val_key_list.txt", [keys[7]])
    write("clean_test_key_list.txt", keys[8:])
    return keys


@pytest.mark.tf_only
@pytest.mark.parametrize("subdir", [False, True])
def test_clothing1m_fabricated_folder(tmp_path, subdir):
    keys = _fake_clothing1m(str(tmp_path), annotations_subdir=subdir)
    d = datasets.load_clothing1m(str(tmp_path), check_images=True)
    _check_common(d, 7, 2, 14)
    assert d.x_train[0] == os.path.join(str(tmp_path), keys[0])
    np.testing.assert_array_equal(d.y_train, np.arange(7))
    np.testing.assert_array_equal(d.y_test, [13, 2])
    # Verified labels: key 0 agrees (0), key 1 disagrees (5 vs 1), others unknown.
    np.testing.assert_array_equal(d.y_train_clean, [0, 5, -1, -1, -1, -1, -1])
    np.testing.assert_array_equal(d.noisy_mask, [False, True] + [False] * 5)
    assert d.class_names[13] == "Underwear"
    val = datasets.load_clothing1m(str(tmp_path), split_test="clean_val")
    np.testing.assert_array_equal(val.y_test, [3])
    sub = datasets.load_clothing1m(str(tmp_path), max_train=3)
    assert len(sub.y_train) == 3
    ds = datasets.clothing1m_image_dataset(d.x_train, d.y_train, image_size=(8, 8))
    items = list(ds.as_numpy_iterator())
    assert len(items) == 7
    img, label, index = items[4]
    assert img.shape == (8, 8, 3) and img.dtype == np.float32
    assert label == 4 and index == 4


def test_clothing1m_bad_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="noisy_label_kv.txt"):
        datasets.load_clothing1m(str(tmp_path))


def test_load_dataset_dispatch():
    d = datasets.load_dataset("default", n_train=30, n_test=10)
    _check_common(d, 30, 10, 10)
    with pytest.raises(ValueError, match="Unknown dataset"):
        datasets.load_dataset("mnist-5")


def test_least_squares_1d_mr_recovers_clean_solution():
    """Algorithm 3 of the MR paper on this data: weighted LS + MW converges to theta* = 1."""
    x, y, y_noisy, mask = datasets.least_squares_1d_arrays(n=15, epsilon=1.0)
    cum = np.zeros_like(x)
    eta = 1.0
    for _ in range(200):
        p = np.exp(-eta * (cum - cum.min()))
        p /= p.sum()
        theta = np.sum(p * x * y_noisy) / np.sum(p * x * x)
        cum += 0.5 * (x * theta - y_noisy) ** 2
    assert abs(theta - 1.0) < 1e-3
    assert p[mask].sum() < 1e-3

"""Shared test data: three well-separated Gaussian blobs with 25% flipped labels."""

import keras
import numpy as np


def noisy_blobs(n=600, rate=0.25, seed=0):
    """``(x, y_noisy, noisy_mask)``: the only hard examples are the flipped ones."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 3, size=n)
    x = (rng.normal(size=(n, 2)) + 6.0 * np.eye(3)[y_true][:, :2]).astype("float32")
    noisy = rng.permutation(n) < int(rate * n)
    y = np.where(noisy, (y_true + 1 + rng.integers(0, 2, size=n)) % 3, y_true)
    return x, y, noisy


def blob_classifier():
    """A small MLP for the blobs, compiled with Adam(0.01) and sparse cross-entropy."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(
        keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _seed():
    import keras

    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


def backend():
    import keras

    return keras.backend.backend()


requires_tf = pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="needs the TensorFlow backend",
)


def make_blobs(n=400, n_classes=2, dim=2, sep=3.0, seed=0):
    """Small separable Gaussian blobs for end-to-end tests."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_classes, dim)) * sep
    y = rng.integers(0, n_classes, size=n)
    x = centers[y] + rng.normal(size=(n, dim))
    return x.astype("float32"), y.astype("int32")

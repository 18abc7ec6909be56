"""Shared fixtures; the layout of the tests.

The tests mirror the package: ``tests/mr/`` tests ``keras_mr/mr/``, ``tests/pipeline/``
tests ``keras_mr/pipeline/``, and so on (``tests/backends/`` and ``tests/distribution/`` the
backends and ``tf.distribute``; ``tests/benchmarks/`` the ``benchmarks/`` scripts); each file
is named after the module or concept it tests.  A script a test runs in a subprocess lies
next to that test.  There are no ``__init__.py`` files (pytest's default "prepend" import
mode), so test file names are unique across folders.

Test files import the shared data and subprocess helpers of ``tests/support/`` by bare name
(``from noisy_blobs import noisy_blobs``): that folder goes on ``sys.path`` here.
``from conftest import make_blobs`` works because pytest puts this file's folder on
``sys.path`` when it loads it.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))

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

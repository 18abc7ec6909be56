"""End-to-end on real Fashion-MNIST (skipped when the files are absent)."""

import os
import sys

import numpy as np
import pytest

DATA_DIR = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

pytestmark = [
    pytest.mark.tf_only,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.path.exists(os.path.join(DATA_DIR, "train-images-idx3-ubyte.gz")),
        reason="Fashion-MNIST files not available",
    ),
    pytest.mark.skipif(
        os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
        reason="ConstrainedReweightingModel needs the TensorFlow backend",
    ),
]


def test_ciw_and_cicw_mixup_beat_base_at_final_epoch_with_40pct_noise():
    import keras

    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    import ciw as bench  # benchmarks/ciw.py: data loading, noise, models

    x, y, xt, yt = bench.load_fashion_mnist(DATA_DIR)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))[:5000]
    x, y = x[idx], y[idx]
    xt, yt = xt[:2000], yt[:2000]
    y_noisy, _ = bench.symmetric_noise(y, 0.4, 10, seed=0)
    args = bench.argparse.Namespace(
        divergence="kl", temperature=1.0, burn_in_epochs=1, class_divergence="kl",
        class_temperature=1.0, class_budget=0.4, mixup_variant="both", seed=0,
        mixup_alpha=1.0, label_smoothing=0.1,
    )
    steps = int(np.ceil(len(x) / 128))
    acc = {}
    for method in ("base", "CIW", "CICW-M"):
        base = bench.mlp(784, 10, 256, seed=0)
        model, loss, onehot, _ = bench.build(method, base, args, steps)
        model.compile(keras.optimizers.Adam(1e-3), loss)
        labels = np.eye(10, dtype="float32")[y_noisy] if onehot else y_noisy
        model.fit(x, labels, batch_size=128, epochs=20, verbose=0)
        acc[method] = float(np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt))
    assert acc["CIW"] > acc["base"] + 0.02, acc
    assert acc["CICW-M"] > acc["base"] + 0.02, acc

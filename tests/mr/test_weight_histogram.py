"""WeightHistogram writes the weight distribution to TensorBoard event files."""

import glob

import keras
import numpy as np
import pytest

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only


def _read_events(log_dir):
    out = {}
    for path in glob.glob(f"{log_dir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor)
                out.setdefault(value.tag, []).append((event.step, tensor))
    return out


def test_histograms_of_two_epochs_are_read_back(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    noisy = np.zeros(120, bool)
    noisy[:30] = True
    y[noisy] ^= 1
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0, noise_mask=noisy)
    hist = keras_mr.callbacks.WeightHistogram(weighter, tmp_path / "w", buckets=10)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(weighter.attach(x, y, batch_size=30), epochs=2, verbose=0, shuffle=False,
              callbacks=[weighter, hist])
    events = _read_events(tmp_path / "w")
    assert {"mr_weights", "mr_weights_clean", "mr_weights_noisy", "mr_ess",
            "mr_noisy_mass", "mr_entropy"} <= set(events)
    assert [step for step, _ in events["mr_weights"]] == [1, 2]
    step, buckets = events["mr_weights"][-1]
    assert buckets.shape == (10, 3)  # (left edge, right edge, count)
    assert buckets[:, 2].sum() == pytest.approx(120)
    assert events["mr_weights_noisy"][-1][1][:, 2].sum() == pytest.approx(30)
    p = weighter.weights
    assert float(events["mr_noisy_mass"][-1][1]) == pytest.approx(p[noisy].sum(), rel=1e-5)
    assert float(events["mr_ess"][-1][1]) == pytest.approx(1 / np.sum(p * p) / 120, rel=1e-5)

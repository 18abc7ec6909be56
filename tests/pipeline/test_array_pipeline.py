"""The TensorFlow-free weighted pipeline (``attach(..., pipeline="pydataset")``).

In-process: the PyDataset pipeline trains exactly like the tf.data one (same batches
when unshuffled, same weights) and keeps its contract (per-batch normalisation,
(seed, epoch) order, class weights).  In a subprocess with TensorFlow hidden and
KERAS_BACKEND=jax: MR and random weighting train end to end and MR's update equals the
MW rule on independently computed losses.
"""

import keras
import numpy as np
import pytest
from backend_neutral_scripts import ARRAY_PIPELINE_SCRIPT as SCRIPT
from without_tensorflow import run_without_tensorflow

import keras_mr
from keras_mr.pipeline.array_pipeline import epoch_order


def _blobs(n=120, flip=0.2, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = (rng.normal(size=(n, 2)) + 3.0 * np.eye(3)[y][:, :2]).astype("float32")
    noisy = rng.random(n) < flip
    y_noisy = np.where(noisy, (y + 1) % 3, y)
    return x, y_noisy, noisy


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.tf_only
def test_pydataset_pipeline_trains_exactly_like_tf_data():
    x, y, _ = _blobs()
    weights = []
    for pipeline in ("tf.data", "pydataset"):
        weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0, verbose=0)
        ds = weighter.attach(x, y, batch_size=32, shuffle=False, pipeline=pipeline)
        _model().fit(ds, epochs=3, shuffle=False, verbose=0, callbacks=[weighter])
        weights.append(weighter.example_weights())
    assert isinstance(ds, keras.utils.PyDataset)
    np.testing.assert_allclose(weights[1], weights[0], rtol=2e-5, atol=1e-9)


def test_batches_carry_normalised_class_weighted_weights_in_seeded_order():
    x, y, _ = _blobs(n=50)
    weighter = keras_mr.RandomSampleWeighter(seed=0)
    ds = weighter.attach(
        x, y, batch_size=16, seed=7, pipeline="pydataset", class_weight={0: 1.0, 1: 2.0, 2: 0.5}
    )
    assert len(ds) == 4
    ds.table.assign(np.linspace(0.1, 2.0, 50))  # what an update writes: N * p
    seen = []
    for i in range(len(ds)):
        xb, yb, wb = ds[i]
        ids = epoch_order(50, 7, 0)[i * 16 : (i + 1) * 16]
        np.testing.assert_array_equal(xb, x[ids])
        base = ds.table.value[ids] * len(ids) / ds.table.value[ids].sum()
        np.testing.assert_allclose(wb, base * np.array([1.0, 2.0, 0.5])[y[ids]], rtol=1e-6)
        seen.extend(ids.tolist())
    assert sorted(seen) == list(range(50))
    assert int(ds.counter.numpy()) == 4
    ds.key.assign([7, 1])  # the next epoch: another order, same examples
    assert not np.array_equal(ds[0][0], x[epoch_order(50, 7, 0)[:16]])


def test_pipeline_argument_is_checked():
    x, y, _ = _blobs(n=20)
    with pytest.raises(ValueError, match="pipeline"):
        keras_mr.MRSampleWeighter().attach(x, y, batch_size=4, pipeline="torch")


def test_mr_and_random_weighting_on_jax_without_tensorflow():
    pytest.importorskip("jax")
    out = run_without_tensorflow(SCRIPT)
    assert out["tf_loaded"] is False
    assert out["first_update_err"] < 1e-5
    assert out["noisy_mass"] < 0.2 * out["noise_rate"], out
    assert out["random_sum"] == pytest.approx(1.0)
    assert 0.3 < out["random_zero_share"] < 0.7  # rectified Gaussian: about half are zero

"""MetaWeightNet on the wrapper base: compiled metrics, the wrapped `model`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_mr
from keras_mr.meta.meta_step import MetaStep
from keras_mr.meta.meta_step import virtual_and_meta_step

pytestmark = pytest.mark.tf_only


def _classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(2)])


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def test_compiled_metrics_in_fit_and_evaluate():
    x, y = _data()
    model = keras_mr.MetaWeightNet(_classifier(), meta_loss="ce")
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    ds = keras_mr.with_meta_batches(train, keras_mr.meta_dataset(x[:16], y[:16], batch_size=8))
    history = model.fit(ds, epochs=2, shuffle=False, verbose=0)
    assert {"loss", "accuracy", "meta_loss", "mean_weight"} <= set(history.history)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy"}
    expected = keras.metrics.SparseCategoricalAccuracy()
    expected.update_state(y, model.predict(x, verbose=0))
    assert float(result["accuracy"]) == pytest.approx(float(expected.result()), abs=1e-6)


def test_inner_model_is_model():
    inner = _classifier()
    by_position = keras_mr.MetaWeightNet(inner)
    by_keyword = keras_mr.MetaWeightNet(model=inner)
    assert by_position.model is inner
    assert by_keyword.model is inner
    config = by_position.get_config()
    assert "model" in config and "classifier" not in config
    clone = keras_mr.MetaWeightNet.from_config(config)
    assert clone.model.count_params() == inner.count_params()


def test_meta_gradients_come_from_a_named_step():
    x, y = _data(n=16)
    model = keras_mr.MetaWeightNet(_classifier(), meta_loss="ce")
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    step = virtual_and_meta_step(model, x, y, None, x[:8], y[:8])
    assert isinstance(step, MetaStep)
    assert step.losses.shape == (16,) and len(step.meta_grads) == len(
        model.weighting_network.trainable_variables
    )
    meta_loss, grads = model.meta_gradients(x, y, x[:8], y[:8])
    np.testing.assert_allclose(float(meta_loss), float(step.meta_loss), rtol=1e-6)

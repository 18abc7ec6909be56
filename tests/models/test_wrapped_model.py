"""WrappedModel, the base of every keras-mr model that trains a user model: forwarding,
config round trip, the sample-weight unpacking, apply_gradients and update_metrics."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import requires_tf

from keras_mr.models import WrappedModel


class SGDWrapper(WrappedModel):
    """The smallest train_step on the base's hooks: plain weighted SGD."""

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        weight, _ = self.unpack_sample_weight(sample_weight)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x, y, y_pred, sample_weight=weight)
        self.apply_gradients(tape, loss)
        return self.update_metrics(loss, y, y_pred)


def _inner(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def test_the_wrapper_calls_the_inner_model_unchanged():
    inner = _inner()
    wrapper = WrappedModel(inner)
    assert wrapper.model is inner and wrapper.built  # built like the model it wraps
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(wrapper(x)), np.asarray(inner(x)))
    assert wrapper.trainable_variables[0] is inner.trainable_variables[0]


def test_a_non_model_is_refused():
    with pytest.raises(TypeError, match="`model` must be a Keras model"):
        WrappedModel("dense")


def test_config_round_trip_rebuilds_the_inner_model():
    wrapper = WrappedModel(_inner(), name="wrapped")
    clone = WrappedModel.from_config(wrapper.get_config())
    assert clone.name == "wrapped"
    assert [w.shape for w in clone.model.weights] == [w.shape for w in wrapper.model.weights]


def test_sample_weight_unpacking():
    w = np.ones(4, "float32")
    assert WrappedModel.unpack_sample_weight(w) == (w, None)
    weight, index = WrappedModel.unpack_sample_weight({"weight": w, "index": np.arange(4)})
    assert weight is w and index.tolist() == [0, 1, 2, 3]


@requires_tf
def test_one_step_is_plain_sgd_and_the_compiled_metrics_are_updated():
    x = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "float32")
    y = np.array([0, 1])
    plain = _inner(1)
    wrapped = SGDWrapper(_inner(1))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    plain.compile(keras.optimizers.SGD(0.5), loss, metrics=["accuracy"])
    wrapped.compile(keras.optimizers.SGD(0.5), loss, metrics=["accuracy"])
    plain_logs = plain.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False).history
    logs = wrapped.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False).history
    for a, b in zip(plain.get_weights(), wrapped.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)  # the same SGD step as Keras' own
    assert logs["loss"] == pytest.approx(plain_logs["loss"], rel=1e-6)
    assert logs["accuracy"] == plain_logs["accuracy"]

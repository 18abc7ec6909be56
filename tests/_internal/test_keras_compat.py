"""Keras internals keras-mr relies on (``keras_mr/_internal/keras_compat.py``).

Each test pins down what one compat function needs from Keras, so that a Keras
release that renames or changes it fails here, by name, rather than silently
changing what keras-mr computes.  tox runs them on the oldest supported Keras
(``keras-min``) and the newest.
"""

import gc
import os

import keras
import numpy as np
import pytest

from keras_mr._internal import keras_compat


class _ScaledSquaredError(keras.losses.Loss):
    """A custom loss with its own state and no ``get_config``: not rebuildable from config."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


LOSSES = [
    keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
    keras.losses.MeanSquaredError(reduction="sum"),
    keras.losses.CategoricalHinge(),
    _ScaledSquaredError(3.0),
]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: type(loss).__name__)
def test_unreduced_loss_copy_keeps_everything_but_the_reduction(loss):
    reduction = loss.reduction
    copy = keras_compat.unreduced_loss_copy(loss)

    assert type(copy) is type(loss) and copy is not loss
    assert copy.reduction is None
    assert loss.reduction == reduction  # the original is unchanged
    assert {**copy.get_config(), "reduction": reduction} == loss.get_config()
    assert copy.dtype == loss.dtype

    rng = np.random.default_rng(0)
    y_true = (rng.random((6, 4)) > 0.5).astype("float32")
    y_pred = rng.normal(size=(6, 4)).astype("float32")
    per_example = keras.ops.convert_to_numpy(copy(y_true, y_pred))
    assert per_example.shape == (6,)  # Loss.__call__ reads `reduction` from the instance
    reduced = float(keras.ops.convert_to_numpy(loss(y_true, y_pred)))
    expected = per_example.sum() if reduction == "sum" else per_example.mean()
    np.testing.assert_allclose(reduced, expected, rtol=1e-5)


def _two_output_model():
    inputs = keras.Input((3,))
    first = keras.layers.Dense(1, name="first")(inputs)
    second = keras.layers.Dense(2, name="second")(inputs)
    return keras.Model(inputs, {"first": first, "second": second})


def test_compiled_loss_weights_reads_what_compile_was_given():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    assert keras_compat.compiled_loss_weights(model) is None  # not compiled
    model.compile(loss="mse")
    assert keras_compat.compiled_loss_weights(model) is None  # no loss_weights
    model.compile(loss="mse", loss_weights=0.25)
    # Where Keras keeps them: a rename here silently dropped `loss_weights` before.
    assert model._compile_loss._user_loss_weights == 0.25
    assert keras_compat.compiled_loss_weights(model) == 0.25

    model = _two_output_model()
    weights = {"first": 2.0, "second": 0.5}
    model.compile(loss={"first": "mse", "second": "mae"}, loss_weights=weights)
    assert model._compile_loss._user_loss_weights == weights
    assert keras_compat.compiled_loss_weights(model) == weights
    model.compile(loss=["mse", "mae"], loss_weights=[2.0, 0.5])
    assert list(keras_compat.compiled_loss_weights(model)) == [2.0, 0.5]


def test_compiled_loss_weights_fails_loudly_when_keras_moves_them():
    class CompileLossWithoutWeights:
        pass

    class ModelOfANewKeras:
        _compile_loss = CompileLossWithoutWeights()

    with pytest.raises(RuntimeError, match="_user_loss_weights"):
        keras_compat.compiled_loss_weights(ModelOfANewKeras())


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)

    def call(self, x):
        return self.dense(x)


def test_set_tracked_attribute_adds_a_layer_to_a_built_model():
    model = _Subclassed()
    model(np.zeros((2, 3), "float32"))
    # What the function relies on: a built subclassed model locks its tracker ...
    assert model._tracker.locked
    with pytest.raises(ValueError, match="already built"):
        model.plain_extra = keras.layers.Dense(2)
    extra = keras.layers.Dense(2)
    extra.build((None, 3))

    keras_compat.set_tracked_attribute(model, "extra", extra)

    assert model.extra is extra
    assert model._tracker.locked  # ... and is locked again afterwards
    tracked = {id(v) for v in model.weights}
    assert all(id(v) in tracked for v in extra.weights)  # saved with the model


def test_set_tracked_attribute_on_an_open_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    extra = keras.layers.Dense(2)
    extra.build((None, 3))
    keras_compat.set_tracked_attribute(model, "extra", extra)
    assert model.extra is extra


def test_sync_jax_state_is_a_no_op_on_other_backends():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    if keras.backend.backend() != "jax":
        assert not hasattr(model, "jax_state_sync")
    keras_compat.sync_jax_state(model)  # nothing to do before fit on any backend


def test_the_jax_trainer_still_has_jax_state_sync():
    pytest.importorskip("jax")
    # keras.src only here, in a test: the method is not exported anywhere public.
    from keras.src.backend.jax.trainer import JAXTrainer

    assert callable(JAXTrainer.jax_state_sync)


@pytest.mark.skipif(
    os.environ.get("KERAS_BACKEND", "tensorflow") != "jax", reason="the JAX trainer's state"
)
def test_sync_jax_state_writes_the_trainers_values_back_mid_epoch():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
    kernel = model.layers[0].kernel
    initial = keras.ops.convert_to_numpy(kernel.value).copy()
    seen = []

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            # The JAX trainer keeps the new values to itself during the epoch, until
            # the sync writes them into the model's variables.
            keras_compat.sync_jax_state(self.model)
            seen.append(keras.ops.convert_to_numpy(kernel.value).copy())

    x, y = np.ones((8, 3), "float32"), np.full((8, 1), 5.0, "float32")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[Probe()])

    assert len(seen) == 2
    assert not np.array_equal(seen[0], initial)  # one SGD step after the first batch
    assert not np.array_equal(seen[1], seen[0])
    np.testing.assert_array_equal(seen[1], keras.ops.convert_to_numpy(kernel.value))


def test_model_side_state_is_one_dict_per_model_freed_with_it():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    attributes = set(vars(model))

    state = keras_compat.model_side_state(model)
    state["recorder"] = "value"

    assert keras_compat.model_side_state(model) is state
    assert "recorder" not in keras_compat.model_side_state(other)
    assert set(vars(model)) == attributes  # nothing set on the model itself

    count = len(keras_compat._SIDE_STATE)
    del model, state
    gc.collect()
    assert len(keras_compat._SIDE_STATE) == count - 1

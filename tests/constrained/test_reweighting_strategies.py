"""ConstrainedReweightingModel: strategy objects, their config, compiled metrics."""

import keras
import numpy as np
import pytest

import keras_mr
from keras_mr.constrained import CICWMixup
from keras_mr.constrained import ClassReweighting
from keras_mr.constrained import InstanceReweighting
from keras_mr.constrained import NoMixing

pytestmark = pytest.mark.tf_only


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32")


def _strategies(model):
    config = model.get_config()
    return {key: config[key] for key in ("instance", "classes", "mixing")}


def _train(**kwargs):
    x, y = _data()
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)]
    )
    model = keras_mr.ConstrainedReweightingModel(base, seed=0, **kwargs)
    model.compile(keras.optimizers.SGD(0.1), keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    return model, [w.numpy() for w in base.weights]


def test_strings_name_the_objects_with_default_settings():
    by_name, w_name = _train(instance="hellinger", classes="l1", mixing="cicw")
    objects, w_obj = _train(
        instance=InstanceReweighting("hellinger"),
        classes=ClassReweighting("l1"),
        mixing=CICWMixup(),
    )
    for a, b in zip(w_name, w_obj):
        np.testing.assert_array_equal(a, b)
    assert _strategies(by_name) == _strategies(objects)
    assert isinstance(by_name.mixing, CICWMixup) and by_name.classes.budget == 0.4


def test_unknown_keywords_are_rejected():
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="tempreature"):
        keras_mr.ConstrainedReweightingModel(base, tempreature=1.0)
    # the settings belong to the strategy objects, not to the model
    with pytest.raises(ValueError, match="temperature"):
        keras_mr.ConstrainedReweightingModel(base, instance=InstanceReweighting(), temperature=2.0)
    # keras.Model's own keywords still pass through
    assert keras_mr.ConstrainedReweightingModel(base, name="crm", trainable=False).name == "crm"


def test_default_mixing_is_the_no_mixing_strategy():
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    default = keras_mr.ConstrainedReweightingModel(base)
    explicit = keras_mr.ConstrainedReweightingModel(base, mixing=NoMixing())
    assert isinstance(default.mixing, NoMixing)
    assert _strategies(default) == _strategies(explicit)
    _, w_default = _train(instance=InstanceReweighting(temperature=0.5), label_smoothing=0.1)
    _, w_explicit = _train(
        instance=InstanceReweighting(temperature=0.5), mixing=NoMixing(), label_smoothing=0.1
    )
    for a, b in zip(w_default, w_explicit):
        np.testing.assert_array_equal(a, b)


def test_functions_return_named_tuples():
    x, y = np.random.rand(4, 3).astype("float32"), np.eye(2, dtype="float32")[[0, 1, 0, 1]]
    q = np.array([0.4, 0.3, 0.2, 0.1], "float32")
    mixed = keras_mr.constrained.cicw_mixup.cicw_mixup(x, y, q, seed=0)
    assert mixed._fields == ("x", "y", "partners", "ratios")
    weighted = keras_mr.constrained.mixup.mr_mixup(x, y, q, seed=0)
    assert weighted._fields == ("x", "y", "sample_weight")
    np.testing.assert_allclose(float(np.sum(weighted.sample_weight)), 4.0, rtol=1e-5)
    ciw = InstanceReweighting(temperature=1.0).weights(keras.ops.convert_to_tensor(q), None, 0)
    np.testing.assert_allclose(float(np.sum(ciw.weights)), 4.0, rtol=1e-5)
    assert float(ciw.global_loss) == pytest.approx(float(np.sum(ciw.weights * q) / 4), rel=1e-5)


def test_compiled_metrics_are_reported_in_fit_and_evaluate():
    x, y = _data(n=64, seed=1)
    keras.utils.set_random_seed(0)
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(
        base, instance=InstanceReweighting(temperature=1.0)
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "ciw_temperature"}
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    expected = keras.metrics.SparseCategoricalAccuracy()
    expected.update_state(y, model.predict(x, verbose=0))
    assert float(result["accuracy"]) == pytest.approx(float(expected.result()), abs=1e-6)
    assert set(result) == {"loss", "accuracy"}

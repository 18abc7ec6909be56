"""Adversarial models: compiled metrics, the threat-model object, the step template."""

import re

import keras
import numpy as np
import pytest

import keras_mr
from keras_mr.adversarial import ThreatModel

pytestmark = pytest.mark.tf_only


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0.5).astype("int32")


def _inner():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(2)])


MAKERS = {
    "pgd": lambda inner, **kw: keras_mr.PGDAdversarialModel(inner, steps=2, **kw),
    "free": lambda inner, **kw: keras_mr.FreeAdversarialModel(inner, batch_size=16, replays=2,
                                                              **kw),
    "trades": lambda inner, **kw: keras_mr.TRADESModel(inner, steps=2, step_size=0.01, **kw),
}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_compiled_metrics_are_reported(kind):
    x, y = _data()
    model = MAKERS[kind](_inner(), threat_model=ThreatModel(0.05), seed=0)
    model.compile("adam", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert {"loss", "accuracy", "natural_accuracy", "adversarial_accuracy"} <= set(history.history)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(result) == {"loss", "accuracy", "natural_loss", "natural_accuracy"}
    expected = keras.metrics.SparseCategoricalAccuracy()
    expected.update_state(y, model.predict(x, verbose=0))
    assert float(result["accuracy"]) == pytest.approx(float(expected.result()), abs=1e-6)
    assert float(result["accuracy"]) == pytest.approx(float(result["natural_accuracy"]), abs=1e-6)


def test_fit_accuracy_is_measured_on_the_inputs_the_step_trained_on():
    x, y = _data()
    model = MAKERS["pgd"](_inner(), threat_model=ThreatModel(0.3), seed=0)
    model.compile("adam", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["accuracy"], history.history["adversarial_accuracy"],
                               atol=1e-6)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_threat_model_is_saved_as_a_nested_object(kind):
    threat = ThreatModel(0.1, norm=2, clip_min=None, clip_max=None)
    model = MAKERS[kind](_inner(), threat_model=threat, seed=0)
    assert model.threat_model is threat
    assert (model.eps, model.norm, model.clip_min, model.clip_max) == (0.1, 2, None, None)
    config = model.get_config()
    assert not {"eps", "norm", "clip_min", "clip_max"} & set(config)
    assert config["threat_model"]["registered_name"] == "keras_mr>ThreatModel"
    assert config["threat_model"]["config"] == threat.get_config()
    clone = type(model).from_config(config)
    assert isinstance(clone.threat_model, ThreatModel)
    assert clone.threat_model.get_config() == threat.get_config()


def test_threat_model_default_and_serialization():
    model = keras_mr.PGDAdversarialModel(_inner())
    assert model.threat_model.get_config() == ThreatModel().get_config()
    assert model.eps == pytest.approx(8 / 255) and model.norm == "inf"
    threat = ThreatModel(0.2, norm="l2", clip_min=-1.0, clip_max=1.0)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(threat))
    assert isinstance(restored, ThreatModel)
    assert restored.get_config() == {"eps": 0.2, "norm": 2, "clip_min": -1.0, "clip_max": 1.0}


@pytest.mark.parametrize("removed", ["eps", "norm", "clip_min", "clip_max"])
def test_threat_model_settings_as_keywords_say_how_to_pass_them(removed):
    value = {"eps": 0.2, "norm": 2, "clip_min": None, "clip_max": None}[removed]
    hint = f"threat_model=keras_mr.adversarial.ThreatModel({removed}={value!r})"
    with pytest.raises(TypeError, match=re.escape(hint)):
        keras_mr.PGDAdversarialModel(_inner(), **{removed: value})


def test_threat_model_must_be_a_threat_model_object():
    hint = "threat_model=keras_mr.adversarial.ThreatModel(eps=0.1)"
    with pytest.raises(TypeError, match=re.escape(hint)):
        keras_mr.PGDAdversarialModel(_inner(), 0.1)
    with pytest.raises(TypeError, match="`threat_model` must be a"):
        keras_mr.TRADESModel(_inner(), threat_model={"eps": 0.1})


class NoiseTraining(keras_mr.adversarial.AdversarialModel):
    """A new method needs only the two hooks: train on uniformly perturbed inputs."""

    def attack_batch(self, x, y):
        return self.generate_adversarial(x, y, steps=0)  # the random start

    def per_example_objective(self, x, y, attacked):
        logits = self._logits(attacked, training=True)
        per = keras_mr.adversarial.losses.per_example_cross_entropy(y, logits)
        return per, None, logits


def test_a_new_method_needs_only_the_two_hooks():
    x, y = _data()
    model = NoiseTraining(_inner(), threat_model=ThreatModel(0.05), seed=0)
    model.compile("adam", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all() and "accuracy" in history.history


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_natural_metrics_off_trains_identically_and_drops_only_the_natural_logs(kind):
    x, y = _data()
    runs = {}
    for natural in (True, False):
        model = MAKERS[kind](_inner(), threat_model=ThreatModel(0.05), seed=0,
                             natural_metrics=natural)
        model.compile(keras.optimizers.SGD(0.1))
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
        runs[natural] = (history.history, model.get_weights(), model)
    (on, w_on, _), (off, w_off, model) = runs[True], runs[False]
    # the clean-input forward only fed the metrics: training is the same
    for a, b in zip(w_on, w_off):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert set(on) - set(off) == {"natural_loss", "natural_accuracy"}
    np.testing.assert_allclose(on["adversarial_loss"], off["adversarial_loss"], rtol=1e-6)
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss"}
    clone = type(model).from_config(model.get_config())
    assert clone.natural_metrics is False

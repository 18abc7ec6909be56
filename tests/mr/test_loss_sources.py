"""MR's loss sources: string shorthands, objects, and a user-defined source."""

import keras
import numpy as np
import pytest

import keras_mr
from keras_mr.mr.loss_sources import get_loss_source

pytestmark = pytest.mark.tf_only


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = rng.integers(0, 3, size=n)
    return x, y


def _model(dropout=0.0):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
         keras.layers.Dropout(dropout), keras.layers.Dense(3)]
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_strings_resolve_to_source_objects():
    assert isinstance(get_loss_source("eval"), keras_mr.mr.LossPass)
    assert isinstance(get_loss_source("train"), keras_mr.mr.RecordedLosses)
    source = get_loss_source("eval", eval_training_mode=True)
    assert source.training is True and source.needs_eval_data and not source.records_losses
    assert get_loss_source("train").records_losses


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(loss_source="online"), ValueError, "loss_source"),
        (dict(loss_source="train", per_example_loss_fn=lambda m, x, y: y), ValueError,
         "per_example_loss_fn"),
        (dict(loss_source=keras_mr.mr.LossPass(), eval_training_mode=True), ValueError,
         "LossPass object"),
        (dict(eta_shedule=lambda e: 0.1), TypeError, "eta_shedule"),
        (dict(per_example_loss_fn=3), TypeError, "per_example_loss_fn"),
    ],
)
def test_bad_loss_source_arguments_name_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        keras_mr.MRSampleWeighter(**kwargs)


def test_loss_pass_object_equals_the_keyword_shorthand():
    x, y = _data()
    weights = []
    for kwargs in (dict(eval_training_mode=True),
                   dict(loss_source=keras_mr.mr.LossPass(training=True))):
        weighter = keras_mr.MRSampleWeighter(eta=1.0, verbose=0, **kwargs)
        ds = weighter.attach(x, y, batch_size=16, seed=1)
        keras.utils.set_random_seed(3)
        _model(dropout=0.5).fit(ds, epochs=1, shuffle=False, verbose=0, callbacks=[weighter])
        weights.append(weighter.example_weights())
        assert weighter.get_config()["eval_training_mode"] is True
    np.testing.assert_allclose(weights[0], weights[1], rtol=1e-6)


class FixedLosses(keras_mr.mr.LossSource):
    """A user-defined source: losses known in advance (e.g. from another model)."""

    name = "fixed"

    def __init__(self, losses):
        self.losses = np.asarray(losses, dtype=np.float64)

    def collect(self, model, dataset, num_examples, verbose=False):
        return self.losses, np.ones(len(self.losses), dtype=bool)


def test_a_user_defined_source_drives_the_mw_update():
    x, y = _data(n=32)
    losses = np.linspace(0.0, 3.0, 32)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, loss_source=FixedLosses(losses), verbose=0)
    ds = weighter.attach(x, y, batch_size=8, seed=0)
    _model().fit(ds, epochs=2, shuffle=False, verbose=0, callbacks=[weighter])
    expected = np.exp(-0.5 * 2 * losses)  # two updates, same losses: p ~ exp(-eta * 2 l)
    np.testing.assert_allclose(weighter.example_weights(), expected / expected.sum(), rtol=1e-5)
    assert weighter.loss_source == "fixed"

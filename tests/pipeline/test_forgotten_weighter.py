"""A dataset from attach() trained without its weighter says so (issue 26): the weights
would stay uniform and the weighter learn nothing, silently."""

import warnings

import keras
import numpy as np
import pytest

import keras_mr

MESSAGE = "was not running in fit()"


def _fit(pipeline, with_weighter, epochs=3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype("float32")
    y = rng.integers(0, 3, 200)
    weighter = keras_mr.MRSampleWeighter(verbose=0)
    ds = weighter.attach(x, y, batch_size=20, pipeline=pipeline)
    model = keras.Sequential([keras.layers.Dense(3)])  # unbuilt: fit reads a batch first
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    callbacks = [weighter] if with_weighter else []
    model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks)
    return weighter


@pytest.mark.tf_only
def test_tf_data_pipeline_without_its_weighter_prints_the_fix_once(capfd):
    pytest.importorskip("tensorflow")
    weighter = _fit("tf.data", with_weighter=False)
    err = capfd.readouterr().err
    assert err.count(MESSAGE) == 1 and "callbacks=[weighter]" in err
    assert weighter.num_updates == 0


@pytest.mark.tf_only
def test_tf_data_pipeline_with_its_weighter_says_nothing(capfd):
    pytest.importorskip("tensorflow")
    weighter = _fit("tf.data", with_weighter=True)
    assert MESSAGE not in capfd.readouterr().err
    assert weighter.num_updates == 3


def test_array_pipeline_without_its_weighter_warns():
    with pytest.warns(RuntimeWarning, match="callbacks=\\[weighter\\]"):
        _fit("pydataset", with_weighter=False)


def test_array_pipeline_with_its_weighter_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _fit("pydataset", with_weighter=True).num_updates == 3

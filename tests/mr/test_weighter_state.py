"""The weighter's state saved with the model (``keras_mr.mr.weighter_state``).

Restored by ``load_weights``, continued across ``fit`` calls or started afresh
(``resume``), one state per weighter name on a model.

Regression tests (issue "Core v2"): each names the bug it guards against and failed on
the old pipeline (complex-packed weights, monkeypatched ``compute_loss``,
``prefetch(AUTOTUNE)``).
"""

import warnings

import numpy as np
import pytest
from small_classifier import noisy_features as _data
from small_classifier import small_classifier as _model

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only


# --------------------------------------------------- load_weights (bug 4)
def _train_and_save(tmp_path, epochs=3):
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    model = _model()
    model.fit(weighter.attach(x, y, batch_size=16), epochs=epochs, verbose=0, shuffle=False,
              callbacks=[weighter])
    path = str(tmp_path / "ckpt.weights.h5")
    model.save_weights(path)
    return x, y, weighter, model, path


def test_load_weights_without_the_state_raises_instead_of_restarting(tmp_path):
    x, y, _, _, path = _train_and_save(tmp_path)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, y, batch_size=16)
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.load_weights(path)
    with pytest.raises(ValueError, match=r"set_model\(model\)` before `model.load_weights"):
        model.fit(ds, epochs=5, initial_epoch=3, verbose=0, shuffle=False, callbacks=[weighter])


def test_load_weights_after_set_model_continues_the_history(tmp_path):
    x, y, old, _, path = _train_and_save(tmp_path)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, y, batch_size=16)
    model = _model()
    weighter.set_model(model)
    model.load_weights(path)
    np.testing.assert_array_equal(weighter.weights, old.weights)
    assert weighter.num_updates == 3
    model.fit(ds, epochs=5, initial_epoch=3, verbose=0, shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 5


def test_resume_false_starts_afresh_at_a_later_epoch(tmp_path):
    x, y, _, model, _ = _train_and_save(tmp_path)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, resume=False)
    model.fit(weighter.attach(x, y, batch_size=16), epochs=4, initial_epoch=3, verbose=0,
              shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 1


def test_new_weighter_on_a_trained_model_must_choose(tmp_path):
    x, y, old, model, _ = _train_and_save(tmp_path)
    fresh = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = fresh.attach(x, y, batch_size=16)
    with pytest.raises(ValueError, match="resume=True"):
        model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[fresh])
    inherit = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, resume=True)
    ds = inherit.attach(x, y, batch_size=16)
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[inherit])
    assert inherit.num_updates == 4
    reset = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, resume=False)
    ds = reset.attach(x, y, batch_size=16)
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[reset])
    assert reset.num_updates == 1


def test_same_weighter_continues_across_fit_calls():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, y, batch_size=16)
    model = _model()
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    model.fit(ds, epochs=4, initial_epoch=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 4


def test_two_weighters_with_the_same_name_on_one_model():
    x, y = _data()
    a, b = keras_mr.MRSampleWeighter(), keras_mr.RandomSampleWeighter(name="mr_sample_weighter")
    ds = a.attach(x, y, batch_size=16)
    b.attach(x, y, batch_size=16)
    with pytest.raises(ValueError, match="different `name=`|another weighter"):
        _model().fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[a, b])

"""``keras_mr.LossRecordingModel``: a plain model asked for training losses gets the recipe.

Regression tests (issue "Core v2"): each names the bug it guards against and failed on
the old pipeline (complex-packed weights, monkeypatched ``compute_loss``,
``prefetch(AUTOTUNE)``).
"""

import pytest
from small_classifier import noisy_features as _data
from small_classifier import small_classifier as _model

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only


def test_plain_model_with_training_losses_gets_the_wrapper_recipe():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(loss_source="train")
    with pytest.raises(TypeError, match="LossRecordingModel"):
        _model().fit(weighter.attach(x, y, batch_size=16), epochs=1, verbose=0, shuffle=False,
                     callbacks=[weighter])

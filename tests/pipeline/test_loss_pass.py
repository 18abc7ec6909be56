"""MR's loss pass (``keras_mr.pipeline.loss_pass``): its progress follows ``fit``'s verbosity.

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


# ------------------------------------------------------------------ progress
@pytest.mark.parametrize("fit_verbose, shown", [(0, False), (1, True)])
def test_loss_pass_progress_follows_fit_verbosity(capsys, fit_verbose, shown):
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)  # verbose="auto"
    _model().fit(weighter.attach(x, y, batch_size=16), epochs=1, verbose=fit_verbose,
                 shuffle=False, callbacks=[weighter])
    out = capsys.readouterr().out
    assert ("MR loss pass" in out) == shown
    assert ("MRSampleWeighter update 1: entropy=" in out) == shown

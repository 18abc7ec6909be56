"""The collapse warning of ``keras_mr.mr.weight_stats`` names the effective sample size.

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


def test_huge_eta_warns_with_the_effective_sample_size():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1e6)
    with pytest.warns(RuntimeWarning, match=r"effective sample size 1\.0"):
        _model().fit(weighter.attach(x, y, batch_size=16), epochs=1, verbose=0, shuffle=False,
                     callbacks=[weighter])

"""Step arithmetic of ``keras_mr.mr.fit_checks``: updates count steps, not executions.

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


# ------------------------------------------- steps_per_execution (bug 5)
@pytest.mark.parametrize("record", [False, True], ids=["eval", "train"])
def test_per_epoch_updates_with_steps_per_execution(record):
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, loss_source="train" if record else "eval")
    model = _model(record=record, steps_per_execution=4)
    # 96 / 8 = 12 steps per epoch; used to raise a false "repeat()ed" error.
    model.fit(weighter.attach(x, y, batch_size=8), epochs=3, verbose=0, shuffle=False,
              callbacks=[weighter])
    assert weighter.num_updates == 3


@pytest.mark.parametrize("spe, k", [(1, 5), (4, 4), (4, 6), (4, 9), (5, 10)])
def test_update_every_counts_steps_not_executions(spe, k):
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, update_every=k)
    model = _model(steps_per_execution=spe)
    model.fit(weighter.attach(x, y, batch_size=8), epochs=3, verbose=0, shuffle=False,
              callbacks=[weighter])
    assert weighter.num_updates == (3 * 12) // k


def test_update_every_below_steps_per_execution_is_rejected():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(update_every=2)
    with pytest.raises(ValueError, match="steps_per_execution=5"):
        _model(steps_per_execution=5).fit(
            weighter.attach(x, y, batch_size=8), epochs=1, verbose=0, shuffle=False,
            callbacks=[weighter],
        )


# ------------------------------------------- attach() called twice (issue 26)
def test_fit_on_the_dataset_of_an_earlier_attach_is_refused():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    first = weighter.attach(x, y, batch_size=8)
    weighter.attach(x, y, batch_size=8)  # same size: the step counts agree
    with pytest.raises(ValueError, match="earlier attach\\(\\).*attached 2 times"):
        _model().fit(first, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])


def test_step_mismatch_after_a_second_attach_names_the_likelier_cause():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    first = weighter.attach(x, y, batch_size=8)
    weighter.attach(x, y, batch_size=16)
    with pytest.raises(ValueError, match="repeat\\(\\)ed.*attached 2 times.*latest attach"):
        _model().fit(first, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])


def test_the_latest_attach_trains_normally():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    weighter.attach(x, y, batch_size=16)
    latest = weighter.attach(x, y, batch_size=8)
    _model().fit(latest, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 2

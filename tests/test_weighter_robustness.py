"""Regression tests for MR off the happy path (issue "Core v2").

Each test names the bug it guards against; each failed on the old pipeline
(complex-packed weights, monkeypatched ``compute_loss``, ``prefetch(AUTOTUNE)``).
"""

import warnings

import keras
import numpy as np
import pytest

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only


def _data(n=96, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (np.argmax(x[:, :classes], axis=1)).astype("int32")
    y[rng.choice(n, n // 4, replace=False)] = rng.integers(0, classes, n // 4)
    return x, y


def _model(classes=3, record=False, **compile_kwargs):
    m = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(classes)]
    )
    if record:
        m = keras_mr.LossRecordingModel(m)
    m.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **compile_kwargs,
    )
    return m


# ------------------------------------------------ nested labels (bug 2)
def test_attach_counts_rows_of_nested_labels_not_dict_keys():
    x, y = _data(n=40)
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, {"a": y, "b": y.astype("float32")}, batch_size=8)
    assert weighter.num_examples == 40
    xb, yb, wb = next(iter(ds))
    assert set(yb) == {"a", "b"} and yb["a"].shape == (8,)


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


# ------------------------------------------------ stale weights (bug 6)
def test_batches_drawn_more_than_two_steps_after_an_update_carry_new_weights():
    """attach() ends with prefetch(1): at most 2 batches are looked up ahead."""
    n, b, k = 240, 8, 5
    x = np.arange(n, dtype="float32").reshape(n, 1)  # the feature is the example index
    y = (np.arange(n) % 2).astype("int32")
    seen = []

    class Spy(keras.Sequential):
        def train_step(self, data):
            xb, _, wb = data
            seen.append((xb.numpy()[:, 0].astype(int), wb.numpy()))
            return super().train_step(data)

    weighter = keras_mr.RandomSampleWeighter(seed=0, update_every=k)
    tables = {}

    class Snap(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            tables[len(seen) - 1] = weighter._table.numpy().copy()

    model = Spy([keras.Input((1,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)
    ds = weighter.attach(x, y, batch_size=b, shuffle=True, seed=1)
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter, Snap()])
    assert weighter.num_updates == (2 * n // b) // k
    checked = 0
    for t, (idx, w) in enumerate(seen):
        last_update = max(s for s in range(t) if (s + 1) % k == 0) if t >= k else None
        if last_update is None or t <= last_update + 2:
            continue
        rel = tables[t - 1][idx]
        np.testing.assert_allclose(w, rel * len(rel) / rel.sum(), rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked > len(seen) // 2


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


# ------------------------------------------------------ shuffle order
def test_shuffle_order_is_a_function_of_seed_and_epoch():
    x, y = _data(n=50)

    def orders(seed):
        w = keras_mr.MRSampleWeighter()
        ds = w.attach(np.arange(50, dtype="float32")[:, None], y, batch_size=10, seed=seed)
        out = []
        for epoch in range(2):
            w._key.assign([seed, epoch])
            out.append(np.concatenate([xb.numpy()[:, 0] for xb, _, _ in ds]).astype(int))
        return out

    a, b = orders(3), orders(3)
    assert [np.array_equal(u, v) for u, v in zip(a, b)] == [True, True]
    assert sorted(a[0]) == list(range(50)) and not np.array_equal(a[0], a[1])
    assert not np.array_equal(orders(4)[0], a[0])


def test_attached_dataset_shuffle_is_a_function_of_seed_and_epoch():
    y = np.zeros(40, "int32")
    base = keras_mr.indexed_dataset(np.arange(40, dtype="float32")[:, None], y)

    def order(seed, epoch):
        w = keras_mr.MRSampleWeighter()
        ds = w.attach(base, batch_size=8, seed=seed)
        w._key.assign([seed, epoch])
        return np.concatenate([xb.numpy()[:, 0] for xb, _, _ in ds]).astype(int)

    assert np.array_equal(order(1, 0), order(1, 0))
    assert sorted(order(1, 0)) == list(range(40))
    assert not np.array_equal(order(1, 0), order(1, 1))
    assert not np.array_equal(order(1, 0), order(2, 0))


# ------------------------------------------------------------ class_weight
def test_class_weight_multiplies_the_normalised_weight():
    x, y = _data(n=48)
    weighter = keras_mr.MRSampleWeighter()
    cw = {0: 1.0, 1: 2.0, 2: 0.5}
    ds = weighter.attach(x, y, batch_size=12, shuffle=False, class_weight=cw)
    _, yb, wb = next(iter(ds))
    np.testing.assert_allclose(wb.numpy(), [cw[int(c)] for c in yb.numpy()], rtol=1e-6)
    with pytest.raises(ValueError, match="keys 0..C-1"):
        weighter.attach(x, y, batch_size=12, class_weight={1: 2.0})


# --------------------------------------------------------------- bad input
def _attach(*args, weighter=None, **kwargs):
    return (weighter or keras_mr.MRSampleWeighter()).attach(*args, **kwargs)


def test_empty_arrays():
    with pytest.raises(ValueError, match="empty"):
        _attach(np.zeros((0, 5), "float32"), np.zeros(0, "int32"), batch_size=4)


def test_string_labels():
    with pytest.raises(TypeError, match="np.unique"):
        _attach(np.zeros((4, 5), "float32"), np.array(["a", "b", "a", "b"]), batch_size=2)
    with pytest.raises(TypeError, match="np.unique"):
        _attach(np.zeros((4, 5), "float32"), np.array(["a", 1, "a", 2], dtype=object),
                batch_size=2)


def test_nan_or_inf_in_x_is_reported_at_attach():
    x, y = _data(n=20)
    x[7, 2] = np.nan
    x[11, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or inf in 2 examples.*\[7, 11\]"):
        _attach(x, y, batch_size=4)


def test_max_weight_below_one_over_n():
    x, y = _data(n=20)
    with pytest.raises(ValueError, match=r"max_weight=0.01.*1/N"):
        _attach(x, y, batch_size=4, weighter=keras_mr.MRSampleWeighter(max_weight=0.01))


def test_pydataset_and_generators_are_rejected_with_a_recipe():
    class Seq(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((2, 5)), np.zeros(2)

    for bad in (Seq(), (i for i in range(3))):
        with pytest.raises(TypeError, match="indexed tf.data.Dataset"):
            _attach(bad, batch_size=2)


def test_two_weighters_with_the_same_name_on_one_model():
    x, y = _data()
    a, b = keras_mr.MRSampleWeighter(), keras_mr.RandomSampleWeighter(name="mr_sample_weighter")
    ds = a.attach(x, y, batch_size=16)
    b.attach(x, y, batch_size=16)
    with pytest.raises(ValueError, match="different `name=`|another weighter"):
        _model().fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[a, b])


def test_huge_eta_warns_with_the_effective_sample_size():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1e6)
    with pytest.warns(RuntimeWarning, match=r"effective sample size 1\.0"):
        _model().fit(weighter.attach(x, y, batch_size=16), epochs=1, verbose=0, shuffle=False,
                     callbacks=[weighter])


def test_plain_model_with_training_losses_gets_the_wrapper_recipe():
    x, y = _data()
    weighter = keras_mr.MRSampleWeighter(loss_source="train")
    with pytest.raises(TypeError, match="LossRecordingModel"):
        _model().fit(weighter.attach(x, y, batch_size=16), epochs=1, verbose=0, shuffle=False,
                     callbacks=[weighter])


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

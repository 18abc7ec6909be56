"""End-to-end and glue tests of MRSampleWeighter / RandomSampleWeighter."""

import keras
import numpy as np
import pytest
from conftest import make_blobs
from small_classifier import attach_with_default_weighter as _attach
from small_classifier import noisy_features as _data

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only

N_CLASSES = 4


def _noisy_blobs(n=1200, rate=0.4, seed=0, n_test=0):
    x_all, y_all = make_blobs(n=n + n_test, n_classes=N_CLASSES, dim=8, sep=1.0, seed=seed)
    x, y = x_all[:n], y_all[:n]
    rng = np.random.default_rng(seed + 1)
    noisy = np.zeros(n, bool)
    noisy[rng.choice(n, int(rate * n), replace=False)] = True
    y_noisy = y.copy()
    y_noisy[noisy] = (y[noisy] + rng.integers(1, N_CLASSES, noisy.sum())) % N_CLASSES
    if n_test:
        return x, y, y_noisy, noisy, (x_all[n:], y_all[n:])
    return x, y, y_noisy, noisy


def _model(seed=0, hidden=64, lr=1e-2, record=False):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(N_CLASSES)]
    )
    if record:  # loss_source="train" needs a model that records its training losses
        m = keras_mr.LossRecordingModel(m)
    m.compile(
        keras.optimizers.Adam(lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return m


def _accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


@pytest.mark.slow
@pytest.mark.parametrize("loss_source", ["eval", "train"])
def test_mr_downweights_flipped_labels_and_beats_plain_training(loss_source):
    x, _, y_noisy, noisy, (x_test, y_test) = _noisy_blobs(n_test=2000)

    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, noise_mask=noisy, loss_source=loss_source)
    model = _model(hidden=256, record=loss_source == "train")
    hist = model.fit(weighter.attach(x, y_noisy, batch_size=32, seed=0), epochs=25, verbose=0, shuffle=False, callbacks=[weighter])
    plain = _model(hidden=256)
    plain.fit(x, y_noisy, batch_size=32, epochs=25, verbose=0, shuffle=True)

    p = weighter.weights
    assert p.sum() == pytest.approx(1.0)
    noisy_mass = p[noisy].sum()
    assert noisy_mass < 0.1, noisy_mass  # uniform weights would give 0.4
    assert hist.history["mr_noisy_mass"][-1] == pytest.approx(noisy_mass)
    assert hist.history["mr_noisy_mass"][-1] < hist.history["mr_noisy_mass"][0]
    acc_mr, acc_plain = _accuracy(model, x_test, y_test), _accuracy(plain, x_test, y_test)
    assert acc_mr > acc_plain + 0.02, (acc_mr, acc_plain)


def test_weights_match_hand_computed_update():
    x, _, y_noisy, _ = _noisy_blobs(n=200)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.7)
    model = _model()
    model.fit(weighter.attach(x, y_noisy, batch_size=50), epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    # after the last epoch: p = softmax(-eta * (l_1 + l_2)); recompute l_2 by hand
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    l2 = loss(y_noisy, model(x, training=False)).numpy().astype(np.float64)
    cum = weighter._state.cumulative_loss.numpy()
    np.testing.assert_allclose(weighter._state.last_loss.numpy(), l2, rtol=1e-5, atol=1e-6)
    w = np.exp(-0.7 * (cum - cum.min()))
    # the state is float32 (TPU-safe), so agreement is to float32 precision
    np.testing.assert_allclose(weighter.weights, w / w.sum(), rtol=1e-5)
    assert weighter.num_updates == 2


def test_batches_carry_normalised_current_weights():
    n = 10
    x = np.arange(n, dtype="float32")[:, None]  # the feature is the index
    y = np.zeros(n, "int32")
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, y, batch_size=4, shuffle=True, seed=0)
    p = np.linspace(1.0, 2.0, n)
    p /= p.sum()
    weighter._table.assign((p * n).astype("float32"))
    for xb, _, wb in ds:
        idx = xb.numpy()[:, 0].astype(int)
        expect = p[idx] * len(idx) / p[idx].sum()
        np.testing.assert_allclose(wb.numpy(), expect, rtol=1e-5)
        assert wb.numpy().sum() == pytest.approx(len(idx), rel=1e-5)


def test_weights_used_in_next_epoch_are_the_updated_ones():
    """The lookup sees the new weights in the epoch right after the update."""
    x, _, y_noisy, _ = _noisy_blobs(n=64)
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(weighter._table.numpy().copy())

    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0)
    ds = weighter.attach(x, y_noisy, batch_size=16)
    model = _model()
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter, Spy()])
    np.testing.assert_allclose(seen[0], 1.0)
    after_first = np.exp(weighter._state.log_weights.numpy())  # state after epoch 2
    assert not np.allclose(seen[1], 1.0)
    assert seen[1].sum() == pytest.approx(64, rel=1e-4)
    del after_first


def test_loss_pass_is_order_invariant():
    from keras_mr.pipeline.loss_pass import PerExampleLossPass
    from keras_mr.pipeline.per_example_loss import resolve_per_example_loss

    x, _, y_noisy, _ = _noisy_blobs(n=100)
    model = _model()
    model.build((None, 8))
    fn = resolve_per_example_loss(model)
    pass_ = PerExampleLossPass(model, fn)
    ds = keras_mr.indexed_dataset(x, y_noisy)
    a, seen = pass_(ds.batch(32), 100)
    b, _ = pass_(ds.shuffle(100, seed=1).batch(7), 100)
    assert seen.all()
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_max_weight_caps_weights_in_training():
    x, _, y_noisy, _ = _noisy_blobs(n=300)
    kappa = 2.0 / 300
    weighter = keras_mr.MRSampleWeighter(eta=5.0, max_weight=kappa)
    _model().fit(weighter.attach(x, y_noisy, batch_size=50), epochs=3, verbose=0, shuffle=False, callbacks=[weighter])
    p = weighter.weights
    assert p.max() <= kappa * (1 + 1e-9)
    assert p.max() == pytest.approx(kappa)  # eta=5 concentrates mass: the cap binds
    assert p.sum() == pytest.approx(1.0)


def test_eta_schedule_is_called_per_epoch_and_logged():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta_schedule=lambda epoch: 0.1 * (epoch + 1))
    h = _model().fit(weighter.attach(x, y_noisy, batch_size=50), epochs=3, verbose=0, shuffle=False, callbacks=[weighter])
    np.testing.assert_allclose(h.history["mr_eta"], [0.1, 0.2, 0.3])


def test_update_every_steps():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter(update_every=2)
    _model().fit(weighter.attach(x, y_noisy, batch_size=25), epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 4  # 4 steps per epoch, 8 steps


def test_random_sample_weighter_redraws_and_logs():
    x, _, y_noisy, noisy = _noisy_blobs(n=400)
    weighter = keras_mr.RandomSampleWeighter(seed=0, noise_mask=noisy)
    h = _model().fit(weighter.attach(x, y_noisy, batch_size=50), epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    expect = keras_mr.rectified_gaussian_weights(400, seed=0, update=1)
    np.testing.assert_allclose(weighter.weights, expect, rtol=1e-6, atol=1e-300)  # float32 state
    assert 0.25 < h.history["rw_noisy_mass"][-1] < 0.55


def test_history_and_csv_logger_see_diagnostics(tmp_path):
    x, _, y_noisy, noisy = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter(noise_mask=noisy)
    csv = tmp_path / "log.csv"
    _model().fit(
        weighter.attach(x, y_noisy, batch_size=50),
        epochs=2,
        verbose=0,
        shuffle=False,
        callbacks=[weighter, keras.callbacks.CSVLogger(str(csv))],
    )
    header = csv.read_text().splitlines()[0].split(",")
    for key in ["mr_entropy", "mr_ess", "mr_weight_min", "mr_weight_max", "mr_noisy_mass", "mr_eta"]:
        assert key in header


# ---------------------------------------------------------------- resume
def _run(tmp_path, epochs, callbacks_order, interrupt_at=None, backup=True):
    x, _, y_noisy, _ = _noisy_blobs(n=200)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, y_noisy, batch_size=50, seed=0, shuffle=False)
    model = _model()
    cbs = {"mr": weighter}
    if backup:
        cbs["backup"] = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if interrupt_at is not None and epoch == interrupt_at:
                raise RuntimeError("interrupted")

    callbacks = [cbs[k] for k in callbacks_order if k in cbs] + [Interrupt()]
    try:
        model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks)
    except RuntimeError:
        return None, None
    return weighter.weights, model.get_weights()


@pytest.mark.parametrize("order", [("mr", "backup"), ("backup", "mr")])
def test_resume_with_backup_and_restore_is_exact(tmp_path, order):
    ref_p, ref_w = _run(tmp_path / "ref", 4, order, backup=False)
    assert _run(tmp_path / "run", 4, order, interrupt_at=2) == (None, None)
    p, w = _run(tmp_path / "run", 4, order)  # fresh objects, resumes at epoch 2
    np.testing.assert_allclose(p, ref_p, rtol=1e-6)
    for a, b in zip(w, ref_w):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_state_round_trips_with_save_weights(tmp_path):
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    model = _model()
    model.fit(weighter.attach(x, y_noisy, batch_size=50), epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    path = str(tmp_path / "m.weights.h5")
    model.save_weights(path)
    w2 = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    w2.attach(x, y_noisy, batch_size=50)
    model2 = _model(seed=1)
    w2.set_model(model2)
    model2.load_weights(path)
    np.testing.assert_allclose(w2.weights, weighter.weights, rtol=1e-12)
    assert w2.num_updates == 2


def test_config_round_trip():
    w = keras_mr.MRSampleWeighter(eta=0.3, max_weight=0.1, history_mode="accumulate", update_every=5)
    w2 = keras_mr.MRSampleWeighter.from_config(w.get_config())
    assert w2.get_config() == w.get_config()
    r = keras_mr.RandomSampleWeighter(seed=4)
    assert keras_mr.RandomSampleWeighter.from_config(r.get_config()).seed == 4


# ---------------------------------------------------------------- misuse
def test_cache_after_attach_is_detected():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, y_noisy, batch_size=50).cache()
    with pytest.raises(ValueError, match="cached after attach"):
        _model().fit(ds, epochs=3, verbose=0, shuffle=False, callbacks=[weighter])


def test_repeat_after_attach_is_detected():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, y_noisy, batch_size=10).repeat()
    with pytest.raises(ValueError, match="repeat"):
        _model().fit(ds, epochs=3, steps_per_epoch=10, verbose=0, shuffle=False, callbacks=[weighter])


def test_fit_without_attach():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    with pytest.raises(ValueError, match="attach"):
        _model().fit(x, y_noisy, epochs=1, verbose=0, callbacks=[keras_mr.MRSampleWeighter()])


def test_dataset_without_indices():
    ds = tf.data.Dataset.from_tensor_slices((np.zeros((4, 2)), np.zeros(4)))
    with pytest.raises(ValueError, match="indexed_dataset"):
        keras_mr.MRSampleWeighter().attach(ds, batch_size=2)


def test_batched_dataset_needs_eval_data():
    ds = keras_mr.indexed_dataset(np.zeros((4, 2)), np.zeros(4)).batch(2)
    with pytest.raises(ValueError, match="eval_data"):
        keras_mr.MRSampleWeighter().attach(ds)


def test_eval_data_size_mismatch():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter()
    train = keras_mr.indexed_dataset(x, y_noisy).batch(20)
    eval_ds = keras_mr.indexed_dataset(x[:60], y_noisy[:60])
    ds = weighter.attach(train, eval_data=eval_ds, num_examples=100)
    with pytest.raises(ValueError, match="60 of 100"):
        _model().fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])


def test_labels_out_of_range():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    y_bad = y_noisy.copy()
    y_bad[3] = N_CLASSES + 2
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, y_bad, batch_size=100)
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 4\).*\[0, 6\]"):
        _model().fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])


def test_labels_out_of_range_in_a_dataset_are_caught_by_the_loss_pass():
    from keras_mr.pipeline.loss_pass import PerExampleLossPass
    from keras_mr.pipeline.per_example_loss import resolve_per_example_loss

    x, _, y_noisy, _ = _noisy_blobs(n=40)
    y_bad = y_noisy.copy()
    y_bad[-1] = -1
    model = _model()
    loss_pass = PerExampleLossPass(model, resolve_per_example_loss(model))
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 4\)"):
        loss_pass(keras_mr.indexed_dataset(x, y_bad).batch(16), 40)


def test_nan_losses_raise():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter(per_example_loss_fn=lambda m, xb, yb: tf.fill(tf.shape(yb), np.nan))
    ds = weighter.attach(x, y_noisy, batch_size=50)
    with pytest.raises(ValueError, match="non-finite"):
        _model().fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eta": 0.0}, "eta"),
        ({"eta": -1}, "eta"),
        ({"update_every": 0}, "update_every"),
        ({"loss_source": "test"}, "loss_source"),
        ({"history_mode": "x"}, "history_mode"),
        ({"max_weight": -0.1}, "max_weight"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        keras_mr.MRSampleWeighter(**kwargs)


def test_eta_schedule_returning_nonpositive():
    x, _, y_noisy, _ = _noisy_blobs(n=100)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta_schedule=lambda e: 0.0)
    with pytest.raises(ValueError, match="eta_schedule"):
        _model().fit(weighter.attach(x, y_noisy, batch_size=50), epochs=1, verbose=0, shuffle=False, callbacks=[weighter])


def test_fit_step_uses_weight_sum_normalised_gradient():
    """Each SGD step equals -lr * sum_B(p_i g_i) / sum_B(p_i) (Algorithm 1)."""
    rng = np.random.default_rng(0)
    n, d, b, lr = 8, 3, 4, 0.1
    x = rng.normal(size=(n, d)).astype("float32")
    y = rng.normal(size=(n, 1)).astype("float32")
    p = rng.random(n) * np.array([1, 1, 1, 1, 5, 5, 5, 5])  # batches with different sums
    p /= p.sum()
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, y, batch_size=b, shuffle=False)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(keras.optimizers.SGD(lr), "mse")
    w = model.get_weights()[0].astype(np.float64)

    class SetWeights(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            weighter._table.assign((p * n).astype("float32"))  # after the weighter's sync

    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter, SetWeights()])
    for batch in (slice(0, b), slice(b, n)):
        xb, yb, pb = x[batch].astype(np.float64), y[batch], p[batch]
        grad = (pb[:, None] * 2 * (xb @ w - yb) * xb).sum(0) / pb.sum()  # d(xw-y)^2/dw
        w = w - lr * grad[:, None]
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-4)


def test_augment_applies_to_training_batches_only_and_cache_is_before_lookup():
    x, _, y_noisy, _ = _noisy_blobs(n=64)
    seen_train = []
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0)
    ds = weighter.attach(x, y_noisy, batch_size=16, augment=lambda xb: xb * 0.0, cache=True)
    for xb, _, _ in ds:
        seen_train.append(float(np.abs(xb.numpy()).sum()))
    assert seen_train == [0.0] * 4  # augmented
    eval_x = np.concatenate([b[0].numpy() for b in weighter._eval_dataset])
    np.testing.assert_allclose(eval_x, x)  # loss pass: unshuffled, un-augmented
    model = _model()
    model.fit(ds, epochs=3, verbose=0, shuffle=False, callbacks=[weighter])  # cache before lookup: no error
    assert weighter.num_updates == 3


def test_unbatched_indexed_dataset_and_batched_with_eval_data_agree():
    x, _, y_noisy, _ = _noisy_blobs(n=96)
    results = []
    for mode in ["unbatched", "batched"]:
        weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0)
        base = keras_mr.indexed_dataset(x, y_noisy)
        if mode == "unbatched":
            ds = weighter.attach(base, batch_size=32, shuffle=False)
        else:
            ds = weighter.attach(base.batch(32), eval_data=base, num_examples=96)
        _model().fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
        results.append(weighter.weights)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_max_weight_below_one_over_n():
    x, y = _data(n=20)
    with pytest.raises(ValueError, match=r"max_weight=0.01.*1/N"):
        _attach(x, y, batch_size=4, weighter=keras_mr.MRSampleWeighter(max_weight=0.01))


@pytest.mark.parametrize("eta", ["Auto", "fast", True, [0.1]])
def test_eta_that_is_neither_auto_nor_a_number_is_refused(eta):
    with pytest.raises(ValueError, match="`eta` must be"):
        keras_mr.MRSampleWeighter(eta=eta)


def test_nan_labels_are_refused_at_attach():
    x = np.zeros((20, 3), "float32")
    y = np.zeros(20, "float32")
    y[[4, 7]] = np.nan
    with pytest.raises(ValueError, match=r"`y` contains NaN or inf in 2 examples \(first indices: \[4, 7\]\)"):
        keras_mr.MRSampleWeighter().attach(x, y, batch_size=4)

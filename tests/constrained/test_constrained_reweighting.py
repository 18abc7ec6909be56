"""Keras glue: ConstrainedReweightingModel and CIWLoss (TensorFlow backend)."""

import os

import numpy as np
import pytest

pytestmark = [
    pytest.mark.tf_only,
    pytest.mark.skipif(
        os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
        reason="custom train_step uses tf.GradientTape",
    ),
]

import keras

import keras_mr
from keras_mr import ciw
from keras_mr.constrained import CICWMixup
from keras_mr.constrained import ClassReweighting
from keras_mr.constrained import InstanceReweighting


def make_moons(n, seed=0):
    """Two moons with the noise level of the CIW illustration."""
    x, y = keras_mr.datasets.make_moons(n, noise_std=0.15, seed=seed)
    return x, y.astype("int32")


def base_model(seed=0, k=3, d=3):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((d,)), keras.layers.Dense(6, activation="tanh"), keras.layers.Dense(k)]
    )


def small_data(n=12, k=3, d=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = rng.integers(0, k, size=n).astype("int32")
    w = rng.uniform(0.2, 2.0, size=n).astype("float32")
    return x, y, w * n / w.sum()


def one_step(model_kwargs, x, y, w, loss=None, lr=1.0):
    base = base_model()
    model = keras_mr.ConstrainedReweightingModel(base, **model_kwargs)
    loss = loss or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(lr), loss)
    model.fit(x, y, sample_weight=w, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return [v.numpy() for v in base.weights]


def manual_step(x, y, w, weight_fn, lr=1.0):
    import tensorflow as tf

    base = base_model()
    with tf.GradientTape() as tape:
        logits = base(x, training=True)
        per = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        q = weight_fn(per.numpy())
        loss = tf.reduce_sum(q * per)
    grads = tape.gradient(loss, base.trainable_weights)
    return [v.numpy() - lr * g.numpy() for v, g in zip(base.trainable_weights, grads)]


@pytest.mark.parametrize("temperature", [0.3, 2.0])
def test_step_gradient_is_ciw_weighted_sum(temperature):
    x, y, w = small_data()

    def kl_weights(per):
        q = w * np.exp(-per / temperature)  # MR weights as reference
        return (q / q.sum()).astype("float32")

    got = one_step(dict(instance=InstanceReweighting(temperature=temperature)), x, y, w)
    want = manual_step(x, y, w, kl_weights)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_step_gradient_other_divergence():
    x, y, w = small_data(seed=1)

    def chi2_weights(per):
        return np.asarray(ciw.instance_weights(per, 0.5, "chi2", reference=w))

    got = one_step(dict(instance=InstanceReweighting("chi2", temperature=0.5)), x, y, w)
    want = manual_step(x, y, w, chi2_weights)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_zero_weight_example_is_ignored():
    x, y, w = small_data(seed=2)
    w0 = w.copy()
    w0[3] = 0.0
    keep = np.arange(len(x)) != 3
    got = one_step(dict(instance=InstanceReweighting(temperature=0.5)), x, y, w0)
    want = one_step(dict(instance=InstanceReweighting(temperature=0.5)), x[keep], y[keep], w0[keep])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # and the example did matter with a positive weight
    other = one_step(dict(instance=InstanceReweighting(temperature=0.5)), x, y, w)
    assert max(np.abs(a - b).max() for a, b in zip(got, other)) > 1e-4


def test_no_instance_weighting_is_weighted_mean():
    x, y, w = small_data(seed=3)
    got = one_step(dict(instance=None), x, y, w)
    want = manual_step(x, y, w, lambda per: (w / w.sum()).astype("float32"))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_burn_in_equals_plain_training():
    x, y, w = small_data(n=24, seed=4)
    # pipeline convention: each batch of 8 sums to 8
    w = (w.reshape(3, 8) * 8 / w.reshape(3, 8).sum(1, keepdims=True)).reshape(-1)

    def run(kwargs):
        base = base_model()
        model = keras_mr.ConstrainedReweightingModel(base, **kwargs)
        model.compile(keras.optimizers.SGD(0.5), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, sample_weight=w, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return [v.numpy() for v in base.weights]

    burn = run(dict(instance=InstanceReweighting(temperature=0.1, burn_in_steps=3)))
    plain = run(dict(instance=None))
    ciw_now = run(dict(instance=InstanceReweighting(temperature=0.1)))
    for a, b in zip(burn, plain):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert max(np.abs(a - b).max() for a, b in zip(ciw_now, plain)) > 1e-4


def test_class_reweighting_uses_closed_form_targets():
    import tensorflow as tf

    from keras_mr import cicw

    x, y, w = small_data(seed=5)
    got = one_step(
        dict(instance=None, classes=ClassReweighting("l1", budget=1.0)),
        x, y, w, loss=keras.losses.CategoricalCrossentropy(from_logits=True),
    )
    base = base_model()
    with tf.GradientTape() as tape:
        logits = base(x, training=True)
        v = cicw.class_weights(
            cicw.crossentropy_class_losses(logits, True), np.eye(3)[y], "l1", budget=1.0
        )
        per = keras.losses.categorical_crossentropy(v, logits, from_logits=True)
        loss = tf.reduce_mean(w * per)
    grads = tape.gradient(loss, base.trainable_weights)
    for a, v0, g in zip(got, base.trainable_weights, grads):
        np.testing.assert_allclose(a, v0.numpy() - g.numpy(), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(mixing=CICWMixup(), classes=ClassReweighting("kl")),
        dict(mixing=CICWMixup("sampling")),
        dict(instance=None, mixing="uniform"),
        dict(instance=None, label_smoothing=0.1),
        dict(
            instance=InstanceReweighting(final_temperature=0.2, decay_steps=2, burn_in_steps=2),
            classes=ClassReweighting("l2"),
        ),
    ],
)
def test_fit_runs_with_every_option(kwargs):
    x, y = make_moons(64)
    w = np.ones(64, "float32")
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(base, seed=0, **kwargs)
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.CategoricalCrossentropy(from_logits=True),
        metrics=["categorical_accuracy"],
    )
    hist = model.fit(x, y, sample_weight=w, batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))
    assert "categorical_accuracy" in hist.history
    res = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(res) == {"loss", "categorical_accuracy"}


def test_temperature_is_logged_and_decays():
    x, y = make_moons(64)
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(
        base,
        instance=InstanceReweighting(
            temperature=1.0, final_temperature=0.25, decay_rate=0.5, decay_steps=4
        ),
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hist = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    temps = hist.history["ciw_temperature"]
    # epoch means over steps 0-3, 4-7, 8-11 of 0.5 ** (t / 4), floored at 0.25
    expected = [np.mean([max(0.25, 0.5 ** (t / 4)) for t in range(e * 4, e * 4 + 4)]) for e in range(3)]
    np.testing.assert_allclose(temps, expected, rtol=1e-5)


def test_ciw_loss_value():
    rng = np.random.default_rng(6)
    logits = rng.normal(size=(8, 3)).astype("float32")
    y = rng.integers(0, 3, size=8)
    w = rng.uniform(0.0, 2.0, size=8).astype("float32")
    base = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = keras_mr.CIWLoss(base, temperature=0.7)
    per = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True).numpy()
    q = np.exp(-per / 0.7)
    np.testing.assert_allclose(float(loss(y, logits)), (q / q.sum()) @ per, rtol=1e-5)
    qw = w * q
    np.testing.assert_allclose(float(loss(y, logits, sample_weight=w)), (qw / qw.sum()) @ per, rtol=1e-5)
    clone = keras_mr.CIWLoss.from_config(loss.get_config())
    np.testing.assert_allclose(float(clone(y, logits)), float(loss(y, logits)), rtol=1e-6)


def test_ciw_loss_in_compile_fits():
    x, y = make_moons(64)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(
        "adam",
        keras_mr.CIWLoss("sparse_categorical_crossentropy", temperature=1.0, divergence="hellinger"),
    )
    hist = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(hist.history["loss"]))


def test_save_and_load(tmp_path):
    x, y = make_moons(32)
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(
        base,
        instance=InstanceReweighting("hellinger", temperature=0.7),
        classes=ClassReweighting("l1", budget=0.3),
        mixing=CICWMixup(),
        label_smoothing=0.05,
    )
    model.compile("adam", keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, keras_mr.ConstrainedReweightingModel)
    for key in ("instance", "classes", "mixing"):
        assert type(getattr(loaded, key)) is type(getattr(model, key))
        assert getattr(loaded, key).get_config() == getattr(model, key).get_config()
    assert loaded.instance.divergence == "hellinger" and loaded.instance.temperature == 0.7
    assert loaded.classes.divergence == "l1" and loaded.classes.budget == 0.3
    assert loaded.label_smoothing == model.label_smoothing == 0.05
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_bad_arguments():
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    with pytest.raises(TypeError, match="model"):
        keras_mr.ConstrainedReweightingModel(lambda t: t)
    with pytest.raises(ValueError, match="divergence"):
        keras_mr.ConstrainedReweightingModel(base, instance="tv")
    with pytest.raises(ValueError, match="temperature"):
        keras_mr.ConstrainedReweightingModel(base, instance=InstanceReweighting(temperature=-1.0))
    with pytest.raises(ValueError, match="ClassReweighting's `divergence`"):
        keras_mr.ConstrainedReweightingModel(base, classes="js")
    with pytest.raises(ValueError, match="mixing"):
        keras_mr.ConstrainedReweightingModel(base, mixing="cutmix")
    with pytest.raises(ValueError, match="instance="):
        keras_mr.ConstrainedReweightingModel(base, mixing="cicw", instance=None)
    with pytest.raises(ValueError, match="label_smoothing"):
        keras_mr.ConstrainedReweightingModel(base, label_smoothing=1.0)
    model = keras_mr.ConstrainedReweightingModel(base)
    model.compile("sgd")
    with pytest.raises(ValueError, match="Compile the model with a loss"):
        model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)
    with pytest.raises(ValueError, match="temperature"):
        keras_mr.CIWLoss("mse", temperature=0.0)


@pytest.mark.slow
def test_two_moons_ciw_beats_baseline_with_30pct_flipped_labels():
    """End-to-end: a big MLP memorises 30% flipped labels; CIW resists."""
    n = 200
    x, y = make_moons(n, seed=0)
    xt, yt = make_moons(1000, seed=1)
    flip = np.random.default_rng(0).random(n) < 0.3
    y_noisy = np.where(flip, 1 - y, y).astype("int32")
    batch, steps = 50, 4

    def run(divergence):
        keras.utils.set_random_seed(0)
        base = keras.Sequential(
            [keras.Input((2,)), keras.layers.Dense(128, activation="relu"),
             keras.layers.Dense(128, activation="relu"), keras.layers.Dense(2)]
        )
        model = keras_mr.ConstrainedReweightingModel(
            base,
            instance=None
            if divergence is None
            else InstanceReweighting(divergence, temperature=1.0, burn_in_steps=5 * steps),
        )
        model.compile(
            keras.optimizers.Adam(0.01),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            steps_per_execution=steps,
        )
        hist = model.fit(x, y_noisy, batch_size=batch, epochs=300, verbose=0)
        clean = model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]
        return hist.history["accuracy"][-1], clean

    base_train, base_clean = run(None)
    ciw_train, ciw_clean = run("kl")
    assert base_train > 0.75  # the baseline fits (part of) the flipped labels
    assert ciw_train < base_train  # CIW does not
    assert ciw_clean > base_clean + 0.03, (base_clean, ciw_clean)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(instance=InstanceReweighting(temperature=1.0)),  # MR + CIW
        dict(instance=None, mixing="uniform"),  # MR + mixup
        dict(instance=None, label_smoothing=0.1),  # MR + label smoothing
    ],
)
def test_with_mr_sample_weighter(kwargs):
    x, y = make_moons(64)
    y1 = np.eye(2, dtype="float32")[y]
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(base, seed=0, **kwargs)
    model.compile(keras.optimizers.Adam(0.01), keras.losses.CategoricalCrossentropy(from_logits=True))
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, y1, batch_size=16, shuffle=True, seed=0)
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert np.all(np.isfinite(hist.history["loss"]))
    p = np.asarray(weighter.weights)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    assert p.std() > 0  # MR moved away from uniform using the wrapped model's losses


@pytest.mark.tf_only
def test_mr_train_losses_are_the_wrapped_steps_losses():
    """With loss_source="train" MR's losses are those of the CIW step itself."""
    x, y = make_moons(48)
    y1 = np.eye(2, dtype="float32")[y]
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(
        base, seed=0, instance=InstanceReweighting(temperature=1.0)
    )
    model.compile(keras.optimizers.SGD(0.0), keras.losses.CategoricalCrossentropy(from_logits=True))
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, loss_source="train")
    ds = weighter.attach(x, y1, batch_size=16, shuffle=True, seed=0)
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])
    # lr = 0: the training-step losses equal the losses of the fixed model
    expect = keras.losses.CategoricalCrossentropy(from_logits=True, reduction=None)(
        y1, base(x, training=False)
    )
    np.testing.assert_allclose(weighter._state.last_loss.numpy(), np.asarray(expect), rtol=1e-5)


@pytest.mark.tf_only
def test_mr_train_losses_with_uniform_mixup_raise_a_clear_error():
    x, y = make_moons(32)
    y1 = np.eye(2, dtype="float32")[y]
    base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model = keras_mr.ConstrainedReweightingModel(base, seed=0, instance=None, mixing="uniform")
    model.compile(keras.optimizers.Adam(0.01), keras.losses.CategoricalCrossentropy(from_logits=True))
    weighter = keras_mr.MRSampleWeighter(loss_source="train")
    with pytest.raises(ValueError, match="recorded no training loss"):
        model.fit(weighter.attach(x, y1, batch_size=16), epochs=1, verbose=0, shuffle=False, callbacks=[weighter])

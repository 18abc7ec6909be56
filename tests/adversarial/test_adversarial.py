"""Adversarial-training models: PGD-AT, Free AT, TRADES (TF backend)."""

import keras
import numpy as np
import pytest
from conftest import make_blobs
from conftest import requires_tf

import keras_mr
from keras_mr.adversarial import ThreatModel
from keras_mr.adversarial import attacks
from keras_mr.adversarial.base import per_example_cross_entropy
from keras_mr.adversarial.trades import kl_divergence_from_logits
from keras_mr.adversarial.trades import trades_per_example_loss

pytestmark = [pytest.mark.tf_only, requires_tf]

DIM = 4


def _inner(dim=DIM, classes=3, hidden=8):
    return keras.Sequential([
        keras.Input((dim,)),
        keras.layers.Dense(hidden, activation="tanh"),
        keras.layers.Dense(classes),
    ])


def _data(n=16, dim=DIM, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, dim)).astype("float32")
    y = rng.integers(0, classes, size=n).astype("int32")
    return x, y


def _make(kind, inner=None, **kw):
    inner = inner or _inner()
    kw.setdefault("threat_model", ThreatModel(0.1))
    if kind == "pgd":
        kw.setdefault("steps", 3)
        return keras_mr.PGDAdversarialModel(inner, **kw)
    if kind == "free":
        kw.setdefault("batch_size", 8)
        kw.setdefault("replays", 2)
        return keras_mr.FreeAdversarialModel(inner, **kw)
    kw.setdefault("steps", 3)
    kw.setdefault("step_size", 0.03)
    return keras_mr.TRADESModel(inner, **kw)


def _np(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


# ----------------------------------------------------------- pure losses
def test_trades_loss_hand_computed_pure():
    y = np.array([0, 1])
    ln = np.array([[2.0, 0.0], [0.5, 0.5]], "float32")
    la = np.array([[0.0, 0.0], [1.0, -1.0]], "float32")
    out = _np(trades_per_example_loss(y, ln, la, beta=2.0))
    # example 0: CE = log(1+e^-2); p=(0.8808, 0.1192), q=(0.5, 0.5)
    p0 = np.array([1, np.exp(-2.0)]) / (1 + np.exp(-2.0))
    kl0 = np.sum(p0 * np.log(p0 / 0.5))
    ce0 = np.log(1 + np.exp(-2.0))
    # example 1: CE = log 2; p=(0.5,0.5), q=softmax(1,-1)
    q1 = np.array([np.exp(1), np.exp(-1)]) / (np.exp(1) + np.exp(-1))
    kl1 = np.sum(0.5 * np.log(0.5 / q1))
    np.testing.assert_allclose(out, [ce0 + 2 * kl0, np.log(2) + 2 * kl1],
                               rtol=1e-5)
    assert abs(kl0 - 0.3278) < 1e-3


def test_kl_zero_on_equal_and_nonnegative():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(10, 5)).astype("float32")
    b = rng.normal(size=(10, 5)).astype("float32")
    np.testing.assert_allclose(_np(kl_divergence_from_logits(a, a)), 0,
                               atol=1e-6)
    assert np.all(_np(kl_divergence_from_logits(a, b)) > 0)


def test_cross_entropy_sparse_and_one_hot_agree():
    logits = np.array([[1.0, 2.0, 0.5]], "float32")
    sparse = _np(per_example_cross_entropy(np.array([1]), logits))
    onehot = _np(per_example_cross_entropy(np.array([[0., 1., 0.]]), logits))
    expected = -np.log(np.exp(2.0) / np.exp(logits).sum())
    np.testing.assert_allclose(sparse, [expected], rtol=1e-6)
    np.testing.assert_allclose(onehot, [expected], rtol=1e-6)


# ------------------------------------------------------------ attacks
@pytest.mark.parametrize("norm", ["inf", 2])
@pytest.mark.parametrize("kind", ["pgd", "trades"])
def test_adversarial_inputs_stay_in_ball_and_range(kind, norm):
    model = _make(kind, threat_model=ThreatModel(0.15, norm=norm), steps=5)
    x, y = _data(32)
    if kind == "pgd":
        x_adv = _np(model.generate_adversarial(x, y))
    else:
        x_adv = _np(model.trades_adversarial(x, model(x)))
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    norms = _np(attacks.perturbation_norm(x_adv, x, norm))
    assert np.all(norms <= 0.15 + 1e-5)
    assert norms.max() > 0.1  # the attack really moved


def test_pgd_attack_increases_loss():
    model = _make("pgd", threat_model=ThreatModel(0.2), steps=5, random_start=False)
    x, y = _data(32)
    clean = _np(model.per_example_loss(x, y, adversarial=False))
    adv = _np(model.per_example_loss(x, y, adversarial=True))
    assert np.all(adv >= clean - 1e-6)
    assert adv.mean() > clean.mean() + 1e-3


@pytest.mark.parametrize("kind", ["pgd", "free", "trades"])
def test_per_example_loss_paths(kind):
    model = _make(kind)
    x, y = _data(5)
    nat = _np(model.per_example_loss(x, y, adversarial=False))
    adv = _np(model.per_example_loss(x, y, adversarial=True))
    assert nat.shape == (5,) and adv.shape == (5,)
    logits = _np(model.model(x))
    np.testing.assert_allclose(
        nat, _np(per_example_cross_entropy(y, logits)), rtol=1e-5)
    assert not np.allclose(nat, adv)
    # default follows mr_loss; mr_per_example_loss is the MR hook
    np.testing.assert_allclose(_np(keras_mr.mr_per_example_loss(model, x, y)),
                               nat, rtol=1e-6)
    model.mr_loss = "adversarial"
    assert _np(model.per_example_loss(x, y)).shape == (5,)


# ------------------------------------------------------ sample weights
def _weights_after_step(model, x, y, w=None):
    model.compile(optimizer=keras.optimizers.SGD(0.5))
    model.train_on_batch(x, y, sample_weight=w)
    return [_np(v) for v in model.model.trainable_variables]


@pytest.mark.parametrize("kind", ["pgd", "free"])
def test_zero_weight_example_is_ignored(kind):
    x, y = _data(2)
    inner_a = _inner()
    inner_b = _inner()
    inner_b.set_weights(inner_a.get_weights())
    kw = {"random_start": False} if kind == "pgd" else {"batch_size": 2}
    before = inner_b.get_weights()
    a = _weights_after_step(_make(kind, inner_a, **kw), x, y,
                            np.array([0.0, 2.0], "float32"))
    b = _weights_after_step(_make(kind, inner_b, **kw), x[1:], y[1:])
    for va, vb, v0 in zip(a, b, before):
        np.testing.assert_allclose(va, vb, atol=1e-6)
    assert any(not np.allclose(vb, v0) for vb, v0 in zip(b, before))


@pytest.mark.parametrize("kind", ["pgd", "trades"])
def test_weights_scale_per_example_gradients(kind):
    """One SGD(lr) step == -lr * (1/B) sum_i w_i grad l_i(x_adv_i)."""
    import tensorflow as tf

    x, y = _data(3)
    delta = np.array([[0.05, -0.05, 0.05, -0.05]] * 3, "float32")
    x_adv = np.clip(x + delta, 0, 1)
    w = np.array([0.5, 2.0, 0.5], "float32")  # sums to B = 3
    model = _make(kind)
    # fix the inner maximisation so the expected gradient is computable
    if kind == "pgd":
        model.generate_adversarial = lambda *a, **k: tf.constant(x_adv)
    else:
        model.trades_adversarial = lambda *a, **k: tf.constant(x_adv)
    before = [_np(v) for v in model.model.trainable_variables]
    expected = [np.zeros_like(v) for v in before]
    for i in range(3):
        with tf.GradientTape() as tape:
            if kind == "pgd":
                li = per_example_cross_entropy(y[i:i + 1],
                                               model.model(x_adv[i:i + 1]))
            else:
                li = trades_per_example_loss(y[i:i + 1],
                                             model.model(x[i:i + 1]),
                                             model.model(x_adv[i:i + 1]),
                                             model.beta)
            li = li[0]
        grads = tape.gradient(li, model.model.trainable_variables)
        for e, g in zip(expected, grads):
            e += w[i] * _np(g) / 3.0
    lr = 0.5
    model.compile(optimizer=keras.optimizers.SGD(lr), run_eagerly=True)
    model.train_on_batch(x, y, sample_weight=w)
    for v, b, e in zip(model.model.trainable_variables, before, expected):
        np.testing.assert_allclose(_np(v), b - lr * e, atol=1e-5)


def test_weights_from_tf_data_triples():
    import tensorflow as tf

    x, y = _data(4)
    inner_a, inner_b = _inner(), _inner()
    inner_b.set_weights(inner_a.get_weights())
    w = np.array([0.0, 4.0, 0.0, 0.0], "float32")
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(4)
    a = _make("pgd", inner_a, random_start=False)
    a.compile(optimizer=keras.optimizers.SGD(0.5))
    a.fit(ds, epochs=1, verbose=0, shuffle=False)
    b = _weights_after_step(_make("pgd", inner_b, random_start=False),
                            x[1:2], y[1:2])
    for va, vb in zip(inner_a.get_weights(), b):
        np.testing.assert_allclose(va, vb, atol=1e-6)


# ------------------------------------------------------------ TRADES model
def test_trades_model_loss_matches_hand_value():
    import tensorflow as tf

    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    W = np.array([[1.0, -1.0], [0.5, 2.0]], "float32")
    bias = np.array([0.1, -0.2], "float32")
    inner.set_weights([W, bias])
    x = np.array([[0.2, 0.4], [0.9, 0.1]], "float32")
    x_adv = np.array([[0.25, 0.35], [0.85, 0.15]], "float32")
    y = np.array([1, 0])
    model = keras_mr.TRADESModel(inner, threat_model=ThreatModel(0.05), beta=6.0)
    model.trades_adversarial = lambda *a, **k: tf.constant(x_adv)
    model.compile(optimizer=keras.optimizers.SGD(0.0))

    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p = softmax(x @ W + bias)
    q = softmax(x_adv @ W + bias)
    ce = -np.log(p[np.arange(2), y])
    kl = np.sum(p * np.log(p / q), axis=1)
    expected = np.mean(ce + 6.0 * kl)
    logs = model.train_on_batch(x, y, return_dict=True)
    np.testing.assert_allclose(logs["loss"], expected, rtol=1e-5)
    # weighted: w normalised to sum to B
    w = np.array([0.5, 1.5], "float32")
    logs = model.train_on_batch(x, y, sample_weight=w, return_dict=True)
    model.reset_metrics()
    logs = model.train_on_batch(x, y, sample_weight=w, return_dict=True)
    np.testing.assert_allclose(logs["loss"], np.mean(w * (ce + 6.0 * kl)),
                               rtol=1e-5)


# -------------------------------------------------------------- Free AT
def test_free_at_perturbation_persists_across_batches():
    inner = _inner()
    model = _make("free", inner, batch_size=4, replays=1, threat_model=ThreatModel(0.1),
                  step_size=0.03)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # params frozen
    x1, y1 = _data(4, seed=1)
    x2, y2 = _data(4, seed=2)
    np.testing.assert_array_equal(_np(model.perturbation), 0)

    def expected_step(delta, x, y):
        x_adv = np.clip(x + delta, 0, 1)
        g = _np(model.input_gradient(x_adv, y))
        return np.clip(delta + 0.03 * np.sign(g), -0.1, 0.1)

    d1 = expected_step(np.zeros((4, DIM), "float32"), x1, y1)
    model.train_on_batch(x1, y1)
    np.testing.assert_allclose(_np(model.perturbation), d1, atol=1e-6)
    d2 = expected_step(d1, x2, y2)
    model.train_on_batch(x2, y2)
    got = _np(model.perturbation)
    np.testing.assert_allclose(got, d2, atol=1e-6)
    # carried over: some coordinates moved twice in the same direction
    assert np.abs(got).max() > 0.05
    # a smaller last batch only uses/updates the first rows
    model.train_on_batch(x1[:2], y1[:2])
    np.testing.assert_allclose(_np(model.perturbation)[2:], got[2:])
    model.reset_perturbation()
    np.testing.assert_array_equal(_np(model.perturbation), 0)


def test_free_at_replays_and_ball():
    model = _make("free", batch_size=8, replays=3, threat_model=ThreatModel(0.05))
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = _data(16)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2 * 3
    d = _np(model.perturbation)
    assert np.abs(d).max() <= 0.05 + 1e-6 and np.abs(d).max() > 0.04


def test_free_at_sizes_perturbation_from_fit_data():
    import tensorflow as tf

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(8, activation="tanh")
            self.out = keras.layers.Dense(3)

        def call(self, x, training=None):
            return self.out(self.hidden(x))

    x, y = _data(16)
    for data in ((x, y), (tf.data.Dataset.from_tensor_slices((x, y))
                          .batch(8),)):
        model = keras_mr.FreeAdversarialModel(Net(), batch_size=8,
                                              threat_model=ThreatModel(0.1))
        assert model.perturbation is None
        model.compile(optimizer="adam")
        kw = {"batch_size": 8} if len(data) == 2 else {"shuffle": False}
        model.fit(*data, epochs=1, verbose=0, **kw)
        assert tuple(model.perturbation.shape) == (8, DIM)
        assert np.abs(_np(model.perturbation)).max() > 0


def test_free_epochs():
    assert keras_mr.free_epochs(200, 4) == 50
    assert keras_mr.free_epochs(10, 4) == 3
    assert keras_mr.free_epochs(1, 8) == 1
    with pytest.raises(ValueError, match="replays"):
        keras_mr.free_epochs(10, 0)


# ------------------------------------------------- fit / logs / options
@pytest.mark.parametrize("kind", ["pgd", "free", "trades"])
def test_fit_logs_metrics_and_jit(kind):
    x, y = _data(16)
    model = _make(kind)
    model.compile(optimizer="adam", jit_compile=True)
    hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    for key in ("loss", "natural_loss", "natural_accuracy",
                "adversarial_loss", "adversarial_accuracy"):
        assert key in hist.history and np.isfinite(hist.history[key]).all()
    ev = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(ev) == {"loss", "natural_loss", "natural_accuracy"}
    logits = _np(model.predict(x, verbose=0))
    acc = np.mean(logits.argmax(1) == y)
    np.testing.assert_allclose(ev["natural_accuracy"], acc, atol=1e-6)


def test_mixed_precision_fit():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        x, y = _data(16)
        for kind in ("pgd", "free", "trades"):
            model = _make(kind)
            assert model.model.layers[0].compute_dtype == "float16"
            model.compile(optimizer="adam")
            assert isinstance(model.optimizer,
                              keras.optimizers.LossScaleOptimizer)
            before = [w.copy() for w in model.model.get_weights()]
            hist = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
            assert np.isfinite(hist.history["loss"]).all()
            assert any(not np.allclose(a, b) for a, b in
                       zip(before, model.model.get_weights()))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_one_hot_labels_fit():
    x, y = _data(16)
    model = _make("pgd")
    model.compile(optimizer="adam")
    hist = model.fit(x, keras.utils.to_categorical(y, 3), batch_size=8,
                     epochs=1, verbose=0)
    assert np.isfinite(hist.history["adversarial_loss"]).all()


@pytest.mark.parametrize("kind", ["pgd", "free", "trades"])
def test_save_load_round_trip(kind, tmp_path):
    x, y = _data(16)
    model = _make(kind, threat_model=ThreatModel(0.2, norm=2), mr_loss="adversarial")
    model.compile(optimizer="adam")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / f"{kind}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model)
    cfg, cfg2 = model.get_config(), loaded.get_config()
    for key in cfg:
        if key != "model":
            assert cfg[key] == cfg2[key], key
    assert loaded.norm == 2 and loaded.mr_loss == "adversarial"
    np.testing.assert_allclose(loaded.predict(x, verbose=0),
                               model.predict(x, verbose=0), atol=1e-6)
    if kind == "free":
        np.testing.assert_allclose(_np(loaded.perturbation),
                                   _np(model.perturbation))
    # loaded model keeps training (compiled from config)
    hist = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


def test_bad_arguments():
    inner = _inner()
    with pytest.raises(ValueError, match="eps"):
        keras_mr.PGDAdversarialModel(inner, threat_model=ThreatModel(eps=-1.0))
    with pytest.raises(ValueError, match="norm"):
        keras_mr.PGDAdversarialModel(inner, threat_model=ThreatModel(norm="l1"))
    with pytest.raises(ValueError, match="mr_loss"):
        keras_mr.PGDAdversarialModel(inner, mr_loss="both")
    with pytest.raises(ValueError, match="clip_min"):
        keras_mr.PGDAdversarialModel(inner, threat_model=ThreatModel(clip_min=1.0, clip_max=0.0))
    with pytest.raises(TypeError, match="model"):
        keras_mr.PGDAdversarialModel("resnet")
    with pytest.raises(ValueError, match="batch_size"):
        keras_mr.FreeAdversarialModel(inner, batch_size=None)
    with pytest.raises(ValueError, match="replays"):
        keras_mr.FreeAdversarialModel(inner, batch_size=8, replays=0)
    with pytest.raises(ValueError, match="beta"):
        keras_mr.TRADESModel(inner, beta=-1)
    with pytest.raises(ValueError, match="loss"):
        keras_mr.PGDAdversarialModel(inner).compile("adam", loss="mse")
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    free = keras_mr.FreeAdversarialModel(unbuilt, batch_size=4)
    assert free.perturbation is None
    with pytest.raises(ValueError, match="input_shape"):
        free.build((None, None))


# ------------------------------------------------------------ MR hookup
def test_with_mr_sample_weighter():
    if not hasattr(keras_mr, "MRSampleWeighter"):
        pytest.skip("keras_mr.MRSampleWeighter not available on this branch")
    x, y = _data(32)
    model = _make("pgd", mr_loss="adversarial")
    model.compile(optimizer="adam")
    weighter = keras_mr.MRSampleWeighter(max_weight=None,
        eta=0.5, per_example_loss_fn=keras_mr.mr_per_example_loss)
    ds = weighter.attach(x, y, batch_size=8, shuffle=True, seed=0)
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    p = np.asarray(weighter.weights)
    assert p.shape == (32,) and abs(p.sum() - 1) < 1e-5
    # adversarially hard examples (highest adversarial loss) get less weight
    losses = _np(model.per_example_loss(x, y, adversarial=True))
    assert np.corrcoef(losses, p)[0, 1] < 0


def test_mr_default_loss_pass_uses_natural_cross_entropy():
    if not hasattr(keras_mr, "MRSampleWeighter"):
        pytest.skip("keras_mr.MRSampleWeighter not available on this branch")
    x, y = _data(16)
    model = _make("free", batch_size=8)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # frozen parameters
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0)  # no per_example_loss_fn
    ds = weighter.attach(x, y, batch_size=8, shuffle=False)
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])
    log_p = np.log(np.asarray(weighter.weights, "float64"))
    natural = _np(model.per_example_loss(x, y, adversarial=False))
    centred = log_p + natural
    np.testing.assert_allclose(centred - centred.mean(), 0, atol=1e-4)


@pytest.mark.parametrize("kind", ["pgd", "trades"])
def test_mr_train_losses_are_the_adversarial_step_losses(kind):
    """loss_source="train": MR gets the step's own adversarial losses."""
    if not hasattr(keras_mr, "MRSampleWeighter"):
        pytest.skip("keras_mr.MRSampleWeighter not available on this branch")
    x, y = _data(16)
    kw = {"random_start": False} if kind == "pgd" else {"init_std": 0.0}
    model = _make(kind, **kw)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # frozen parameters
    eta = 0.5
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=eta, loss_source="train")
    ds = weighter.attach(x, y, batch_size=8, shuffle=True, seed=0)
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])
    log_p = np.log(np.asarray(weighter.weights, "float64"))
    if kind == "pgd":
        losses = _np(model.per_example_loss(x, y, adversarial=True))
    else:  # zero start: x' = x up to sign noise; objective ~ natural CE
        losses = _np(model.per_example_loss(x, y, adversarial=False))
    # p_i = exp(-eta l_i) / Z
    centred = log_p + eta * losses
    assert np.ptp(log_p) > 0.05
    np.testing.assert_allclose(centred - centred.mean(), 0,
                               atol=1e-3 if kind == "pgd" else 0.05)


# ------------------------------------------------------------ end to end
def _robust_feature_data(n, seed):
    """One robust (large, noisy) feature + many small non-robust ones.

    Plain training leans on the non-robust features (they separate the
    classes almost perfectly), which an eps=0.25 L-inf attack flips; the
    robust feature (margin 1, noise 0.35) survives the attack.
    """
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2, size=n)
    sign = 2.0 * s - 1
    robust = sign + rng.normal(scale=0.35, size=n)
    weak = 0.15 * sign[:, None] + rng.normal(scale=0.15, size=(n, 12))
    x = np.concatenate([robust[:, None], weak], 1).astype("float32")
    return x, s.astype("int32")


@pytest.mark.slow
def test_end_to_end_pgd_at_is_more_robust():
    pytest.importorskip("cleverhans")
    x, y = _robust_feature_data(600, 0)
    xt, yt = _robust_feature_data(300, 1)

    def mlp():
        return keras.Sequential([keras.Input((13,)),
                                 keras.layers.Dense(16, activation="relu"),
                                 keras.layers.Dense(2)])

    eps = 0.25
    plain = mlp()
    plain.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(True),
                  metrics=["accuracy"])
    plain.fit(x, y, batch_size=50, epochs=15, verbose=0)
    threat = ThreatModel(eps, clip_min=None, clip_max=None)
    adv = keras_mr.PGDAdversarialModel(mlp(), threat_model=threat, steps=5)
    adv.compile(optimizer=keras.optimizers.Adam(0.01))
    adv.fit(x, y, batch_size=50, epochs=15, verbose=0)
    kw = dict(eps=(eps,), clip_min=None, clip_max=None, pgd_steps=10)
    r_plain = keras_mr.robust_accuracy(plain, xt, yt, **kw)
    r_adv = keras_mr.robust_accuracy(adv, xt, yt, **kw)
    assert r_plain["natural"] > 0.95
    assert r_adv["natural"] > 0.85
    assert r_adv["pgd@0.25"] > r_plain["pgd@0.25"] + 0.3
    assert r_adv["pgd@0.25"] > 0.75


@pytest.mark.slow
def test_end_to_end_blobs_free_and_trades_train():
    x, y = make_blobs(n=200, n_classes=2, dim=2, sep=3.0)
    x = (x - x.min()) / (x.max() - x.min())  # into [0, 1]
    for model in (
        keras_mr.FreeAdversarialModel(_inner(2, 2), batch_size=20,
                                      threat_model=ThreatModel(0.02), replays=2),
        keras_mr.TRADESModel(_inner(2, 2), threat_model=ThreatModel(0.02), steps=3,
                             step_size=0.01),
    ):
        model.compile(optimizer=keras.optimizers.Adam(0.02))
        hist = model.fit(x, y, batch_size=20, epochs=5, verbose=0)
        acc = hist.history["natural_accuracy"]
        # learns (plain training reaches ~0.8 in the same budget)
        assert acc[-1] > 0.7 and acc[-1] > acc[0] + 0.1

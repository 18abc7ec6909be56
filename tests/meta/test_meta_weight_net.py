"""Tests for Meta-Weight-Net (MW-Net / MNW-Net / RMNW-Net) and its meta data."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import make_blobs

from keras_mr.meta import meta_data
from keras_mr.meta.meta_weight_net import MetaWeightNet
from keras_mr.meta.meta_weight_net import build_weighting_network
from keras_mr.meta.meta_weight_net import combine_weights
from keras_mr.meta.meta_weight_net import mae_probability_loss

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUPPORT = os.path.join(os.path.dirname(HERE), "support")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def flip_labels(y, n_classes, rate, seed=0):
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < rate
    shift = rng.integers(1, n_classes, size=len(y))
    return np.where(flip, (y + shift) % n_classes, y).astype("int32"), flip


def make_classifier(dim, n_classes, hidden=16, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((dim,)),
            keras.layers.Dense(hidden, activation="tanh"),
            keras.layers.Dense(n_classes),
        ]
    )


def make_model(dim=3, n_classes=3, meta_loss="mae", lr=0.1, momentum=0.0, seed=0, **kwargs):
    clf = make_classifier(dim, n_classes, seed=seed)
    keras.utils.set_random_seed(seed + 1)
    wnet = build_weighting_network(hidden_units=kwargs.pop("hidden_units", 100))
    model = MetaWeightNet(clf, weighting_network=wnet, meta_loss=meta_loss, **kwargs)
    model.compile(
        optimizer=keras.optimizers.SGD(lr, momentum=momentum),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=kwargs.get("jit_compile", False),
    )
    return model


def auc(scores, positives):
    """Probability that a positive scores higher than a negative (ties 1/2)."""
    from scipy.stats import rankdata

    ranks = rankdata(scores)
    n_pos = positives.sum()
    n_neg = len(positives) - n_pos
    return (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def flat(values):
    return np.concatenate([np.asarray(keras.ops.convert_to_numpy(v)).ravel() for v in values])


# ---------------------------------------------------------------------------
# pure functions
# ---------------------------------------------------------------------------


def test_mae_probability_loss_hand_values():
    probs = np.array([[0.75, 0.25, 0.0], [0.2, 0.3, 0.5]], dtype="float32")
    out = keras.ops.convert_to_numpy(mae_probability_loss(np.array([0, 2]), probs))
    np.testing.assert_allclose(out, [0.5, 1.0], rtol=1e-6)
    onehot = np.eye(3, dtype="float32")[[0, 2]]
    out2 = keras.ops.convert_to_numpy(mae_probability_loss(onehot, probs))
    np.testing.assert_allclose(out2, out, rtol=1e-6)


def test_mae_is_symmetric_loss():
    # sum_c l(c, u) = 2 (K - 1) for every probability vector u (eq. 6).
    rng = np.random.default_rng(0)
    k = 5
    u = rng.dirichlet(np.ones(k), size=7).astype("float32")
    total = sum(
        keras.ops.convert_to_numpy(mae_probability_loss(np.full(7, c), u)) for c in range(k)
    )
    np.testing.assert_allclose(total, 2 * (k - 1), rtol=1e-5)


def test_combine_weights_sum_normalisation():
    v = np.array([0.5, 1.0, 0.5], dtype="float32")
    c = keras.ops.convert_to_numpy(combine_weights(v))
    np.testing.assert_allclose(c, [0.75, 1.5, 0.75], rtol=1e-6)  # sums to B = 3
    # MR weights multiply: m = [2, 0, 1] -> v*m = [1, 0, .5] -> * 3 / 1.5
    m = np.array([2.0, 0.0, 1.0], dtype="float32")
    c = keras.ops.convert_to_numpy(combine_weights(v, m))
    np.testing.assert_allclose(c, [2.0, 0.0, 1.0], rtol=1e-6)
    # no normalisation: the RMNW equations, c = v * m
    c = keras.ops.convert_to_numpy(combine_weights(v, m, normalize="none"))
    np.testing.assert_allclose(c, [1.0, 0.0, 0.5], rtol=1e-6)
    # global normaliser and batch size (tf.distribute)
    c = keras.ops.convert_to_numpy(combine_weights(v, weight_sum=4.0, batch_size=8))
    np.testing.assert_allclose(c, v * 8 / 4.0, rtol=1e-6)


def test_combine_weights_all_zero_batch():
    c = keras.ops.convert_to_numpy(combine_weights(np.zeros(4, "float32")))
    np.testing.assert_array_equal(c, np.zeros(4))
    c = keras.ops.convert_to_numpy(combine_weights(np.ones(4, "float32"), np.zeros(4)))
    assert np.all(np.isfinite(c)) and np.all(c == 0)
    with pytest.raises(ValueError, match="normalize"):
        combine_weights(np.ones(2), normalize="mean")


def test_weighting_network_default_shape_and_range():
    net = build_weighting_network()
    assert [l.units for l in net.layers] == [100, 1]
    out = keras.ops.convert_to_numpy(net(np.linspace(0, 10, 7).reshape(-1, 1)))
    assert out.shape == (7, 1) and np.all((out > 0) & (out < 1))
    with pytest.raises(ValueError, match="hidden_units"):
        build_weighting_network(0)


# ---------------------------------------------------------------------------
# meta data
# ---------------------------------------------------------------------------


def test_balanced_meta_indices_per_class_and_seeded():
    y = np.repeat(np.arange(4), [30, 20, 25, 40])
    idx = meta_data.balanced_meta_indices(y, per_class=7, seed=3)
    assert len(idx) == 28 and len(np.unique(idx)) == 28
    np.testing.assert_array_equal(np.bincount(y[idx]), [7, 7, 7, 7])
    np.testing.assert_array_equal(idx, meta_data.balanced_meta_indices(y, per_class=7, seed=3))
    assert not np.array_equal(idx, meta_data.balanced_meta_indices(y, per_class=7, seed=4))
    idx2 = meta_data.balanced_meta_indices(np.eye(4)[y], size=40, seed=0)  # one-hot, size
    np.testing.assert_array_equal(np.bincount(y[idx2]), [10, 10, 10, 10])
    with pytest.raises(ValueError, match="Class 1 has only 20"):
        meta_data.balanced_meta_indices(y, per_class=21)
    with pytest.raises(ValueError, match="exactly one"):
        meta_data.balanced_meta_indices(y)


def test_split_meta_set_hold_out_option():
    x = np.arange(60, dtype="float32").reshape(30, 2)
    y = np.tile(np.arange(3), 10)
    held = meta_data.split_meta_set(x, y, per_class=2, seed=0)
    assert len(held.x_meta) == 6 and len(held.x_train) == 24
    assert not set(held.meta_indices) & set(held.train_indices)
    np.testing.assert_array_equal(held.x_meta, x[held.meta_indices])
    np.testing.assert_array_equal(held.y_train, y[held.train_indices])
    kept = meta_data.split_meta_set(x, y, per_class=2, seed=0, hold_out=False)
    assert len(kept.x_train) == 30
    assert set(kept.meta_indices) <= set(kept.train_indices)
    np.testing.assert_array_equal(kept.meta_indices, held.meta_indices)


def test_meta_dataset_repeats_forever_and_zip_structure():
    import tensorflow as tf

    xm = np.arange(10, dtype="float32").reshape(5, 2)
    ym = np.arange(5, dtype="int32")
    meta = meta_data.meta_dataset(xm, ym, batch_size=4, seed=0)
    assert meta.cardinality().numpy() == tf.data.INFINITE_CARDINALITY
    batches = list(meta.take(5).as_numpy_iterator())  # 20 > 5 examples: repeats
    assert all(b[0].shape == (4, 2) for b in batches)
    seen = np.concatenate([b[1] for b in batches])
    assert np.array_equal(np.sort(seen[:5]), ym)  # first pass is a permutation
    train = tf.data.Dataset.from_tensor_slices(
        (np.zeros((7, 2), "float32"), np.zeros(7, "int32"), np.ones(7, "float32"))
    ).batch(3)
    ds = meta_data.with_meta_batches(train, meta)
    assert ds.cardinality().numpy() == 3
    inputs, y, w = next(iter(ds))
    assert set(inputs) == {"x", "meta_x", "meta_y"}
    assert inputs["meta_x"].shape == (4, 2) and w.shape == (3,)
    with pytest.raises(TypeError, match="meta_dataset"):
        meta_data.with_meta_batches(train, (xm, ym))
    with pytest.raises(ValueError, match="y_meta"):
        meta_data.meta_dataset(xm)


# ---------------------------------------------------------------------------
# meta-gradient correctness
# ---------------------------------------------------------------------------


@pytest.mark.tf_only
@pytest.mark.parametrize("meta_loss", ["mae", "ce"])
def test_meta_gradient_matches_finite_differences(meta_loss):
    import tensorflow as tf

    keras.backend.set_floatx("float64")
    try:
        x, y = make_blobs(n=12, n_classes=3, dim=3, seed=1)
        x = x.astype("float64")
        xm, ym = make_blobs(n=6, n_classes=3, dim=3, seed=2)
        xm = xm.astype("float64")
        sw = np.linspace(0.5, 1.5, 12)
        model = make_model(meta_loss=meta_loss, lr=0.5, hidden_units=8)
        meta_loss_value, grads = model.meta_gradients(x, y, xm, ym, sample_weight=sw)
        analytic = flat(grads)

        clf, wnet = model.model, model.weighting_network
        ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

        def objective():
            # Independent forward evaluation of L_meta(w_hat(Theta)).
            with tf.GradientTape() as tape:
                losses = ce(y, clf(x, training=True))
                v = tf.reshape(wnet(tf.reshape(tf.stop_gradient(losses), (-1, 1))), (-1,)) * sw
                train = tf.reduce_sum(v * losses) / tf.reduce_sum(v)
            g = tape.gradient(train, clf.trainable_variables)
            w_hat = [w - 0.5 * gi for w, gi in zip(clf.trainable_variables, g)]
            pred, _ = clf.stateless_call(w_hat, [], xm, training=True)
            if meta_loss == "ce":
                return float(tf.reduce_mean(ce(ym, pred)))
            return float(tf.reduce_mean(mae_probability_loss(ym, tf.nn.softmax(pred))))

        assert abs(objective() - float(meta_loss_value)) < 1e-10
        eps = 1e-6
        numeric = []
        for var in wnet.trainable_variables:
            base = var.numpy().copy()
            grad = np.zeros_like(base).ravel()
            for k in range(base.size):
                for sign in (1, -1):
                    pert = base.copy().ravel()
                    pert[k] += sign * eps
                    var.assign(pert.reshape(base.shape))
                    grad[k] += sign * objective() / (2 * eps)
                var.assign(base)
            numeric.append(grad)
        numeric = np.concatenate(numeric)
        assert np.linalg.norm(numeric) > 1e-6  # the check is not vacuous
        np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-9)
    finally:
        keras.backend.set_floatx("float32")


@pytest.mark.tf_only
def test_mae_noisy_meta_gradient_has_clean_direction_in_expectation():
    # Theorem 1: under uniform noise with rate eta on the meta labels,
    # E[noisy meta-gradient] = (1 - eta) * clean meta-gradient for MAE, because
    # sum_c grad l(c, .) = 0.  Checked exactly by enumerating the noise:
    # E = (1 - eta) g(y) + eta / K * sum_c g(all meta labels = c).
    # Cross-entropy does not have the property.
    k, eta = 3, 0.4
    x, y = make_blobs(n=16, n_classes=k, dim=3, seed=3)
    xm, ym = make_blobs(n=9, n_classes=k, dim=3, seed=4)
    results = {}
    for meta_loss in ("mae", "ce"):
        model = make_model(meta_loss=meta_loss, lr=0.5, hidden_units=8)
        clean = flat(model.meta_gradients(x, y, xm, ym)[1])
        per_class = sum(
            flat(model.meta_gradients(x, y, xm, np.full(len(ym), c, "int32"))[1])
            for c in range(k)
        )
        expected = (1 - eta) * clean + eta / k * per_class
        results[meta_loss] = (clean, per_class, expected)

    def rel_err(a, b):
        return np.linalg.norm(a - b) / np.linalg.norm(b)

    clean, per_class, expected = results["mae"]
    assert np.linalg.norm(per_class) < 1e-5 * np.linalg.norm(clean)
    np.testing.assert_allclose(expected, (1 - eta) * clean, rtol=1e-4, atol=1e-9)
    # Cross-entropy: the noise adds a bias, E != (1 - eta) * clean.
    clean_ce, per_class_ce, expected_ce = results["ce"]
    assert np.linalg.norm(per_class_ce) > 0.05 * np.linalg.norm(clean_ce)
    assert rel_err(expected_ce, (1 - eta) * clean_ce) > 0.1

    # Monte Carlo over actual noisy label draws agrees with the enumeration.
    model = make_model(meta_loss="mae", lr=0.5, hidden_units=8)
    rng = np.random.default_rng(0)
    draws = []
    for _ in range(60):
        noisy = np.where(rng.random(len(ym)) < eta, rng.integers(0, k, len(ym)), ym)
        draws.append(flat(model.meta_gradients(x, y, xm, noisy.astype("int32"))[1]))
    assert rel_err(np.mean(draws, axis=0), (1 - eta) * clean) < 0.15


# ---------------------------------------------------------------------------
# train_step
# ---------------------------------------------------------------------------


def _batch(x, y, xm, ym, w=None):
    inputs = {"x": x, "meta_x": xm, "meta_y": ym}
    return (inputs, y) if w is None else (inputs, y, w)


def _state(model):
    return flat(model.model.trainable_variables), flat(
        model.weighting_network.trainable_variables
    )


@pytest.mark.tf_only
@pytest.mark.parametrize("normalize", ["sum", "none"])
def test_real_step_uses_updated_weights_times_mr_weights(normalize):
    # Step 3: w_{t+1} = w_t - lr * grad sum_i v_i m_i l_i / sum_i v_i m_i
    # ("sum"; "none": / B instead), with v from the *updated* weighting
    # network and l at w_t.
    import tensorflow as tf

    x, y = make_blobs(n=10, n_classes=3, dim=3, seed=5)
    xm, ym = make_blobs(n=6, n_classes=3, dim=3, seed=6)
    m = np.array([2, 0, 1, 1, 3, 0.5, 1, 1, 0, 1], dtype="float32")
    model = make_model(lr=0.3, normalize=normalize)
    w0 = [v.numpy().copy() for v in model.model.trainable_variables]
    model.train_step(_batch(x, y, xm, ym, m))
    clf, wnet = model.model, model.weighting_network
    for var, val in zip(clf.trainable_variables, w0):
        var.assign(val)  # back to w_t, keep Theta_{t+1}
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    with tf.GradientTape() as tape:
        losses = ce(y, clf(x))
        v = tf.reshape(wnet(tf.reshape(tf.stop_gradient(losses), (-1, 1))), (-1,)) * m
        norm = tf.reduce_sum(v) if normalize == "sum" else float(len(y))
        loss = tf.reduce_sum(v * losses) / norm
    grads = tape.gradient(loss, clf.trainable_variables)
    expected = flat([w - 0.3 * g for w, g in zip(w0, grads)])
    model2 = make_model(lr=0.3, normalize=normalize)
    model2.train_step(_batch(x, y, xm, ym, m))
    np.testing.assert_allclose(flat(model2.model.trainable_variables), expected,
                               rtol=1e-5, atol=1e-6)
    assert not np.allclose(expected, flat(w0))


@pytest.mark.tf_only
def test_zero_mr_weight_ignores_example_and_zero_batch_is_no_update():
    x, y = make_blobs(n=8, n_classes=3, dim=3, seed=7)
    xm, ym = make_blobs(n=6, n_classes=3, dim=3, seed=8)
    w = np.ones(8, "float32")
    w[3] = 0.0
    a = make_model(lr=0.2)
    a.train_step(_batch(x, y, xm, ym, w * 8 / 7))
    keep = np.arange(8) != 3
    b = make_model(lr=0.2)
    b.train_step(_batch(x[keep], y[keep], xm, ym, np.ones(7, "float32")))
    for sa, sb in zip(_state(a), _state(b)):
        np.testing.assert_allclose(sa, sb, rtol=1e-5, atol=1e-7)
    # changing the zero-weight example's label changes nothing
    c = make_model(lr=0.2)
    y2 = y.copy()
    y2[3] = (y2[3] + 1) % 3
    c.train_step(_batch(x, y2, xm, ym, w))
    np.testing.assert_allclose(_state(c)[0], _state(a)[0], rtol=1e-5, atol=1e-7)

    z = make_model(lr=0.2)
    before = _state(z)[0]
    logs = z.train_step(_batch(x, y, xm, ym, np.zeros(8, "float32")))
    np.testing.assert_array_equal(_state(z)[0], before)
    assert all(np.isfinite(float(v)) for v in logs.values())


@pytest.mark.tf_only
def test_missing_meta_batch_and_bad_arguments():
    model = make_model()
    x, y = make_blobs(n=8, n_classes=3, dim=3)
    with pytest.raises(ValueError, match="with_meta_batches"):
        model.fit(x, y, epochs=1, verbose=0)
    clf = make_classifier(3, 3)
    with pytest.raises(ValueError, match="meta_loss"):
        MetaWeightNet(clf, meta_loss="hinge")
    with pytest.raises(ValueError, match="normalize"):
        MetaWeightNet(clf, normalize="l1")
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        MetaWeightNet("not a model")
    unbuilt = keras.Sequential([keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="built"):
        MetaWeightNet(unbuilt)


def _noisy_blobs_fit(meta_loss, clean_meta, epochs=12, seed=0, n=600):
    import tensorflow as tf

    x, y = make_blobs(n=n, n_classes=3, dim=4, sep=2.0, seed=seed)
    y_noisy, flipped = flip_labels(y, 3, 0.4, seed=seed)
    split = meta_data.split_meta_set(x, y_noisy, per_class=20, seed=seed)
    y_meta = y[split.meta_indices] if clean_meta else split.y_meta
    model = make_model(dim=4, meta_loss=meta_loss, lr=0.1, momentum=0.9, seed=seed)
    train = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
    train = train.shuffle(len(split.y_train), seed=seed).batch(50)
    ds = meta_data.with_meta_batches(
        train, meta_data.meta_dataset(split.x_meta, y_meta, batch_size=60, seed=seed)
    )
    history = model.fit(ds, epochs=epochs, verbose=0, shuffle=False)
    return model, split, flipped[split.train_indices], history


@pytest.mark.tf_only
@pytest.mark.slow
def test_clean_meta_learns_decreasing_weights_and_downweights_flipped():
    model, split, flipped, history = _noisy_blobs_fit("ce", clean_meta=True)
    weights = model.example_weights(split.x_train, split.y_train)
    assert weights.shape == (len(split.y_train),)
    assert weights[flipped].mean() < 0.8 * weights[~flipped].mean()
    assert auc(weights, ~flipped) > 0.8
    # the learned weighting function decreases over the observed loss range
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
    losses = keras.ops.convert_to_numpy(ce(split.y_train, model.predict(split.x_train, verbose=0)))
    grid = np.linspace(np.quantile(losses, 0.05), np.quantile(losses, 0.95), 20)
    w_grid = model.weight_function(grid)
    assert w_grid[0] > w_grid[-1] + 0.05
    assert np.all(np.diff(w_grid) < 0)  # strictly decreasing on the grid
    assert np.all(np.isfinite(history.history["meta_loss"]))


@pytest.mark.tf_only
@pytest.mark.slow
def test_rmnw_beats_plain_training_on_noisy_blobs():
    # 40% flipped labels, an over-parameterised MLP that memorises the noise
    # when trained plainly; RMNW-Net (noisy meta set, MAE meta loss) resists.
    import tensorflow as tf

    seed, n, dim, epochs = 0, 400, 10, 30
    x_all, y_all = make_blobs(n=2 * n, n_classes=3, dim=dim, sep=1.0, seed=seed)
    x, y, x_test, y_test = x_all[:n], y_all[:n], x_all[n:], y_all[n:]
    y_noisy, flipped = flip_labels(y, 3, 0.4, seed=seed)
    split = meta_data.split_meta_set(x, y_noisy, per_class=20, seed=seed)
    flipped = flipped[split.train_indices]
    train = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
    train = train.shuffle(n, seed=seed).batch(32)

    def mlp():
        keras.utils.set_random_seed(seed)
        return keras.Sequential([
            keras.Input((dim,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(3),
        ])

    def compile_args():
        return dict(
            optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )

    plain = mlp()
    plain.compile(**compile_args())
    plain.fit(train, epochs=epochs, verbose=0, shuffle=False)
    model = MetaWeightNet(mlp(), meta_loss="mae")
    model.compile(**compile_args())
    meta = meta_data.meta_dataset(split.x_meta, split.y_meta, batch_size=60, seed=seed)
    model.fit(meta_data.with_meta_batches(train, meta), epochs=epochs, verbose=0, shuffle=False)
    acc_rmnw = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    acc_plain = plain.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    weights = model.example_weights(split.x_train, split.y_train)
    assert acc_rmnw > acc_plain + 0.05, (acc_rmnw, acc_plain)
    assert auc(weights, ~flipped) > 0.75


@pytest.mark.tf_only
def test_jit_compile_matches_graph_mode():
    import tensorflow as tf

    x, y = make_blobs(n=40, n_classes=3, dim=3, seed=9)
    xm, ym = make_blobs(n=10, n_classes=3, dim=3, seed=10)
    states = []
    for jit in (False, True):
        model = make_model(lr=0.1, momentum=0.9)
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        train = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
        ds = meta_data.with_meta_batches(train, meta_data.meta_dataset(xm, ym, 5, shuffle=False))
        model.fit(ds, epochs=2, verbose=0, shuffle=False)
        states.append(_state(model))
    for a, b in zip(*states):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.tf_only
@pytest.mark.parametrize("loss_source", ["eval", "train"])
def test_with_mr_sample_weighter_end_to_end(loss_source):
    # Also covers a classifier with batch norm, dropout and softmax outputs
    # (stateless_call with non-trainable state, from_logits=False).
    import keras_mr

    x, y = make_blobs(n=120, n_classes=3, dim=3, seed=11)
    y_noisy, _ = flip_labels(y, 3, 0.3, seed=11)
    split = meta_data.split_meta_set(x, y_noisy, per_class=5, seed=0)
    clf = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(16),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(3, activation="softmax"),
    ])
    model = MetaWeightNet(clf, meta_loss="mae")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, loss_source=loss_source)
    train = weighter.attach(split.x_train, split.y_train, batch_size=20, seed=0)
    ds = meta_data.with_meta_batches(train, meta_data.meta_dataset(split.x_meta, split.y_meta, 15))
    bn_before = clf.layers[1].moving_mean.numpy().copy()
    history = model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["meta_loss"]))
    assert not np.allclose(clf.layers[1].moving_mean.numpy(), bn_before)
    p = weighter.weights
    assert p.shape == (len(split.y_train),)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-5)
    assert p.std() > 0  # MR reweighted the examples from the recorded losses


def test_config_round_trip_and_save_load(tmp_path):
    model = make_model(meta_loss="ce", virtual_lr=0.05, normalize="none")
    config = model.get_config()
    clone = MetaWeightNet.from_config(config)
    assert clone.meta_loss == "ce" and clone.virtual_lr == 0.05 and clone.normalize == "none"
    assert len(clone.weighting_network.trainable_variables) == 4
    path = str(tmp_path / "mwn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, MetaWeightNet)
    x = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )
    np.testing.assert_allclose(
        loaded.weight_function([0.5, 2.0]), model.weight_function([0.5, 2.0]), rtol=1e-6
    )


@pytest.mark.tf_only
@pytest.mark.slow
def test_mirrored_strategy_matches_single_device():
    script = os.path.join(HERE, "meta_weight_net_strategy_check.py")
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, SUPPORT, env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, script], capture_output=True, text=True, timeout=240, env=env
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "STRATEGY_OK" in proc.stdout

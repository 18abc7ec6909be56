"""Per-example losses are Keras' compiled loss, for every built-in Keras loss.

Regression tests for the loss pass that rebuilt the loss from the bare loss
function: with labels of shape ``(N,)`` and a ``(N, 1)`` output,
``"binary_crossentropy"``/``"bce"``/``"binary_focal_crossentropy"`` crashed
(rank mismatch) and ``"hinge"``/``"poisson"``/``"kl_divergence"`` silently
broadcast to ``(B, B)``.

For every loss that takes class or regression targets, given by string name
and as a class instance, and every label shape that plain Keras training
accepts (others are skipped with Keras' error): the per-example losses of a
batch average to ``model.evaluate`` on that batch, single values match Keras
(via one-hot sample weights), and ``MRSampleWeighter`` trains for 2 epochs
(once per loss and label shape, see ``_cases``).  Where plain Keras silently
broadcasts (e.g. ``(N, 1)`` labels with some categorical losses), the
per-example losses follow Keras.  String aliases (``"bce"``, ``"mse"``, ...)
are checked against ``model.compute_loss``.

Not covered: ``CTC`` (sequence alignment loss on label sequences, no class or
regression target per output unit).  ``dice``/``tversky`` with their default
``axis=None`` return one value per batch: they must raise a clear error
(their per-example form, ``Dice(axis=(1,))``, is covered).
"""

import gc

import keras
import numpy as np
import pytest

import keras_mr
from keras_mr.pipeline.per_example_loss import compiled_per_example_loss
from keras_mr.pipeline.per_example_loss import resolve_per_example_loss
from keras_mr.pipeline.per_example_loss import unreduced_loss

N, C = 32, 3
L = keras.losses


@pytest.fixture(scope="module", autouse=True)
def _fast_gc():
    """Keeps the file fast: conftest's clear_session() runs gc.collect() after
    every test, which walks TensorFlow's whole heap (~0.3 s a test).  Freezing
    what exists now limits it to the objects these tests create."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


def _cls(name, **kwargs):
    """``keras.losses.<name>(**kwargs)`` as a lazy factory (None if this Keras lacks it)."""
    cls = getattr(L, name, None)
    if cls is None:
        return None

    def factory():
        return cls(**kwargs)

    factory.__name__ = name + ("" if not kwargs else "(" + ",".join(
        f"{k}={v}" for k, v in kwargs.items()) + ")")
    return factory


# head -> (string name, Loss class factory) pairs; None where a form does not exist.
LOSSES = {
    # Dense(1, sigmoid), labels in {0, 1}
    "binary": [
        ("binary_crossentropy", _cls("BinaryCrossentropy")),
        ("binary_focal_crossentropy", _cls("BinaryFocalCrossentropy")),
        ("crossentropy", None),  # resolved from the shapes: binary here
        # per-example forms of the overlap losses (axis=None is one value per batch)
        (None, _cls("Dice", axis=(1,))),
        (None, _cls("Tversky", axis=(1,))),
    ],
    # Dense(1, tanh), labels in {0, 1} (Keras maps them to -1/+1)
    "margin": [("hinge", _cls("Hinge")), ("squared_hinge", _cls("SquaredHinge"))],
    # Dense(C, softmax), integer labels (N,)/(N, 1) or one-hot (N, C)
    "probs": [
        ("categorical_crossentropy", _cls("CategoricalCrossentropy")),
        ("categorical_focal_crossentropy", _cls("CategoricalFocalCrossentropy")),
        ("sparse_categorical_crossentropy", _cls("SparseCategoricalCrossentropy")),
        # no string name: keras.losses.get does not know it
        (None, _cls("CategoricalGeneralizedCrossEntropy")),
        ("crossentropy", None),  # sparse or categorical, from the shapes
        ("categorical_hinge", _cls("CategoricalHinge")),
        ("kl_divergence", _cls("KLDivergence")),
    ],
    # Dense(1), real targets
    "regression": [
        ("mean_squared_error", _cls("MeanSquaredError")),
        ("mean_absolute_error", _cls("MeanAbsoluteError")),
        ("huber", _cls("Huber")),
        ("log_cosh", _cls("LogCosh")),
    ],
    # Dense(1, softplus), positive targets (log/ratio losses are defined)
    "positive": [
        ("mean_absolute_percentage_error", _cls("MeanAbsolutePercentageError")),
        ("mean_squared_logarithmic_error", _cls("MeanSquaredLogarithmicError")),
        ("poisson", _cls("Poisson")),
        ("kl_divergence", _cls("KLDivergence")),
    ],
    # Dense(C), real target vectors
    "vector": [("cosine_similarity", _cls("CosineSimilarity"))],
    # Dense(4) unit-norm embeddings, integer class labels (metric learning: the
    # loss of an example depends on the other examples of its batch)
    "embedding": [("circle", _cls("Circle"))],
}

LABEL_SHAPES = {
    "probs": ["(N,)", "(N,1)", "(N,C)"],
    "vector": ["(N,)", "(N,1)", "(N,C)"],
}

# Aliases: same functions as above, checked cheaply against compute_loss.
ALIASES = {"bce": "binary", "BCE": "binary", "mse": "regression", "MSE": "regression",
           "mae": "regression", "MAE": "regression", "mape": "positive", "MAPE": "positive",
           "msle": "positive", "MSLE": "positive", "kld": "positive", "KLD": "positive",
           "ce": "probs", "CE": "probs", "Crossentropy": "probs"}


def _name(loss):
    return loss if isinstance(loss, str) else loss.__name__


def _identifier(loss):
    return loss if isinstance(loss, str) else loss()


def _data(head, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype("float32")
    if head in ("binary", "margin"):
        y = (x[:, 0] + 0.5 * rng.normal(size=N) > 0).astype("float32")
    elif head in ("probs", "embedding"):
        y = rng.integers(0, C, N).astype("int32")
        if shape == "(N,C)":
            return x, np.eye(C, dtype="float32")[y]
    elif head == "regression":
        y = (x[:, 0] + 0.1 * rng.normal(size=N)).astype("float32")
    elif head == "positive":
        y = (1.0 + np.abs(x[:, 0])).astype("float32")
    else:  # vector
        v = rng.normal(size=(N, C)).astype("float32")
        if shape == "(N,C)":
            return x, v
        y = v[:, 0]
    return x, (y[:, None] if shape == "(N,1)" else y)


HEADS = {
    "binary": (1, "sigmoid"), "margin": (1, "tanh"), "probs": (C, "softmax"),
    "regression": (1, None), "positive": (1, "softplus"), "vector": (C, None),
    "embedding": (4, None),
}


def _model(head, loss, seed=0):
    keras.utils.set_random_seed(seed)
    units, activation = HEADS[head]
    layers = [keras.Input((4,)), keras.layers.Dense(5, activation="tanh"),
              keras.layers.Dense(units, activation=activation)]
    if head == "embedding":  # circle loss expects unit-norm embeddings
        layers.append(keras.layers.UnitNormalization())
    model = keras.Sequential(layers)
    # Eager: no tracing, keeps the file fast; the MR loss pass still runs the
    # per-example loss inside a tf.function with an unknown batch size.
    model.compile(keras.optimizers.SGD(0.05), loss, run_eagerly=True)
    return model


def _cases():
    """(head, loss, label shape, mr) for every form and label shape.

    ``mr``: whether the case also trains with MRSampleWeighter.  To keep the
    file fast, each (loss, label shape) trains once, with its string form or
    its class form in turn (both forms when only one exists); the equality
    with ``model.evaluate`` is checked for every case.
    """
    cases = []
    for head, pairs in LOSSES.items():
        for pair in pairs:
            forms = [f for f in pair if f is not None]
            for s_idx, shape in enumerate(LABEL_SHAPES.get(head, ["(N,)", "(N,1)"])):
                for f_idx, loss in enumerate(forms):
                    mr = len(forms) == 1 or (s_idx + f_idx) % 2 == 0
                    cases.append(pytest.param(
                        head, loss, shape, mr,
                        id=f"{_name(loss)}-{head}-{shape}" + ("-mr" if mr else "")))
    return cases


CASES = _cases()


def _np(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("head, loss, shape, mr", CASES)
def test_per_example_losses_are_the_compiled_loss(head, loss, shape, mr):
    x, y = _data(head, shape)
    model = _model(head, _identifier(loss))
    # Only combinations that plain Keras training accepts.  One step of
    # train_on_batch runs the same train_step (and compiled loss) as fit, at a
    # fraction of fit's fixed cost.
    try:
        model.train_on_batch(x, y)
    except Exception as err:
        pytest.skip(f"plain Keras training rejects it: {type(err).__name__}: {str(err)[:120]}")

    expected = model.evaluate(x, y, batch_size=N, verbose=0)
    y_pred = model(x, training=False)
    per_example = _np(compiled_per_example_loss(model)(y, y_pred))
    assert per_example.shape == (N,) and per_example.dtype == np.float32
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5, atol=1e-5)
    # single values: B * compiled loss with a one-hot (N, 1) sample weight on example i
    for i in (0, 7, N - 1):
        onehot = np.eye(N, dtype="float32")[i][:, None]
        value = N * float(_np(model.compute_loss(x, y, y_pred, sample_weight=onehot)))
        np.testing.assert_allclose(per_example[i], value, rtol=1e-4, atol=1e-5)

    if not mr:
        return
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, y, batch_size=16)
    model.fit(ds, epochs=2, shuffle=False, verbose=0, callbacks=[weighter])
    assert weighter.num_updates == 2
    p = np.asarray(weighter.weights, np.float64)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("alias, head", sorted(ALIASES.items()))
def test_string_aliases_match_compute_loss(alias, head):
    x, y = _data(head, "(N,)")
    model = _model(head, alias)
    y_pred = model(x)
    expected = float(_np(model.compute_loss(x, y, y_pred)))
    per_example = _np(compiled_per_example_loss(model)(y, y_pred))
    assert per_example.shape == (N,)
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss", [
    pytest.param(f, id=_name(f)) for f in ["dice", "tversky", _cls("Dice"), _cls("Tversky")]
    if f is not None
])
def test_batch_level_losses_raise_a_clear_error(loss):
    x, y = _data("binary", "(N,1)")
    model = _model("binary", _identifier(loss))
    with pytest.raises(ValueError, match="per_example_loss_fn"):
        compiled_per_example_loss(model)(y, model(x))


def test_old_bug_cases_have_one_loss_per_example():
    """(N,) labels, (N, 1) outputs: no rank error and no (B, B) broadcast."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 8).astype("float32")
    y_pred = keras.ops.convert_to_tensor(rng.uniform(0.1, 0.9, (8, 1)).astype("float32"))
    for name in ["binary_crossentropy", "bce", "binary_focal_crossentropy", "hinge",
                 "poisson", "kl_divergence"]:
        values = _np(unreduced_loss(name)(y, y_pred))
        assert values.shape == (8,), name
        column = _np(unreduced_loss(name)(y[:, None], y_pred))
        np.testing.assert_allclose(values, column, rtol=1e-6, err_msg=name)


def test_extra_axes_are_averaged():
    rng = np.random.default_rng(0)
    y = rng.integers(0, C, (4, 5)).astype("int32")
    logits = rng.normal(size=(4, 5, C)).astype("float32")
    loss = L.SparseCategoricalCrossentropy(from_logits=True)
    values = _np(unreduced_loss(loss)(y, logits))
    full = _np(L.sparse_categorical_crossentropy(y, logits, from_logits=True))
    np.testing.assert_allclose(values, full.mean(axis=1), rtol=1e-6)
    assert loss.reduction == "sum_over_batch_size"  # the user's object is untouched


def test_custom_loss_subclass_and_function():
    class Scaled(L.Loss):
        def __init__(self, scale, **kwargs):  # not serialisable through get_config
            super().__init__(**kwargs)
            self.scale = scale

        def call(self, y_true, y_pred):
            return self.scale * keras.ops.mean(keras.ops.abs(y_true - y_pred), axis=-1)

    def my_loss(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)

    x, y = _data("regression", "(N,)")
    for loss in [Scaled(3.0), my_loss]:
        model = _model("regression", loss)
        y_pred = model(x)
        expected = float(_np(model.compute_loss(x, y, y_pred)))
        per_example = _np(compiled_per_example_loss(model)(y, y_pred))
        assert per_example.shape == (N,)
        np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5)


def test_unreduced_loss_in_tf_function_with_unknown_batch():
    tf = pytest.importorskip("tensorflow")
    if keras.backend.backend() != "tensorflow":
        pytest.skip("needs the TensorFlow backend")
    fn = unreduced_loss("binary_crossentropy")
    ce = unreduced_loss("crossentropy")
    spec_y = tf.TensorSpec([None], tf.float32)
    spec_p = tf.TensorSpec([None, 1], tf.float32)

    @tf.function(input_signature=[spec_y, spec_p])
    def graph(y_true, y_pred):
        return fn(y_true, y_pred), ce(y_true, y_pred)

    y = np.array([0, 1, 1], "float32")
    p = np.array([[0.2], [0.7], [0.4]], "float32")
    a, b = graph(y, p)
    assert a.dtype == tf.float32 and tuple(a.shape) == (3,)
    np.testing.assert_allclose(_np(a), _np(b))
    np.testing.assert_allclose(_np(a), -np.log([0.8, 0.7, 0.4]), rtol=1e-4)


# ------------------------------------------------------------- multi-output
def _two_outputs(dict_outputs=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((4,))
    h = keras.layers.Dense(5, activation="tanh")(inp)
    a = keras.layers.Dense(C, activation="softmax", name="a")(h)
    b = keras.layers.Dense(1, name="b")(h)
    return keras.Model(inp, {"a": a, "b": b} if dict_outputs else [a, b])


def _two_output_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, 4)).astype("float32")
    ya = rng.integers(0, C, N).astype("int32")
    yb = (x[:, 0] + 0.1 * rng.normal(size=N)).astype("float32")  # (N,) for a (N, 1) output
    return x, ya, yb


MULTI = {
    "dict-loss-dict-weights": (
        False, {"a": "sparse_categorical_crossentropy", "b": "mse"}, {"a": 1.0, "b": 0.25}),
    "list-loss-list-weights": (
        False, ["sparse_categorical_crossentropy", L.Huber()], [0.5, 2.0]),
    "one-loss-float-weight": (False, "crossentropy", 0.5),
    "none-entry": (False, {"a": "sparse_categorical_crossentropy", "b": None}, None),
    "dict-outputs": (
        True, {"a": L.SparseCategoricalCrossentropy(), "b": "mae"}, {"a": 0.3, "b": 1.5}),
}


@pytest.mark.parametrize("case", sorted(MULTI))
@pytest.mark.parametrize("labels", ["dict", "list"])
def test_multi_output_per_example_loss_is_the_compiled_loss(case, labels):
    dict_outputs, loss, loss_weights = MULTI[case]
    x, ya, yb = _two_output_data()
    model = _two_outputs(dict_outputs)
    model.compile(keras.optimizers.SGD(0.05), loss, loss_weights=loss_weights, run_eagerly=True)
    y = {"a": ya, "b": yb} if labels == "dict" else [ya, yb]
    try:
        model.fit(x, y, batch_size=N, epochs=1, verbose=0)
    except Exception as err:
        pytest.skip(f"plain model.fit rejects it: {type(err).__name__}: {str(err)[:120]}")
    expected = model.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)["loss"]
    per_example = _np(compiled_per_example_loss(model)(y, model(x)))
    assert per_example.shape == (N,) and per_example.dtype == np.float32
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dict_outputs", [False, True], ids=["list-outputs", "dict-outputs"])
def test_multi_output_mr_training(dict_outputs):
    x, ya, yb = _two_output_data()
    model = _two_outputs(dict_outputs)
    model.compile(keras.optimizers.SGD(0.05),
                  {"a": "sparse_categorical_crossentropy", "b": "mse"},
                  loss_weights={"a": 1.0, "b": 0.25}, run_eagerly=True)
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5)
    ds = weighter.attach(x, {"a": ya, "b": yb}, batch_size=8)
    model.fit(ds, epochs=2, shuffle=False, verbose=0, callbacks=[weighter])
    assert weighter.num_updates == 2
    p = np.asarray(weighter.weights, np.float64)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(p, 1.0 / N)


def test_unmatched_structures_name_the_way_out():
    x, ya, yb = _two_output_data()
    model = _two_outputs()
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    with pytest.raises(ValueError, match="per_example_loss_fn"):
        compiled_per_example_loss(model)(ya, model(x))  # one label tensor, two losses
    with pytest.raises(ValueError, match="per_example_loss_fn"):
        compiled_per_example_loss(model)([ya, yb, yb], model(x))

    bare = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="no compiled loss"):
        compiled_per_example_loss(bare)
    with pytest.raises(ValueError, match="no compiled loss"):
        resolve_per_example_loss(bare)(bare, x, yb, False)

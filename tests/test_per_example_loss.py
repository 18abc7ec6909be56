"""Per-example losses equal the compiled loss, for every built-in Keras loss.

Regression for the old loss pass, which rebuilt the loss from the bare
function: ``"binary_crossentropy"``/``"bce"``/``"binary_focal_crossentropy"``
with ``(N,)`` labels crashed at the end of epoch 1 (rank mismatch), and
``"hinge"``/``"poisson"``/``"kl_divergence"`` with ``(N,)`` labels silently
broadcast to ``(B, B)``.  For every loss that takes class or regression
targets, by name and by class, with ``(N,)`` and ``(N, 1)`` labels where plain
``fit`` accepts them: the batch mean of the per-example losses equals
``model.evaluate`` on that batch, and MR trains for 2 epochs.
"""

import numpy as np
import pytest

import keras
import keras_mr
from keras_mr.per_example_loss import compiled_per_example_loss

pytestmark = pytest.mark.tf_only

N, C = 32, 3

# (loss, task); task picks the output layer and the labels.
LOSSES = [
    *[(name, "binary") for name in [
        "binary_crossentropy", "bce", "binary_focal_crossentropy", "hinge", "squared_hinge",
        "crossentropy"]],
    *[(cls, "binary") for cls in [
        keras.losses.BinaryCrossentropy, keras.losses.BinaryFocalCrossentropy,
        keras.losses.Hinge, keras.losses.SquaredHinge]],
    *[(name, "sparse") for name in ["sparse_categorical_crossentropy", "ce"]],
    (keras.losses.SparseCategoricalCrossentropy, "sparse"),
    (keras.losses.CategoricalGeneralizedCrossEntropy, "sparse"),
    *[(name, "onehot") for name in [
        "categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge",
        "kl_divergence", "kld"]],
    *[(cls, "onehot") for cls in [
        keras.losses.CategoricalCrossentropy, keras.losses.CategoricalFocalCrossentropy,
        keras.losses.CategoricalHinge, keras.losses.KLDivergence]],
    *[(name, "regression") for name in [
        "mean_squared_error", "mse", "mean_absolute_error", "mae",
        "mean_absolute_percentage_error", "mape", "mean_squared_logarithmic_error", "msle",
        "huber", "log_cosh", "poisson", "kl_divergence", "cosine_similarity"]],
    *[(cls, "regression") for cls in [
        keras.losses.MeanSquaredError, keras.losses.MeanAbsoluteError,
        keras.losses.MeanAbsolutePercentageError, keras.losses.MeanSquaredLogarithmicError,
        keras.losses.Huber, keras.losses.LogCosh, keras.losses.Poisson,
        keras.losses.CosineSimilarity]],
]
# Not here: CTC (sequence alignment), Circle (metric learning on embeddings),
# Dice and Tversky (segmentation overlap, one value per batch).


def _case(task, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, 4)).astype("float32")
    if task == "binary":
        y = (x[:, 0] > 0).astype("float32")
        out = keras.layers.Dense(1, activation="sigmoid")
    elif task == "sparse":
        y = rng.integers(0, C, N).astype("int32")
        out = keras.layers.Dense(C, activation="softmax")
    elif task == "onehot":
        y = np.eye(C, dtype="float32")[rng.integers(0, C, N)]
        out = keras.layers.Dense(C, activation="softmax")
    else:  # positive targets and outputs, so log/percentage losses are defined
        y = (1.0 + np.abs(x[:, 0])).astype("float32")
        out = keras.layers.Dense(1, activation="softplus")
    return x, y, out


def _label_shapes(task, y):
    if task == "onehot":
        return [("(N,C)", y)]
    return [("(N,)", y), ("(N,1)", y[:, None])]


CASES = [
    pytest.param(loss, task, shape, id=f"{getattr(loss, '__name__', loss)}-{task}-{shape}")
    for loss, task in LOSSES
    for shape in (["(N,C)"] if task == "onehot" else ["(N,)", "(N,1)"])
]


def _model(loss, task, seed=0):
    keras.utils.set_random_seed(seed)
    _, _, out = _case(task)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(6, activation="tanh"), out])
    model.compile(keras.optimizers.SGD(0.05), loss() if isinstance(loss, type) else loss)
    return model


@pytest.mark.parametrize("loss, task, shape", CASES)
def test_per_example_losses_average_to_the_compiled_loss(loss, task, shape):
    x, y, _ = _case(task)
    y = dict(_label_shapes(task, y))[shape]
    model = _model(loss, task)
    try:  # only combinations that plain Keras fit accepts
        model.fit(x, y, batch_size=N, epochs=1, verbose=0)
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"plain fit rejects it: {type(err).__name__}")
    expected = model.evaluate(x, y, batch_size=N, verbose=0)
    per_example = keras.ops.convert_to_numpy(compiled_per_example_loss(model)(y, model(x)))
    assert per_example.shape == (N,) and per_example.dtype == np.float32  # floatx
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5, atol=1e-5)

    weighter = keras_mr.MRSampleWeighter(eta=0.5)
    model = _model(loss, task)
    model.fit(weighter.attach(x, y, batch_size=16), epochs=2, verbose=0, shuffle=False,
              callbacks=[weighter])
    assert weighter.num_updates == 2
    p = weighter.weights
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)


def _two_output_model(dict_outputs):
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,))
    h = keras.layers.Dense(6, activation="tanh")(inp)
    a = keras.layers.Dense(C, activation="softmax", name="a")(h)
    b = keras.layers.Dense(1, name="b")(h)
    return keras.Model(inp, {"a": a, "b": b} if dict_outputs else [a, b])


@pytest.mark.parametrize("style", ["dict", "list"])
def test_multi_output_losses_are_combined_with_loss_weights(style):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, 4)).astype("float32")
    ya, yb = rng.integers(0, C, N).astype("int32"), rng.normal(size=N).astype("float32")
    if style == "dict":
        model = _two_output_model(True)
        model.compile("sgd", {"a": "sparse_categorical_crossentropy", "b": "mse"},
                      loss_weights={"a": 1.0, "b": 0.25})
        y = {"a": ya, "b": yb}
    else:
        model = _two_output_model(False)
        model.compile("sgd", ["sparse_categorical_crossentropy", keras.losses.Huber()],
                      loss_weights=[0.5, 2.0])
        y = [ya, yb]
    expected = model.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)["loss"]
    per_example = keras.ops.convert_to_numpy(compiled_per_example_loss(model)(y, model(x)))
    np.testing.assert_allclose(per_example.mean(), expected, rtol=1e-5, atol=1e-6)

    weighter = keras_mr.MRSampleWeighter(eta=0.5)
    ds = weighter.attach(x, {"a": ya, "b": yb} if style == "dict" else (ya, yb), batch_size=8)
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 2
    assert not np.allclose(weighter.weights, 1.0 / N)


def test_unmatched_label_structure_names_the_way_out():
    model = _two_output_model(False)
    model.compile("sgd", ["sparse_categorical_crossentropy", "mse"])
    x = np.zeros((4, 4), "float32")
    with pytest.raises(ValueError, match="per_example_loss_fn"):
        compiled_per_example_loss(model)(np.zeros(4), model(x))

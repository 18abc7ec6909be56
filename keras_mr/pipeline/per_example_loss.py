"""Per-example losses, computed the way Keras computes the compiled loss.

MR needs one loss per training example.  Rebuilding it from the bare loss
function (``keras.losses.get("binary_crossentropy")``) is wrong: Keras wraps
functions in a ``Loss`` wrapper whose ``call`` squeezes or
expands ``y_true`` to the rank of ``y_pred``.  Without it, labels of shape
``(N,)`` against a ``(N, 1)`` sigmoid output either crash (rank mismatch in
binary cross-entropy) or silently broadcast to ``(B, B)`` (hinge, Poisson,
KL divergence).  Here every loss goes through a ``keras.losses.Loss`` object
with ``reduction=None``: the same wrapper, reshaping and dtype handling as the
compiled loss, minus the reduction.

For a multi-output model the per-example loss is
``sum_k loss_weight_k * l_k(y_true_k, y_pred_k)``, matching how Keras combines
the outputs, so that its batch mean equals the compiled loss.  Losses with
extra non-batch axes (e.g. per time step) are averaged over those axes, as
``"sum_over_batch_size"`` does; Keras masks (``y_pred._keras_mask``) are
applied as weights by the ``Loss`` object.  Regularisation terms
(``model.losses``) are the same for every example and are left out.
"""

import keras
import numpy as np

from keras_mr._internal.keras_compat import compiled_loss_weights
from keras_mr._internal.keras_compat import unreduced_loss_copy

_NO_LOSS = (
    "The model has no compiled loss. Call `model.compile(loss=...)` before fit, or pass "
    "`per_example_loss_fn=lambda model, x, y: ...` returning one loss per example."
)


def _is_nested(x):
    return isinstance(x, (dict, list, tuple))


def _crossentropy_for(y_true, y_pred):
    """The ``"crossentropy"``/``"ce"`` convenience names, resolved from the shapes."""
    out = y_pred.shape[-1] if len(y_pred.shape) else 1
    if out == 1:
        return keras.losses.binary_crossentropy
    if len(y_true.shape) < len(y_pred.shape) or (len(y_true.shape) and y_true.shape[-1] == 1):
        return keras.losses.sparse_categorical_crossentropy
    return keras.losses.categorical_crossentropy


def _match_rank(y_true, y_pred):
    """Reshapes ``y_true`` against ``y_pred`` as Keras' function-loss wrapper does.

    Ranks that differ by one through a trailing axis of size 1 are made equal:
    rank-1 tensors gain that axis, higher ranks lose it.
    """
    ops = keras.ops
    t, p = len(y_true.shape), len(y_pred.shape)
    if t == p + 1 and y_true.shape[-1] == 1:
        if p == 1:
            y_pred = ops.expand_dims(y_pred, -1)
        else:
            y_true = ops.squeeze(y_true, -1)
    elif p == t + 1 and y_pred.shape[-1] == 1:
        if t == 1:
            y_true = ops.expand_dims(y_true, -1)
        else:
            y_pred = ops.squeeze(y_pred, -1)
    return y_true, y_pred


class _FunctionLoss(keras.losses.Loss):
    """A loss function as a ``Loss`` object, with the compiled loss' reshaping."""

    def __init__(self, fn, name):
        super().__init__(name=name, reduction=None)
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(*_match_rank(y_true, y_pred))


def _loss_object(identifier, y_true, y_pred):
    """A ``keras.losses.Loss`` with ``reduction=None`` for one identifier."""
    if isinstance(identifier, str) and identifier.lower() in ("crossentropy", "ce"):
        loss = _crossentropy_for(y_true, y_pred)
    elif isinstance(identifier, keras.losses.Loss):
        loss = identifier
    else:
        loss = keras.losses.get(identifier)
    if not isinstance(loss, keras.losses.Loss):
        name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", "loss")
        loss = _FunctionLoss(loss, name=name)
    if loss.reduction is None:
        return loss
    return unreduced_loss_copy(loss)


def _per_example(loss, y_true, y_pred):
    values = keras.ops.convert_to_tensor(loss(y_true, y_pred))
    if len(values.shape) > 1:
        values = keras.ops.mean(values, axis=tuple(range(1, len(values.shape))))
    elif len(values.shape) == 0:
        raise ValueError(
            f"The loss {getattr(loss, 'name', loss)!r} returned one value per batch, not one per "
            "example. Pass `per_example_loss_fn=lambda model, x, y: ...` to MRSampleWeighter."
        )
    return values


def unreduced_loss(loss):
    """``fn(y_true, y_pred) -> (B,)`` for one compiled loss identifier (in the loss' dtype).

    Args:
        loss: a loss name, function or ``keras.losses.Loss`` instance (what
            ``model.compile(loss=...)`` takes for one output).

    Returns:
        A function giving the per-example loss exactly as the compiled loss
        computes it before its reduction (``y_true`` reshaped to ``y_pred``).
    """
    if loss is None:
        raise ValueError(_NO_LOSS)
    if _is_nested(loss):
        raise ValueError(
            "The model has several losses (multi-output); use "
            "`keras_mr.pipeline.per_example_loss.compiled_per_example_loss(model)`, or pass "
            "`per_example_loss_fn=lambda model, x, y: ...` that combines them."
        )

    def fn(y_true, y_pred):
        return _per_example(_loss_object(loss, y_true, y_pred), y_true, y_pred)

    return fn


def _output_names(model, y_pred):
    if isinstance(y_pred, dict):
        return list(y_pred)
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(y_pred):
        names = [str(i) for i in range(len(y_pred))]
    return names


def _pick(structure, k, name, what):
    """Entry ``k`` (named ``name``) of a per-output list/dict."""
    if isinstance(structure, dict):
        if name not in structure:
            raise ValueError(
                f"`{what}` has no entry for the output '{name}' (keys: {sorted(structure)}). "
                "Pass `per_example_loss_fn=lambda model, x, y: ...` to MRSampleWeighter."
            )
        return structure[name]
    return structure[k]


def compiled_per_example_loss(model):
    """Per-example version of the model's compiled loss.

    Args:
        model: a compiled Keras model (single or multi-output).

    Returns:
        ``fn(y_true, y_pred) -> (B,)`` (in the loss' dtype, float32 by default) with
        ``sum_k loss_weight_k * l_k`` per example; its batch mean equals the
        compiled loss (without ``model.losses`` regularisation terms).

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, "sigmoid")])
    >>> model.compile(loss="binary_crossentropy")
    >>> fn = compiled_per_example_loss(model)
    >>> fn(np.array([0.0, 1.0]), model(np.zeros((2, 2)))).shape
    TensorShape([2])
    """
    if getattr(model, "loss", None) is None:
        raise ValueError(_NO_LOSS)

    def fn(y_true, y_pred):
        loss, weights = model.loss, compiled_loss_weights(model)
        if _is_nested(y_pred):
            return _multi_output_loss(model, loss, weights, y_true, y_pred)
        return _single_output_loss(loss, weights, y_true, y_pred)

    return fn


def _first(structure):
    """The first entry of a list/tuple/dict."""
    return list(structure.values())[0] if isinstance(structure, dict) else structure[0]


def _single_output_loss(loss, weights, y_true, y_pred):
    """``loss_weight * l(y_true, y_pred)`` per example for one output tensor.

    A one-entry per-output loss, label or weight structure counts as that entry.
    """
    if _is_nested(loss):
        loss = _first(loss)
    if _is_nested(y_true) and len(y_true) == 1:
        y_true = _first(y_true)
    if _is_nested(weights):
        weights = _first(weights)
    values = _per_example(_loss_object(loss, y_true, y_pred), y_true, y_pred)
    return values if weights is None else values * float(weights)


def _labels_per_output(names, y_true, num_outputs):
    """``y_true`` as a list in output order (``None`` for an output without labels)."""
    if isinstance(y_true, dict):
        return [y_true.get(n) for n in names]
    if _is_nested(y_true) and len(y_true) == num_outputs:
        return list(y_true)
    raise ValueError(
        f"The model has {num_outputs} outputs but the labels are not a list or dict of "
        f"{num_outputs} arrays. Pass labels per output, e.g. attach(x, {{name: y, ...}}), "
        "or `per_example_loss_fn=lambda model, x, y: ...` to MRSampleWeighter."
    )


def _multi_output_loss(model, loss, weights, y_true, y_pred):
    """``sum_k loss_weight_k * l_k`` per example over the outputs that have a loss and labels."""
    names = _output_names(model, y_pred)
    preds = [y_pred[n] for n in names] if isinstance(y_pred, dict) else list(y_pred)
    trues = _labels_per_output(names, y_true, len(preds))
    total = None
    for k, (name, yt, yp) in enumerate(zip(names, trues, preds)):
        identifier = _pick(loss, k, name, "loss") if _is_nested(loss) else loss
        if identifier is None or yt is None:
            continue
        values = _per_example(_loss_object(identifier, yt, yp), yt, yp)
        w = _pick(weights, k, name, "loss_weights") if _is_nested(weights) else weights
        if w is not None:
            values = values * float(w)
        total = values if total is None else total + values
    if total is None:
        raise ValueError(_NO_LOSS)
    return total


def resolve_per_example_loss(model, per_example_loss_fn=None):
    """Returns ``fn(model, x, y, training) -> (B,)`` per-example losses.

    Args:
        model: a compiled Keras model.
        per_example_loss_fn: optional ``fn(model, x, y) -> (B,)``.  By default
            :func:`compiled_per_example_loss` applied to
            ``model(x, training=training)``.
    """
    if per_example_loss_fn is not None:
        if not callable(per_example_loss_fn):
            raise TypeError(
                f"`per_example_loss_fn` must be callable as fn(model, x, y), got "
                f"{per_example_loss_fn!r}."
            )
        return lambda m, x, y, training: per_example_loss_fn(m, x, y)

    loss_fn = compiled_per_example_loss(model)

    def fn(m, x, y, training):
        return loss_fn(y, m(x, training=training))

    return fn


def check_label_range(y, y_pred_shape):
    """Raises if integer labels fall outside ``[0, num_outputs)``."""
    y = np.asarray(y)
    if y.size == 0 or not np.issubdtype(y.dtype, np.integer):
        return
    num_outputs = y_pred_shape[-1] if len(y_pred_shape) > 1 else None
    if num_outputs is None or num_outputs <= 1:
        return
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= num_outputs:
        raise ValueError(
            f"Labels must lie in [0, {num_outputs}) for a model with {num_outputs} outputs, "
            f"found labels in [{lo}, {hi}]. Check the label encoding or the size of the "
            "output layer."
        )

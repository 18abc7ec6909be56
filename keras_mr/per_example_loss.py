"""Per-example losses over a whole dataset: the extra pass of MR.

Algorithm 1 of the MR paper needs ``l_i(theta)`` for every training example
after each epoch ("an additional forward pass is performed at the end of each
epoch").  This module resolves the per-example loss function and runs that
pass, distributed over the replicas of the model's ``tf.distribute`` strategy
when there is one.  Each batch carries its example indices, so the result is
independent of the order in which replicas return their shares.
"""

import numpy as np

import keras


def resolve_per_example_loss(model, per_example_loss_fn=None):
    """Returns ``fn(model, x, y, training) -> (B,)`` per-example losses.

    Args:
        model: a compiled Keras model.
        per_example_loss_fn: optional ``fn(model, x, y) -> (B,)``.  By default
            the model's compiled loss is re-created with ``reduction=None`` and
            applied to ``model(x, training=training)``; losses with extra axes
            (e.g. per time step) are averaged over the non-batch axes.
    """
    if per_example_loss_fn is not None:
        if not callable(per_example_loss_fn):
            raise TypeError(
                f"`per_example_loss_fn` must be callable as fn(model, x, y), got "
                f"{per_example_loss_fn!r}."
            )
        return lambda m, x, y, training: per_example_loss_fn(m, x, y)

    loss_fn = unreduced_loss(getattr(model, "loss", None))

    def fn(m, x, y, training):
        y_pred = m(x, training=training)
        return loss_fn(y, y_pred)

    return fn


def unreduced_loss(loss):
    """``fn(y_true, y_pred) -> (B,)`` from a compiled Keras loss."""
    if loss is None:
        raise ValueError(
            "The model has no compiled loss. Call `model.compile(loss=...)` before fit, or "
            "pass `per_example_loss_fn=lambda model, x, y: ...` returning one loss per example."
        )
    if isinstance(loss, (dict, list, tuple)):
        raise ValueError(
            "The model has several losses (multi-output); MR needs one loss per example. Pass "
            "`per_example_loss_fn=lambda model, x, y: ...` that combines them."
        )
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        config["reduction"] = None
        loss = loss.__class__.from_config(config)

    def fn(y_true, y_pred):
        values = keras.ops.convert_to_tensor(loss(y_true, y_pred))
        if len(values.shape) > 1:
            values = keras.ops.mean(values, axis=tuple(range(1, len(values.shape))))
        return values

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

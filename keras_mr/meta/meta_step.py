"""Steps 1-2 of Meta-Weight-Net's bilevel update: the virtual step and the meta gradient.

:func:`virtual_and_meta_step` computes, for a training batch and a meta batch, the
per-example losses, the virtual parameters ``w_hat = w - alpha grad_w sum_i c_i l_i / B``
(kept differentiable in the weighting network's parameters) and the gradient of the
meta loss at ``w_hat`` w.r.t. the weighting network, by nested gradient tapes.  Under
``tf.distribute`` the virtual gradient, the weight normaliser and the meta loss are
reduced over the global batch.
"""

from typing import Any
from typing import NamedTuple

from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr._internal.distribution import all_sum
from keras_mr._internal.distribution import num_replicas
from keras_mr.meta.meta_losses import combine_weights


class MetaStep(NamedTuple):
    """Steps 1-2 of a Meta-Weight-Net update (what the real step reuses)."""

    tape: Any  # persistent tape that recorded the training forward pass
    losses: Any  # (B,) per-example training losses at w_t
    y_pred: Any  # the classifier's outputs on the training batch
    batch: Any  # global batch size
    reg: Any  # regularisation losses of this replica
    meta_loss: Any  # mean meta loss at w_hat
    meta_grads: Any  # its gradient w.r.t. the weighting network


def virtual_and_meta_step(model, x, y, sample_weight, x_meta, y_meta):
    """Steps 1 and 2: virtual step and meta gradient (TensorFlow backend).

    Args:
        model: the :class:`~keras_mr.meta.meta_weight_net.MetaWeightNet`.
        x, y: training batch.
        sample_weight: MR / user weights of the training batch, or ``None``.
        x_meta, y_meta: meta batch.

    Returns:
        A :class:`MetaStep`.
    """
    tf = require_tensorflow("MetaWeightNet's training step", backend=True)
    replicas = num_replicas()
    train_loss_fn, meta_loss_fn = model.loss_functions()
    cvars = model.model.trainable_variables
    tvars = model.weighting_network.trainable_variables
    non_trainable = [v.value for v in model.model.non_trainable_variables]
    alpha = model.virtual_lr if model.virtual_lr is not None else model.optimizer.learning_rate

    with tf.GradientTape() as meta_tape:
        with tf.GradientTape(persistent=True) as tape:
            y_pred = model.model(x, training=True)
            losses = ops.reshape(train_loss_fn(y, y_pred), (-1,))
            dtype = losses.dtype
            batch = all_sum(ops.cast(ops.shape(losses)[0], dtype))
            reg = regularization(model.model, dtype) / replicas
            v = model.net_weights(losses, training=True)
            c = coefficients(model.normalize, v, sample_weight, batch)
            virtual_loss = ops.sum(c * losses) / batch + reg
        grads = all_sum(tape.gradient(virtual_loss, cvars))
        w_hat = [w.value - ops.cast(alpha, w.dtype) * g for w, g in zip(cvars, grads)]
        meta_pred, _ = model.model.stateless_call(
            w_hat, non_trainable, x_meta, training=model.meta_training
        )
        meta_losses = ops.reshape(meta_loss_fn(y_meta, meta_pred), (-1,))
        meta_batch = all_sum(ops.cast(ops.shape(meta_losses)[0], meta_losses.dtype))
        meta_loss = ops.sum(meta_losses) / meta_batch
    meta_grads = meta_tape.gradient(meta_loss, tvars)
    return MetaStep(tape, losses, y_pred, batch, reg, meta_loss, meta_grads)


def coefficients(normalize, v, sample_weight, batch):
    """Loss coefficients of a replica's examples, normalised over the global batch."""
    if normalize == "none":
        return combine_weights(v, sample_weight, normalize="none")
    raw = v if sample_weight is None else v * ops.cast(ops.reshape(sample_weight, (-1,)), v.dtype)
    return combine_weights(raw, None, "sum", weight_sum=all_sum(ops.sum(raw)), batch_size=batch)


def regularization(classifier, dtype):
    """Sum of the classifier's regularisation losses (0 without any)."""
    losses = classifier.losses
    if not losses:
        return ops.zeros((), dtype=dtype)
    return ops.cast(ops.sum(ops.stack([ops.cast(term, dtype) for term in losses])), dtype)

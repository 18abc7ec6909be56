"""Meta-Weight-Net's bilevel update, whole: virtual step, meta step, real step.

:func:`bilevel_step` runs one update of :class:`~keras_mr.meta.MetaWeightNet`:

1. the per-example losses and the virtual parameters
   ``w_hat = w - alpha grad_w sum_i c_i l_i / B`` (kept differentiable in the weighting
   network's parameters);
2. the gradient of the meta loss at ``w_hat`` w.r.t. the weighting network, by nested
   gradient tapes, applied with the meta optimizer;
3. the real step with the updated weighting network, reusing the recorded forward pass
   (the losses are those at ``w_t``), applied with the model's optimizer.

The gradient tape that recorded the forward pass lives only inside this module: steps
1-2 alone are :func:`virtual_and_meta_step` (for checks and research).  Under
``tf.distribute`` the virtual gradient, the weight normaliser and the meta loss are
reduced over the global batch; the real step's loss is this replica's share of the
global-batch loss.
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

    losses: Any  # (B,) per-example training losses at w_t
    y_pred: Any  # the classifier's outputs on the training batch
    batch: Any  # global batch size
    reg: Any  # regularisation losses of this replica
    meta_loss: Any  # mean meta loss at w_hat
    meta_grads: Any  # its gradient w.r.t. the weighting network


class BilevelStep(NamedTuple):
    """One whole Meta-Weight-Net update, applied (what ``train_step`` reports)."""

    losses: Any  # (B,) per-example training losses at w_t
    y_pred: Any  # the classifier's outputs on the training batch
    batch: Any  # global batch size
    loss: Any  # this replica's share of the real step's loss
    meta_loss: Any  # mean meta loss at w_hat
    weights: Any  # (B,) the updated weighting network's outputs v


def virtual_and_meta_step(model, x, y, sample_weight, x_meta, y_meta):
    """Steps 1 and 2: virtual step and meta gradient, nothing applied (TensorFlow backend).

    Args:
        model: the :class:`~keras_mr.meta.meta_weight_net.MetaWeightNet`.
        x, y: training batch.
        sample_weight: MR / user weights of the training batch, or ``None``.
        x_meta, y_meta: meta batch.

    Returns:
        A :class:`MetaStep`.
    """
    return _record_virtual_and_meta(model, x, y, sample_weight, x_meta, y_meta)[1]


def bilevel_step(model, x, y, sample_weight, x_meta, y_meta):
    """Steps 1-3 of a Meta-Weight-Net update, applied to both networks (TensorFlow backend).

    Args:
        model: the :class:`~keras_mr.meta.meta_weight_net.MetaWeightNet`.
        x, y: training batch.
        sample_weight: MR / user weights of the training batch, or ``None``.
        x_meta, y_meta: meta batch.

    Returns:
        A :class:`BilevelStep`.
    """
    tape, step = _record_virtual_and_meta(model, x, y, sample_weight, x_meta, y_meta)
    tvars = model.weighting_network.trainable_variables
    model.meta_optimizer.apply_gradients(zip(step.meta_grads, tvars))
    cvars = model.model.trainable_variables
    v_new = model.net_weights(step.losses, training=False)
    c_new = ops.stop_gradient(coefficients(model.normalize, v_new, sample_weight, step.batch))
    with tape:
        loss = ops.sum(c_new * step.losses) / step.batch + step.reg
        scaled = model.optimizer.scale_loss(loss)
    grads = tape.gradient(scaled, cvars)
    model.optimizer.apply_gradients(zip(grads, cvars))
    return BilevelStep(step.losses, step.y_pred, step.batch, loss, step.meta_loss, v_new)


def _record_virtual_and_meta(model, x, y, sample_weight, x_meta, y_meta):
    """Steps 1-2 and the persistent tape that recorded the forward pass (step 3 reuses it)."""
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
    return tape, MetaStep(losses, y_pred, batch, reg, meta_loss, meta_grads)


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

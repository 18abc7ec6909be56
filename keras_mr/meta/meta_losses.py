"""The pure math of meta-weighting: the MAE meta loss and the weight combination rule."""

from keras import ops

NORMALIZATIONS = ("sum", "none")


def _one_hot_like(y_true, num_classes, dtype):
    y = ops.convert_to_tensor(y_true)
    if len(y.shape) >= 2 and y.shape[-1] == num_classes and num_classes != 1:
        return ops.cast(y, dtype)
    y = ops.reshape(y, (-1,))
    return ops.one_hot(ops.cast(y, "int32"), num_classes, dtype=dtype)


def mae_probability_loss(y_true, probabilities):
    """Per-example MAE between predicted probabilities and one-hot labels.

    ``l_MAE(y, u) = sum_k |u_k - y_k|`` (RMNW paper, section 3).  It is
    symmetric: ``sum_c l_MAE(c, u) = 2 (K - 1)`` for any probability vector
    ``u``, which is what makes its expected gradient under uniform label noise
    proportional to the clean one (Theorem 1).

    Args:
        y_true: ``(B,)`` integer labels or ``(B, K)`` one-hot labels.
        probabilities: ``(B, K)`` probabilities (rows on the simplex).

    Returns:
        ``(B,)`` tensor of losses in ``[0, 2]``.

    Example:

    >>> import numpy as np
    >>> float(mae_probability_loss(np.array([0]), np.array([[0.75, 0.25]]))[0])
    0.5
    """
    u = ops.convert_to_tensor(probabilities)
    onehot = _one_hot_like(y_true, u.shape[-1], u.dtype)
    return ops.sum(ops.abs(u - onehot), axis=-1)


def combine_weights(
    net_weights, sample_weight=None, normalize="sum", weight_sum=None, batch_size=None
):
    """Per-example loss coefficients of the weighted training loss.

    The training loss of one step is ``sum_i c_i l_i / B``.  The weight of
    example ``i`` is the weighting-network output ``v_i`` times its MR weight
    ``m_i`` (the pipeline's ``sample_weight``, 1 when absent): following the MR
    paper, MR acts only on the noisy training part of MW-Net, never on the
    meta set.

    - ``normalize="sum"`` (default, like the reference MW-Net code):
      ``c_i = B v_i m_i / sum_j v_j m_j``, i.e. the loss is
      ``sum_i v_i m_i l_i / sum_j v_j m_j``.  A batch whose weights are all
      zero gets ``c = 0`` (no update) instead of a division by zero.
    - ``normalize="none"`` (the equations of the RMNW paper):
      ``c_i = v_i m_i`` so the loss is ``(1/n) sum_i W(l_i) l_i``.

    Args:
        net_weights: ``(B,)`` weighting-network outputs ``v``.
        sample_weight: optional ``(B,)`` MR / user weights ``m``.
        normalize: ``"sum"`` or ``"none"``.
        weight_sum: total ``sum_j v_j m_j`` over the *global* batch, when it
            differs from the local sum (``tf.distribute``); default local sum.
        batch_size: global batch size ``B``; default local batch size.

    Returns:
        ``(B,)`` coefficients ``c``.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"`normalize` must be one of {NORMALIZATIONS}, got {normalize!r}.")
    v = ops.reshape(ops.convert_to_tensor(net_weights), (-1,))
    if sample_weight is not None:
        v = v * ops.cast(ops.reshape(sample_weight, (-1,)), v.dtype)
    if normalize == "none":
        return v
    if batch_size is None:
        batch_size = ops.shape(v)[0]
    batch_size = ops.cast(batch_size, v.dtype)
    total = ops.sum(v) if weight_sum is None else ops.cast(weight_sum, v.dtype)
    safe_total = ops.where(total > 0, total, ops.ones_like(total))
    return ops.where(total > 0, v * batch_size / safe_total, ops.zeros_like(v))

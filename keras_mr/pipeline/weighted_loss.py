"""Per-batch weight normalisation shared by every weighting method.

The MR paper (Algorithm 1) normalises each mini-batch update by the sum of
the weights in that batch::

    theta <- theta - alpha * sum_{i in B} p_i grad l_i / sum_{i in B} p_i

Keras' default loss reduction (``"sum_over_batch_size"``) computes
``sum_i w_i l_i / B`` instead.  The two agree when the weights of each batch
are rescaled to sum to the batch size ``B``, which is what
:func:`normalize_batch_weights` does.  The :mod:`keras_mr` input pipelines
apply it after batching, on the *global* batch, so that the result is also
exact under ``tf.distribute`` (each replica averages over its share and Keras
sums the replicas' gradients scaled by ``1 / num_replicas``).

Custom ``train_step`` implementations therefore reduce per-example losses with
:func:`weighted_mean`, which is ``mean(w * l)``: with pipeline weights this is
the paper's weighted average, with no weights it is the plain mean.
"""

from keras import ops

# Keys of the sample-weight dict of ``MRSampleWeighter(loss_source="train")`` pipelines.
WEIGHT_KEY = "weight"
INDEX_KEY = "index"


def unpack_sample_weight(sample_weight):
    """Returns ``(weight, index)``; ``index`` is ``None`` for ordinary weights.

    With ``MRSampleWeighter(loss_source="train")`` the pipeline's sample weight is
    ``{"weight": (B,) float32, "index": (B,) int32}``; otherwise it is the weights.
    """
    if isinstance(sample_weight, dict) and INDEX_KEY in sample_weight:
        return sample_weight.get(WEIGHT_KEY), sample_weight[INDEX_KEY]
    return sample_weight, None


def normalize_batch_weights(sample_weight):
    """Rescales a batch of weights so that they sum to the batch size.

    A batch whose weights are all zero (possible with random weighting or a
    very small batch) keeps all-zero weights: it then contributes no gradient,
    instead of a division by zero.

    Args:
        sample_weight: tensor of shape ``(B,)`` with non-negative weights.

    Returns:
        Tensor of shape ``(B,)``: ``w * B / sum(w)``, or zeros if ``sum(w) == 0``.

    Example:

    >>> normalize_batch_weights(np.array([1., 3.]))  # doctest: +SKIP
    array([0.5, 1.5])
    """
    w = ops.convert_to_tensor(sample_weight)
    batch = ops.cast(ops.shape(w)[0], w.dtype)
    total = ops.sum(w)
    safe_total = ops.where(total > 0, total, ops.ones_like(total))
    return ops.where(total > 0, w * batch / safe_total, ops.zeros_like(w))


def weighted_mean(per_example_loss, sample_weight=None):
    """Reduces per-example losses with batch-normalised weights.

    Args:
        per_example_loss: tensor of shape ``(B,)``.
        sample_weight: optional tensor of shape ``(B,)``, normalised per batch
            as produced by the :mod:`keras_mr` pipelines (they sum to ``B``),
            so that ``mean(w * l) == sum(p l) / sum(p)``.  ``None`` means
            uniform weights.

    Returns:
        Scalar tensor.
    """
    loss = ops.convert_to_tensor(per_example_loss)
    if sample_weight is None:
        return ops.mean(loss)
    w = ops.cast(ops.reshape(sample_weight, ops.shape(loss)), loss.dtype)
    return ops.mean(w * loss)

"""Weighted reduction of per-example losses in custom ``train_step`` implementations.

The :mod:`keras_mr` pipelines deliver weights rescaled per batch to sum to the batch
size (:mod:`keras_mr.pipeline.batch_weights`), so :func:`weighted_mean`,
``mean(w * l)``, is the MR paper's weighted average ``sum_B p_i l_i / sum_B p_i``; with
no weights it is the plain mean.
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

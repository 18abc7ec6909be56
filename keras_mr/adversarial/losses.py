"""Per-example cross-entropy and correctness from logits, for sparse or one-hot labels."""

from keras import ops


def per_example_cross_entropy(y, logits):
    """Per-example cross-entropy from logits, sparse or one-hot labels.

    Args:
        y: integer labels ``(B,)``/``(B, 1)`` or one-hot/soft labels
            ``(B, C)``.
        logits: ``(B, C)`` logits (any float dtype; computed in float32).

    Returns:
        ``(B,)`` float32 losses.
    """
    logits = ops.cast(logits, "float32")
    y = ops.convert_to_tensor(y)
    if _is_one_hot(y, logits):
        return ops.categorical_crossentropy(ops.cast(y, "float32"), logits, from_logits=True)
    y = ops.reshape(y, (-1,))
    return ops.sparse_categorical_crossentropy(ops.cast(y, "int32"), logits, from_logits=True)


def label_indices(y, logits):
    """``(B,)`` int32 class indices of sparse labels, or the argmax of one-hot/soft ones."""
    y = ops.convert_to_tensor(y)
    if _is_one_hot(y, ops.convert_to_tensor(logits)):
        return ops.cast(ops.argmax(y, axis=-1), "int32")
    return ops.cast(ops.reshape(y, (-1,)), "int32")


def per_example_correct(y, logits):
    """``(B,)`` float32 indicator of ``argmax(logits) == label``."""
    pred = ops.cast(ops.argmax(logits, axis=-1), "int32")
    return ops.cast(ops.equal(pred, label_indices(y, logits)), "float32")


def _is_one_hot(y, logits):
    """Whether ``y`` holds one-hot/soft labels ``(B, C)`` for ``(B, C)`` logits."""
    num_classes = logits.shape[-1]
    return len(y.shape) == len(logits.shape) and y.shape[-1] == num_classes and num_classes != 1

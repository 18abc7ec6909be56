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
    num_classes = logits.shape[-1]
    if len(y.shape) == len(logits.shape) and y.shape[-1] == num_classes and num_classes != 1:
        return ops.categorical_crossentropy(ops.cast(y, "float32"), logits, from_logits=True)
    y = ops.reshape(y, (-1,))
    return ops.sparse_categorical_crossentropy(ops.cast(y, "int32"), logits, from_logits=True)


def per_example_correct(y, logits):
    """``(B,)`` float32 indicator of ``argmax(logits) == label``."""
    logits = ops.convert_to_tensor(logits)
    y = ops.convert_to_tensor(y)
    pred = ops.argmax(logits, axis=-1)
    if (
        len(y.shape) == len(logits.shape)
        and y.shape[-1] == logits.shape[-1]
        and logits.shape[-1] != 1
    ):
        label = ops.argmax(y, axis=-1)
    else:
        label = ops.reshape(y, (-1,))
    return ops.cast(ops.equal(ops.cast(pred, "int32"), ops.cast(label, "int32")), "float32")

"""Batch-weight normalisation: one rule, in the three places batches are made.

The MR paper (Algorithm 1) normalises each mini-batch update by the sum of the weights
in that batch::

    theta <- theta - alpha * sum_{i in B} p_i grad l_i / sum_{i in B} p_i

Keras' default loss reduction (``"sum_over_batch_size"``) computes ``sum_i w_i l_i / B``
instead.  The two agree when the weights of each batch are rescaled to sum to the batch
size ``B``: ``w * B / sum(w)``, all-zero weights staying zero (such a batch contributes
no gradient instead of a division by zero).  The :mod:`keras_mr` input pipelines apply
it after batching, on the *global* batch, so that the result is also exact under
``tf.distribute`` (each replica averages over its share and Keras sums the replicas'
gradients scaled by ``1 / num_replicas``).

The same rule runs in three places, side by side here:

* :func:`normalize_batch_weights`: ``keras.ops``, inside a model's ``train_step``
  (e.g. after mixup), on any backend;
* :func:`normalize_batch_weights_tf`: plain TensorFlow, inside ``tf.data`` (the
  pipeline runs in TensorFlow whatever the Keras backend is, so ``keras.ops`` would be
  the wrong ops there);
* :func:`normalize_batch_weights_np`: NumPy float32, in the TensorFlow-free
  ``keras.utils.PyDataset`` pipeline (:mod:`keras_mr.pipeline.array_pipeline`).
"""

import numpy as np
from keras import ops

from keras_mr._internal.backend import LazyTensorFlow

tf = LazyTensorFlow("keras-mr's tf.data weight lookup")


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


def normalize_batch_weights_tf(w):
    """:func:`normalize_batch_weights` in plain TF ops, for the ``tf.data`` pipeline.

    The pipeline runs inside ``tf.data`` whatever the Keras backend is, so it
    cannot use ``keras.ops`` (which would be JAX ops under the JAX backend).
    """
    total = tf.reduce_sum(w)
    batch = tf.cast(tf.size(w), w.dtype)
    return tf.math.divide_no_nan(w * batch, total)


def normalize_batch_weights_np(w):
    """:func:`normalize_batch_weights` in NumPy (float32), for the TensorFlow-free pipeline.

    Example:

    >>> normalize_batch_weights_np(np.array([1.0, 3.0])).tolist()
    [0.5, 1.5]
    """
    w = np.asarray(w, dtype=np.float32)
    total = w.sum(dtype=np.float64)
    if total <= 0:
        return np.zeros_like(w)
    return (w * (w.size / total)).astype(np.float32)

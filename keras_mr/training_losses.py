"""Per-example training losses for ``MRSampleWeighter(loss_source="train")``.

In that mode the weight pipeline packs each example's index with its weight
(``w + 1j * index``, see :func:`keras_mr.indexed_data.make_weight_lookup`) and
the weighter gives the model a recorder: a pair of ``(N,)`` sync-on-read
variables summing, per example, the training losses and their count since the
last update.  A custom ``train_step`` takes part with two calls::

    weight, index = keras_mr.training_losses.unpack_sample_weight(sample_weight)
    ...
    keras_mr.training_losses.record_training_losses(self, index, per_example_loss)

Both are no-ops for ordinary weights (``index is None``) or when no weighter
in ``"train"`` mode is attached.
"""

import tensorflow as tf

from keras_mr.indexed_data import is_packed_weight
from keras_mr.indexed_data import split_packed_weight

RECORDER_ATTR = "_keras_mr_recorder"


def unpack_sample_weight(sample_weight):
    """Returns ``(weight, index)``; ``index`` is ``None`` unless packed."""
    if is_packed_weight(sample_weight):
        return split_packed_weight(sample_weight)
    return sample_weight, None


def record_training_losses(model, index, per_example_loss):
    """Adds this replica's per-example losses to the model's recorder.

    Sync-on-read variables support ``assign_add`` in replica context (not
    scatter), so the share of this replica is added as a dense scatter;
    reading the variable sums over replicas.
    """
    recorder = getattr(model, RECORDER_ATTR, None)
    if index is None or recorder is None:
        return
    sums, counts = recorder
    losses = tf.cast(tf.reshape(per_example_loss, [-1]), tf.float64)
    index = tf.reshape(tf.cast(index, tf.int64), [-1, 1])
    shape = tf.shape(sums, out_type=tf.int64)
    sums.assign_add(tf.scatter_nd(index, losses, shape))
    counts.assign_add(tf.scatter_nd(index, tf.ones_like(losses), shape))

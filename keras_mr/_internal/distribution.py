"""Replica arithmetic for custom training steps under ``tf.distribute``.

Keras sums the gradients of the replicas, so a step that computes a replica-local
mean loss must divide it by the number of replicas before ``tape.gradient`` (and,
with mixed precision, apply the optimizer's loss scale).  :func:`scale_loss_for_gradient`
is the one place keras-mr does this; the other helpers give the replica context
and cross-replica sums/gathers, and are no-ops with one replica or off TensorFlow.
"""

import keras
from keras import ops


def _tensorflow():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf


def num_replicas():
    """Replicas in sync under the current ``tf.distribute`` strategy (1 off TensorFlow)."""
    tf = _tensorflow()
    return 1 if tf is None else tf.distribute.get_strategy().num_replicas_in_sync


def replica_context():
    """The ``tf.distribute`` replica context when there are several replicas, else ``None``."""
    tf = _tensorflow()
    if tf is None or not tf.distribute.has_strategy():
        return None
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    return ctx


def all_sum(value):
    """Sum of ``value`` over the replicas (``value`` itself with one replica)."""
    ctx = replica_context()
    return value if ctx is None else ctx.all_reduce("SUM", value)


def all_gather_with_offset(value):
    """Concatenates ``value`` over the replicas along axis 0.

    Returns:
        ``(global_value, offset)``: the concatenation, and where this replica's rows start
        in it (``(value, 0)`` with one replica).
    """
    ctx = replica_context()
    if ctx is None:
        return value, 0
    tf = _tensorflow()
    sizes = ctx.all_gather(tf.shape(value)[:1], axis=0)
    offset = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    return ctx.all_gather(value, axis=0), offset


def scale_loss_for_gradient(loss, optimizer=None):
    """Scales a replica-local loss as Keras does before ``tape.gradient``.

    Divides by the number of replicas (their gradients are summed) and applies
    ``optimizer.scale_loss`` (the loss scale of mixed precision), if an optimizer is given.

    Args:
        loss: scalar loss of this replica's batch.
        optimizer: the model's optimizer, or ``None``.

    Returns:
        The scaled scalar.
    """
    replicas = num_replicas()
    if replicas > 1:
        loss = loss * ops.cast(1.0 / replicas, loss.dtype)
    if optimizer is not None:
        loss = optimizer.scale_loss(loss)
    return loss

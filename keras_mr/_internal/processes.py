"""Multi-process data parallelism on the JAX backend (Keras' distribution API).

With several JAX processes (``jax.distributed.initialize``) and a
``keras.distribution.DataParallel(..., auto_shard_dataset=False)`` distribution set,
Keras builds every global batch from the rows each process feeds, in process order.
keras-mr's array pipeline therefore gives each process a contiguous part of every global
batch (:func:`local_rows`), with the weights normalised over the *global* batch, so the
global batches are those of a single-process run; the loss pass feeds each process's
part of every evaluation batch as one global array (:func:`global_batch`) and gathers
the losses of all processes (:func:`gather_rows`), so every process updates the weights
from all N losses and all processes hold identical weights.

Everything here is the identity with one process (or on another backend).
"""

from typing import NamedTuple

import keras
import numpy as np


class ProcessShard(NamedTuple):
    """This process's place in the run: ``index`` in ``[0, count)``."""

    index: int
    count: int


def process_shard():
    """``ProcessShard`` of this process; ``(0, 1)`` unless a JAX distribution spans processes."""
    distribution = keras.distribution.distribution()
    if keras.backend.backend() != "jax" or distribution is None:
        return ProcessShard(0, 1)
    import jax

    shard = ProcessShard(jax.process_index(), jax.process_count())
    if shard.count > 1:
        check_feeds_process_rows(distribution)
    return shard


FIRST_KERAS_FEEDING_ROWS = (3, 11)  # keras-team/keras#21430: PyDatasets in multi-process runs


def check_feeds_process_rows(distribution, keras_version=None):
    """Raises a ``ValueError`` unless Keras takes each process's own rows of a batch.

    keras-mr feeds every process its part of each global batch itself, which Keras
    accepts from a ``PyDataset`` only from Keras 3.11 on, and only with
    ``DataParallel(..., auto_shard_dataset=False)`` (older releases take only ``tf.data``
    in a multi-process run).

    Args:
        distribution: the current ``keras.distribution`` distribution.
        keras_version: ``(major, minor)``; default: the installed Keras.
    """
    version = keras_version or tuple(int(v) for v in keras.version().split(".")[:2])
    if tuple(version) < FIRST_KERAS_FEEDING_ROWS:
        raise ValueError(
            f"Keras {'.'.join(map(str, version))} feeds a multi-process JAX run from tf.data "
            "only, and keras-mr's multi-process pipeline is a PyDataset: upgrade Keras to 3.11 "
            "or newer."
        )
    if getattr(distribution, "auto_shard_dataset", True):
        raise ValueError(
            "With several JAX processes keras-mr feeds each process its part of every batch "
            "itself: create the distribution with "
            "keras.distribution.DataParallel(..., auto_shard_dataset=False)."
        )


def check_batch_sizes(num_examples, batch_size, drop_remainder, shard, what="batch_size"):
    """Raises a ``ValueError`` unless every global batch splits evenly over the processes."""
    if shard.count == 1:
        return
    last = 0 if drop_remainder else num_examples % batch_size
    if batch_size % shard.count or last % shard.count:
        raise ValueError(
            f"{shard.count} processes share every batch, so `{what}` ({batch_size}) and the "
            f"last batch ({last} of {num_examples} examples) must be multiples of "
            f"{shard.count}. Choose a {what} that is a multiple of {shard.count} and use "
            "attach(..., drop_remainder=True) or a number of examples it divides."
        )


def local_rows(positions, shard):
    """This process's contiguous part of a global batch's ``positions``."""
    if shard.count == 1:
        return positions
    part = len(positions) // shard.count
    return positions[shard.index * part : (shard.index + 1) * part]


def padded(positions, shard):
    """``positions`` padded with its last entry to a multiple of the process count."""
    extra = -len(positions) % shard.count
    return positions if not extra else np.concatenate([positions, np.repeat(positions[-1:], extra)])


def global_batch(local, shard):
    """The global array (batch-sharded) of a structure of per-process row blocks."""
    if shard.count == 1:
        return local
    import jax

    distribution = keras.distribution.distribution()

    def put(block):
        block = np.asarray(block)
        shape = (block.shape[0] * shard.count, *block.shape[1:])
        sharding = distribution.get_data_layout(shape).backend_layout
        return jax.make_array_from_process_local_data(sharding, block, shape)

    return keras.tree.map_structure(put, local)


def gather_rows(values, shard):
    """NumPy rows of a batch-sharded global array, from every process, in batch order."""
    if shard.count == 1:
        return keras.ops.convert_to_numpy(values)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(values, tiled=True))

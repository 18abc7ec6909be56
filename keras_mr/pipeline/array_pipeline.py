"""The weighted training pipeline without TensorFlow: a ``keras.utils.PyDataset``.

``SampleWeighter.attach`` builds this pipeline when TensorFlow is not installed
(Keras on the JAX or PyTorch backend), or on request (``attach(..., pipeline="pydataset")``).
It does what the ``tf.data`` pipeline of :mod:`keras_mr.pipeline.indexed_data` does:

- the order of epoch ``e`` is a permutation keyed by ``(seed, e)`` only (NumPy's
  ``default_rng([seed, e])``: a different order from ``tf.data``'s ``index_shuffle``,
  the same guarantee: resumed runs replay it);
- each batch is gathered from the arrays, passed through ``augment``, and gets its
  weights from the weighter's table *when the batch is built*, rescaled to sum to the
  batch size (and multiplied by the class weights), exactly as the ``tf.data`` lookup;
- the weighter reads and writes the table, the lookup counter and the shuffle key
  through :class:`HostValue`, the host-side stand-in of the ``tf.Variable``s the
  ``tf.data`` pipeline uses, so the callback is the same for both pipelines.

Batches are built in the training process (``workers=1``, no multiprocessing), so a
weight update is seen by the next batch built.

With several JAX processes under ``keras.distribution.DataParallel(...,
auto_shard_dataset=False)`` (set before ``attach``), each process feeds its contiguous
part of every global batch, whose weights are normalised over the whole global batch
(:mod:`keras_mr._internal.processes`): the global batches equal a single-process run's.
"""

import warnings

import keras
import numpy as np

from keras_mr._internal import processes
from keras_mr.pipeline.batch_weights import normalize_batch_weights_np
from keras_mr.pipeline.indexed_data import FORGOTTEN_WEIGHTER
from keras_mr.pipeline.indexed_data import IDLE_LOOKUPS_BEFORE_WARNING
from keras_mr.pipeline.indexed_data import standardize_array


class HostValue:
    """A NumPy array with the ``assign``/``numpy`` interface of a ``tf.Variable``.

    Args:
        value: initial value (its shape and dtype are kept).
    """

    def __init__(self, value):
        self.value = np.array(value)

    def assign(self, value):
        self.value[...] = np.asarray(value, dtype=self.value.dtype)

    def assign_add(self, delta):
        self.value += np.asarray(delta, dtype=self.value.dtype)

    def numpy(self):
        return self.value.copy()


def epoch_order(num_examples, seed, epoch):
    """The order of the examples in epoch ``epoch``: depends only on ``(seed, epoch)``.

    Example:

    >>> order = epoch_order(5, seed=3, epoch=0)
    >>> sorted(order.tolist()), bool((order == epoch_order(5, 3, 0)).all())
    ([0, 1, 2, 3, 4], True)
    """
    rng = np.random.default_rng([int(seed) % 2**63, int(epoch)])
    return rng.permutation(num_examples)


def class_index_np(y, num_classes):
    """Class of every label: sparse ``(B,)``/``(B, 1)`` or one-hot ``(B, C)`` labels."""
    y = np.asarray(y)
    if y.ndim >= 2 and y.shape[-1] != 1:
        return np.argmax(y, axis=-1)
    return np.clip(y.reshape(-1).astype(np.int64), 0, num_classes - 1)


class ArrayBatches:
    """Unshuffled batches ``(x, y, index)`` of in-memory arrays, for the loss pass.

    Args:
        x: inputs (array or nested arrays).
        y: labels (array or nested arrays).
        batch_size: batch size.
    """

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, int(batch_size)
        self.num_examples = len(keras.tree.flatten(y)[0])
        self.shard = processes.process_shard()
        processes.check_batch_sizes(  # the last batch is padded (see as_numpy_iterator)
            self.num_examples, self.batch_size, True, self.shard, "eval_batch_size"
        )

    def cardinality(self):
        return -(-self.num_examples // self.batch_size)

    def as_numpy_iterator(self):
        """Yields ``(x, y, index)``: with several processes, this process's rows of every
        batch (the last one padded by repeating its last example) and the global indices."""
        for start in range(0, self.num_examples, self.batch_size):
            pos = np.arange(start, min(start + self.batch_size, self.num_examples))
            pos = processes.padded(pos, self.shard)
            rows = processes.local_rows(pos, self.shard)
            yield take(self.x, rows), take(self.y, rows), pos.astype(np.int32)

    __iter__ = as_numpy_iterator


def take(structure, positions):
    """Rows ``positions`` of every array of a nested structure."""
    return keras.tree.map_structure(lambda a: a[positions], structure)


class WeightedArrayDataset(keras.utils.PyDataset):
    """Batches ``(x, y, sample_weight)`` whose weights are read at batch time.

    Args:
        x: inputs (array or nested arrays), ``N`` rows.
        y: labels, ``N`` rows.
        options: :class:`keras_mr.pipeline.weighted_pipeline.PipelineOptions`.
        state: ``(table, counter, key, idle)`` :class:`HostValue`\\ s: relative weights
            ``N * p`` ``(N,)``, the lookup counter, the shuffle key ``(seed, epoch)``, and
            the batches read while the weighter is not running (-1 while it runs; see
            :func:`keras_mr.pipeline.indexed_data.make_weight_lookup`).
        class_weights: optional float32 ``(C,)`` class weights.
        with_index: sample weights are ``{"weight", "index"}`` dicts.
    """

    def __init__(self, x, y, options, state, class_weights=None, with_index=False):
        super().__init__(workers=1, use_multiprocessing=False)
        self.x = keras.tree.map_structure(standardize_array, x)
        self.y = keras.tree.map_structure(np.asarray, y)
        self.options = options
        self.table, self.counter, self.key, self.idle = state
        self.class_weights = class_weights
        self.with_index = with_index
        self.num_examples = len(keras.tree.flatten(self.y)[0])
        self._order_key, self._order = None, None
        self.shard = processes.process_shard()
        processes.check_batch_sizes(
            self.num_examples, options.batch_size, options.drop_remainder, self.shard
        )

    def _count_idle_lookup(self):
        if int(self.idle.numpy()) < 0:  # the weighter runs
            return
        self.idle.assign_add(1)
        if int(self.idle.numpy()) == IDLE_LOOKUPS_BEFORE_WARNING:
            warnings.warn(FORGOTTEN_WEIGHTER, RuntimeWarning, stacklevel=2)

    def __len__(self):
        b = self.options.batch_size
        n = self.num_examples
        return n // b if self.options.drop_remainder else -(-n // b)

    def _positions(self, index):
        b = self.options.batch_size
        pos = np.arange(index * b, min((index + 1) * b, self.num_examples))
        if not self.options.shuffle:
            return pos
        key = tuple(int(k) for k in self.key.numpy())
        if key != self._order_key:
            self._order_key, self._order = key, epoch_order(self.num_examples, *key)
        return self._order[pos]

    def __getitem__(self, index):
        ids = self._positions(index)
        w = normalize_batch_weights_np(self.table.value[ids])  # over the global batch
        if self.class_weights is not None:
            labels = keras.tree.flatten(take(self.y, ids))[0]
            w = w * self.class_weights[class_index_np(labels, len(self.class_weights))]
        part = processes.local_rows(np.arange(len(ids)), self.shard)  # this process's rows
        ids, w = ids[part], w[part]
        xb, yb = take(self.x, ids), take(self.y, ids)
        if self.options.augment is not None:
            xb = self.options.augment(xb)
        self.counter.assign_add(1)
        self._count_idle_lookup()
        if self.with_index:
            return xb, yb, {"weight": w, "index": ids.astype(np.int32)}
        return xb, yb, w

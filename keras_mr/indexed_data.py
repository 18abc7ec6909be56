"""Indexed ``tf.data`` pipelines that carry per-example weights.

Weights reach ``model.fit`` through the input pipeline: every example carries
its index ``i`` in ``[0, N)``, and after batching a ``map`` looks ``p_i`` up
in a host ``tf.Variable`` and rescales the batch so that its weights sum to the
batch size (see :mod:`keras_mr.weighted_loss`).  Because the lookup runs every
time a batch is produced, a weight update written into the variable is seen by
the next batches, provided nothing *after* the lookup replays old batches:

- ``cache()`` after the lookup freezes the first epoch's weights forever;
- ``repeat()`` after the lookup lets the prefetch buffer run into the next
  epoch with the previous weights.

So cache, shuffle, batch and augment go *before* the lookup, which is what
:meth:`keras_mr.MRSampleWeighter.attach` builds.  The callbacks also count the
lookups and raise a ``ValueError`` at the end of an epoch if the counts show a
cached or repeated pipeline.
"""

import numpy as np
import tensorflow as tf


_INDEX_HELP = (
    "Build it with `keras_mr.indexed_dataset(x, y)` (or add the index yourself: "
    "`tf.data.Dataset.from_tensor_slices((x, y, tf.range(N, dtype=tf.int64)))`)."
)


def _num_rows(x):
    leaves = tf.nest.flatten(x)
    if not leaves:
        raise ValueError("`x` is empty.")
    n = len(leaves[0])
    for leaf in leaves:
        if len(leaf) != n:
            raise ValueError(
                f"All inputs must have the same number of examples; got {n} and {len(leaf)}."
            )
    return n


def indexed_dataset(x, y):
    """Makes an unbatched dataset of ``(x, y, index)`` from in-memory arrays.

    Args:
        x: array (or nested structure of arrays) with ``N`` rows.
        y: labels, ``N`` rows.

    Returns:
        ``tf.data.Dataset`` of ``(x_i, y_i, i)`` with ``i`` an ``int64`` scalar,
        in index order (unshuffled).

    Example:

    >>> ds = indexed_dataset(np.zeros((3, 2)), np.array([0, 1, 1]))
    >>> [int(i) for _, _, i in ds]
    [0, 1, 2]
    """
    if isinstance(x, tf.data.Dataset):
        raise TypeError(
            "`indexed_dataset` takes arrays; for a tf.data.Dataset of (x, y) use "
            "`ds.enumerate().map(lambda i, xy: (xy[0], xy[1], i))` before shuffling."
        )
    if y is None:
        raise ValueError("`y` is required: weighting needs a label for every example.")
    n = _num_rows(x)
    if len(y) != n:
        raise ValueError(f"`x` has {n} rows but `y` has {len(y)}.")
    idx = np.arange(n, dtype=np.int64)
    return tf.data.Dataset.from_tensor_slices((x, y, idx))


def check_indexed_spec(element_spec, batched, arg_name="dataset"):
    """Raises a clear error unless elements are ``(x, y, index)``."""
    if not isinstance(element_spec, tuple) or len(element_spec) != 3:
        raise ValueError(
            f"`{arg_name}` must yield (x, y, index) triples so that each example can be "
            f"matched to its weight, got elements {element_spec}. {_INDEX_HELP}"
        )
    idx_spec = element_spec[2]
    if not isinstance(idx_spec, tf.TensorSpec) or not idx_spec.dtype.is_integer:
        raise ValueError(
            f"The third element of `{arg_name}` must be an integer example index, got "
            f"{idx_spec}. {_INDEX_HELP}"
        )
    want = 1 if batched else 0
    if idx_spec.shape.rank is not None and idx_spec.shape.rank != want:
        kind = "batched (index shape (batch,))" if batched else "unbatched (index shape ())"
        raise ValueError(
            f"`{arg_name}` must be {kind}, got index shape {idx_spec.shape}. "
            + (
                "Pass `batch_size=` to attach() to let it batch an unbatched dataset."
                if not batched
                else "Batch it after shuffling, or pass it unbatched with `batch_size=`."
            )
        )


def is_batched_indexed(element_spec):
    """True when an ``(x, y, index)`` spec has a batch axis on the index."""
    return (
        isinstance(element_spec, tuple)
        and len(element_spec) == 3
        and isinstance(element_spec[2], tf.TensorSpec)
        and element_spec[2].shape.rank == 1
    )


def dataset_size(ds, num_examples=None, arg_name="dataset"):
    """Number of examples of an unbatched finite dataset."""
    if num_examples is not None:
        return int(num_examples)
    card = int(ds.cardinality())
    if card == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"`{arg_name}` is infinite (repeat()). Pass the finite, unbatched indexed dataset "
            "and let Keras iterate it once per epoch, or pass `num_examples=N`."
        )
    if card < 0:
        raise ValueError(
            f"The size of `{arg_name}` is unknown (e.g. after filter()). Pass `num_examples=N`."
        )
    return card


def make_weight_lookup(table, counter, pack_index=False):
    """Returns the ``map`` function ``(x, y, idx) -> (x, y, w)`` after batching.

    Args:
        table: ``tf.Variable`` ``(N,)`` of relative weights (``N * p``).
        counter: ``tf.Variable`` int64 scalar incremented once per batch (to
            detect cached/repeated pipelines).
        pack_index: if True (``loss_source="train"``), the weight is returned as
            ``complex128`` ``w + 1j * idx``: the example index rides in the
            imaginary part, so that the training step can record per-example
            losses (:meth:`keras_mr.MRSampleWeighter` patches ``compute_loss``),
            while any Keras code path that casts the weight to a float type
            (e.g. the symbolic build under ``tf.distribute``, metrics) sees
            the plain weight.  Indices are exact up to 2**53.
    """

    def lookup(x, y, idx):
        idx = tf.cast(tf.reshape(idx, [-1]), tf.int64)
        w = _normalize_batch_weights_tf(tf.gather(table, idx))
        with tf.control_dependencies([counter.assign_add(1)]):
            w = tf.identity(w)
        if pack_index:
            w = tf.complex(tf.cast(w, tf.float64), tf.cast(idx, tf.float64))
        return x, y, w

    return lookup


def _normalize_batch_weights_tf(w):
    """:func:`keras_mr.weighted_loss.normalize_batch_weights` in plain TF ops.

    The pipeline runs inside ``tf.data`` whatever the Keras backend is, so it
    cannot use ``keras.ops`` (which would be JAX ops under the JAX backend).
    """
    total = tf.reduce_sum(w)
    batch = tf.cast(tf.size(w), w.dtype)
    return tf.math.divide_no_nan(w * batch, total)


def split_packed_weight(sample_weight):
    """Splits a packed ``w + 1j * idx`` weight into ``(weight, index)``."""
    w = tf.cast(tf.math.real(sample_weight), tf.float32)
    idx = tf.cast(tf.math.imag(sample_weight), tf.int64)
    return w, idx


def is_packed_weight(sample_weight):
    """True for a weight packed by ``make_weight_lookup(pack_index=True)``."""
    return (
        sample_weight is not None
        and not isinstance(sample_weight, (list, tuple, dict))
        and "complex" in str(getattr(sample_weight, "dtype", ""))
    )

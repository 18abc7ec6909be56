"""Indexed ``tf.data`` pipelines that carry per-example weights.

Weights reach ``model.fit`` through the input pipeline: every example carries
its index ``i`` in ``[0, N)``, and after batching a ``map`` looks ``p_i`` up
in a host ``tf.Variable`` and rescales the batch so that its weights sum to the
batch size (see :mod:`keras_mr.pipeline.weighted_loss`).  Because the lookup runs every
time a batch is produced, a weight update written into the variable is seen by
the next batches, provided nothing *after* the lookup replays old batches:

- ``cache()`` after the lookup freezes the first epoch's weights forever;
- ``repeat()`` after the lookup lets prefetched batches run into the next
  epoch with the previous weights.

So cache, shuffle, batch and augment go *before* the lookup, and the pipeline
ends with ``prefetch(1)``: after a weight update at most the two batches that
were already looked up (the one in the prefetch buffer and the one being
built) carry the old weights; every later batch carries the new ones.

**Shuffling is a pure function of ``(seed, epoch)``.**  The order of epoch
``e`` is ``tf.random.experimental.index_shuffle`` of the positions keyed by
``(seed, e)`` (arrays), or a ``shuffle`` seeded by ``(seed, e)`` (datasets).
The callback writes ``(seed, e)`` into a host variable at the beginning of
every epoch from its saved state, so a run resumed from a checkpoint draws
exactly the batches the uninterrupted run would have drawn.

The training batches are ``(x, y, sample_weight)`` where ``sample_weight`` is a
float32 ``(B,)`` tensor, or, for ``MRSampleWeighter(loss_source="train")``, a
dict ``{"weight": (B,) float32, "index": (B,) int32}`` that the model unpacks
(:mod:`keras_mr.pipeline.loss_recording`).  Nothing in the pipeline or the training
graph is float64 or complex, so it runs on TPUs.
"""

import sys

import keras
import numpy as np

from keras_mr._internal.backend import LazyTensorFlow
from keras_mr.pipeline.batch_weights import normalize_batch_weights_tf

tf = LazyTensorFlow("keras-mr's tf.data pipeline (indexed_dataset, attach)")

INDEX_HELP = (
    "Build it with `keras_mr.indexed_dataset(x, y)` (or add the index yourself: "
    "`tf.data.Dataset.from_tensor_slices((x, y, tf.range(N)))`)."
)


# ----------------------------------------------------------------- checks
def _leaves(structure):
    return keras.tree.flatten(structure)


def is_tf_dataset(obj):
    """True for a ``tf.data.Dataset`` (without importing TensorFlow when it is absent)."""
    tf_module = sys.modules.get("tensorflow")
    return tf_module is not None and isinstance(obj, tf_module.data.Dataset)


def num_rows(structure, arg_name):
    """Number of rows shared by every array of a (nested) structure."""
    leaves = _leaves(structure)
    if not leaves:
        raise ValueError(f"`{arg_name}` is empty: it holds no arrays.")
    sizes = {len(leaf) for leaf in leaves}
    if len(sizes) != 1:
        raise ValueError(
            f"All arrays in `{arg_name}` must have the same number of rows, got {sorted(sizes)}."
        )
    return sizes.pop()


def check_arrays(x, y):
    """Validates in-memory training arrays; returns ``N``.

    Raises a ``ValueError``/``TypeError`` naming the argument for: missing or
    empty arrays, row-count mismatches, string/object labels, and NaN or inf
    in floating-point inputs or labels.
    """
    if y is None:
        raise ValueError(
            "`y` is required: weighting needs a label for every example. For a "
            "keras.utils.PyDataset or a generator, build an indexed tf.data.Dataset of "
            f"(x, y, index) and attach that. {INDEX_HELP}"
        )
    for name, value in (("x", x), ("y", y)):
        for leaf in _leaves(value):
            if is_tf_dataset(leaf) or not hasattr(leaf, "__len__"):
                raise TypeError(
                    f"`{name}` must be arrays (or a nested structure of arrays), got "
                    f"{type(leaf).__name__}. For a keras.utils.PyDataset or a generator, "
                    f"build an indexed tf.data.Dataset of (x, y, index) instead. {INDEX_HELP}"
                )
    n = num_rows(x, "x")
    n_y = num_rows(y, "y")
    if n != n_y:
        raise ValueError(f"`x` has {n} rows but `y` has {n_y}: give one label per example.")
    if n == 0:
        raise ValueError("`x` and `y` are empty: attach at least one training example.")
    for leaf in _leaves(y):
        kind = np.asarray(leaf).dtype.kind
        if kind in "OSUb" and kind != "b":
            raise TypeError(
                f"`y` holds {np.asarray(leaf).dtype} labels; Keras losses need numbers. Encode "
                "string labels as integers first, e.g. `classes, y = np.unique(y, "
                "return_inverse=True)`."
            )
    for name, value in (("x", x), ("y", y)):
        for leaf in _leaves(value):
            arr = np.asarray(leaf)
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
                bad = np.unique(np.nonzero(~np.isfinite(arr.reshape(len(arr), -1)))[0])
                fix = (
                    "Clean or impute them before training."
                    if name == "x"
                    else "Drop those examples or give them a label: a NaN label makes every "
                    "loss NaN and MR's update fails after the first epoch."
                )
                raise ValueError(
                    f"`{name}` contains NaN or inf in {bad.size} examples (first indices: "
                    f"{bad[:10].tolist()}). {fix}"
                )
    return n


def check_indexed_spec(element_spec, batched, arg_name="dataset"):
    """Raises a clear error unless elements are ``(x, y, index)``."""
    if not isinstance(element_spec, tuple) or len(element_spec) != 3:
        raise ValueError(
            f"`{arg_name}` must yield (x, y, index) triples so that each example can be "
            f"matched to its weight, got elements {element_spec}. {INDEX_HELP}"
        )
    idx_spec = element_spec[2]
    if not isinstance(idx_spec, tf.TensorSpec) or not idx_spec.dtype.is_integer:
        raise ValueError(
            f"The third element of `{arg_name}` must be an integer example index, got "
            f"{idx_spec}. {INDEX_HELP}"
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
    """Number of elements of a finite dataset."""
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


# ---------------------------------------------------------------- sources
def standardize_array(a):
    """Casts float64 inputs to Keras' float type, as ``model.fit`` does for arrays."""
    a = np.asarray(a)
    if a.dtype == np.float64:
        a = a.astype(keras.config.floatx())
    return a


def indexed_dataset(x, y):
    """Makes an unbatched dataset of ``(x, y, index)`` from in-memory arrays.

    Args:
        x: array (or nested structure of arrays) with ``N`` rows.
        y: labels (array or nested structure of arrays), ``N`` rows.

    Returns:
        ``tf.data.Dataset`` of ``(x_i, y_i, i)`` with ``i`` an ``int32``
        scalar, in index order (unshuffled).

    Example:

    >>> import numpy as np, keras_mr
    >>> ds = keras_mr.indexed_dataset(np.zeros((3, 2)), np.array([0, 1, 1]))
    >>> [int(i) for _, _, i in ds]
    [0, 1, 2]
    """
    if isinstance(x, tf.data.Dataset):
        raise TypeError(
            "`indexed_dataset` takes arrays; for a tf.data.Dataset of (x, y) use "
            "`ds.enumerate().map(lambda i, xy: (xy[0], xy[1], i))` before shuffling."
        )
    n = check_arrays(x, y)
    x = tf.nest.map_structure(standardize_array, x)
    y = tf.nest.map_structure(np.asarray, y)
    return tf.data.Dataset.from_tensor_slices((x, y, np.arange(n, dtype=np.int32)))


class ArraySource:
    """In-memory ``(x, y)`` served by position: batches are gathered at once.

    Shuffling permutes positions with ``index_shuffle`` keyed by a host
    variable ``key = (seed, epoch)``: one vectorised gather per batch, no
    shuffle buffer, and the order of an epoch depends only on ``key``.
    """

    def __init__(self, x, y):
        self.num_examples = check_arrays(x, y)
        with tf.device("/CPU:0"):
            self.x = tf.nest.map_structure(lambda a: tf.convert_to_tensor(standardize_array(a)), x)
            self.y = tf.nest.map_structure(lambda a: tf.convert_to_tensor(np.asarray(a)), y)

    def _gather(self, ids):
        take = lambda t: tf.gather(t, ids)
        return tf.nest.map_structure(take, self.x), tf.nest.map_structure(take, self.y), ids

    def batches(self, batch_size, key=None, drop_remainder=False):
        """Batched ``(x, y, index)``; shuffled per epoch when ``key`` is given."""
        n = self.num_examples
        ids = tf.data.Dataset.range(n).batch(batch_size, drop_remainder=drop_remainder)

        @tf.autograph.experimental.do_not_convert
        def gather(pos):
            pos = tf.cast(pos, tf.int32)
            if key is not None:
                pos = tf.random.experimental.index_shuffle(
                    pos, seed=tf.cast(key.read_value(), tf.int32), max_index=n - 1
                )
            return self._gather(pos)

        return ids.map(gather)

    @property
    def labels(self):
        return tf.nest.map_structure(lambda t: t.numpy(), self.y)


class DatasetSource:
    """An unbatched ``tf.data.Dataset`` of ``(x, y, index)``.

    Shuffling uses a buffer of the whole dataset seeded by ``(seed, epoch)``
    read from the host variable ``key`` when each epoch's iteration starts.
    """

    def __init__(self, dataset, num_examples=None, cache=False):
        check_indexed_spec(dataset.element_spec, batched=False, arg_name="x")
        self.num_examples = dataset_size(dataset, num_examples, "x")
        if self.num_examples == 0:
            raise ValueError("The attached dataset is empty: attach at least one example.")
        self.dataset = dataset.cache() if cache else dataset
        self.labels = None

    def batches(self, batch_size, key=None, drop_remainder=False):
        ds = self.dataset
        if key is not None:
            n = self.num_examples

            flat_specs = tf.nest.flatten(ds.element_spec)

            @tf.autograph.experimental.do_not_convert
            def epoch_order(_):
                # Dataset.shuffle takes Python seeds only; the op takes tensors.
                k = tf.cast(key.read_value(), tf.int64)
                variant = tf.raw_ops.ShuffleDataset(
                    input_dataset=tf.data.experimental.to_variant(ds),
                    buffer_size=tf.constant(n, tf.int64),
                    seed=k[0],
                    seed2=k[1] + 1,  # (0, 0) would mean "random"
                    output_types=[spec.dtype for spec in flat_specs],
                    output_shapes=[spec.shape for spec in flat_specs],
                    reshuffle_each_iteration=False,
                )
                return tf.data.experimental.from_variant(variant, ds.element_spec)

            ds = tf.data.Dataset.range(1).flat_map(epoch_order)
            ds = ds.apply(tf.data.experimental.assert_cardinality(n))
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
        return ds.map(lambda x, y, i: (x, y, tf.cast(i, tf.int32)))


# ----------------------------------------------------------------- lookup
def class_index(y, num_classes):
    """Class of every label of a batch: sparse ``(B,)``/``(B, 1)`` or one-hot ``(B, C)``."""
    y = tf.convert_to_tensor(y)
    if y.shape.rank is not None and y.shape.rank >= 2 and y.shape[-1] not in (None, 1):
        return tf.argmax(y, axis=-1, output_type=tf.int32)
    idx = tf.cast(tf.reshape(y, [-1]), tf.int32)
    return tf.clip_by_value(idx, 0, num_classes - 1)


# Batches read while the weighter is not running in fit before the pipeline says so: fit
# may read a batch or two ahead of the callbacks (building the model, prefetch).
IDLE_LOOKUPS_BEFORE_WARNING = 4
FORGOTTEN_WEIGHTER = (
    "keras-mr: batches of the dataset returned by attach() were read while its weighter was "
    "not running in fit(): pass it to fit, `model.fit(train_ds, shuffle=False, "
    "callbacks=[weighter])`; without it the weights stay uniform and the weighter learns "
    "nothing."
)


def make_weight_lookup(table, counter, with_index=False, class_weights=None, idle=None):
    """Returns the ``map`` function ``(x, y, idx) -> (x, y, sample_weight)``.

    Args:
        table: ``tf.Variable`` ``(N,)`` float32 of relative weights (``N * p``).
        counter: ``tf.Variable`` int64 scalar incremented once per batch (to
            detect cached/repeated pipelines).
        idle: optional ``tf.Variable`` int64 scalar: batches read while the weighter is
            not running (the weighter sets it to -1 while it runs, 0 when it stops); at
            ``IDLE_LOOKUPS_BEFORE_WARNING`` the pipeline prints ``FORGOTTEN_WEIGHTER``
            once to stderr.
        with_index: return ``{"weight": w, "index": idx}`` instead of ``w``
            (for ``loss_source="train"``).
        class_weights: optional float32 ``(C,)`` tensor; the batch-normalised
            MR weight is multiplied by the class weight of each label.
    """

    @tf.autograph.experimental.do_not_convert
    def lookup(x, y, idx):
        idx = tf.cast(tf.reshape(idx, [-1]), tf.int32)
        w = normalize_batch_weights_tf(tf.gather(table, idx))
        if class_weights is not None:
            w = w * tf.gather(class_weights, class_index(y, class_weights.shape[0]))
        checks = [counter.assign_add(1)]
        if idle is not None:
            checks.append(_count_idle_lookup(idle))
        with tf.control_dependencies(checks):
            w = tf.identity(w)
        if with_index:
            return x, y, {"weight": w, "index": idx}
        return x, y, w

    return lookup


def _count_idle_lookup(idle):
    """Counts a batch read while the weighter is not running; warns once at the threshold."""
    import sys

    def count():
        new = idle.assign_add(1, read_value=True)
        warn = tf.equal(new, IDLE_LOOKUPS_BEFORE_WARNING)
        return tf.cond(
            warn,
            lambda: _printed(tf.print(FORGOTTEN_WEIGHTER, output_stream=sys.stderr), new),
            lambda: new,
        )

    return tf.cond(tf.greater_equal(idle, 0), count, lambda: tf.identity(idle.value()))


def _printed(print_op, value):
    with tf.control_dependencies([print_op]):
        return tf.identity(value)

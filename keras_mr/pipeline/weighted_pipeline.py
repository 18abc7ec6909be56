"""The weighted training pipeline that ``SampleWeighter.attach`` builds.

:func:`build_weighted_pipeline` validates the training data, builds the
shuffled, batched, augmented ``tf.data`` pipeline whose batches look their
weights up in a host table (:mod:`keras_mr.pipeline.indexed_data`), and the unshuffled
view the loss pass reads.
"""

import inspect
import math
from typing import Any
from typing import NamedTuple

import keras
import numpy as np

from keras_mr._internal import processes
from keras_mr._internal.backend import require_tensorflow
from keras_mr._internal.backend import tensorflow_available
from keras_mr.pipeline import array_pipeline
from keras_mr.pipeline import indexed_data


class WeightedPipeline(NamedTuple):
    """What :func:`build_weighted_pipeline` returns."""

    train: Any  # batched (x, y, sample_weight) for fit
    eval_dataset: Any  # batched (x, y, index) for the loss pass, or None
    num_examples: int
    steps_per_epoch: Any  # int, or None when unknown
    table: Any  # tf.Variable (N,) float32: N * p
    counter: Any  # tf.Variable int64: lookups so far
    key: Any  # tf.Variable int64 (2,): (seed, epoch) of the shuffle
    seed: int
    labels: Any  # the label arrays (None for datasets)
    idle: Any  # tf.Variable int64: batches read while the weighter is not running (-1: it is)


def is_generator_like(x):
    """True for generators, iterators and ``keras.utils.PyDataset``."""
    return (
        inspect.isgenerator(x)
        or isinstance(x, keras.utils.PyDataset)
        or (hasattr(x, "__next__") and not hasattr(x, "__len__"))
    )


class PipelineOptions(NamedTuple):
    """The options of ``SampleWeighter.attach`` (documented there), as one value."""

    batch_size: Any = None
    shuffle: bool = True
    seed: Any = None
    augment: Any = None
    cache: bool = False
    eval_data: Any = None
    eval_batch_size: Any = None
    num_examples: Any = None
    drop_remainder: bool = False
    class_weight: Any = None
    pipeline: str = "auto"


PIPELINES = ("auto", "tf.data", "pydataset")


def use_pydataset(pipeline):
    """Whether ``attach(pipeline=...)`` builds the TensorFlow-free ``PyDataset`` pipeline.

    ``"auto"`` uses ``tf.data`` when TensorFlow can be imported, else the ``PyDataset``;
    with several JAX processes it is always the ``PyDataset`` (it feeds each process its
    part of every global batch).
    """
    if pipeline not in PIPELINES:
        raise ValueError(f"`pipeline` must be one of {PIPELINES}, got {pipeline!r}.")
    if processes.process_shard().count > 1:
        if pipeline == "tf.data":
            raise ValueError(
                "pipeline='tf.data' cannot feed several JAX processes their parts of each "
                "batch; use pipeline='pydataset' (or 'auto')."
            )
        return True
    if pipeline != "auto":
        return pipeline == "pydataset"
    return not tensorflow_available()


def build_weighted_pipeline(x, y=None, options=None, *, needs_eval_data, with_index):
    """Builds the weighted pipeline of ``SampleWeighter.attach``.

    Args:
        x: training inputs or an indexed ``tf.data.Dataset`` (see ``attach``).
        y: labels when ``x`` is arrays.
        options: :class:`PipelineOptions` (default: all defaults).
        needs_eval_data: a batched dataset without ``eval_data`` is an error
            (the loss pass needs an unshuffled view).
        with_index: batches carry ``{"weight", "index"}`` sample weights.

    Returns:
        A :class:`WeightedPipeline`.
    """
    options = options or PipelineOptions()
    check_training_inputs(x, options)
    if use_pydataset(options.pipeline):
        return build_array_pipeline(x, y, options, with_index)
    return build_tf_data_pipeline(x, y, options, needs_eval_data, with_index)


def check_training_inputs(x, options):
    """The checks every pipeline shares: indexed ``x``, ``batch_size`` and ``augment``."""
    if is_generator_like(x):
        raise TypeError(
            f"`x` is a {type(x).__name__}; attach() needs to know which example each "
            "row is. Pass arrays `attach(x, y, batch_size=...)`, or an indexed "
            f"tf.data.Dataset of (x, y, index). {indexed_data.INDEX_HELP}"
        )
    batch_size = options.batch_size
    if batch_size is not None and (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}.")
    if options.augment is not None and not callable(options.augment):
        raise TypeError(f"`augment` must be callable fn(x) -> x, got {options.augment!r}.")


def build_tf_data_pipeline(x, y, options, needs_eval_data, with_index):
    """The ``tf.data`` pipeline: weights looked up in a ``tf.Variable`` table per batch."""
    tf = require_tensorflow("SampleWeighter.attach")
    source, labels = training_source(tf, x, y, options)
    if source is None:  # the user's own batched pipeline
        n, steps_per_epoch = batched_dataset_size(x, options, needs_eval_data)
    else:
        n = source.num_examples
        steps_per_epoch = steps_in_epoch(n, int(options.batch_size), options.drop_remainder)
    eval_data, n = loss_pass_batches(source, options.eval_data, n, eval_batch_size(options))
    if n is None:
        raise ValueError("Cannot tell the number of training examples: pass `num_examples=N`.")
    class_table = class_weight_table(options.class_weight)
    seed = shuffle_seed(options.seed)
    with tf.init_scope(), tf.device("/CPU:0"):
        table = tf.Variable(tf.ones([n], tf.float32), trainable=False, name="weights")
        counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="lookups")
        key = tf.Variable([seed, 0], dtype=tf.int64, trainable=False, name="key")
        idle = tf.Variable(0, dtype=tf.int64, trainable=False, name="idle_lookups")

    if source is None:
        train = x
    else:
        train = source.batches(
            int(options.batch_size),
            key=key if options.shuffle else None,
            drop_remainder=options.drop_remainder,
        )
    if options.augment is not None:
        augment = options.augment
        train = train.map(lambda xb, yb, ib: (augment(xb), yb, ib))
    lookup = indexed_data.make_weight_lookup(
        table, counter, with_index=with_index, class_weights=class_table, idle=idle
    )
    # prefetch(1): after an update at most two batches carry old weights.
    train = train.map(lookup).prefetch(1)
    return WeightedPipeline(
        train, eval_data, n, steps_per_epoch, table, counter, key, seed, labels, idle
    )


def training_source(tf, x, y, options):
    """``(source, labels)``: where the training examples come from.

    ``source`` is an :class:`~keras_mr.pipeline.indexed_data.ArraySource` for arrays, a
    :class:`~keras_mr.pipeline.indexed_data.DatasetSource` for an unbatched indexed
    dataset, and ``None`` for a batched one (used as it is); ``labels`` are ``y`` for
    arrays, else ``None``.
    """
    if not isinstance(x, tf.data.Dataset):
        if options.batch_size is None:
            raise ValueError("`batch_size` is required when attaching arrays.")
        return indexed_data.ArraySource(x, y), y
    if y is not None:
        raise ValueError("`y` must be None when `x` is a tf.data.Dataset of (x, y, index).")
    if options.batch_size is None:
        indexed_data.check_indexed_spec(x.element_spec, batched=True, arg_name="x")
        return None, None
    return indexed_data.DatasetSource(x, options.num_examples, cache=options.cache), None


def batched_dataset_size(dataset, options, needs_eval_data):
    """``(N or None, steps per epoch or None)`` of a batched indexed dataset."""
    if options.eval_data is None and needs_eval_data:
        raise ValueError(
            "A batched dataset was attached, so the loss pass needs `eval_data`: the "
            "same examples as (x, y, index), unshuffled and un-augmented. Or attach "
            "the unbatched indexed dataset with `batch_size=`."
        )
    n = None if options.num_examples is None else int(options.num_examples)
    cardinality = int(dataset.cardinality())
    return n, (cardinality if cardinality >= 0 else None)


def loss_pass_batches(source, eval_data, n, batch_size):
    """``(batches, N)``: the unshuffled ``(x, y, index)`` batches the loss pass reads.

    ``eval_data`` when given (batched here if it is not; it tells ``N`` when nothing
    else did), else the training source in order; ``None`` for a batched dataset
    attached without ``eval_data``.
    """
    if eval_data is not None:
        batched = indexed_data.is_batched_indexed(eval_data.element_spec)
        indexed_data.check_indexed_spec(
            eval_data.element_spec, batched=batched, arg_name="eval_data"
        )
        if batched:
            return eval_data, n
        if n is None:
            n = indexed_data.dataset_size(eval_data, None, "eval_data")
        return eval_data.batch(batch_size), n
    if isinstance(source, indexed_data.ArraySource):
        return source.batches(batch_size), n
    if source is not None:
        return source.dataset.batch(batch_size), n
    return None, n


def steps_in_epoch(n, batch_size, drop_remainder):
    """Batches in one epoch of ``n`` examples; an error when ``drop_remainder`` leaves none."""
    steps = n // batch_size if drop_remainder else math.ceil(n / batch_size)
    if steps == 0:
        raise ValueError(
            f"`drop_remainder=True` with batch_size={batch_size} > N={n} leaves no batch."
        )
    return steps


def eval_batch_size(options):
    """The loss pass's batch size: ``eval_batch_size``, else ``max(256, 4 * batch_size)``."""
    return int(options.eval_batch_size or max(256, 4 * int(options.batch_size or 64)))


def shuffle_seed(seed):
    """``seed`` as an int, or a random one when it is ``None``."""
    return int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)


def build_array_pipeline(x, y, options, with_index):
    """The TensorFlow-free pipeline (:mod:`keras_mr.pipeline.array_pipeline`) over arrays."""
    if indexed_data.is_tf_dataset(x) or options.eval_data is not None:
        raise ValueError(
            "attach(pipeline='pydataset') takes in-memory arrays `attach(x, y, batch_size=...)`; "
            "tf.data datasets and `eval_data` need the tf.data pipeline (pipeline='tf.data')."
        )
    if options.batch_size is None:
        raise ValueError("`batch_size` is required when attaching arrays.")
    n = indexed_data.check_arrays(x, y)
    steps = steps_in_epoch(n, int(options.batch_size), options.drop_remainder)
    seed = shuffle_seed(options.seed)
    state = (
        array_pipeline.HostValue(np.ones(n, np.float32)),
        array_pipeline.HostValue(np.int64(0)),
        array_pipeline.HostValue(np.array([seed, 0], np.int64)),
        array_pipeline.HostValue(np.int64(0)),
    )
    train = array_pipeline.WeightedArrayDataset(
        x, y, options, state, class_weight_values(options.class_weight), with_index
    )
    eval_data = array_pipeline.ArrayBatches(train.x, train.y, eval_batch_size(options))
    table, counter, key, idle = state
    return WeightedPipeline(train, eval_data, n, steps, table, counter, key, seed, train.y, idle)


def class_weight_table(class_weight):
    """float32 ``(C,)`` tensor from ``{class: weight}`` with keys ``0..C-1``."""
    values = class_weight_values(class_weight)
    if values is None:
        return None
    return require_tensorflow("SampleWeighter.attach").constant(values)


def class_weight_values(class_weight):
    """float32 ``(C,)`` NumPy array from ``{class: weight}`` with keys ``0..C-1``."""
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict) or not class_weight:
        raise TypeError(
            f"`class_weight` must be a dict {{class index: weight}}, got {class_weight!r}."
        )
    keys = sorted(int(k) for k in class_weight)
    if keys != list(range(len(keys))):
        raise ValueError(f"`class_weight` must have the keys 0..C-1 (one per class), got {keys}.")
    values = np.array([float(class_weight[k]) for k in keys], dtype=np.float32)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"`class_weight` values must be finite and >= 0, got {values.tolist()}.")
    return values

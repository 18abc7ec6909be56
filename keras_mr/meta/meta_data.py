"""Meta data for Meta-Weight-Net: balanced meta samples and meta batch pipelines.

Meta-Weight-Net (MW-Net, Shu et al. 2019) learns its weighting network on a
small *meta* set.  MW-Net uses a separate clean ("gold") set; MNW-Net and
RMNW-Net (Ghosh & Lan, WACV 2021) draw the meta set from the *noisy* training
labels instead, per-class balanced (the paper uses 1000 meta samples, i.e. 10
per class on CIFAR-100 and 100 per class on CIFAR-10).

This module holds the three pieces of that set-up:

- :func:`balanced_meta_indices` / :func:`split_meta_set`: a seeded,
  per-class-balanced sample of the (noisy) training labels, held out from the
  training set or not;
- :func:`meta_dataset`: the meta ``tf.data`` pipeline (shuffled, repeats
  forever, fixed batch size);
- :func:`with_meta_batches`: zips a finite training pipeline (e.g. the one
  built by ``MRSampleWeighter.attach``) with the meta pipeline, so that every
  training batch carries its meta batch.  Feeding meta batches through the
  training dataset keeps ``train_step`` free of Python iterators, so it works
  under ``jit_compile`` and is split across replicas by ``tf.distribute``.
"""

import collections

import numpy as np

from keras_mr._internal.backend import require_tensorflow

META_X = "meta_x"
META_Y = "meta_y"
TRAIN_X = "x"

MetaSplit = collections.namedtuple(
    "MetaSplit", ["x_train", "y_train", "x_meta", "y_meta", "train_indices", "meta_indices"]
)
MetaSplit.__doc__ = """Result of :func:`split_meta_set`.

Fields: ``x_train``, ``y_train`` (training set, without the meta examples when
``hold_out=True``), ``x_meta``, ``y_meta`` (the meta set), ``train_indices``
and ``meta_indices`` (positions in the original arrays, e.g. to carry a noise
mask along).
"""


def _class_ids(labels):
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return np.argmax(labels, axis=1)
    labels = labels.reshape(-1)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise ValueError(
                "`labels` must be integer class ids or one-hot rows; got non-integer values."
            )
        labels = labels.astype(np.int64)
    return labels


def balanced_meta_indices(labels, per_class=None, size=None, num_classes=None, seed=0):
    """Indices of a per-class-balanced sample of a labelled set.

    Exactly ``per_class`` examples are drawn without replacement from every
    class, using the given labels (for MNW-Net/RMNW-Net these are the *noisy*
    training labels, so the meta set inherits the training noise).

    Args:
        labels: ``(N,)`` integer class ids or ``(N, K)`` one-hot labels.
        per_class: number of examples per class.  Give this or ``size``.
        size: total meta-set size; ``per_class = size // num_classes``.
        num_classes: number of classes ``K`` (default: ``max(label) + 1``, or
            the one-hot width).
        seed: seed of the draw.

    Returns:
        Sorted ``int64`` array of ``K * per_class`` indices.

    Raises:
        ValueError: if a class has fewer than ``per_class`` examples, or if
            neither / both of ``per_class`` and ``size`` are given.

    Example:

    >>> import numpy as np
    >>> y_noisy = np.repeat([0, 1, 2], [500, 300, 200])
    >>> idx = balanced_meta_indices(y_noisy, per_class=100, seed=0)
    >>> np.bincount(y_noisy[idx]).tolist()
    [100, 100, 100]
    """
    ids = _class_ids(labels)
    if num_classes is None:
        labels_arr = np.asarray(labels)
        if labels_arr.ndim == 2 and labels_arr.shape[1] > 1:
            num_classes = labels_arr.shape[1]
        else:
            num_classes = int(ids.max()) + 1 if ids.size else 0
    if (per_class is None) == (size is None):
        raise ValueError(
            "Give exactly one of `per_class` (examples per class) or `size` (total meta-set "
            f"size); got per_class={per_class!r}, size={size!r}."
        )
    if per_class is None:
        per_class = int(size) // int(num_classes)
        if per_class < 1:
            raise ValueError(
                f"`size`={size} is smaller than the number of classes ({num_classes}); "
                "the meta set needs at least one example per class."
            )
    per_class = int(per_class)
    if per_class < 1:
        raise ValueError(f"`per_class` must be >= 1, got {per_class}.")
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(int(num_classes)):
        members = np.flatnonzero(ids == c)
        if members.size < per_class:
            raise ValueError(
                f"Class {c} has only {members.size} examples, fewer than per_class={per_class}. "
                "Lower `per_class`/`size`."
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def split_meta_set(x, y, per_class=None, size=None, hold_out=True, num_classes=None, seed=0):
    """Draws a per-class-balanced meta set from a (noisy) training set.

    Args:
        x: training inputs, an array (or a list/tuple/dict of arrays) with
            ``N`` rows.
        y: training labels as used for training (noisy for MNW/RMNW-Net).
        per_class: meta examples per class (or give ``size``).
        size: total meta-set size (``per_class = size // K``).
        hold_out: if True (default, as in the MW-Net experiments), the meta
            examples are removed from the training set, so meta and training
            sets are disjoint.  If False, the training set stays complete and
            the meta set is a subset of it (every noisy label is still used
            for training).
        num_classes: number of classes, default inferred from ``y``.
        seed: seed of the draw.

    Returns:
        A :class:`MetaSplit` ``(x_train, y_train, x_meta, y_meta,
        train_indices, meta_indices)``.

    Example:

    >>> import numpy as np
    >>> x, y_noisy = np.random.rand(3000, 4), np.arange(3000) % 10
    >>> split = split_meta_set(x, y_noisy, size=1000, seed=0)
    >>> len(split.x_meta), len(split.x_train)
    (1000, 2000)
    """
    n = len(np.asarray(y))
    meta_idx = balanced_meta_indices(
        y, per_class=per_class, size=size, num_classes=num_classes, seed=seed
    )
    if hold_out:
        mask = np.ones(n, dtype=bool)
        mask[meta_idx] = False
        train_idx = np.flatnonzero(mask).astype(np.int64)
    else:
        train_idx = np.arange(n, dtype=np.int64)

    def take(a, idx):
        if isinstance(a, dict):
            return {k: np.asarray(v)[idx] for k, v in a.items()}
        if isinstance(a, (list, tuple)):
            return type(a)(np.asarray(v)[idx] for v in a)
        return np.asarray(a)[idx]

    return MetaSplit(
        take(x, train_idx),
        take(y, train_idx),
        take(x, meta_idx),
        take(y, meta_idx),
        train_idx,
        meta_idx,
    )


def meta_dataset(x_meta, y_meta=None, batch_size=100, shuffle=True, seed=0):
    """Infinite ``tf.data`` pipeline of meta batches ``(x_meta, y_meta)``.

    The meta set is shuffled (reshuffled at every pass when ``shuffle``),
    repeated forever and batched with a fixed batch size (``drop_remainder``),
    so a batch may span two passes when ``batch_size`` does not divide the
    meta-set size; ``batch_size`` may exceed the meta-set size.

    Args:
        x_meta: meta inputs (arrays), or a ``tf.data.Dataset`` of unbatched
            ``(x, y)`` pairs (then leave ``y_meta`` out).
        y_meta: meta labels.
        batch_size: meta batch size (the paper uses 100, like the training
            batch).  Under ``tf.distribute`` it must be divisible by the
            number of replicas.
        shuffle: shuffle the meta set.
        seed: shuffle seed.

    Returns:
        An infinite batched ``tf.data.Dataset``.
    """
    tf = require_tensorflow("meta_dataset / with_meta_batches")

    if int(batch_size) < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
    if isinstance(x_meta, tf.data.Dataset):
        if y_meta is not None:
            raise ValueError("Give `y_meta` only with array inputs, not with a tf.data.Dataset.")
        ds = x_meta
        size = None
    else:
        if y_meta is None:
            raise ValueError("`y_meta` is required when `x_meta` is an array.")
        size = len(np.asarray(y_meta))
        if size == 0:
            raise ValueError("The meta set is empty.")
        ds = tf.data.Dataset.from_tensor_slices((x_meta, y_meta))
    if shuffle:
        buffer = size if size is not None else 10_000
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return ds.repeat().batch(int(batch_size), drop_remainder=True)


def with_meta_batches(train_dataset, meta_batches):
    """Attaches one meta batch to every training batch.

    Args:
        train_dataset: finite batched ``tf.data.Dataset`` of ``(x, y)`` or
            ``(x, y, sample_weight)`` (e.g. from ``MRSampleWeighter.attach``).
        meta_batches: batched ``(x_meta, y_meta)`` dataset, normally infinite
            (see :func:`meta_dataset`).

    Returns:
        A dataset of ``({"x": x, "meta_x": x_meta, "meta_y": y_meta}, y[, w])``
        with the cardinality of ``train_dataset``, the input format of
        :class:`keras_mr.MetaWeightNet`'s ``train_step``.

    Example:

    ```python
    train_ds = weighter.attach(x_train, y_train, batch_size=100)
    ds = with_meta_batches(train_ds, meta_dataset(x_meta, y_meta, batch_size=100))
    model.fit(ds, epochs=10, shuffle=False, callbacks=[weighter])
    ```
    """
    tf = require_tensorflow("meta_dataset / with_meta_batches")

    if not isinstance(train_dataset, tf.data.Dataset):
        raise TypeError(
            "`train_dataset` must be a batched tf.data.Dataset of (x, y[, sample_weight]); got "
            f"{type(train_dataset).__name__}. Build one with tf.data or MRSampleWeighter.attach()."
        )
    if not isinstance(meta_batches, tf.data.Dataset):
        raise TypeError(
            "`meta_batches` must be a tf.data.Dataset of (x_meta, y_meta) batches; build it with "
            f"keras_mr.meta.meta_data.meta_dataset(). Got {type(meta_batches).__name__}."
        )
    spec = train_dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise ValueError(
            "`train_dataset` must yield (x, y) or (x, y, sample_weight) tuples; got element_spec "
            f"{spec!r}."
        )
    meta_spec = meta_batches.element_spec
    if not isinstance(meta_spec, tuple) or len(meta_spec) != 2:
        raise ValueError(
            f"`meta_batches` must yield (x_meta, y_meta) pairs; got element_spec {meta_spec!r}."
        )

    def merge(train, meta):
        x_meta, y_meta = meta
        inputs = {TRAIN_X: train[0], META_X: x_meta, META_Y: y_meta}
        return (inputs,) + tuple(train[1:])

    return tf.data.Dataset.zip((train_dataset, meta_batches)).map(
        merge, num_parallel_calls=tf.data.AUTOTUNE
    )

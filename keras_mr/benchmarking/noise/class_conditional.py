"""Class-conditional label noise: symmetric, uniform, pair-flip, flip and flip2."""

import numpy as np

from keras_mr.benchmarking.noise._common import check_inputs
from keras_mr.benchmarking.noise._common import corrupt_class_conditional
from keras_mr.benchmarking.noise._common import finish


def symmetric_noise(labels, rate, num_classes, seed=None, include_true=False):
    """Symmetric (uniform) label noise.

    Two conventions exist in the literature; both are available:

    - ``include_true=False`` (default, "symmetric, exclusive"): a fraction
      ``rate`` of the examples of every class gets a label drawn uniformly
      among the ``K - 1`` *other* classes.  ``T = (1 - rate) I +
      rate / (K - 1) (1 - I)``; realised noise rate exactly ``rate``
      (``round(rate * N) / N``).
    - ``include_true=True`` ("uniform", the RMNW paper's definition): a
      fraction ``rate`` of the examples is *resampled* uniformly among all
      ``K`` classes, so a resampled label keeps its value with probability
      ``1 / K``.  ``T = (1 - rate) I + rate / K``; the realised fraction of
      changed labels is ``rate * (K - 1) / K``.  Exactly ``round(rate * n_c)``
      examples of class ``c`` are resampled and the resampled labels are split
      over the ``K`` classes by the largest-remainder rule (the share that
      lands on the true class stays clean and is not in ``noisy_mask``).

    Args:
        labels: int array ``(N,)`` of clean class ids.
        rate: corruption (or resampling) rate in ``[0, 1]``.
        num_classes: ``K >= 2``.
        seed: int seed or ``None``.
        include_true: convention, see above.

    Returns:
        :class:`NoisyLabels`.

    Example:

    >>> res = symmetric_noise(np.repeat(np.arange(4), 50), 0.2, 4, seed=0)
    >>> int(res.noisy_mask.sum())
    40
    """
    labels, rate = check_inputs(labels, rate, num_classes)
    rng = np.random.default_rng(seed)
    k = num_classes
    if include_true:
        res = corrupt_class_conditional(labels, rate, k, lambda c: (np.arange(k), np.ones(k)), rng)
        t = np.full((k, k), rate / k) + (1.0 - rate) * np.eye(k)
    else:
        res = corrupt_class_conditional(
            labels, rate, k, lambda c: (np.delete(np.arange(k), c), np.ones(k - 1)), rng
        )
        t = np.full((k, k), rate / (k - 1))
        np.fill_diagonal(t, 1.0 - rate)
    return finish(res, t)


def pair_flip_noise(labels, rate, num_classes, seed=None):
    """Pair-flip noise: a fraction ``rate`` of class ``c`` is relabelled ``c + 1 (mod K)``.

    As in Co-teaching (Han et al., 2018), used by the MR paper (Table 4).
    ``T = (1 - rate) I + rate P`` with ``P`` the cyclic shift.  Exactly
    ``round(rate * N)`` examples are corrupted (per class, see module doc).

    Args:
        labels: int array ``(N,)`` of clean class ids.
        rate: noise rate in ``[0, 1]`` (``< 0.5`` keeps the true class the majority).
        num_classes: ``K >= 2``.
        seed: int seed or ``None``.

    Returns:
        :class:`NoisyLabels`.
    """
    labels, rate = check_inputs(labels, rate, num_classes)
    rng = np.random.default_rng(seed)
    k = num_classes
    res = corrupt_class_conditional(labels, rate, k, lambda c: ([(c + 1) % k], [1.0]), rng)
    t = (1.0 - rate) * np.eye(k) + rate * np.roll(np.eye(k), 1, axis=1)
    return finish(res, t)


def _random_other_classes(num_classes, how_many, rng):
    """For every class, ``how_many`` distinct random classes different from it."""
    out = np.empty((num_classes, how_many), dtype=np.int64)
    for c in range(num_classes):
        others = np.delete(np.arange(num_classes), c)
        out[c] = rng.choice(others, size=how_many, replace=False)
    return out


def flip_noise(labels, rate, num_classes, seed=None):
    """Flip noise (RMNW paper): each class flips to one fixed random other class.

    For every class ``c`` a target ``t(c) != c`` is drawn once (seeded,
    independently per class, so two classes may share a target); a fraction
    ``rate`` of class ``c`` is relabelled ``t(c)``.  Exactly
    ``round(rate * N)`` examples are corrupted.  With ``rate >= 0.5`` the noisy
    class becomes the majority.

    Args:
        labels: int array ``(N,)`` of clean class ids.
        rate: noise rate in ``[0, 1]``.
        num_classes: ``K >= 2``.
        seed: int seed or ``None``.

    Returns:
        :class:`NoisyLabels`.
    """
    labels, rate = check_inputs(labels, rate, num_classes)
    return _fixed_targets_noise(labels, rate, num_classes, 1, seed)


def flip2_noise(labels, rate, num_classes, seed=None):
    """Flip2 noise (RMNW paper; "flip" in MW-Net): two fixed random other classes per class.

    For every class ``c`` two distinct targets ``t1(c), t2(c) != c`` are
    drawn once; a fraction ``rate`` of class ``c`` is relabelled, half to
    each target (``T[c, t1] = T[c, t2] = rate / 2``).  Exactly
    ``round(rate * N)`` examples are corrupted, split evenly (within one)
    between the two targets.  Arguments and result as :func:`flip_noise`, with
    ``num_classes >= 3``.
    """
    labels, rate = check_inputs(labels, rate, num_classes, min_classes=3)
    return _fixed_targets_noise(labels, rate, num_classes, 2, seed)


def _fixed_targets_noise(labels, rate, num_classes, num_targets, seed):
    """Each class flips to ``num_targets`` fixed random other classes, evenly."""
    rng = np.random.default_rng(seed)
    k = num_classes
    targets = _random_other_classes(k, num_targets, rng)
    shares = [1.0] * num_targets
    res = corrupt_class_conditional(labels, rate, k, lambda c: (targets[c], shares), rng)
    t = (1.0 - rate) * np.eye(k)
    for j in range(num_targets):
        t[np.arange(k), targets[:, j]] += rate / num_targets
    return finish(res, t)


def lookalike_classes(x, labels, num_classes, how_many=2):
    """For every class, the ``how_many`` other classes whose mean input is nearest.

    Args:
        x: inputs ``(N, ...)`` (flattened per example).
        labels: int ``(N,)`` clean class ids; every class must occur.
        num_classes: ``K > how_many``.
        how_many: look-alikes per class.

    Returns:
        int ``(K, how_many)``, nearest first.

    Example:

    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> lookalike_classes(x, np.arange(4), 4, how_many=1).ravel().tolist()
    [1, 0, 3, 2]
    """
    flat = np.asarray(x, dtype=np.float64).reshape(len(labels), -1)
    labels = np.asarray(labels)
    if np.unique(labels).size != num_classes:
        raise ValueError("`labels` must contain every one of the `num_classes` classes.")
    centroids = np.stack([flat[labels == c].mean(0) for c in range(num_classes)])
    dist = ((centroids[:, None] - centroids[None]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    return np.argsort(dist, axis=1, kind="stable")[:, :how_many]


def confusion_noise(x, labels, rate, num_classes, seed=None):
    """Class-confusion noise: wrong labels are look-alike classes.

    What an annotator mixes up: in every class a fraction ``rate`` of the examples gets
    the label of one of the two classes whose mean input is nearest
    (:func:`lookalike_classes`; on Fashion-MNIST e.g. shirt / T-shirt / pullover,
    sandal / sneaker / boot), the nearest twice as often as the second.  Exactly
    ``round(rate * N)`` examples are corrupted (per class, see the module doc).

    Args:
        x: inputs ``(N, ...)``.
        labels: int array ``(N,)`` of clean class ids.
        rate: noise rate in ``[0, 1]``.
        num_classes: ``K >= 3``.
        seed: int seed or ``None``.

    Returns:
        :class:`NoisyLabels`.
    """
    labels, rate = check_inputs(labels, rate, num_classes, min_classes=3)
    rng = np.random.default_rng(seed)
    near = lookalike_classes(x, labels, num_classes, how_many=2)
    shares = [2.0 / 3.0, 1.0 / 3.0]
    res = corrupt_class_conditional(labels, rate, num_classes, lambda c: (near[c], shares), rng)
    t = (1.0 - rate) * np.eye(num_classes)
    for j, share in enumerate(shares):
        t[np.arange(num_classes), near[:, j]] += rate * share
    return finish(res, t)

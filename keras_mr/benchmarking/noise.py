"""Synthetic label noise: seeded, exact-rate generators.

Every generator is a pure NumPy function of the clean labels that returns a
:class:`NoisyLabels` named tuple ``(noisy_labels, noisy_mask,
transition_matrix)``:

- ``noisy_labels``: int array ``(N,)``, the corrupted labels;
- ``noisy_mask``: bool array ``(N,)``, ``True`` where ``noisy_labels != labels``;
- ``transition_matrix``: float ``(K, K)``, ``T[i, j] = P(noisy = j | clean = i)``
  of the noise model (row-stochastic).

Exact rates.  The papers define the class-conditional noise models by a
per-example probability.  Sampling each example independently makes the
realised rate random (and, with a bug-prone ``rate / K`` convention, far off);
here the *number* of corrupted examples is fixed instead:

- in every class ``c`` with ``n_c`` examples, ``round(rate * n_c)`` examples
  (chosen uniformly at random) are corrupted; the per-class counts are
  rounded with the largest-remainder rule so that the total is exactly
  ``round(rate * N)`` and each class gets ``floor`` or ``ceil`` of
  ``rate * n_c``;
- where a class spreads its corrupted examples over several targets
  (symmetric, flip2), the counts per target are split the same way, so the
  empirical transition matrix equals ``T`` up to one example per cell.

So ``noisy_mask.mean() == round(rate * N) / N`` for symmetric, pair-flip,
flip, flip2 and instance-dependent noise.  The one exception is
:func:`symmetric_noise` with ``include_true=True`` (see there), whose rate is
by definition a *resampling* probability.

Example:

>>> y = np.repeat(np.arange(10), 100)
>>> res = symmetric_noise(y, rate=0.4, num_classes=10, seed=0)
>>> res.noisy_mask.mean()
0.4
"""

import collections

import numpy as np

NoisyLabels = collections.namedtuple(
    "NoisyLabels", ["noisy_labels", "noisy_mask", "transition_matrix"]
)
NoisyLabels.__doc__ = """Result of a noise generator.

Fields:
    noisy_labels: int64 array ``(N,)``.
    noisy_mask: bool array ``(N,)``, ``noisy_labels != labels``.
    transition_matrix: float64 ``(K, K)``, ``P(noisy = j | clean = i)``.
"""


# --------------------------------------------------------------- validation


def _check_inputs(labels, rate, num_classes, max_rate=1.0, min_classes=2):
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(
            f"`labels` must be a 1-D array of integer class ids, got shape {labels.shape}; "
            "for one-hot labels pass `labels.argmax(-1)`."
        )
    if (
        labels.size
        and not np.issubdtype(labels.dtype, np.integer)
        and not np.all(np.equal(np.mod(labels, 1), 0))
    ):
        raise TypeError(f"`labels` must hold integer class ids, got dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if not isinstance(num_classes, (int, np.integer)) or num_classes < min_classes:
        raise ValueError(f"`num_classes` must be an integer >= {min_classes}, got {num_classes!r}.")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"`labels` must lie in [0, num_classes={num_classes}), got range "
            f"[{labels.min()}, {labels.max()}]."
        )
    if not np.isscalar(rate) or not 0.0 <= float(rate) <= max_rate:
        raise ValueError(f"`rate` must be a number in [0, {max_rate}], got {rate!r}.")
    return labels, float(rate)


def _largest_remainder(total, fractions, rng):
    """Integer counts ``>= 0`` summing to ``total``, proportional to ``fractions``.

    Each count is ``floor`` or ``ceil`` of ``total * fraction``; ties among the
    remainders are broken at random (seeded).
    """
    fractions = np.asarray(fractions, dtype=np.float64)
    ideal = total * fractions / fractions.sum() if fractions.sum() > 0 else np.zeros_like(fractions)
    counts = np.floor(ideal + 1e-9).astype(np.int64)
    left = int(total - counts.sum())
    if left > 0:
        remainder = ideal - counts
        order = np.lexsort((rng.random(len(remainder)), -remainder))
        counts[order[:left]] += 1
    return counts


def _per_class_counts(labels, rate, num_classes, rng):
    """Number of examples to corrupt in each class (exact total ``round(rate N)``)."""
    n_c = np.bincount(labels, minlength=num_classes)
    total = int(np.round(rate * labels.size))
    if total == 0:
        return np.zeros(num_classes, dtype=np.int64)
    counts = _largest_remainder(total, n_c, rng)
    # Never more than a class has (only possible for rate close to 1).
    return np.minimum(counts, n_c)


def _corrupt_class_conditional(labels, rate, num_classes, targets_of, rng):
    """Corrupts exactly ``counts[c]`` examples of class ``c``.

    ``targets_of(c) -> (target_classes, fractions)``: where the corrupted
    examples of class ``c`` go, split by the largest-remainder rule.
    """
    noisy = labels.copy()
    counts = _per_class_counts(labels, rate, num_classes, rng)
    for c in range(num_classes):
        if counts[c] == 0:
            continue
        members = np.flatnonzero(labels == c)
        chosen = rng.permutation(members)[: counts[c]]
        targets, fractions = targets_of(c)
        per_target = _largest_remainder(counts[c], fractions, rng)
        new = np.repeat(np.asarray(targets, dtype=np.int64), per_target)
        noisy[chosen] = rng.permutation(new)
    return NoisyLabels(noisy, noisy != labels, None)


def _finish(result, transition_matrix):
    return NoisyLabels(result.noisy_labels, result.noisy_mask, transition_matrix)


# --------------------------------------------------------------- generators


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
    >>> res.noisy_mask.sum()
    40
    """
    labels, rate = _check_inputs(labels, rate, num_classes)
    rng = np.random.default_rng(seed)
    k = num_classes
    if include_true:
        res = _corrupt_class_conditional(labels, rate, k, lambda c: (np.arange(k), np.ones(k)), rng)
        t = np.full((k, k), rate / k) + (1.0 - rate) * np.eye(k)
    else:
        res = _corrupt_class_conditional(
            labels, rate, k, lambda c: (np.delete(np.arange(k), c), np.ones(k - 1)), rng
        )
        t = np.full((k, k), rate / (k - 1))
        np.fill_diagonal(t, 1.0 - rate)
    return _finish(res, t)


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
    labels, rate = _check_inputs(labels, rate, num_classes)
    rng = np.random.default_rng(seed)
    k = num_classes
    res = _corrupt_class_conditional(labels, rate, k, lambda c: ([(c + 1) % k], [1.0]), rng)
    t = (1.0 - rate) * np.eye(k) + rate * np.roll(np.eye(k), 1, axis=1)
    return _finish(res, t)


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
    labels, rate = _check_inputs(labels, rate, num_classes)
    rng = np.random.default_rng(seed)
    k = num_classes
    targets = _random_other_classes(k, 1, rng)
    res = _corrupt_class_conditional(labels, rate, k, lambda c: (targets[c], [1.0]), rng)
    t = (1.0 - rate) * np.eye(k)
    t[np.arange(k), targets[:, 0]] += rate
    return _finish(res, t)


def flip2_noise(labels, rate, num_classes, seed=None):
    """Flip2 noise (RMNW paper; "flip" in MW-Net): two fixed random other classes per class.

    For every class ``c`` two distinct targets ``t1(c), t2(c) != c`` are
    drawn once; a fraction ``rate`` of class ``c`` is relabelled, half to
    each target (``T[c, t1] = T[c, t2] = rate / 2``).  Exactly
    ``round(rate * N)`` examples are corrupted, split evenly (within one)
    between the two targets.

    Args:
        labels: int array ``(N,)`` of clean class ids.
        rate: noise rate in ``[0, 1]``.
        num_classes: ``K >= 3``.
        seed: int seed or ``None``.

    Returns:
        :class:`NoisyLabels`.
    """
    labels, rate = _check_inputs(labels, rate, num_classes, min_classes=3)
    rng = np.random.default_rng(seed)
    k = num_classes
    targets = _random_other_classes(k, 2, rng)
    res = _corrupt_class_conditional(labels, rate, k, lambda c: (targets[c], [1.0, 1.0]), rng)
    t = (1.0 - rate) * np.eye(k)
    t[np.arange(k), targets[:, 0]] += rate / 2
    t[np.arange(k), targets[:, 1]] += rate / 2
    return _finish(res, t)


def _truncated_normal(mean, std, size, rng, low=0.0, high=1.0):
    out = rng.normal(mean, std, size)
    bad = (out < low) | (out > high)
    while bad.any():
        out[bad] = rng.normal(mean, std, bad.sum())
        bad = (out < low) | (out > high)
    return out


def instance_dependent_noise(x, labels, rate, num_classes, seed=None, rate_std=0.1):
    """Instance-dependent label noise in the style of Xia et al. (2020).

    Follows the generator of "Part-dependent label noise" (Xia et al.,
    NeurIPS 2020) used by the MR paper (Table 4):

    1. every example gets a flip probability ``q_i`` from a normal
       ``N(rate, rate_std^2)`` truncated to ``[0, 1]``;
    2. a random projection ``W_c`` (``d x K``, standard normal, one per
       class) scores the flattened features, rescaled to unit root-mean-square
       per example (so scores have std ``~sqrt(d)`` as with raw pixels):
       ``s_i = x_i W_{y_i}``; the true class is excluded and the other classes
       get ``softmax(s_i)``, so *which* wrong class an example receives
       depends on its features.

    Exact rate (choice made here): instead of flipping each example
    independently with probability ``q_i``, exactly ``round(rate * N)``
    examples are flipped, drawn without replacement with probability
    proportional to ``q_i`` (Gumbel top-k), so examples with a larger
    ``q_i`` are more likely to be noisy and the realised rate is exact.
    The exact count is global (as the per-example ``q_i`` are), not per class.
    There is no single class-level transition matrix for this model;
    ``transition_matrix`` is the *realised* one,
    ``T[i, j] = #{clean = i, noisy = j} / #{clean = i}`` (rows of absent
    classes are the identity).

    Args:
        x: features ``(N, ...)`` (images are flattened).
        labels: int array ``(N,)`` of clean class ids.
        rate: noise rate in ``[0, 1]``.
        num_classes: ``K >= 2``.
        seed: int seed or ``None``.
        rate_std: standard deviation of the per-example flip probabilities.

    Returns:
        :class:`NoisyLabels`.
    """
    labels, rate = _check_inputs(labels, rate, num_classes)
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1 or x.shape[0] != labels.shape[0]:
        raise ValueError(
            f"`x` must have one row per label: got x.shape={x.shape} and {labels.shape[0]} labels."
        )
    if not rate_std >= 0:
        raise ValueError(f"`rate_std` must be >= 0, got {rate_std!r}.")
    rng = np.random.default_rng(seed)
    n, k = labels.shape[0], num_classes
    feats = x.reshape(n, -1)
    rms = np.sqrt(np.mean(feats**2, axis=1, keepdims=True))
    feats = feats / np.maximum(rms, 1e-12)
    q = _truncated_normal(rate, rate_std, n, rng) if rate_std > 0 else np.full(n, rate)
    noisy = labels.copy()
    # Feature-dependent target distributions, one projection per class.
    targets = np.empty(n, dtype=np.int64)
    for c in range(k):
        idx = np.flatnonzero(labels == c)
        w_c = rng.standard_normal((feats.shape[1], k))
        if idx.size == 0:
            continue
        s = feats[idx] @ w_c
        s[:, c] = -np.inf
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random((idx.size, 1))
        targets[idx] = np.minimum((p.cumsum(axis=1) < u).sum(axis=1), k - 1)
        # A target equal to c is impossible (p[:, c] == 0) except via rounding.
        bad = targets[idx] == c
        targets[idx[bad]] = (c + 1) % k
    m = int(np.round(rate * n))
    if m > 0:
        with np.errstate(divide="ignore"):
            keys = np.log(q) + rng.gumbel(size=n)
        chosen = np.argsort(-keys, kind="stable")[:m]
        noisy[chosen] = targets[chosen]
    return NoisyLabels(noisy, noisy != labels, empirical_transition_matrix(labels, noisy, k))


# ------------------------------------------------------------------ helpers


def empirical_transition_matrix(labels, noisy_labels, num_classes):
    """Realised transition matrix ``#{clean = i, noisy = j} / #{clean = i}``.

    Rows of classes absent from ``labels`` are set to the identity.

    Args:
        labels: int array ``(N,)`` of clean labels.
        noisy_labels: int array ``(N,)`` of noisy labels.
        num_classes: ``K``.

    Returns:
        float64 array ``(K, K)``, row-stochastic.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    noisy_labels = np.asarray(noisy_labels, dtype=np.int64).reshape(-1)
    if labels.shape != noisy_labels.shape:
        raise ValueError(
            f"`labels` and `noisy_labels` must have the same shape, got {labels.shape} "
            f"and {noisy_labels.shape}."
        )
    counts = np.zeros((num_classes, num_classes))
    np.add.at(counts, (labels, noisy_labels), 1.0)
    rows = counts.sum(axis=1, keepdims=True)
    t = np.where(rows > 0, counts / np.maximum(rows, 1), np.eye(num_classes))
    return t


NOISE_TYPES = {
    "symmetric": "symmetric_noise(include_true=False): new label always differs",
    "uniform": "symmetric_noise(include_true=True): label resampled over all K classes",
    "pair": "pair_flip_noise: c -> c + 1",
    "flip": "flip_noise: one random other class per class",
    "flip2": "flip2_noise: two random other classes per class",
    "instance": "instance_dependent_noise (needs x)",
    "none": "no noise",
}


def apply_noise(kind, labels, rate, num_classes, seed=None, x=None):
    """Dispatches to a generator by name (used by the runner and the CLI).

    Args:
        kind: one of ``"symmetric"``, ``"uniform"`` (symmetric with
            ``include_true=True``), ``"pair"``, ``"flip"``, ``"flip2"``,
            ``"instance"`` (needs ``x``) or ``"none"``.
        labels, rate, num_classes, seed: as for the generators.
        x: features, for ``"instance"``.

    Returns:
        :class:`NoisyLabels`.
    """
    aliases = {
        "pair_flip": "pair",
        "pairflip": "pair",
        "instance_dependent": "instance",
        "idn": "instance",
        "sym": "symmetric",
        "clean": "none",
    }
    kind = aliases.get(kind, kind)
    if kind == "symmetric":
        return symmetric_noise(labels, rate, num_classes, seed)
    if kind == "uniform":
        return symmetric_noise(labels, rate, num_classes, seed, include_true=True)
    if kind == "pair":
        return pair_flip_noise(labels, rate, num_classes, seed)
    if kind == "flip":
        return flip_noise(labels, rate, num_classes, seed)
    if kind == "flip2":
        return flip2_noise(labels, rate, num_classes, seed)
    if kind == "instance":
        if x is None:
            raise ValueError("`x` is required for kind='instance' (instance-dependent noise).")
        return instance_dependent_noise(x, labels, rate, num_classes, seed)
    if kind == "none":
        labels, _ = _check_inputs(labels, 0.0, num_classes)
        return NoisyLabels(labels.copy(), np.zeros(labels.shape, bool), np.eye(num_classes))
    raise ValueError(f"Unknown noise `kind` {kind!r}; choose one of {sorted(NOISE_TYPES)}.")

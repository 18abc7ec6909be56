"""Shared pieces of the noise generators: the result type, validation, exact counts."""

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


def check_inputs(labels, rate, num_classes, max_rate=1.0, min_classes=2):
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


def largest_remainder(total, fractions, rng):
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


def per_class_counts(labels, rate, num_classes, rng):
    """Number of examples to corrupt in each class (exact total ``round(rate N)``)."""
    n_c = np.bincount(labels, minlength=num_classes)
    total = int(np.round(rate * labels.size))
    if total == 0:
        return np.zeros(num_classes, dtype=np.int64)
    counts = largest_remainder(total, n_c, rng)
    # Never more than a class has (only possible for rate close to 1).
    return np.minimum(counts, n_c)


def corrupt_class_conditional(labels, rate, num_classes, targets_of, rng):
    """Corrupts exactly ``counts[c]`` examples of class ``c``.

    ``targets_of(c) -> (target_classes, fractions)``: where the corrupted
    examples of class ``c`` go, split by the largest-remainder rule.
    """
    noisy = labels.copy()
    counts = per_class_counts(labels, rate, num_classes, rng)
    for c in range(num_classes):
        if counts[c] == 0:
            continue
        members = np.flatnonzero(labels == c)
        chosen = rng.permutation(members)[: counts[c]]
        targets, fractions = targets_of(c)
        per_target = largest_remainder(counts[c], fractions, rng)
        new = np.repeat(np.asarray(targets, dtype=np.int64), per_target)
        noisy[chosen] = rng.permutation(new)
    return NoisyLabels(noisy, noisy != labels, None)


def finish(result, transition_matrix):
    return NoisyLabels(result.noisy_labels, result.noisy_mask, transition_matrix)


# --------------------------------------------------------------- generators


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

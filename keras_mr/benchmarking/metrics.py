"""Metrics on example weights: noisy-label detection and weight mass.

Convention: a *lower* weight means *more suspicious* (more likely to carry a
wrong label), as with MR, random weighting and meta-weighting.  Detection
scores are therefore ``-weights``.  Everything is pure NumPy.  Which labels are
wrong, and a table of them to review, is :mod:`keras_mr.mr.label_issues`.
"""

import numpy as np


def _check_pair(weights, noisy_mask):
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    m = np.asarray(noisy_mask).reshape(-1)
    if m.dtype != bool:
        if not np.isin(m, (0, 1)).all():
            raise ValueError("`noisy_mask` must be boolean (or 0/1).")
        m = m.astype(bool)
    if w.shape != m.shape:
        raise ValueError(
            f"`weights` and `noisy_mask` must have the same length, got {w.size} and {m.size}."
        )
    if not np.isfinite(w).all():
        raise ValueError("`weights` contains NaN or inf.")
    return w, m


def _average_ranks(values):
    """1-based ranks with ties given their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_v = values[order]
    ranks = np.empty(values.size, dtype=np.float64)
    # Boundaries of runs of equal values.
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    ends = np.r_[starts[1:], values.size]
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def noisy_detection_auc(weights, noisy_mask):
    """ROC AUC of detecting noisy labels by low weight.

    The probability that a random noisy example has a *lower* weight than a
    random clean one, ties counting one half (Mann-Whitney U / (n_noisy n_clean)).
    1 = perfect separation, 0.5 = chance (e.g. uniform weights).

    Args:
        weights: ``(N,)`` example weights (any scale).
        noisy_mask: bool ``(N,)``, ``True`` for noisy examples.

    Returns:
        float in ``[0, 1]``; ``nan`` if one of the two groups is empty.

    Example:

    >>> noisy_detection_auc([0.1, 0.4, 0.35, 0.8], [True, True, False, False])
    0.75
    """
    w, m = _check_pair(weights, noisy_mask)
    n_pos, n_neg = int(m.sum()), int((~m).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(-w)  # high score = suspicious
    u = ranks[m].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def noisy_detection_average_precision(weights, noisy_mask):
    """Average precision of detecting noisy labels by low weight.

    ``AP = sum_k (R_k - R_{k-1}) P_k`` over the distinct score thresholds,
    examples sorted by increasing weight (ties enter together), as in
    scikit-learn's ``average_precision_score`` on scores ``-weights``.
    Chance level is the noise rate.

    Args:
        weights: ``(N,)`` example weights.
        noisy_mask: bool ``(N,)``.

    Returns:
        float in ``[0, 1]``; ``nan`` without noisy examples.

    Example:

    >>> noisy_detection_average_precision([0.1, 0.4, 0.35, 0.8], [True, True, False, False])
    0.8333333333333333
    """
    w, m = _check_pair(weights, noisy_mask)
    n_pos = int(m.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(w, kind="mergesort")
    w_s, m_s = w[order], m[order]
    tp = np.cumsum(m_s)
    last_of_run = np.r_[w_s[1:] != w_s[:-1], True]
    tp, k = tp[last_of_run], (np.flatnonzero(last_of_run) + 1)
    precision = tp / k
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def noisy_weight_mass(weights, noisy_mask):
    """Fraction of the total weight carried by noisy examples.

    With uniform weights this is the noise rate; MR drives it towards 0.

    Args:
        weights: ``(N,)`` non-negative weights.
        noisy_mask: bool ``(N,)``.

    Returns:
        float ``sum(w[noisy]) / sum(w)``.
    """
    w, m = _check_pair(weights, noisy_mask)
    total = w.sum()
    if total <= 0:
        raise ValueError("`weights` must have a positive sum.")
    return float(w[m].sum() / total)


def noisy_weight_mass_per_class(weights, noisy_mask, labels, num_classes=None):
    """Per class, the fraction of the class's weight carried by noisy examples.

    Classes are the *observed* (possibly noisy) labels, i.e. what the
    training sees: ``mass[c] = sum(w[noisy & label == c]) / sum(w[label == c])``.

    Args:
        weights: ``(N,)`` non-negative weights.
        noisy_mask: bool ``(N,)``.
        labels: int ``(N,)`` observed labels.
        num_classes: ``K`` (default ``max(labels) + 1``).

    Returns:
        float64 ``(K,)``; ``nan`` for classes with zero weight.
    """
    w, m = _check_pair(weights, noisy_mask)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    if y.shape != w.shape:
        raise ValueError(f"`labels` must have length {w.size}, got {y.size}.")
    k = int(num_classes if num_classes is not None else y.max() + 1)
    total = np.bincount(y, weights=w, minlength=k)
    noisy = np.bincount(y, weights=np.where(m, w, 0.0), minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, noisy / np.where(total > 0, total, 1.0), np.nan)

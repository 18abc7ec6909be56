"""Diagnostics of a weight distribution, logged (or warned about) by the weighting callbacks."""

import warnings

import numpy as np


def effective_sample_size(p):
    """Kish's effective sample size ``1 / sum p_i^2`` of a distribution ``p``.

    ``N`` for uniform weights, 1 when all the mass sits on one example.  The one
    definition every part of keras-mr uses (the logged ``ess`` is it over ``N``; the
    automatic ``eta`` targets it; the collapse warning reads it).

    Args:
        p: array ``(N,)`` of non-negative weights summing to 1.

    Returns:
        float.

    Example:

    >>> effective_sample_size(np.array([0.5, 0.5, 0.0, 0.0]))
    2.0
    """
    p = np.asarray(p, dtype=np.float64)
    return float(1.0 / np.sum(p * p))


def weight_statistics(p, noise_mask=None):
    """Summary statistics of a distribution over training examples.

    Args:
        p: array ``(N,)`` of non-negative weights summing to 1.
        noise_mask: optional boolean array ``(N,)``, ``True`` for examples
            whose label is known to be corrupted.

    Returns:
        Dict with ``entropy`` (``-sum p log p`` in nats, ``log N`` when
        uniform), ``ess`` (effective sample size ``1 / sum p^2`` as a fraction
        of ``N``, 1.0 when uniform), ``weight_min`` / ``weight_max``
        (``N * min p`` / ``N * max p``, relative to the uniform weight, so
        uniform gives 1.0) and, only with ``noise_mask``, ``noisy_mass``
        (``sum_{i noisy} p_i``, equal to the noise rate when uniform).

    Example:

    >>> weight_statistics(np.array([0.5, 0.25, 0.25]))["ess"]
    0.888...
    """
    p = np.asarray(p, dtype=np.float64)
    n = p.size
    nz = p[p > 0]
    stats = {
        "entropy": float(-np.sum(nz * np.log(nz))),
        "ess": effective_sample_size(p) / n,
        "weight_min": float(n * p.min()),
        "weight_max": float(n * p.max()),
    }
    if noise_mask is not None:
        mask = np.asarray(noise_mask, dtype=bool)
        if mask.shape != p.shape:
            raise ValueError(
                f"`noise_mask` has shape {mask.shape} but there are {n} examples; pass one "
                "boolean per training example, in index order."
            )
        stats["noisy_mass"] = float(p[mask].sum())
    return stats


def normalized_weights(log_weights):
    """The distribution ``p = softmax(log_weights)``, computed stably in float64.

    Args:
        log_weights: array ``(N,)`` of unnormalised log-weights (``-inf`` allowed,
            not all).

    Returns:
        NumPy float64 ``(N,)`` summing to 1.

    Example:

    >>> import numpy as np
    >>> normalized_weights(np.log([2.0, 1.0, 1.0]))
    array([0.5 , 0.25, 0.25])
    """
    log_p = np.asarray(log_weights, dtype=np.float64)
    p = np.exp(log_p - np.max(log_p))
    return p / p.sum()


def warn_if_collapsed(kind, p):
    """Warns (``RuntimeWarning``) when the weights sit on very few examples.

    The threshold is an effective sample size ``1 / sum p_i^2`` below
    ``max(10, N / 100)`` (only for ``N >= 20``).

    Args:
        kind: the weighter's class name, for the message.
        p: the distribution over the ``N`` examples.

    Returns:
        bool: whether it warned.
    """
    n = len(p)
    ess = effective_sample_size(p)
    if n < 20 or ess >= max(10.0, 0.01 * n):
        return False
    warnings.warn(
        f"{kind}: the weights concentrate on about {ess:.1f} of {n} "
        f"examples (effective sample size {ess:.1f}); training then sees almost no "
        "data. The step size is probably too large: lower `eta` or cap the weights "
        "with `max_weight=`.",
        RuntimeWarning,
        stacklevel=4,
    )
    return True

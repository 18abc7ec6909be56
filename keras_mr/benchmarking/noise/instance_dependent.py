"""Instance-dependent label noise (the noise rate depends on each example's features)."""

import numpy as np

from keras_mr.benchmarking.noise._common import NoisyLabels
from keras_mr.benchmarking.noise._common import check_inputs
from keras_mr.benchmarking.noise._common import empirical_transition_matrix


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
    labels, rate = check_inputs(labels, rate, num_classes)
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

"""KL projection onto the capped simplex.

The later version of the MR paper (section 3 and Appendix A) bounds every
probability by ``kappa`` to avoid degenerate distributions: after each MW
step, ``p`` is replaced by its projection with respect to the KL divergence
onto ``{q in simplex : q_i <= kappa}``::

    q* = argmin_q KL(q || p)  s.t.  sum_i q_i = 1,  0 <= q_i <= kappa.

The KKT conditions give ``q*_i = min(kappa, c * p_i)`` for the unique scalar
``c >= 1`` that makes ``q*`` sum to one: the largest weights are clipped to
``kappa`` and the excess mass is spread over the others proportionally to
their size (which is what the paper's iterative procedure converges to).
Because ``q*`` preserves the order of ``p``, the clipped set is always a
prefix of ``p`` sorted in decreasing order, so ``c`` is found with one sort
and suffix sums instead of the paper's iterative loop: ``O(N log N)``,
vectorised, no Python loop over examples.  Everything is done in the log
domain so that tiny weights (``p_i ~ 1e-300``) stay exact.
"""

import numpy as np

from keras_mr.mr.multiplicative_weights import logsumexp


def project_capped_simplex_log(log_p, max_weight):
    """KL projection of a distribution onto ``{q : q_i <= max_weight}``, in log space.

    Args:
        log_p: array ``(N,)`` of log-probabilities (need not be normalised:
            the projection of ``p / sum(p)`` is returned).
        max_weight: the cap ``kappa``; must satisfy ``1 / N <= kappa``.
            ``kappa >= 1`` (or ``None``) means no cap.

    Returns:
        float64 array ``(N,)`` of ``log q*``.

    Example:

    >>> q = np.exp(project_capped_simplex_log(np.log([0.7, 0.2, 0.1]), 0.5))
    >>> np.round(q, 4)
    array([0.5       , 0.3333, 0.1667])
    """
    log_p = np.asarray(log_p, dtype=np.float64)
    if log_p.ndim != 1 or log_p.size == 0:
        raise ValueError(f"`log_p` must be a non-empty 1-D array, got shape {log_p.shape}.")
    if np.any(np.isnan(log_p)) or np.any(log_p == np.inf):
        raise ValueError("`log_p` contains NaN or +inf; pass finite log-weights.")
    log_p = log_p - logsumexp(log_p)
    n = log_p.size
    if max_weight is None or max_weight >= 1.0:
        return log_p
    max_weight = float(max_weight)
    if not max_weight > 0 or max_weight * n < 1.0 - 1e-12:
        raise ValueError(
            f"`max_weight` (kappa) must be >= 1/N = {1.0 / n:.3g} for N={n} examples, got "
            f"{max_weight!r}: no distribution fits under a smaller cap. Use e.g. "
            "max_weight=k/N with k > 1, or None for no cap."
        )
    log_kappa = np.log(max_weight)
    if np.max(log_p) <= log_kappa:
        return log_p
    # Host memory: a few arrays of N, each computed in place where possible.
    s = np.sort(log_p)[::-1]  # decreasing; only c is needed, not the permutation
    # remaining[k] = 1 - k kappa: the mass the unclipped weights must carry
    remaining = np.arange(n, dtype=np.float64)
    remaining *= max_weight
    np.subtract(1.0, remaining, out=remaining)
    # tail[k] = sum_{j >= k} p_(j): the mass left unclipped if the k largest
    # weights are clipped.  Linear-domain suffix sums are fast and accurate
    # unless the tail underflows (extreme weights); then use log-sum-exp.
    tail = np.exp(s)
    np.cumsum(tail[::-1], out=tail[::-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tail = np.log(tail, out=tail)
        k_star = _first_consistent(s, remaining, log_tail, log_kappa)
        if k_star is None or not np.exp(log_tail[k_star]) > 1e-250:
            log_tail = np.logaddexp.accumulate(s[::-1])[::-1]
            k_star = _first_consistent(s, remaining, log_tail, log_kappa)
    if k_star is None:  # kappa * N == 1 up to rounding: the uniform distribution
        return np.full(n, -np.log(n))
    log_c = np.log(remaining[k_star]) - log_tail[k_star]
    log_p += log_c
    return np.minimum(log_p, log_kappa, out=log_p)


def _first_consistent(s, remaining, log_tail, log_kappa):
    """Smallest k such that clipping the k largest weights is consistent.

    Clipping the k largest is consistent when the largest unclipped weight,
    rescaled by ``c_k = remaining_k / tail_k``, stays below the cap.
    """
    shifted = np.maximum(remaining, 0.0)  # log c_k + s_k, computed in place
    np.log(shifted, out=shifted)
    shifted -= log_tail
    shifted += s
    ok = (remaining > 0) & (shifted <= log_kappa + 1e-12)
    if not np.any(ok):
        return None
    return int(np.argmax(ok))


def project_capped_simplex(p, max_weight):
    """KL projection of ``p`` onto the capped simplex (probability space).

    Args:
        p: array ``(N,)`` of non-negative weights (normalised internally).
        max_weight: the cap ``kappa >= 1/N``.

    Returns:
        float64 array ``(N,)``: ``q*_i = min(kappa, c * p_i)`` summing to 1.

    Example:

    >>> project_capped_simplex(np.array([0.7, 0.2, 0.1]), 0.5).round(4)
    array([0.5   , 0.3333, 0.1667])
    """
    p = np.asarray(p, dtype=np.float64)
    if np.any(p < 0):
        raise ValueError("`p` must be non-negative.")
    with np.errstate(divide="ignore"):
        return np.exp(project_capped_simplex_log(np.log(p), max_weight))

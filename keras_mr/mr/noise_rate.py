"""How many training labels are wrong: a two-component mixture on MR's losses.

MR keeps, for every example, its latest loss ``l_i`` (the loss of its last update) next
to the loss history.  Once the model fits the clean examples, their losses fall by orders
of magnitude while mislabelled examples keep a high loss, so on a log scale,
``s_i = log(l_i + 1e-6)``, the losses form two groups.  We model ``s`` as a mixture of
two Gaussians fitted by EM:

* the component with the lower mean is "clean", the other "mislabelled";
* the estimated noise rate is the mixture weight of the high component, and each
  example's posterior probability of belonging to it is its *suspicion*.

Why the latest loss and a log scale: the history averages in the first epochs, when every
example has a high loss, and a linear scale lets the right tail of hard clean examples
pull the high component down; the log of the latest loss gives a tight clean component
and keeps hard clean examples in it (measured in ``tests/test_label_issues.py``).

Assumptions (say them to users): the model has trained long enough to fit the clean
examples better than the mislabelled ones (a few epochs, before it memorises the noise),
the noise rate is below one half, and classes are learnable (examples that are genuinely
ambiguous count as suspicious, as in any loss-based detector).  Where only weights are
known (e.g. ``MetaWeightNet.example_weights``), ``d_i = -log p_i`` plays the role of the
loss: ``s_i = log(d_i - min_j d_j + 1e-3 * range(d))``.
"""

from typing import NamedTuple

import numpy as np


class NoiseRateEstimate(NamedTuple):
    """What :func:`estimate_noise_rate` returns.

    Attributes:
        noise_rate: estimated fraction of mislabelled examples (overall).
        suspicion: float64 ``(N,)`` posterior probability that each example is mislabelled.
        per_class: ``{class: noise rate}`` when labels were given, else ``None``.
    """

    noise_rate: float
    suspicion: np.ndarray
    per_class: object


def fit_two_gaussians(scores, iterations=200, tol=1e-9):
    """Fits a two-component 1-D Gaussian mixture by EM.

    Initialised from the lower and upper thirds of the sorted scores, so the first
    component starts low.  Variances are floored at ``1e-6 * var(scores)``.

    Args:
        scores: float array ``(N,)``, ``N >= 4``.
        iterations: maximum EM iterations.
        tol: stop when the log-likelihood improves by less than this (per example).

    Returns:
        ``(weights, means, stds, responsibilities)``: ``(2,)``, ``(2,)``, ``(2,)`` and
        ``(N, 2)``, the components ordered by increasing mean.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> s = np.concatenate([rng.normal(-2, 0.5, 700), rng.normal(1, 0.5, 300)])
    >>> weights, means, _, _ = fit_two_gaussians(s)
    >>> np.round(weights, 2).tolist(), np.round(means).tolist()
    ([0.7, 0.3], [-2.0, 1.0])
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.size < 4 or not np.all(np.isfinite(s)):
        raise ValueError("`scores` must hold at least 4 finite values.")
    floor = 1e-6 * max(np.var(s), 1e-12)
    order = np.sort(s)
    third = max(1, s.size // 3)
    means = np.array([order[:third].mean(), order[-third:].mean()])
    var = np.full(2, max(np.var(s) / 4, floor))
    weights = np.array([0.5, 0.5])
    previous = -np.inf
    for _ in range(iterations):
        log_dens = (
            -0.5 * (s[:, None] - means) ** 2 / var - 0.5 * np.log(2 * np.pi * var) + np.log(weights)
        )
        top = log_dens.max(axis=1, keepdims=True)
        log_norm = top + np.log(np.exp(log_dens - top).sum(axis=1, keepdims=True))
        resp = np.exp(log_dens - log_norm)
        mass = resp.sum(axis=0) + 1e-12
        weights = mass / s.size
        means = (resp * s[:, None]).sum(axis=0) / mass
        var = np.maximum((resp * (s[:, None] - means) ** 2).sum(axis=0) / mass, floor)
        likelihood = float(log_norm.mean())
        if likelihood - previous < tol:
            break
        previous = likelihood
    order = np.argsort(means)
    return weights[order], means[order], np.sqrt(var[order]), resp[:, order]


def loss_scores(source):
    """Per-example scores (higher = more suspicious) from a weighter or weights.

    Args:
        source: an ``MRSampleWeighter`` after training (its latest losses), or an
            ``(N,)`` array of example weights (see the module docstring).

    Returns:
        float64 ``(N,)`` scores.
    """
    from keras_mr.mr.mr_sample_weighter import MRSampleWeighter
    from keras_mr.mr.sample_weighter import SampleWeighter

    if isinstance(source, MRSampleWeighter):
        if source.num_updates == 0:
            raise ValueError(
                "The weighter has made no update yet: train with it first (fit with "
                "callbacks=[weighter]), so that it has losses."
            )
        last = np.asarray(source.state.last_loss.numpy(), dtype=np.float64)
        return np.log(np.maximum(last, 0.0) + 1e-6)
    if isinstance(source, SampleWeighter):
        raise TypeError(
            f"{type(source).__name__}'s weights are random, not evidence about labels: pass an "
            "MRSampleWeighter, or an array of weights from a method that learns them (e.g. "
            "MetaWeightNet.example_weights(x, y))."
        )
    p = np.asarray(source, dtype=np.float64).reshape(-1)
    if p.size < 4 or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
        raise ValueError(
            "Example weights must be an array of at least 4 finite, non-negative numbers with "
            "a positive sum."
        )
    d = -np.log(np.maximum(p / p.sum(), 1e-300))
    return np.log(d - d.min() + 1e-3 * (np.ptp(d) + 1e-12))


def estimate_noise_rate(source, labels=None, min_class_size=20):
    """Estimates the fraction of mislabelled training examples (no clean data needed).

    Args:
        source: an ``MRSampleWeighter`` after training, or ``(N,)`` example weights.
        labels: optional int ``(N,)`` given labels: adds a per-class estimate (a mixture
            per class with at least ``min_class_size`` examples; smaller classes get the
            mean suspicion of their examples under the overall mixture).
        min_class_size: smallest class fitted on its own.

    Returns:
        :class:`NoiseRateEstimate`.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> losses = np.exp(np.concatenate([rng.normal(-5, 1, 800), rng.normal(1, 0.3, 200)]))
    >>> w = np.exp(-losses)
    >>> round(estimate_noise_rate(w).noise_rate, 2)
    0.2
    """
    scores = loss_scores(source)
    weights, _, _, resp = fit_two_gaussians(scores)
    per_class = None
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        if y.shape != scores.shape:
            raise ValueError(f"`labels` must have length {scores.size}, got {y.size}.")
        per_class = {}
        for c in np.unique(y):
            members = y == c
            if members.sum() >= max(min_class_size, 4) and np.ptp(scores[members]) > 0:
                per_class[int(c)] = float(fit_two_gaussians(scores[members])[0][1])
            else:
                per_class[int(c)] = float(resp[members, 1].mean())
    return NoiseRateEstimate(float(weights[1]), resp[:, 1], per_class)

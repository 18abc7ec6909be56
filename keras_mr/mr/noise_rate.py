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
and keeps hard clean examples in it (measured in ``tests/mr/test_label_issues.py``).

Assumptions (say them to users): the model has trained long enough to fit the clean
examples better than the mislabelled ones (a few epochs, before it memorises the noise),
the noise rate is below one half, and classes are learnable (examples that are genuinely
ambiguous count as suspicious, as in any loss-based detector).  Where only weights are
known (e.g. ``MetaWeightNet.example_weights``), ``d_i = -log p_i`` plays the role of the
loss: ``s_i = log(d_i - min_j d_j + 1e-3 * range(d))``.

**Two groups, or one.**  A two-component mixture always finds two components, also on
clean data (hard examples, a left tail of very confident ones).  A split counts only when
the losses really show two groups (:func:`split_scores`):

* the fitted mixture density has a valley between its two means at least
  ``MIN_DIP`` = 0.3 deeper than its lower peak (``1 - valley / lower peak``; a single
  skewed group gives a unimodal mixture, dip 0);
* the high component is the minority (weight below one half);
* with a reference loss (MR keeps the mean loss of its first update): the high group's
  typical loss ``exp(mean)`` is at least ``MIN_LOSS_RATIO`` = 0.1 of it.  Mislabelled
  examples keep a loss near where training started; a "high" group of clean examples
  whose losses have fallen a hundredfold is the tail of one group.

EM is started from several splits (the high component on the top 5, 10, 20, 33 or 50% of
the scores): from the default start a small group of wrong labels on the tail of a broad
clean group is missed (10% noise on a 1,200-example set: the fit halves the clean group
instead).  Of the fits that pass the tests the one of highest likelihood is taken.
Otherwise the estimated rate is 0 and nothing is suspicious.  Measured on plain-training
loss snapshots (every epoch; Fashion-MNIST 10k with a CNN, a 1,200-example set with an
MLP, 0-40% symmetric and pair-flip noise): no clean snapshot passes, the noisy ones pass
once the network fits the clean examples better than the wrong ones; see
``benchmarks/defaults.py`` for the end-to-end grid.
"""

from typing import NamedTuple

import keras
import numpy as np

MIN_DIP = 0.3
MIN_LOSS_RATIO = 0.1
# where EM starts the high component (share of the top scores): a small wrong-label group
# on the tail of a broad clean one is only found from a small start
START_FRACTIONS = (1.0 / 3.0, 0.05, 0.1, 0.2, 0.5)
# EM iterations per start in split_scores: the fits that separate converge well within
# them (same splits as with 200 on every epoch of the snapshots below), one-group fits
# that keep sliding are cut short (0.48 s instead of 0.78 s an update at N = 10,000)
SPLIT_ITERATIONS = 100


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


def fit_two_gaussians(scores, iterations=200, tol=1e-9, upper_fraction=1.0 / 3.0):
    """Fits a two-component 1-D Gaussian mixture by EM.

    Initialised with the high component on the top ``upper_fraction`` of the sorted
    scores and the low one on the rest (means and weights of the two parts), so the first
    component starts low.  Variances are floored at ``1e-6 * var(scores)``.

    Args:
        scores: float array ``(N,)``, ``N >= 4``.
        iterations: maximum EM iterations.
        tol: stop when the log-likelihood improves by less than this (per example).
        upper_fraction: share of the scores the high component starts on, in ``(0, 1)``.

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
    s = _checked_scores(scores)
    weights, means, stds, resp = _fit_from_starts(s, (upper_fraction,), iterations, tol)
    return weights[0], means[0], stds[0], resp[0]


def _checked_scores(scores):
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.size < 4 or not np.all(np.isfinite(s)):
        raise ValueError("`scores` must hold at least 4 finite values.")
    return s


def _fit_from_starts(s, fractions, iterations=200, tol=1e-9):
    """EM of :func:`fit_two_gaussians` from several starts at once (one array per start).

    Every start runs the same iterations as a fit of its own and stops on its own; the
    starts only share the array operations.  Returns ``(S, 2)`` weights, means and stds
    and ``(S, N, 2)`` responsibilities, components ordered by increasing mean.
    """
    n, count = s.size, len(fractions)
    floor = 1e-6 * max(np.var(s), 1e-12)
    order = np.sort(s)
    means, weights = np.empty((count, 2)), np.empty((count, 2))
    for j, fraction in enumerate(fractions):
        top = min(max(1, int(round(fraction * n))), n - 1)
        means[j] = order[:-top].mean(), order[-top:].mean()
        weights[j] = 1.0 - top / n, top / n
    var = np.full((count, 2), max(np.var(s) / 4, floor))
    resp = np.empty((count, n, 2))
    previous = np.full(count, -np.inf)
    active = np.arange(count)
    for _ in range(iterations):
        m, v, w = means[active, None, :], var[active, None, :], weights[active, None, :]
        log_dens = -0.5 * (s[None, :, None] - m) ** 2 / v - 0.5 * np.log(2 * np.pi * v)
        log_dens = log_dens + np.log(w)
        gap = log_dens[..., 1] - log_dens[..., 0]
        high = 0.5 * (1.0 + np.tanh(0.5 * gap))  # the posterior of component 1, stably
        r = np.stack([1.0 - high, high], axis=-1)
        resp[active] = r
        mass = r.sum(axis=1) + 1e-12
        weights[active] = mass / n
        means[active] = (r * s[None, :, None]).sum(axis=1) / mass
        spread = (r * (s[None, :, None] - means[active, None, :]) ** 2).sum(axis=1) / mass
        var[active] = np.maximum(spread, floor)
        likelihood = (log_dens[..., 0] + np.logaddexp(0.0, gap)).mean(axis=1)
        done = likelihood - previous[active] < tol
        previous[active] = likelihood
        active = active[~done]
        if active.size == 0:
            break
    rank = np.argsort(means, axis=1)
    pick = np.arange(count)[:, None]
    ordered_resp = np.take_along_axis(resp, rank[:, None, :], axis=2)
    return weights[pick, rank], means[pick, rank], np.sqrt(var[pick, rank]), ordered_resp


def mixture_dip(weights, means, stds, points=401):
    """How deep the valley between the two modes of a 1-D two-Gaussian mixture is.

    ``1 - min f / min(peak left of it, peak right of it)`` over ``points`` evenly spaced
    between the two means, ``f`` the mixture density: 0 for a unimodal mixture, towards 1
    for two well-separated groups.

    Example:

    >>> round(mixture_dip([0.5, 0.5], [0.0, 1.0], [1.0, 1.0]), 2)  # one bump
    0.0
    >>> round(mixture_dip([0.5, 0.5], [0.0, 6.0], [1.0, 1.0]), 2)  # two bumps
    0.98
    """
    w, m, sd = (np.asarray(a, dtype=np.float64) for a in (weights, means, stds))
    x = np.linspace(m[0], m[1], points)
    f = (w[:, None] / sd[:, None] * np.exp(-0.5 * ((x - m[:, None]) / sd[:, None]) ** 2)).sum(0)
    valley = int(np.argmin(f))
    lower_peak = min(f[: valley + 1].max(), f[valley:].max())
    return float(1.0 - f[valley] / lower_peak) if lower_peak > 0 else 0.0


class ScoreSplit(NamedTuple):
    """What :func:`split_scores` returns.

    Attributes:
        separated: whether the scores show two groups (see the module docstring).
        noise_rate: weight of the high component when ``separated``, else 0.
        suspicion: float64 ``(N,)`` posterior of the high component when ``separated``,
            else zeros.
        dip: :func:`mixture_dip` of the fit.
    """

    separated: bool
    noise_rate: float
    suspicion: np.ndarray
    dip: float


def split_scores(scores, reference_loss=None, min_dip=MIN_DIP, min_loss_ratio=MIN_LOSS_RATIO):
    """Splits log-loss scores into a clean and a mislabelled group, if there are two.

    Args:
        scores: float ``(N,)`` scores, ``log(loss + 1e-6)`` (higher = more suspicious).
        reference_loss: optional loss scale of the start of training (MR: the mean loss
            of its first update); the high group's ``exp(mean)`` must reach
            ``min_loss_ratio`` of it.  ``None`` skips this test.
        min_dip: smallest :func:`mixture_dip` that counts as two groups.
        min_loss_ratio: see ``reference_loss``.

    Returns:
        :class:`ScoreSplit`.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> two = np.concatenate([rng.normal(-4, 1, 700), rng.normal(1, 0.3, 300)])
    >>> split = split_scores(two)
    >>> split.separated, round(split.noise_rate, 2)
    (True, 0.3)
    >>> split_scores(rng.gumbel(-3, 1, 1000)).separated  # one skewed group
    False
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    none = ScoreSplit(False, 0.0, np.zeros(s.size), 0.0)
    if s.size < 4 or np.ptp(s) == 0:
        return none
    fits = _fit_from_starts(s, START_FRACTIONS, SPLIT_ITERATIONS)
    best, best_likelihood, dips = none, -np.inf, []
    for weights, means, stds, resp in zip(*fits):
        dip = mixture_dip(weights, means, stds)
        dips.append(dip)
        separated = dip >= min_dip and weights[1] < 0.5
        if separated and reference_loss is not None:
            separated = np.exp(means[1]) >= min_loss_ratio * float(reference_loss)
        if not separated:
            continue
        likelihood = _mean_log_likelihood(s, weights, means, stds)
        if likelihood > best_likelihood:
            best = ScoreSplit(True, float(weights[1]), resp[:, 1], dip)
            best_likelihood = likelihood
    return best if best.separated else none._replace(dip=dips[0])


def _mean_log_likelihood(s, weights, means, stds):
    z = (s[:, None] - means) / stds
    log_dens = -0.5 * z**2 - np.log(stds * np.sqrt(2 * np.pi)) + np.log(weights)
    top = log_dens.max(axis=1, keepdims=True)
    return float((top[:, 0] + np.log(np.exp(log_dens - top).sum(axis=1))).mean())


def loss_scores(source):
    """Per-example scores (higher = more suspicious) from a weighter or weights.

    Args:
        source: an ``MRSampleWeighter`` after training (its latest losses), or an
            ``(N,)`` array of example weights (see the module docstring).

    Returns:
        float64 ``(N,)`` scores.
    """
    if isinstance(source, keras.callbacks.Callback):
        latest_losses = getattr(source, "latest_losses", None)
        if latest_losses is None:
            raise TypeError(
                f"{type(source).__name__}'s weights are random, not evidence about labels: "
                "pass an MRSampleWeighter, or an array of weights from a method that learns "
                "them (e.g. MetaWeightNet.example_weights(x, y))."
            )
        return np.log(np.maximum(latest_losses(), 0.0) + 1e-6)
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

    The scores are split by :func:`split_scores` (for a weighter: with the mean loss of its
    first update as the reference).  Where they show no two groups the estimate is 0 and no
    example is suspicious, except for a weighter whose updates showed a split before: then
    its guiding rate (``mr_noise_rate``, the rate of its last split) is returned with the
    posterior of the plain two-component fit as suspicion.

    Args:
        source: an ``MRSampleWeighter`` after training, or ``(N,)`` example weights.
        labels: optional int ``(N,)`` given class indices (not multi-hot): adds a per-class
            estimate (the split of the class's own scores where it shows two groups and the
            class has at least ``min_class_size`` examples, else the mean suspicion of its
            examples; all 0 when the overall estimate is 0).
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
    >>> estimate_noise_rate(np.exp(-rng.gamma(2.0, 1.0, 1000))).noise_rate  # one group
    0.0
    """
    scores = loss_scores(source)
    reference = _reference_loss(source)
    split = split_scores(scores, reference)
    rate, suspicion = split.noise_rate, split.suspicion
    if not split.separated and reference is not None:
        # the losses no longer show two groups (e.g. memorised at the end): MR's rate
        # from the last update where they did
        rate = float(source.state.noise_rate.numpy())
        if rate > 0:
            suspicion = fit_two_gaussians(scores)[3][:, 1]
    per_class = None
    if labels is not None:
        y = np.asarray(labels)
        if y.ndim > 1 and y.shape[0] == scores.size and y.shape[-1] > 1:
            raise ValueError(
                f"`labels` looks multi-hot or one-hot (shape {y.shape}): give the class index "
                "of every example (e.g. `y.argmax(-1)`), or leave `labels` out for multi-label "
                "data (the overall estimate needs no labels)."
            )
        y = y.reshape(-1)
        if y.shape != scores.shape:
            raise ValueError(f"`labels` must have length {scores.size}, got {y.size}.")
        per_class = {}
        for c in np.unique(y):
            members = y == c
            class_split = split_scores(scores[members], reference)
            if rate == 0:
                per_class[int(c)] = 0.0
            elif members.sum() >= max(min_class_size, 4) and class_split.separated:
                per_class[int(c)] = class_split.noise_rate
            else:
                per_class[int(c)] = float(suspicion[members].mean())
    return NoiseRateEstimate(float(rate), suspicion, per_class)


def _reference_loss(source):
    """MR's reference loss (mean loss of its first update), or ``None``."""
    state = getattr(source, "state", None)
    value = None if state is None else getattr(state, "reference_loss", None)
    return None if value is None or float(value.numpy()) <= 0 else float(value.numpy())

"""``eta="auto"`` and ``max_weight="auto"`` (the defaults): MR settings that need no tuning.

A fixed ``eta`` is either too small (weights stay almost uniform: no effect) or too large
(weights collapse onto a few examples) depending on the data, the loss scale and the
number of epochs.  The automatic settings are derived, at every update ``t``, from a
*guiding* noise rate ``r_t`` read off the losses (:func:`guiding_noise_rate`):

* ``max_weight="auto"`` caps every weight at ``1 / ((1 - r_t) N)``: the distribution must
  spread over at least ``(1 - r_t) N`` examples, so it cannot collapse onto a few;
* ``eta="auto"`` picks the ``eta`` whose uncapped MW distribution ``softmax(-eta L)`` has
  an effective sample size of ``ess_target(r_t, t) * N``, with
  ``ess_target = 1 - (1 - KAPPA (1 - r_t)) * min(1, (t + 1) / 5)``: the weights move from
  uniform to their working sharpness over the first five updates, and the step size
  follows the loss scale by construction (bisection in ``log eta``).

Choices, each measured on Fashion-MNIST (10k images, 40% symmetric or pair-flip noise,
seed 0, the protocol of ``benchmarks/vs_cleanlab.py``; test accuracy after 15 epochs):

* **The guiding rate is generous.**  The mixture weight of
  :func:`keras_mr.mr.noise_rate.fit_two_gaussians` underestimates early in training (0.32
  after one epoch for a true 0.40): mislabelled examples the network has not separated
  yet sit in the clean component's tail.  The fraction of examples whose posterior
  probability of a wrong label exceeds ``SUSPICION_LEVEL`` = 0.05 ("not confidently
  clean") is 0.39-0.41 over the same epochs.  It is clipped to ``[0, MAX_NOISE_RATE]`` =
  ``[0, 0.5]``, the range MR is designed for.
* **Neither the rate nor eta ever decreases.**  Examples that keep some weight are
  memorised, their losses fall, and the next estimate falls with them; a cap and an
  ``eta`` that follow it let still more noise in (the rate drifted from 0.40 to 0.35 and
  the weight on wrong labels climbed back from 0.05 to 0.09; accuracy 84.3%).  Memorised
  examples look clean to any loss-based test, so the fall cannot be told from a real
  one; both are held at their running maxima instead.  The same run then ends with 0.03
  of the weight on wrong labels and 86.3% test accuracy (fixed ``eta`` 0.1 / 0.5 with
  cap 2/N: 86.6% / 85.9%).  A constant ``eta`` keeps sharpening the weights as the
  history grows, as in the paper's MW rule.  Both values are stored (float32) in the
  weighter's state, so a resumed run repeats them.  The rate is an upper estimate;
  :func:`keras_mr.mr.noise_rate.estimate_noise_rate` gives the point estimate.
* **KAPPA = 0.75**: a softmax over losses that vary within the clean examples has an
  ESS below their count even when the mislabelled ones have no weight (a fixed
  ``eta=0.5`` that removes 99% of the weight on wrong labels ends at 0.44 N for 0.6 N
  clean examples); the cap then spreads the mass back over ``(1 - r) N`` examples.
* **Large N**: the mixture and the bisection run on a fixed random subsample of at most
  ``FIT_SAMPLE`` = 65,536 examples (the same rows at every update); the ESS fraction of a
  subsample estimates the whole's.

What it assumes: fewer than half the labels are wrong, and by the first update the
network fits the clean examples better than the wrong ones (a few hundred steps of the
usual cross-entropy training).  Where it does not (a loss that cannot separate the two
groups, or a first update after a dozen steps, as in ``tests/test_auto_tuning.py``), the
rate starts at the 0.5 clip and stays there: MR then trains on the easier half of the
data, and the clean examples it leaves out count as suspicious in
:func:`keras_mr.find_label_issues`; give ``max_weight`` and ``eta`` explicitly there.
"""

import numpy as np

from keras_mr.mr.multiplicative_weights import log_softmax
from keras_mr.mr.noise_rate import fit_two_gaussians

RAMP_UPDATES = 5
MAX_NOISE_RATE = 0.5
SUSPICION_LEVEL = 0.05
KAPPA = 0.75
FIT_SAMPLE = 65536


def fit_subsample(values, size=FIT_SAMPLE):
    """``values`` itself, or a fixed random subset of ``size`` of them (seed 0, sorted rows)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size <= size:
        return values
    rows = np.random.default_rng(0).choice(values.size, size=size, replace=False)
    return values[np.sort(rows)]


def guiding_noise_rate(losses, previous_rate=0.0, level=SUSPICION_LEVEL):
    """The noise rate that steers ``eta="auto"`` and ``max_weight="auto"``.

    A two-Gaussian mixture is fitted to the log losses; the rate is the fraction of
    examples whose posterior probability of belonging to the high-loss component
    exceeds ``level``, clipped to ``[0, MAX_NOISE_RATE]``, and never below
    ``previous_rate`` (see the module docstring for both choices).

    Args:
        losses: float ``(N,)`` per-example losses of one update.
        previous_rate: the rate of the previous update (0 at the first).
        level: posterior probability above which an example is "not confidently clean".

    Returns:
        float in ``[previous_rate, 0.5]``.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> losses = np.exp(np.concatenate([rng.normal(-4, 1, 700), rng.normal(1, 0.3, 300)]))
    >>> round(guiding_noise_rate(losses), 2)
    0.3
    >>> guiding_noise_rate(losses, previous_rate=0.45)
    0.45
    """
    scores = np.log(np.maximum(fit_subsample(losses), 0.0) + 1e-6)
    if scores.size < 4 or np.ptp(scores) == 0:
        return float(previous_rate)
    suspicion = fit_two_gaussians(scores)[3][:, 1]
    rate = float(np.clip(np.mean(suspicion > level), 0.0, MAX_NOISE_RATE))
    return max(rate, float(previous_rate))


def auto_max_weight(noise_rate, num_examples):
    """The cap ``1 / ((1 - r) N)`` of ``max_weight="auto"``."""
    rate = min(max(float(noise_rate), 0.0), MAX_NOISE_RATE)
    return 1.0 / ((1.0 - rate) * num_examples)


def ess_target(noise_rate, update_index, ramp_updates=RAMP_UPDATES, kappa=KAPPA):
    """Target ESS / N of ``eta="auto"``'s uncapped distribution at update ``update_index``.

    ``1 - (1 - kappa (1 - r)) min(1, (t + 1) / ramp_updates)``: from 1 (uniform) down to
    ``kappa (1 - r)`` over the first ``ramp_updates`` updates.
    """
    ramp = min(1.0, (update_index + 1) / ramp_updates)
    return 1.0 - (1.0 - kappa * (1.0 - float(noise_rate))) * ramp


def effective_sample_fraction(log_p):
    """``1 / (N sum p_i^2)`` of ``p = exp(log_p)`` (normalised): 1 for uniform weights."""
    p = np.exp(np.asarray(log_p, dtype=np.float64) - np.max(log_p))
    p /= p.sum()
    return float(1.0 / (p.size * np.sum(p * p)))


def eta_for_ess(cumulative_loss, target, low=1e-6, high=1e6, iterations=80):
    """The ``eta`` with ``ESS(softmax(-eta L)) / N == target`` (bisection in ``log eta``).

    The fraction falls monotonically from 1 as ``eta`` grows; a target the range cannot
    reach returns the end of the range (``low`` for targets near 1, ``high`` when even
    ``high`` keeps more mass than the target asks).  Above ``FIT_SAMPLE`` examples the
    fraction is computed on a fixed subsample (:func:`fit_subsample`).

    Args:
        cumulative_loss: float ``(N,)`` loss history ``L``.
        target: ESS / N in ``(0, 1]``.
        low: smallest ``eta`` returned.
        high: largest ``eta`` returned.
        iterations: bisection steps.

    Returns:
        float ``eta``.

    Example:

    >>> import numpy as np
    >>> L = np.linspace(0.0, 2.0, 1000)
    >>> eta = eta_for_ess(L, 0.8)
    >>> round(effective_sample_fraction(-eta * L), 4)
    0.8
    """
    L = fit_subsample(cumulative_loss)
    if effective_sample_fraction(log_softmax(-low * L)) <= target:
        return low
    if effective_sample_fraction(log_softmax(-high * L)) >= target:
        return high
    lo, hi = np.log(low), np.log(high)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        if effective_sample_fraction(log_softmax(-np.exp(mid) * L)) > target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))

"""``eta="auto"`` and ``max_weight="auto"`` (the defaults): MR settings that need no tuning.

A fixed ``eta`` is either too small (weights stay almost uniform: no effect) or too large
(weights collapse onto a few examples) depending on the data, the loss scale and the
number of epochs.  The automatic settings are derived, at every update ``t``, from a
*guiding* noise rate ``r_t`` read off the losses (:func:`guiding_noise_rate`):

* ``max_weight="auto"`` caps every weight at ``1 / ((1 - r_t) N)`` once the losses have
  shown two groups: the distribution must spread over at least ``(1 - r_t) N`` examples.
  Before that there is no cap (with ``eta="auto"`` the weights are uniform then; a fixed
  ``eta`` acts as the paper's MW rule);
* ``eta="auto"`` is (nearly) 0 until the losses first show two groups; from then on it is
  the ``eta`` whose uncapped MW distribution ``softmax(-eta L)`` has an effective sample
  size of ``ess_target(r_t, k) * N``, ``k`` counting the updates since that first split,
  with ``ess_target = 1 - (1 - KAPPA (1 - r_t)) * min(1, (k + 1) / 5)``: the weights move
  from uniform to their working sharpness over five updates, and the step size follows
  the loss scale by construction (bisection in ``log eta``).  It never decreases (a
  constant ``eta`` keeps sharpening as the history grows, as in the paper's MW rule).

The guiding rate (:func:`guiding_noise_rate`):

* **0 until the losses show two groups.**  A two-component mixture always finds two
  components, also on clean data, and early in training the losses of clean and wrong
  labels overlap.  :func:`keras_mr.mr.noise_rate.split_scores` accepts a split only when
  the fitted mixture is clearly bimodal, its high component is the minority, and that
  group's typical loss is still at least a tenth of the mean loss of MR's first update
  (mislabelled examples keep a loss near where training started; hard clean ones fall
  with the rest).  On clean data no split is accepted, the rate stays 0 and the weights
  uniform.
* **Generous within a split.**  The mixture weight of the high component underestimates:
  mislabelled examples the network has partly fitted sit in the clean component's tail
  (plain-training snapshots: 0.08-0.09 for a true 0.10 on Fashion-MNIST 10k, 0.10-0.12
  for 0.20 and 0.25-0.27 for 0.40 on a 1,200-example set).  With a cap built on it, the
  wrong labels left in the kept set get memorised and the estimate confirms itself.  The
  rate is therefore the fraction of examples whose posterior probability of the high
  component exceeds ``SUSPICION_LEVEL`` = 0.05 ("not confidently clean"): 0.11-0.12,
  0.16-0.18 and 0.39 on the same snapshots, 0.40-0.41 for a true 0.40 on Fashion-MNIST.
* **Held at its maximum over the updates that showed a split.**  Wrong labels that keep
  some weight are memorised, their losses fall and the next estimate falls with them: on
  the 1,200-example set with 40% symmetric noise a rate free to fall drifted from 0.40 to
  0.27 over 25 epochs, the weight on wrong labels climbed from 0.05 back to 0.18 and test
  accuracy fell from 87.8% to 81.9%; held, the run ends at 0.40, 0.04 and 91.0%.
  Memorised examples look clean to any loss-based test, so such a fall cannot be told
  from a real one.  Only updates whose losses showed two groups count, so no estimate
  made before the network separated anything is locked in.
* The rate is below 0.5 by construction (the high group must be the minority).  Both the
  rate, the first update's mean loss and the count ``k`` are stored (float32 / int32) in
  the weighter's state, so a resumed run repeats them.
* **KAPPA = 0.75**: a softmax over losses that vary within the clean examples has an
  ESS below their count even when the mislabelled ones have no weight; the cap then
  spreads the mass back over ``(1 - r) N`` examples.
* **Large N**: the mixtures run on a fixed random subsample of at most ``SPLIT_SAMPLE``
  = 16,384 examples, the bisection on one of at most ``FIT_SAMPLE`` = 65,536 (the same
  rows at every update); the split test fits five mixtures at once (about 0.1 s an update
  at N = 1,200, 0.5 s at 10,000 and 1 s from 16,384 on, on this project's 2-core CPU).

Where the assumptions end (measured in ``benchmarks/defaults.py``): when the network
memorises the wrong labels before it separates them (tiny data sets with a large
network, or noise the network learns as fast as the clean labels, such as pair-flip
noise on a hard task), the losses never show two groups and MR stays plain training: it
does not hurt, but it does not help either; give ``eta`` and ``max_weight`` explicitly
there.  Class-dependent loss scales are not normalised: a whole hard class can only be
taken for noise if its losses form a separate group of their own.
"""

from typing import NamedTuple

import numpy as np

from keras_mr.mr.multiplicative_weights import log_softmax
from keras_mr.mr.noise_rate import split_scores
from keras_mr.mr.weight_stats import effective_sample_size
from keras_mr.mr.weight_stats import normalized_weights

RAMP_UPDATES = 5
MAX_NOISE_RATE = 0.5
KAPPA = 0.75
SUSPICION_LEVEL = 0.05
ETA_BEFORE_SPLIT = 1e-6
FIT_SAMPLE = 65536
SPLIT_SAMPLE = 16384


def fit_subsample(values, size=FIT_SAMPLE):
    """``values`` itself, or a fixed random subset of ``size`` of them (seed 0, sorted rows)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size <= size:
        return values
    rows = np.random.default_rng(0).choice(values.size, size=size, replace=False)
    return values[np.sort(rows)]


class GuidingRate(NamedTuple):
    """What :func:`guiding_noise_rate` returns.

    Attributes:
        rate: the guiding noise rate of this update.
        separated: whether this update's losses showed two groups.
    """

    rate: float
    separated: bool


def guiding_noise_rate(losses, previous_rate=0.0, reference_loss=None):
    """The noise rate that steers ``eta="auto"`` and ``max_weight="auto"``.

    A two-Gaussian mixture is fitted to the log losses
    (:func:`keras_mr.mr.noise_rate.split_scores`); when it shows two groups the rate is
    the fraction of examples whose posterior probability of the high component exceeds
    ``SUSPICION_LEVEL`` = 0.05, clipped to 0.5, otherwise ``previous_rate`` is kept (see
    the module docstring for these choices).

    Args:
        losses: float ``(N,)`` per-example losses of one update.
        previous_rate: the rate of the previous update (0 at the first).
        reference_loss: the mean loss of MR's first update (``None``: skip the test
            that the high group's loss is still near it).

    Returns:
        :class:`GuidingRate`.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> two = np.exp(np.concatenate([rng.normal(-4, 1, 700), rng.normal(1, 0.3, 300)]))
    >>> guide = guiding_noise_rate(two)
    >>> round(guide.rate, 2), guide.separated
    (0.3, True)
    >>> one = np.exp(rng.gumbel(-3, 1, 1000))  # one skewed group: no split
    >>> guiding_noise_rate(one)
    GuidingRate(rate=0.0, separated=False)
    >>> guiding_noise_rate(one, previous_rate=0.25).rate  # held
    0.25
    """
    scores = np.log(np.maximum(fit_subsample(losses, SPLIT_SAMPLE), 0.0) + 1e-6)
    split = split_scores(scores, reference_loss)
    if not split.separated:
        return GuidingRate(float(previous_rate), False)
    generous = float(np.mean(split.suspicion > SUSPICION_LEVEL))
    return GuidingRate(max(min(generous, MAX_NOISE_RATE), float(previous_rate)), True)


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
    """The effective sample size over ``N`` of ``p = softmax(log_p)``: 1 for uniform weights."""
    p = normalized_weights(log_p)
    return effective_sample_size(p) / p.size


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

"""``eta="auto"`` and ``max_weight="auto"``: MR settings derived from the estimated noise rate.

A fixed ``eta`` is either too small (weights stay almost uniform: no effect) or too large
(weights collapse onto a few examples) depending on the data, the loss scale and the
number of epochs.  With the noise rate ``r`` estimated at every update from the losses
(:func:`keras_mr.mr.noise_rate.fit_two_gaussians`, clipped to ``[0, 0.5]``):

* ``max_weight="auto"`` caps every weight at ``1 / ((1 - r) N)``: the distribution must
  spread over at least ``(1 - r) N`` examples, the estimated clean ones, so it cannot
  collapse;
* ``eta="auto"`` picks, at update ``t``, the ``eta`` whose MW distribution
  ``softmax(-eta L)`` has an effective sample size of ``ess_target(r, t) * N`` with
  ``ess_target = 1 - r * min(1, (t + 1) / 5)``: the weights move from uniform towards
  "uniform over the clean examples" over the first five updates, and the step size
  follows the loss scale by construction (``eta`` found by bisection in ``log eta``).
"""

import numpy as np

from keras_mr.mr.multiplicative_weights import log_softmax
from keras_mr.mr.noise_rate import fit_two_gaussians

RAMP_UPDATES = 5
MAX_NOISE_RATE = 0.5


def noise_rate_from_losses(losses):
    """Noise rate from one update's losses (mixture on their log), clipped to ``[0, 0.5]``."""
    losses = np.asarray(losses, dtype=np.float64)
    scores = np.log(np.maximum(losses, 0.0) + 1e-6)
    if scores.size < 4 or np.ptp(scores) == 0:
        return 0.0
    return float(np.clip(fit_two_gaussians(scores)[0][1], 0.0, MAX_NOISE_RATE))


def auto_max_weight(noise_rate, num_examples):
    """The cap ``1 / ((1 - r) N)`` of ``max_weight="auto"``."""
    rate = min(max(float(noise_rate), 0.0), MAX_NOISE_RATE)
    return 1.0 / ((1.0 - rate) * num_examples)


def ess_target(noise_rate, update_index, ramp_updates=RAMP_UPDATES):
    """Target ESS / N of ``eta="auto"`` at update ``update_index`` (0-based)."""
    return 1.0 - float(noise_rate) * min(1.0, (update_index + 1) / ramp_updates)


def effective_sample_fraction(log_p):
    """``1 / (N sum p_i^2)`` of ``p = exp(log_p)`` (normalised): 1 for uniform weights."""
    p = np.exp(np.asarray(log_p, dtype=np.float64) - np.max(log_p))
    p /= p.sum()
    return float(1.0 / (p.size * np.sum(p * p)))


def eta_for_ess(cumulative_loss, target, low=1e-6, high=1e6, iterations=80):
    """The ``eta`` with ``ESS(softmax(-eta L)) / N == target`` (bisection in ``log eta``).

    The fraction falls monotonically from 1 as ``eta`` grows; a target the range cannot
    reach returns the end of the range (``low`` for targets near 1, ``high`` when even
    ``high`` keeps more mass than the target asks).

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
    L = np.asarray(cumulative_loss, dtype=np.float64)
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

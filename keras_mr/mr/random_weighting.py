"""Random weighting: the rectified-Gaussian baseline of the MR paper.

The MR paper (section 5, after Ren et al. 2018) compares MR with weights drawn
at random every epoch from a rectified Gaussian::

    z_i ~ N(0, 1),   w_i = max(0, z_i) / sum_j max(0, z_j)

The paper prints the denominator as ``sum_j z_j``; that sum can be negative or
zero, so we normalise by the sum of the *rectified* draws, which is what makes
``w`` a distribution.  About half of the examples get weight zero each epoch.
"""

import numpy as np


def rectified_gaussian_weights(num_examples, seed=None, update=0):
    """Draws one epoch's random weights.

    Args:
        num_examples: ``N``.
        seed: base seed (``None`` = fresh entropy).
        update: index of the redraw; with a fixed ``seed`` the draw for a given
            ``update`` is reproducible, so a resumed run redraws the same weights.

    Returns:
        float64 array ``(N,)`` summing to 1.

    Example:

    >>> w = rectified_gaussian_weights(1000, seed=0)
    >>> float(w.sum()), bool((w == 0).mean() > 0.4)
    (1.0, True)
    """
    if int(num_examples) <= 0:
        raise ValueError(f"`num_examples` must be positive, got {num_examples!r}.")
    rng = np.random.default_rng(None if seed is None else [int(seed), int(update)])
    z = np.maximum(rng.standard_normal(int(num_examples)), 0.0)
    total = z.sum()
    if total == 0:  # only possible for tiny N: fall back to uniform
        return np.full(int(num_examples), 1.0 / int(num_examples))
    return z / total

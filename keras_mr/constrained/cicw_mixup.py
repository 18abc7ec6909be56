"""CICW-Mixup: mixup whose partners and ratios are driven by instance weights.

Vanilla mixup (Zhang et al. 2018) pairs each example ``i`` with a uniformly
random partner ``j`` and mixes ``x = lam x_i + (1 - lam) x_j`` (same for the
targets) with ``lam ~ Beta(a, a)``.  It treats clean and noisy examples alike.
CICW-Mixup uses the CIW weights ``q`` of the batch (high weight = probably
clean) in two ways, giving three variants (``variant=``):

``"sampling"``
    partners are drawn with replacement with probability ``q_j`` (biased
    towards clean examples); the ratio is still ``lam ~ Beta(a, a)``.
``"ratio"``
    partners are a uniform random permutation; the ratio is the weight ratio
    ``lam_i = q_i / (q_i + q_j)`` instead of a random one, so the mixed
    example leans towards the cleaner of the two.
``"both"`` (default)
    weighted partner sampling and weight-ratio mixing.

The targets mixed are the (class-reweighted, for CICW) soft targets, so each
mixed target is a convex combination of two distributions and still sums to
one.  The loss on the mixed batch is the plain (or MR-weighted) mean: the
instance weights have already been used to build the batch.

Core ``keras.layers.MixUp`` draws a uniform permutation and Beta ratios
internally and has no input for partner probabilities or per-example ratios,
so it does not fit here; :func:`mix` is the same convex combination with the
partners and ratios given explicitly.
"""

from typing import Any
from typing import NamedTuple

from keras import ops
from keras import random

from keras_mr.constrained.mixing_ops import mix
from keras_mr.constrained.mixing_ops import uniform_partners

__all__ = [
    "VARIANTS",
    "MixedBatch",
    "cicw_mixup",
    "mix",
    "uniform_partners",
    "weight_ratios",
    "weighted_partners",
]

VARIANTS = ("sampling", "ratio", "both")


class MixedBatch(NamedTuple):
    """A CICW-Mixup batch and how it was drawn.

    Attributes:
        x: ``(B, ...)`` mixed inputs.
        y: ``(B, K)`` mixed targets.
        partners: int ``(B,)`` partner ``j(i)`` of each example.
        ratios: ``(B,)`` mixing ratio ``lam_i`` of each example.
    """

    x: Any
    y: Any
    partners: Any
    ratios: Any


def weighted_partners(weights, seed=None):
    """Draws one partner per example with probability proportional to weight.

    Args:
        weights: tensor ``(B,)`` of non-negative weights (not all zero).
        seed: optional seed or ``keras.random.SeedGenerator``.

    Returns:
        int32 tensor ``(B,)``.
    """
    w = ops.convert_to_tensor(weights)
    logits = ops.log(ops.maximum(ops.cast(w, "float32"), 1e-30))
    batch = ops.shape(w)[0]
    # B independent draws from one row of logits (not one draw from each of B tiled
    # rows, which builds and samples a (B, B) matrix)
    draws = random.categorical(logits[None, :], batch, seed=seed, dtype="int32")
    return ops.reshape(draws, (-1,))


def weight_ratios(weights, partners):
    """``lam_i = q_i / (q_i + q_j(i))`` (0.5 where both are zero)."""
    w = ops.convert_to_tensor(weights)
    wj = ops.take(w, partners, axis=0)
    total = w + wj
    return ops.where(total > 0, w / ops.where(total > 0, total, 1.0), 0.5)


def cicw_mixup(x, y, weights, variant="both", mixup_alpha=1.0, seed=None):
    """Builds a CICW-Mixup batch from instance weights.

    Args:
        x: tensor ``(B, ...)`` of inputs.
        y: tensor ``(B, K)`` of soft targets (e.g. CICW class weights).
        weights: tensor ``(B,)`` of CIW instance weights (any positive scale).
        variant: ``"both"``, ``"sampling"`` or ``"ratio"`` (module docstring).
        mixup_alpha: ``a`` of the ``Beta(a, a)`` ratio (``"sampling"`` only).
        seed: optional seed or ``keras.random.SeedGenerator``.

    Returns:
        :class:`MixedBatch` ``(x_mix, y_mix, partners, ratios)``.

    Example:

    >>> import numpy as np
    >>> x, y_onehot = np.random.rand(4, 3).astype("float32"), np.eye(2)[[0, 1, 0, 1]]
    >>> q = np.array([0.4, 0.4, 0.2, 0.0], "float32")  # CIW weights
    >>> x_mix, y_mix, j, lam = cicw_mixup(x, y_onehot, q, variant="both", seed=0)
    >>> tuple(x_mix.shape), tuple(y_mix.shape), bool((np.asarray(j) != 3).all())
    ((4, 3), (4, 2), True)
    """
    if variant not in VARIANTS:
        raise ValueError(f"Unknown `variant`={variant!r}; use one of {VARIANTS}.")
    if variant in ("sampling", "both"):
        partners = weighted_partners(weights, seed=seed)
    else:
        partners = uniform_partners(ops.shape(weights)[0], seed=seed)
    if variant in ("ratio", "both"):
        ratios = weight_ratios(weights, partners)
    else:
        if not mixup_alpha > 0:
            raise ValueError(f"`mixup_alpha` must be > 0; got {mixup_alpha}.")
        ratios = random.beta(ops.shape(weights), mixup_alpha, mixup_alpha, seed=seed)
    ratios = ops.stop_gradient(ratios)
    x_mix, y_mix = mix(x, y, partners, ratios)
    return MixedBatch(x_mix, y_mix, partners, ratios)

"""Mixing primitives shared by vanilla mixup and CICW-Mixup, and label smoothing.

:mod:`keras_mr.constrained.mixup` (MR + mixup) and :mod:`keras_mr.constrained.cicw_mixup`
both build on these; neither imports the other.
"""

from keras import ops
from keras import random


def mix(x, y, partners, ratios):
    """Convex combination of each example with its partner.

    Args:
        x: tensor ``(B, ...)`` of inputs.
        y: tensor ``(B, K)`` of (soft) targets.
        partners: int tensor ``(B,)`` of partner indices ``j(i)``.
        ratios: tensor ``(B,)`` of ``lam_i`` in ``[0, 1]``.

    Returns:
        ``(x_mix, y_mix)`` with ``x_mix[i] = lam_i x[i] + (1 - lam_i) x[j(i)]``.
    """
    x = ops.convert_to_tensor(x)
    y = ops.convert_to_tensor(y)
    lam_x = ops.cast(ops.reshape(ratios, (-1,) + (1,) * (len(x.shape) - 1)), x.dtype)
    lam_y = ops.cast(ops.reshape(ratios, (-1,) + (1,) * (len(y.shape) - 1)), y.dtype)
    xj = ops.take(x, partners, axis=0)
    yj = ops.take(y, partners, axis=0)
    return lam_x * x + (1.0 - lam_x) * xj, lam_y * y + (1.0 - lam_y) * yj


def uniform_partners(batch_size, seed=None):
    """A uniformly random permutation of ``range(batch_size)`` (int32)."""
    return ops.cast(random.shuffle(ops.arange(batch_size), seed=seed), "int32")


def smooth_labels(y, epsilon):
    """Label smoothing ``(1 - epsilon) y + epsilon / K``.

    Args:
        y: tensor ``(B, K)`` of one-hot or soft labels.
        epsilon: smoothing in ``[0, 1]``.

    Returns:
        Tensor ``(B, K)``; rows still sum to one.
    """
    if isinstance(epsilon, (int, float)) and not 0 <= epsilon <= 1:
        raise ValueError(f"`epsilon` must be in [0, 1]; got {epsilon}.")
    y = ops.convert_to_tensor(y)
    num_classes = ops.cast(ops.shape(y)[-1], y.dtype)
    return (1.0 - epsilon) * y + epsilon / num_classes

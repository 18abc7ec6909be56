"""MR (or any per-example weights) combined with mixup and label smoothing.

The MR paper (Tables 1-3, "MR + mixup", "MR + label smoothing") trains with
mixup / label smoothing while weighting examples with the MR distribution,
but does not spell out how the weights of the two examples of a mixed pair
are combined.  Our rule: a mixup example's loss is the mixup loss
``lam * l(y_i) + (1 - lam) * l(y_j)`` with each of its two terms weighted by
the weight of the example the label comes from::

    loss_mix = lam * w_i * l(f(x_mix), y_i) + (1 - lam) * w_j * l(f(x_mix), y_j)

For a loss linear in the target (cross-entropy) this is one weighted example

    w_mix = lam * w_i + (1 - lam) * w_j
    y_mix = (lam * w_i * y_i + (1 - lam) * w_j * y_j) / w_mix

which is what :func:`mixup_with_weights` returns (``consistent_targets=True``,
default): the *weighted* label mass ``w_mix * y_mix`` of a mixed example is
exactly the weighted label mass its two sources put into it, so an example
MR has switched off (``w = 0``) contributes neither its input's label nor
gradient.  With ``consistent_targets=False`` the targets are the plain mixup
targets ``lam y_i + (1 - lam) y_j`` weighted by ``w_mix`` (the simpler rule,
in which a zero-weight label still leaks in through a positive-weight
partner).  With uniform weights both reduce to vanilla mixup.

The mixed weights are re-normalised to sum to the batch size
(:func:`keras_mr.pipeline.batch_weights.normalize_batch_weights`), the convention of
the :mod:`keras_mr` pipelines, so they can go straight into
:func:`keras_mr.pipeline.weighted_loss.weighted_mean`.

Label smoothing needs no special rule: the smoothed target
``(1 - eps) y + eps / K`` is used with the example's own weight (Keras'
``CategoricalCrossentropy(label_smoothing=eps)`` with MR's
``(x, y, sample_weight)`` dataset already does this).
"""

from typing import Any
from typing import NamedTuple

from keras import ops
from keras import random

from keras_mr.constrained.mixing_ops import mix
from keras_mr.constrained.mixing_ops import smooth_labels
from keras_mr.constrained.mixing_ops import uniform_partners
from keras_mr.pipeline.batch_weights import normalize_batch_weights

__all__ = ["WeightedBatch", "mixup_with_weights", "mr_mixup", "smooth_labels"]


class WeightedBatch(NamedTuple):
    """A mixed batch with its weights.

    Attributes:
        x: ``(B, ...)`` mixed inputs.
        y: ``(B, K)`` mixed targets.
        sample_weight: ``(B,)`` mixed weights, summing to ``B``.
    """

    x: Any
    y: Any
    sample_weight: Any


def mixup_with_weights(x, y, sample_weight, partners, ratios, consistent_targets=True):
    """Mixes a weighted batch (the MR + mixup combination rule).

    Args:
        x: tensor ``(B, ...)``.
        y: tensor ``(B, K)`` of one-hot / soft targets.
        sample_weight: tensor ``(B,)`` of per-example weights (or ``None``
            for uniform).
        partners: int tensor ``(B,)``, the partner ``j(i)`` of each example.
        ratios: tensor ``(B,)``, ``lam_i``.
        consistent_targets: see the module docstring.

    Returns:
        :class:`WeightedBatch` ``(x_mix, y_mix, w_mix)`` with ``w_mix`` normalised to
        sum to ``B``.
    """
    x = ops.convert_to_tensor(x)
    y = ops.convert_to_tensor(y)
    if sample_weight is None:
        w = ops.ones((ops.shape(x)[0],), dtype=y.dtype)
    else:
        w = ops.cast(ops.reshape(sample_weight, (-1,)), y.dtype)
    lam = ops.cast(ops.reshape(ratios, (-1,)), y.dtype)
    x_mix, y_plain = mix(x, y, partners, lam)
    wj = ops.take(w, partners, axis=0)
    a = lam * w
    b = (1.0 - lam) * wj
    w_mix = a + b
    if consistent_targets:
        yj = ops.take(y, partners, axis=0)
        safe = ops.where(w_mix > 0, w_mix, 1.0)[:, None]
        y_weighted = (a[:, None] * y + b[:, None] * yj) / safe
        y_mix = ops.where(w_mix[:, None] > 0, y_weighted, y_plain)
    else:
        y_mix = y_plain
    return WeightedBatch(x_mix, y_mix, normalize_batch_weights(w_mix))


def mr_mixup(x, y, sample_weight=None, mixup_alpha=1.0, seed=None, **kwargs):
    """Vanilla mixup (uniform partners, ``Beta(a, a)`` ratios) with weights.

    Args:
        x, y, sample_weight: the batch, as in :func:`mixup_with_weights`.
        mixup_alpha: ``a > 0`` (the MR paper uses 1 with SGD, 0.5 with Adam).
        seed: optional seed or ``keras.random.SeedGenerator``.
        **kwargs: passed to :func:`mixup_with_weights`.

    Returns:
        :class:`WeightedBatch` ``(x_mix, y_mix, w_mix)``.

    Example:

    >>> import numpy as np
    >>> x, y_onehot = np.random.rand(4, 3).astype("float32"), np.eye(2)[[0, 1, 0, 1]]
    >>> w = np.array([1.0, 1.0, 2.0, 0.0], "float32")  # e.g. MR weights
    >>> x_m, y_m, w_m = mr_mixup(x, y_onehot, sample_weight=w, mixup_alpha=1.0, seed=0)
    >>> round(float(np.sum(w_m)), 4)  # normalised to the batch size
    4.0
    """
    if not mixup_alpha > 0:
        raise ValueError(f"`mixup_alpha` must be > 0; got {mixup_alpha}.")
    batch = ops.shape(x)[0]
    partners = uniform_partners(batch, seed=seed)
    ratios = random.beta((batch,), mixup_alpha, mixup_alpha, seed=seed)
    return mixup_with_weights(x, y, sample_weight, partners, ratios, **kwargs)

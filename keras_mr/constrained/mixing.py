"""How :class:`keras_mr.ConstrainedReweightingModel` mixes a batch, as strategy objects.

* :class:`NoMixing` (default) -- the batch is trained on as it is;
* :class:`WeightedMixup` -- vanilla mixup with per-example weights (MR + mixup):
  the batch and its weights are mixed *before* the loss (:mod:`keras_mr.constrained.mixup`);
* :class:`CICWMixup` -- CICW-Mixup: partners and ratios drawn from the CIW weights of a
  forward pass without gradient, the model then trained on the mixed batch
  (:mod:`keras_mr.constrained.cicw_mixup`).

Each has the one method the training step calls, :meth:`mix_batch`, which takes the
step's :class:`TrainingBatch` and returns the batch to train on, and a
``get_config``/``from_config`` of its constructor's arguments.
"""

from typing import Any
from typing import NamedTuple

import keras

from keras_mr.constrained import cicw_mixup as cicw_mixup_lib
from keras_mr.constrained import mixup as mixup_lib


class TrainingBatch(NamedTuple):
    """One replica's batch in the training step of the model.

    Attributes:
        x: the inputs.
        y: the (one-hot or soft) targets.
        sample_weight: ``(B,)`` weights from the data (e.g. MR's), or ``None``.
        index: ``(B,)`` example indices for MR's ``loss_source="train"``, or ``None``
            (mixed examples have no single index).
        reweight: whether the step still applies the class and instance reweighting
            (``False`` once CICW-Mixup has used them to build the batch).
    """

    x: Any
    y: Any
    sample_weight: Any = None
    index: Any = None
    reweight: bool = True


class Reweighted(NamedTuple):
    """The reweighting of a batch, as the model computes it.

    Attributes:
        targets: ``(B, K)`` targets after label smoothing and class reweighting.
        losses: ``(B,)`` per-example losses on ``targets``.
        weights: ``(B,)`` final example weights (CIW's, scaled to sum to the global
            batch size), or the data's ``sample_weight`` without instance reweighting.
        global_loss: the CIW loss ``sum q l`` over the global batch, or ``None``.
    """

    targets: Any
    losses: Any
    weights: Any
    global_loss: Any = None


@keras.saving.register_keras_serializable(package="keras_mr")
class NoMixing:
    """No mixing: the step trains on the batch as it is (the default)."""

    name = None
    needs_instance_weights = False

    def mix_batch(self, batch, reweigh, seed):
        """Returns ``batch`` unchanged.

        Args:
            batch: the step's :class:`TrainingBatch`.
            reweigh: unused (see :meth:`CICWMixup.mix_batch`).
            seed: unused.
        """
        del reweigh, seed
        return batch

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_mr")
class WeightedMixup:
    """Vanilla mixup whose two sources keep their weights (MR + mixup).

    Args:
        alpha: ``Beta(alpha, alpha)`` parameter of the mixing ratios.
        consistent_targets: weight-consistent targets (see :mod:`keras_mr.constrained.mixup`).

    Example:

    >>> import numpy as np
    >>> from keras_mr.constrained.mixing import TrainingBatch, WeightedMixup
    >>> batch = TrainingBatch(np.random.rand(4, 3), np.eye(2)[[0, 1, 0, 1]], np.ones(4))
    >>> mixed = WeightedMixup(alpha=0.5).mix_batch(batch, reweigh=None, seed=0)
    >>> tuple(mixed.x.shape), mixed.index is None, mixed.reweight
    ((4, 3), True, True)
    """

    name = "uniform"
    needs_instance_weights = False

    def __init__(self, alpha=1.0, consistent_targets=True):
        if not alpha > 0:
            raise ValueError(f"WeightedMixup's `alpha` must be > 0; got {alpha}.")
        self.alpha = float(alpha)
        self.consistent_targets = bool(consistent_targets)

    def mix_batch(self, batch, reweigh, seed):
        """Mixes the inputs, targets and weights of ``batch``.

        Args:
            batch: the step's :class:`TrainingBatch` (one-hot targets).
            reweigh: unused (the reweighting runs on the mixed batch).
            seed: seed or ``keras.random.SeedGenerator`` of the partners and ratios.

        Returns:
            The mixed :class:`TrainingBatch`, without example indices.
        """
        del reweigh
        mixed = mixup_lib.mr_mixup(
            batch.x,
            batch.y,
            batch.sample_weight,
            mixup_alpha=self.alpha,
            seed=seed,
            consistent_targets=self.consistent_targets,
        )
        return TrainingBatch(mixed.x, mixed.y, mixed.sample_weight, index=None)

    def get_config(self):
        return {"alpha": self.alpha, "consistent_targets": self.consistent_targets}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_mr")
class CICWMixup:
    """CICW-Mixup: mixing driven by the CIW weights.

    Args:
        variant: ``"both"``, ``"sampling"`` or ``"ratio"``.
        alpha: ``Beta(alpha, alpha)`` parameter of the random ratios.
    """

    name = "cicw"
    needs_instance_weights = True

    def __init__(self, variant="both", alpha=1.0):
        if variant not in cicw_mixup_lib.VARIANTS:
            raise ValueError(
                f"CICWMixup's `variant` must be one of {cicw_mixup_lib.VARIANTS}; got {variant!r}."
            )
        self.variant = variant
        self.alpha = float(alpha)

    def mix_batch(self, batch, reweigh, seed):
        """Mixes the reweighted targets of ``batch`` according to its CIW weights.

        Args:
            batch: the step's :class:`TrainingBatch`.
            reweigh: ``reweigh(batch) -> Reweighted``, the model's class and instance
                reweighting of ``batch`` on a forward pass without gradient.
            seed: seed or ``keras.random.SeedGenerator`` of the partners and ratios.

        Returns:
            The mixed :class:`TrainingBatch`; its loss is the plain mean (the data's
            weights already entered through the CIW weights).
        """
        reweighted = reweigh(batch)
        mixed = cicw_mixup_lib.cicw_mixup(
            batch.x,
            reweighted.targets,
            reweighted.weights,
            variant=self.variant,
            mixup_alpha=self.alpha,
            seed=seed,
        )
        return TrainingBatch(mixed.x, mixed.y, None, index=None, reweight=False)

    def get_config(self):
        return {"variant": self.variant, "alpha": self.alpha}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


MIXUP_MODES = (NoMixing.name, WeightedMixup.name, CICWMixup.name)


def get_mixing(mixing=None):
    """The mixing strategy of the model's ``mixing=`` argument (an object is returned as is).

    Args:
        mixing: a :class:`NoMixing`, :class:`WeightedMixup` or :class:`CICWMixup`, or
            ``None`` (:class:`NoMixing`), ``"uniform"`` (``WeightedMixup()``) or
            ``"cicw"`` (``CICWMixup()``).

    Returns:
        A :class:`NoMixing`, :class:`WeightedMixup` or :class:`CICWMixup`.
    """
    if isinstance(mixing, (NoMixing, WeightedMixup, CICWMixup)):
        return mixing
    if mixing is None:
        return NoMixing()
    if mixing == WeightedMixup.name:
        return WeightedMixup()
    if mixing == CICWMixup.name:
        return CICWMixup()
    raise ValueError(
        f"`mixing` must be a NoMixing, WeightedMixup or CICWMixup object, or one of "
        f"{MIXUP_MODES}; got {mixing!r}."
    )

"""How :class:`keras_mr.ConstrainedReweightingModel` mixes a batch, as objects.

* :class:`WeightedMixup` -- vanilla mixup with per-example weights (MR + mixup):
  the batch and its weights are mixed *before* the loss (:mod:`keras_mr.constrained.mixup`);
* :class:`CICWMixup` -- CICW-Mixup: partners and ratios drawn from the CIW weights of a
  forward pass without gradient, the model then trained on the mixed batch
  (:mod:`keras_mr.constrained.cicw_mixup`).
"""

from keras_mr.constrained import cicw_mixup as cicw_mixup_lib
from keras_mr.constrained import mixup as mixup_lib


class WeightedMixup:
    """Vanilla mixup whose two sources keep their weights (MR + mixup).

    Args:
        alpha: ``Beta(alpha, alpha)`` parameter of the mixing ratios.
        consistent_targets: weight-consistent targets (see :mod:`keras_mr.constrained.mixup`).
    """

    name = "uniform"
    needs_instance_weights = False

    def __init__(self, alpha=1.0, consistent_targets=True):
        self.alpha = float(alpha)
        self.consistent_targets = bool(consistent_targets)

    def mix_batch(self, x, y, sample_weight, seed):
        """``(x_mix, y_mix, w_mix)`` of a batch with one-hot targets."""
        return mixup_lib.mr_mixup(
            x,
            y,
            sample_weight,
            mixup_alpha=self.alpha,
            seed=seed,
            consistent_targets=self.consistent_targets,
        )

    def get_config(self):
        return {
            "mixup": self.name,
            "mixup_alpha": self.alpha,
            "consistent_targets": self.consistent_targets,
        }


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
                f"`mixup_variant` must be one of {cicw_mixup_lib.VARIANTS}; got {variant!r}."
            )
        self.variant = variant
        self.alpha = float(alpha)

    def mix_batch(self, x, targets, weights, seed):
        """``(x_mix, y_mix)`` drawn according to the CIW ``weights``."""
        x_mix, y_mix, _, _ = cicw_mixup_lib.cicw_mixup(
            x, targets, weights, variant=self.variant, mixup_alpha=self.alpha, seed=seed
        )
        return x_mix, y_mix

    def get_config(self):
        return {"mixup": self.name, "mixup_variant": self.variant, "mixup_alpha": self.alpha}


MIXUP_MODES = (None, WeightedMixup.name, CICWMixup.name)


def get_mixing(mixup=None, mixup_variant="both", mixup_alpha=1.0, consistent_targets=True):
    """The mixing object for the model's ``mixup=`` keywords (or an object given as is)."""
    if mixup is None or isinstance(mixup, (WeightedMixup, CICWMixup)):
        return mixup
    if mixup == WeightedMixup.name:
        return WeightedMixup(mixup_alpha, consistent_targets)
    if mixup == CICWMixup.name:
        return CICWMixup(mixup_variant, mixup_alpha)
    raise ValueError(f"`mixup` must be one of {MIXUP_MODES}; got {mixup!r}.")

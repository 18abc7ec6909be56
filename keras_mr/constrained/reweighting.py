"""The two reweightings of :class:`keras_mr.ConstrainedReweightingModel`, as objects.

* :class:`InstanceReweighting` -- CIW: per-example weights from the closed form of
  :mod:`keras_mr.constrained.ciw` over the *global* batch, with a temperature schedule
  and burn-in;
* :class:`ClassReweighting` -- CICW: the targets replaced by the class weights of
  :mod:`keras_mr.constrained.cicw`.

Each holds its settings, validates them once, and has the one method the training step
calls; the model does not branch on option strings.  ``get_config``/``from_config`` use the
constructor's arguments, so the model saves them with ``keras.saving``.
"""

from typing import Any
from typing import NamedTuple

import keras
from keras import ops

from keras_mr._internal.distribution import all_gather_with_offset
from keras_mr.constrained import cicw as cicw_lib
from keras_mr.constrained import ciw as ciw_lib


class InstanceWeights(NamedTuple):
    """CIW weights of one replica's batch.

    Attributes:
        weights: ``(B,)`` final weights (no gradient), scaled to sum to the global
            batch size over all replicas.
        global_loss: scalar ``sum q l`` over the global batch (the CIW loss).
    """

    weights: Any
    global_loss: Any


@keras.saving.register_keras_serializable(package="keras_mr")
class InstanceReweighting:
    """CIW instance weights (Constrained Instance reWeighting).

    Args:
        divergence: divergence of CIW (``"kl"``, ``"reverse_kl"``, ``"hellinger"``,
            ``"chi2"`` or a float alpha).
        temperature: initial temperature ``lambda > 0``.
        final_temperature: temperature floor of the decay, or ``None`` for a constant one.
        decay_rate: temperature factor per ``decay_steps`` steps.
        decay_steps: steps per ``decay_rate`` factor.
        burn_in_steps: optimizer steps with the reference (uniform / MR) weights and no
            class reweighting before CIW starts.

    Example:

    >>> import keras_mr
    >>> ciw = keras_mr.constrained.InstanceReweighting(temperature=1.0, final_temperature=0.25,
    ...                                                 decay_steps=4)
    >>> [round(float(ciw.temperature_at(t)), 3) for t in (0, 4, 100)]
    [1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        divergence="kl",
        temperature=1.0,
        final_temperature=None,
        decay_rate=0.5,
        decay_steps=1000,
        burn_in_steps=0,
    ):
        ciw_lib.resolve_alpha(divergence)
        ciw_lib.temperature_schedule(
            0, temperature, final_temperature, decay_rate, decay_steps, burn_in_steps
        )
        if burn_in_steps < 0:
            raise ValueError(f"`burn_in_steps` must be >= 0; got {burn_in_steps}.")
        self.divergence = divergence
        self.temperature = float(temperature)
        self.final_temperature = None if final_temperature is None else float(final_temperature)
        self.decay_rate = float(decay_rate)
        self.decay_steps = decay_steps
        self.burn_in_steps = int(burn_in_steps)

    def temperature_at(self, step):
        """The temperature at optimizer step ``step``."""
        return ciw_lib.temperature_schedule(
            step,
            self.temperature,
            self.final_temperature,
            self.decay_rate,
            self.decay_steps,
            self.burn_in_steps,
        )

    def in_burn_in(self, step):
        """Boolean tensor ``step < burn_in_steps``, or ``None`` without burn-in."""
        return None if self.burn_in_steps <= 0 else step < self.burn_in_steps

    def weights(self, losses, sample_weight, step):
        """Final per-example weights of this replica's batch and the global weighted loss.

        The weights ``q`` are computed on the global batch (gathered across replicas),
        with ``sample_weight`` as reference, and scaled to sum to the global batch size.

        Args:
            losses: ``(B,)`` per-example losses of this replica's batch.
            sample_weight: ``(B,)`` reference weights (e.g. MR's), or ``None``.
            step: the optimizer step (temperature schedule and burn-in).

        Returns:
            :class:`InstanceWeights` ``(weights, global_loss)``.
        """
        per_g, offset = all_gather_with_offset(losses)
        w_g = None
        if sample_weight is not None:
            w_g = all_gather_with_offset(ops.cast(sample_weight, losses.dtype))[0]
        q = ciw_lib.instance_weights(per_g, self.temperature_at(step), self.divergence, w_g)
        q = ops.cast(q, losses.dtype)
        burn = self.in_burn_in(step)
        if burn is not None:
            q = ops.where(burn, ciw_lib.reference_distribution(per_g, w_g), q)
        global_loss = ops.sum(q * ops.stop_gradient(per_g))
        batch = ops.cast(ops.shape(per_g)[0], losses.dtype)
        local = q if isinstance(offset, int) else ops.slice(q, [offset], [ops.shape(losses)[0]])
        return InstanceWeights(ops.stop_gradient(batch * local), global_loss)

    def get_config(self):
        return {
            "divergence": self.divergence,
            "temperature": self.temperature,
            "final_temperature": self.final_temperature,
            "decay_rate": self.decay_rate,
            "decay_steps": self.decay_steps,
            "burn_in_steps": self.burn_in_steps,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_mr")
class ClassReweighting:
    """CICW class reweighting of the targets (Constrained Instance and Class reWeighting).

    Args:
        divergence: ``"kl"``, ``"l1"`` or ``"l2"``.
        temperature: ``lambda`` of the KL / L2 class problem.
        budget: ``delta`` of the L1 class problem.
        smoothing: ``eps`` of the KL reference label.
    """

    def __init__(self, divergence="kl", temperature=1.0, budget=0.4, smoothing=0.1):
        if divergence not in cicw_lib.CLASS_DIVERGENCES:
            raise ValueError(
                f"ClassReweighting's `divergence` must be one of "
                f"{cicw_lib.CLASS_DIVERGENCES}; got {divergence!r}."
            )
        self.divergence = divergence
        self.temperature = float(temperature)
        self.budget = float(budget)
        self.smoothing = float(smoothing)

    def targets(self, y, y_pred, from_logits, burn=None):
        """Class-reweighted targets (the given ``y`` during burn-in)."""
        v = cicw_lib.class_weights(
            cicw_lib.crossentropy_class_losses(y_pred, from_logits),
            y,
            divergence=self.divergence,
            temperature=self.temperature,
            budget=self.budget,
            smoothing=self.smoothing,
        )
        return v if burn is None else ops.where(burn, ops.cast(y, v.dtype), v)

    def get_config(self):
        return {
            "divergence": self.divergence,
            "temperature": self.temperature,
            "budget": self.budget,
            "smoothing": self.smoothing,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

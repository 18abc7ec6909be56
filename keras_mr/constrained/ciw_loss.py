"""CIWLoss: Constrained Instance reWeighting inside ``model.compile(loss=...)``."""

import keras
from keras import ops

from keras_mr._internal.distribution import num_replicas
from keras_mr.constrained import ciw as ciw_lib
from keras_mr.pipeline.per_example_loss import unreduced_loss


@keras.saving.register_keras_serializable(package="keras_mr")
class CIWLoss(keras.losses.Loss):
    """Wraps a Keras loss with Constrained Instance reWeighting.

    The batch loss is ``sum_i q_i l_i`` where ``l_i`` are the wrapped loss'
    per-example values and ``q = keras_mr.constrained.ciw.instance_weights(l,
    temperature, divergence, reference=sample_weight)`` (held constant in the
    gradient).  Equivalently ``weighted_mean(l, B * q)``.  Sample weights
    passed by ``fit`` (MR weights) are used as the CIW reference distribution,
    not multiplied afterwards.  Works on every backend.

    Under ``tf.distribute`` the weights are computed per replica batch; use
    :class:`keras_mr.ConstrainedReweightingModel` for global-batch weights, a
    temperature schedule and burn-in.

    Args:
        loss: the Keras loss to wrap (name, function or ``Loss`` instance).
        temperature: CIW ``lambda > 0``.
        divergence: ``"kl"``, ``"reverse_kl"``, ``"hellinger"``, ``"chi2"``
            or a float alpha.
        name: loss name.

    Example:

    >>> import keras, keras_mr, numpy as np
    >>> loss = keras_mr.CIWLoss(
    ...     keras.losses.SparseCategoricalCrossentropy(from_logits=True), temperature=0.5)
    >>> value = loss(np.array([0, 1]), np.array([[2.0, 0.0], [2.0, 0.0]]))
    >>> round(float(value), 3)  # the plain mean would be 1.127
    0.163
    """

    def __init__(self, loss, temperature=1.0, divergence="kl", name="ciw_loss", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, **kwargs)
        ciw_lib.resolve_alpha(divergence)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0; got {temperature}.")
        self.loss = keras.losses.get(loss)
        self._fn = unreduced_loss(self.loss)
        self.temperature = float(temperature)
        self.divergence = divergence

    def call(self, y_true, y_pred):
        return self._fn(y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        per = self.call(y_true, y_pred)
        q = ciw_lib.instance_weights(
            per, self.temperature, self.divergence, reference=sample_weight
        )
        value = ops.sum(ops.cast(q, per.dtype) * per)
        replicas = num_replicas()
        return value / replicas if replicas > 1 else value

    def get_config(self):
        config = super().get_config()
        config.update(
            loss=keras.losses.serialize(self.loss),
            temperature=self.temperature,
            divergence=self.divergence,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        config.pop("reduction", None)
        return cls(**config)

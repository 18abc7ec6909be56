"""WrappedModel: the base of every keras-mr model that trains a user model.

The adversarial models (:mod:`keras_mr.adversarial`), Meta-Weight-Net
(:mod:`keras_mr.meta`), constrained reweighting (:mod:`keras_mr.constrained`) and
:class:`keras_mr.LossRecordingModel` all wrap a user model and add a training step.
What they share lives here, once:

* the inner model as ``self.model``; ``build``/``call`` forward to it, and the
  configuration serialises it (``get_config``/``from_config``);
* ``sample_weight`` unpacking (MR's ``loss_source="train"`` dict), replica loss
  scaling and gradient application (:meth:`apply_gradients`);
* metrics through Keras' own hooks: :meth:`update_metrics` updates Keras' ``loss``
  tracker (found by name in ``self.metrics``, as Keras' guide to custom training steps
  does) and then calls Keras' documented :meth:`compute_metrics`, so
  ``compile(metrics=[...])`` works on every wrapper class.  The wrappers' own trackers
  (``natural_accuracy``, ``meta_loss``, ...) are ``keras.metrics.Metric`` attributes,
  which Keras tracks and reports without a ``metrics`` override.
"""

import keras
from keras import ops

from keras_mr._internal.distribution import scale_loss_for_gradient
from keras_mr.pipeline.weighted_loss import unpack_sample_weight


class WrappedModel(keras.Model):
    """Base of keras-mr's models that wrap a user model (``self.model``).

    The wrapper is called like the inner model and is built when it is; the
    subclasses add their own ``train_step``/``test_step`` or ``compute_loss``.

    Args:
        model: the Keras model to train.
        **kwargs: passed to ``keras.Model`` (e.g. ``name``).

    Example:

    >>> import keras, keras_mr
    >>> inner = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> wrapper = keras_mr.LossRecordingModel(inner)
    >>> wrapper.model is inner
    True
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.layers.Layer):
            raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
        self.model = model
        if getattr(model, "built", False):
            self.built = True

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

    # ----------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config["model"] = keras.saving.serialize_keras_object(self.model)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)

    # ------------------------------------------------------ train step
    @staticmethod
    def unpack_sample_weight(sample_weight):
        """``(weight, index)`` from a batch's ``sample_weight``.

        ``index`` is the batch's example indices when the weights come from
        ``MRSampleWeighter(loss_source="train")``, else ``None``.
        """
        return unpack_sample_weight(sample_weight)

    def scale_loss_for_gradient(self, loss):
        """Divides by the replicas and applies the optimizer's loss scale (see
        :func:`keras_mr._internal.distribution.scale_loss_for_gradient`)."""
        return scale_loss_for_gradient(loss, getattr(self, "optimizer", None))

    def apply_gradients(self, tape, loss, variables=None, extra_sources=()):
        """Differentiates a replica-local loss and applies the gradients.

        Args:
            tape: the ``tf.GradientTape`` that recorded ``loss``.
            loss: unscaled scalar loss of this replica's batch.
            variables: the variables to update (default: ``trainable_variables``).
            extra_sources: tensors whose gradients are returned too (e.g. inputs).

        Returns:
            The gradients of ``extra_sources`` (of the scaled loss), a list.
        """
        variables = list(self.trainable_variables if variables is None else variables)
        # d(c * loss) = c * d(loss): the scale enters as the output gradient, so `loss`
        # may come from a tape that has already stopped recording.
        factor = self.scale_loss_for_gradient(ops.ones_like(loss))
        grads = tape.gradient(loss, variables + list(extra_sources), output_gradients=factor)
        self.optimizer.apply_gradients(zip(grads[: len(variables)], variables))
        return grads[len(variables) :]

    # --------------------------------------------------------- metrics
    def update_metrics(self, loss, y, y_pred, sample_weight=None, batch_size=None):
        """Updates Keras' ``loss`` tracker and ``compile(metrics=...)``; returns the logs.

        Args:
            loss: scalar loss of the batch (unscaled, replica-local).
            y: labels for the compiled metrics.
            y_pred: predictions for the compiled metrics.
            sample_weight: weights for the compiled metrics (or ``None``).
            batch_size: weight of ``loss`` in the running mean (default: ``y_pred``'s
                batch size).

        Returns:
            ``self.get_metrics_result()``: every tracked metric, compiled or own.
        """
        if batch_size is None:
            batch_size = ops.shape(y_pred)[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=batch_size)
                break
        return self.compute_metrics(None, y, y_pred, sample_weight=sample_weight)

"""Recording each training step's per-example losses for ``MRSampleWeighter(loss_source="train")``.

In that mode the pipeline's sample weight is a dict
``{"weight": (B,) float32, "index": (B,) int32}`` and the weighter gives the
model a :class:`LossRecorder`: two float32 ``(N,)`` variables summing, per
example, the training losses and their count since the last update.  The
losses are recorded through Keras' documented extension point: a model
overrides ``compute_loss`` (and ``compute_metrics``, which also receives the
sample weight).  :class:`LossRecordingMixin` does exactly that, and
:class:`keras_mr.LossRecordingModel` wraps any plain Keras model with it::

    model = keras_mr.LossRecordingModel(model)     # plain Keras model
    weighter = keras_mr.MRSampleWeighter(loss_source="train")

A custom ``train_step`` that does not call ``compute_loss`` takes part with
two calls (the library's adversarial, meta-weighting and constrained
reweighting models do)::

    weight, index = keras_mr.pipeline.loss_recording.unpack_sample_weight(sample_weight)
    ...
    keras_mr.pipeline.loss_recording.record_example_losses(self, index, per_example_loss)

Both are no-ops for ordinary weights (``index is None``) or when no weighter
records losses for the model.
"""

from keras import ops

from keras_mr._internal.keras_compat import model_side_state
from keras_mr.pipeline.weighted_loss import INDEX_KEY
from keras_mr.pipeline.weighted_loss import WEIGHT_KEY
from keras_mr.pipeline.weighted_loss import unpack_sample_weight

__all__ = [
    "INDEX_KEY",
    "WEIGHT_KEY",
    "LossRecorder",
    "LossRecordingMixin",
    "get_loss_recorder",
    "record_example_losses",
    "set_loss_recorder",
    "unpack_sample_weight",
]

# Keys of the model's side state (keras-mr's own per-model objects, freed with the
# model): its LossRecorder, and its compiled per-example loss function.
_RECORDER = "loss_recorder"
_PER_EXAMPLE_LOSS = "training_per_example_loss"


class LossRecorder:
    """Sums of per-example training losses and their counts since the last update.

    The two ``(N,)`` float32 variables (``loss_sum``, ``loss_count``) belong to
    the weighter's state layer, so they are saved with the model; their
    aggregation is ``"sum"``, so under ``tf.distribute`` every replica adds
    its own examples and the variables hold the total.

    Args:
        loss_sum: ``keras.Variable`` ``(N,)``.
        loss_count: ``keras.Variable`` ``(N,)``.
    """

    def __init__(self, loss_sum, loss_count):
        self.loss_sum = loss_sum
        self.loss_count = loss_count
        self.num_examples = int(loss_sum.shape[0])

    def record(self, index, per_example_loss):
        losses = ops.cast(ops.reshape(ops.stop_gradient(per_example_loss), (-1,)), "float32")
        index = ops.cast(ops.reshape(index, (-1,)), "int32")
        n = self.num_examples
        self.loss_sum.assign_add(ops.segment_sum(losses, index, num_segments=n))
        self.loss_count.assign_add(ops.segment_sum(ops.ones_like(losses), index, num_segments=n))


def set_loss_recorder(model, recorder):
    """Makes ``record_example_losses(model, ...)`` write into ``recorder``."""
    if recorder is None:
        model_side_state(model).pop(_RECORDER, None)
    else:
        model_side_state(model)[_RECORDER] = recorder


def get_loss_recorder(model):
    """The recorder of ``model``, or ``None``."""
    return model_side_state(model).get(_RECORDER)


def record_example_losses(model, index, per_example_loss):
    """Adds a batch of per-example training losses to the model's recorder.

    Args:
        model: the model being trained (``self`` in ``train_step``).
        index: ``(B,)`` example indices from :func:`unpack_sample_weight`, or
            ``None`` (then nothing is recorded).
        per_example_loss: ``(B,)`` losses of those examples (no gradient
            flows through the recording).
    """
    recorder = get_loss_recorder(model)
    if index is None or recorder is None:
        return
    recorder.record(index, per_example_loss)


class LossRecordingMixin:
    """Makes a Keras model record its per-example training losses for MR.

    Overrides ``compute_loss`` (the hook Keras' ``train_step`` calls): it
    unpacks the ``{"weight", "index"}`` sample weight of
    ``MRSampleWeighter(loss_source="train")``, records the per-example
    compiled loss of every training example, and hands the plain weight to
    Keras.  ``compute_metrics`` unpacks the weight too.  Put it first in the
    bases: ``class MyModel(keras_mr.LossRecordingMixin, keras.Model)``.
    """

    records_example_losses = True

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        weight, index = unpack_sample_weight(sample_weight)
        if training and index is not None and get_loss_recorder(self) is not None:
            side_state = model_side_state(self)
            if side_state.get(_PER_EXAMPLE_LOSS) is None:
                from keras_mr.pipeline.per_example_loss import compiled_per_example_loss

                side_state[_PER_EXAMPLE_LOSS] = compiled_per_example_loss(self)
            record_example_losses(self, index, side_state[_PER_EXAMPLE_LOSS](y, y_pred))
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=weight, training=training
        )

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        weight, _ = unpack_sample_weight(sample_weight)
        return super().compute_metrics(x, y, y_pred, sample_weight=weight)

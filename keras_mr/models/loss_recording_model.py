"""LossRecordingModel: a plain Keras model that records its training losses for MR."""

import keras

from keras_mr.models.wrapped_model import WrappedModel
from keras_mr.pipeline.loss_recording import LossRecordingMixin


@keras.saving.register_keras_serializable(package="keras_mr")
class LossRecordingModel(LossRecordingMixin, WrappedModel):
    """Wraps a plain Keras model so that it records its training losses for MR.

    Needed only for ``MRSampleWeighter(loss_source="train")`` with a model that is not
    one of keras-mr's model classes: the wrapper calls ``model`` unchanged and adds the
    ``compute_loss`` of :class:`~keras_mr.pipeline.loss_recording.LossRecordingMixin`.

    Args:
        model: the Keras model to train.
        **kwargs: passed to ``keras.Model``.

    Example:

    ```python
    model = keras_mr.LossRecordingModel(build_model())
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    weighter = keras_mr.MRSampleWeighter(loss_source="train")
    model.fit(weighter.attach(x, y, batch_size=64), epochs=5, shuffle=False, callbacks=[weighter])
    ```
    """

    def __init__(self, model, **kwargs):
        super().__init__(model, **kwargs)
        if model.built and getattr(model, "inputs", None):
            # Built like the model it wraps (BackupAndRestore needs a built model).
            self.build(tuple(model.inputs[0].shape) if len(model.inputs) == 1 else None)

"""The model classes every keras-mr method builds on.

:class:`WrappedModel` is the base of every keras-mr model that trains a user model (the
adversarial, meta-weighting and constrained-reweighting models);
:class:`LossRecordingModel` wraps a plain Keras model so that its training steps hand
their per-example losses to ``MRSampleWeighter(loss_source="train")``.
"""

from keras_mr.models.loss_recording_model import LossRecordingModel
from keras_mr.models.wrapped_model import WrappedModel

__all__ = ["LossRecordingModel", "WrappedModel"]

"""Data and losses between ``fit`` and the weighting methods.

Indexed datasets that carry per-example weights, batch-weight normalisation, per-example
losses computed as the compiled loss computes them, MR's loss pass and the recording of
training losses (``loss_source="train"``), and :class:`WrappedModel`, the base of every
model class of keras-mr that trains a user model.
"""

from keras_mr.pipeline import training_losses
from keras_mr.pipeline.batch_weights import normalize_batch_weights
from keras_mr.pipeline.indexed_data import indexed_dataset
from keras_mr.pipeline.training_losses import TrainingLossMixin
from keras_mr.pipeline.training_losses import TrainingLossModel
from keras_mr.pipeline.weighted_loss import weighted_mean
from keras_mr.pipeline.wrapped_model import WrappedModel

__all__ = [
    "TrainingLossMixin",
    "TrainingLossModel",
    "WrappedModel",
    "indexed_dataset",
    "normalize_batch_weights",
    "training_losses",
    "weighted_mean",
]

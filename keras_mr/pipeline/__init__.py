"""Data and losses between ``fit`` and the weighting methods.

Indexed datasets that carry per-example weights, batch-weight normalisation, per-example
losses computed as the compiled loss computes them, MR's loss pass and the recording of
per-example training losses (``loss_source="train"``).  The model classes these feed
are in :mod:`keras_mr.models`.
"""

from keras_mr.pipeline import loss_recording
from keras_mr.pipeline.batch_weights import normalize_batch_weights
from keras_mr.pipeline.indexed_data import indexed_dataset
from keras_mr.pipeline.loss_recording import LossRecordingMixin
from keras_mr.pipeline.weighted_loss import weighted_mean

__all__ = [
    "LossRecordingMixin",
    "indexed_dataset",
    "loss_recording",
    "normalize_batch_weights",
    "weighted_mean",
]

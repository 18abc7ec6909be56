"""Keras callbacks that show what the weighting does."""

from keras_mr.callbacks.weight_histogram import WeightHistogram

__all__ = ["WeightHistogram"]

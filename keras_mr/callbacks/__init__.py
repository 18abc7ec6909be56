"""Keras callbacks of keras-mr, in one namespace."""

from keras_mr.adversarial.robust_eval import RobustEvaluation
from keras_mr.mr.mr_sample_weighter import MRSampleWeighter
from keras_mr.mr.random_sample_weighter import RandomSampleWeighter
from keras_mr.mr.weight_histogram import WeightHistogram

__all__ = ["MRSampleWeighter", "RandomSampleWeighter", "RobustEvaluation", "WeightHistogram"]

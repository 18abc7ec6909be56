"""Multiplicative Reweighting (MR) and random weighting.

Pure math in NumPy (:func:`mw_update`, :func:`project_capped_simplex`, ...) and the Keras
callbacks built on it (:class:`MRSampleWeighter`, :class:`RandomSampleWeighter`,
:class:`WeightHistogram`).
"""

from keras_mr.mr.capped_simplex import project_capped_simplex
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.label_issues import LabelIssuesTable
from keras_mr.mr.label_issues import find_label_issues
from keras_mr.mr.label_issues import label_issues_table
from keras_mr.mr.loss_sources import LossPass
from keras_mr.mr.loss_sources import LossSource
from keras_mr.mr.loss_sources import RecordedLosses
from keras_mr.mr.mr_sample_weighter import MRSampleWeighter
from keras_mr.mr.multiplicative_weights import mw_log_weights
from keras_mr.mr.multiplicative_weights import mw_update
from keras_mr.mr.noise_rate import NoiseRateEstimate
from keras_mr.mr.noise_rate import estimate_noise_rate
from keras_mr.mr.random_sample_weighter import RandomSampleWeighter
from keras_mr.mr.random_weighting import rectified_gaussian_weights
from keras_mr.mr.weight_histogram import WeightHistogram
from keras_mr.mr.weight_stats import weight_statistics

__all__ = [
    "LossPass",
    "LossSource",
    "RecordedLosses",
    "MRSampleWeighter",
    "RandomSampleWeighter",
    "WeightHistogram",
    "NoiseRateEstimate",
    "estimate_noise_rate",
    "find_label_issues",
    "label_issues_table",
    "LabelIssuesTable",
    # the pure math
    "project_capped_simplex",
    "project_capped_simplex_log",
    "mw_update",
    "mw_log_weights",
    "weight_statistics",
    "rectified_gaussian_weights",
]

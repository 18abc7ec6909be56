"""keras-mr: robust training by reweighting examples, for Keras 3.

The package is organised by method; this module re-exports the public API:

* :mod:`keras_mr.mr` -- Multiplicative Reweighting (MR) and random weighting:
  the pure math (MW rule, capped-simplex projection) and the callbacks.
* :mod:`keras_mr.pipeline` -- indexed data with per-example weights,
  per-example losses, the loss pass and the recording of training losses.
* :mod:`keras_mr.models` -- the model classes the methods build on (``WrappedModel``,
  ``LossRecordingModel``).
* :mod:`keras_mr.meta` -- Meta-Weight-Net and its meta data.
* :mod:`keras_mr.constrained` -- constrained instance/class reweighting (CIW, CICW, mixup).
* :mod:`keras_mr.adversarial` -- PGD-AT, Free AT, TRADES, MAIL-AT, LAS-AT and robust
  evaluation.
* :mod:`keras_mr.benchmarking` -- label noise, datasets, metrics, plots and the runner.

``import keras_mr`` needs Keras, NumPy and SciPy only; TensorFlow is imported when a
TensorFlow-only feature runs (``tf.data`` pipelines, ``tf.distribute``).
"""

__version__ = "0.1.0"

from keras_mr import callbacks
from keras_mr.adversarial import FreeAdversarialModel
from keras_mr.adversarial import LASATAdversarialModel
from keras_mr.adversarial import MAILAdversarialModel
from keras_mr.adversarial import PGDAdversarialModel
from keras_mr.adversarial import RobustEvaluation
from keras_mr.adversarial import ThreatModel
from keras_mr.adversarial import TRADESModel
from keras_mr.adversarial import format_robust_table
from keras_mr.adversarial import free_epochs
from keras_mr.adversarial import mr_per_example_loss
from keras_mr.adversarial import robust_accuracy
from keras_mr.benchmarking import datasets
from keras_mr.benchmarking import metrics
from keras_mr.benchmarking import noise
from keras_mr.benchmarking.metrics import noisy_detection_auc
from keras_mr.benchmarking.metrics import noisy_detection_average_precision
from keras_mr.benchmarking.metrics import noisy_weight_mass
from keras_mr.benchmarking.metrics import noisy_weight_mass_per_class
from keras_mr.benchmarking.noise import flip2_noise
from keras_mr.benchmarking.noise import flip_noise
from keras_mr.benchmarking.noise import instance_dependent_noise
from keras_mr.benchmarking.noise import pair_flip_noise
from keras_mr.benchmarking.noise import symmetric_noise
from keras_mr.constrained import CIWLoss
from keras_mr.constrained import ConstrainedReweightingModel
from keras_mr.constrained import cicw
from keras_mr.constrained import cicw_mixup
from keras_mr.constrained import ciw
from keras_mr.constrained import mixup
from keras_mr.errors import BackendNotSupportedError
from keras_mr.meta import MetaWeightNet
from keras_mr.meta import balanced_meta_indices
from keras_mr.meta import build_weighting_network
from keras_mr.meta import mae_probability_loss
from keras_mr.meta import meta_dataset
from keras_mr.meta import split_meta_set
from keras_mr.meta import with_meta_batches
from keras_mr.models import LossRecordingModel
from keras_mr.mr import MRSampleWeighter
from keras_mr.mr import RandomSampleWeighter
from keras_mr.mr import estimate_noise_rate
from keras_mr.mr import find_label_issues
from keras_mr.mr import label_issues_table
from keras_mr.mr import mw_log_weights
from keras_mr.mr import mw_update
from keras_mr.mr import project_capped_simplex
from keras_mr.mr import project_capped_simplex_log
from keras_mr.mr import rectified_gaussian_weights
from keras_mr.mr import weight_statistics
from keras_mr.pipeline import LossRecordingMixin
from keras_mr.pipeline import indexed_dataset
from keras_mr.pipeline import loss_recording
from keras_mr.pipeline import normalize_batch_weights
from keras_mr.pipeline import weighted_mean

__all__ = [
    # Multiplicative Reweighting and random weighting
    "MRSampleWeighter",
    "RandomSampleWeighter",
    "mw_log_weights",
    "mw_update",
    "project_capped_simplex",
    "project_capped_simplex_log",
    "rectified_gaussian_weights",
    "weight_statistics",
    "callbacks",
    # Label issues
    "estimate_noise_rate",
    "find_label_issues",
    "label_issues_table",
    # Pipeline
    "indexed_dataset",
    "normalize_batch_weights",
    "weighted_mean",
    "LossRecordingMixin",
    "LossRecordingModel",
    "loss_recording",
    # Meta-weighting
    "MetaWeightNet",
    "build_weighting_network",
    "mae_probability_loss",
    "balanced_meta_indices",
    "meta_dataset",
    "split_meta_set",
    "with_meta_batches",
    # Constrained reweighting
    "CIWLoss",
    "ConstrainedReweightingModel",
    "ciw",
    "cicw",
    "cicw_mixup",
    "mixup",
    # Adversarial training
    "PGDAdversarialModel",
    "FreeAdversarialModel",
    "TRADESModel",
    "ThreatModel",
    "MAILAdversarialModel",
    "LASATAdversarialModel",
    "RobustEvaluation",
    "format_robust_table",
    "free_epochs",
    "mr_per_example_loss",
    "robust_accuracy",
    # Benchmarking: noise, datasets, metrics
    "datasets",
    "metrics",
    "noise",
    "symmetric_noise",
    "pair_flip_noise",
    "flip_noise",
    "flip2_noise",
    "instance_dependent_noise",
    "noisy_detection_auc",
    "noisy_detection_average_precision",
    "noisy_weight_mass",
    "noisy_weight_mass_per_class",
    # Errors
    "BackendNotSupportedError",
]

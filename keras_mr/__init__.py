"""keras-mr: robust training by reweighting examples, for Keras 3."""

__version__ = "0.1.0"

from keras_mr.weighted_loss import normalize_batch_weights  # noqa: F401
from keras_mr.weighted_loss import weighted_mean  # noqa: F401

# Multiplicative Reweighting: callbacks, pipeline, pure math
from keras_mr.capped_simplex import project_capped_simplex  # noqa: F401
from keras_mr.capped_simplex import project_capped_simplex_log  # noqa: F401
from keras_mr.indexed_data import indexed_dataset  # noqa: F401
from keras_mr.mr_sample_weighter import MRSampleWeighter  # noqa: F401
from keras_mr.multiplicative_weights import mw_log_weights  # noqa: F401
from keras_mr.multiplicative_weights import mw_update  # noqa: F401
from keras_mr.random_sample_weighter import RandomSampleWeighter  # noqa: F401
from keras_mr.random_weighting import rectified_gaussian_weights  # noqa: F401
from keras_mr.training_losses import TrainingLossMixin  # noqa: F401
from keras_mr.training_losses import TrainingLossModel  # noqa: F401
from keras_mr import training_losses  # noqa: F401
from keras_mr import callbacks  # noqa: F401
from keras_mr.weight_stats import weight_statistics  # noqa: F401

# Noise, datasets, metrics
from keras_mr import datasets  # noqa: F401
from keras_mr import metrics  # noqa: F401
from keras_mr import noise  # noqa: F401
from keras_mr.metrics import noisy_detection_auc  # noqa: F401
from keras_mr.metrics import noisy_detection_average_precision  # noqa: F401
from keras_mr.metrics import noisy_weight_mass  # noqa: F401
from keras_mr.metrics import noisy_weight_mass_per_class  # noqa: F401
from keras_mr.metrics import suspected_label_issues  # noqa: F401
from keras_mr.noise import flip2_noise  # noqa: F401
from keras_mr.noise import flip_noise  # noqa: F401
from keras_mr.noise import instance_dependent_noise  # noqa: F401
from keras_mr.noise import pair_flip_noise  # noqa: F401
from keras_mr.noise import symmetric_noise  # noqa: F401

# Adversarial training
from keras_mr.adversarial import FreeAdversarialModel  # noqa: F401,E402
from keras_mr.adversarial import PGDAdversarialModel  # noqa: F401,E402
from keras_mr.adversarial import RobustEvaluation  # noqa: F401,E402
from keras_mr.adversarial import TRADESModel  # noqa: F401,E402
from keras_mr.adversarial import format_robust_table  # noqa: F401,E402
from keras_mr.adversarial import free_epochs  # noqa: F401,E402
from keras_mr.adversarial import mr_per_example_loss  # noqa: F401,E402
from keras_mr.adversarial import robust_accuracy  # noqa: F401,E402

# Meta-weighting
from keras_mr.meta_data import balanced_meta_indices  # noqa: F401
from keras_mr.meta_data import meta_dataset  # noqa: F401
from keras_mr.meta_data import split_meta_set  # noqa: F401
from keras_mr.meta_data import with_meta_batches  # noqa: F401
from keras_mr.meta_weight_net import MetaWeightNet  # noqa: F401
from keras_mr.meta_weight_net import MetaWeightNetModel  # noqa: F401
from keras_mr.meta_weight_net import build_weighting_network  # noqa: F401
from keras_mr.meta_weight_net import mae_probability_loss  # noqa: F401

# Constrained reweighting
from keras_mr import cicw  # noqa: F401,E402
from keras_mr import cicw_mixup  # noqa: F401,E402
from keras_mr import ciw  # noqa: F401,E402
from keras_mr import mixup  # noqa: F401,E402
from keras_mr.constrained_reweighting import CIWLoss  # noqa: F401,E402
from keras_mr.constrained_reweighting import ConstrainedReweightingModel  # noqa: F401,E402

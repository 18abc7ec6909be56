"""Meta-weighting: Meta-Weight-Net with clean or noisy meta data, and meta-set sampling."""

from keras_mr.meta.meta_data import balanced_meta_indices
from keras_mr.meta.meta_data import meta_dataset
from keras_mr.meta.meta_data import split_meta_set
from keras_mr.meta.meta_data import with_meta_batches
from keras_mr.meta.meta_weight_net import MetaWeightNet
from keras_mr.meta.meta_weight_net import MetaWeightNetModel
from keras_mr.meta.meta_weight_net import build_weighting_network
from keras_mr.meta.meta_weight_net import mae_probability_loss

__all__ = [
    "MetaWeightNet",
    "MetaWeightNetModel",
    "balanced_meta_indices",
    "build_weighting_network",
    "mae_probability_loss",
    "meta_dataset",
    "split_meta_set",
    "with_meta_batches",
]

"""Meta-weighting: Meta-Weight-Net with clean or noisy meta data, and meta-set sampling.

* :mod:`~keras_mr.meta.meta_weight_net`: :class:`MetaWeightNet`, the Keras model;
* :mod:`~keras_mr.meta.meta_step`: the bilevel update (virtual step, meta gradient, real
  step);
* :mod:`~keras_mr.meta.meta_losses`: the MAE meta loss and the weight combination rule;
* :mod:`~keras_mr.meta.weighting_network`: the loss -> weight network;
* :mod:`~keras_mr.meta.meta_data`: meta-set sampling and the meta-batch pipeline.
"""

from keras_mr.meta.meta_data import balanced_meta_indices
from keras_mr.meta.meta_data import meta_dataset
from keras_mr.meta.meta_data import split_meta_set
from keras_mr.meta.meta_data import with_meta_batches
from keras_mr.meta.meta_losses import mae_probability_loss
from keras_mr.meta.meta_weight_net import MetaWeightNet
from keras_mr.meta.weighting_network import build_weighting_network

__all__ = [
    "MetaWeightNet",
    "balanced_meta_indices",
    "build_weighting_network",
    "mae_probability_loss",
    "meta_dataset",
    "split_meta_set",
    "with_meta_batches",
]

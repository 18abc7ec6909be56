"""Constrained instance and class reweighting: CIW, CICW, CICW-Mixup, mixup.

The closed forms are in :mod:`ciw` (instance weights), :mod:`cicw` (class weights of the
targets), :mod:`cicw_mixup` and :mod:`mixup`; :class:`ConstrainedReweightingModel` and
:class:`CIWLoss` put them in a Keras ``train_step`` / loss.  The model is configured by
strategy objects: :class:`InstanceReweighting` (CIW), :class:`ClassReweighting` (CICW)
and a mixing strategy (:class:`NoMixing`, :class:`WeightedMixup`, :class:`CICWMixup`).
"""

from keras_mr.constrained import cicw
from keras_mr.constrained import cicw_mixup
from keras_mr.constrained import ciw
from keras_mr.constrained import mixup
from keras_mr.constrained.ciw_loss import CIWLoss
from keras_mr.constrained.constrained_reweighting import ConstrainedReweightingModel
from keras_mr.constrained.mixing import CICWMixup
from keras_mr.constrained.mixing import NoMixing
from keras_mr.constrained.mixing import WeightedMixup
from keras_mr.constrained.reweighting import ClassReweighting
from keras_mr.constrained.reweighting import InstanceReweighting

__all__ = [
    "CICWMixup",
    "CIWLoss",
    "ClassReweighting",
    "ConstrainedReweightingModel",
    "InstanceReweighting",
    "NoMixing",
    "WeightedMixup",
    "cicw",
    "cicw_mixup",
    "ciw",
    "mixup",
]

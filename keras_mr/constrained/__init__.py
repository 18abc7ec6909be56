"""Constrained instance and class reweighting: CIW, CICW, CICW-Mixup, mixup.

The closed forms are in :mod:`ciw` (instance weights), :mod:`cicw` (class weights of the
targets), :mod:`cicw_mixup` and :mod:`mixup`; :class:`ConstrainedReweightingModel` and
:class:`CIWLoss` put them in a Keras ``train_step`` / loss.
"""

from keras_mr.constrained import cicw
from keras_mr.constrained import cicw_mixup
from keras_mr.constrained import ciw
from keras_mr.constrained import mixup
from keras_mr.constrained.constrained_reweighting import CIWLoss
from keras_mr.constrained.constrained_reweighting import ConstrainedReweightingModel

__all__ = ["CIWLoss", "ConstrainedReweightingModel", "cicw", "cicw_mixup", "ciw", "mixup"]

"""Adversarial training (PGD-AT, Free AT, TRADES) with MR weights, and robust
evaluation.

* :mod:`~keras_mr.adversarial.attacks`: pure perturbation math (projections,
  PGD step, random start), backend-neutral.
* :mod:`~keras_mr.adversarial.base`: the shared wrapper base class.
* :mod:`~keras_mr.adversarial.pgd`: :class:`PGDAdversarialModel`.
* :mod:`~keras_mr.adversarial.free_at`: :class:`FreeAdversarialModel`.
* :mod:`~keras_mr.adversarial.trades`: :class:`TRADESModel`.
* :mod:`~keras_mr.adversarial.robust_eval`: cleverhans FGSM/PGD evaluation,
  :func:`robust_accuracy`, :class:`RobustEvaluation`.
"""

from keras_mr.adversarial import attacks  # noqa: F401
from keras_mr.adversarial.base import AdversarialModel  # noqa: F401
from keras_mr.adversarial.base import free_epochs  # noqa: F401
from keras_mr.adversarial.base import mr_per_example_loss  # noqa: F401
from keras_mr.adversarial.free_at import FreeAdversarialModel  # noqa: F401
from keras_mr.adversarial.pgd import PGDAdversarialModel  # noqa: F401
from keras_mr.adversarial.robust_eval import RobustEvaluation  # noqa: F401
from keras_mr.adversarial.robust_eval import format_robust_table  # noqa: F401
from keras_mr.adversarial.robust_eval import robust_accuracy  # noqa: F401
from keras_mr.adversarial.trades import TRADESModel  # noqa: F401
from keras_mr.adversarial.trades import kl_divergence_from_logits  # noqa: F401
from keras_mr.adversarial.trades import trades_per_example_loss  # noqa: F401

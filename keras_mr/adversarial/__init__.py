"""Adversarial training (PGD-AT, Free AT, TRADES, MAIL-AT, LAS-AT) with MR weights, and robust
evaluation.

* :mod:`~keras_mr.adversarial.attacks`: pure perturbation math (projections,
  PGD step, random start), backend-neutral.
* :mod:`~keras_mr.adversarial.base`: the shared wrapper base class;
  :mod:`~keras_mr.adversarial.threat_model`: :class:`ThreatModel`;
  :mod:`~keras_mr.adversarial.losses`: per-example cross-entropy and correctness.
* :mod:`~keras_mr.adversarial.pgd`: :class:`PGDAdversarialModel`.
* :mod:`~keras_mr.adversarial.free_at`: :class:`FreeAdversarialModel`.
* :mod:`~keras_mr.adversarial.trades`: :class:`TRADESModel`.
* :mod:`~keras_mr.adversarial.mail`: :class:`MAILAdversarialModel` (MAIL-AT).
* :mod:`~keras_mr.adversarial.las_at`: :class:`LASATAdversarialModel` (LAS-AT);
  :mod:`~keras_mr.adversarial.attack_strategy`: its :class:`AttackStrategySpace`, default
  strategy network and action log-probabilities.
* :mod:`~keras_mr.adversarial.robust_eval`: cleverhans FGSM/PGD evaluation,
  :func:`robust_accuracy`, :class:`RobustEvaluation`.
"""

from keras_mr.adversarial import attacks
from keras_mr.adversarial.attack_strategy import AttackStrategySpace
from keras_mr.adversarial.attack_strategy import action_log_probability
from keras_mr.adversarial.attack_strategy import build_strategy_network
from keras_mr.adversarial.base import AdversarialModel
from keras_mr.adversarial.base import mr_per_example_loss
from keras_mr.adversarial.free_at import FreeAdversarialModel
from keras_mr.adversarial.free_at import free_epochs
from keras_mr.adversarial.las_at import LASATAdversarialModel
from keras_mr.adversarial.mail import MAILAdversarialModel
from keras_mr.adversarial.mail import mail_weights
from keras_mr.adversarial.mail import probabilistic_margin
from keras_mr.adversarial.pgd import PGDAdversarialModel
from keras_mr.adversarial.robust_eval import RobustEvaluation
from keras_mr.adversarial.robust_eval import format_robust_table
from keras_mr.adversarial.robust_eval import robust_accuracy
from keras_mr.adversarial.threat_model import ThreatModel
from keras_mr.adversarial.trades import TRADESModel
from keras_mr.adversarial.trades import kl_divergence_from_logits
from keras_mr.adversarial.trades import trades_per_example_loss

__all__ = [
    "AdversarialModel",
    "AttackStrategySpace",
    "FreeAdversarialModel",
    "LASATAdversarialModel",
    "MAILAdversarialModel",
    "PGDAdversarialModel",
    "RobustEvaluation",
    "TRADESModel",
    "ThreatModel",
    "action_log_probability",
    "attacks",
    "build_strategy_network",
    "format_robust_table",
    "free_epochs",
    "kl_divergence_from_logits",
    "mail_weights",
    "mr_per_example_loss",
    "probabilistic_margin",
    "robust_accuracy",
    "trades_per_example_loss",
]

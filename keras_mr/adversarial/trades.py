"""TRADES (Zhang et al., 2019) as a Keras model wrapper, plus its pure loss."""

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr.adversarial import attacks
from keras_mr.adversarial.base import AdversarialModel
from keras_mr.adversarial.losses import per_example_cross_entropy


def kl_divergence_from_logits(logits_p, logits_q):
    """Per-example ``KL(softmax(logits_p) || softmax(logits_q))``, ``(B,)``.

    Computed with log-softmax for stability, summed over classes.

    Args:
        logits_p: ``(B, C)`` logits of the reference distribution.
        logits_q: ``(B, C)`` logits of the approximating distribution.

    Returns:
        ``(B,)`` float32 tensor, ``sum_c p_c (log p_c - log q_c)``.
    """
    logits_p = ops.cast(logits_p, "float32")
    logits_q = ops.cast(logits_q, "float32")
    log_p = ops.log_softmax(logits_p, axis=-1)
    log_q = ops.log_softmax(logits_q, axis=-1)
    return ops.sum(ops.exp(log_p) * (log_p - log_q), axis=-1)


def trades_per_example_loss(y, logits_natural, logits_adversarial, beta=6.0):
    """Per-example TRADES objective ``CE(f(x), y) + beta KL(f(x) || f(x'))``.

    This is Zhang et al.'s Eq. (5) with the surrogate losses of their
    implementation: cross-entropy on natural inputs plus ``beta`` (=
    ``1/lambda``) times the KL divergence between the softmax outputs on
    natural and adversarial inputs (KL summed over classes per example; the
    batch reduction is left to the caller, e.g.
    :func:`keras_mr.pipeline.weighted_loss.weighted_mean`).

    Args:
        y: sparse or one-hot labels.
        logits_natural: ``(B, C)`` logits at the clean inputs.
        logits_adversarial: ``(B, C)`` logits at the adversarial inputs.
        beta: trade-off (``1/lambda``; 6.0 in TRADES and the MR paper).

    Returns:
        ``(B,)`` float32 tensor.

    Example:

    >>> y = np.array([0]); ln = np.array([[2., 0.]]); la = np.array([[0., 0.]])
    >>> trades_per_example_loss(y, ln, la, beta=1.0)  # doctest: +SKIP
    # CE = log(1 + e^-2) = 0.1269; KL = 0.8808 log(0.8808/0.5)
    #      + 0.1192 log(0.1192/0.5) = 0.3278; total 0.4547
    """
    return per_example_cross_entropy(y, logits_natural) + beta * kl_divergence_from_logits(
        logits_natural, logits_adversarial
    )


@keras.saving.register_keras_serializable(package="keras_mr")
class TRADESModel(AdversarialModel):
    """TRADES adversarial training (Zhang et al., 2019), with MR weights.

    Each ``train_step``:

    1. **Inner maximisation**: starting from ``x + init_std * N(0, 1)``
       (TRADES' implementation uses 0.001), ``steps`` projected ascent
       steps of size ``step_size`` on ``sum_i KL(f(x_i) || f(x'_i))`` with
       ``f(x)`` fixed, inside the threat model's ``eps``-ball and valid range
       (``training=False``).
    2. **Outer minimisation** of
       ``mean_i w_i [CE(f(x_i), y_i) + beta KL(f(x_i) || f(x'_i))]``
       (:func:`trades_per_example_loss`) with the batch-normalised sample
       weights ``w`` from the data (plain mean without weights); gradients
       flow through both the natural and the adversarial branch, as in the
       original implementation (``training=True``).

    The defaults follow TRADES' CIFAR-10 setting used in the MR paper
    (Table 8): ``eps = 8/255`` (0.031), ``steps = 10``, ``step_size =
    0.007``, ``beta = 6``.  With ``mr_loss="adversarial"`` MR's loss pass
    returns the per-example TRADES objective at freshly attacked inputs.

    Args:
        model: Keras model mapping inputs to logits ``(B, C)``.
        threat_model: a :class:`~keras_mr.adversarial.threat_model.ThreatModel` (``eps``,
            ``norm``, valid input range); default ``ThreatModel()``: L-inf, ``eps = 8/255``,
            inputs in ``[0, 1]``.
        steps: inner maximisation steps.
        step_size: inner step size.
        beta: weight of the KL term (``1/lambda``).
        init_std: standard deviation of the Gaussian start.  Keep it > 0:
            the KL gradient vanishes at ``x' = x``, so from a zero start the
            signed steps only follow floating-point noise.
        mr_loss: ``"natural"`` (default) or ``"adversarial"``.
        seed: seed of the random start.
        **kwargs: ``natural_metrics`` (see :class:`AdversarialModel`), the rest to
            ``keras.Model``.

    Example:

    ```python
    threat = keras_mr.adversarial.ThreatModel(eps=0.031)
    model = keras_mr.TRADESModel(inner, threat_model=threat, steps=10, step_size=0.007,
                                 beta=6.0)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(ds, epochs=100)
    ```
    """

    def __init__(
        self,
        model,
        threat_model=None,
        steps=10,
        step_size=0.007,
        beta=6.0,
        init_std=0.001,
        mr_loss="natural",
        seed=None,
        **kwargs,
    ):
        # the inner maximisation starts from a Gaussian point (initial_point), not a random one
        attack = dict(attack_steps=steps, attack_step_size=step_size, random_start=False)
        super().__init__(model, threat_model, mr_loss=mr_loss, seed=seed, **attack, **kwargs)
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 0:
            raise ValueError(f"`beta` must be a float >= 0, got {beta!r}.")
        self.beta = float(beta)
        self.init_std = attacks.check_eps(init_std, "init_std")

    def initial_point(self, x):
        """Start of the inner maximisation: ``x + init_std * N(0, 1)``."""
        if self.init_std == 0:
            return x
        return x + self.init_std * keras.random.normal(
            ops.shape(x), dtype=x.dtype, seed=self._seed_generator
        )

    def trades_adversarial(self, x, natural_logits):
        """Inner maximisation: ``x'`` maximising ``KL(f(x) || f(x'))``."""
        tf = require_tensorflow(f"{type(self).__name__}'s training step", backend=True)
        x = tf.cast(x, "float32")
        ref = tf.stop_gradient(natural_logits)
        x_adv = attacks.project_perturbation(
            self.initial_point(x), x, self.eps, self.norm, self.clip_min, self.clip_max
        )

        def kl_loss(_, logits):
            return kl_divergence_from_logits(ref, logits)

        return self.generate_adversarial(x, None, x_init=x_adv, loss_fn=kl_loss)

    def adversarial_per_example_loss(self, x, y):
        nat = self._logits(x, training=False)
        x_adv = self.trades_adversarial(x, nat)
        return trades_per_example_loss(y, nat, self._logits(x_adv, False), self.beta)

    def attack_batch(self, x, y):
        return self.trades_adversarial(x, self._logits(x, training=False))

    def per_example_objective(self, x, y, attacked):
        nat_logits = self._logits(x, training=True)
        adv_logits = self._logits(attacked, training=True)
        return trades_per_example_loss(y, nat_logits, adv_logits, self.beta), nat_logits, adv_logits

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "steps": self.attack_steps,
                "step_size": self.attack_step_size,
                "beta": self.beta,
                "init_std": self.init_std,
            }
        )
        return config

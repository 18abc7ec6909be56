"""MAIL-AT (Wang, Liu et al., NeurIPS 2021) as a Keras model wrapper, plus its pure math.

Margin-aware instance reweighting learning: PGD adversarial training whose
per-example losses are weighted by how close the *adversarial* example is to
the decision boundary, measured by its probabilistic margin.
"""

import keras
from keras import ops

from keras_mr._internal.distribution import all_sum
from keras_mr.adversarial.losses import label_indices
from keras_mr.adversarial.pgd import PGDAdversarialModel


def probabilistic_margin(y, logits):
    """Probabilistic margin ``PM_i = p_{y_i}(x_i) - max_{j != y_i} p_j(x_i)``, ``(B,)``.

    The margin of the MAIL paper (its ``PM``): the softmax probability of the true
    class minus the largest probability of another class.  At adversarial inputs this
    is the paper's ``PM_adv``: negative for misclassified examples, close to 1 for
    safe ones.

    Args:
        y: sparse labels ``(B,)``/``(B, 1)`` or one-hot labels ``(B, C)`` (their argmax).
        logits: ``(B, C)`` logits.

    Returns:
        ``(B,)`` float32 margins in ``[-1, 1]``.

    Example:

    >>> from keras_mr.adversarial.mail import probabilistic_margin
    >>> pm = probabilistic_margin(np.array([0]), np.log(np.array([[0.5, 0.3, 0.2]])))
    >>> round(float(pm[0]), 4)
    0.2
    """
    logits = ops.cast(logits, "float32")
    probs = ops.softmax(logits, axis=-1)
    onehot = ops.one_hot(label_indices(y, logits), logits.shape[-1], dtype="float32")
    true = ops.sum(probs * onehot, axis=-1)
    # the true class is masked with -1 (probabilities are >= 0)
    other = ops.max(probs * (1.0 - onehot) - onehot, axis=-1)
    return true - other


def mail_weights(margins, gamma=1.0, beta=-1.5, sample_weight=None, reduce=None):
    """MAIL weights times MR weights, normalised to mean 1 over the (global) batch.

    ``u_i = sigmoid(-gamma (PM_i - beta))`` (the MAIL weight of example ``i``; a small
    margin gives a large weight), multiplied by the sample weight ``m_i`` (MR / user
    weights, 1 when absent) and normalised: ``c_i = B u_i m_i / sum_j u_j m_j``.  A batch
    whose products are all zero gets ``c = 0`` (no update).

    Args:
        margins: ``(B,)`` probabilistic margins (:func:`probabilistic_margin`).
        gamma: slope ``gamma > 0``.
        beta: bias ``beta``.
        sample_weight: optional ``(B,)`` weights ``m``.
        reduce: sums the batch size ``B`` and ``sum_j u_j m_j`` over the replicas
            (``tf.distribute``: :func:`keras_mr._internal.distribution.all_sum`); default:
            the local batch.

    Returns:
        ``(B,)`` float32 weights ``c``.

    Example:

    >>> from keras_mr.adversarial.mail import mail_weights
    >>> w = mail_weights(np.array([0.0, 0.0, 1.0]), gamma=1.0, beta=0.0)
    >>> [round(float(v), 4) for v in w]  # sigmoid(0) = 0.5, sigmoid(-1) = 0.2689
    [1.1821, 1.1821, 0.6358]
    """
    margins = ops.reshape(ops.cast(margins, "float32"), (-1,))
    u = ops.sigmoid(-float(gamma) * (margins - float(beta)))
    if sample_weight is not None:
        u = u * ops.cast(ops.reshape(sample_weight, (-1,)), "float32")
    reduce = reduce or (lambda value: value)
    batch = reduce(ops.cast(ops.shape(u)[0], "float32"))
    total = reduce(ops.sum(u))
    safe = ops.where(total > 0, total, ops.ones_like(total))
    return ops.where(total > 0, u * batch / safe, ops.zeros_like(u))


class EpochCounter(keras.callbacks.Callback):
    """Writes the epoch ``fit`` is in into ``model.epoch_counter`` (for burn-ins)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.model.epoch_counter.assign(float(epoch))


@keras.saving.register_keras_serializable(package="keras_mr")
class MAILAdversarialModel(PGDAdversarialModel):
    """MAIL-AT: PGD adversarial training with probabilistic-margin weights, and MR.

    Wang, Liu et al., "Probabilistic margins for instance reweighting in adversarial
    training" (NeurIPS 2021).  Each ``train_step`` attacks the batch as
    :class:`~keras_mr.adversarial.pgd.PGDAdversarialModel` does, then minimises
    ``(1/B) sum_i c_i CE(f(x'_i), y_i)`` with

    * ``PM_i = p_{y_i}(x'_i) - max_{j != y_i} p_j(x'_i)``: the probabilistic margin
      ``PM_adv`` of the adversarial example (softmax probabilities of the training
      forward pass, without gradient; :func:`probabilistic_margin`);
    * ``u_i = sigmoid(-gamma (PM_i - beta))``: the paper's sigmoid weight assignment
      (examples near or beyond the boundary weigh more);
    * **MAIL x MR**: ``c_i = B u_i m_i / sum_j u_j m_j`` with ``m_i`` the sample weight
      (MR's weight, normalised by the pipeline; 1 without weights): the *product* of the
      two weights, normalised per (global, under ``tf.distribute``) batch so that the
      weights average to 1, as :class:`keras_mr.MetaWeightNet` combines its weights with
      MR's (:func:`mail_weights`).  A zero MR weight removes the example.

    **Burn-in.**  For the first ``burn_in_epochs`` epochs of ``fit`` the step is plain
    PGD-AT: ``c = m`` (uniform MAIL weights), as in the paper's algorithm, which starts
    reweighting from a PGD-AT checkpoint (its code: after 75 of 120 epochs).  The epoch
    is kept in the non-trainable variable ``epoch_counter``, set by ``fit`` at the start of
    every epoch (``train_on_batch`` uses its current value; assign it by hand there).

    **Defaults.**  ``gamma = 1``, ``beta = -1.5`` are the defaults of the authors' public
    code (slope 1, bias -1.5 with its sign convention); the paper tunes them per setting.
    MR with ``loss_source="train"`` records the *unweighted* adversarial cross-entropy of
    each example (the MAIL weight is not part of MR's loss history).

    Args:
        model: Keras model mapping inputs to logits ``(B, C)``.
        threat_model: a :class:`~keras_mr.adversarial.threat_model.ThreatModel` (``eps``,
            ``norm``, valid input range); default ``ThreatModel()``: L-inf, ``eps = 8/255``,
            inputs in ``[0, 1]``.
        steps: PGD steps per training batch (default 7).
        step_size: PGD step size; default ``2.5 * eps / steps``.
        gamma: slope of the weight assignment (> 0).
        beta: bias of the weight assignment.
        burn_in_epochs: epochs of plain PGD-AT before reweighting (default 0).
        random_start: start PGD from a random point of the ball.
        mr_loss: ``"natural"`` (default) or ``"adversarial"``.
        seed: seed of the random starts.
        **kwargs: ``natural_metrics`` (see :class:`AdversarialModel`), the rest to
            ``keras.Model``.

    Example:

    ```python
    threat = keras_mr.adversarial.ThreatModel(eps=8 / 255)
    model = keras_mr.MAILAdversarialModel(inner, threat_model=threat, steps=10,
                                          burn_in_epochs=30)
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    weighter = keras_mr.MRSampleWeighter(eta=0.01, loss_source="train")
    model.fit(weighter.attach(x, y, batch_size=128), epochs=50, callbacks=[weighter])
    ```
    """

    def __init__(
        self,
        model,
        threat_model=None,
        steps=7,
        step_size=None,
        gamma=1.0,
        beta=-1.5,
        burn_in_epochs=0,
        random_start=True,
        mr_loss="natural",
        seed=None,
        **kwargs,
    ):
        super().__init__(
            model,
            threat_model,
            steps=steps,
            step_size=step_size,
            random_start=random_start,
            mr_loss=mr_loss,
            seed=seed,
            **kwargs,
        )
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not gamma > 0:
            raise ValueError(f"`gamma` must be a float > 0, got {gamma!r}.")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)):
            raise ValueError(f"`beta` must be a float, got {beta!r}.")
        if isinstance(burn_in_epochs, bool) or not isinstance(burn_in_epochs, int):
            raise ValueError(f"`burn_in_epochs` must be an int >= 0, got {burn_in_epochs!r}.")
        if burn_in_epochs < 0:
            raise ValueError(f"`burn_in_epochs` must be an int >= 0, got {burn_in_epochs!r}.")
        self.gamma, self.beta = float(gamma), float(beta)
        self.burn_in_epochs = burn_in_epochs
        self.epoch_counter = keras.Variable(
            0.0, dtype="float32", trainable=False, name="epoch_counter"
        )

    def fit(self, *args, callbacks=None, **kwargs):
        """``keras.Model.fit`` with an :class:`EpochCounter` added (for the burn-in)."""
        callbacks = list(callbacks or [])
        if not any(isinstance(c, EpochCounter) for c in callbacks):
            callbacks.append(EpochCounter())
        return super().fit(*args, callbacks=callbacks, **kwargs)

    def batch_weights(self, y, sample_weight, natural_logits, adversarial_logits):
        margins = probabilistic_margin(y, ops.stop_gradient(adversarial_logits))
        weights = mail_weights(margins, self.gamma, self.beta, sample_weight, reduce=all_sum)
        plain = ops.ones_like(weights) if sample_weight is None else sample_weight
        plain = ops.cast(ops.reshape(plain, (-1,)), "float32")
        active = self.epoch_counter.value >= float(self.burn_in_epochs)
        return ops.stop_gradient(ops.where(active, weights, plain))

    def get_config(self):
        config = super().get_config()
        config.update(
            {"gamma": self.gamma, "beta": self.beta, "burn_in_epochs": self.burn_in_epochs}
        )
        return config

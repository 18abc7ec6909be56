"""PGD adversarial training (Madry et al., 2018) as a Keras model wrapper."""

import keras

from keras_mr.adversarial.base import AdversarialModel
from keras_mr.adversarial.losses import per_example_cross_entropy


@keras.saving.register_keras_serializable(package="keras_mr")
class PGDAdversarialModel(AdversarialModel):
    """Madry et al.'s PGD adversarial training, combinable with MR weights.

    Each ``train_step`` solves the inner maximisation with ``steps`` PGD
    steps (random start in the threat model's ``eps``-ball, steepest-ascent step of size
    ``step_size``: ``sign`` for L-inf, normalised gradient for L2, projection
    onto the ball and the valid range ``[clip_min, clip_max]``), then
    minimises ``mean_i w_i * CE(f(x_adv_i), y_i)`` where ``w`` are the
    batch-normalised sample weights delivered by the data (``(x, y, w)``
    batches from :class:`keras_mr.MRSampleWeighter` or the user); no
    weights means the plain mean.  The attack runs with ``training=False``;
    the update with ``training=True``.

    Works with ``fit`` (also with ``jit_compile=True``), mixed precision
    (``keras.mixed_precision.set_global_policy("mixed_float16")``; the loss
    is computed in float32 and scaled by the optimizer) and
    ``tf.distribute`` strategies (each replica attacks its share of the
    global batch; the loss is divided by the number of replicas as Keras
    does).  Needs the TensorFlow backend.

    Args:
        model: Keras model mapping inputs to logits ``(B, C)``.
        threat_model: a :class:`~keras_mr.adversarial.threat_model.ThreatModel` (``eps``,
            ``norm``, valid input range); default ``ThreatModel()``: L-inf, ``eps = 8/255``,
            inputs in ``[0, 1]``.
        steps: PGD steps per training batch (default 7). ``0`` trains on the
            random start only.
        step_size: PGD step size; default ``2.5 * eps / steps``.
        random_start: start from a uniformly random point of the ball
            (default ``True``).
        mr_loss: ``"natural"`` (default) or ``"adversarial"``: which losses
            :meth:`per_example_loss` gives MR by default.
        seed: seed of the random starts.
        **kwargs: ``natural_metrics`` (see :class:`AdversarialModel`), the rest to
            ``keras.Model``.

    Example:

    ```python
    inner = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10)])
    model = keras_mr.PGDAdversarialModel(
        inner, threat_model=keras_mr.adversarial.ThreatModel(eps=0.1), steps=7)
    model.compile(optimizer="adam")
    weighter = keras_mr.MRSampleWeighter(
        eta=0.01, per_example_loss_fn=keras_mr.mr_per_example_loss)
    ds = weighter.attach(x, y, batch_size=128)
    model.fit(ds, epochs=5, callbacks=[weighter])
    ```
    """

    def __init__(
        self,
        model,
        threat_model=None,
        steps=7,
        step_size=None,
        random_start=True,
        mr_loss="natural",
        seed=None,
        **kwargs,
    ):
        attack = dict(attack_steps=steps, attack_step_size=step_size, random_start=random_start)
        super().__init__(model, threat_model, mr_loss=mr_loss, seed=seed, **attack, **kwargs)

    # The constructor's names of the base's attack settings.
    steps = property(lambda self: self.attack_steps, doc="PGD steps of the training attack.")
    step_size = property(lambda self: self.attack_step_size, doc="PGD step size.")

    def attack_batch(self, x, y):
        return self.natural_logits(x), self.generate_adversarial(x, y)

    def per_example_objective(self, x, y, attacked):
        nat_logits, x_adv = attacked
        adv_logits = self._logits(x_adv, training=True)
        return per_example_cross_entropy(y, adv_logits), nat_logits, adv_logits

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "steps": self.attack_steps,
                "step_size": self._step_size_given,
                "random_start": self.random_start,
            }
        )
        return config

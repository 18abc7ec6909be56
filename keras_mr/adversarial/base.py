"""Shared base class of the adversarial-training models.

:class:`AdversarialModel` wraps any Keras model that maps inputs to *logits*
and replaces ``train_step`` with an adversarial one.  Subclasses
(:class:`~keras_mr.adversarial.pgd.PGDAdversarialModel`,
:class:`~keras_mr.adversarial.free_at.FreeAdversarialModel`,
:class:`~keras_mr.adversarial.trades.TRADESModel`) only say how the
adversarial inputs and the per-example training losses are produced; the
base class does the Keras glue: sample weights, ``tf.distribute`` loss
scaling, mixed-precision loss scaling, metrics, serialisation and the
per-example loss pass used by :class:`keras_mr.MRSampleWeighter`.

Design choices (documented here once for all methods):

* **Wrapper, not subclass.**  The user's model (Sequential, functional or
  subclassed) must output logits; it is stored as ``self.model`` and
  ``call`` forwards to it, so ``predict``/``evaluate`` behave as for the
  inner model and the inner model can be used alone after training.
* **Loss.**  Cross-entropy on logits, with sparse integer labels ``(B,)`` /
  ``(B, 1)`` or one-hot labels ``(B, C)``.  ``compile`` takes no ``loss``
  (a ``ValueError`` is raised to avoid silent surprises); after compiling,
  ``model.loss`` is :func:`per_example_cross_entropy`, so MR's default loss
  pass computes natural cross-entropy.
* **Sample weights.**  Per-example *adversarial* training losses are reduced
  with :func:`keras_mr.pipeline.weighted_loss.weighted_mean`, i.e. ``mean(w * l)``
  with ``w`` normalised per (global) batch to sum to ``B`` by the
  :mod:`keras_mr` pipelines; this is the MR paper's
  ``sum_i p_i l_i / sum_i p_i``.  A zero weight removes the example from the
  parameter gradient.  The attack itself is per example and unweighted
  (weights change how much an example counts, not how hard it is attacked).
* **Attack mode.**  Attacks (PGD, TRADES' inner maximisation) run the model
  with ``training=False`` so that batch-norm statistics and dropout do not
  change while the attack is computed; the training pass then uses
  ``training=True``.  Free AT is the exception: its attack *is* the training
  backward pass.
* **MR's loss pass.**  ``per_example_loss(x, y, adversarial=None)`` returns
  ``(B,)`` losses for MR's extra pass; ``adversarial=None`` uses the model's
  ``mr_loss`` setting (``"natural"`` by default: clean-input cross-entropy,
  cheap, as in the MR paper's extra forward pass; ``"adversarial"``: the
  method's own per-example training objective at freshly attacked inputs).
  Pass it as ``MRSampleWeighter(per_example_loss_fn=mr_per_example_loss)``.
  With ``MRSampleWeighter(loss_source="train")`` there is no extra pass: the
  training step records its own per-example *adversarial* training losses.
* **Metrics.**  ``loss`` (the weighted training objective),
  ``natural_loss``/``natural_accuracy`` (clean inputs, one extra forward
  pass without gradient; ``natural_metrics=False`` skips it) and
  ``adversarial_loss``/``adversarial_accuracy``
  (the inputs the step trained on), all unweighted means over examples.
  ``evaluate`` reports ``loss`` and ``natural_*`` on clean inputs; use
  :func:`keras_mr.adversarial.robust_eval.robust_accuracy` for attacks.

The training steps use ``tf.GradientTape`` and need the TensorFlow backend;
the perturbation math in :mod:`keras_mr.adversarial.attacks` is
backend-neutral.
"""

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr.adversarial import attacks
from keras_mr.adversarial.losses import per_example_correct
from keras_mr.adversarial.losses import per_example_cross_entropy
from keras_mr.adversarial.threat_model import ThreatModel
from keras_mr.models.wrapped_model import WrappedModel
from keras_mr.pipeline.loss_recording import record_example_losses
from keras_mr.pipeline.weighted_loss import weighted_mean

MR_LOSS_CHOICES = ("natural", "adversarial")
_THREAT_MODEL_KEYWORDS = ("eps", "norm", "clip_min", "clip_max")


def _checked_threat_model(class_name, threat_model, kwargs):
    """``threat_model`` (default ``ThreatModel()``), or a ``TypeError`` saying how to give one."""
    misplaced = {key: kwargs[key] for key in _THREAT_MODEL_KEYWORDS if key in kwargs}
    if misplaced:
        settings = ", ".join(f"{key}={value!r}" for key, value in misplaced.items())
        raise TypeError(
            f"{class_name} got {settings}: the threat model's settings go in one object, "
            f"threat_model=keras_mr.adversarial.ThreatModel({settings})."
        )
    if threat_model is None:
        return ThreatModel()
    if not isinstance(threat_model, ThreatModel):
        eps = repr(threat_model) if isinstance(threat_model, (int, float)) else "..."
        raise TypeError(
            "`threat_model` must be a keras_mr.adversarial.ThreatModel, got "
            f"{threat_model!r} (type {type(threat_model).__name__}); for a radius, pass "
            f"threat_model=keras_mr.adversarial.ThreatModel(eps={eps})."
        )
    return threat_model


def _tf():
    return require_tensorflow(
        "keras-mr's adversarial training steps "
        "(keras_mr.adversarial.attacks works on every backend)",
        backend=True,
    )


class AdversarialModel(WrappedModel):
    """Base class: a wrapper whose ``train_step`` trains adversarially.

    Not used directly; see :class:`PGDAdversarialModel`,
    :class:`FreeAdversarialModel` and :class:`TRADESModel`.  A subclass says how a
    batch is attacked and what its per-example training loss is, by overriding
    :meth:`attack_batch` and :meth:`per_example_objective` (and :meth:`batch_weights` to
    reweight examples); the base's ``train_step`` does the rest (sample weights, replica
    scaling, metrics, MR's training losses).

    Args:
        model: a Keras model mapping inputs to logits ``(B, C)``.
        threat_model: a :class:`~keras_mr.adversarial.threat_model.ThreatModel`
            (``eps``, ``norm``, input range); default ``ThreatModel()`` (L-inf,
            ``eps = 8/255``, inputs in ``[0, 1]``).
        mr_loss: ``"natural"`` (default) or ``"adversarial"``: what
            :meth:`per_example_loss` returns when ``adversarial=None``.
        attack_steps: PGD steps used by :meth:`generate_adversarial` (the
            training attack of PGD-AT / TRADES and MR's adversarial loss pass).
        attack_step_size: PGD step size; ``None`` means ``2.5 * eps / attack_steps``
            (Madry et al.'s rule).
        random_start: start PGD from a random point of the ball.
        seed: seed for random starts.
        natural_metrics: report ``natural_loss`` / ``natural_accuracy`` (clean inputs:
            one forward pass per step, which ``False`` saves; TRADES needs it anyway).
        **kwargs: to ``keras.Model`` (e.g. ``name``).
    """

    # Records its per-example training losses for MRSampleWeighter(loss_source="train").
    records_example_losses = True

    def __init__(
        self,
        model,
        threat_model=None,
        mr_loss="natural",
        attack_steps=10,
        attack_step_size=None,
        random_start=True,
        seed=None,
        natural_metrics=True,
        **kwargs,
    ):
        if not isinstance(model, keras.layers.Layer):
            raise TypeError(
                "`model` must be a Keras model (or layer) that outputs logits,"
                f" got {type(model).__name__}."
            )
        threat_model = _checked_threat_model(type(self).__name__, threat_model, kwargs)
        super().__init__(model, **kwargs)
        self.threat_model = threat_model
        if mr_loss not in MR_LOSS_CHOICES:
            raise ValueError(f"`mr_loss` must be one of {MR_LOSS_CHOICES}, got {mr_loss!r}.")
        self.mr_loss = mr_loss
        if isinstance(attack_steps, bool) or not isinstance(attack_steps, int) or attack_steps < 0:
            raise ValueError(f"`attack_steps` must be an int >= 0, got {attack_steps!r}.")
        self.attack_steps = attack_steps
        if attack_step_size is None:
            self.attack_step_size = 2.5 * self.eps / attack_steps if attack_steps else self.eps
            self._step_size_given = None
        else:
            self.attack_step_size = attacks.check_eps(attack_step_size, "attack_step_size")
            self._step_size_given = self.attack_step_size
        self.random_start = bool(random_start)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)
        self.natural_metrics = bool(natural_metrics)
        self.natural_loss_tracker = self.natural_accuracy_tracker = None
        if self.natural_metrics:
            self.natural_loss_tracker = keras.metrics.Mean(name="natural_loss")
            self.natural_accuracy_tracker = keras.metrics.Mean(name="natural_accuracy")
        self.adversarial_loss_tracker = keras.metrics.Mean(name="adversarial_loss")
        self.adversarial_accuracy_tracker = keras.metrics.Mean(name="adversarial_accuracy")
        self._pel_fn = {}

    # ------------------------------------------------------------------ Keras
    def compile(self, optimizer="rmsprop", loss=None, **kwargs):
        if loss is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own cross-entropy on "
                f"logits; call compile() without `loss` (got loss={loss!r})."
            )
        super().compile(optimizer=optimizer, **kwargs)
        # Informational (train_step computes its own loss): the per-example
        # natural loss, so tools that read `model.loss` (e.g. MR's default
        # loss pass) get clean-input cross-entropy.
        self.loss = per_example_cross_entropy

    def compile_from_config(self, config):
        # compile() is overridden (to reject `loss`), so Keras would skip
        # re-compiling on load; do what Trainer.compile_from_config does.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        return {
            **super().get_config(),
            "threat_model": keras.saving.serialize_keras_object(self.threat_model),
            "mr_loss": self.mr_loss,
            "seed": self.seed,
            "natural_metrics": self.natural_metrics,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["threat_model"] = keras.saving.deserialize_keras_object(
            config["threat_model"], custom_objects=custom_objects
        )
        return super().from_config(config, custom_objects=custom_objects)

    # The threat model's settings, read by the attacks.
    eps = property(lambda self: self.threat_model.eps, doc="Radius of the threat model.")
    norm = property(lambda self: self.threat_model.norm, doc='``"inf"`` or ``2``.')
    clip_min = property(lambda self: self.threat_model.clip_min, doc="Lower input bound.")
    clip_max = property(lambda self: self.threat_model.clip_max, doc="Upper input bound.")

    # -------------------------------------------------------------- helpers
    def _logits(self, x, training):
        return ops.cast(self.model(x, training=training), "float32")

    def natural_logits(self, x):
        """Clean-input logits (no gradient) for the ``natural_*`` metrics, or ``None`` with
        ``natural_metrics=False`` (saves a forward pass: ~1/3 of a plain training step)."""
        if not self.natural_metrics:
            return None
        return ops.stop_gradient(self._logits(x, training=False))

    def _track(self, y, logits, loss_tracker, accuracy_tracker):
        if logits is not None and loss_tracker is not None:
            loss_tracker.update_state(per_example_cross_entropy(y, logits))
            accuracy_tracker.update_state(per_example_correct(y, logits))

    # ----------------------------------------------------------- train step
    def attack_batch(self, x, y):
        """What the step trains on, computed without gradient: subclasses override.

        Returns:
            Anything :meth:`per_example_objective` needs (e.g. adversarial inputs).
        """
        raise NotImplementedError

    def per_example_objective(self, x, y, attacked):
        """The step's differentiable per-example losses: subclasses override.

        Returns:
            ``(per_example_loss, natural_logits, adversarial_logits)``; either logits may
            be ``None`` when the method does not compute them.
        """
        raise NotImplementedError

    def batch_weights(self, y, sample_weight, natural_logits, adversarial_logits):
        """Per-example loss weights of the step (no gradient): subclasses may override.

        Returns:
            ``(B,)`` weights for :func:`~keras_mr.pipeline.weighted_loss.weighted_mean`, or
            ``None``; the default is the data's ``sample_weight`` (MR / user weights).
        """
        return sample_weight

    def train_step(self, data):
        tf = _tf()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, index = self.unpack_sample_weight(sample_weight)
        x = tf.cast(x, "float32")
        attacked = self.attack_batch(x, y)
        with tf.GradientTape() as tape:
            per_example, nat_logits, adv_logits = self.per_example_objective(x, y, attacked)
            weights = self.batch_weights(y, sample_weight, nat_logits, adv_logits)
            loss = weighted_mean(per_example, weights)
        self.apply_gradients(tape, loss)
        return self._finish_step(index, per_example, loss, y, nat_logits, adv_logits)

    def _finish_step(self, index, per_example, loss, y, nat_logits, adv_logits):
        """Ends a training step: hands the losses to MR, updates the metrics.

        With ``MRSampleWeighter(loss_source="train")`` the losses MR uses are
        the ones of this adversarial training step (adversarial CE for PGD /
        Free AT, the TRADES objective for TRADES): MR on adversarial losses
        without an extra pass.  Compiled metrics see the logits the step
        trained on (adversarial ones, natural ones when there are none).
        """
        record_example_losses(self, index, per_example)
        nat = None if nat_logits is None else ops.stop_gradient(nat_logits)
        adv = None if adv_logits is None else ops.stop_gradient(adv_logits)
        self._track(y, nat, self.natural_loss_tracker, self.natural_accuracy_tracker)
        self._track(y, adv, self.adversarial_loss_tracker, self.adversarial_accuracy_tracker)
        batch = ops.cast(ops.shape(per_example)[0], "float32")
        return self.update_metrics(loss, y, adv if adv is not None else nat, batch_size=batch)

    def input_gradient(self, x, y, loss_fn=None):
        """Gradient of ``sum_i loss_i`` w.r.t. the inputs (``training=False``).

        Args:
            x: inputs ``(B, ...)``.
            y: labels.
            loss_fn: ``loss_fn(y, logits) -> (B,)``; default
                :func:`per_example_cross_entropy`.

        Returns:
            Tensor like ``x``.  Summing (not averaging) makes each example's
            gradient independent of the batch size.
        """
        tf = _tf()
        loss_fn = loss_fn or per_example_cross_entropy
        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = ops.sum(loss_fn(y, self._logits(x, training=False)))
        return tape.gradient(loss, x)

    def generate_adversarial(
        self,
        x,
        y,
        eps=None,
        steps=None,
        step_size=None,
        random_start=None,
        loss_fn=None,
        x_init=None,
    ):
        """PGD (Madry et al.) adversarial inputs for this model.

        Maximises ``loss_fn`` (default cross-entropy) with ``steps``
        projected ascent steps inside the ``eps`` ball (``self.norm``) and
        the valid range.  ``steps=0`` returns the (possibly random) start.

        Args:
            x: clean inputs.
            y: labels.
            eps, steps, step_size, random_start: override the model's
                settings (``eps``, ``attack_steps``, ``attack_step_size``,
                ``random_start``).
            loss_fn: ``loss_fn(y, logits) -> (B,)`` to maximise.
            x_init: explicit starting point (overrides ``random_start``).

        Returns:
            Adversarial inputs, same shape/dtype as ``x`` (no gradient flows
            through them).
        """
        tf = _tf()
        eps = self.eps if eps is None else eps
        steps = self.attack_steps if steps is None else steps
        if step_size is None:
            if self._step_size_given is not None:
                step_size = self._step_size_given
            else:
                step_size = 2.5 * eps / steps if steps else eps
        random_start = self.random_start if random_start is None else random_start
        x = tf.convert_to_tensor(x)
        if x_init is not None:
            x_adv = attacks.project_perturbation(
                x_init, x, eps, self.norm, self.clip_min, self.clip_max
            )
        elif random_start and eps > 0:
            x_adv = attacks.random_start(
                x, eps, self.norm, self.clip_min, self.clip_max, seed=self._seed_generator
            )
        else:
            x_adv = attacks.clip_to_range(x, self.clip_min, self.clip_max)
        for _ in range(steps):
            grad = self.input_gradient(x_adv, y, loss_fn)
            x_adv = attacks.pgd_step(
                x_adv, x, grad, eps, step_size, self.norm, self.clip_min, self.clip_max
            )
        return tf.stop_gradient(x_adv)

    # ---------------------------------------------------------- MR's pass
    def adversarial_per_example_loss(self, x, y):
        """Per-example training objective at adversarial inputs ``(B,)``.

        Default: cross-entropy at :meth:`generate_adversarial` inputs.
        """
        x_adv = self.generate_adversarial(x, y)
        return per_example_cross_entropy(y, self._logits(x_adv, False))

    def natural_per_example_loss(self, x, y):
        """Per-example clean cross-entropy (``training=False``), ``(B,)``."""
        return per_example_cross_entropy(y, self._logits(x, False))

    def per_example_loss(self, x, y, adversarial=None):
        """Per-example losses ``(B,)`` for MR's loss pass.

        Use as ``MRSampleWeighter(per_example_loss_fn=lambda m, x, y:
        m.per_example_loss(x, y, adversarial=True))`` or pass
        :func:`keras_mr.adversarial.mr_per_example_loss`, which follows the
        model's ``mr_loss`` setting.

        Args:
            x: inputs.
            y: labels.
            adversarial: ``True`` for the method's loss at adversarial inputs,
                ``False`` for clean cross-entropy, ``None`` for the model's
                ``mr_loss`` setting.

        Returns:
            ``(B,)`` float32 tensor.
        """
        tf = _tf()
        if adversarial is None:
            adversarial = self.mr_loss == "adversarial"
        adversarial = bool(adversarial)
        fn = self._pel_fn.get(adversarial)
        if fn is None:
            body = (
                self.adversarial_per_example_loss if adversarial else self.natural_per_example_loss
            )
            fn = tf.function(body, reduce_retracing=True)
            self._pel_fn[adversarial] = fn
        return fn(x, y)

    # ---------------------------------------------------------- test step
    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, _ = self.unpack_sample_weight(sample_weight)
        logits = self._logits(x, training=False)
        loss = weighted_mean(per_example_cross_entropy(y, logits), sample_weight)
        self._track(y, logits, self.natural_loss_tracker, self.natural_accuracy_tracker)
        batch = ops.cast(ops.shape(logits)[0], "float32")
        logs = self.update_metrics(loss, y, logits, batch_size=batch)
        return {k: v for k, v in logs.items() if not k.startswith("adversarial_")}


def mr_per_example_loss(model, x, y):
    """``per_example_loss_fn`` for :class:`keras_mr.MRSampleWeighter`.

    Calls ``model.per_example_loss(x, y)``, i.e. follows the model's
    ``mr_loss`` setting (``"natural"`` or ``"adversarial"``).
    """
    return model.per_example_loss(x, y)

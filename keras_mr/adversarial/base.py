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
  pass without gradient) and ``adversarial_loss``/``adversarial_accuracy``
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
from keras_mr.pipeline.training_losses import record_training_losses
from keras_mr.pipeline.training_losses import unpack_sample_weight
from keras_mr.pipeline.weighted_loss import weighted_mean
from keras_mr.pipeline.wrapped_model import WrappedModel

MR_LOSS_CHOICES = ("natural", "adversarial")


def _tf():
    return require_tensorflow(
        "keras-mr's adversarial training steps "
        "(keras_mr.adversarial.attacks works on every backend)",
        backend=True,
    )


def per_example_cross_entropy(y, logits):
    """Per-example cross-entropy from logits, sparse or one-hot labels.

    Args:
        y: integer labels ``(B,)``/``(B, 1)`` or one-hot/soft labels
            ``(B, C)``.
        logits: ``(B, C)`` logits (any float dtype; computed in float32).

    Returns:
        ``(B,)`` float32 losses.
    """
    logits = ops.cast(logits, "float32")
    y = ops.convert_to_tensor(y)
    num_classes = logits.shape[-1]
    if len(y.shape) == len(logits.shape) and y.shape[-1] == num_classes and num_classes != 1:
        return ops.categorical_crossentropy(ops.cast(y, "float32"), logits, from_logits=True)
    y = ops.reshape(y, (-1,))
    return ops.sparse_categorical_crossentropy(ops.cast(y, "int32"), logits, from_logits=True)


def per_example_correct(y, logits):
    """``(B,)`` float32 indicator of ``argmax(logits) == label``."""
    logits = ops.convert_to_tensor(logits)
    y = ops.convert_to_tensor(y)
    pred = ops.argmax(logits, axis=-1)
    if (
        len(y.shape) == len(logits.shape)
        and y.shape[-1] == logits.shape[-1]
        and logits.shape[-1] != 1
    ):
        label = ops.argmax(y, axis=-1)
    else:
        label = ops.reshape(y, (-1,))
    return ops.cast(ops.equal(ops.cast(pred, "int32"), ops.cast(label, "int32")), "float32")


class AdversarialModel(WrappedModel):
    """Base class: a wrapper whose ``train_step`` trains adversarially.

    Not used directly; see :class:`PGDAdversarialModel`,
    :class:`FreeAdversarialModel` and :class:`TRADESModel`.

    Args:
        model: a Keras model mapping inputs to logits ``(B, C)``.
        eps: radius of the perturbation ball (default ``8/255``).
        norm: ``"inf"`` (default) or ``2``.
        clip_min: lower end of the valid input range (default 0.0, ``None``
            for no clipping).
        clip_max: upper end of the valid input range (default 1.0, ``None``
            for no clipping).
        mr_loss: ``"natural"`` (default) or ``"adversarial"``: what
            :meth:`per_example_loss` returns when ``adversarial=None``.
        attack_steps: PGD steps used by :meth:`generate_adversarial` (the
            training attack of PGD-AT / TRADES and MR's adversarial loss
            pass).
        attack_step_size: PGD step size; ``None`` means
            ``2.5 * eps / attack_steps`` (Madry et al.'s rule).
        random_start: start PGD from a random point of the ball.
        seed: seed for random starts.
        **kwargs: passed to ``keras.Model`` (e.g. ``name``).
    """

    # Records its per-example training losses for MRSampleWeighter(loss_source="train").
    records_training_losses = True

    def __init__(
        self,
        model,
        eps=8 / 255,
        norm="inf",
        clip_min=0.0,
        clip_max=1.0,
        mr_loss="natural",
        attack_steps=10,
        attack_step_size=None,
        random_start=True,
        seed=None,
        **kwargs,
    ):
        if not isinstance(model, keras.Model) and not isinstance(model, keras.layers.Layer):
            raise TypeError(
                "`model` must be a Keras model (or layer) that outputs logits,"
                f" got {type(model).__name__}."
            )
        super().__init__(model, **kwargs)
        if getattr(model, "built", False):
            self.built = True
        self.eps = attacks.check_eps(eps, "eps")
        self.norm = attacks.canonical_norm(norm)
        if clip_min is not None and clip_max is not None and float(clip_min) >= float(clip_max):
            raise ValueError(
                f"`clip_min` ({clip_min}) must be < `clip_max` ({clip_max}); "
                "use clip_min=None, clip_max=None for unbounded inputs."
            )
        self.clip_min = None if clip_min is None else float(clip_min)
        self.clip_max = None if clip_max is None else float(clip_max)
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
        self.loss_tracker = keras.metrics.Mean(name="loss")
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
                "logits; call compile() without `loss` (got "
                f"loss={loss!r})."
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

    @property
    def metrics(self):
        return [
            self.loss_tracker,
            self.natural_loss_tracker,
            self.natural_accuracy_tracker,
            self.adversarial_loss_tracker,
            self.adversarial_accuracy_tracker,
        ]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "model": keras.saving.serialize_keras_object(self.model),
                "eps": self.eps,
                "norm": self.norm,
                "clip_min": self.clip_min,
                "clip_max": self.clip_max,
                "mr_loss": self.mr_loss,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(
            config["model"], custom_objects=custom_objects
        )
        return cls(**config)

    # -------------------------------------------------------------- helpers
    def _logits(self, x, training):
        return ops.cast(self.model(x, training=training), "float32")

    def _scale_for_gradient(self, loss):
        """Scales a replica-local mean loss as Keras does before tape.gradient.

        Divides by the number of replicas (Keras sums replica gradients) and
        applies the optimizer's loss scale (mixed precision).
        """
        replicas = _tf().distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            loss = loss * ops.cast(1.0 / replicas, loss.dtype)
        if self.optimizer is not None:
            loss = self.optimizer.scale_loss(loss)
        return loss

    def _apply(self, tape, scaled_loss, extra_sources=()):
        """Gradients w.r.t. trainable weights (+ extra sources); applies them.

        Returns the gradients of ``extra_sources`` (e.g. the input).
        """
        variables = list(self.trainable_variables)
        grads = tape.gradient(scaled_loss, variables + list(extra_sources))
        self.optimizer.apply_gradients(zip(grads[: len(variables)], variables))
        return grads[len(variables) :]

    def _update_metrics(self, loss, batch_size, y, nat_logits, adv_logits):
        self.loss_tracker.update_state(loss, sample_weight=batch_size)
        if nat_logits is not None:
            self.natural_loss_tracker.update_state(per_example_cross_entropy(y, nat_logits))
            self.natural_accuracy_tracker.update_state(per_example_correct(y, nat_logits))
        if adv_logits is not None:
            self.adversarial_loss_tracker.update_state(per_example_cross_entropy(y, adv_logits))
            self.adversarial_accuracy_tracker.update_state(per_example_correct(y, adv_logits))
        return {m.name: m.result() for m in self.metrics}

    def _split_sample_weight(self, sample_weight):
        """Unpacks ``MRSampleWeighter(loss_source="train")`` weights.

        Returns ``(weight, index)``; ``index`` is ``None`` for ordinary
        weights (see :mod:`keras_mr.pipeline.training_losses`).
        """
        return unpack_sample_weight(sample_weight)

    def _finish_step(self, index, per_example, loss, y, nat_logits, adv_logits):
        """Ends a training step: hands the losses to MR, updates the metrics.

        With ``MRSampleWeighter(loss_source="train")`` the losses MR uses are
        the ones of this adversarial training step (adversarial CE for PGD /
        Free AT, the TRADES objective for TRADES): MR on adversarial losses
        without an extra pass.
        """
        record_training_losses(self, index, per_example)
        batch = ops.cast(ops.shape(per_example)[0], "float32")
        return self._update_metrics(loss, batch, y, nat_logits, adv_logits)

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
            x_adv = attacks.project(x_init, x, eps, self.norm, self.clip_min, self.clip_max)
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
        sample_weight, _ = self._split_sample_weight(sample_weight)
        logits = self._logits(x, training=False)
        ce = per_example_cross_entropy(y, logits)
        loss = weighted_mean(ce, sample_weight)
        batch = ops.cast(ops.shape(ce)[0], "float32")
        logs = self._update_metrics(loss, batch, y, logits, None)
        return {k: logs[k] for k in ("loss", "natural_loss", "natural_accuracy")}


def mr_per_example_loss(model, x, y):
    """``per_example_loss_fn`` for :class:`keras_mr.MRSampleWeighter`.

    Calls ``model.per_example_loss(x, y)``, i.e. follows the model's
    ``mr_loss`` setting (``"natural"`` or ``"adversarial"``).
    """
    return model.per_example_loss(x, y)


def free_epochs(epochs, replays):
    """Epochs to pass to ``fit`` for Free AT: ``ceil(epochs / replays)``.

    Free adversarial training (Shafahi et al., 2019) replays every mini-batch
    ``m`` times and divides the number of epochs by ``m`` so that the total
    number of parameter updates matches ``epochs`` of natural training.

    Args:
        epochs: epochs of the natural-training budget.
        replays: ``m``, the replays per mini-batch.

    Returns:
        int, at least 1.
    """
    if isinstance(replays, bool) or not isinstance(replays, int) or replays < 1:
        raise ValueError(f"`replays` must be an int >= 1, got {replays!r}.")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"`epochs` must be an int >= 1, got {epochs!r}.")
    return max(1, -(-epochs // replays))

"""Keras glue for CIW / CICW / CICW-Mixup and MR + mixup / label smoothing.

Two entry points:

* :class:`ConstrainedReweightingModel` wraps any Keras model and overrides
  ``train_step``: CIW instance weights (with temperature schedule and
  burn-in), optional CICW class reweighting of the targets, optional
  CICW-Mixup or weighted vanilla mixup, and label smoothing.  It is exact
  under ``tf.distribute`` (the CIW weights are computed on the *global*
  batch, gathered across replicas).
* :class:`CIWLoss` wraps any Keras loss; the simplest way to get CIW with a
  fixed temperature in ``model.compile(loss=...)``.  Its weights are
  computed per replica batch.

Both honour ``sample_weight`` from the data (e.g. the MR weights delivered by
:class:`keras_mr.MRSampleWeighter`): the sample weights are the *reference
distribution* of the CIW problem, so for the KL divergence the final weight
of an example is ``w_MR * exp(-l / lambda)``, renormalised to sum to the
batch size, and the step loss is
``keras_mr.pipeline.weighted_loss.weighted_mean(l, final_weight)``.
"""

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr.constrained import cicw as cicw_lib
from keras_mr.constrained import cicw_mixup as cicw_mixup_lib
from keras_mr.constrained import ciw as ciw_lib
from keras_mr.constrained import mixup as mixup_lib
from keras_mr.pipeline.training_losses import record_training_losses
from keras_mr.pipeline.training_losses import unpack_sample_weight
from keras_mr.pipeline.weighted_loss import weighted_mean
from keras_mr.pipeline.wrapped_model import WrappedModel

MIXUP_MODES = (None, "uniform", "cicw")


def _replica_context():
    """The tf.distribute replica context when there are several replicas."""
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    if not tf.distribute.has_strategy():
        return None
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return None
    return ctx


def _num_replicas():
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync


def _gather(ctx, value):
    """All-gathers along axis 0; returns (global value, local offset)."""
    import tensorflow as tf

    sizes = ctx.all_gather(tf.shape(value)[:1], axis=0)
    offset = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    return ctx.all_gather(value, axis=0), offset


def _per_example_fn(loss):
    """A callable ``(y_true, y_pred) -> (B,)`` from a Keras loss spec."""
    if loss is None:
        raise ValueError(
            "Compile the model with a loss, e.g. "
            "`model.compile(optimizer, loss=keras.losses."
            "CategoricalCrossentropy())`."
        )
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError(
            "Constrained reweighting needs a single loss for a single "
            f"output; got {type(loss).__name__}."
        )
    obj = keras.losses.get(loss)
    if isinstance(obj, keras.losses.Loss):
        return obj.call, getattr(obj, "from_logits", False)
    if callable(obj):
        return obj, False
    raise TypeError(f"`loss` must be a Keras loss or callable; got {loss!r}.")


def _reduce_trailing(per):
    per = ops.convert_to_tensor(per)
    if len(per.shape) > 1:
        per = ops.mean(ops.reshape(per, (ops.shape(per)[0], -1)), axis=-1)
    return per


@keras.saving.register_keras_serializable(package="keras_mr")
class CIWLoss(keras.losses.Loss):
    """Wraps a Keras loss with Constrained Instance reWeighting.

    The batch loss is ``sum_i q_i l_i`` where ``l_i`` are the wrapped loss'
    per-example values and ``q = keras_mr.constrained.ciw.instance_weights(l,
    temperature, divergence, reference=sample_weight)`` (held constant in the
    gradient).  Equivalently ``weighted_mean(l, B * q)``.  Sample weights
    passed by ``fit`` (MR weights) are used as the CIW reference distribution,
    not multiplied afterwards.

    Under ``tf.distribute`` the weights are computed per replica batch; use
    :class:`ConstrainedReweightingModel` for global-batch weights, a
    temperature schedule and burn-in.

    Args:
        loss: the Keras loss to wrap (name, function or ``Loss`` instance).
        temperature: CIW ``lambda > 0``.
        divergence: ``"kl"``, ``"reverse_kl"``, ``"hellinger"``, ``"chi2"``
            or a float alpha.
        name: loss name.

    Example:

    >>> model.compile("adam", loss=keras_mr.CIWLoss(
    ...     keras.losses.SparseCategoricalCrossentropy(), temperature=0.5))
    """

    def __init__(self, loss, temperature=1.0, divergence="kl", name="ciw_loss", **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, **kwargs)
        ciw_lib.resolve_alpha(divergence)
        if not temperature > 0:
            raise ValueError(f"`temperature` must be > 0; got {temperature}.")
        self.loss = keras.losses.get(loss)
        self._fn, _ = _per_example_fn(self.loss)
        self.temperature = float(temperature)
        self.divergence = divergence

    def call(self, y_true, y_pred):
        return _reduce_trailing(self._fn(y_true, y_pred))

    def __call__(self, y_true, y_pred, sample_weight=None):
        per = self.call(y_true, y_pred)
        q = ciw_lib.instance_weights(
            per, self.temperature, self.divergence, reference=sample_weight
        )
        value = ops.sum(ops.cast(q, per.dtype) * per)
        n = _num_replicas()
        return value / n if n > 1 else value

    def get_config(self):
        config = super().get_config()
        config.update(
            loss=keras.losses.serialize(self.loss),
            temperature=self.temperature,
            divergence=self.divergence,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        config.pop("reduction", None)
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_mr")
class ConstrainedReweightingModel(WrappedModel):
    """Trains a wrapped model with CIW / CICW / CICW-Mixup, MR-compatible.

    Each training step (with ``B`` examples, loss ``l`` from the compiled
    loss, sample weights ``w`` from the data or uniform):

    1. targets: integer labels are one-hot encoded when needed; label
       smoothing ``(1 - eps) y + eps / K`` if ``label_smoothing > 0``;
       if ``mixup="uniform"`` (MR + mixup) the batch and its weights are
       mixed first with :func:`keras_mr.constrained.mixup.mr_mixup`.
    2. CICW class reweighting (``class_divergence``): the targets are
       replaced by :func:`keras_mr.constrained.cicw.class_weights` of the per-class
       cross-entropies ``-log p_k``.
    3. CIW instance weights (``instance_divergence``): ``q`` from
       :func:`keras_mr.constrained.ciw.instance_weights` over the global batch, with
       ``w`` as reference; the loss is ``weighted_mean(l, B * q)``.  During
       burn-in (``optimizer.iterations < burn_in_steps``) ``q = w / B``.
       The temperature follows :func:`keras_mr.constrained.ciw.temperature_schedule`.
    4. CICW-Mixup (``mixup="cicw"``): steps 2-3 run on a forward pass
       without gradient; the batch is then mixed with
       :func:`keras_mr.constrained.cicw_mixup.cicw_mixup` driven by ``q`` and the model
       is trained on the mixed batch with the plain mean loss (``w`` already
       entered through ``q``).

    TensorFlow backend only (``CIWLoss`` and the pure functions run on every
    backend).  With ``instance_divergence=None`` and no other option it is ordinary
    (sample-weighted) training.  Class reweighting, mixup and label smoothing
    need a categorical loss that accepts soft targets (e.g.
    ``keras.losses.CategoricalCrossentropy``); ``from_logits`` is read from
    the loss.  Mixup partners are drawn within each replica's batch.

    Args:
        model: the Keras model to train.
        instance_divergence: divergence of CIW (name or alpha), or ``None``
            for no instance reweighting.
        temperature: initial CIW temperature ``lambda > 0``.
        final_temperature: temperature floor of the decay, or ``None`` for a
            constant temperature.
        decay_rate: temperature factor per ``decay_steps`` steps.
        decay_steps: steps per ``decay_rate`` factor.
        burn_in_steps: optimizer steps with uniform (reference) weights and
            no class reweighting before CIW starts.
        class_divergence: ``None``, ``"kl"``, ``"l1"`` or ``"l2"``.
        class_temperature: ``lambda`` of the KL / L2 class problem.
        class_budget: ``delta`` of the L1 class problem.
        class_smoothing: ``eps`` of the KL reference label.
        mixup: ``None``, ``"uniform"`` (vanilla mixup with the weights
            combined as in :mod:`keras_mr.constrained.mixup`) or ``"cicw"``.
        mixup_variant: CICW-Mixup variant, ``"both"``, ``"sampling"`` or
            ``"ratio"``.
        mixup_alpha: ``Beta(a, a)`` parameter of the random ratios.
        label_smoothing: ``eps`` in ``[0, 1)``.
        consistent_targets: weight-consistent mixup targets (see
            :mod:`keras_mr.constrained.mixup`).
        seed: seed of the mixup randomness.

    Example:

    >>> base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> model = keras_mr.ConstrainedReweightingModel(base, temperature=1.0)
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True), metrics=["accuracy"])
    >>> model.fit(x, y, epochs=5)  # or a MRSampleWeighter dataset
    """

    # Records its per-example training losses for MRSampleWeighter(loss_source="train").
    records_training_losses = True

    def __init__(
        self,
        model,
        instance_divergence="kl",
        temperature=1.0,
        final_temperature=None,
        decay_rate=0.5,
        decay_steps=1000,
        burn_in_steps=0,
        class_divergence=None,
        class_temperature=1.0,
        class_budget=0.4,
        class_smoothing=0.1,
        mixup=None,
        mixup_variant="both",
        mixup_alpha=1.0,
        label_smoothing=0.0,
        consistent_targets=True,
        seed=None,
        **kwargs,
    ):
        require_tensorflow(
            "ConstrainedReweightingModel (use keras_mr.CIWLoss on other backends)", backend=True
        )
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model to wrap; got {type(model).__name__}.")
        super().__init__(model, **kwargs)
        if instance_divergence is not None:
            ciw_lib.resolve_alpha(instance_divergence)
        # validates temperatures / decay arguments
        ciw_lib.temperature_schedule(
            0, temperature, final_temperature, decay_rate, decay_steps, burn_in_steps
        )
        if class_divergence not in (None,) + cicw_lib.CLASS_DIVERGENCES:
            raise ValueError(
                f"`class_divergence` must be None or one of "
                f"{cicw_lib.CLASS_DIVERGENCES}; got {class_divergence!r}."
            )
        if mixup not in MIXUP_MODES:
            raise ValueError(f"`mixup` must be one of {MIXUP_MODES}; got {mixup!r}.")
        if mixup_variant not in cicw_mixup_lib.VARIANTS:
            raise ValueError(
                f"`mixup_variant` must be one of {cicw_mixup_lib.VARIANTS}; got {mixup_variant!r}."
            )
        if mixup == "cicw" and instance_divergence is None:
            raise ValueError(
                "`mixup='cicw'` is driven by CIW weights: set `instance_divergence` (e.g. 'kl')."
            )
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1); got {label_smoothing}.")
        if burn_in_steps < 0:
            raise ValueError(f"`burn_in_steps` must be >= 0; got {burn_in_steps}.")
        self.instance_divergence = instance_divergence
        self.temperature = float(temperature)
        self.final_temperature = None if final_temperature is None else float(final_temperature)
        self.decay_rate = float(decay_rate)
        self.decay_steps = decay_steps
        self.burn_in_steps = int(burn_in_steps)
        self.class_divergence = class_divergence
        self.class_temperature = float(class_temperature)
        self.class_budget = float(class_budget)
        self.class_smoothing = float(class_smoothing)
        self.mixup = mixup
        self.mixup_variant = mixup_variant
        self.mixup_alpha = float(mixup_alpha)
        self.label_smoothing = float(label_smoothing)
        self.consistent_targets = bool(consistent_targets)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.temperature_tracker = keras.metrics.Mean(name="ciw_temperature")

    # -- Keras plumbing -------------------------------------------------
    @property
    def metrics(self):
        others = [m for m in super().metrics if m.name != "loss"]
        others = [m for m in others if m is not self.temperature_tracker]
        return [self.loss_tracker, self.temperature_tracker] + others

    def _logs(self, training=True):
        logs = {}
        for m in self.metrics:
            if m is self.temperature_tracker and not training:
                continue
            r = m.result()
            if isinstance(r, dict):
                logs.update(r)
            else:
                logs[m.name] = r
        return logs

    def _update_metrics(self, y, y_pred, sample_weight):
        for m in self.metrics:
            if m is self.loss_tracker or m is self.temperature_tracker:
                continue
            m.update_state(y, y_pred, sample_weight)

    @property
    def _needs_one_hot(self):
        return (
            self.class_divergence is not None or self.mixup is not None or self.label_smoothing > 0
        )

    def _one_hot(self, y, num_classes):
        y = ops.convert_to_tensor(y)
        if str(y.dtype).startswith(("int", "uint")) or (
            len(y.shape) >= 1 and y.shape[-1] != num_classes
        ):
            y = ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), num_classes)
        return ops.cast(y, "float32")

    def _num_classes(self):
        shape = getattr(self.model, "output_shape", None)
        if shape is None or shape[-1] is None:
            raise ValueError(
                "Cannot infer the number of classes from the wrapped model; pass one-hot labels."
            )
        return int(shape[-1])

    # -- the method -----------------------------------------------------
    def current_temperature(self):
        """The CIW temperature at the current optimizer step."""
        step = self.optimizer.iterations if self.optimizer is not None else 0
        return ciw_lib.temperature_schedule(
            step,
            self.temperature,
            self.final_temperature,
            self.decay_rate,
            self.decay_steps,
            self.burn_in_steps,
        )

    def _in_burn_in(self):
        if self.burn_in_steps <= 0:
            return None
        return self.optimizer.iterations < self.burn_in_steps

    def _targets(self, y, y_pred, from_logits, burn):
        """Label smoothing and CICW class reweighting of the targets."""
        if self.label_smoothing > 0:
            y = cicw_lib.smooth_labels(y, self.label_smoothing)
        if self.class_divergence is None:
            return y
        v = cicw_lib.class_weights(
            cicw_lib.crossentropy_class_losses(y_pred, from_logits),
            y,
            divergence=self.class_divergence,
            temperature=self.class_temperature,
            budget=self.class_budget,
            smoothing=self.class_smoothing,
        )
        if burn is not None:
            v = ops.where(burn, ops.cast(y, v.dtype), v)
        return v

    def _instance_weights(self, per, sample_weight, temperature, burn):
        """Final per-example weights (sum = global B) and the global loss."""
        ctx = _replica_context()
        w = sample_weight
        if ctx is not None:
            per_g, offset = _gather(ctx, per)
            w_g = None if w is None else _gather(ctx, ops.cast(w, per.dtype))[0]
        else:
            per_g, offset, w_g = per, 0, w
        q = ciw_lib.instance_weights(per_g, temperature, self.instance_divergence, reference=w_g)
        q = ops.cast(q, per.dtype)
        if burn is not None:
            uniform = ciw_lib._reference(per_g, w_g)
            q = ops.where(burn, uniform, q)
        global_loss = ops.sum(q * ops.stop_gradient(per_g))
        batch = ops.cast(ops.shape(per_g)[0], per.dtype)
        local = ops.slice(q, [offset], [ops.shape(per)[0]]) if ctx else q
        return ops.stop_gradient(batch * local), global_loss

    def train_step(self, data):
        import tensorflow as tf

        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # MRSampleWeighter(loss_source="train") packs the example index with
        # the weight; losses of un-mixed examples are handed back to it.
        sample_weight, index = unpack_sample_weight(sample_weight)
        fn, from_logits = _per_example_fn(self.loss)
        burn = self._in_burn_in()
        temperature = self.current_temperature()
        if self._needs_one_hot:
            y = self._one_hot(y, self._num_classes())

        if self.mixup == "cicw":
            y_pred0 = self(x, training=False)
            targets = self._targets(y, y_pred0, from_logits, burn)
            per0 = _reduce_trailing(fn(targets, y_pred0))
            record_training_losses(self, index, per0)
            # during burn-in q is the reference (uniform / MR weights)
            q, _ = self._instance_weights(per0, sample_weight, temperature, burn)
            x_mix, y_mix, _, _ = cicw_mixup_lib.cicw_mixup(
                x,
                targets,
                q,
                variant=self.mixup_variant,
                mixup_alpha=self.mixup_alpha,
                seed=self.seed_generator,
            )
            with tf.GradientTape() as tape:
                y_pred = self(x_mix, training=True)
                per = _reduce_trailing(fn(y_mix, y_pred))
                loss = weighted_mean(per)
                tracked = loss
                scaled = self._scale(loss)
            metric_y, metric_pred, metric_w = y_mix, y_pred, None
        else:
            if self.mixup == "uniform":
                x, y, sample_weight = mixup_lib.mr_mixup(
                    x,
                    y,
                    sample_weight,
                    mixup_alpha=self.mixup_alpha,
                    seed=self.seed_generator,
                    consistent_targets=self.consistent_targets,
                )
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                targets = self._targets(y, y_pred, from_logits, burn)
                per = _reduce_trailing(fn(targets, y_pred))
                if self.instance_divergence is not None:
                    weights, tracked = self._instance_weights(per, sample_weight, temperature, burn)
                else:
                    weights = sample_weight
                    tracked = None
                loss = weighted_mean(per, weights)
                if tracked is None:
                    tracked = loss
                scaled = self._scale(loss)
            if self.mixup is None:  # mixed examples have no single index
                record_training_losses(self, index, tf.stop_gradient(per))
            metric_y, metric_pred, metric_w = y, y_pred, sample_weight

        grads = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(tracked)
        self.temperature_tracker.update_state(temperature)
        self._update_metrics(metric_y, metric_pred, metric_w)
        return self._logs()

    def _scale(self, loss):
        n = _num_replicas()
        if n > 1:
            loss = loss / n
        return self.optimizer.scale_loss(loss)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, _ = unpack_sample_weight(sample_weight)
        fn, _ = _per_example_fn(self.loss)
        if self._needs_one_hot:
            y = self._one_hot(y, self._num_classes())
        y_pred = self(x, training=False)
        per = _reduce_trailing(fn(y, y_pred))
        self.loss_tracker.update_state(weighted_mean(per, sample_weight))
        self._update_metrics(y, y_pred, sample_weight)
        return self._logs(training=False)

    def get_config(self):
        config = super().get_config()
        config.update(
            model=keras.saving.serialize_keras_object(self.model),
            instance_divergence=self.instance_divergence,
            temperature=self.temperature,
            final_temperature=self.final_temperature,
            decay_rate=self.decay_rate,
            decay_steps=self.decay_steps,
            burn_in_steps=self.burn_in_steps,
            class_divergence=self.class_divergence,
            class_temperature=self.class_temperature,
            class_budget=self.class_budget,
            class_smoothing=self.class_smoothing,
            mixup=self.mixup,
            mixup_variant=self.mixup_variant,
            mixup_alpha=self.mixup_alpha,
            label_smoothing=self.label_smoothing,
            consistent_targets=self.consistent_targets,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["model"] = keras.saving.deserialize_keras_object(config["model"])
        return cls(**config)

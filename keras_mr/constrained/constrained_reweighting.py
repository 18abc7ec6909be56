"""ConstrainedReweightingModel: CIW / CICW / CICW-Mixup and MR + mixup in one ``train_step``.

The model wraps any Keras model; what it does in a step is given by three objects:
:class:`~keras_mr.constrained.reweighting.InstanceReweighting` (CIW),
:class:`~keras_mr.constrained.reweighting.ClassReweighting` (CICW) and a mixing strategy
(:class:`~keras_mr.constrained.mixing.WeightedMixup` or
:class:`~keras_mr.constrained.mixing.CICWMixup`).  The flat keywords of earlier versions
(``instance_divergence=``, ``class_divergence=``, ``mixup=``, ...) are shorthands that
build these objects.

``sample_weight`` from the data (e.g. the MR weights of :class:`keras_mr.MRSampleWeighter`)
is the *reference distribution* of the CIW problem, so for the KL divergence the final
weight of an example is ``w_MR * exp(-l / lambda)``, renormalised to sum to the batch
size, and the step loss is ``keras_mr.pipeline.weighted_loss.weighted_mean(l, weight)``.
"""

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr.constrained.mixing import get_mixing
from keras_mr.constrained.mixing_ops import smooth_labels
from keras_mr.constrained.reweighting import ClassReweighting
from keras_mr.constrained.reweighting import InstanceReweighting
from keras_mr.pipeline.per_example_loss import unreduced_loss
from keras_mr.pipeline.training_losses import record_training_losses
from keras_mr.pipeline.weighted_loss import weighted_mean
from keras_mr.pipeline.wrapped_model import WrappedModel

_INSTANCE_KEYS = ("temperature", "final_temperature", "decay_rate", "decay_steps", "burn_in_steps")
_CLASS_KEYS = {
    "class_temperature": "temperature",
    "class_budget": "budget",
    "class_smoothing": "smoothing",
}
_MIXING_KEYS = ("mixup_variant", "mixup_alpha", "consistent_targets")


def _instance_from(instance, options):
    if instance is None:  # no CIW: the schedule keywords configure nothing (as before)
        return None
    if isinstance(instance, InstanceReweighting):
        if options:
            raise ValueError(f"Give {sorted(options)} to the InstanceReweighting object.")
        return instance
    return InstanceReweighting(instance, **options)


def _class_from(classes, options):
    if isinstance(classes, ClassReweighting) or (classes is None and not options):
        return classes
    if classes is None:
        raise ValueError(f"{sorted(options)} need `class_divergence=` (e.g. 'kl').")
    return ClassReweighting(classes, **{_CLASS_KEYS[k]: v for k, v in options.items()})


class _Setting:
    """Read-only flat view of one setting of the model's strategy objects.

    ``model.temperature`` reads ``model.instance.temperature``, etc. (the attribute names
    of the flat keywords, kept for existing code).
    """

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, model, owner=None):
        return self if model is None else model.settings().get(self.name)


@keras.saving.register_keras_serializable(package="keras_mr")
class ConstrainedReweightingModel(WrappedModel):
    """Trains a wrapped model with CIW / CICW / CICW-Mixup, MR-compatible.

    Each training step (``B`` examples, loss ``l`` from the compiled loss, sample
    weights ``w`` from the data or uniform):

    1. targets: integer labels are one-hot encoded when needed; label smoothing
       ``(1 - eps) y + eps / K`` if ``label_smoothing > 0``; with
       :class:`~keras_mr.constrained.mixing.WeightedMixup` (MR + mixup) the batch and
       its weights are mixed first.
    2. CICW (``classes``): the targets are replaced by the class weights of the
       per-class cross-entropies ``-log p_k``.
    3. CIW (``instance``): ``q`` over the global batch, with ``w`` as reference; the
       loss is ``weighted_mean(l, B * q)``.  During burn-in ``q = w / B``.
    4. :class:`~keras_mr.constrained.mixing.CICWMixup`: steps 2-3 run on a forward
       pass without gradient; the batch is then mixed according to ``q`` and the model
       trained on it with the plain mean loss (``w`` already entered through ``q``).

    TensorFlow backend only (:class:`keras_mr.CIWLoss` and the pure functions run on
    every backend).  Class reweighting, mixup and label smoothing need a categorical
    loss that accepts soft targets (e.g. ``keras.losses.CategoricalCrossentropy``);
    ``from_logits`` is read from the loss.  Mixup partners are drawn within each
    replica's batch.  ``compile(metrics=[...])`` are computed on the targets and inputs
    the step trained on (mixed ones with mixup); ``ciw_temperature`` is logged in ``fit``.

    Args:
        model: the Keras model to train.
        instance: an :class:`~keras_mr.constrained.reweighting.InstanceReweighting`, a
            CIW divergence name/alpha (``"kl"``, default), or ``None`` for no instance
            reweighting.
        classes: a :class:`~keras_mr.constrained.reweighting.ClassReweighting`, a class
            divergence (``"kl"``, ``"l1"``, ``"l2"``), or ``None`` (default).
        mixing: ``None``, a :class:`~keras_mr.constrained.mixing.WeightedMixup` /
            :class:`~keras_mr.constrained.mixing.CICWMixup`, or ``"uniform"`` / ``"cicw"``.
        label_smoothing: ``eps`` in ``[0, 1)``.
        seed: seed of the mixup randomness.
        **kwargs: the shorthand keywords ``instance_divergence`` (for ``instance``),
            ``temperature``, ``final_temperature``, ``decay_rate``, ``decay_steps``,
            ``burn_in_steps`` (of ``InstanceReweighting``), ``class_divergence``,
            ``class_temperature``, ``class_budget``, ``class_smoothing`` (of
            ``ClassReweighting``), ``mixup``, ``mixup_variant``, ``mixup_alpha``,
            ``consistent_targets`` (of the mixing); the rest go to ``keras.Model``.

    Example:

    >>> import keras, keras_mr, numpy as np
    >>> base = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    >>> model = keras_mr.ConstrainedReweightingModel(
    ...     base, instance=keras_mr.constrained.InstanceReweighting(temperature=1.0))
    >>> model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=["accuracy"])
    >>> x, y = np.random.rand(32, 2).astype("float32"), np.arange(32) % 2
    >>> sorted(model.fit(x, y, epochs=1, verbose=0).history)
    ['accuracy', 'ciw_temperature', 'loss']
    """

    # Records its per-example training losses for MRSampleWeighter(loss_source="train").
    records_training_losses = True
    instance_divergence = _Setting()
    temperature = _Setting()
    final_temperature = _Setting()
    decay_rate = _Setting()
    decay_steps = _Setting()
    burn_in_steps = _Setting()
    class_divergence = _Setting()
    class_temperature = _Setting()
    class_budget = _Setting()
    class_smoothing = _Setting()
    mixup = _Setting()
    mixup_variant = _Setting()
    mixup_alpha = _Setting()
    consistent_targets = _Setting()

    def __init__(
        self,
        model,
        instance="kl",
        classes=None,
        mixing=None,
        label_smoothing=0.0,
        seed=None,
        **kwargs,
    ):
        require_tensorflow(
            "ConstrainedReweightingModel (use keras_mr.CIWLoss on other backends)", backend=True
        )
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model to wrap; got {type(model).__name__}.")
        instance = kwargs.pop("instance_divergence", instance)
        classes = kwargs.pop("class_divergence", classes)
        mixing = kwargs.pop("mixup", mixing)
        instance_options = {k: kwargs.pop(k) for k in _INSTANCE_KEYS if k in kwargs}
        class_options = {k: kwargs.pop(k) for k in _CLASS_KEYS if k in kwargs}
        mixing_options = {k: kwargs.pop(k) for k in _MIXING_KEYS if k in kwargs}
        super().__init__(model, **kwargs)
        self.instance = _instance_from(instance, instance_options)
        self.classes = _class_from(classes, class_options)
        self.mixing = get_mixing(mixing, **mixing_options)
        if self.mixing is not None and self.mixing.needs_instance_weights and not self.instance:
            raise ValueError(
                "`mixup='cicw'` is driven by CIW weights: set `instance_divergence` (e.g. 'kl')."
            )
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1); got {label_smoothing}.")
        self.label_smoothing = float(label_smoothing)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.temperature_tracker = None
        if self.instance is not None:
            self.temperature_tracker = keras.metrics.Mean(name="ciw_temperature")

    # -- targets ----------------------------------------------------------
    @property
    def _needs_one_hot(self):
        return self.classes is not None or self.mixing is not None or self.label_smoothing > 0

    def _one_hot(self, y):
        shape = getattr(self.model, "output_shape", None)
        if shape is None or shape[-1] is None:
            raise ValueError(
                "Cannot infer the number of classes from the wrapped model; pass one-hot labels."
            )
        num_classes = int(shape[-1])
        y = ops.convert_to_tensor(y)
        if str(y.dtype).startswith(("int", "uint")) or (
            len(y.shape) >= 1 and y.shape[-1] != num_classes
        ):
            y = ops.one_hot(ops.cast(ops.reshape(y, (-1,)), "int32"), num_classes)
        return ops.cast(y, "float32")

    def _loss_fn(self):
        if self.loss is None:
            raise ValueError(
                "Compile the model with a loss, e.g. "
                "`model.compile(optimizer, loss=keras.losses.CategoricalCrossentropy())`."
            )
        if isinstance(self.loss, (list, tuple, dict)):
            raise ValueError(
                "Constrained reweighting needs a single loss for a single output; "
                f"got {type(self.loss).__name__}."
            )
        loss = keras.losses.get(self.loss)
        return unreduced_loss(loss), bool(getattr(loss, "from_logits", False))

    def _targets(self, y, y_pred, from_logits, burn):
        """Label smoothing and CICW class reweighting of the targets."""
        if self.label_smoothing > 0:
            y = smooth_labels(y, self.label_smoothing)
        if self.classes is None:
            return y
        return self.classes.targets(y, y_pred, from_logits, burn)

    # -- the step ---------------------------------------------------------
    def current_temperature(self):
        """The CIW temperature at the current optimizer step (``None`` without CIW)."""
        if self.instance is None:
            return None
        return self.instance.temperature_at(self.optimizer.iterations)

    def train_step(self, data):
        tf = require_tensorflow("ConstrainedReweightingModel's training step", backend=True)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        # MRSampleWeighter(loss_source="train") packs the example index with the weight.
        sample_weight, index = self.unpack_sample_weight(sample_weight)
        fn, from_logits = self._loss_fn()
        # the step before this update (the variable is incremented by apply_gradients)
        step = tf.identity(self.optimizer.iterations)
        burn = None if self.instance is None else self.instance.in_burn_in(step)
        if self._needs_one_hot:
            y = self._one_hot(y)
        mixing = self.mixing
        if mixing is not None and mixing.needs_instance_weights:  # CICW-Mixup
            y_pred0 = self(x, training=False)
            targets = self._targets(y, y_pred0, from_logits, burn)
            per0 = fn(targets, y_pred0)
            record_training_losses(self, index, per0)
            q, _ = self.instance.weights(per0, sample_weight, step)
            x, y = mixing.mix_batch(x, targets, q, self.seed_generator)
            sample_weight = None
        elif mixing is not None:  # MR + mixup: mixed examples have no single index
            x, y, sample_weight = mixing.mix_batch(x, y, sample_weight, self.seed_generator)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            targets = (
                y
                if mixing is not None and mixing.needs_instance_weights
                else (self._targets(y, y_pred, from_logits, burn))
            )
            per = fn(targets, y_pred)
            weights, tracked = sample_weight, None
            if self.instance is not None and not (mixing and mixing.needs_instance_weights):
                weights, tracked = self.instance.weights(per, sample_weight, step)
            loss = weighted_mean(per, weights)
        if mixing is None:
            record_training_losses(self, index, tf.stop_gradient(per))
        self.apply_gradients(tape, loss)
        if self.instance is not None:
            self.temperature_tracker.update_state(self.instance.temperature_at(step))
        return self.update_metrics(loss if tracked is None else tracked, y, y_pred, sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, _ = self.unpack_sample_weight(sample_weight)
        fn, _ = self._loss_fn()
        if self._needs_one_hot:
            y = self._one_hot(y)
        y_pred = self(x, training=False)
        loss = weighted_mean(fn(y, y_pred), sample_weight)
        logs = self.update_metrics(loss, y, y_pred, sample_weight)
        return {k: v for k, v in logs.items() if k != "ciw_temperature"}

    def settings(self):
        """The settings of the strategy objects as flat keywords (what the config stores)."""
        flat = {"instance_divergence": None, "class_divergence": None, "mixup": None}
        for part in (self.instance, self.classes, self.mixing):
            if part is not None:
                flat.update(part.get_config())
        flat.update(label_smoothing=self.label_smoothing, seed=self.seed)
        return flat

    def get_config(self):
        return {**super().get_config(), **self.settings()}

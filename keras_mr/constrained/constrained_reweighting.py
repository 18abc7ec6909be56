"""ConstrainedReweightingModel: CIW / CICW / CICW-Mixup and MR + mixup in one ``train_step``.

The model wraps any Keras model; what it does in a step is given by three objects:
:class:`~keras_mr.constrained.reweighting.InstanceReweighting` (CIW),
:class:`~keras_mr.constrained.reweighting.ClassReweighting` (CICW) and a mixing strategy
(:class:`~keras_mr.constrained.mixing.NoMixing`,
:class:`~keras_mr.constrained.mixing.WeightedMixup` or
:class:`~keras_mr.constrained.mixing.CICWMixup`).  The step asks the mixing strategy for
the batch to train on (:meth:`mix_batch`), then reweights it unless CICW-Mixup already
has.  A string names an object with its default settings (``instance="hellinger"`` is
``InstanceReweighting("hellinger")``, ``mixing="cicw"`` is ``CICWMixup()``); any other
setting is given to the object.

``sample_weight`` from the data (e.g. the MR weights of :class:`keras_mr.MRSampleWeighter`)
is the *reference distribution* of the CIW problem, so for the KL divergence the final
weight of an example is ``w_MR * exp(-l / lambda)``, renormalised to sum to the batch
size, and the step loss is ``keras_mr.pipeline.weighted_loss.weighted_mean(l, weight)``.
"""

from typing import Callable
from typing import NamedTuple

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr.constrained.mixing import NoMixing
from keras_mr.constrained.mixing import Reweighted
from keras_mr.constrained.mixing import TrainingBatch
from keras_mr.constrained.mixing import get_mixing
from keras_mr.constrained.mixing_ops import smooth_labels
from keras_mr.constrained.reweighting import ClassReweighting
from keras_mr.constrained.reweighting import InstanceReweighting
from keras_mr.models.wrapped_model import WrappedModel
from keras_mr.pipeline.loss_recording import record_example_losses
from keras_mr.pipeline.per_example_loss import unreduced_loss
from keras_mr.pipeline.weighted_loss import weighted_mean


class CompiledLoss(NamedTuple):
    """The model's compiled loss as the step uses it.

    Attributes:
        per_example: ``fn(y_true, y_pred) -> (B,)`` losses before the reduction.
        from_logits: whether the loss reads ``y_pred`` as logits.
    """

    per_example: Callable
    from_logits: bool


def _instance_reweighting(instance):
    """``instance=`` as an object: an ``InstanceReweighting``, a divergence, or ``None``."""
    if instance is None or isinstance(instance, InstanceReweighting):
        return instance
    return InstanceReweighting(instance)


def _class_reweighting(classes):
    """``classes=`` as an object: a ``ClassReweighting``, a class divergence, or ``None``."""
    if classes is None or isinstance(classes, ClassReweighting):
        return classes
    return ClassReweighting(classes)


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
        instance: an :class:`~keras_mr.constrained.reweighting.InstanceReweighting`
            (temperature schedule, burn-in), a CIW divergence name/alpha for its default
            settings (``"kl"``, default), or ``None`` for no instance reweighting.
        classes: a :class:`~keras_mr.constrained.reweighting.ClassReweighting`, a class
            divergence for its default settings (``"kl"``, ``"l1"``, ``"l2"``), or
            ``None`` (default).
        mixing: a :class:`~keras_mr.constrained.mixing.NoMixing` (or ``None``, default),
            :class:`~keras_mr.constrained.mixing.WeightedMixup` (or ``"uniform"``) or
            :class:`~keras_mr.constrained.mixing.CICWMixup` (or ``"cicw"``; needs
            ``instance``).
        label_smoothing: ``eps`` in ``[0, 1)``.
        seed: seed of the mixup randomness.
        **kwargs: passed to ``keras.Model`` (e.g. ``name``).

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
    records_example_losses = True

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
        instance = _instance_reweighting(instance)
        classes = _class_reweighting(classes)
        mixing = get_mixing(mixing)
        if mixing.needs_instance_weights and instance is None:
            raise ValueError(
                "CICWMixup (`mixing='cicw'`) is driven by CIW weights: pass `instance=` "
                "(e.g. 'kl' or an InstanceReweighting)."
            )
        super().__init__(model, **kwargs)
        self.instance = instance
        self.classes = classes
        self.mixing = mixing
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1); got {label_smoothing}.")
        self.label_smoothing = float(label_smoothing)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.temperature_tracker = None
        if self.instance is not None:
            self.temperature_tracker = keras.metrics.Mean(name="ciw_temperature")

    # -- targets and losses ------------------------------------------------
    @property
    def _needs_one_hot(self):
        return (
            self.classes is not None
            or not isinstance(self.mixing, NoMixing)
            or self.label_smoothing > 0
        )

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

    def _labels(self, y):
        """One-hot labels when the step needs them (else ``y`` as given)."""
        return self._one_hot(y) if self._needs_one_hot else y

    def _compiled_loss(self):
        """The compiled loss per example (one resolver: ``unreduced_loss``)."""
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
        return CompiledLoss(unreduced_loss(loss), bool(getattr(loss, "from_logits", False)))

    def _reweight(self, batch, y_pred, step):
        """Label smoothing, CICW targets and CIW weights of ``batch`` (a ``Reweighted``)."""
        loss = self._compiled_loss()
        burn = None if self.instance is None else self.instance.in_burn_in(step)
        targets = batch.y
        if self.label_smoothing > 0:
            targets = smooth_labels(targets, self.label_smoothing)
        if self.classes is not None:
            targets = self.classes.targets(targets, y_pred, loss.from_logits, burn)
        losses = loss.per_example(targets, y_pred)
        if self.instance is None:
            return Reweighted(targets, losses, batch.sample_weight)
        weights, global_loss = self.instance.weights(losses, batch.sample_weight, step)
        return Reweighted(targets, losses, weights, global_loss)

    def _reweight_without_gradient(self, batch, step):
        """``_reweight`` on a forward pass in inference mode (for CICW-Mixup)."""
        reweighted = self._reweight(batch, self(batch.x, training=False), step)
        record_example_losses(self, batch.index, reweighted.losses)
        return reweighted

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
        self._compiled_loss()  # a missing loss fails before anything runs
        # the step before this update (the variable is incremented by apply_gradients)
        step = tf.identity(self.optimizer.iterations)
        batch = TrainingBatch(x, self._labels(y), sample_weight, index)
        batch = self.mixing.mix_batch(
            batch, lambda b: self._reweight_without_gradient(b, step), self.seed_generator
        )
        with tf.GradientTape() as tape:
            y_pred = self(batch.x, training=True)
            if batch.reweight:
                reweighted = self._reweight(batch, y_pred, step)
            else:  # CICW-Mixup built the batch from the weights: plain mean loss
                losses = self._compiled_loss().per_example(batch.y, y_pred)
                reweighted = Reweighted(batch.y, losses, batch.sample_weight)
            loss = weighted_mean(reweighted.losses, reweighted.weights)
        record_example_losses(self, batch.index, tf.stop_gradient(reweighted.losses))
        self.apply_gradients(tape, loss)
        if self.instance is not None:
            self.temperature_tracker.update_state(self.instance.temperature_at(step))
        reported = loss if reweighted.global_loss is None else reweighted.global_loss
        return self.update_metrics(reported, batch.y, y_pred, batch.sample_weight)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, _ = self.unpack_sample_weight(sample_weight)
        y = self._labels(y)
        y_pred = self(x, training=False)
        loss = weighted_mean(self._compiled_loss().per_example(y, y_pred), sample_weight)
        logs = self.update_metrics(loss, y, y_pred, sample_weight)
        # the temperature is a training quantity: evaluate() reports the compiled metrics
        tracker = self.temperature_tracker
        return {k: v for k, v in logs.items() if tracker is None or k != tracker.name}

    def get_config(self):
        serialize = keras.saving.serialize_keras_object
        return {
            **super().get_config(),
            "instance": serialize(self.instance),
            "classes": serialize(self.classes),
            "mixing": serialize(self.mixing),
            "label_smoothing": self.label_smoothing,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("instance", "classes", "mixing"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return super().from_config(config, custom_objects=custom_objects)

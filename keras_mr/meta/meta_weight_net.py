"""Meta-Weight-Net: a learned loss -> weight mapping, trained by a bilevel online step.

Implements MW-Net (Shu et al., NeurIPS 2019) and its variants without gold
samples from "Do We Really Need Gold Samples for Sample Weighting under Label
Noise?" (Ghosh & Lan, WACV 2021):

=========  ======================================  ===========================
variant    meta set                                meta loss
=========  ======================================  ===========================
MW-Net     separate clean set                      cross-entropy (``"ce"``)
MNW-Net    per-class balanced sample, noisy labels cross-entropy (``"ce"``)
RMNW-Net   per-class balanced sample, noisy labels MAE on probabilities
                                                   (``"mae"``)
=========  ======================================  ===========================

Each training step (section 3 of the RMNW paper, eqs. 1-2 and the update
after them) is::

    v_i   = W(l_i(w); Theta)                        # weighting network
    w_hat = w - alpha * grad_w sum_i c_i(v) l_i(w)  # 1. virtual step, kept
                                                    #    differentiable in Theta
    Theta <- Theta - beta * grad_Theta mean_j l_meta_j(w_hat(Theta))   # 2. meta step
    w     <- optimizer step on sum_i c_i(v_new) l_i(w)                 # 3. real step

The math (MAE meta loss, weight combination/normalisation) lives in pure
functions below; :class:`MetaWeightNet` is the thin Keras ``train_step`` glue.
"""

import keras
import numpy as np
from keras import ops

from keras_mr._internal.distribution import all_sum
from keras_mr.meta.meta_data import META_X
from keras_mr.meta.meta_data import META_Y
from keras_mr.meta.meta_data import TRAIN_X
from keras_mr.meta.meta_losses import NORMALIZATIONS
from keras_mr.meta.meta_losses import combine_weights
from keras_mr.meta.meta_losses import mae_probability_loss
from keras_mr.meta.meta_step import MetaStep
from keras_mr.meta.meta_step import bilevel_step
from keras_mr.meta.meta_step import virtual_and_meta_step
from keras_mr.meta.weighting_network import build_weighting_network
from keras_mr.meta.weighting_network import default_meta_optimizer
from keras_mr.models.wrapped_model import WrappedModel
from keras_mr.pipeline.loss_recording import record_example_losses
from keras_mr.pipeline.per_example_loss import unreduced_loss

__all__ = [
    "MetaStep",
    "MetaWeightNet",
    "build_weighting_network",
    "combine_weights",
    "default_meta_optimizer",
    "mae_probability_loss",
]


@keras.saving.register_keras_serializable(package="keras_mr")
class MetaWeightNet(WrappedModel):
    """Wraps a classifier so that ``fit`` trains it with Meta-Weight-Net.

    Every ``train_step`` performs MW-Net's bilevel online update (TensorFlow
    backend):

    1. **virtual step**: per-example losses ``l_i`` of the training batch,
       weights ``v_i = W(l_i)`` from the weighting network (its input is the
       loss value, not differentiated), and
       ``w_hat = w - alpha * grad_w sum_i c_i l_i / B`` with ``c`` from
       :func:`combine_weights`; ``w_hat`` stays a differentiable function of
       the weighting network's parameters ``Theta``.
    2. **meta step**: the meta loss of the meta batch at ``w_hat``
       (``classifier.stateless_call`` with the substituted variables), its
       gradient w.r.t. ``Theta`` (second order, through step 1, by nested
       gradient tapes), applied with ``meta_optimizer``.
    3. **real step**: the weights are recomputed with the updated ``Theta``
       and the classifier is updated with the compiled optimizer on
       ``sum_i c_i l_i / B`` (+ regularisation losses).  The forward pass of
       step 1 is reused (one classifier forward pass on the training batch per
       step), so the real step is evaluated at ``w_t`` as in the paper.

    Variants: ``meta_loss="ce"`` with a clean meta set is MW-Net, with a noisy
    balanced meta set (:func:`keras_mr.meta.meta_data.split_meta_set`) MNW-Net;
    ``meta_loss="mae"`` with a noisy meta set is RMNW-Net.

    Data: batches are ``({"x", "meta_x", "meta_y"}, y[, sample_weight])``, as
    built by :func:`keras_mr.meta.meta_data.with_meta_batches`.  The
    ``sample_weight`` (e.g. MR weights from ``MRSampleWeighter.attach``)
    multiplies the weighting-network weights on the training batch only, and
    the product is normalised per (global) batch; the meta batch is never
    reweighted (the MR paper: "We employ MR only on the part of MW-net that
    uses the noisy training set").  ``predict``/``evaluate``/``__call__`` take
    plain inputs and run the classifier.

    Choices where the papers are not explicit:

    - ``alpha`` (virtual step size) defaults to the compiled optimizer's
      current learning rate, and the virtual step is a plain SGD step (no
      momentum), as in the reference code.
    - The meta forward pass runs in training mode (``meta_training=True``,
      batch statistics for batch norm, like the reference code); batch-norm
      statistics updated by it are discarded.
    - Under ``tf.distribute`` the virtual gradient, the weight normaliser and
      the meta gradient are all-reduced over the global batch, so the result
      equals single-device training on the same global batches.

    Args:
        model: the classifier, a built Keras model mapping ``x`` to class scores
            (``self.model``).
        weighting_network: model mapping ``(B, 1)`` losses to ``(B, 1)``
            non-negative weights; default :func:`build_weighting_network`.
        meta_optimizer: optimizer of the weighting network; default
            :func:`default_meta_optimizer` (Adam, lr 1e-3, weight decay 5e-4).
        meta_loss: ``"mae"`` (RMNW-Net), ``"ce"`` (MW-Net / MNW-Net; the
            compiled training loss) or a callable
            ``fn(y_true, y_pred) -> (B,)``.
        virtual_lr: ``alpha`` of the virtual step; ``None`` = the compiled
            optimizer's current learning rate.
        normalize: ``"sum"`` (default) or ``"none"``, see
            :func:`combine_weights`.
        meta_training: ``training`` flag of the meta forward pass.
        from_logits: whether the classifier outputs logits (for ``"mae"``);
            ``None`` reads ``from_logits`` from the compiled loss (default
            False if it has none).
        **kwargs: passed to ``keras.Model``.

    Example:

    ```python
    split = keras_mr.split_meta_set(x, y_noisy, size=1000, seed=0)
    model = keras_mr.MetaWeightNet(classifier, meta_loss="mae")  # RMNW-Net
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    train = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train)).batch(100)
    ds = keras_mr.with_meta_batches(
        train, keras_mr.meta_dataset(split.x_meta, split.y_meta, batch_size=100))
    model.fit(ds, epochs=10, shuffle=False)
    v = model.example_weights(split.x_train, split.y_train)  # detection scores
    ```
    """

    # Records its per-example training losses for MRSampleWeighter(loss_source="train").
    records_example_losses = True

    def __init__(
        self,
        model,
        weighting_network=None,
        meta_optimizer=None,
        meta_loss="mae",
        virtual_lr=None,
        normalize="sum",
        meta_training=True,
        from_logits=None,
        **kwargs,
    ):
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model, got {type(model).__name__}.")
        if not model.built:
            raise ValueError(
                "`model` must be built (give it an Input layer or call it once on data) so "
                "that its variables exist before MetaWeightNet is created."
            )
        if weighting_network is None:
            weighting_network = build_weighting_network()
        if not isinstance(weighting_network, keras.Model) or not weighting_network.built:
            raise TypeError(
                "`weighting_network` must be a built keras.Model mapping (B, 1) losses to (B, 1) "
                "weights, e.g. keras_mr.meta.meta_weight_net.build_weighting_network()."
            )
        if not (meta_loss in ("mae", "ce") or callable(meta_loss)):
            raise ValueError(
                f"`meta_loss` must be 'mae' (RMNW-Net), 'ce' (MW-Net/MNW-Net) or a callable "
                f"fn(y_true, y_pred) -> (B,); got {meta_loss!r}."
            )
        if normalize not in NORMALIZATIONS:
            raise ValueError(f"`normalize` must be one of {NORMALIZATIONS}, got {normalize!r}.")
        if virtual_lr is not None and not float(virtual_lr) > 0:
            raise ValueError(f"`virtual_lr` must be > 0 or None, got {virtual_lr!r}.")
        super().__init__(model, **kwargs)
        self.weighting_network = weighting_network
        self.meta_optimizer = (
            default_meta_optimizer()
            if meta_optimizer is None
            else keras.optimizers.get(meta_optimizer)
        )
        self.meta_loss = meta_loss
        self.virtual_lr = None if virtual_lr is None else float(virtual_lr)
        self.normalize = normalize
        self.meta_training = bool(meta_training)
        self.from_logits = from_logits
        self.meta_loss_tracker = keras.metrics.Mean(name="meta_loss")
        self.weight_tracker = keras.metrics.Mean(name="mean_weight")
        # Build the meta optimizer now (inside the strategy scope when there
        # is one), so that its slots exist before tracing and are saved.
        self.meta_optimizer.build(self.weighting_network.trainable_variables)
        self.built = True

    # -- Keras plumbing -----------------------------------------------------

    def call(self, inputs, training=None):
        if isinstance(inputs, dict) and META_X in inputs:
            inputs = inputs[TRAIN_X]
        return self.model(inputs, training=training)

    def _resolved_from_logits(self):
        if self.from_logits is not None:
            return bool(self.from_logits)
        loss = getattr(self, "loss", None)
        if isinstance(loss, str):
            loss = keras.losses.get(loss)
        if isinstance(loss, keras.losses.Loss):
            return bool(loss.get_config().get("from_logits", False))
        return False

    def loss_functions(self):
        """``(train_loss_fn, meta_loss_fn)``, each ``fn(y_true, y_pred) -> (B,)``."""
        train_loss = unreduced_loss(getattr(self, "loss", None))
        if self.meta_loss == "ce":
            meta_loss = train_loss
        elif self.meta_loss == "mae":
            from_logits = self._resolved_from_logits()

            def meta_loss(y_true, y_pred):
                probs = ops.softmax(y_pred, axis=-1) if from_logits else y_pred
                return mae_probability_loss(y_true, probs)
        else:
            user_fn = self.meta_loss

            def meta_loss(y_true, y_pred):
                return ops.reshape(user_fn(y_true, y_pred), (-1,))

        return train_loss, meta_loss

    def net_weights(self, losses, training=False):
        """Weighting-network outputs ``v = W(l)`` for a ``(B,)`` loss vector."""
        losses = ops.reshape(ops.stop_gradient(ops.convert_to_tensor(losses)), (-1, 1))
        return ops.reshape(self.weighting_network(losses, training=training), (-1,))

    # -- training step --------------------------------------------------------

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not (isinstance(x, dict) and META_X in x and META_Y in x):
            raise ValueError(
                "MetaWeightNet.fit needs a meta batch with every training batch. Build the "
                "training dataset with keras_mr.meta.meta_data.with_meta_batches(train_ds, "
                "keras_mr.meta.meta_data.meta_dataset(x_meta, y_meta, batch_size=...))."
            )
        x_meta, y_meta, x = x[META_X], x[META_Y], x[TRAIN_X]
        # MRSampleWeighter(loss_source="train") packs the example index with
        # the weight; the per-example losses of this step are handed back.
        sample_weight, index = self.unpack_sample_weight(sample_weight)

        step = bilevel_step(self, x, y, sample_weight, x_meta, y_meta)
        record_example_losses(self, index, ops.stop_gradient(step.losses))
        self.meta_loss_tracker.update_state(all_sum(step.meta_loss))
        self.weight_tracker.update_state(all_sum(ops.sum(step.weights)) / step.batch)
        return self.update_metrics(all_sum(step.loss), y, step.y_pred, batch_size=1.0)

    def meta_gradients(self, x, y, x_meta, y_meta, sample_weight=None):
        """Meta loss at ``w_hat`` and its gradient w.r.t. the weighting network.

        Runs steps 1-2 of :meth:`train_step` without applying anything (the
        classifier's batch-norm statistics may be updated by its training-mode
        forward pass).  Useful for checks and research.

        Args:
            x, y: training batch.
            x_meta, y_meta: meta batch.
            sample_weight: optional MR / user weights of the training batch.

        Returns:
            ``(meta_loss, grads)``: scalar and list aligned with
            ``weighting_network.trainable_variables``.
        """
        step = virtual_and_meta_step(self, x, y, sample_weight, x_meta, y_meta)
        return step.meta_loss, step.meta_grads

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict) and META_X in x:
            x = x[TRAIN_X]
        sample_weight, _ = self.unpack_sample_weight(sample_weight)
        y_pred = self.model(x, training=False)
        losses = ops.reshape(unreduced_loss(self.loss)(y, y_pred), (-1,))
        loss = (
            ops.mean(losses)
            if sample_weight is None
            else ops.mean(losses * ops.cast(ops.reshape(sample_weight, (-1,)), losses.dtype))
        )
        logs = self.update_metrics(loss, y, y_pred, sample_weight, batch_size=1.0)
        own = (self.meta_loss_tracker.name, self.weight_tracker.name)
        return {k: v for k, v in logs.items() if k not in own}

    # -- read-out -------------------------------------------------------------

    def example_weights(self, x, y, batch_size=256):
        """Weighting-network weight of every example, from its current loss.

        ``W(l_i(w))`` with the classifier in inference mode and *not*
        normalised: the RMNW paper uses this output as the probability that an
        example is clean (noisy-sample detection AUC, Table 3).

        Args:
            x: inputs (arrays).
            y: labels as used in training (the noisy ones).
            batch_size: batch size of the pass.

        Returns:
            NumPy array ``(N,)``.
        """
        if int(batch_size) < 1:
            raise ValueError(f"`batch_size` must be >= 1, got {batch_size}.")
        y_pred = self.model.predict(x, batch_size=batch_size, verbose=0)
        loss_fn = unreduced_loss(getattr(self, "loss", None))
        y = np.asarray(y)
        out = []
        for start in range(0, len(y), int(batch_size)):
            sl = slice(start, start + int(batch_size))
            losses = loss_fn(y[sl], y_pred[sl])
            out.append(ops.convert_to_numpy(self.net_weights(losses)))
        return np.concatenate(out) if out else np.zeros((0,), dtype="float32")

    def weight_function(self, losses):
        """The learned weighting function evaluated on given loss values (NumPy)."""
        losses = np.asarray(losses, dtype="float32").reshape(-1)
        return ops.convert_to_numpy(self.net_weights(losses))

    # -- serialization ----------------------------------------------------------

    def get_config(self):
        return {
            **super().get_config(),
            "weighting_network": keras.saving.serialize_keras_object(self.weighting_network),
            "meta_optimizer": keras.saving.serialize_keras_object(self.meta_optimizer),
            "meta_loss": (
                self.meta_loss
                if isinstance(self.meta_loss, str)
                else keras.saving.serialize_keras_object(self.meta_loss)
            ),
            "virtual_lr": self.virtual_lr,
            "normalize": self.normalize,
            "meta_training": self.meta_training,
            "from_logits": self.from_logits,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("weighting_network", "meta_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        if not isinstance(config.get("meta_loss"), str):
            config["meta_loss"] = keras.saving.deserialize_keras_object(config["meta_loss"])
        return super().from_config(config, custom_objects=custom_objects)

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

from keras_mr._internal.backend import require_tensorflow
from keras_mr.meta.meta_data import META_X
from keras_mr.meta.meta_data import META_Y
from keras_mr.meta.meta_data import TRAIN_X
from keras_mr.pipeline.per_example_loss import unreduced_loss
from keras_mr.pipeline.training_losses import record_training_losses
from keras_mr.pipeline.training_losses import unpack_sample_weight

_NORMALIZATIONS = ("sum", "none")


# ---------------------------------------------------------------------------
# Pure functions
# ---------------------------------------------------------------------------


def _one_hot_like(y_true, num_classes, dtype):
    y = ops.convert_to_tensor(y_true)
    if len(y.shape) >= 2 and y.shape[-1] == num_classes and num_classes != 1:
        return ops.cast(y, dtype)
    y = ops.reshape(y, (-1,))
    return ops.one_hot(ops.cast(y, "int32"), num_classes, dtype=dtype)


def mae_probability_loss(y_true, probabilities):
    """Per-example MAE between predicted probabilities and one-hot labels.

    ``l_MAE(y, u) = sum_k |u_k - y_k|`` (RMNW paper, section 3).  It is
    symmetric: ``sum_c l_MAE(c, u) = 2 (K - 1)`` for any probability vector
    ``u``, which is what makes its expected gradient under uniform label noise
    proportional to the clean one (Theorem 1).

    Args:
        y_true: ``(B,)`` integer labels or ``(B, K)`` one-hot labels.
        probabilities: ``(B, K)`` probabilities (rows on the simplex).

    Returns:
        ``(B,)`` tensor of losses in ``[0, 2]``.

    Example:

    >>> mae_probability_loss(np.array([0]), np.array([[0.75, 0.25]]))  # 0.5
    """
    u = ops.convert_to_tensor(probabilities)
    onehot = _one_hot_like(y_true, u.shape[-1], u.dtype)
    return ops.sum(ops.abs(u - onehot), axis=-1)


def combine_weights(
    net_weights, sample_weight=None, normalize="sum", weight_sum=None, batch_size=None
):
    """Per-example loss coefficients of the weighted training loss.

    The training loss of one step is ``sum_i c_i l_i / B``.  The weight of
    example ``i`` is the weighting-network output ``v_i`` times its MR weight
    ``m_i`` (the pipeline's ``sample_weight``, 1 when absent): following the MR
    paper, MR acts only on the noisy training part of MW-Net, never on the
    meta set.

    - ``normalize="sum"`` (default, like the reference MW-Net code):
      ``c_i = B v_i m_i / sum_j v_j m_j``, i.e. the loss is
      ``sum_i v_i m_i l_i / sum_j v_j m_j``.  A batch whose weights are all
      zero gets ``c = 0`` (no update) instead of a division by zero.
    - ``normalize="none"`` (the equations of the RMNW paper):
      ``c_i = v_i m_i`` so the loss is ``(1/n) sum_i W(l_i) l_i``.

    Args:
        net_weights: ``(B,)`` weighting-network outputs ``v``.
        sample_weight: optional ``(B,)`` MR / user weights ``m``.
        normalize: ``"sum"`` or ``"none"``.
        weight_sum: total ``sum_j v_j m_j`` over the *global* batch, when it
            differs from the local sum (``tf.distribute``); default local sum.
        batch_size: global batch size ``B``; default local batch size.

    Returns:
        ``(B,)`` coefficients ``c``.
    """
    if normalize not in _NORMALIZATIONS:
        raise ValueError(f"`normalize` must be one of {_NORMALIZATIONS}, got {normalize!r}.")
    v = ops.reshape(ops.convert_to_tensor(net_weights), (-1,))
    if sample_weight is not None:
        v = v * ops.cast(ops.reshape(sample_weight, (-1,)), v.dtype)
    if normalize == "none":
        return v
    if batch_size is None:
        batch_size = ops.shape(v)[0]
    batch_size = ops.cast(batch_size, v.dtype)
    total = ops.sum(v) if weight_sum is None else ops.cast(weight_sum, v.dtype)
    safe_total = ops.where(total > 0, total, ops.ones_like(total))
    return ops.where(total > 0, v * batch_size / safe_total, ops.zeros_like(v))


def build_weighting_network(hidden_units=100, name="weighting_network"):
    """The default MW-Net weighting network: loss -> weight in (0, 1).

    A 1-``hidden_units``-1 MLP with ReLU and a sigmoid output, as in MW-Net
    and the RMNW paper (one hidden layer with 100 units).  Its input is the
    per-example training loss, shape ``(B, 1)``.

    Args:
        hidden_units: width of the hidden layer.
        name: model name.

    Returns:
        A built ``keras.Sequential`` mapping ``(B, 1) -> (B, 1)``.
    """
    if int(hidden_units) < 1:
        raise ValueError(f"`hidden_units` must be >= 1, got {hidden_units}.")
    return keras.Sequential(
        [
            keras.Input(shape=(1,)),
            keras.layers.Dense(int(hidden_units), activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="weight"),
        ],
        name=name,
    )


def default_meta_optimizer():
    """Adam, learning rate 1e-3, weight decay 5e-4 (the papers' weighting-net settings).

    Keras' ``weight_decay`` is decoupled (AdamW-style), whereas the PyTorch
    reference code adds an L2 term to the gradient; with these tiny values the
    difference is immaterial.
    """
    return keras.optimizers.Adam(learning_rate=1e-3, weight_decay=5e-4)


# ---------------------------------------------------------------------------
# Keras model
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="keras_mr")
class MetaWeightNet(keras.Model):
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
        classifier: a built Keras model mapping ``x`` to class scores.
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

    >>> split = keras_mr.meta.meta_data.split_meta_set(x, y_noisy, size=1000, seed=0)
    >>> model = keras_mr.MetaWeightNet(classifier, meta_loss="mae")  # RMNW-Net
    >>> model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
    ...               loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ...               metrics=["accuracy"])
    >>> train = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train)).batch(100)
    >>> ds = keras_mr.meta.meta_data.with_meta_batches(
    ...     train, keras_mr.meta.meta_data.meta_dataset(split.x_meta, split.y_meta, batch_size=100))
    >>> model.fit(ds, epochs=10, shuffle=False)
    >>> v = model.example_weights(split.x_train, split.y_train)  # detection scores
    """

    # Records its per-example training losses for MRSampleWeighter(loss_source="train").
    records_training_losses = True

    def __init__(
        self,
        classifier,
        weighting_network=None,
        meta_optimizer=None,
        meta_loss="mae",
        virtual_lr=None,
        normalize="sum",
        meta_training=True,
        from_logits=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(classifier, keras.Model):
            raise TypeError(f"`classifier` must be a keras.Model, got {type(classifier).__name__}.")
        if not classifier.built:
            raise ValueError(
                "`classifier` must be built (give it an Input layer or call it once on data) so "
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
        if normalize not in _NORMALIZATIONS:
            raise ValueError(f"`normalize` must be one of {_NORMALIZATIONS}, got {normalize!r}.")
        if virtual_lr is not None and not float(virtual_lr) > 0:
            raise ValueError(f"`virtual_lr` must be > 0 or None, got {virtual_lr!r}.")
        self.classifier = classifier
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
        self.loss_tracker = keras.metrics.Mean(name="loss")
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
        return self.classifier(inputs, training=training)

    @property
    def metrics(self):
        metrics = [self.loss_tracker, self.meta_loss_tracker, self.weight_tracker]
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            metrics.append(compiled)
        return metrics

    def _resolved_from_logits(self):
        if self.from_logits is not None:
            return bool(self.from_logits)
        loss = getattr(self, "loss", None)
        if isinstance(loss, str):
            loss = keras.losses.get(loss)
        if isinstance(loss, keras.losses.Loss):
            return bool(loss.get_config().get("from_logits", False))
        return False

    def _loss_functions(self):
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
        sample_weight, index = unpack_sample_weight(sample_weight)

        # Steps 1-2: virtual step and meta gradient.
        terms = self._virtual_and_meta(x, y, sample_weight, x_meta, y_meta)
        tvars = self.weighting_network.trainable_variables
        self.meta_optimizer.apply_gradients(zip(terms["meta_grads"], tvars))

        # Step 3: real step with the updated weighting network, reusing the
        # recorded forward pass (the losses are those at w_t).
        tape, losses, all_sum = terms["tape"], terms["losses"], terms["all_sum"]
        batch, reg = terms["batch"], terms["reg"]
        cvars = self.classifier.trainable_variables
        v_new = self.net_weights(losses, training=False)
        c_new = ops.stop_gradient(self._coefficients(v_new, sample_weight, batch, all_sum))
        with tape:
            loss = ops.sum(c_new * losses) / batch + reg
            scaled = self.optimizer.scale_loss(loss)
        grads = tape.gradient(scaled, cvars)
        del tape
        self.optimizer.apply_gradients(zip(grads, cvars))

        y_pred = terms["y_pred"]
        record_training_losses(self, index, ops.stop_gradient(losses))
        self.loss_tracker.update_state(all_sum(loss))
        self.meta_loss_tracker.update_state(all_sum(terms["meta_loss"]))
        self.weight_tracker.update_state(all_sum(ops.sum(v_new)) / batch)
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            compiled.update_state(y, y_pred)
        return self.get_metrics_result()

    def _virtual_and_meta(self, x, y, sample_weight, x_meta, y_meta):
        """Steps 1 and 2: virtual step and meta gradient (TensorFlow backend).

        Returns a dict with the persistent ``tape`` that recorded the training
        forward pass (reused by the real step), ``losses``, ``y_pred``, the
        global ``batch`` size, ``reg``, ``meta_loss``, ``meta_grads`` and the
        ``all_sum`` reducer.
        """
        tf = require_tensorflow("MetaWeightNet's training step", backend=True)

        strategy = tf.distribute.get_strategy()
        replicas = strategy.num_replicas_in_sync

        def all_sum(value):
            if replicas == 1:
                return value
            return tf.distribute.get_replica_context().all_reduce("SUM", value)

        train_loss_fn, meta_loss_fn = self._loss_functions()
        cvars = self.classifier.trainable_variables
        tvars = self.weighting_network.trainable_variables
        non_trainable = [v.value for v in self.classifier.non_trainable_variables]
        alpha = self.virtual_lr if self.virtual_lr is not None else self.optimizer.learning_rate

        with tf.GradientTape() as meta_tape:
            with tf.GradientTape(persistent=True) as tape:
                y_pred = self.classifier(x, training=True)
                losses = ops.reshape(train_loss_fn(y, y_pred), (-1,))
                dtype = losses.dtype
                batch = all_sum(ops.cast(ops.shape(losses)[0], dtype))
                reg = self._regularization(dtype) / replicas
                v = self.net_weights(losses, training=True)
                c = self._coefficients(v, sample_weight, batch, all_sum)
                virtual_loss = ops.sum(c * losses) / batch + reg
            grads = all_sum(tape.gradient(virtual_loss, cvars))
            w_hat = [w.value - ops.cast(alpha, w.dtype) * g for w, g in zip(cvars, grads)]
            meta_pred, _ = self.classifier.stateless_call(
                w_hat, non_trainable, x_meta, training=self.meta_training
            )
            meta_losses = ops.reshape(meta_loss_fn(y_meta, meta_pred), (-1,))
            meta_batch = all_sum(ops.cast(ops.shape(meta_losses)[0], meta_losses.dtype))
            meta_loss = ops.sum(meta_losses) / meta_batch
        meta_grads = meta_tape.gradient(meta_loss, tvars)
        return {
            "tape": tape,
            "losses": losses,
            "y_pred": y_pred,
            "batch": batch,
            "reg": reg,
            "meta_loss": meta_loss,
            "meta_grads": meta_grads,
            "all_sum": all_sum,
        }

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
        terms = self._virtual_and_meta(x, y, sample_weight, x_meta, y_meta)
        del terms["tape"]
        return terms["meta_loss"], terms["meta_grads"]

    def _coefficients(self, v, sample_weight, batch, all_sum):
        if self.normalize == "none":
            return combine_weights(v, sample_weight, normalize="none")
        raw = (
            v if sample_weight is None else v * ops.cast(ops.reshape(sample_weight, (-1,)), v.dtype)
        )
        return combine_weights(raw, None, "sum", weight_sum=all_sum(ops.sum(raw)), batch_size=batch)

    def _regularization(self, dtype):
        losses = self.classifier.losses
        if not losses:
            return ops.zeros((), dtype=dtype)
        return ops.cast(ops.sum(ops.stack([ops.cast(term, dtype) for term in losses])), dtype)

    def test_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, dict) and META_X in x:
            x = x[TRAIN_X]
        sample_weight, _ = unpack_sample_weight(sample_weight)
        y_pred = self.classifier(x, training=False)
        losses = ops.reshape(unreduced_loss(self.loss)(y, y_pred), (-1,))
        loss = (
            ops.mean(losses)
            if sample_weight is None
            else ops.mean(losses * ops.cast(ops.reshape(sample_weight, (-1,)), losses.dtype))
        )
        self.loss_tracker.update_state(loss)
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            compiled.update_state(y, y_pred, sample_weight=sample_weight)
        logs = {"loss": self.loss_tracker.result()}
        if compiled is not None:
            logs.update(compiled.result())
        return logs

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
        y_pred = self.classifier.predict(x, batch_size=batch_size, verbose=0)
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
        config = {
            "name": self.name,
            "classifier": keras.saving.serialize_keras_object(self.classifier),
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
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("classifier", "weighting_network", "meta_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        if not isinstance(config.get("meta_loss"), str):
            config["meta_loss"] = keras.saving.deserialize_keras_object(config["meta_loss"])
        return cls(**config)


MetaWeightNetModel = MetaWeightNet

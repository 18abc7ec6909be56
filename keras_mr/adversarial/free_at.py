"""Free adversarial training (Shafahi et al., 2019) as a Keras model wrapper."""

import inspect

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr._internal.distribution import num_replicas
from keras_mr.adversarial import attacks
from keras_mr.adversarial.base import AdversarialModel
from keras_mr.adversarial.losses import per_example_cross_entropy
from keras_mr.pipeline.weighted_loss import weighted_mean

_VARIABLE_HAS_SYNCHRONIZATION = (
    "synchronization" in inspect.signature(keras.Variable.__init__).parameters
)


@keras.saving.register_keras_serializable(package="keras_mr")
class FreeAdversarialModel(AdversarialModel):
    """ "Adversarial training for free!" (Shafahi et al.), with MR weights.

    Algorithm (the paper's Algorithm 1, L-inf, ``step_size = eps``): a
    perturbation ``delta`` (initialised to 0) persists across mini-batches.
    For each mini-batch, repeated ``m`` times ("replays"):

    1. ``x_adv = clip(x + delta, clip_min, clip_max)``;
    2. one backward pass gives both the parameter gradient and the input
       gradient ``g`` of the (weighted) loss at ``x_adv``;
    3. the parameters are updated with the optimizer;
    4. ``delta <- Proj_eps(delta + step_size * sign(g))`` (L2:
       normalised ``g``).

    **Keras mapping.**  The ``m`` replays happen inside one ``train_step``
    (``m`` optimizer updates per batch; ``optimizer.iterations`` grows by
    ``m``).  As in the paper, divide the epoch budget by ``m``:
    ``model.fit(ds, epochs=free_epochs(E, m))``.  ``delta`` lives in a
    non-trainable variable of shape ``(batch_size,) + input_shape[1:]``; a
    smaller (last) batch uses and updates the first rows.  Under
    ``tf.distribute`` the variable is replica-local (``on_read``), each
    replica keeping the perturbation of its own share of the batch.  The
    variable is saved with the weights; :meth:`reset_perturbation` zeroes it.

    **Sample weights.**  The parameter update uses ``mean(w * CE)``.  The
    input gradient comes from the same backward pass (that is what makes
    it free); positive weights only rescale it, which ``sign`` (and the L2
    normalisation) ignores, and a zero-weight example keeps its previous
    perturbation.

    **MR's adversarial loss pass** (``mr_loss="adversarial"`` or
    ``per_example_loss(..., adversarial=True)``) uses a PGD attack with
    ``eval_steps`` steps (default 10, step ``2.5 * eps / eval_steps``),
    since the persistent ``delta`` belongs to other batches.

    Args:
        model: Keras model mapping inputs to logits ``(B, C)``.
        batch_size: the (global) training batch size (sizes ``delta``).
        threat_model: a :class:`~keras_mr.adversarial.threat_model.ThreatModel` (``eps``,
            ``norm``, valid input range); default ``ThreatModel()``: L-inf, ``eps = 8/255``,
            inputs in ``[0, 1]``.
        replays: ``m``, replays per mini-batch (default 4; the MR paper uses
            4 on CIFAR-10 and 6 on CIFAR-100).
        step_size: perturbation step, default ``eps`` (as in the paper).
        mr_loss: ``"natural"`` (default) or ``"adversarial"``.
        eval_steps: PGD steps for the adversarial MR loss pass.
        seed: seed for PGD random starts in that pass.
        input_shape: full input shape ``(None, ...)``; needed only when the
            inner model was not built with ``keras.Input`` (otherwise read
            from ``model.input_shape``) and ``fit`` gets neither arrays nor a
            batched ``tf.data.Dataset`` (from which it is read).
        **kwargs: ``natural_metrics`` (see :class:`AdversarialModel`), the rest to
            ``keras.Model``.

    Example:

    ```python
    threat = keras_mr.adversarial.ThreatModel(eps=8 / 255)
    model = keras_mr.FreeAdversarialModel(inner, batch_size=128, threat_model=threat,
                                          replays=4)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    model.fit(x, y, batch_size=128, epochs=keras_mr.free_epochs(200, 4))
    ```
    """

    def __init__(
        self,
        model,
        batch_size,
        threat_model=None,
        replays=4,
        step_size=None,
        mr_loss="natural",
        eval_steps=10,
        seed=None,
        input_shape=None,
        **kwargs,
    ):
        super().__init__(
            model,
            threat_model,
            mr_loss=mr_loss,
            attack_steps=eval_steps,
            random_start=True,
            seed=seed,
            **kwargs,
        )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                "`batch_size` must be the int training batch size (it sizes "
                f"the persistent perturbation), got {batch_size!r}."
            )
        if isinstance(replays, bool) or not isinstance(replays, int) or replays < 1:
            raise ValueError(f"`replays` must be an int >= 1, got {replays!r}.")
        self.batch_size = batch_size
        self.replays = replays
        self.free_step_size = (
            self.eps if step_size is None else attacks.check_eps(step_size, "step_size")
        )
        self._free_step_given = step_size
        self.perturbation = None
        if input_shape is None:
            try:
                input_shape = tuple(model.input_shape)
            except (AttributeError, ValueError):
                input_shape = None
        if input_shape is not None and all(d is not None for d in input_shape[1:]):
            self._make_perturbation(input_shape)

    def _make_perturbation(self, input_shape):
        if self.perturbation is not None:
            return
        if not isinstance(input_shape, (tuple, list)) or any(d is None for d in input_shape[1:]):
            raise ValueError(
                "FreeAdversarialModel needs the full input shape to size its "
                f"persistent perturbation, got {input_shape!r}: pass "
                "`input_shape=(None, ...)` or an inner model built with "
                "`keras.Input`."
            )
        shape = (self.batch_size,) + tuple(int(d) for d in input_shape[1:])
        kwargs = {}
        if _VARIABLE_HAS_SYNCHRONIZATION:  # Keras >= 3.9; 3.8 has no `synchronization=`
            kwargs["synchronization"] = "on_read"
        kwargs.update(trainable=False, aggregation="only_first_replica")
        self.perturbation = keras.Variable(
            initializer="zeros", shape=shape, dtype="float32", name="free_at_perturbation", **kwargs
        )

    def build(self, input_shape):
        self._make_perturbation(tuple(input_shape))
        super().build(input_shape)

    def fit(self, x=None, y=None, *args, **kwargs):
        """``keras.Model.fit``; sizes the perturbation from the data first.

        Only needed when the inner model has no known input shape (e.g. a
        subclassed model): the shape is read from ``x`` (array/tensor) or
        from a *batched* ``tf.data.Dataset``'s ``element_spec``.
        """
        if self.perturbation is None:
            shape = _infer_input_shape(x)
            if shape is not None:
                require_tensorflow(f"{type(self).__name__}'s training step", backend=True)
                with self.distribute_strategy.scope():
                    self._make_perturbation(shape)
        return super().fit(x, y, *args, **kwargs)

    def reset_perturbation(self):
        """Sets the persistent perturbation to zero."""
        if self.perturbation is not None:
            self.perturbation.assign(ops.zeros_like(self.perturbation))

    def train_step(self, data):
        tf = require_tensorflow(f"{type(self).__name__}'s training step", backend=True)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, index = self.unpack_sample_weight(sample_weight)
        x = tf.cast(x, "float32")
        if not _VARIABLE_HAS_SYNCHRONIZATION and num_replicas() > 1:
            raise RuntimeError(
                "FreeAdversarialModel under tf.distribute needs Keras >= 3.9: its persistent "
                "perturbation must be replica-local (a variable with synchronization='on_read'), "
                f"which Keras {keras.__version__} cannot create, so the replicas would share one "
                "perturbation and train differently from one device. Upgrade Keras, or train "
                "Free AT without a multi-replica strategy."
            )
        if self.perturbation is None:
            raise ValueError(
                "FreeAdversarialModel's perturbation is not created yet: "
                "build the inner model with `keras.Input`, pass "
                "`input_shape=(None, ...)`, or call `model.build(shape)` "
                "before `fit`."
            )
        b = tf.shape(x)[0]
        full = tf.convert_to_tensor(self.perturbation.value)
        delta = full[:b]
        nat_logits = self.natural_logits(x)
        for _ in range(self.replays):
            x_adv = attacks.clip_to_range(x + delta, self.clip_min, self.clip_max)
            with tf.GradientTape() as tape:
                tape.watch(x_adv)
                adv_logits = self._logits(x_adv, training=True)
                per_example = per_example_cross_entropy(y, adv_logits)
                loss = weighted_mean(per_example, sample_weight)
            (grad_x,) = self.apply_gradients(tape, loss, extra_sources=[x_adv])
            step = attacks.steepest_ascent_direction(grad_x, self.norm)
            delta = attacks.project_lp_ball(
                delta + self.free_step_size * tf.cast(step, delta.dtype), self.eps, self.norm
            )
        self.perturbation.assign(tf.concat([delta, full[b:]], axis=0))
        return self._finish_step(index, per_example, loss, y, nat_logits, adv_logits)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "batch_size": self.batch_size,
                "replays": self.replays,
                "step_size": self._free_step_given,
                "eval_steps": self.attack_steps,
            }
        )
        return config


def _infer_input_shape(x):
    """``(None, ...)`` input shape from fit's ``x``, or ``None``."""
    shape = getattr(x, "shape", None)
    if shape is not None and not hasattr(x, "element_spec"):
        try:
            return (None,) + tuple(int(d) for d in tuple(shape)[1:])
        except (TypeError, ValueError):
            return None
    spec = getattr(x, "element_spec", None)
    if isinstance(spec, (tuple, list)):
        spec = spec[0]
    spec_shape = getattr(spec, "shape", None)
    if spec_shape is None or spec_shape.rank is None or spec_shape.rank < 2:
        return None
    if spec_shape[0] is not None:  # unbatched dataset: cannot tell
        return None
    dims = tuple(spec_shape)[1:]
    if any(d is None for d in dims):
        return None
    return (None,) + tuple(int(d) for d in dims)


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

"""WeighterState: a weighter's state as Keras variables saved with the model."""

import contextlib
import weakref

import keras
import numpy as np

from keras_mr._internal.keras_compat import model_side_state
from keras_mr._internal.keras_compat import set_tracked_attribute

# Key of {weighter name: weakref to weighter} of the weighters in a running fit(), in
# the model's side state.
_RUNNING_WEIGHTERS = "running_weighters"


class WeighterState(keras.layers.Layer):
    """Keras variables holding a weighter's state (saved with the model).

    All variables are float32 or int32, so the state can live on any device
    (TPUs have no float64).  Host-side arithmetic reads them as float64.

    Args:
        num_examples: ``N``.
        seed: initial shuffle seed.
        records_losses: also create the training-loss sums of
            ``loss_source="train"`` (:class:`keras_mr.pipeline.loss_recording.LossRecorder`).
    """

    def __init__(self, num_examples, seed=0, records_losses=False, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.num_examples = int(num_examples)
        self.records_losses = bool(records_losses)
        self._owner = None  # weakref to the weighter bound to this state
        n = (self.num_examples,)

        def var(name, shape=n, dtype="float32", aggregation="none"):
            return self.add_weight(
                shape=shape,
                initializer="zeros",
                trainable=False,
                name=name,
                dtype=dtype,
                aggregation=aggregation,
            )

        self.log_weights = var("log_weights")
        self.cumulative_loss = var("cumulative_loss")
        self.scaled_history = var("scaled_history")
        self.last_loss = var("last_loss")
        self.has_loss = var("has_loss")
        self.updates = var("updates", shape=(), dtype="int32")
        self.epochs_done = var("epochs_done", shape=(), dtype="int32")
        self.steps = var("steps", shape=(), dtype="int32")
        self.seed = var("seed", shape=(), dtype="int32")
        # eta="auto" / max_weight="auto" (keras_mr.mr.auto_tuning): the last eta, the
        # guiding noise rate, the mean loss of the first update and the number of
        # updates since the losses first showed two groups
        self.eta = var("eta", shape=())
        self.noise_rate = var("noise_rate", shape=())
        self.reference_loss = var("reference_loss", shape=())
        self.split_updates = var("split_updates", shape=(), dtype="int32")
        if self.records_losses:
            self.loss_sum = var("loss_sum", aggregation="sum")
            self.loss_count = var("loss_count", aggregation="sum")
        self.reset(seed)

    def reset(self, seed):
        """Uniform weights, no history, counters at zero."""
        n = self.num_examples
        self.log_weights.assign(np.full(n, -np.log(n), dtype=np.float32))
        for v in (self.cumulative_loss, self.scaled_history, self.last_loss, self.has_loss):
            v.assign(np.zeros(n, np.float32))
        for v in (self.updates, self.epochs_done, self.steps):
            v.assign(0)
        for v in (self.eta, self.noise_rate, self.reference_loss, self.split_updates):
            v.assign(0)
        self.seed.assign(int(seed))
        if self.records_losses:
            self.loss_sum.assign(np.zeros(n, np.float32))
            self.loss_count.assign(np.zeros(n, np.float32))

    def owner(self):
        """The weighter this state was last bound to in this process, or ``None``."""
        return None if self._owner is None else self._owner()

    def set_owner(self, weighter):
        """Records ``weighter`` (weakly) as the one this state is bound to."""
        self._owner = weakref.ref(weighter)

    def has_history(self):
        return int(self.updates.numpy()) > 0 or int(self.epochs_done.numpy()) > 0

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {
            **super().get_config(),
            "num_examples": self.num_examples,
            "records_losses": self.records_losses,
        }


def bind_weighter_state(weighter, model):
    """Finds or creates ``weighter``'s state on ``model`` and returns it.

    Applies the weighter's ``resume`` policy (see
    :class:`keras_mr.mr.sample_weighter.SampleWeighter`): state left by this weighter, or
    restored into it, is continued; another weighter's history is continued only with
    ``resume=True``; ``resume=False`` starts afresh.  New state is created in the model's
    distribution strategy scope and attached to the model as a tracked attribute
    (:func:`keras_mr._internal.keras_compat.set_tracked_attribute`, which lifts the lock
    Keras puts on a built subclassed model).

    Args:
        weighter: the attached ``SampleWeighter``.
        model: the Keras model.

    Returns:
        The :class:`WeighterState`.
    """
    attr = weighter.state_attribute
    state = getattr(model, attr, None)
    owner = None if state is None else state.owner()
    if state is not None and state.num_examples != weighter.num_examples:
        if weighter.resume is not False and state.has_history():
            raise ValueError(
                f"The model carries the state of a weighter named '{weighter.name}' for "
                f"{state.num_examples} examples, but {weighter.num_examples} were attached. "
                "Give this weighter another `name`, or pass `resume=False` to replace it."
            )
        state = None
    if state is not None and owner is not weighter:
        if weighter.resume is False:
            state.reset(weighter.shuffle_seed)
        elif weighter.resume == "auto" and state.has_history():
            raise ValueError(
                f"The model already carries the history of another weighter named "
                f"'{weighter.name}' ({int(state.updates.numpy())} updates). Pass "
                f"`{type(weighter).__name__}(..., resume=True)` to continue that history, "
                "`resume=False` to start from uniform weights, or give this weighter "
                "another `name`."
            )
    if state is None:
        strategy = getattr(model, "distribute_strategy", None)
        use_scope = keras.backend.backend() == "tensorflow" and strategy is not None
        with strategy.scope() if use_scope else contextlib.nullcontext():
            state = WeighterState(
                weighter.num_examples,
                seed=weighter.shuffle_seed,
                records_losses=weighter.records_losses,
                name=weighter.name,
            )
        set_tracked_attribute(model, attr, state)
    state.set_owner(weighter)
    return state


def claim_weighter_name(model, weighter):
    """Registers ``weighter`` as the running weighter of its name on ``model``.

    Raises:
        ValueError: another live weighter of the same name runs on ``model``.
    """
    active = model_side_state(model).setdefault(_RUNNING_WEIGHTERS, {})
    other = active.get(weighter.name)
    if other is not None and other() is not None and other() is not weighter:
        raise ValueError(
            f"Two weighters named '{weighter.name}' are attached to one model: give each "
            "a different `name=`."
        )
    active[weighter.name] = weakref.ref(weighter)


def release_weighter_name(model, weighter):
    """Undoes :func:`claim_weighter_name` (at the end of ``fit``)."""
    active = model_side_state(model).get(_RUNNING_WEIGHTERS, {})
    ref = active.get(weighter.name)
    if ref is not None and ref() is weighter:
        del active[weighter.name]

"""WeighterState: a weighter's state as Keras variables saved with the model."""

import keras
import numpy as np


class WeighterState(keras.layers.Layer):
    """Keras variables holding a weighter's state (saved with the model).

    All variables are float32 or int32, so the state can live on any device
    (TPUs have no float64).  Host-side arithmetic reads them as float64.

    Args:
        num_examples: ``N``.
        seed: initial shuffle seed.
        records_losses: also create the training-loss sums of
            ``loss_source="train"`` (:class:`keras_mr.pipeline.training_losses.LossRecorder`).
    """

    def __init__(self, num_examples, seed=0, records_losses=False, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.num_examples = int(num_examples)
        self.records_losses = bool(records_losses)
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
        self.seed.assign(int(seed))
        if self.records_losses:
            self.loss_sum.assign(np.zeros(n, np.float32))
            self.loss_count.assign(np.zeros(n, np.float32))

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


def attach_state_layer(model, attr, layer):
    """Sets ``model.<attr> = layer`` so that Keras tracks (and saves) the layer.

    Keras locks the state of a built subclassed model (Functional models stay
    open); a weighter attaches its state after the model was built when a
    ``tf.distribute`` strategy builds it before the callbacks run, or when the
    user called the model first.  The lock is lifted for this one attribute.
    """
    tracker = getattr(model, "_tracker", None)
    locked = bool(getattr(tracker, "locked", False))
    if locked:
        tracker.unlock()
    try:
        setattr(model, attr, layer)
    finally:
        if locked:
            tracker.lock()

"""Probes: training steps that do part of a method's work, to measure what it cannot avoid.

A row's *floor* (the lowest ratio a method can reach on this machine) is built from
probes timed in the same run as the method, e.g. ``1 + k g`` for an attack of ``k``
iterations, with ``g`` the marginal cost of one input-gradient pass
(:func:`keras_mr.benchmarking.timing.marginal`).
"""

import keras
from _rows import SPARSE
from keras import ops

import keras_mr

SPARSE_PER_EXAMPLE = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)


class Probe(keras.Model):
    """A training step that does one kind of work ``passes`` times on the wrapped network.

    Args:
        network: the Keras model (logits).
        kind: one of :data:`PROBE_KINDS`.
        passes: how many passes per step.
    """

    def __init__(self, network, kind, passes=1):
        super().__init__()
        if kind not in PROBE_KINDS:
            raise ValueError(f"`kind` must be one of {sorted(PROBE_KINDS)}, got {kind!r}.")
        self.network, self.kind, self.passes = network, kind, passes
        if kind == "bilevel_gradient":  # Meta-Weight-Net's default weighting network
            self.weighting = keras_mr.meta.weighting_network.build_weighting_network()

    def call(self, x, training=None):
        return self.network(x, training=training)

    def train_step(self, data):
        x, y = data[0], data[1]
        self.meta_batch = None
        if isinstance(x, dict):  # Meta-Weight-Net's batches: training and meta batch
            from keras_mr.meta import meta_weight_net as mwn

            self.meta_batch = (x[mwn.META_X], x[mwn.META_Y])
            x = x[mwn.TRAIN_X]
        total = ops.sum(ops.cast(y, "float32")) * 0.0
        for _ in range(self.passes):
            x, total = PROBE_KINDS[self.kind](self, x, y, total)
        return {"probe": total + ops.sum(x) * 0.0}

    def loss_of(self, x, y, variables=None, training=False):
        if variables is None:
            return ops.sum(SPARSE(y, self.network(x, training=training)))
        non_trainable = [v.value for v in self.network.non_trainable_variables]
        logits, _ = self.network.stateless_call(variables, non_trainable, x, training=training)
        return ops.sum(SPARSE(y, logits))

    def weights_of(self, losses):
        """The weighting network on ``(B,)`` losses (without gradient to the losses)."""
        return ops.reshape(self.weighting(ops.reshape(ops.stop_gradient(losses), (-1, 1))), (-1,))

    def update(self, grads):
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables))


def _empty(probe, x, y, total):
    """Reads the batch only: the fixed cost of a ``fit`` step."""
    return x, total


def _forward(probe, x, y, total):
    """One forward pass in inference mode."""
    return x, total + ops.sum(probe.network(x, training=False))


def _mix(probe, x, y, total):
    """Mixes the batch with a permutation of itself (a mixup of the inputs)."""
    partners = ops.flip(ops.arange(ops.shape(x)[0]), 0)
    return 0.7 * x + 0.3 * ops.take(x, partners, axis=0), total


def _input_gradient(probe, x, y, total):
    """One forward-backward w.r.t. the input and a sign step: an attack iteration."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = probe.loss_of(x, y)
    return x + 1e-3 * ops.sign(tape.gradient(loss, x)), total + loss


def _joint_gradient(probe, x, y, total):
    """A training step that also returns the input gradient (a Free AT replay)."""
    import tensorflow as tf

    variables = probe.network.trainable_variables
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = probe.loss_of(x, y, training=True)
    grads = tape.gradient(loss, variables + [x])
    probe.update(grads[:-1])
    return x + 1e-3 * ops.sign(grads[-1]), total + loss


def _bilevel_gradient(probe, x, y, total):
    """The derivative work of an exact Meta-Weight-Net step: the training forward, the
    weighting network ``W`` on the losses, the virtual gradient at ``w``, the meta
    forward-backward at ``w_hat = w - a g`` and back through the virtual gradient to
    ``W``'s parameters (second order), ``W`` applied again, the real step's backward of
    the first forward and the update (plain SGD steps for ``W``; no metrics).  Reads the
    same batches as ``MetaWeightNet`` (a training and a meta batch per step)."""
    import tensorflow as tf

    variables = probe.network.trainable_variables
    weighting = probe.weighting.trainable_variables
    with tf.GradientTape() as meta_tape:
        with tf.GradientTape(persistent=True) as tape:
            losses = SPARSE_PER_EXAMPLE(y, probe.network(x, training=True))
            c = probe.weights_of(losses)
            virtual = ops.mean(c * losses)
        grads = tape.gradient(virtual, variables)
        w_hat = [w.value - 1e-3 * g for w, g in zip(variables, grads)]
        meta_loss = probe.loss_of(*probe.meta_batch, w_hat, training=True)
    for v, g in zip(weighting, meta_tape.gradient(meta_loss, weighting)):
        v.assign_sub(1e-3 * g)
    c_new = ops.stop_gradient(probe.weights_of(losses))
    with tape:  # the real step: the first forward, differentiated again
        real = ops.mean(c_new * losses)
    probe.update(tape.gradient(real, variables))
    return x, total + meta_loss


PROBE_KINDS = {
    "empty": _empty,
    "forward": _forward,
    "mix": _mix,
    "input_gradient": _input_gradient,
    "joint_gradient": _joint_gradient,
    "bilevel_gradient": _bilevel_gradient,
}

"""The MR loss pass: per-example losses of the whole training set.

Algorithm 1 of the MR paper needs ``l_i(theta)`` for every training example
after each epoch ("an additional forward pass is performed at the end of each
epoch").  :class:`PerExampleLossPass` runs that pass over a batched
``(x, y, index)`` dataset:

- under TensorFlow, one ``tf.function`` (XLA-compiled when the model was
  compiled with ``jit_compile=True``) runs on every replica of the model's
  strategy; losses stay on the device as float32 and are copied to the host
  once, after the last batch (no per-batch host synchronisation);
- each batch carries its example indices, so the result does not depend on
  the order in which batches or replicas return their shares;
- integer labels are checked against the number of model outputs inside the
  same step (their min/max travel with the losses), so a label out of range
  raises a clear error instead of a silently wrong loss.
"""

import warnings

import keras
import numpy as np

from keras_mr._internal import processes
from keras_mr._internal.backend import require_tensorflow
from keras_mr.pipeline.indexed_data import is_tf_dataset
from keras_mr.pipeline.per_example_loss import check_label_range


def _sparse_label(y):
    """The label tensor when ``y`` is a single integer tensor, else ``None``."""
    if isinstance(y, (dict, list, tuple)):
        return None
    dtype = str(getattr(y, "dtype", ""))
    return y if "int" in dtype else None


class PerExampleLossPass:
    """Computes per-example losses over a batched ``(x, y, index)`` dataset.

    The compiled step is built once and reused for every update.

    Args:
        model: the Keras model.
        loss_fn: ``fn(model, x, y, training) -> (B,)`` from
            :func:`keras_mr.pipeline.per_example_loss.resolve_per_example_loss`.
        training: passed to the model call (``False``: inference mode).
    """

    def __init__(self, model, loss_fn, training=False):
        self.model = model
        self.loss_fn = loss_fn
        self.training = training
        self._step = None  # the TensorFlow pass's compiled step
        self._batch_fn = None  # the other backends' per-batch losses
        self._progbar = None

    def __call__(self, eval_dataset, num_examples, verbose=False):
        """Returns ``(losses, seen)``.

        With ``verbose`` a Keras progress bar ("MR loss pass") shows the pass.

        ``losses`` is float64 ``(N,)`` (host), the mean loss of each example over
        its occurrences in ``eval_dataset``; ``seen`` the boolean mask of
        examples that occurred.
        """
        self._progbar = _progbar(eval_dataset) if verbose else None
        idx, losses, label_range = self._run(eval_dataset)
        if label_range is not None:
            self._check_labels(*label_range)
        if idx.size and (idx.min() < 0 or idx.max() >= num_examples):
            bad = int(idx.max()) if idx.max() >= num_examples else int(idx.min())
            raise ValueError(
                f"Example index {bad} is outside [0, {num_examples}): the dataset's "
                f"indices do not match the {num_examples} examples the weighter was "
                "attached to."
            )
        sums = np.bincount(idx, weights=losses.astype(np.float64), minlength=num_examples)
        counts = np.bincount(idx, minlength=num_examples)
        seen = counts > 0
        return np.where(seen, sums / np.maximum(counts, 1), 0.0), seen

    def _check_labels(self, lo, hi):
        model = self.model
        out_shape = getattr(model, "output_shape", None) if model.built else None
        if isinstance(out_shape, tuple):
            check_label_range(np.array([lo, hi]), out_shape)

    # -------------------------------------------------------------- running
    def _run(self, eval_dataset):
        if keras.backend.backend() == "tensorflow" and is_tf_dataset(eval_dataset):
            return self._run_tf(eval_dataset)
        idx_parts, loss_parts, label_range = [], [], None
        # Several JAX processes: the dataset yields this process's rows; feed them as one
        # global batch and gather every process's losses.
        shard = getattr(eval_dataset, "shard", None)  # tf.data datasets have a method of that name
        if not isinstance(shard, processes.ProcessShard):
            shard = processes.process_shard()
        for x, y, idx in eval_dataset.as_numpy_iterator():
            xg, yg = processes.global_batch((x, y), shard)
            losses = keras.ops.reshape(self._batch_losses()(xg, yg), (-1,))
            idx_parts.append(np.asarray(idx).reshape(-1))
            # one process: the losses stay on the device until the pass ends
            loss_parts.append(losses if shard.count == 1 else processes.gather_rows(losses, shard))
            label_range = _widen_label_range(label_range, y)
            self._tick()
        if shard.count == 1 and loss_parts:
            loss_parts = [keras.ops.convert_to_numpy(keras.ops.concatenate(loss_parts, 0))]
        return _concat(idx_parts, np.int64), _concat(loss_parts, np.float32), label_range

    def _batch_losses(self):
        """``fn(x, y) -> (B,)`` for the non-TensorFlow pass: one compiled function on JAX.

        On JAX the model and loss run inside ``jax.jit`` with the variables passed in
        (``keras.StatelessScope``), compiled once per batch shape, as Keras compiles
        ``predict``; a loss function that cannot be traced (e.g. it converts to NumPy)
        runs eagerly instead, with a warning.  Other backends call it eagerly.
        """
        if self._batch_fn is None:
            self._batch_fn = self._eager_losses
            if keras.backend.backend() == "jax":
                self._batch_fn = _jax_compiled_losses(self)
        return self._batch_fn

    def run_eagerly_from_now(self):
        """Makes the rest of the pass compute batch losses eagerly; returns that function.

        Called by the JAX pass when ``jax.jit`` cannot trace the loss function.
        """
        self._batch_fn = self._eager_losses
        return self._batch_fn

    def _eager_losses(self, x, y):
        return self.loss_fn(self.model, x, y, self.training)

    def replica_fn(self, x, y, idx):
        """One batch on one replica: ``(index int32, loss float32, label min/max)``."""
        tf = require_tensorflow("The MR loss pass")

        losses = self.loss_fn(self.model, x, y, self.training)
        label = _sparse_label(y)
        if label is None:
            bounds = tf.zeros([0], tf.int32)
        else:
            flat = tf.cast(tf.reshape(label, [-1]), tf.int32)
            # An empty batch (a worker with no data left) gives (INT_MAX, INT_MIN):
            # neutral in the min/max taken over all batches.
            bounds = tf.stack([tf.reduce_min(flat), tf.reduce_max(flat)])
        return (
            tf.cast(tf.reshape(idx, [-1]), tf.int32),
            tf.cast(tf.reshape(losses, [-1]), tf.float32),
            bounds,
        )

    def _build_tf_step(self):
        tf = require_tensorflow("The MR loss pass")

        strategy = self.model.distribute_strategy
        replica_fn = self.replica_fn
        jit = bool(getattr(self.model, "jit_compile", False) is True)

        @tf.function(jit_compile=jit)
        def replica_step(x, y, idx):
            return replica_fn(x, y, idx)

        @tf.function
        def step(x, y, idx):
            # gather, not experimental_local_results: under MultiWorkerMirroredStrategy
            # every worker then gets every replica's share, its own and the others'.
            outs = strategy.run(replica_step, args=(x, y, idx))
            return [strategy.gather(o, axis=0) for o in outs]

        return step

    def _run_tf(self, eval_dataset):
        tf = require_tensorflow("The MR loss pass")

        strategy = self.model.distribute_strategy
        if self._step is None:
            self._step = self._build_tf_step()
        idx_parts, loss_parts, bound_parts = [], [], []
        try:
            for x, y, idx in strategy.experimental_distribute_dataset(eval_dataset):
                idx_r, loss_r, bounds_r = self._step(x, y, idx)
                idx_parts.append(idx_r)
                loss_parts.append(loss_r)
                bound_parts.append(bounds_r)
                self._tick()
        except tf.errors.InvalidArgumentError:
            # On CPU some losses reject bad labels inside the step (GPUs and
            # TPUs return NaN, caught by the bounds below): say why if we can.
            self._diagnose_labels(eval_dataset)
            raise
        if not idx_parts:
            return np.zeros(0, np.int64), np.zeros(0, np.float32), None
        with tf.device("/CPU:0"):
            idx = tf.concat([tf.identity(p) for p in idx_parts], 0).numpy().astype(np.int64)
            losses = tf.concat([tf.identity(p) for p in loss_parts], 0).numpy()
            bounds = tf.concat([tf.identity(p) for p in bound_parts], 0).numpy()
        label_range = None
        if bounds.size:
            bounds = bounds.reshape(-1, 2)
            label_range = (int(bounds[:, 0].min()), int(bounds[:, 1].max()))
        return idx, losses, label_range

    def _tick(self):
        if self._progbar is not None:
            self._progbar.add(1)

    def _diagnose_labels(self, eval_dataset):
        label_range = None
        for _, y, _ in eval_dataset.as_numpy_iterator():
            label_range = _widen_label_range(label_range, y)
        if label_range is not None:
            self._check_labels(*label_range)


def _jax_compiled_losses(loss_pass):
    """``fn(x, y)``: the loss pass's per-batch losses, traced and compiled by ``jax.jit``."""
    import jax

    model = loss_pass.model

    def pure(trainable, non_trainable, x, y):
        mapping = list(zip(model.trainable_variables, trainable))
        mapping += list(zip(model.non_trainable_variables, non_trainable))
        with keras.StatelessScope(state_mapping=mapping):
            return loss_pass.loss_fn(model, x, y, loss_pass.training)

    compiled = jax.jit(pure)
    untraceable = (
        jax.errors.ConcretizationTypeError,
        jax.errors.TracerArrayConversionError,
        jax.errors.TracerBoolConversionError,
        jax.errors.TracerIntegerConversionError,
    )

    def fn(x, y):
        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        try:
            return compiled(trainable, non_trainable, x, y)
        except untraceable as err:
            warnings.warn(
                "The MR loss pass could not compile the per-example loss with jax.jit "
                f"({type(err).__name__}); it runs eagerly, batch by batch (slower). Write "
                "`per_example_loss_fn` with keras.ops so that it can be traced.",
                stacklevel=2,
            )
            return loss_pass.run_eagerly_from_now()(x, y)

    return fn


def _widen_label_range(label_range, y):
    """``(min, max)`` of the integer labels seen so far, widened by batch ``y``."""
    label = _sparse_label(y)
    if label is None or not label.size:
        return label_range
    lo, hi = int(label.min()), int(label.max())
    if label_range is None:
        return lo, hi
    return min(label_range[0], lo), max(label_range[1], hi)


def _progbar(eval_dataset):
    card = int(eval_dataset.cardinality()) if hasattr(eval_dataset, "cardinality") else -1
    print("MR loss pass")
    return keras.utils.Progbar(card if card > 0 else None, unit_name="batch")


def _concat(parts, dtype):
    if not parts:
        return np.zeros(0, dtype)
    return np.concatenate(parts).astype(dtype)

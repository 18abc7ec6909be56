"""The MR loss pass (moved; rewritten below)."""

import numpy as np

import keras

from keras_mr.per_example_loss import check_label_range


class PerExampleLossPass:
    """Computes per-example losses over a batched ``(x, y, index)`` dataset.

    The compiled step (a ``tf.function`` under TensorFlow, run on every replica
    of the model's strategy) is built once and reused for every update.

    Args:
        model: the Keras model.
        loss_fn: from :func:`resolve_per_example_loss`.
        training: passed to the model call (``False``: inference mode).
    """

    def __init__(self, model, loss_fn, training=False):
        self.model = model
        self.loss_fn = loss_fn
        self.training = training
        self._step = None

    def __call__(self, eval_dataset, num_examples):
        """Returns ``(losses, seen)``.

        ``losses`` is float64 ``(N,)``, the mean loss of each example over its
        occurrences in ``eval_dataset``; ``seen`` the boolean mask of examples
        that occurred.
        """
        sums = np.zeros(num_examples, dtype=np.float64)
        counts = np.zeros(num_examples, dtype=np.int64)
        for idx, losses in self._iterate(eval_dataset):
            idx = np.asarray(idx, dtype=np.int64).reshape(-1)
            losses = np.asarray(losses, dtype=np.float64).reshape(-1)
            if idx.size and (idx.min() < 0 or idx.max() >= num_examples):
                bad = int(idx.max()) if idx.max() >= num_examples else int(idx.min())
                raise ValueError(
                    f"Example index {bad} is outside [0, {num_examples}): the dataset's "
                    f"indices do not match the {num_examples} examples the weighter was "
                    "attached to."
                )
            np.add.at(sums, idx, losses)
            np.add.at(counts, idx, 1)
        seen = counts > 0
        return np.where(seen, sums / np.maximum(counts, 1), 0.0), seen

    def _check_labels(self, y):
        model = self.model
        out_shape = getattr(model, "output_shape", None) if model.built else None
        if isinstance(out_shape, tuple) and not isinstance(y, (dict, list, tuple)):
            check_label_range(y, out_shape)

    def _iterate(self, eval_dataset):
        if keras.backend.backend() == "tensorflow":
            yield from self._iterate_tf(eval_dataset)
            return
        for x, y, idx in eval_dataset.as_numpy_iterator():
            self._check_labels(y)
            losses = self.loss_fn(self.model, x, y, self.training)
            yield idx, keras.ops.convert_to_numpy(losses)

    def _build_tf_step(self):
        import tensorflow as tf

        strategy = self.model.distribute_strategy

        def replica_fn(x, y, idx):
            losses = self.loss_fn(self.model, x, y, self.training)
            return tf.reshape(idx, [-1]), tf.reshape(tf.cast(losses, tf.float64), [-1])

        @tf.function
        def step(x, y, idx):
            idx_r, loss_r = strategy.run(replica_fn, args=(x, y, idx))
            return (
                strategy.experimental_local_results(idx_r),
                strategy.experimental_local_results(loss_r),
            )

        return step

    def _iterate_tf(self, eval_dataset):
        strategy = self.model.distribute_strategy
        if self._step is None:
            self._step = self._build_tf_step()
        for x, y, idx in strategy.experimental_distribute_dataset(eval_dataset):
            for y_local in strategy.experimental_local_results(y):
                if not isinstance(y_local, (dict, list, tuple)):
                    self._check_labels(y_local.numpy())
            idx_parts, loss_parts = self._step(x, y, idx)
            yield (
                np.concatenate([p.numpy() for p in idx_parts]),
                np.concatenate([p.numpy() for p in loss_parts]),
            )

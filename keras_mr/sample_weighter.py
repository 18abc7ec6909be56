"""Shared Keras glue of the per-example weighting callbacks.

:class:`SampleWeighter` owns everything that is not the weight rule itself:

- ``attach()`` builds the indexed ``tf.data`` pipeline whose batches carry the
  current weights (see :mod:`keras_mr.indexed_data`);
- the state (log-weights, loss history, counters) lives in Keras variables of
  a small layer attached to the model, so ``model.save_weights``,
  ``keras.callbacks.BackupAndRestore`` and ``ModelCheckpoint(save_weights_only)``
  save and restore it with the model;
- updates run after every epoch (or every ``update_every`` steps), write the
  new weights into the lookup table and add diagnostics to ``logs``;
- misuse (no ``attach()``, cached or repeated pipelines, index mismatches)
  raises a ``ValueError`` that says how to fix it.

Subclasses implement :meth:`SampleWeighter._new_log_weights`.
"""

import numpy as np

import keras

from keras_mr.indexed_data import check_indexed_spec
from keras_mr.indexed_data import dataset_size
from keras_mr.indexed_data import indexed_dataset
from keras_mr.indexed_data import is_batched_indexed
from keras_mr.indexed_data import make_weight_lookup
from keras_mr.per_example_loss import check_label_range
from keras_mr.weight_stats import weight_statistics


def _state_float_dtype():
    """float64 where the backend has it (JAX only with ``jax_enable_x64``)."""
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            return "float32"
    return "float64"


class WeighterState(keras.layers.Layer):
    """Keras variables holding a weighter's state (saved with the model).

    Args:
        num_examples: ``N``.
    """

    def __init__(self, num_examples, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.num_examples = int(num_examples)
        n = (self.num_examples,)
        float_dtype = _state_float_dtype()

        def var(name, shape=n, dtype=float_dtype):
            return self.add_weight(
                shape=shape, initializer="zeros", trainable=False, name=name, dtype=dtype
            )

        self.log_weights = var("log_weights")
        self.cumulative_loss = var("cumulative_loss")
        self.scaled_history = var("scaled_history")
        self.last_loss = var("last_loss")
        self.has_loss = var("has_loss")
        self.updates = var("updates", shape=(), dtype="int64")
        self.epochs_done = var("epochs_done", shape=(), dtype="int64")
        self.steps = var("steps", shape=(), dtype="int64")
        self.log_weights.assign(np.full(n, -np.log(self.num_examples)))

    def call(self, inputs):
        return inputs

    def get_config(self):
        return {**super().get_config(), "num_examples": self.num_examples}


class SampleWeighter(keras.callbacks.Callback):
    """Base class of callbacks that reweight training examples.

    Args:
        update_every: ``None`` (default) updates the weights after every epoch,
            an integer ``k`` every ``k`` training steps instead (e.g. half an
            epoch, as the MR paper does on Clothing1M).
        noise_mask: optional boolean array ``(N,)`` marking examples known to
            be mislabelled; adds ``<prefix>noisy_mass`` to the logs.
        name: name of the state layer attached to the model; give two
            weighters on one model different names.
        verbose: 1 prints one line per update.
    """

    log_prefix = "w_"
    needs_losses = False

    def __init__(self, update_every=None, noise_mask=None, name="sample_weighter", verbose=0):
        super().__init__()
        if update_every is not None and (
            isinstance(update_every, bool) or not isinstance(update_every, (int, np.integer))
            or update_every < 1
        ):
            raise ValueError(
                f"`update_every` must be None (once per epoch) or a positive number of steps, "
                f"got {update_every!r}."
            )
        self.update_every = None if update_every is None else int(update_every)
        self.noise_mask = None if noise_mask is None else np.asarray(noise_mask, dtype=bool)
        self.name = name
        self.verbose = verbose
        self.loss_source = "eval"
        self.num_examples = None
        self._table = None
        self._counter = None
        self._epoch = 0
        self._labels = None
        self._eval_dataset = None
        self._state = None
        self._last_stats = {}
        self._lookups_seen = 0
        self._steps_seen = 0

    # ------------------------------------------------------------------ data
    def attach(
        self,
        x,
        y=None,
        *,
        batch_size=None,
        shuffle=True,
        seed=None,
        augment=None,
        cache=False,
        eval_data=None,
        eval_batch_size=None,
        num_examples=None,
        drop_remainder=False,
    ):
        """Builds the training dataset whose batches carry the current weights.

        Args:
            x: training inputs (array or nested arrays, with ``y``), or a
                ``tf.data.Dataset`` of ``(x, y, index)``: *unbatched* (give
                ``batch_size``; it is shuffled, batched and augmented here) or
                already batched (then give ``eval_data`` for the loss pass).
            y: labels, when ``x`` is an array.
            batch_size: batch size of the training pipeline.
            shuffle: reshuffle every epoch (before batching and lookup).
            seed: shuffle seed.
            augment: optional ``fn(x_batch) -> x_batch`` applied to training
                batches only, before the weight lookup (e.g. a Keras
                preprocessing layer).  The loss pass sees un-augmented data.
            cache: cache the indexed examples (before shuffling and lookup).
            eval_data: unshuffled, un-augmented ``(x, y, index)`` view of the
                training set for the loss pass, batched or not.  Derived from
                ``x`` when ``x`` is arrays or an unbatched dataset.
            eval_batch_size: batch size of the loss pass (default
                ``batch_size``, or 256).
            num_examples: ``N``, when the dataset's size is unknown.
            drop_remainder: drop the last partial training batch (static
                batch shapes, e.g. for TPUs); the loss pass still sees every
                example.

        Returns:
            A batched ``tf.data.Dataset`` of ``(x, y, sample_weight)`` for
            ``model.fit``, weights rescaled to sum to the batch size.

        Example:

        >>> weighter = keras_mr.MRSampleWeighter(eta=0.01)
        >>> train_ds = weighter.attach(x_train, y_train, batch_size=128)
        >>> model.fit(train_ds, epochs=10, callbacks=[weighter])  # doctest: +SKIP
        """
        import tensorflow as tf

        self._labels = None
        if isinstance(x, tf.data.Dataset):
            if y is not None:
                raise ValueError(
                    "`y` must be None when `x` is a tf.data.Dataset of (x, y, index)."
                )
            base = x
            batched = batch_size is None
            check_indexed_spec(base.element_spec, batched=batched, arg_name="x")
        else:
            if batch_size is None:
                raise ValueError("`batch_size` is required when attaching arrays.")
            base = indexed_dataset(x, y)
            batched = False
            self._labels = y
            num_examples = len(y) if num_examples is None else num_examples

        if not batched:
            if batch_size is None or int(batch_size) < 1:
                raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}.")
            n = dataset_size(base, num_examples, "x")
            if cache:
                base = base.cache()
            train = base
            if shuffle:
                train = train.shuffle(n, seed=seed, reshuffle_each_iteration=True)
            train = train.batch(int(batch_size), drop_remainder=drop_remainder)
            if eval_data is None:
                eval_data = base
        else:
            train = base
            if eval_data is None and self.needs_losses and self.loss_source == "eval":
                raise ValueError(
                    "A batched dataset was attached, so the loss pass needs `eval_data`: the "
                    "same examples as (x, y, index), unshuffled and un-augmented. Or attach "
                    "the unbatched indexed dataset with `batch_size=`."
                )
            n = None if num_examples is None else int(num_examples)
        if augment is not None:
            if not callable(augment):
                raise TypeError(f"`augment` must be callable fn(x) -> x, got {augment!r}.")
            train = train.map(lambda xb, yb, ib: (augment(xb), yb, ib))

        if eval_data is not None:
            eval_batched = is_batched_indexed(eval_data.element_spec)
            check_indexed_spec(eval_data.element_spec, batched=eval_batched, arg_name="eval_data")
            if not eval_batched:
                if n is None:
                    n = dataset_size(eval_data, None, "eval_data")
                eval_data = eval_data.batch(int(eval_batch_size or batch_size or 256))
        if n is None:
            raise ValueError(
                "Cannot tell the number of training examples: pass `num_examples=N`."
            )
        if self.noise_mask is not None and self.noise_mask.shape != (n,):
            raise ValueError(
                f"`noise_mask` has shape {self.noise_mask.shape} but {n} examples were attached."
            )

        self.num_examples = n
        self._eval_dataset = eval_data
        with tf.init_scope(), tf.device("/CPU:0"):
            self._table = tf.Variable(tf.ones([n], tf.float32), trainable=False, name="weights")
            self._counter = tf.Variable(0, dtype=tf.int64, trainable=False, name="lookups")
        self._state = None
        lookup = make_weight_lookup(
            self._table, self._counter, pack_index=(self.loss_source == "train")
        )
        return train.map(lookup).prefetch(tf.data.AUTOTUNE)

    # ----------------------------------------------------------------- state
    @property
    def weights(self):
        """Current distribution ``p`` over the ``N`` examples (NumPy, sums to 1)."""
        self._require_attached()
        if self._state is None:
            return np.full(self.num_examples, 1.0 / self.num_examples)
        return np.exp(np.asarray(self._state.log_weights.numpy(), dtype=np.float64))

    @property
    def num_updates(self):
        """Number of weight updates done so far."""
        return 0 if self._state is None else int(self._state.updates.numpy())

    def _require_attached(self):
        if self._table is None:
            raise ValueError(
                f"{type(self).__name__} has no training data: build the training dataset with "
                "`train_ds = weighter.attach(x, y, batch_size=...)` and pass it to "
                "`model.fit(train_ds, callbacks=[weighter])`."
            )

    def _state_attr(self):
        return "_keras_mr_" + self.name

    def set_model(self, model):
        super().set_model(model)
        if self._table is not None:
            self._ensure_state()

    def _ensure_state(self):
        model = self.model
        attr = self._state_attr()
        state = getattr(model, attr, None)
        if state is None or state.num_examples != self.num_examples:
            strategy = getattr(model, "distribute_strategy", None)
            if keras.backend.backend() == "tensorflow" and strategy is not None:
                with strategy.scope():
                    state = WeighterState(self.num_examples, name=self.name)
            else:
                state = WeighterState(self.num_examples, name=self.name)
            setattr(model, attr, state)
        self._state = state
        self._create_extra_state()

    def _create_extra_state(self):
        pass

    # ------------------------------------------------------------ callbacks
    def on_train_begin(self, logs=None):
        self._require_attached()
        out_shape = getattr(self.model, "output_shape", None) if self.model.built else None
        if self._labels is not None and isinstance(out_shape, tuple):
            check_label_range(self._labels, out_shape)
        if self._state is None:
            self._ensure_state()
        self._lookups_seen = int(self._counter.numpy())
        self._steps_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        state = self._state
        # A backup taken before this callback's on_epoch_end (callback order)
        # lacks the last update: redo it from the restored model, which gives
        # exactly the update the interrupted run made.
        if self.update_every is None and int(state.epochs_done.numpy()) == epoch - 1 >= 0:
            self._update(epoch - 1)
        self._sync_table()

    def on_train_batch_end(self, batch, logs=None):
        self._steps_seen += 1
        if self.update_every is None:
            return
        state = self._state
        steps = int(state.steps.numpy()) + 1
        state.steps.assign(steps)
        if steps % self.update_every == 0:
            self._update(self._epoch)
            self._sync_table()

    def on_epoch_end(self, epoch, logs=None):
        self._check_pipeline()
        if self.update_every is None:
            self._update(epoch)
            self._state.epochs_done.assign(epoch + 1)
            self._sync_table()
        if logs is not None:
            logs.update({self.log_prefix + k: v for k, v in self._last_stats.items()})

    # --------------------------------------------------------------- update
    def _update(self, epoch):
        state = self._state
        index = int(state.updates.numpy())
        log_p = np.asarray(self._new_log_weights(index, epoch), dtype=np.float64)
        state.log_weights.assign(log_p)
        state.updates.assign(index + 1)
        p = np.exp(log_p)
        self._last_stats = weight_statistics(p, self.noise_mask)
        self._last_stats.update(self._extra_stats())
        if self.verbose:
            msg = ", ".join(f"{k}={v:.4g}" for k, v in self._last_stats.items())
            print(f"{type(self).__name__} update {index + 1}: {msg}")

    def _extra_stats(self):
        return {}

    def _new_log_weights(self, update_index, epoch):
        raise NotImplementedError

    def _sync_table(self):
        log_p = np.asarray(self._state.log_weights.numpy(), dtype=np.float64)
        relative = np.exp(log_p + np.log(self.num_examples)).astype(np.float32)
        self._table.assign(relative)

    def _check_pipeline(self):
        lookups = int(self._counter.numpy())
        new_lookups = lookups - self._lookups_seen
        steps = self._steps_seen
        self._lookups_seen = lookups
        self._steps_seen = 0
        if steps == 0:
            return
        if new_lookups == 0:
            raise ValueError(
                "No batch of this epoch went through the weight lookup: the dataset passed to "
                "fit() is not the one returned by `attach()`, or it was cached after attach() "
                "(then the weights are frozen). Apply cache()/shuffle() before attach() (or use "
                "attach(..., cache=True)) and pass attach()'s result to fit()."
            )
        if new_lookups > steps and self.update_every is None:
            raise ValueError(
                f"{new_lookups} batches were looked up for {steps} training steps this epoch: "
                "the pipeline was repeat()ed after attach() (or fit() was given a "
                "steps_per_epoch shorter than the dataset), so prefetched batches carry stale "
                "weights into the next epoch. Do not call repeat() on the dataset returned by "
                "attach() and let Keras iterate it once per epoch, or use `update_every=` steps."
            )

    # ---------------------------------------------------------------- config
    def get_config(self):
        return {
            "update_every": self.update_every,
            "noise_mask": None if self.noise_mask is None else self.noise_mask.tolist(),
            "name": self.name,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


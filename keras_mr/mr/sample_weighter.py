"""Shared Keras glue of the per-example weighting callbacks.

:class:`SampleWeighter` owns everything that is not the weight rule itself:

- ``attach()`` builds the indexed ``tf.data`` pipeline whose batches carry the
  current weights (see :mod:`keras_mr.pipeline.indexed_data`);
- the state (log-weights, loss history, counters, shuffle seed) lives in
  float32/int32 Keras variables of a small layer attached to the model, so
  ``model.save_weights``, ``keras.callbacks.BackupAndRestore`` and
  ``ModelCheckpoint(save_weights_only=True)`` save and restore it with the
  model, and a resumed run continues exactly (shuffle order included);
- updates run at the end of every epoch (or every ``update_every`` steps),
  write the new weights into the lookup table and add diagnostics to ``logs``;
- misuse raises a ``ValueError``/``TypeError`` that says how to fix it.

When the number of steps per epoch is known (always for data given to
``attach()`` unbatched), the end-of-epoch work runs in the ``on_train_batch_end``
of the epoch's last step, i.e. before any callback's ``on_epoch_end``: a
``BackupAndRestore`` or ``ModelCheckpoint`` anywhere in the callback list then
saves the updated state.

Subclasses implement :meth:`SampleWeighter._new_log_weights`.
"""

import keras
import numpy as np

from keras_mr._internal.keras_compat import sync_jax_state
from keras_mr.mr import fit_checks
from keras_mr.mr.weight_stats import normalized_weights
from keras_mr.mr.weight_stats import warn_if_collapsed
from keras_mr.mr.weight_stats import weight_statistics
from keras_mr.mr.weighter_state import bind_weighter_state
from keras_mr.mr.weighter_state import claim_weighter_name
from keras_mr.mr.weighter_state import release_weighter_name
from keras_mr.pipeline.per_example_loss import check_label_range


def check_weighter_arguments(update_every, resume, name):
    """Validates the constructor arguments shared by every weighter."""
    if update_every is not None and (
        isinstance(update_every, bool)
        or not isinstance(update_every, (int, np.integer))
        or update_every < 1
    ):
        raise ValueError(
            "`update_every` must be None (once per epoch) or a positive number of steps, "
            f"got {update_every!r}."
        )
    if resume is not True and resume is not False and resume != "auto":
        raise ValueError(f"`resume` must be 'auto', True or False, got {resume!r}.")
    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be a non-empty string, got {name!r}.")


def check_noise_mask(noise_mask, num_examples):
    """``noise_mask`` (if any) has one entry per attached example."""
    if noise_mask is not None and noise_mask.shape != (num_examples,):
        raise ValueError(
            f"`noise_mask` has shape {noise_mask.shape} but {num_examples} examples were attached."
        )


class SampleWeighter(keras.callbacks.Callback):
    """Base class of callbacks that reweight training examples.

    Args:
        update_every: ``None`` (default): update after every epoch; ``k``: every ``k``
            training steps (e.g. half an epoch, as the MR paper on Clothing1M), with
            ``k >= steps_per_execution``; ``S`` steps give ``floor(S / k)`` updates.
        noise_mask: optional boolean array ``(N,)`` marking examples known to
            be mislabelled; adds ``<prefix>noisy_mass`` to the logs.
        name: name of the state layer attached to the model; two weighters on
            one model need different names.
        resume: weighting state already on the model: ``"auto"`` (default)
            continues this weighter's own or restored state and raises a
            ``ValueError`` for another weighter's history or for ``fit`` starting at
            an epoch > 0 without history; ``True`` continues any state found;
            ``False`` starts from uniform weights.
        verbose: 1 prints one line per update.
    """

    log_prefix = "w_"
    # Overridden by weighters that need per-example losses (MRSampleWeighter).
    needs_eval_data = False
    records_losses = False

    def __init__(
        self,
        update_every=None,
        noise_mask=None,
        name="sample_weighter",
        verbose="auto",
        resume="auto",
    ):
        super().__init__()
        check_weighter_arguments(update_every, resume, name)
        self.update_every = None if update_every is None else int(update_every)
        self.noise_mask = None if noise_mask is None else np.asarray(noise_mask, dtype=bool)
        self.name = name
        self.verbose = verbose
        self.resume = resume
        self.num_examples = None
        self.steps_per_epoch = None
        self._table = None
        self._counter = None
        self._idle = None  # batches the pipeline served while this weighter was not running
        self._steps_per_execution = 1  # the model's, read at on_train_begin
        self._earlier_counters = []  # lookup counters of the pipelines of earlier attach()
        self._key = None
        self._seed = 0
        self._labels = None
        self._eval_dataset = None
        self._state = None
        self._last_stats = {}
        self._reset_run_counters()

    def _reset_run_counters(self):
        self._epoch = 0
        self._first_epoch = True
        self._epoch_steps = 0
        self._host_steps = 0
        self._host_updates = 0
        self._epoch_closed = False
        self._lookups_at_epoch_begin = 0
        self._batch_begin = None  # the `batch` of the last on_train_batch_begin
        self._earlier_lookups_at_epoch_begin = []
        self._ess_warned = False

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
        class_weight=None,
        pipeline="auto",
    ):
        """Builds the training dataset whose batches carry the current weights.

        Args:
            x: training inputs (array or nested arrays, with ``y``), or a
                ``tf.data.Dataset`` of ``(x, y, index)``: *unbatched* (give
                ``batch_size``; it is shuffled, batched and augmented here) or
                already batched (then give ``eval_data`` for the loss pass).
            y: labels (array or nested arrays, e.g. a dict per output of a
                multi-output model), when ``x`` is arrays.
            batch_size: batch size of the training pipeline.
            shuffle: reshuffle every epoch; the order of epoch ``e`` depends
                only on ``(seed, e)``, so resumed runs replay it exactly.
            seed: shuffle seed (default: drawn from NumPy's global generator,
                then saved with the model's weighting state).
            augment: optional ``fn(x_batch) -> x_batch`` applied to training
                batches only, before the weight lookup (e.g. a Keras
                preprocessing layer).  The loss pass sees un-augmented data.
            cache: cache an attached dataset (before shuffling and lookup).
            eval_data: unshuffled, un-augmented ``(x, y, index)`` view of the
                training set for the loss pass, batched or not.  Derived from
                ``x`` when ``x`` is arrays or an unbatched dataset.
            eval_batch_size: batch size of the loss pass (default: 4 x
                ``batch_size``, at least 256: the pass stores no activations).
            num_examples: ``N``, when the dataset's size is unknown.
            drop_remainder: drop the last partial training batch (static
                batch shapes, e.g. for TPUs); the loss pass still sees every
                example.
            class_weight: optional dict ``{class index: weight}`` with keys
                ``0..C-1``.  Keras cannot combine ``fit(class_weight=...)``
                with sample weights; here the batch-normalised weight of every
                example is multiplied by the weight of its class (with uniform
                weights this equals Keras' ``class_weight``).
            pipeline: ``"auto"`` (default: ``tf.data`` when TensorFlow is installed,
                else a ``keras.utils.PyDataset``), ``"tf.data"`` or ``"pydataset"``
                (TensorFlow-free, for the JAX and PyTorch backends; arrays only; see
                :mod:`keras_mr.pipeline.array_pipeline`).

        Returns:
            A batched ``tf.data.Dataset`` (or ``keras.utils.PyDataset``) of
            ``(x, y, sample_weight)`` for ``model.fit``, weights rescaled to sum to the
            batch size.

        Example:

        >>> import numpy as np, keras_mr
        >>> x_train = np.random.rand(100, 4).astype("float32")
        >>> y_train = np.random.randint(0, 3, size=100)
        >>> weighter = keras_mr.MRSampleWeighter(eta=0.01)
        >>> train_ds = weighter.attach(x_train, y_train, batch_size=32)
        >>> weighter.num_examples, weighter.steps_per_epoch
        (100, 4)

        Then ``model.fit(train_ds, epochs=10, shuffle=False, callbacks=[weighter])``.
        """
        from keras_mr.pipeline.weighted_pipeline import PipelineOptions
        from keras_mr.pipeline.weighted_pipeline import build_weighted_pipeline

        arguments = locals()
        options = PipelineOptions(**{k: arguments[k] for k in PipelineOptions._fields})
        pipeline = build_weighted_pipeline(
            x, y, options, needs_eval_data=self.needs_eval_data, with_index=self.records_losses
        )
        n = pipeline.num_examples
        check_noise_mask(self.noise_mask, n)
        self._check_num_examples(n)
        self.num_examples = n
        self.steps_per_epoch = pipeline.steps_per_epoch
        self._eval_dataset = pipeline.eval_dataset
        self._labels = pipeline.labels
        self._seed = pipeline.seed
        if self._counter is not None:
            self._earlier_counters.append(self._counter)
        self._table, self._counter, self._key = pipeline.table, pipeline.counter, pipeline.key
        self._idle = pipeline.idle
        self._state = None
        return pipeline.train

    def _check_num_examples(self, num_examples):
        """Hook for subclasses: validate arguments that depend on ``N``."""

    def example_weights(self):
        """Current distribution ``p`` over the ``N`` attached examples.

        Returns:
            NumPy float64 ``(N,)``, non-negative, summing to 1 (uniform before the
            first update).
        """
        self._require_attached()
        if self._state is None:
            return np.full(self.num_examples, 1.0 / self.num_examples)
        return normalized_weights(self._state.log_weights.numpy())

    @property
    def weights(self):
        """``example_weights()`` as a property."""
        return self.example_weights()

    @property
    def num_updates(self):
        """Number of weight updates done so far."""
        return 0 if self._state is None else int(self._state.updates.numpy())

    def _require_attached(self):
        fit_checks.check_attached(self, self._table is not None)

    @property
    def state_attribute(self):
        """Name of the model attribute that holds this weighter's state layer."""
        return "_keras_mr_" + self.name

    @property
    def shuffle_seed(self):
        """Seed of the shuffle order (drawn or given at ``attach``; saved in the state)."""
        return self._seed

    @property
    def state(self):
        """The :class:`~keras_mr.mr.weighter_state.WeighterState` on the model, or ``None``."""
        return self._state

    @property
    def eval_dataset(self):
        """The batched ``(x, y, index)`` view of the training set the loss pass reads."""
        return self._eval_dataset

    def set_model(self, model):
        """Attaches the weighting state to ``model`` (Keras calls this in ``fit``).

        Call it yourself before ``model.load_weights(path)`` when restoring a
        checkpoint by hand, so that the MR state is loaded too::

            train_ds = weighter.attach(x, y, batch_size=128)
            weighter.set_model(model)
            model.load_weights("ckpt.weights.h5")
            model.fit(train_ds, initial_epoch=3, shuffle=False, callbacks=[weighter])
        """
        super().set_model(model)
        if self._table is not None:
            self._ensure_state()

    def _ensure_state(self):
        self._state = bind_weighter_state(self, self.model)

    def _sync_backend_state(self):
        """JAX keeps the model's variables in the trainer during an epoch: write them back."""
        sync_jax_state(self.model)

    def on_train_begin(self, logs=None):
        self._require_attached()
        model = self.model
        if self._state is None:
            self._ensure_state()
        claim_weighter_name(model, self)
        out_shape = getattr(model, "output_shape", None) if model.built else None
        if isinstance(out_shape, tuple) and not isinstance(
            self._labels, (type(None), dict, list, tuple)
        ):
            check_label_range(self._labels, out_shape)
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        self._steps_per_execution = spe
        fit_checks.check_update_every(self.update_every, spe)
        fit_checks.check_steps_per_epoch(
            (self.params or {}).get("steps"),
            self.steps_per_epoch,
            self.update_every,
            attach_calls=len(self._earlier_counters) + 1,
        )
        self._idle.assign(-1)  # running: the pipeline's batches are expected
        self._reset_run_counters()
        self._on_train_begin()

    def _on_train_begin(self):
        """Hook for subclasses."""

    def on_train_end(self, logs=None):
        self._idle.assign(0)
        release_weighter_name(self.model, self)

    def on_epoch_begin(self, epoch, logs=None):
        self._sync_backend_state()
        state = self._state
        if self._first_epoch and self.resume is not False:
            fit_checks.check_resumed_history(self, epoch, state.has_history())
        if self._first_epoch:
            # Read after every on_train_begin: BackupAndRestore restores the state there.
            self._host_steps = int(state.steps.numpy())
            self._host_updates = int(state.updates.numpy())
        self._first_epoch = False
        self._epoch = epoch
        self._epoch_steps = 0
        self._epoch_closed = False
        self._key.assign([int(state.seed.numpy()), int(state.epochs_done.numpy())])
        # the table the pipeline reads follows the state (restored by BackupAndRestore)
        self._write_table()
        self._lookups_at_epoch_begin = int(self._counter.numpy())
        self._earlier_lookups_at_epoch_begin = [int(c.numpy()) for c in self._earlier_counters]

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch

    def on_train_batch_end(self, batch, logs=None):
        steps_done = fit_checks.steps_done_after_batch(
            batch, self._batch_begin, self._steps_per_execution, self.steps_per_epoch
        )
        self._host_steps += max(steps_done - self._epoch_steps, 0)
        self._epoch_steps = steps_done
        if self.update_every is not None:
            due = self._host_steps // self.update_every
            if due > self._host_updates:
                self._sync_backend_state()
                self._state.steps.assign(self._host_steps)
                self._update(self._epoch)
        if self.steps_per_epoch is not None and steps_done >= self.steps_per_epoch:
            self._close_epoch()

    def _close_epoch(self):
        """End-of-epoch work: per-epoch update and epoch counter (once per epoch)."""
        if self._epoch_closed:
            return
        self._epoch_closed = True
        self._sync_backend_state()
        state = self._state
        if self.update_every is None:
            self._update(self._epoch)
        state.steps.assign(self._host_steps)
        state.epochs_done.assign(int(state.epochs_done.numpy()) + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._check_pipeline()
        self._close_epoch()
        if logs is not None:
            logs.update({self.log_prefix + k: v for k, v in self._last_stats.items()})

    def _update(self, epoch):
        state = self._state
        index = int(state.updates.numpy())
        self.publish_weights(self._new_log_weights(index, epoch))
        state.updates.assign(index + 1)
        self._host_updates = index + 1
        p = self.weights
        self._last_stats = weight_statistics(p, self.noise_mask)
        self._last_stats.update(self._extra_stats())
        self._warn_if_collapsed(p)
        if self.show_progress():
            msg = ", ".join(f"{k}={v:.4g}" for k, v in self._last_stats.items())
            print(f"{type(self).__name__} update {index + 1}: {msg}")

    def show_progress(self):
        """Progress output: ``verbose=1``, or ``"auto"`` with Keras' ``fit(verbose=1)``."""
        if self.verbose == "auto":
            return (self.params or {}).get("verbose", 0) in (1, "auto")
        return bool(self.verbose)

    def _warn_if_collapsed(self, p):
        if not self._ess_warned:
            self._ess_warned = warn_if_collapsed(type(self).__name__, p)

    def _extra_stats(self):
        return {}

    def _new_log_weights(self, update_index, epoch):
        raise NotImplementedError

    def publish_weights(self, log_weights):
        """Makes ``log_weights`` the current weights: the one place both copies are written.

        The weights live twice: as ``log p`` in the saved state
        (:class:`~keras_mr.mr.weighter_state.WeighterState`, float32) and as ``N p`` in
        the lookup table the ``tf.data`` pipeline reads as ``sample_weight``; both are
        written here, the table from the float32 state so they always agree.

        Args:
            log_weights: ``(N,)`` log-probabilities of the new distribution.
        """
        self._state.log_weights.assign(np.asarray(log_weights, dtype=np.float32))
        self._write_table()

    def _write_table(self):
        """The pipeline's table ``N p`` from the state's float32 ``log p``."""
        self._table.assign((self.weights * self.num_examples).astype(np.float32))

    def _check_pipeline(self):
        lookups = int(self._counter.numpy()) - self._lookups_at_epoch_begin
        earlier = [
            int(c.numpy()) - begin
            for c, begin in zip(self._earlier_counters, self._earlier_lookups_at_epoch_begin)
        ]
        fit_checks.check_earlier_pipelines(lookups, earlier, len(earlier) + 1)
        fit_checks.check_lookups(lookups, self._epoch_steps, self.update_every)

    def get_config(self):
        return {
            "update_every": self.update_every,
            "noise_mask": None if self.noise_mask is None else self.noise_mask.tolist(),
            "name": self.name,
            "verbose": self.verbose,
            "resume": self.resume,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

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

import warnings
import weakref

import keras
import numpy as np

from keras_mr.mr.weight_stats import weight_statistics
from keras_mr.mr.weighter_state import WeighterState
from keras_mr.mr.weighter_state import attach_state_layer

# model -> {weighter name: weighter} of the weighters in a running fit().
_ACTIVE = weakref.WeakKeyDictionary()

_RESUME_VALUES = ("auto", True, False)


class SampleWeighter(keras.callbacks.Callback):
    """Base class of callbacks that reweight training examples.

    Args:
        update_every: ``None`` (default) updates the weights after every epoch,
            an integer ``k`` every ``k`` training steps instead (e.g. half an
            epoch, as the MR paper does on Clothing1M).  ``k`` must be at least
            the model's ``steps_per_execution`` (weights can only change
            between executions); an update falls on the first execution
            boundary at or after every multiple of ``k`` steps, so ``S`` steps
            give exactly ``floor(S / k)`` updates.
        noise_mask: optional boolean array ``(N,)`` marking examples known to
            be mislabelled; adds ``<prefix>noisy_mass`` to the logs.
        name: name of the state layer attached to the model; two weighters on
            one model need different names.
        resume: what to do with weighting state already on the model.
            ``"auto"`` (default): continue the state this weighter created, or
            one restored into it (``BackupAndRestore``, ``load_weights`` after
            ``weighter.set_model(model)``); raise a ``ValueError`` if the model
            carries the history of *another* weighter of the same name, or if
            ``fit`` starts at an epoch > 0 with no history (weights loaded
            without the weighting state).  ``True``: continue any state found
            on the model (inherit another weighter's history).  ``False``:
            start from uniform weights and no history.
        verbose: 1 prints one line per update.
    """

    log_prefix = "w_"
    needs_losses = False
    records_losses = False
    loss_source = None

    def __init__(
        self,
        update_every=None,
        noise_mask=None,
        name="sample_weighter",
        verbose="auto",
        resume="auto",
    ):
        super().__init__()
        if update_every is not None and (
            isinstance(update_every, bool)
            or not isinstance(update_every, (int, np.integer))
            or update_every < 1
        ):
            raise ValueError(
                "`update_every` must be None (once per epoch) or a positive number of steps, "
                f"got {update_every!r}."
            )
        if not any(resume is v for v in _RESUME_VALUES) and resume != "auto":
            raise ValueError(f"`resume` must be 'auto', True or False, got {resume!r}.")
        if not isinstance(name, str) or not name:
            raise ValueError(f"`name` must be a non-empty string, got {name!r}.")
        self.update_every = None if update_every is None else int(update_every)
        self.noise_mask = None if noise_mask is None else np.asarray(noise_mask, dtype=bool)
        self.name = name
        self.verbose = verbose
        self.resume = resume
        self.num_examples = None
        self.steps_per_epoch = None
        self._table = None
        self._counter = None
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
        self._ess_warned = False

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
        class_weight=None,
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

        Returns:
            A batched ``tf.data.Dataset`` of ``(x, y, sample_weight)`` for
            ``model.fit``, weights rescaled to sum to the batch size.

        Example:

        >>> weighter = keras_mr.MRSampleWeighter(eta=0.01)
        >>> train_ds = weighter.attach(x_train, y_train, batch_size=128)
        >>> model.fit(train_ds, epochs=10, shuffle=False, callbacks=[weighter])  # doctest: +SKIP
        """
        from keras_mr.pipeline.weighted_pipeline import build_weighted_pipeline

        pipeline = build_weighted_pipeline(
            x,
            y,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            augment=augment,
            cache=cache,
            eval_data=eval_data,
            eval_batch_size=eval_batch_size,
            num_examples=num_examples,
            drop_remainder=drop_remainder,
            class_weight=class_weight,
            needs_eval_data=self.needs_losses and self.loss_source == "eval",
            with_index=self.records_losses,
        )
        n = pipeline.num_examples
        if self.noise_mask is not None and self.noise_mask.shape != (n,):
            raise ValueError(
                f"`noise_mask` has shape {self.noise_mask.shape} but {n} examples were attached."
            )
        self._check_num_examples(n)
        self.num_examples = n
        self.steps_per_epoch = pipeline.steps_per_epoch
        self._eval_dataset = pipeline.eval_dataset
        self._labels = pipeline.labels
        self._seed = pipeline.seed
        self._table, self._counter, self._key = pipeline.table, pipeline.counter, pipeline.key
        self._state = None
        return pipeline.train

    def _check_num_examples(self, num_examples):
        """Hook for subclasses: validate arguments that depend on ``N``."""

    # ----------------------------------------------------------------- state
    @property
    def weights(self):
        """Current distribution ``p`` over the ``N`` examples (NumPy float64, sums to 1)."""
        self._require_attached()
        if self._state is None:
            return np.full(self.num_examples, 1.0 / self.num_examples)
        log_p = np.asarray(self._state.log_weights.numpy(), dtype=np.float64)
        log_p = log_p - np.max(log_p)
        p = np.exp(log_p)
        return p / p.sum()

    @property
    def num_updates(self):
        """Number of weight updates done so far."""
        return 0 if self._state is None else int(self._state.updates.numpy())

    def _require_attached(self):
        if self._table is None:
            raise ValueError(
                f"{type(self).__name__} has no training data: build the training dataset with "
                "`train_ds = weighter.attach(x, y, batch_size=...)` and pass it to "
                "`model.fit(train_ds, shuffle=False, callbacks=[weighter])`."
            )

    def _state_attr(self):
        return "_keras_mr_" + self.name

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
        model = self.model
        attr = self._state_attr()
        state = getattr(model, attr, None)
        owner = None if state is None else getattr(state, "_keras_mr_owner", lambda: None)()
        if state is not None and state.num_examples != self.num_examples:
            if self.resume is not False and state.has_history():
                raise ValueError(
                    f"The model carries the state of a weighter named '{self.name}' for "
                    f"{state.num_examples} examples, but {self.num_examples} were attached. "
                    "Give this weighter another `name`, or pass `resume=False` to replace it."
                )
            state = None
        if state is not None and owner is not self:
            if self.resume is False:
                state.reset(self._seed)
            elif self.resume == "auto" and state.has_history():
                raise ValueError(
                    f"The model already carries the history of another weighter named "
                    f"'{self.name}' ({int(state.updates.numpy())} updates). Pass "
                    f"`{type(self).__name__}(..., resume=True)` to continue that history, "
                    "`resume=False` to start from uniform weights, or give this weighter "
                    "another `name`."
                )
        if state is None:
            strategy = getattr(model, "distribute_strategy", None)
            if keras.backend.backend() == "tensorflow" and strategy is not None:
                with strategy.scope():
                    state = self._new_state()
            else:
                state = self._new_state()
            attach_state_layer(model, attr, state)
        state._keras_mr_owner = weakref.ref(self)
        self._state = state

    def _new_state(self):
        return WeighterState(
            self.num_examples, seed=self._seed, records_losses=self.records_losses, name=self.name
        )

    def _sync_backend_state(self):
        """JAX keeps the model's variables in the trainer during an epoch: write them back."""
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()

    # ------------------------------------------------------------ callbacks
    def on_train_begin(self, logs=None):
        self._require_attached()
        model = self.model
        if self._state is None:
            self._ensure_state()
        active = _ACTIVE.setdefault(model, {})
        other = active.get(self.name)
        if other is not None and other() is not None and other() is not self:
            raise ValueError(
                f"Two weighters named '{self.name}' are attached to one model: give each "
                "a different `name=`."
            )
        active[self.name] = weakref.ref(self)
        out_shape = getattr(model, "output_shape", None) if model.built else None
        if self._labels is not None and isinstance(out_shape, tuple):
            from keras_mr.pipeline.per_example_loss import check_label_range

            if not isinstance(self._labels, (dict, list, tuple)):
                check_label_range(self._labels, out_shape)
        spe = int(getattr(model, "steps_per_execution", 1) or 1)
        self._steps_per_execution = spe
        if self.update_every is not None and self.update_every < spe:
            raise ValueError(
                f"`update_every={self.update_every}` is smaller than the model's "
                f"steps_per_execution={spe}: weights can only change between executions. "
                f"Use update_every >= {spe} (a multiple of it updates exactly every "
                "update_every steps)."
            )
        steps = (self.params or {}).get("steps")
        if (
            self.update_every is None
            and steps is not None
            and self.steps_per_epoch is not None
            and steps != self.steps_per_epoch
        ):
            raise ValueError(
                f"fit() runs {steps} steps per epoch but the attached data has "
                f"{self.steps_per_epoch} batches: the dataset was repeat()ed after attach() or "
                "`steps_per_epoch` was given, so epochs and weight updates would not line up "
                "(and prefetched batches would carry stale weights). Pass attach()'s result "
                "to fit() as it is, without steps_per_epoch, or use `update_every=` steps."
            )
        self._reset_run_counters()
        self._on_train_begin()

    def _on_train_begin(self):
        """Hook for subclasses."""

    def on_train_end(self, logs=None):
        active = _ACTIVE.get(self.model, {})
        ref = active.get(self.name)
        if ref is not None and ref() is self:
            del active[self.name]

    def on_epoch_begin(self, epoch, logs=None):
        self._sync_backend_state()
        state = self._state
        if self._first_epoch and epoch > 0 and self.resume is not False and not state.has_history():
            raise ValueError(
                f"fit() starts at epoch {epoch} but {type(self).__name__} '{self.name}' has no "
                "history: the model's weights were restored without the weighting state. "
                "Call `weighter.set_model(model)` before `model.load_weights(path)` (or use "
                "keras.callbacks.BackupAndRestore) so the state is loaded too; to start the "
                f"weighting afresh at epoch {epoch}, pass `{type(self).__name__}(..., "
                "resume=False)`."
            )
        if self._first_epoch:
            # Read after every on_train_begin: BackupAndRestore restores the state there.
            self._host_steps = int(state.steps.numpy())
            self._host_updates = int(state.updates.numpy())
        self._first_epoch = False
        self._epoch = epoch
        self._epoch_steps = 0
        self._epoch_closed = False
        self._key.assign([int(state.seed.numpy()), int(state.epochs_done.numpy())])
        self._sync_table()
        self._lookups_at_epoch_begin = int(self._counter.numpy())

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin = batch

    def on_train_batch_end(self, batch, logs=None):
        # Keras >= 3.9 passes the last step of the execution (the first to
        # on_train_batch_begin); Keras 3.8 passes the first step to both.
        # Either reports a full execution even when the epoch's last one is
        # shorter, hence the clamp.
        spe = getattr(self, "_steps_per_execution", 1)
        if spe > 1 and batch == getattr(self, "_batch_begin", None):
            steps_done = int(batch) + spe
        else:
            steps_done = int(batch) + 1
        if self.steps_per_epoch is not None:
            steps_done = min(steps_done, self.steps_per_epoch)
        self._host_steps += max(steps_done - self._epoch_steps, 0)
        self._epoch_steps = steps_done
        if self.update_every is not None:
            due = self._host_steps // self.update_every
            if due > self._host_updates:
                self._sync_backend_state()
                self._state.steps.assign(self._host_steps)
                self._update(self._epoch)
                self._sync_table()
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
            self._sync_table()
        state.steps.assign(self._host_steps)
        state.epochs_done.assign(int(state.epochs_done.numpy()) + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._check_pipeline()
        self._close_epoch()
        if logs is not None:
            logs.update({self.log_prefix + k: v for k, v in self._last_stats.items()})

    # --------------------------------------------------------------- update
    def _update(self, epoch):
        state = self._state
        index = int(state.updates.numpy())
        log_p = np.asarray(self._new_log_weights(index, epoch), dtype=np.float64)
        state.log_weights.assign(log_p.astype(np.float32))
        state.updates.assign(index + 1)
        self._host_updates = index + 1
        p = self.weights
        self._last_stats = weight_statistics(p, self.noise_mask)
        self._last_stats.update(self._extra_stats())
        self._warn_if_collapsed(p)
        if self._show_progress():
            msg = ", ".join(f"{k}={v:.4g}" for k, v in self._last_stats.items())
            print(f"{type(self).__name__} update {index + 1}: {msg}")

    def _show_progress(self):
        """Progress output: ``verbose=1``, or ``"auto"`` with Keras' ``fit(verbose=1)``."""
        if self.verbose == "auto":
            return (self.params or {}).get("verbose", 0) in (1, "auto")
        return bool(self.verbose)

    def _warn_if_collapsed(self, p):
        n = self.num_examples
        ess = 1.0 / float(np.sum(p * p))
        if not self._ess_warned and n >= 20 and ess < max(10.0, 0.01 * n):
            self._ess_warned = True
            warnings.warn(
                f"{type(self).__name__}: the weights concentrate on about {ess:.1f} of {n} "
                f"examples (effective sample size {ess:.1f}); training then sees almost no "
                "data. The step size is probably too large: lower `eta` or cap the weights "
                "with `max_weight=`.",
                RuntimeWarning,
                stacklevel=2,
            )

    def _extra_stats(self):
        return {}

    def _new_log_weights(self, update_index, epoch):
        raise NotImplementedError

    def _sync_table(self):
        relative = (self.weights * self.num_examples).astype(np.float32)
        self._table.assign(relative)

    def _check_pipeline(self):
        lookups = int(self._counter.numpy()) - self._lookups_at_epoch_begin
        steps = self._epoch_steps
        if steps == 0:
            return
        if lookups == 0:
            raise ValueError(
                "No batch of this epoch went through the weight lookup: the dataset passed to "
                "fit() is not the one returned by `attach()`, or it was cached after attach() "
                "(then the weights are frozen). Apply cache()/shuffle() before attach() (or use "
                "attach(..., cache=True)) and pass attach()'s result to fit()."
            )
        if lookups > steps and self.update_every is None:
            raise ValueError(
                f"{lookups} batches were looked up for {steps} training steps this epoch: "
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
            "resume": self.resume,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

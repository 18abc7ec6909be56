"""MRSampleWeighter: Multiplicative Reweighting (MR) as a Keras callback."""

import keras
import numpy as np

from keras_mr.mr.loss_sources import get_loss_source
from keras_mr.mr.mr_update import MRConfig
from keras_mr.mr.mr_update import MRState
from keras_mr.mr.mr_update import mr_update
from keras_mr.mr.multiplicative_weights import check_eta
from keras_mr.mr.sample_weighter import SampleWeighter


@keras.saving.register_keras_serializable(package="keras_mr")
class MRSampleWeighter(SampleWeighter):
    """Multiplicative Reweighting of training examples (Algorithm 1 of the MR paper).

    After every epoch (or every ``update_every`` steps) the callback computes
    the loss ``l_i`` of every training example, adds it to the example's loss
    history ``L_i`` and sets the example distribution to::

        p = softmax(-eta * L)            # w_i = exp(-eta * sum_s l_i(theta_s))

    computed in the log domain, so no ``eta`` or loss scale underflows to NaN.
    With ``max_weight`` (kappa), ``p`` is then projected onto
    ``{p in simplex, p_i <= kappa}`` in KL divergence (later version of the
    paper, section 3).  The weights reach training through the dataset built
    by :meth:`attach`, where every mini-batch is normalised by its weight sum
    so the update is ``sum_B p_i grad l_i / sum_B p_i``, as in the paper.
    Examples that keep a high loss (typically mislabelled ones) lose weight
    exponentially fast.

    Choices where the paper is not explicit:

    - Loss pass (``loss_source="eval"``, default): an extra pass over an
      unshuffled, un-augmented view of the training set, in inference mode
      (``training=False``: no dropout, batch-norm moving statistics), so the
      losses are those of the parameters at the end of the epoch,
      ``l_i(theta_t^{N/B})``.  Set ``eval_training_mode=True`` to call the model
      with ``training=True`` instead.
    - ``loss_source="train"`` (TensorFlow backend): no extra pass; each
      example's loss is the one computed by the training step that used it
      during the period (its mean if it was seen several times), i.e. at
      slightly older parameters and with augmentation/dropout.  Examples not
      seen in a period keep their last loss.  The model must record its
      losses: keras-mr's model classes do, a plain model is wrapped with
      ``keras_mr.LossRecordingModel(model)`` (see
      :mod:`keras_mr.pipeline.loss_recording`).
    - Per-example losses are the model's compiled loss, computed as Keras
      computes it (``y_true`` reshaped to ``y_pred``, per-output losses times
      ``loss_weights`` summed for multi-output models, extra axes averaged),
      so their batch mean equals the compiled loss.
    - ``eta_schedule(epoch) -> eta`` with ``history_mode="rescale"`` (default,
      like the paper's reference code: the current eta multiplies the whole
      history) or ``"accumulate"`` (each loss keeps the eta of its epoch).

    Diagnostics are added to ``logs`` at the end of every epoch (so History,
    CSVLogger and TensorBoard record them; put this callback before those in
    the list): ``mr_entropy``, ``mr_ess`` (effective sample size / N),
    ``mr_weight_min``/``mr_weight_max`` (N * p, 1 = uniform), ``mr_eta`` and,
    with ``noise_mask``, ``mr_noisy_mass`` (sum of p over noisy examples).

    The state (loss history, weights, counters, shuffle seed; float32/int32)
    is stored in Keras variables attached to the model, so it is saved and
    restored by ``keras.callbacks.BackupAndRestore``, ``model.save_weights`` /
    ``load_weights`` (call ``weighter.set_model(model)`` before
    ``load_weights``) and ``ModelCheckpoint(save_weights_only=True)``.  The
    shuffle order of an epoch is a pure function of ``(seed, epoch)``, so a
    run killed and resumed from its last checkpoint ends bitwise equal to an
    uninterrupted one (with op determinism on).

    Args:
        eta: ``"auto"`` (default) or the MW step size ``> 0`` (the paper uses 0.01 for
            cross-entropy on CIFAR).  ``"auto"`` keeps the weights uniform until the
            losses show a group of mislabelled examples (clean data: always), then
            chooses ``eta`` at every update so that the weights move from uniform to a
            working sharpness over five updates whatever the loss scale
            (:mod:`keras_mr.mr.auto_tuning`; logs ``mr_noise_rate``, the rate that
            steers it).
        max_weight: ``"auto"`` (default), a cap kappa on every ``p_i`` (``>= 1/N``), or
            ``None`` (no cap).  ``"auto"`` is ``1 / ((1 - r) N)`` with ``r`` the noise
            rate read off the losses at each update, so the weights cannot collapse onto
            a few examples; no cap until the losses first show two groups (with
            ``eta="auto"`` the weights are uniform until then anyway).
        eta_schedule: optional ``fn(epoch) -> eta`` (0-based epoch of the
            update); replaces ``eta``.
        history_mode: ``"rescale"`` or ``"accumulate"`` (see above).
        update_every: ``None`` = after every epoch; ``k`` = every ``k`` steps
            (``k >= steps_per_execution``; ``S`` steps give ``floor(S/k)``
            updates).
        loss_source: ``"eval"`` (extra pass, :class:`keras_mr.mr.LossPass`), ``"train"``
            (training losses, :class:`keras_mr.mr.RecordedLosses`) or a loss-source object.
        noise_mask: optional boolean ``(N,)`` of known-noisy examples (logs).
        name: name of the state attached to the model.
        verbose: ``"auto"`` (follow ``fit(verbose=...)``), ``1`` or ``0``: progress
            bar of the loss pass and one line per update.
        resume: ``"auto"``, ``True`` or ``False``: what to do with weighting
            state already on the model (see
            :class:`keras_mr.mr.sample_weighter.SampleWeighter`).

        per_example_loss_fn: the loss pass's ``fn(model, x, y) -> (B,)`` (e.g.
            adversarial losses; default: the compiled loss per example), shorthand for
            ``loss_source=keras_mr.mr.LossPass(per_example_loss_fn)``.
        eval_training_mode: call the model with ``training=True`` in the loss pass,
            shorthand for ``loss_source=keras_mr.mr.LossPass(training=True)``.

    Example:

    ```python
    weighter = keras_mr.MRSampleWeighter()  # eta="auto", max_weight="auto"
    train_ds = weighter.attach(x_train, y_train, batch_size=128)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(train_ds, epochs=20, shuffle=False, callbacks=[weighter])
    suspicious = np.argsort(weighter.weights)[:100]  # lowest-weight examples
    ```
    """

    log_prefix = "mr_"

    def __init__(
        self,
        eta="auto",
        max_weight="auto",
        *,
        eta_schedule=None,
        history_mode="rescale",
        update_every=None,
        loss_source="eval",
        noise_mask=None,
        name="mr_sample_weighter",
        verbose="auto",
        resume="auto",
        per_example_loss_fn=None,
        eval_training_mode=None,
    ):
        super().__init__(
            update_every=update_every,
            noise_mask=noise_mask,
            name=name,
            verbose=verbose,
            resume=resume,
        )
        if isinstance(eta, str) and eta != "auto":
            raise ValueError(
                f"`eta` must be 'auto' (the default, lower case) or a number > 0, got {eta!r}."
            )
        self.eta = "auto" if isinstance(eta, str) else check_eta(eta)
        if isinstance(max_weight, str):
            if max_weight != "auto":
                raise ValueError(
                    f"`max_weight` must be a number, None or 'auto', got {max_weight!r}."
                )
        elif max_weight is not None and (not np.isscalar(max_weight) or not max_weight > 0):
            raise ValueError(
                f"`max_weight` must be None, 'auto' or a number in (0, 1], got {max_weight!r}."
            )
        if max_weight is not None and max_weight != "auto":
            max_weight = float(max_weight)
        self.max_weight = max_weight
        if eta_schedule is not None and not callable(eta_schedule):
            raise TypeError(
                f"`eta_schedule` must be callable fn(epoch) -> eta, got {eta_schedule!r}."
            )
        self.eta_schedule = eta_schedule
        if history_mode not in ("rescale", "accumulate"):
            raise ValueError(
                f"`history_mode` must be 'rescale' or 'accumulate', got {history_mode!r}."
            )
        self.history_mode = history_mode
        # an eta_schedule replaces eta, "auto" (the default) included
        if self.eta == "auto" and eta_schedule is None and history_mode != "rescale":
            raise ValueError(
                "eta='auto' chooses eta at every update from the whole history: it needs "
                "history_mode='rescale'. Give a number for eta, or an eta_schedule, with "
                "history_mode='accumulate'."
            )
        self.loss_source_object = get_loss_source(
            loss_source, per_example_loss_fn, eval_training_mode
        )
        self.loss_source = self.loss_source_object.name
        self._current_eta = None
        self._noise_rate = None

    # --------------------------------------------------------------- losses
    @property
    def records_losses(self):
        return self.loss_source_object.records_losses

    @property
    def needs_eval_data(self):
        return self.loss_source_object.needs_eval_data

    def _check_num_examples(self, num_examples):
        if isinstance(self.max_weight, float) and self.max_weight * num_examples < 1 - 1e-9:
            raise ValueError(
                f"`max_weight={self.max_weight}` is below 1/N = {1.0 / num_examples:.3g} for the "
                f"{num_examples} attached examples: no distribution satisfies the cap. Use "
                f"max_weight >= 1/N, e.g. max_weight={2.0 / num_examples:.3g} (2/N)."
            )

    def set_model(self, model):
        super().set_model(model)
        self.loss_source_object.bind(model)

    def _on_train_begin(self):
        self.loss_source_object.begin_training(self.model, self._state)

    def _collect_losses(self):
        losses, seen = self.loss_source_object.collect(
            self.model, self.eval_dataset, self.num_examples, verbose=self.show_progress()
        )
        if not np.all(seen):
            state = self._state
            last = np.asarray(state.last_loss.numpy(), dtype=np.float64)
            has = np.asarray(state.has_loss.numpy()) > 0
            fallback = np.where(has, last, losses[seen].mean() if seen.any() else 0.0)
            losses = np.where(seen, losses, fallback)
        return losses

    def latest_losses(self):
        """The per-example losses of the last update (what the label-issue tools read).

        Returns:
            float64 ``(N,)``.

        Raises:
            ValueError: no update has happened yet.
        """
        if self.num_updates == 0:
            raise ValueError(
                "The weighter has made no update yet: train with it first (fit with "
                "callbacks=[weighter]), so that it has losses."
            )
        return np.asarray(self._state.last_loss.numpy(), dtype=np.float64)

    # --------------------------------------------------------------- update
    def update_config(self, epoch):
        """The :class:`~keras_mr.mr.mr_update.MRConfig` of the update after ``epoch``.

        ``eta_schedule(epoch)`` is evaluated here (it replaces ``eta``, ``"auto"``
        included).
        """
        eta = self.eta
        if self.eta_schedule is not None:
            eta = check_eta(self.eta_schedule(epoch), name="eta_schedule(epoch)")
        return MRConfig(eta=eta, max_weight=self.max_weight, history_mode=self.history_mode)

    def _new_log_weights(self, update_index, epoch):
        losses = self._collect_losses()
        update = mr_update(read_mr_state(self._state), self.update_config(epoch), losses)
        write_mr_state(self._state, update.state)
        self._current_eta = update.eta
        self._noise_rate = update.noise_rate
        return update.log_weights

    def _extra_stats(self):
        stats = {"eta": float(self._current_eta)}
        if self._noise_rate is not None:
            stats["noise_rate"] = self._noise_rate
        return stats

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "eta": self.eta,
                "max_weight": self.max_weight,
                "eta_schedule": None
                if self.eta_schedule is None
                else keras.saving.serialize_keras_object(self.eta_schedule),
                "history_mode": self.history_mode,
                "loss_source": self.loss_source,
                **self.loss_source_object.get_config(),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("eta_schedule") is not None:
            config["eta_schedule"] = keras.saving.deserialize_keras_object(config["eta_schedule"])
        return cls(**config)


def read_mr_state(state):
    """The :class:`~keras_mr.mr.mr_update.MRState` held in a weighter's Keras variables.

    Args:
        state: :class:`keras_mr.mr.weighter_state.WeighterState`.

    Returns:
        :class:`~keras_mr.mr.mr_update.MRState` (float32 arrays, float32-exact scalars).
    """
    return MRState(
        cumulative_loss=np.asarray(state.cumulative_loss.numpy(), np.float32),
        scaled_history=np.asarray(state.scaled_history.numpy(), np.float32),
        last_loss=np.asarray(state.last_loss.numpy(), np.float32),
        eta=float(state.eta.numpy()),
        noise_rate=float(state.noise_rate.numpy()),
        reference_loss=float(state.reference_loss.numpy()),
        split_updates=int(state.split_updates.numpy()),
    )


def write_mr_state(state, mr_state):
    """Writes an :class:`~keras_mr.mr.mr_update.MRState` into a weighter's Keras variables.

    The one place the update's state reaches the variables (the weights themselves are
    published by :meth:`keras_mr.mr.sample_weighter.SampleWeighter.publish_weights`).
    """
    state.cumulative_loss.assign(mr_state.cumulative_loss)
    state.scaled_history.assign(mr_state.scaled_history)
    state.last_loss.assign(mr_state.last_loss)
    state.has_loss.assign(np.ones(mr_state.last_loss.shape, np.float32))
    state.eta.assign(mr_state.eta)
    state.noise_rate.assign(mr_state.noise_rate)
    state.reference_loss.assign(mr_state.reference_loss)
    state.split_updates.assign(mr_state.split_updates)

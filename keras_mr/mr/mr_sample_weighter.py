"""MRSampleWeighter: Multiplicative Reweighting (MR) as a Keras callback."""

import keras
import numpy as np

from keras_mr.mr import auto_tuning
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.loss_sources import get_loss_source
from keras_mr.mr.multiplicative_weights import check_eta
from keras_mr.mr.multiplicative_weights import check_finite
from keras_mr.mr.multiplicative_weights import mw_update
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
      ``keras_mr.TrainingLossModel(model)`` (see
      :mod:`keras_mr.pipeline.training_losses`).
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
            (training losses, :class:`keras_mr.mr.TrainingLosses`) or a loss-source object.
        noise_mask: optional boolean ``(N,)`` of known-noisy examples (logs).
        name: name of the state attached to the model.
        verbose: ``"auto"`` (follow ``fit(verbose=...)``), ``1`` or ``0``: progress
            bar of the loss pass and one line per update.
        resume: ``"auto"``, ``True`` or ``False``: what to do with weighting
            state already on the model (see
            :class:`keras_mr.mr.sample_weighter.SampleWeighter`).

        **kwargs: shorthand for the loss pass's options:
            ``per_example_loss_fn`` (``fn(model, x, y) -> (B,)``, e.g. adversarial
            losses; default: the compiled loss with ``reduction=None``) and
            ``eval_training_mode`` (call the model with ``training=True`` in the pass),
            i.e. ``loss_source=keras_mr.mr.LossPass(per_example_loss_fn, training)``.

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
        **kwargs,
    ):
        unknown = set(kwargs) - {"per_example_loss_fn", "eval_training_mode"}
        if unknown:
            raise TypeError(f"MRSampleWeighter got unexpected keyword arguments {sorted(unknown)}.")
        super().__init__(
            update_every=update_every,
            noise_mask=noise_mask,
            name=name,
            verbose=verbose,
            resume=resume,
        )
        self.eta = "auto" if isinstance(eta, str) and eta == "auto" else check_eta(eta)
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
        self._auto_eta = self.eta == "auto" and eta_schedule is None
        if self._auto_eta and history_mode != "rescale":
            raise ValueError(
                "eta='auto' chooses eta at every update from the whole history: it needs "
                "history_mode='rescale'. Give a number for eta, or an eta_schedule, with "
                "history_mode='accumulate'."
            )
        self.loss_source_object = get_loss_source(loss_source, **kwargs)
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

    @property
    def _loss_pass(self):
        """The compiled :class:`~keras_mr.pipeline.loss_pass.PerExampleLossPass` (or None)."""
        return getattr(self.loss_source_object, "_pass", None)

    def _check_num_examples(self, num_examples):
        if isinstance(self.max_weight, float) and self.max_weight * num_examples < 1 - 1e-9:
            raise ValueError(
                f"`max_weight={self.max_weight}` is below 1/N = {1.0 / num_examples:.3g} for the "
                f"{num_examples} attached examples: no distribution satisfies the cap. Use "
                f"max_weight >= 1/N, e.g. max_weight={2.0 / num_examples:.3g} (2/N)."
            )

    def set_model(self, model):
        super().set_model(model)
        self.loss_source_object.bind(self, model)

    def _on_train_begin(self):
        self.loss_source_object.begin_training(self, self.model)

    def _collect_losses(self):
        losses, seen = self.loss_source_object.collect(self)
        if not np.all(seen):
            state = self._state
            last = np.asarray(state.last_loss.numpy(), dtype=np.float64)
            has = np.asarray(state.has_loss.numpy()) > 0
            fallback = np.where(has, last, losses[seen].mean() if seen.any() else 0.0)
            losses = np.where(seen, losses, fallback)
        return losses

    # --------------------------------------------------------------- update
    def _eta_for(self, epoch, cumulative):
        if self._auto_eta:
            state = self._state
            split_updates = int(state.split_updates.numpy())
            if split_updates == 0:  # no two groups seen yet: (nearly) uniform weights
                return auto_tuning.ETA_BEFORE_SPLIT
            target = auto_tuning.ess_target(self._noise_rate, split_updates - 1)
            eta = auto_tuning.eta_for_ess(cumulative, target)
            # eta never decreases (the distribution keeps sharpening as the history
            # grows); rounded to float32 so that a restored state repeats it exactly.
            eta = float(np.float32(max(eta, float(state.eta.numpy()))))
            state.eta.assign(eta)
            return eta
        if self.eta_schedule is None:
            return self.eta
        return check_eta(self.eta_schedule(epoch), name="eta_schedule(epoch)")

    def _update_noise_rate(self, losses):
        """The guiding noise rate of this update (:mod:`keras_mr.mr.auto_tuning`)."""
        state = self._state
        if float(state.reference_loss.numpy()) <= 0:
            state.reference_loss.assign(max(float(np.mean(losses)), 1e-30))
        guide = auto_tuning.guiding_noise_rate(
            losses, float(state.noise_rate.numpy()), float(state.reference_loss.numpy())
        )
        if guide.separated or int(state.split_updates.numpy()) > 0:
            state.split_updates.assign_add(1)
        # float32 so that a restored state repeats it exactly
        self._noise_rate = float(np.float32(guide.rate))
        state.noise_rate.assign(self._noise_rate)

    def _new_log_weights(self, update_index, epoch):
        state = self._state
        losses = self._collect_losses()
        check_finite(losses, "losses")
        if self._auto_eta or self.max_weight == "auto":
            self._update_noise_rate(losses)
        history = np.asarray(state.cumulative_loss.numpy(), np.float64) + losses
        eta = self._eta_for(epoch, history)
        self._current_eta = eta
        log_p, cumulative, scaled = mw_update(
            state.cumulative_loss.numpy(),
            losses,
            eta,
            history_mode=self.history_mode,
            scaled_history=state.scaled_history.numpy(),
        )
        cap = self.max_weight
        if cap == "auto":  # no cap before the losses show two groups (see auto_tuning)
            split_seen = int(state.split_updates.numpy()) > 0
            cap = auto_tuning.auto_max_weight(self._noise_rate, self.num_examples)
            cap = cap if split_seen else None
        if cap is not None:
            log_p = project_capped_simplex_log(log_p, cap)
        state.cumulative_loss.assign(np.asarray(cumulative, np.float32))
        state.scaled_history.assign(np.asarray(scaled, np.float32))
        state.last_loss.assign(np.asarray(losses, np.float32))
        state.has_loss.assign(np.ones(self.num_examples, np.float32))
        return log_p

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

"""Checks that ``fit`` runs the pipeline ``attach()`` built, and the step arithmetic.

The weights reach training through a lookup in the ``tf.data`` pipeline, so a pipeline
that is repeated, cached or cut short after ``attach()`` would silently train on stale
or frozen weights.  These pure functions turn what the callback observes (steps,
lookups, ``steps_per_execution``) into the error a user can act on.
"""


def check_attached(weighter, attached):
    """The weighter's data must come from its ``attach()``."""
    if not attached:
        raise ValueError(
            f"{type(weighter).__name__} has no training data: build the training dataset with "
            "`train_ds = weighter.attach(x, y, batch_size=...)` and pass it to "
            "`model.fit(train_ds, shuffle=False, callbacks=[weighter])`."
        )


def check_update_every(update_every, steps_per_execution):
    """Weights can only change between executions: ``update_every >= steps_per_execution``."""
    if update_every is not None and update_every < steps_per_execution:
        raise ValueError(
            f"`update_every={update_every}` is smaller than the model's "
            f"steps_per_execution={steps_per_execution}: weights can only change between "
            f"executions. Use update_every >= {steps_per_execution} (a multiple of it updates "
            "exactly every update_every steps)."
        )


def check_steps_per_epoch(fit_steps, attached_steps, update_every, attach_calls=1):
    """Per-epoch updates need ``fit`` to run exactly the attached batches each epoch.

    ``attach_calls`` > 1 (the weighter was attached more than once) adds the likelier
    cause: ``fit`` got the dataset of an earlier ``attach()``.
    """
    if (
        update_every is None
        and fit_steps is not None
        and attached_steps is not None
        and fit_steps != attached_steps
    ):
        raise ValueError(
            f"fit() runs {fit_steps} steps per epoch but the attached data has "
            f"{attached_steps} batches: the dataset was repeat()ed after attach() or "
            "`steps_per_epoch` was given, so epochs and weight updates would not line up "
            "(and prefetched batches would carry stale weights). Pass attach()'s result "
            "to fit() as it is, without steps_per_epoch, or use `update_every=` steps."
            + _earlier_attach_hint(attach_calls)
        )


def _earlier_attach_hint(attach_calls):
    if attach_calls <= 1:
        return ""
    return (
        f" This weighter was attached {attach_calls} times: each attach() builds a new "
        "pipeline and only the last one carries the weights, so fit() must get the dataset "
        "returned by the latest attach() (use one weighter per dataset)."
    )


def check_earlier_pipelines(lookups, earlier_lookups, attach_calls):
    """``fit`` trained on the dataset of an earlier ``attach()`` of the same weighter.

    Args:
        lookups: weight lookups of the current pipeline this epoch.
        earlier_lookups: weight lookups this epoch of the pipelines of earlier ``attach()``
            calls.
        attach_calls: how many times the weighter was attached.
    """
    if lookups == 0 and any(n > 0 for n in earlier_lookups):
        raise ValueError(
            "fit() trained on a dataset from an earlier attach() of this weighter: its "
            "batches read weights that are no longer updated." + _earlier_attach_hint(attach_calls)
        )


def check_lookups(lookups, steps, update_every):
    """Every training batch of an epoch went through the weight lookup, exactly once.

    Args:
        lookups: weight lookups the pipeline made this epoch.
        steps: training steps of the epoch.
        update_every: the weighter's ``update_every`` (``None``: per epoch).
    """
    if steps == 0:
        return
    if lookups == 0:
        raise ValueError(
            "No batch of this epoch went through the weight lookup: the dataset passed to "
            "fit() is not the one returned by `attach()`, or it was cached after attach() "
            "(then the weights are frozen). Apply cache()/shuffle() before attach() (or use "
            "attach(..., cache=True)) and pass attach()'s result to fit()."
        )
    if lookups > steps and update_every is None:
        raise ValueError(
            f"{lookups} batches were looked up for {steps} training steps this epoch: "
            "the pipeline was repeat()ed after attach() (or fit() was given a "
            "steps_per_epoch shorter than the dataset), so prefetched batches carry stale "
            "weights into the next epoch. Do not call repeat() on the dataset returned by "
            "attach() and let Keras iterate it once per epoch, or use `update_every=` steps."
        )


def steps_done_after_batch(batch, batch_begin, steps_per_execution, steps_per_epoch):
    """Steps of the epoch done when Keras calls ``on_train_batch_end(batch)``.

    Keras >= 3.9 passes the last step of the execution (the first to
    ``on_train_batch_begin``); Keras 3.8 passes the first step to both.  Either reports
    a full execution even when the epoch's last one is shorter, hence the clamp.

    Args:
        batch: the ``batch`` argument of ``on_train_batch_end``.
        batch_begin: the ``batch`` argument of the matching ``on_train_batch_begin``.
        steps_per_execution: the model's ``steps_per_execution``.
        steps_per_epoch: steps of an epoch, or ``None`` when unknown.

    Returns:
        int: steps done in the epoch.

    Example:

    >>> steps_done_after_batch(7, 4, 4, 10)  # Keras >= 3.9: steps 4..7 ran
    8
    >>> steps_done_after_batch(8, 8, 4, 10)  # Keras 3.8, short last execution
    10
    """
    if steps_per_execution > 1 and batch == batch_begin:
        done = int(batch) + steps_per_execution
    else:
        done = int(batch) + 1
    return done if steps_per_epoch is None else min(done, steps_per_epoch)


def check_resumed_history(weighter, epoch, has_history):
    """A run that starts at ``epoch > 0`` must have restored the weighting state too."""
    if epoch > 0 and not has_history:
        kind = type(weighter).__name__
        raise ValueError(
            f"fit() starts at epoch {epoch} but {kind} '{weighter.name}' has no "
            "history: the model's weights were restored without the weighting state. "
            "Call `weighter.set_model(model)` before `model.load_weights(path)` (or use "
            "keras.callbacks.BackupAndRestore) so the state is loaded too; to start the "
            f"weighting afresh at epoch {epoch}, pass `{kind}(..., resume=False)`."
        )

"""The one module where keras-mr touches Keras' private or undocumented state.

Everything else in keras-mr uses Keras' public API.  Each function below wraps
one access to an internal of Keras, names the Keras versions whose source it was
checked against, and has a test in ``tests/_internal/test_keras_compat.py`` that
fails when Keras changes what the function relies on (tox runs it on the oldest
supported Keras, ``keras-min``, and the newest).

The last section holds keras-mr's own per-model state (the training-loss recorder,
the running weighters, a cached loss function): it is kept in a table beside the
model, keyed weakly by the model, rather than as attributes set on the user's
model.
"""

import weakref

__all__ = [
    "compiled_loss_weights",
    "model_side_state",
    "set_tracked_attribute",
    "sync_jax_state",
    "unreduced_loss_copy",
]


def unreduced_loss_copy(loss):
    """A shallow copy of a ``keras.losses.Loss`` whose ``reduction`` is ``None``.

    ``keras.losses.Loss`` has no public way to change the reduction of an existing
    instance, and ``copy.copy`` goes through Keras' pickling (a config round trip,
    which custom subclasses without ``get_config`` do not survive).  The copy shares
    every attribute of ``loss`` (wrapped function, its keyword arguments, dtype
    policy) except ``reduction``; ``loss`` itself is unchanged.

    Relies on: ``Loss`` keeping its state in the instance ``__dict__`` (no
    ``__slots__``) and ``Loss.__call__`` reading ``self.reduction`` when it reduces.
    Checked on Keras 3.8.0 and 3.15.1 (``keras/src/losses/loss.py``: ``__init__``
    sets ``self.reduction``, ``__call__`` passes ``reduction=self.reduction``).

    Args:
        loss: a ``keras.losses.Loss`` instance.

    Returns:
        A new instance of ``type(loss)`` with ``reduction=None``.
    """
    unreduced = object.__new__(type(loss))
    unreduced.__dict__.update(loss.__dict__)
    unreduced.reduction = None
    return unreduced


def compiled_loss_weights(model):
    """The ``loss_weights`` given to ``model.compile``, or ``None``.

    Keras keeps them only in its private ``CompileLoss`` object:
    ``model._compile_loss._user_loss_weights``.  Checked on Keras 3.8.0 and 3.15.1
    (``keras/src/trainers/trainer.py``: ``compile`` sets
    ``self._compile_loss = CompileLoss(loss, loss_weights, ...)`` when a loss is
    given, ``None`` otherwise; ``keras/src/trainers/compile_utils.py``:
    ``CompileLoss.__init__`` sets ``self._user_loss_weights = loss_weights``).

    Args:
        model: a Keras model, compiled or not.

    Returns:
        A float, a list or dict of floats (one per output), or ``None`` when the
        model was compiled without ``loss_weights`` or without a loss.

    Raises:
        RuntimeError: the model has a compiled loss but Keras no longer keeps the
            ``loss_weights`` where this function looks (a Keras release this
            keras-mr version does not know); using ``None`` would silently drop
            the weights.
    """
    compile_loss = getattr(model, "_compile_loss", None)
    if compile_loss is None:
        return None
    if not hasattr(compile_loss, "_user_loss_weights"):
        raise RuntimeError(
            "keras-mr cannot read the `loss_weights` of the compiled loss in this Keras "
            "release (`model._compile_loss._user_loss_weights` is gone). Pass "
            "`per_example_loss_fn=lambda model, x, y: ...` to the weighter, or use a "
            "Keras version keras-mr supports."
        )
    return compile_loss._user_loss_weights


def set_tracked_attribute(model, name, value):
    """Sets ``model.<name> = value`` so that Keras tracks (and saves) ``value``.

    Keras locks the tracker of a built subclassed model (Functional models stay
    open): assigning a new layer then raises.  A weighter attaches its state layer
    after the model was built when a ``tf.distribute`` strategy builds it before the
    callbacks run, or when the user called the model first.  The lock is lifted for
    this one assignment and restored.

    Relies on: ``Layer._tracker`` (a ``Tracker``, ``keras/src/utils/tracking.py``) with a
    ``locked`` flag and ``lock()`` / ``unlock()`` methods.  Checked on Keras 3.8.0
    and 3.15.1 (``keras/src/layers/layer.py`` ``_initialize_tracker``,
    ``keras/src/utils/tracking.py`` ``Tracker``).

    Args:
        model: a Keras model (or layer).
        name: the attribute name.
        value: the value, typically a ``keras.layers.Layer``.
    """
    tracker = getattr(model, "_tracker", None)
    locked = bool(getattr(tracker, "locked", False))
    if locked:
        tracker.unlock()
    try:
        setattr(model, name, value)
    finally:
        if locked:
            tracker.lock()


def sync_jax_state(model):
    """Writes the JAX trainer's variable values back into ``model``'s variables.

    During ``fit`` on the JAX backend the trainer keeps the current variable values
    in its own state and writes them into the model's variables only when asked
    (``model.jax_state_sync()``, an undocumented method of the JAX trainer, which
    Keras' own callbacks call) or at the end of the epoch.  A callback that reads
    variables mid-epoch calls this first.  A no-op on the other backends, whose
    models have no such method.

    Checked on Keras 3.8.0 and 3.15.1 (``keras/src/backend/jax/trainer.py``:
    ``JAXTrainer.jax_state_sync``; ``fit`` stores ``self._jax_state`` before
    ``callbacks.on_train_batch_end``).

    Args:
        model: a Keras model.
    """
    sync = getattr(model, "jax_state_sync", None)
    if sync is not None:
        sync()


# keras-mr's own state for a model, beside it: model -> {key: value}.  Weak keys, so
# that a deleted model frees its entry.  Not Keras state: kept here so that no
# module sets attributes of its own on a user's model.
_SIDE_STATE = weakref.WeakKeyDictionary()


def model_side_state(model):
    """keras-mr's own mutable state for ``model``: a dict, created on first use.

    keras-mr keeps per-model objects that must not become part of the model (not
    tracked, not saved): the training-loss recorder of a weighter with
    ``loss_source="train"``, the names of the weighters running on the model, the
    per-example loss function built for it.  Storing them as attributes would make
    Keras track them on the user's model; they live in this table instead, freed
    with the model.

    Args:
        model: a Keras model.

    Returns:
        The dict for ``model`` (the same object on every call).
    """
    state = _SIDE_STATE.get(model)
    if state is None:
        state = _SIDE_STATE[model] = {}
    return state

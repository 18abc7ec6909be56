"""The one place keras-mr imports TensorFlow and checks the Keras backend."""

import keras

from keras_mr.errors import BackendNotSupportedError


def require_tensorflow(feature, backend=False):
    """Returns the ``tensorflow`` module, or raises :class:`BackendNotSupportedError`.

    Args:
        feature: what needs TensorFlow, for the message (e.g. ``"indexed_dataset"``).
        backend: ``True`` when the feature also needs TensorFlow as the Keras
            backend (``tf.GradientTape`` training steps), not only ``tf.data``.

    Returns:
        The imported ``tensorflow`` module.
    """
    current = keras.backend.backend()
    if backend and current != "tensorflow":
        raise BackendNotSupportedError(_message(feature, current, installed=True))
    try:
        import tensorflow as tf
    except ImportError as error:
        raise BackendNotSupportedError(_message(feature, current, installed=False)) from error
    return tf


def _message(feature, current, installed):
    need = "the TensorFlow backend (KERAS_BACKEND=tensorflow)" if installed else "TensorFlow"
    return (
        f"{feature} needs {need}; the Keras backend is {current!r}"
        + ("" if installed else " and TensorFlow is not installed")
        + ". Install it with `pip install keras-mr[tf]` and set KERAS_BACKEND=tensorflow."
    )


class LazyTensorFlow:
    """Stands for the ``tensorflow`` module in a module that must import without it.

    The first attribute access imports TensorFlow through :func:`require_tensorflow`
    (so a missing TensorFlow raises :class:`BackendNotSupportedError` naming ``feature``).

    Args:
        feature: what needs TensorFlow, for the error message.
    """

    def __init__(self, feature):
        self._feature = feature

    def __getattr__(self, name):
        return getattr(require_tensorflow(self._feature), name)


def tensorflow_available():
    """Whether TensorFlow can be imported (imports it when it can)."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return False
    return True

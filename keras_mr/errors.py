"""Exceptions of keras-mr."""


class BackendNotSupportedError(RuntimeError):
    """A feature needs TensorFlow (installed, or as the Keras backend) and does not have it.

    Raised, with one message format, by every keras-mr entry point that needs
    TensorFlow: the ``tf.data`` pipelines (:func:`keras_mr.indexed_dataset`,
    ``SampleWeighter.attach``), and the custom training steps that use
    ``tf.GradientTape`` or ``tf.distribute`` (adversarial, constrained
    reweighting, Meta-Weight-Net, ``loss_source="train"``).

    Example:

    >>> import keras_mr
    >>> issubclass(keras_mr.BackendNotSupportedError, RuntimeError)
    True
    """

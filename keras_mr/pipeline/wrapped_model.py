"""WrappedModel: a Keras model that trains an inner model with its own ``train_step``."""

import keras


class WrappedModel(keras.Model):
    """Base of keras-mr's models that wrap a user model (``self.model``).

    The wrapper is called like the inner model and is built when it is; the
    subclasses (adversarial training, constrained reweighting, training-loss
    recording) add their own ``train_step`` or ``compute_loss``.

    Args:
        model: the Keras model to train.
        **kwargs: passed to ``keras.Model``.
    """

    def __init__(self, model, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(model, keras.layers.Layer):
            raise TypeError(f"`model` must be a Keras model, got {type(model).__name__}.")
        self.model = model

    def build(self, input_shape):
        if not self.model.built:
            self.model.build(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        return self.model(inputs, training=training)

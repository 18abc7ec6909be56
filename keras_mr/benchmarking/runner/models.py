"""The model builders of the runner (MLP, CNN, picked from the input shape)."""

from keras_mr.benchmarking.registry import Registry


def _mlp(input_shape, num_classes, width=256, depth=2):
    import keras

    hidden = [keras.layers.Dense(width, activation="relu") for _ in range(depth)]
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            *hidden,
            keras.layers.Dense(num_classes),
        ],
        name="mlp",
    )


def _cnn(input_shape, num_classes, width=32, dense=None, padding="same"):
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(width, 3, activation="relu", padding=padding),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(2 * width, 3, activation="relu", padding=padding),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(dense or 4 * width, activation="relu"),
            keras.layers.Dense(num_classes),
        ],
        name="cnn",
    )


MODELS = Registry("model")
MODELS.register("mlp", _mlp)
MODELS.register("cnn", _cnn)
"""Model registry: ``name -> fn(input_shape, num_classes, width, **model_kwargs) -> keras.Model``.

``mlp``: Flatten, ``depth`` (default 2) Dense(width=256) ReLU layers, logits.
``cnn``: two 3x3 Conv(width=32, 2 width; ``padding="same"`` by default) + 2x2
max-pool blocks, Dense(``dense``, default 4 width), logits.  The benchmark scripts
build their networks from the same registry (e.g. ``depth=1``, ``padding="valid"``).
No dropout or weight decay: plain training is allowed to memorise noisy labels, as in
the papers' baselines.
"""


def _auto_model(input_shape):
    return "cnn" if len(input_shape) == 3 and min(input_shape[:2]) >= 16 else "mlp"


def make_model_builder(
    model,
    input_shape,
    num_classes,
    optimizer="adam",
    lr=1e-3,
    width=None,
    model_kwargs=None,
    decay_steps=None,
):
    """``fn() -> compiled keras.Model`` for the runner (logits + sparse CE + accuracy).

    With ``decay_steps`` the learning rate follows a cosine decay to 0 over
    that many steps (``keras.optimizers.schedules.CosineDecay``).
    """
    import keras

    if model == "auto":
        model = _auto_model(input_shape)
    if model != "auto":
        MODELS.canonical(model)  # a clear error for an unknown name
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"`optimizer` must be 'adam' or 'sgd', got {optimizer!r}.")

    def build():
        kwargs = dict(model_kwargs or {})
        if width is not None:
            kwargs["width"] = width
        net = MODELS[model](input_shape, num_classes, **kwargs)
        rate = lr if not decay_steps else keras.optimizers.schedules.CosineDecay(lr, decay_steps)
        opt = (
            keras.optimizers.Adam(rate)
            if optimizer == "adam"
            else keras.optimizers.SGD(rate, momentum=0.9)
        )
        net.compile(
            opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
        )
        return net

    return build

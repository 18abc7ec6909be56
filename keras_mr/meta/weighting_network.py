"""The weighting network of Meta-Weight-Net (loss -> weight) and its default optimizer."""

import keras


def build_weighting_network(hidden_units=100, name="weighting_network"):
    """The default MW-Net weighting network: loss -> weight in (0, 1).

    A 1-``hidden_units``-1 MLP with ReLU and a sigmoid output, as in MW-Net
    and the RMNW paper (one hidden layer with 100 units).  Its input is the
    per-example training loss, shape ``(B, 1)``.

    Args:
        hidden_units: width of the hidden layer.
        name: model name.

    Returns:
        A built ``keras.Sequential`` mapping ``(B, 1) -> (B, 1)``.
    """
    if int(hidden_units) < 1:
        raise ValueError(f"`hidden_units` must be >= 1, got {hidden_units}.")
    return keras.Sequential(
        [
            keras.Input(shape=(1,)),
            keras.layers.Dense(int(hidden_units), activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="weight"),
        ],
        name=name,
    )


def default_meta_optimizer():
    """Adam, learning rate 1e-3, weight decay 5e-4 (the papers' weighting-net settings).

    Keras' ``weight_decay`` is decoupled (AdamW-style), whereas the PyTorch
    reference code adds an L2 term to the gradient; with these tiny values the
    difference is immaterial.
    """
    return keras.optimizers.Adam(learning_rate=1e-3, weight_decay=5e-4)

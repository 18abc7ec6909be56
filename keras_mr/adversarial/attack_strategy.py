"""LAS-AT's attack strategies: the candidate space, the default strategy network, log-probabilities.

:class:`AttackStrategySpace` lists the discrete attack parameters (``eps``, step size,
iterations) a strategy network chooses from; :func:`build_strategy_network` is the
default network; :func:`action_log_probability` is ``log pi(a | x)`` of the three
categorical choices, the quantity LAS-AT's REINFORCE step differentiates.
"""

import keras
from keras import ops

from keras_mr.adversarial import attacks

# The paper's CIFAR-10 candidates: eps in {3..14}/255, step size in {1..4}/255, 3..13 steps.
PAPER_EPS_255 = tuple(range(3, 15))
PAPER_STEP_SIZE_255 = (1, 2, 3, 4)
PAPER_STEPS = tuple(range(3, 14))
_PAPER_EPS = 8 / 255


def _floats(values, name):
    values = tuple(attacks.check_eps(v, name) for v in values)
    if not values:
        raise ValueError(f"`{name}` must list at least one candidate.")
    return values


class AttackStrategySpace:
    """The discrete attack parameters LAS-AT's strategy network chooses from.

    Args:
        eps: candidate radii; ``None``: the paper's ``{3, ..., 14}/255`` scaled by
            ``threat eps / (8/255)`` (exactly the paper's set at ``eps = 8/255``).
        step_size: candidate PGD step sizes; ``None``: the paper's ``{1, ..., 4}/255``,
            scaled the same way.
        steps: candidate iteration counts (ints >= 0); ``None``: the paper's ``3, ..., 13``.

    Example:

    >>> from keras_mr.adversarial import AttackStrategySpace
    >>> space = AttackStrategySpace(steps=(1, 2)).resolve(threat_eps=4 / 255)
    >>> space.sizes, round(space.eps[0] * 255, 2)
    ((12, 4, 2), 1.5)
    """

    def __init__(self, eps=None, step_size=None, steps=None):
        self.eps = None if eps is None else _floats(eps, "eps")
        self.step_size = None if step_size is None else _floats(step_size, "step_size")
        if steps is not None:
            steps = tuple(steps)
            if not steps or any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
                raise ValueError(f"`steps` must list ints >= 0, got {steps!r}.")
            if min(steps) < 0:
                raise ValueError(f"`steps` must list ints >= 0, got {steps!r}.")
        self.steps = steps

    def resolve(self, threat_eps):
        """A space with every ``None`` replaced by the paper's set for ``threat_eps``."""
        scale = float(threat_eps) / _PAPER_EPS
        return AttackStrategySpace(
            self.eps or tuple(scale * e / 255 for e in PAPER_EPS_255),
            self.step_size or tuple(scale * s / 255 for s in PAPER_STEP_SIZE_255),
            self.steps or PAPER_STEPS,
        )

    @property
    def sizes(self):
        """Number of candidates ``(K_eps, K_step_size, K_steps)`` (a resolved space)."""
        return len(self.eps), len(self.step_size), len(self.steps)

    def get_config(self):
        return {"eps": self.eps, "step_size": self.step_size, "steps": self.steps}


def build_strategy_network(input_shape, space, hidden=64):
    """The default strategy network: ``Flatten -> Dense(hidden, relu) -> Dense(K)``.

    Its output is the concatenation of the logits of the three categorical choices
    (``K = K_eps + K_step_size + K_steps``).  The paper uses a ResNet-18; pass any model
    with this output to :class:`LASATAdversarialModel` instead.

    Args:
        input_shape: the target model's input shape (with or without the batch axis).
        space: a resolved :class:`AttackStrategySpace`.
        hidden: width of the hidden layer.

    Returns:
        A built ``keras.Sequential``.
    """
    shape = tuple(input_shape)
    if len(shape) > 1 and shape[0] is None:
        shape = shape[1:]
    return keras.Sequential(
        [
            keras.Input(shape),
            keras.layers.Flatten(),
            keras.layers.Dense(hidden, activation="relu"),
            keras.layers.Dense(sum(space.sizes)),
        ],
        name="strategy_network",
    )


def action_log_probability(logits, actions, sizes):
    """``log pi(a_i | x_i) = sum_h log softmax(logits_h)[a_{i,h}]`` over the three heads.

    Args:
        logits: ``(B, K)`` strategy-network outputs (concatenated heads).
        actions: ``(B, 3)`` int indices (eps, step size, steps).
        sizes: ``(K_eps, K_step_size, K_steps)``.

    Returns:
        ``(B,)`` float32 log-probabilities.
    """
    logits = ops.cast(logits, "float32")
    total, start = 0.0, 0
    for head, size in enumerate(sizes):
        log_p = ops.log_softmax(logits[:, start : start + size], axis=-1)
        onehot = ops.one_hot(ops.cast(actions[:, head], "int32"), size, dtype="float32")
        total = total + ops.sum(log_p * onehot, axis=-1)
        start += size
    return total

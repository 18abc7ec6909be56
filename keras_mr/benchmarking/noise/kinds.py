"""Noise kinds by name: the registry ``apply_noise`` (the runner, the CLI) looks up."""

import numpy as np

from keras_mr.benchmarking.noise._common import NoisyLabels
from keras_mr.benchmarking.noise._common import check_inputs
from keras_mr.benchmarking.noise.class_conditional import confusion_noise
from keras_mr.benchmarking.noise.class_conditional import flip2_noise
from keras_mr.benchmarking.noise.class_conditional import flip_noise
from keras_mr.benchmarking.noise.class_conditional import pair_flip_noise
from keras_mr.benchmarking.noise.class_conditional import symmetric_noise
from keras_mr.benchmarking.noise.instance_dependent import instance_dependent_noise
from keras_mr.benchmarking.registry import Registry

NOISE_TYPES = {
    "symmetric": "symmetric_noise(include_true=False): new label always differs",
    "uniform": "symmetric_noise(include_true=True): label resampled over all K classes",
    "pair": "pair_flip_noise: c -> c + 1",
    "flip": "flip_noise: one random other class per class",
    "flip2": "flip2_noise: two random other classes per class",
    "instance": "instance_dependent_noise (needs x)",
    "confusion": "confusion_noise: look-alike classes, nearest class means (needs x)",
    "none": "no noise",
}

# kind -> fn(labels, rate, num_classes, seed, x) -> NoisyLabels
NOISE = Registry("noise kind")


@NOISE.register("symmetric", aliases=("sym",))
def _symmetric(labels, rate, num_classes, seed, x):
    return symmetric_noise(labels, rate, num_classes, seed)


@NOISE.register("uniform")
def _uniform(labels, rate, num_classes, seed, x):
    return symmetric_noise(labels, rate, num_classes, seed, include_true=True)


@NOISE.register("pair", aliases=("pair_flip", "pairflip"))
def _pair(labels, rate, num_classes, seed, x):
    return pair_flip_noise(labels, rate, num_classes, seed)


@NOISE.register("flip")
def _flip(labels, rate, num_classes, seed, x):
    return flip_noise(labels, rate, num_classes, seed)


@NOISE.register("flip2")
def _flip2(labels, rate, num_classes, seed, x):
    return flip2_noise(labels, rate, num_classes, seed)


@NOISE.register("instance", aliases=("instance_dependent", "idn"))
def _instance(labels, rate, num_classes, seed, x):
    if x is None:
        raise ValueError("`x` is required for kind='instance' (instance-dependent noise).")
    return instance_dependent_noise(x, labels, rate, num_classes, seed)


@NOISE.register("confusion", aliases=("lookalike", "class_confusion"))
def _confusion(labels, rate, num_classes, seed, x):
    if x is None:
        raise ValueError("`x` is required for kind='confusion' (look-alike classes).")
    return confusion_noise(x, labels, rate, num_classes, seed)


@NOISE.register("none", aliases=("clean",))
def _none(labels, rate, num_classes, seed, x):
    labels, _ = check_inputs(labels, 0.0, num_classes)
    return NoisyLabels(labels.copy(), np.zeros(labels.shape, bool), np.eye(num_classes))


def apply_noise(kind, labels, rate, num_classes, seed=None, x=None):
    """Applies the noise kind registered as ``kind`` (used by the runner and the CLI).

    Args:
        kind: a name of :data:`NOISE`: ``"symmetric"``, ``"uniform"`` (symmetric with
            ``include_true=True``), ``"pair"``, ``"flip"``, ``"flip2"``, ``"instance"``
            (needs ``x``) or ``"none"``, or one of their aliases.
        labels, rate, num_classes, seed: as for the generators.
        x: features, for ``"instance"`` and ``"confusion"``.

    Returns:
        :class:`NoisyLabels`.

    Example:

    >>> import numpy as np
    >>> res = apply_noise("pair", np.repeat(np.arange(4), 25), 0.2, 4, seed=0)
    >>> int(res.noisy_mask.sum())
    20
    """
    return NOISE.get(kind)(labels, rate, num_classes, seed, x)

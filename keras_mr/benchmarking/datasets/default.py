"""The embedded default dataset: procedural, deterministic, no download."""

import numpy as np

from keras_mr.benchmarking.datasets.base import Dataset


def _smooth_prototypes(num_classes, side, rng):
    """Smooth random grey-level patterns, one per class (sum of 2-D cosines)."""
    yy, xx = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    protos = np.zeros((num_classes, side, side))
    for c in range(num_classes):
        for _ in range(4):
            fy, fx = rng.integers(0, 3, size=2)
            phase = rng.uniform(0, 2 * np.pi)
            protos[c] += rng.normal() * np.cos(np.pi * (fy * yy + fx * xx) / side * 2 + phase)
        protos[c] -= protos[c].mean()
        protos[c] /= protos[c].std() + 1e-12
    return protos


def load_default(n_train=2000, n_test=1000, side=8, num_classes=10, noise_std=2.0, seed=0):
    """A small 10-class image-like problem, generated on the fly (no files).

    Every class has a smooth random ``side x side`` grey-level prototype
    (a sum of a few 2-D cosines, fixed by ``seed``); an example is its class
    prototype plus i.i.d. Gaussian pixel noise of std ``noise_std``.  Classes
    are balanced.  A small MLP reaches high clean accuracy within a few
    seconds, while it memorises noisy labels if trained long enough: the
    setting in which label noise hurts plain training and MR helps.  It is
    the dataset of the README's main command (``keras-mr --dataset default``).

    Args:
        n_train: number of training examples.
        n_test: number of test examples.
        side: image side (inputs are ``(side, side, 1)`` float32).
        num_classes: number of classes.
        noise_std: pixel noise std (prototypes have unit std); larger = harder.
        seed: generator seed (prototypes and samples).

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset`.

    Example:

    >>> data = load_default()
    >>> data.x_train.shape, data.num_classes
    ((2000, 8, 8, 1), 10)
    """
    for name, v in (("n_train", n_train), ("n_test", n_test), ("side", side)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"`{name}` must be a positive integer, got {v!r}.")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"`num_classes` must be an integer >= 2, got {num_classes!r}.")
    rng = np.random.default_rng(seed)
    protos = _smooth_prototypes(num_classes, side, rng)

    def sample(n):
        y = rng.permutation(np.arange(n) % num_classes)
        x = protos[y] + noise_std * rng.normal(size=(n, side, side))
        return x[..., None].astype("float32"), y.astype("int64")

    x_train, y_train = sample(n_train)
    x_test, y_test = sample(n_test)
    return Dataset(
        name="default",
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        y_test=y_test,
        num_classes=num_classes,
        class_names=[f"pattern_{c}" for c in range(num_classes)],
        info={"side": side, "noise_std": noise_std, "seed": seed},
    )

"""Dataset loaders: train/test arrays plus per-example indices for the weighting callbacks.

Every loader returns a :class:`Dataset`.  ``load_dataset(name, **kwargs)``
looks a loader up by name (used by the runner / CLI).
"""

from keras_mr.benchmarking.datasets.base import Dataset  # noqa: F401
from keras_mr.benchmarking.datasets.cifar import load_cifar10
from keras_mr.benchmarking.datasets.cifar import load_cifar100
from keras_mr.benchmarking.datasets.clothing1m import clothing1m_image_dataset  # noqa: F401
from keras_mr.benchmarking.datasets.clothing1m import load_clothing1m
from keras_mr.benchmarking.datasets.default import load_default
from keras_mr.benchmarking.datasets.fashion_mnist import fashion_mnist_available  # noqa: F401
from keras_mr.benchmarking.datasets.fashion_mnist import load_fashion_mnist
from keras_mr.benchmarking.datasets.synthetic import least_squares_1d_arrays  # noqa: F401
from keras_mr.benchmarking.datasets.synthetic import load_least_squares_1d  # noqa: F401
from keras_mr.benchmarking.datasets.synthetic import load_logistic_1d
from keras_mr.benchmarking.datasets.synthetic import load_two_moons
from keras_mr.benchmarking.datasets.synthetic import make_moons  # noqa: F401

LOADERS = {
    "default": load_default,
    "fashion_mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "clothing1m": load_clothing1m,
    "two_moons": load_two_moons,
    "logistic_1d": load_logistic_1d,
}


def load_dataset(name, **kwargs):
    """Loads a dataset by name (``keras_mr.benchmarking.datasets.LOADERS``).

    Args:
        name: ``"default"``, ``"fashion_mnist"`` (alias ``"fmnist"``),
            ``"cifar10"``, ``"cifar100"``, ``"clothing1m"`` (needs ``root=``),
            ``"two_moons"`` or ``"logistic_1d"``.
        **kwargs: passed to the loader.

    Returns:
        :class:`Dataset`.
    """
    aliases = {
        "fmnist": "fashion_mnist",
        "fashion-mnist": "fashion_mnist",
        "moons": "two_moons",
        "cifar-10": "cifar10",
        "cifar-100": "cifar100",
    }
    key = aliases.get(name, name)
    if key not in LOADERS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {sorted(LOADERS)}.")
    return LOADERS[key](**kwargs)

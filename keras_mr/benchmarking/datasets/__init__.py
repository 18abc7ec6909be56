"""Dataset loaders: train/test arrays plus per-example indices for the weighting callbacks.

Every loader returns a :class:`Dataset`.  ``load_dataset(name, **kwargs)``
looks a loader up by name (used by the runner / CLI).
"""

from keras_mr.benchmarking.datasets.base import Dataset
from keras_mr.benchmarking.datasets.cifar import load_cifar10
from keras_mr.benchmarking.datasets.cifar import load_cifar100
from keras_mr.benchmarking.datasets.clothing1m import clothing1m_image_dataset
from keras_mr.benchmarking.datasets.clothing1m import load_clothing1m
from keras_mr.benchmarking.datasets.default import load_default
from keras_mr.benchmarking.datasets.fashion_mnist import fashion_mnist_available
from keras_mr.benchmarking.datasets.fashion_mnist import load_fashion_mnist
from keras_mr.benchmarking.datasets.synthetic import least_squares_1d_arrays
from keras_mr.benchmarking.datasets.synthetic import load_least_squares_1d
from keras_mr.benchmarking.datasets.synthetic import load_logistic_1d
from keras_mr.benchmarking.datasets.synthetic import load_two_moons
from keras_mr.benchmarking.datasets.synthetic import make_moons
from keras_mr.benchmarking.registry import Registry

LOADERS = Registry("dataset")
LOADERS.register("default", load_default)
LOADERS.register("fashion_mnist", load_fashion_mnist, aliases=("fmnist", "fashion-mnist"))
LOADERS.register("cifar10", load_cifar10, aliases=("cifar-10",))
LOADERS.register("cifar100", load_cifar100, aliases=("cifar-100",))
LOADERS.register("clothing1m", load_clothing1m)
LOADERS.register("two_moons", load_two_moons, aliases=("moons",))
LOADERS.register("logistic_1d", load_logistic_1d)

__all__ = [
    "LOADERS",
    "Dataset",
    "clothing1m_image_dataset",
    "fashion_mnist_available",
    "least_squares_1d_arrays",
    "load_cifar10",
    "load_cifar100",
    "load_clothing1m",
    "load_dataset",
    "load_default",
    "load_fashion_mnist",
    "load_least_squares_1d",
    "load_logistic_1d",
    "load_two_moons",
    "make_moons",
]


def load_dataset(name, **kwargs):
    """Loads a dataset by name (a :data:`LOADERS` entry, a :class:`Registry`).

    Args:
        name: ``"default"``, ``"fashion_mnist"`` (alias ``"fmnist"``),
            ``"cifar10"``, ``"cifar100"``, ``"clothing1m"`` (needs ``root=``),
            ``"two_moons"`` or ``"logistic_1d"``.
        **kwargs: passed to the loader.

    Returns:
        :class:`Dataset`.
    """
    return LOADERS.get(name)(**kwargs)

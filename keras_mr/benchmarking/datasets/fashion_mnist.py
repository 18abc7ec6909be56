"""Fashion-MNIST through Keras, from local files (no network needed)."""

import gzip
import os
import shutil

import numpy as np

from keras_mr.benchmarking.datasets.base import Dataset

SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"
FILES = (
    "train-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
)
CLASS_NAMES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def _keras_cache_dir():
    """Keras' dataset cache for Fashion-MNIST: ``$KERAS_HOME`` or ``~/.keras``, then
    ``datasets/fashion-mnist`` (where ``keras.datasets.fashion_mnist`` stores it)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return os.path.join(os.path.expanduser(home), "datasets", "fashion-mnist")


def _has_files(folder):
    return folder is not None and all(os.path.isfile(os.path.join(folder, f)) for f in FILES)


def read_idx_gz(path):
    """Reads one gzipped IDX file (the MNIST format) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file.")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says shape {shape} but holds {arr.size} values.")
    return arr.reshape(shape)


def fashion_mnist_available(data_dir=None):
    """Whether :func:`load_fashion_mnist` can run without network."""
    return _has_files(data_dir) or _has_files(_keras_cache_dir()) or _has_files(SYSTEM_DIR)


def load_fashion_mnist(data_dir=None, normalize=True, channel_axis=True):
    """Fashion-MNIST (60,000 train / 10,000 test 28x28 grey images, 10 classes).

    Where the files come from, first match wins:

    1. ``data_dir``: a folder holding the four ``*-idx?-ubyte.gz`` files; read
       directly (nothing is copied);
    2. Keras' cache ``$KERAS_HOME/datasets/fashion-mnist/``: loaded with
       ``keras.datasets.fashion_mnist.load_data()``;
    3. ``/usr/share/datasets/fashion-mnist/`` (Debian/Ubuntu package
       ``dataset-fashion-mnist``): copied into Keras' cache, then loaded with
       Keras as in 2.

    Otherwise a ``FileNotFoundError`` explains how to get the files (no
    download is attempted: it would hang on machines without network).

    Args:
        data_dir: optional folder with the four gz files.
        normalize: scale pixels to float32 in ``[0, 1]`` (else uint8).
        channel_axis: add a trailing channel axis, ``(N, 28, 28, 1)``.

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset`.
    """
    if data_dir is not None:
        if not _has_files(data_dir):
            raise FileNotFoundError(
                f"`data_dir`={data_dir!r} must contain the Fashion-MNIST files {list(FILES)}."
            )
        y_tr, x_tr, y_te, x_te = (read_idx_gz(os.path.join(data_dir, f)) for f in FILES)
        source = data_dir
    else:
        cache = _keras_cache_dir()
        if not _has_files(cache):
            if not _has_files(SYSTEM_DIR):
                raise FileNotFoundError(
                    "Fashion-MNIST files not found. Put the four files "
                    f"{list(FILES)} in {cache} (Keras' cache) or pass `data_dir=`, or on "
                    "Debian/Ubuntu run `apt-get install -y dataset-fashion-mnist` (installs them "
                    f"in {SYSTEM_DIR})."
                )
            os.makedirs(cache, exist_ok=True)
            for f in FILES:
                shutil.copyfile(os.path.join(SYSTEM_DIR, f), os.path.join(cache, f))
        import keras

        (x_tr, y_tr), (x_te, y_te) = keras.datasets.fashion_mnist.load_data()
        source = cache
    if normalize:
        x_tr, x_te = x_tr.astype("float32") / 255.0, x_te.astype("float32") / 255.0
    if channel_axis:
        x_tr, x_te = x_tr[..., None], x_te[..., None]
    return Dataset(
        "fashion_mnist",
        x_tr,
        y_tr,
        x_te,
        y_te,
        10,
        class_names=list(CLASS_NAMES),
        info={"source": source},
    )

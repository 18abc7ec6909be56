"""CIFAR-10 / CIFAR-100 through tensorflow-datasets."""

import numpy as np

from keras_mr.benchmarking.datasets.base import Dataset


def _load_tfds(name, num_classes, data_dir, download, normalize, label_key):
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"Loading {name} needs tensorflow-datasets: `pip install keras-mr[datasets]`."
        ) from e
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        splits = {}
        for split in ("train", "test"):
            ds = builder.as_dataset(split=split, shuffle_files=False)
            images, labels = [], []
            for batch in tfds.as_numpy(ds.batch(4096)):
                images.append(batch["image"])
                labels.append(batch[label_key])
            splits[split] = (np.concatenate(images), np.concatenate(labels))
        names = builder.info.features[label_key].names
    except (AssertionError, FileNotFoundError) as e:
        raise FileNotFoundError(
            f"{name} is not prepared in tensorflow-datasets' data_dir "
            f"({data_dir or '~/tensorflow_datasets'}). "
            "Run with `download=True` on a machine with network, or copy a prepared "
            f"`{name}/` folder there."
        ) from e
    (x_tr, y_tr), (x_te, y_te) = splits["train"], splits["test"]
    if normalize:
        x_tr, x_te = x_tr.astype("float32") / 255.0, x_te.astype("float32") / 255.0
    return Dataset(
        name,
        x_tr,
        np.asarray(y_tr),
        x_te,
        np.asarray(y_te),
        num_classes,
        class_names=list(names),
        info={"source": "tensorflow-datasets", "data_dir": data_dir},
    )


def load_cifar10(data_dir=None, download=False, normalize=True):
    """CIFAR-10 (50,000 / 10,000 32x32x3 images, 10 classes) via tensorflow-datasets.

    Args:
        data_dir: tensorflow-datasets data folder (default ``~/tensorflow_datasets``).
        download: download and prepare when missing (needs network).
        normalize: float32 pixels in ``[0, 1]`` (else uint8).

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset`.
    """
    return _load_tfds("cifar10", 10, data_dir, download, normalize, "label")


def load_cifar100(data_dir=None, download=False, normalize=True):
    """CIFAR-100 (fine labels, 100 classes) via tensorflow-datasets.

    Args:
        data_dir: tensorflow-datasets data folder.
        download: download and prepare when missing (needs network).
        normalize: float32 pixels in ``[0, 1]``.

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset`.
    """
    return _load_tfds("cifar100", 100, data_dir, download, normalize, "label")

"""Clothing1M (Xiao et al., 2015) from a local folder in its published layout."""

import os

import numpy as np

from keras_mr._internal.backend import require_tensorflow
from keras_mr.benchmarking.datasets.base import Dataset

CLASS_NAMES = [
    "T-Shirt",
    "Shirt",
    "Knitwear",
    "Chiffon",
    "Sweater",
    "Hoodie",
    "Windbreaker",
    "Jacket",
    "Down Coat",
    "Suit",
    "Shawl",
    "Dress",
    "Vest",
    "Underwear",
]
_REQUIRED = (
    "noisy_label_kv.txt",
    "clean_label_kv.txt",
    "noisy_train_key_list.txt",
    "clean_test_key_list.txt",
)


def _annotation_dir(root):
    for cand in (root, os.path.join(root, "annotations")):
        if all(os.path.isfile(os.path.join(cand, f)) for f in _REQUIRED):
            return cand
    raise FileNotFoundError(
        f"{root!r} is not a Clothing1M folder: expected the published annotation files "
        f"{list(_REQUIRED)} (plus clean_val_key_list.txt, clean_train_key_list.txt) in it or in "
        "its `annotations/` subfolder, and the images under `images/` (keys such as "
        "`images/0/00/12345.jpg` are paths relative to the folder)."
    )


def _read_kv(path):
    out = {}
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f"{path}:{line_no}: expected 'key label', got {line.strip()!r}.")
            out[parts[0]] = int(parts[1])
    return out


def _read_keys(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def load_clothing1m(root, split_test="clean_test", max_train=None, seed=0, check_images=False):
    """Clothing1M: 1M noisily labelled clothing images, 14 classes, clean test set.

    Expects the layout of the authors' release::

        root/
          noisy_label_kv.txt        "images/0/00/xxx.jpg <label>" (about 1M lines)
          clean_label_kv.txt        verified labels (about 72k lines)
          noisy_train_key_list.txt  training keys (noisy labels)
          clean_train_key_list.txt  clean_val_key_list.txt  clean_test_key_list.txt
          images/0/00/xxx.jpg ...

    (the ``*.txt`` files may also sit in ``root/annotations/``).  Images are
    not decoded here: ``x_train`` / ``x_test`` are arrays of absolute image
    paths; use :func:`clothing1m_image_dataset` for a decoding ``tf.data``
    pipeline of ``(image, label, index)``.

    Training labels are the noisy ones; ``y_train_clean`` holds the verified
    label where ``clean_label_kv.txt`` has one and ``-1`` elsewhere, and
    ``noisy_mask`` is ``True`` where a verified label disagrees (``False``
    where it agrees *or is unknown*; ``info["verified"]`` says which).

    Args:
        root: the dataset folder.
        split_test: ``"clean_test"`` or ``"clean_val"``.
        max_train: keep only this many training keys (random, seeded).
        seed: seed for ``max_train``.
        check_images: verify every referenced image file exists.

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset` with string ``x``.
    """
    if split_test not in ("clean_test", "clean_val"):
        raise ValueError(f"`split_test` must be 'clean_test' or 'clean_val', got {split_test!r}.")
    ann = _annotation_dir(root)
    noisy_kv = _read_kv(os.path.join(ann, "noisy_label_kv.txt"))
    clean_kv = _read_kv(os.path.join(ann, "clean_label_kv.txt"))
    train_keys = [
        k for k in _read_keys(os.path.join(ann, "noisy_train_key_list.txt")) if k in noisy_kv
    ]
    test_keys = _read_keys(os.path.join(ann, f"{split_test}_key_list.txt"))
    missing = [k for k in test_keys if k not in clean_kv]
    if missing:
        raise ValueError(
            f"{len(missing)} {split_test} keys have no clean label, e.g. {missing[0]!r}."
        )
    if max_train is not None and max_train < len(train_keys):
        keep = np.sort(np.random.default_rng(seed).permutation(len(train_keys))[:max_train])
        train_keys = [train_keys[i] for i in keep]
    y_train = np.array([noisy_kv[k] for k in train_keys], dtype=np.int64)
    y_clean = np.array([clean_kv.get(k, -1) for k in train_keys], dtype=np.int64)
    verified = y_clean >= 0
    y_test = np.array([clean_kv[k] for k in test_keys], dtype=np.int64)
    x_train = np.array([os.path.join(root, k) for k in train_keys])
    x_test = np.array([os.path.join(root, k) for k in test_keys])
    if check_images:
        absent = [p for p in list(x_train) + list(x_test) if not os.path.isfile(p)]
        if absent:
            raise FileNotFoundError(
                f"{len(absent)} Clothing1M images are missing, e.g. {absent[0]!r}."
            )
    return Dataset(
        "clothing1m",
        x_train,
        y_train,
        x_test,
        y_test,
        14,
        class_names=list(CLASS_NAMES),
        y_train_clean=y_clean,
        noisy_mask=verified & (y_clean != y_train),
        info={"root": root, "verified": verified, "split_test": split_test},
    )


def clothing1m_image_dataset(paths, labels, image_size=(224, 224)):
    """Unbatched ``tf.data`` of ``(image, label, index)`` decoding the JPEG files.

    Ready for ``weighter.attach(ds, batch_size=...)``.  Images are float32 in
    ``[0, 1]``, resized to ``image_size``.

    Args:
        paths: array of image paths (``data.x_train``).
        labels: int labels (``data.y_train``).
        image_size: ``(height, width)``.
    """
    tf = require_tensorflow("clothing1m_image_dataset")

    def decode(path, label, index):
        img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        img = tf.image.resize(tf.image.convert_image_dtype(img, tf.float32), image_size)
        return img, label, index

    n = len(labels)
    ds = tf.data.Dataset.from_tensor_slices(
        (np.asarray(paths), np.asarray(labels, dtype=np.int64), np.arange(n, dtype=np.int64))
    )
    return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

"""The container every loader returns."""

import dataclasses
from typing import Any
from typing import Optional

import numpy as np


@dataclasses.dataclass
class Dataset:
    """Train/test arrays plus the per-example indices the weighting callbacks use.

    Attributes:
        name: dataset name.
        x_train, y_train: training inputs and (int64) labels.  For
            Clothing1M ``x_*`` are image file paths (see
            :func:`keras_mr.benchmarking.datasets.load_clothing1m`).
        x_test, y_test: clean test inputs and labels.
        num_classes: number of classes ``K``.
        train_indices: int64 ``arange(N)``: the index of every training
            example, as carried by :func:`keras_mr.indexed_dataset` and
            returned in ``weighter.weights``.
        test_indices: int64 ``arange(N_test)``.
        class_names: optional list of ``K`` names.
        y_train_clean: clean training labels when the dataset ships its own
            noise (the 1-D examples, Clothing1M's clean subset), else ``None``.
        noisy_mask: bool ``(N,)`` of known-noisy training labels, or ``None``.
        info: free-form metadata (source folder, generator parameters ...).
    """

    name: str
    x_train: Any
    y_train: np.ndarray
    x_test: Any
    y_test: np.ndarray
    num_classes: int
    class_names: Optional[list] = None
    y_train_clean: Optional[np.ndarray] = None
    noisy_mask: Optional[np.ndarray] = None
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.y_train = np.asarray(self.y_train).astype(np.int64).reshape(-1)
        self.y_test = np.asarray(self.y_test).astype(np.int64).reshape(-1)
        if len(self.x_train) != len(self.y_train):
            raise ValueError(
                f"x_train has {len(self.x_train)} rows but y_train has {len(self.y_train)}."
            )
        if len(self.x_test) != len(self.y_test):
            raise ValueError(
                f"x_test has {len(self.x_test)} rows but y_test has {len(self.y_test)}."
            )

    @property
    def train_indices(self):
        return np.arange(len(self.y_train), dtype=np.int64)

    @property
    def test_indices(self):
        return np.arange(len(self.y_test), dtype=np.int64)

    @property
    def input_shape(self):
        return tuple(np.shape(self.x_train)[1:])

    def indexed_train(self, y=None):
        """Unbatched ``tf.data`` of ``(x, y, index)`` for ``weighter.attach``.

        Args:
            y: labels to use instead of ``y_train`` (e.g. noisy labels).
        """
        from keras_mr.pipeline.indexed_data import indexed_dataset

        return indexed_dataset(self.x_train, self.y_train if y is None else y)

    def subset(self, n_train=None, n_test=None, seed=0):
        """A class-stratified random subset (keeps every class's share).

        Args:
            n_train: number of training examples to keep (``None``: all).
            n_test: number of test examples to keep (``None``: all).
            seed: selection seed.

        Returns:
            A new :class:`Dataset`; indices are renumbered ``0..n-1``.
        """
        rng = np.random.default_rng(seed)

        def pick(y, n):
            if n is None or n >= len(y):
                return np.arange(len(y))
            if n <= 0:
                raise ValueError(f"subset size must be positive, got {n}.")
            order = rng.permutation(len(y))
            # Stratify: interleave classes in random order, then take the first n.
            ranks = np.empty(len(y))
            for c in np.unique(y):
                members = order[y[order] == c]
                ranks[members] = (np.arange(members.size) + rng.random()) / members.size
            return np.sort(np.argsort(ranks, kind="stable")[:n])

        tr, te = pick(self.y_train, n_train), pick(self.y_test, n_test)

        def take(a, idx):
            return (
                None if a is None else (a[idx] if not isinstance(a, list) else [a[i] for i in idx])
            )

        return dataclasses.replace(
            self,
            x_train=take(self.x_train, tr),
            y_train=self.y_train[tr],
            x_test=take(self.x_test, te),
            y_test=self.y_test[te],
            y_train_clean=take(self.y_train_clean, tr),
            noisy_mask=take(self.noisy_mask, tr),
            info={**self.info, "subset_of": self.name, "subset_seed": seed},
        )

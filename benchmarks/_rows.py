"""The rows of the timing tables: a row, its verdict, the table, and the data every row times.

Each timing row is measured by one script, the one that owns the method
(``mr_overhead.py``, ``ciw.py``, ``meta_weight.py``, ``adversarial.py``); each prints its
rows with :func:`table`, and ``summary.py`` prints the rows of all four in one table.
"""

from typing import NamedTuple
from typing import Optional

import keras
import numpy as np

from keras_mr.benchmarking.runner import MODELS

SPARSE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
CATEGORICAL = keras.losses.CategoricalCrossentropy(from_logits=True)


class Row(NamedTuple):
    """One line of the table."""

    measure: str
    times: dict  # clock -> ratio
    target: Optional[float] = None
    floor: Optional[float] = None
    note: str = ""


TOLERANCE = 1.05  # "at the floor": within 5% of it


def verdict(row):
    """Whether the CPU ratio meets the row's target (the floor when it has none)."""
    cpu = row.times["cpu"]
    target = row.floor if row.target is None else row.target
    if target is None:
        return ""
    if cpu <= target * (TOLERANCE if row.target is None else 1.0):
        return "yes"
    if row.floor is not None and row.floor > target:
        # the target is below what the method must do on this machine
        return "no: target < floor, ratio at floor" if cpu <= row.floor * TOLERANCE else "no"
    return "no"


def table(rows):
    """The Markdown table of ``rows``: ratios on both clocks, target, floor and verdict."""
    lines = [
        "| measure | ratio (CPU) | ratio (wall) | target | floor (measured) | ratio / floor "
        "| met | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        target = f"<= {row.target:.2f}" if row.target is not None else ""
        target = "<= floor" if row.target is None and row.floor is not None else target
        floor = f"{row.floor:.3f}" if row.floor is not None else ""
        over = f"{row.times['cpu'] / row.floor:.3f}" if row.floor else ""
        lines.append(
            f"| {row.measure} | {row.times['cpu']:.3f} | {row.times['wall']:.3f} | {target} "
            f"| {floor} | {over} | {verdict(row)} | {row.note} |"
        )
    return "\n".join(lines)


def repeated_batches(x, y, batch_size, one_hot=False):
    """``(x, y)`` as an endless ``tf.data`` pipeline of full batches (one-hot labels if asked)."""
    import tensorflow as tf

    labels = np.eye(10, dtype="float32")[y] if one_hot else y
    return (
        tf.data.Dataset.from_tensor_slices((x, labels))
        .batch(batch_size, drop_remainder=True)
        .repeat()
        .prefetch(2)
    )


def mlp_data(batch_size):
    """Eight batches of random 784-vectors and labels of 10 classes: the MLP rows' data."""
    rng = np.random.default_rng(0)
    n = batch_size * 8
    return rng.normal(size=(n, 784)).astype("float32"), rng.integers(0, 10, n).astype("int32")


def mlp(width):
    """The MLP rows' network, 784-``width``-``width``-10, initialised with seed 0."""
    keras.utils.set_random_seed(0)
    return MODELS.get("mlp")((784,), 10, width=width)

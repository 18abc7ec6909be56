"""Input checks of ``keras_mr.pipeline.indexed_data`` at ``attach()``.

Rows of nested labels, empty arrays, string labels, NaN or inf in ``x``, and
``PyDataset``/generators (rejected with a recipe).

Regression tests (issue "Core v2"): each names the bug it guards against and failed on
the old pipeline (complex-packed weights, monkeypatched ``compute_loss``,
``prefetch(AUTOTUNE)``).
"""

import keras
import numpy as np
import pytest
from small_classifier import attach_with_default_weighter as _attach
from small_classifier import noisy_features as _data

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only


# ------------------------------------------------ nested labels (bug 2)
def test_attach_counts_rows_of_nested_labels_not_dict_keys():
    x, y = _data(n=40)
    weighter = keras_mr.MRSampleWeighter()
    ds = weighter.attach(x, {"a": y, "b": y.astype("float32")}, batch_size=8)
    assert weighter.num_examples == 40
    xb, yb, wb = next(iter(ds))
    assert set(yb) == {"a", "b"} and yb["a"].shape == (8,)


# --------------------------------------------------------------- bad input
def test_empty_arrays():
    with pytest.raises(ValueError, match="empty"):
        _attach(np.zeros((0, 5), "float32"), np.zeros(0, "int32"), batch_size=4)


def test_string_labels():
    with pytest.raises(TypeError, match="np.unique"):
        _attach(np.zeros((4, 5), "float32"), np.array(["a", "b", "a", "b"]), batch_size=2)
    with pytest.raises(TypeError, match="np.unique"):
        _attach(np.zeros((4, 5), "float32"), np.array(["a", 1, "a", 2], dtype=object),
                batch_size=2)


def test_nan_or_inf_in_x_is_reported_at_attach():
    x, y = _data(n=20)
    x[7, 2] = np.nan
    x[11, 0] = np.inf
    with pytest.raises(ValueError, match=r"NaN or inf in 2 examples.*\[7, 11\]"):
        _attach(x, y, batch_size=4)


def test_pydataset_and_generators_are_rejected_with_a_recipe():
    class Seq(keras.utils.PyDataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((2, 5)), np.zeros(2)

    for bad in (Seq(), (i for i in range(3))):
        with pytest.raises(TypeError, match="indexed tf.data.Dataset"):
            _attach(bad, batch_size=2)

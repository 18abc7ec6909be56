"""The pipeline ``attach()`` builds (``keras_mr.pipeline.weighted_pipeline``).

Batches drawn after an update carry the new weights, the shuffle order is a function of
seed and epoch, and ``class_weight`` multiplies the normalised weight.

Regression tests (issue "Core v2"): each names the bug it guards against and failed on
the old pipeline (complex-packed weights, monkeypatched ``compute_loss``,
``prefetch(AUTOTUNE)``).
"""

import keras
import numpy as np
import pytest
from small_classifier import noisy_features as _data

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only


# ------------------------------------------------ stale weights (bug 6)
def test_batches_drawn_more_than_two_steps_after_an_update_carry_new_weights():
    """attach() ends with prefetch(1): at most 2 batches are looked up ahead."""
    n, b, k = 240, 8, 5
    x = np.arange(n, dtype="float32").reshape(n, 1)  # the feature is the example index
    y = (np.arange(n) % 2).astype("int32")
    seen = []

    class Spy(keras.Sequential):
        def train_step(self, data):
            xb, _, wb = data
            seen.append((xb.numpy()[:, 0].astype(int), wb.numpy()))
            return super().train_step(data)

    weighter = keras_mr.RandomSampleWeighter(seed=0, update_every=k)
    tables = {}

    class Snap(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            tables[len(seen) - 1] = weighter._table.numpy().copy()

    model = Spy([keras.Input((1,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  run_eagerly=True)
    ds = weighter.attach(x, y, batch_size=b, shuffle=True, seed=1)
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter, Snap()])
    assert weighter.num_updates == (2 * n // b) // k
    checked = 0
    for t, (idx, w) in enumerate(seen):
        last_update = max(s for s in range(t) if (s + 1) % k == 0) if t >= k else None
        if last_update is None or t <= last_update + 2:
            continue
        rel = tables[t - 1][idx]
        np.testing.assert_allclose(w, rel * len(rel) / rel.sum(), rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked > len(seen) // 2


# ------------------------------------------------------ shuffle order
def test_shuffle_order_is_a_function_of_seed_and_epoch():
    x, y = _data(n=50)

    def orders(seed):
        w = keras_mr.MRSampleWeighter()
        ds = w.attach(np.arange(50, dtype="float32")[:, None], y, batch_size=10, seed=seed)
        out = []
        for epoch in range(2):
            w._key.assign([seed, epoch])
            out.append(np.concatenate([xb.numpy()[:, 0] for xb, _, _ in ds]).astype(int))
        return out

    a, b = orders(3), orders(3)
    assert [np.array_equal(u, v) for u, v in zip(a, b)] == [True, True]
    assert sorted(a[0]) == list(range(50)) and not np.array_equal(a[0], a[1])
    assert not np.array_equal(orders(4)[0], a[0])


def test_attached_dataset_shuffle_is_a_function_of_seed_and_epoch():
    y = np.zeros(40, "int32")
    base = keras_mr.indexed_dataset(np.arange(40, dtype="float32")[:, None], y)

    def order(seed, epoch):
        w = keras_mr.MRSampleWeighter()
        ds = w.attach(base, batch_size=8, seed=seed)
        w._key.assign([seed, epoch])
        return np.concatenate([xb.numpy()[:, 0] for xb, _, _ in ds]).astype(int)

    assert np.array_equal(order(1, 0), order(1, 0))
    assert sorted(order(1, 0)) == list(range(40))
    assert not np.array_equal(order(1, 0), order(1, 1))
    assert not np.array_equal(order(1, 0), order(2, 0))


# ------------------------------------------------------------ class_weight
def test_class_weight_multiplies_the_normalised_weight():
    x, y = _data(n=48)
    weighter = keras_mr.MRSampleWeighter()
    cw = {0: 1.0, 1: 2.0, 2: 0.5}
    ds = weighter.attach(x, y, batch_size=12, shuffle=False, class_weight=cw)
    _, yb, wb = next(iter(ds))
    np.testing.assert_allclose(wb.numpy(), [cw[int(c)] for c in yb.numpy()], rtol=1e-6)
    with pytest.raises(ValueError, match="keys 0..C-1"):
        weighter.attach(x, y, batch_size=12, class_weight={1: 2.0})

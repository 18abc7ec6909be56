"""Shared test data and model of the MR regression tests: 5 features, 3 classes, 25% noise.

The labels are the argmax of the first ``classes`` features, a quarter of them redrawn at
random; the model is a small MLP compiled with ``SGD(0.1)``.  The regression tests that
once lived in one file (``test_weighter_robustness.py``, issue "Core v2") now sit with the
module each guards (``tests/mr/test_fit_checks.py``, ``tests/mr/test_weighter_state.py``,
``tests/pipeline/test_indexed_data.py``, ...) and share these helpers.
"""

import keras
import numpy as np

import keras_mr


def noisy_features(n=96, seed=0, classes=3):
    """``(x, y)``: ``n`` examples of 5 normal features, ``y`` noisy argmax labels."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5)).astype("float32")
    y = (np.argmax(x[:, :classes], axis=1)).astype("int32")
    y[rng.choice(n, n // 4, replace=False)] = rng.integers(0, classes, n // 4)
    return x, y


def small_classifier(classes=3, record=False, **compile_kwargs):
    """A compiled 5 -> 8 -> ``classes`` MLP (logits); ``record=True`` wraps it in a
    :class:`keras_mr.LossRecordingModel`; ``compile_kwargs`` go to ``compile``."""
    m = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(classes)]
    )
    if record:
        m = keras_mr.LossRecordingModel(m)
    m.compile(
        keras.optimizers.SGD(0.1),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **compile_kwargs,
    )
    return m


def attach_with_default_weighter(*args, weighter=None, **kwargs):
    """``weighter.attach(*args, **kwargs)``, with a default MRSampleWeighter if none given."""
    return (weighter or keras_mr.MRSampleWeighter()).attach(*args, **kwargs)

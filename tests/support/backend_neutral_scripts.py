"""Backend-neutral scripts shared by the test of their module and the PyTorch tests.

Each script runs in a fresh interpreter on a non-TensorFlow backend and prints its results
(the last line); its own module's test runs it on JAX, ``tests/backends/test_other_backends.py``
runs the same script on PyTorch.

- ``ARRAY_PIPELINE_SCRIPT`` (``tests/pipeline/test_array_pipeline.py``): MR and random
  weighting end to end on the TensorFlow-free pipeline; prints a JSON line.
- ``CIW_SCRIPT`` (``tests/constrained/test_ciw.py``): the pure CIW, CICW and mixup functions
  and ``CIWLoss`` on the JAX backend (``"jax"`` replaced to run elsewhere).
"""

import textwrap

ARRAY_PIPELINE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import keras, numpy as np, keras_mr

    rng = np.random.default_rng(0)
    n = 300
    y = rng.integers(0, 3, size=n)
    x = (rng.normal(size=(n, 2)) + 3.0 * np.eye(3)[y][:, :2]).astype("float32")
    noisy = rng.random(n) < 0.25
    y = np.where(noisy, (y + 1) % 3, y)

    def model():
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(3)])
        m.compile(keras.optimizers.Adam(0.02),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    out = {}
    # one epoch: MR's update equals softmax(-eta * l) with l computed independently
    w1 = keras_mr.MRSampleWeighter(max_weight=None, eta=0.7, verbose=0)
    m = model()
    m.fit(w1.attach(x, y, batch_size=50, seed=1), epochs=1, shuffle=False, verbose=0,
          callbacks=[w1])
    logits = np.asarray(m.predict(x, verbose=0), dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    ce = np.log(np.exp(logits).sum(axis=1)) - logits[np.arange(n), y]
    expected = np.exp(-0.7 * (ce - ce.min()))
    out["first_update_err"] = float(np.max(np.abs(w1.example_weights() - expected / expected.sum())))
    # a longer run: MR moves weight off the flipped labels
    w2 = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0, noise_mask=noisy, verbose=0)
    model().fit(w2.attach(x, y, batch_size=50), epochs=8, shuffle=False, verbose=0,
                callbacks=[w2])
    out["noisy_mass"] = float(w2.example_weights()[noisy].sum())
    out["noise_rate"] = float(noisy.mean())
    w3 = keras_mr.RandomSampleWeighter(seed=0)
    model().fit(w3.attach(x, y, batch_size=50), epochs=2, shuffle=False, verbose=0,
                callbacks=[w3])
    out["random_sum"] = float(w3.example_weights().sum())
    out["random_zero_share"] = float((w3.example_weights() == 0).mean())
    out["tf_loaded"] = "tensorflow" in sys.modules
    print(json.dumps(out))
    """
)


CIW_SCRIPT = textwrap.dedent(
    """
    import os
    os.environ["KERAS_BACKEND"] = "jax"
    import numpy as np, keras
    assert keras.backend.backend() == "jax"
    import keras_mr
    from keras_mr import ciw, cicw, mixup
    l = np.array([0.0, 1.0], "float32")
    out = [np.asarray(ciw.instance_weights(l, 1.0, d)) for d in
           ("kl", "chi2", "reverse_kl", "hellinger")]
    v = np.asarray(cicw.class_weights(-np.log([[0.7, 0.2, 0.1]]),
                   np.array([[0., 0., 1.]]), divergence="l1", budget=0.6))
    x, y, w = mixup.mixup_with_weights(np.eye(2), np.eye(2), np.array([1., 0.]),
                                       np.array([1, 0]), np.array([0.5, 0.5]))
    m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    m.compile("sgd", keras_mr.CIWLoss("sparse_categorical_crossentropy", 0.5))
    h = m.fit(np.ones((8, 2), "float32"), np.array([0, 1] * 4), epochs=1, verbose=0)
    assert np.isfinite(h.history["loss"][0])
    print(repr([o.astype("float64").round(4).tolist() for o in out]), v.astype("float64").round(4).tolist(),
          np.asarray(y).astype("float64").round(4).tolist())
    """
)

"""Run by tests/test_jax_backend.py: MRSampleWeighter with KERAS_BACKEND=jax."""

import json
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_mr  # noqa: E402

assert keras.backend.backend() == "jax"
rng = np.random.default_rng(0)
n = 400
x = rng.normal(size=(n, 4)).astype("float32")
y = (x[:, 0] > 0).astype("int32")
noisy = np.zeros(n, bool)
noisy[:120] = True
y[noisy] ^= 1
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(2)])
model.compile(keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
weighter = keras_mr.MRSampleWeighter(eta=0.5, noise_mask=noisy)
hist = model.fit(weighter.attach(x, y, batch_size=32, seed=0), epochs=8, verbose=0, callbacks=[weighter])
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
last = np.asarray(loss(y, model(x, training=False)))
print(json.dumps({
    "noisy_mass": float(weighter.weights[noisy].sum()),
    "logged": hist.history["mr_noisy_mass"][-1],
    "last_loss_err": float(np.max(np.abs(np.asarray(weighter._state.last_loss) - last))),
    "sum": float(weighter.weights.sum()),
}))

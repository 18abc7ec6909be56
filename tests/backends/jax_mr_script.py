"""Run by tests/backends/test_jax_backend.py: MRSampleWeighter with KERAS_BACKEND=jax."""

import json
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import keras_mr

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
weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, noise_mask=noisy)
hist = model.fit(weighter.attach(x, y, batch_size=32, seed=0), epochs=8, verbose=0, shuffle=False,
                 callbacks=[weighter])
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
last = np.asarray(loss(y, model(x, training=False)))
# update_every on JAX used to crash ("'NoneType' object is not callable" in
# Dense.call): the loss pass ran while the JAX trainer held the variables.
keras.utils.set_random_seed(0)
model2 = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(2)])
model2.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
w_steps = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, update_every=5, name="steps")
model2.fit(w_steps.attach(x, y, batch_size=32, seed=0), epochs=2, verbose=0, shuffle=False,
           callbacks=[w_steps])
print(json.dumps({
    "step_updates": w_steps.num_updates,
    "noisy_mass": float(weighter.weights[noisy].sum()),
    "logged": hist.history["mr_noisy_mass"][-1],
    "last_loss_err": float(np.max(np.abs(np.asarray(weighter._state.last_loss) - last))),
    "sum": float(weighter.weights.sum()),
}))

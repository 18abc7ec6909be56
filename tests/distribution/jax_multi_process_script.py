"""One process of the two-process JAX run of ``test_jax_multi_process.py`` (or a single one).

    python jax_multi_process_script.py PROCESS_ID NUM_PROCESSES PORT OUT.json

Trains a small MLP with ``MRSampleWeighter`` under ``keras.distribution.DataParallel``
(every process feeding its part of each batch) and writes the weights after every
update and the final kernel to ``OUT.json``.  ``NUM_PROCESSES=1`` is the reference run.
"""

import json
import os
import sys

pid, count, port, out_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.environ["KERAS_BACKEND"] = "jax"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax

if count > 1:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"127.0.0.1:{port}", num_processes=count, process_id=pid,
        initialization_timeout=60,
    )

import keras
import numpy as np

import keras_mr

keras.distribution.set_distribution(
    keras.distribution.DataParallel(devices=jax.devices(), auto_shard_dataset=False)
)
rng = np.random.default_rng(0)
n = 96
y = rng.integers(0, 3, size=n)
x = (rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]).astype("float32")
flipped = rng.random(n) < 0.25
y = np.where(flipped, (y + 1) % 3, y)

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)]
)
model.compile(
    keras.optimizers.SGD(0.1), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
)
weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0, verbose=0)
history = []


class Record(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        history.append(weighter.example_weights().tolist())


ds = weighter.attach(x, y, batch_size=16, seed=3, eval_batch_size=20, pipeline="pydataset")
model.fit(ds, epochs=4, shuffle=False, verbose=0, callbacks=[weighter, Record()])
kernel = np.asarray(model.layers[-1].kernel.value.addressable_data(0))  # replicated
with open(out_path, "w") as f:
    json.dump(
        {
            "weights": history,
            "kernel": kernel.tolist(),
            "noisy_mass": float(np.asarray(history[-1])[flipped].sum()),
            "local_batch": int(len(ds[0][0])),
        },
        f,
    )

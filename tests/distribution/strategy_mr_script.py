"""Run by tests/distribution/test_mirrored_strategy.py in a fresh process: MR weights under
MirroredStrategy on two logical CPU devices vs. a single device."""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np

import keras_mr

loss_source = sys.argv[1] if len(sys.argv) > 1 else "eval"
rng = np.random.default_rng(0)
n = 256
x = rng.normal(size=(n, 6)).astype("float32")
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32")
y[rng.choice(n, 64, replace=False)] ^= 1


def plain_keras_runs_steps_per_execution(strategy):
    """Keras 3.15 / TF 2.21: MirroredStrategy + steps_per_execution > 1 fails
    in plain Keras too ("You must feed a value for placeholder tensor")."""
    with strategy.scope():
        m = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
        m.compile("sgd", "sparse_categorical_crossentropy", steps_per_execution=4)
    try:
        m.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32), epochs=1, verbose=0)
        return True
    except Exception:
        return False


def run(strategy, steps_per_execution=1):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(2)]
        )
        if loss_source == "train":
            model = keras_mr.LossRecordingModel(model)
        model.compile(
            keras.optimizers.SGD(0.1),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            steps_per_execution=steps_per_execution,
        )
    weighter = keras_mr.MRSampleWeighter(max_weight=None,
        eta=1.0, loss_source=loss_source, update_every=UPDATE_EVERY
    )
    ds = weighter.attach(x, y, batch_size=32, shuffle=SHUFFLE, seed=3)
    model.fit(ds, epochs=3, verbose=0, shuffle=False, callbacks=[weighter])
    return weighter.weights, [w.tolist() for w in model.get_weights()], weighter.num_updates


# "eval"/"train": per-epoch updates; "+spe": steps_per_execution=4 and
# update_every=8 with shuffling (3 epochs x 8 steps = 24 steps -> 3 updates).
SPE_MODE = loss_source.endswith("+spe")
loss_source = loss_source.replace("+spe", "")
SPE = 4 if SPE_MODE else 1
UPDATE_EVERY = 8 if SPE_MODE else None
SHUFFLE = SPE_MODE
p1, w1, u1 = run(tf.distribute.get_strategy(), SPE)
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
upstream_ok = not SPE_MODE or plain_keras_runs_steps_per_execution(mirrored)
p2, w2, u2 = run(mirrored, SPE if upstream_ok else 1)
print(
    json.dumps(
        {
            "replicas": mirrored.num_replicas_in_sync,
            "mirrored_steps_per_execution_works": upstream_ok,
            "updates": [u1, u2],
            "p_single": p1.tolist(),
            "p_mirrored": p2.tolist(),
            "max_weight_diff": max(float(np.max(np.abs(np.array(a) - np.array(b)))) for a, b in zip(w1, w2)),
        }
    )
)

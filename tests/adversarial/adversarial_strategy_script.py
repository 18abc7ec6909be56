"""Helper run in a subprocess by test_adversarial_distribute.py.

Configures two logical CPU devices *before* TensorFlow initialises, then
trains each adversarial model for one epoch on a single device and under
``tf.distribute.MirroredStrategy`` from the same initial weights and on the
same weighted batches, and prints the largest weight difference.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
import keras_mr
from keras_mr.adversarial import ThreatModel

BATCH = 8


def data():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, 4)).astype("float32")
    y = rng.integers(0, 3, size=32).astype("int32")
    w = rng.uniform(0.0, 2.0, size=32).astype("float32")
    w[3] = 0.0
    w = w.reshape(-1, BATCH)
    w = (w * BATCH / w.sum(1, keepdims=True)).reshape(-1)  # per batch sum B
    return x, y, w


class DeterministicTRADES(keras_mr.TRADESModel):
    """TRADES whose random start is a fixed function of x.

    The Gaussian start draws different numbers per replica than on one
    device; a deterministic start makes the two runs comparable.
    """

    def initial_point(self, x):
        return x + 0.001 * tf.cos(1000.0 * x)


def make(kind, inner):
    if kind == "pgd":
        return keras_mr.PGDAdversarialModel(inner, threat_model=ThreatModel(0.1), steps=3,
                                            random_start=False)
    if kind == "pgd_rand":
        return keras_mr.PGDAdversarialModel(inner, threat_model=ThreatModel(0.1), steps=2,
                                            seed=1)
    if kind == "pgd_l2":
        return keras_mr.PGDAdversarialModel(inner, threat_model=ThreatModel(0.3, norm=2),
                                            steps=3, random_start=False)
    if kind == "free":
        return keras_mr.FreeAdversarialModel(inner, batch_size=BATCH,
                                             threat_model=ThreatModel(0.1), replays=3)
    return DeterministicTRADES(inner, threat_model=ThreatModel(0.1), steps=3, step_size=0.03)


def run(kind, init, strategy=None):
    x, y, w = data()
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(BATCH)
    scope = strategy.scope() if strategy else tf.init_scope()
    with scope:
        inner = keras.Sequential([keras.Input((4,)),
                                  keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(3)])
        inner.set_weights(init)
        model = make(kind, inner)
        model.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.5))
    hist = model.fit(ds, epochs=2, verbose=0)
    extra = None
    if kind == "free":
        extra = np.asarray(model.perturbation.numpy())
    return inner.get_weights(), hist.history, extra


def main():
    keras.utils.set_random_seed(0)
    template = keras.Sequential([keras.Input((4,)),
                                 keras.layers.Dense(8, activation="tanh"),
                                 keras.layers.Dense(3)])
    init = template.get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"replicas": strategy.num_replicas_in_sync}
    for kind in ("pgd", "pgd_l2", "free", "trades"):
        w1, h1, e1 = run(kind, init)
        try:
            w2, h2, e2 = run(kind, init, strategy)
        except RuntimeError as error:  # Free AT on Keras 3.8: refused (see free_at.py)
            out[kind] = {"error": str(error)}
            continue
        moved = max(float(np.abs(a - b).max()) for a, b in zip(w1, init))
        diff = max(float(np.abs(a - b).max()) for a, b in zip(w1, w2))
        hdiff = max(abs(h1[k][-1] - h2[k][-1]) for k in h1)
        res = {"moved": moved, "weight_diff": diff, "log_diff": hdiff}
        if kind == "free":
            # replica 0 holds the perturbation of the first half-batch
            half = BATCH // 2
            res["perturbation_diff"] = float(
                np.abs(e1[:half] - e2[:half]).max())
            res["perturbation_max"] = float(np.abs(e1).max())
        out[kind] = res
    # random starts (SeedGenerator state) also work under the strategy
    w3, h3, _ = run("pgd_rand", init, strategy)
    out["pgd_rand_finite"] = bool(
        all(np.isfinite(a).all() for a in w3)
        and all(np.isfinite(v).all() for v in h3.values()))
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()

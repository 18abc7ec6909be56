"""Helper run in a subprocess by test_constrained_reweighting_distributed.py.

Trains the same model for a few steps with and without MirroredStrategy on
two logical CPU devices and prints the largest weight difference per config.
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras
import numpy as np

import keras_mr
from keras_mr.constrained import CICWMixup
from keras_mr.constrained import ClassReweighting
from keras_mr.constrained import InstanceReweighting
from keras_mr.constrained import WeightedMixup

CONFIGS = {
    "ciw_kl": dict(instance=InstanceReweighting("kl", temperature=0.5)),
    "ciw_hellinger_schedule": dict(
        instance=InstanceReweighting(
            "hellinger", temperature=1.0, final_temperature=0.3, decay_steps=2,
            burn_in_steps=1,
        ),
    ),
    "cicw_l2_chi2": dict(instance=InstanceReweighting("chi2"),
                         classes=ClassReweighting("l2", temperature=2.0)),
}


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=64)]
    w = rng.uniform(0.0, 2.0, size=64).astype("float32")
    w[::7] = 0.0
    # MR-style per-batch normalisation: weights of each batch of 16 sum to 16
    w = w.reshape(4, 16)
    w = (w * 16 / w.sum(1, keepdims=True)).reshape(-1)
    return tf.data.Dataset.from_tensor_slices((x, y, w)).batch(16)


def train(config, strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        base = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(8, activation="tanh"),
             keras.layers.Dense(3)]
        )
        model = keras_mr.ConstrainedReweightingModel(base, **config)
        model.compile(
            keras.optimizers.SGD(0.5),
            keras.losses.CategoricalCrossentropy(from_logits=True),
        )
    hist = model.fit(data(), epochs=2, verbose=0)
    return [v.numpy() for v in base.weights], hist.history["loss"]


def main():
    assert len(tf.config.list_logical_devices("CPU")) == 2
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    for name, config in CONFIGS.items():
        w1, l1 = train(config, tf.distribute.get_strategy())
        w2, l2 = train(config, mirrored)
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(w1, w2))
        moved = max(float(np.max(np.abs(a))) for a in w1)
        loss_diff = float(np.max(np.abs(np.array(l1) - np.array(l2))))
        print(f"RESULT {name} {diff:.3e} {loss_diff:.3e} {moved:.3e}")
    # mixup modes draw partners per replica: they must run (no equality)
    for name, config in {
        "cicw_mixup": dict(mixing=CICWMixup(), classes=ClassReweighting("kl")),
        "mr_mixup": dict(instance=None, mixing=WeightedMixup(), seed=0),
    }.items():
        _, losses = train(config, mirrored)
        print(f"RUNS {name} {int(np.all(np.isfinite(losses)))}")


if __name__ == "__main__":
    main()

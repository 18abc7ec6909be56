"""Helper run in a subprocess by test_meta_weight_net.py (not collected by pytest).

Configures two logical CPU devices before TensorFlow initialises, trains a
MetaWeightNet (with MR-style sample weights and momentum) under
MirroredStrategy and on one device with the same global batches, and checks
that the classifier and weighting-network variables agree.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras
import numpy as np
from keras_mirrored_logs import MIRRORED_LOGS_EXACT

from keras_mr.meta import meta_data
from keras_mr.meta.meta_weight_net import MetaWeightNet
from keras_mr.meta.meta_weight_net import build_weighting_network


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = rng.integers(0, 3, size=64).astype("int32")
    w = rng.uniform(0.2, 2.0, size=64).astype("float32")
    xm = rng.normal(size=(16, 3)).astype("float32")
    ym = rng.integers(0, 3, size=16).astype("int32")
    train = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(16)
    meta = meta_data.meta_dataset(xm, ym, batch_size=8, shuffle=False)
    return meta_data.with_meta_batches(train, meta)


def train(strategy, meta_loss):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        clf = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(8, activation="tanh",
                                                   kernel_regularizer=keras.regularizers.L2(1e-3)),
             keras.layers.Dense(3)]
        )
        keras.utils.set_random_seed(1)
        model = MetaWeightNet(clf, weighting_network=build_weighting_network(16),
                              meta_loss=meta_loss)
        model.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.9),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=False)
    variables = model.model.trainable_variables + model.weighting_network.trainable_variables
    initial = [v.numpy().copy() for v in variables]
    history = model.fit(data(), epochs=2, verbose=0, shuffle=False)
    state = [v.numpy() for v in variables]
    # both the classifier and the weighting network were trained
    assert np.abs(state[0] - initial[0]).max() > 1e-3
    assert np.abs(state[-2] - initial[-2]).max() > 1e-5
    return state, history.history


def main():
    assert len(tf.config.list_logical_devices("CPU")) == 2
    for meta_loss in ("mae", "ce"):
        single, h1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"), meta_loss)
        mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        assert mirrored_strategy.num_replicas_in_sync == 2
        mirrored, h2 = train(mirrored_strategy, meta_loss)
        for a, b in zip(single, mirrored):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        if MIRRORED_LOGS_EXACT:  # Keras 3.8 logs MirroredStrategy metrics inexactly (upstream)
            np.testing.assert_allclose(h1["loss"], h2["loss"], rtol=1e-4)
            np.testing.assert_allclose(h1["meta_loss"], h2["meta_loss"], rtol=1e-4)
        print(meta_loss, "max abs diff",
              max(np.abs(a - b).max() for a, b in zip(single, mirrored)))
    print("STRATEGY_OK")


if __name__ == "__main__":
    main()

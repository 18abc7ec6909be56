"""The upstream Keras behaviour that decides whether strategy tests compare logged values."""

import os
import subprocess
import sys
import textwrap

import pytest
from keras_mirrored_logs import MIRRORED_LOGS_EXACT

pytestmark = pytest.mark.tf_only

SCRIPT = textwrap.dedent(
    """
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras, numpy as np

    class Probe(keras.Model):  # plain Keras: logs the mean of (10 * step + replica id)
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(1)
            self.probe = keras.metrics.Mean(name="probe")

        def call(self, x):
            return self.dense(x)

        def train_step(self, data):
            rid = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, "float32")
            self.probe.update_state(tf.cast(self.optimizer.iterations, "float32") * 10 + rid)
            self.optimizer.iterations.assign_add(1)
            return {"probe": self.probe.result()}

    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        model = Probe()
        model.compile("sgd")
    x = np.zeros((16, 2), "float32")
    print("PROBE", model.fit(x, x[:, :1], batch_size=8, epochs=2, verbose=0).history["probe"])
    """
)


def test_mirrored_epoch_means_are_exact_where_we_rely_on_it():
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("PROBE")][-1]
    logged = eval(line[len("PROBE "):])
    exact = [5.5, 25.5]  # epoch 1: steps 0, 1 on replicas 0, 1 -> (0 + 1 + 10 + 11) / 4
    if MIRRORED_LOGS_EXACT:
        assert logged == pytest.approx(exact)
    else:  # Keras 3.8: the first step of each epoch counted twice
        assert logged == pytest.approx([23 / 6, 143 / 6])

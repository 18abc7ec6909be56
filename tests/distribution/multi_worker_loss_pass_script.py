"""One worker of a two-worker MultiWorkerMirroredStrategy running MR's loss pass alone.

Usage: python multi_worker_loss_pass_script.py INDEX PORT0 PORT1 OUT.json
(INDEX = -1 runs the single-process reference instead.)
"""

import json
import os
import sys

index, port0, port1, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
if index >= 0:
    os.environ["TF_CONFIG"] = json.dumps(
        {
            "cluster": {"worker": [f"127.0.0.1:{port0}", f"127.0.0.1:{port1}"]},
            "task": {"type": "worker", "index": index},
        }
    )
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import keras
import numpy as np
import tensorflow as tf

import keras_mr
from keras_mr.pipeline.loss_pass import PerExampleLossPass
from keras_mr.pipeline.per_example_loss import resolve_per_example_loss

if index >= 0:
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
else:
    strategy = tf.distribute.get_strategy()

rng = np.random.default_rng(0)
n = 101  # not a multiple of the global batch: the last batch is partial
x = rng.normal(size=(n, 3)).astype("float32")
y = rng.integers(0, 4, size=n)
with strategy.scope():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="tanh"),
                              keras.layers.Dense(4)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
eval_ds = keras_mr.indexed_dataset(x, y).batch(16)
loss_pass = PerExampleLossPass(model, resolve_per_example_loss(model))
losses, seen = loss_pass(eval_ds, n)
with open(out, "w") as f:
    json.dump({"losses": losses.tolist(), "seen": seen.tolist(),
               "replicas": strategy.num_replicas_in_sync}, f)

"""Run by tests/mr/test_resume.py in fresh processes: kill -9 and resume.

Usage: ``resume_script.py LOSS_SOURCE ORDER BACKUP_DIR OUT [KILL_EPOCH KILL_BATCH]``

Trains 4 epochs with MR and ``BackupAndRestore(save_freq="epoch")``, shuffling
on, op determinism on.  With ``KILL_EPOCH``/``KILL_BATCH`` the process sends
itself SIGKILL at that point (``KILL_BATCH=-1``: right after the epoch's
``on_epoch_end`` callbacks, i.e. at the epoch boundary).  Without them it
trains (resuming from ``BACKUP_DIR`` if a backup exists) and saves the final
model weights and MR weights to ``OUT`` (.npz).
"""

import os
import signal
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

import keras_mr

loss_source, order, backup_dir, out = sys.argv[1:5]
# "eval+steps": update every 5 steps instead of every epoch (7 steps per epoch).
update_every = 5 if loss_source.endswith("+steps") else None
loss_source = loss_source.replace("+steps", "")
kill = tuple(int(v) for v in sys.argv[5:7]) if len(sys.argv) > 5 else None

keras.utils.set_random_seed(0)
tf.config.experimental.enable_op_determinism()
rng = np.random.default_rng(0)
n = 200
x = rng.normal(size=(n, 6)).astype("float32")
y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int32")
y[rng.choice(n, 50, replace=False)] ^= 1

model = keras.Sequential(
    [keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]
)
if loss_source == "train":
    model = keras_mr.LossRecordingModel(model)
model.compile(
    keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
)
weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=1.0, loss_source=loss_source, update_every=update_every)
ds = weighter.attach(x, y, batch_size=32, shuffle=True)  # seed drawn, then saved with the state


class Kill(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if kill and kill[1] >= 0 and (self._epoch, batch) == kill:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if kill and kill[1] < 0 and epoch == kill[0]:
            os.kill(os.getpid(), signal.SIGKILL)


backup = keras.callbacks.BackupAndRestore(backup_dir, save_freq="epoch")
cbs = [weighter, backup] if order == "mr_first" else [backup, weighter]
model.fit(ds, epochs=4, verbose=0, shuffle=False, callbacks=cbs + [Kill()])
np.savez(out, p=weighter.weights, updates=weighter.num_updates, *model.get_weights())

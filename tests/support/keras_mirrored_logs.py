"""Whether this Keras logs exact epoch means of metrics under MirroredStrategy.

Keras 3.8 (the oldest release keras-mr supports) counts the metric updates of the first
step of every epoch twice under ``tf.distribute.MirroredStrategy``, in any model, with or
without keras-mr (``tests/distribution/test_keras_mirrored_logs.py`` shows it on a plain
``keras.Model``); Keras 3.15 logs the exact mean.  The trained weights are right either
way.  The strategy tests compare logged values only where Keras logs them exactly.
"""

import keras

KERAS_VERSION = tuple(int(p) for p in keras.__version__.split(".")[:2])
# The first release known to log exact means is 3.15 (tested); 3.8 does not.
MIRRORED_LOGS_EXACT = KERAS_VERSION >= (3, 9)
# keras.Variable(synchronization=...) (replica-local variables) exists from Keras 3.9 on.
REPLICA_LOCAL_VARIABLES = KERAS_VERSION >= (3, 9)

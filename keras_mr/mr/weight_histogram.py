"""WeightHistogram: the example-weight distribution in TensorBoard."""

import keras
import numpy as np

from keras_mr._internal.backend import require_tensorflow


@keras.saving.register_keras_serializable(package="keras_mr")
class WeightHistogram(keras.callbacks.Callback):
    """Writes the weights of a weighter to TensorBoard after every update.

    For each update of ``weighter`` (an :class:`keras_mr.MRSampleWeighter` or
    :class:`keras_mr.RandomSampleWeighter`) it writes, at step = update number:

    - ``<prefix>weights``: histogram of ``N * p_i`` (1 = uniform weight);
    - ``<prefix>weights_clean`` / ``<prefix>weights_noisy``: the same for the
      examples of the weighter's ``noise_mask`` (when it has one);
    - scalars ``<prefix>ess`` (effective sample size / N), ``<prefix>entropy``
      and ``<prefix>noisy_mass`` (with ``noise_mask``).

    Open with stock TensorBoard: ``tensorboard --logdir <log_dir>``
    (``pip install tensorboard``, or the ``tensorboard`` extra). Put it after
    the weighter in the callbacks list.  Needs TensorFlow (``tf.summary``).

    Args:
        weighter: the weighter whose weights to write.
        log_dir: directory of the event files (e.g. the same as
            ``keras.callbacks.TensorBoard``'s, in a ``weights`` subfolder).
        buckets: number of histogram buckets.

    Example:

    ```python
    weighter = keras_mr.MRSampleWeighter(eta=0.1, noise_mask=noisy)
    hist = keras_mr.callbacks.WeightHistogram(weighter, "logs/weights")
    model.fit(weighter.attach(x, y, batch_size=128), epochs=20, shuffle=False,
              callbacks=[weighter, hist])
    ```
    """

    def __init__(self, weighter, log_dir, buckets=50):
        super().__init__()
        self.weighter = weighter
        self.log_dir = str(log_dir)
        self.buckets = int(buckets)
        self._writer = None
        self._written = 0

    def _write(self):
        tf = require_tensorflow("WeightHistogram")

        try:
            import tensorboard  # noqa: F401  (tf.summary.histogram needs it)
        except ImportError as err:
            raise ImportError(
                "WeightHistogram writes TensorBoard summaries: `pip install tensorboard` "
                "(or keras-mr[tensorboard])."
            ) from err

        updates = self.weighter.num_updates
        if updates <= self._written:
            return
        self._written = updates
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        p = self.weighter.weights
        n = p.size
        prefix = self.weighter.log_prefix
        mask = self.weighter.noise_mask
        with self._writer.as_default(step=updates):
            tf.summary.histogram(prefix + "weights", n * p, buckets=self.buckets)
            tf.summary.scalar(prefix + "ess", float(1.0 / np.sum(p * p) / n))
            with np.errstate(divide="ignore", invalid="ignore"):
                entropy = -float(np.sum(np.where(p > 0, p * np.log(p), 0.0)))
            tf.summary.scalar(prefix + "entropy", entropy)
            if mask is not None:
                tf.summary.histogram(prefix + "weights_clean", n * p[~mask], buckets=self.buckets)
                tf.summary.histogram(prefix + "weights_noisy", n * p[mask], buckets=self.buckets)
                tf.summary.scalar(prefix + "noisy_mass", float(p[mask].sum()))
        self._writer.flush()

    def on_train_batch_end(self, batch, logs=None):
        if self.weighter.update_every is not None:
            self._write()

    def on_epoch_end(self, epoch, logs=None):
        self._write()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def get_config(self):
        return {"log_dir": self.log_dir, "buckets": self.buckets}

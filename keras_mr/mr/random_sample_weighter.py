"""RandomSampleWeighter: the random-weighting baseline of the MR paper."""

import keras
import numpy as np

from keras_mr.mr.random_weighting import rectified_gaussian_weights
from keras_mr.mr.sample_weighter import SampleWeighter


@keras.saving.register_keras_serializable(package="keras_mr")
class RandomSampleWeighter(SampleWeighter):
    """Redraws random example weights from a rectified Gaussian every epoch.

    The baseline the MR paper compares with ("random weighting", after Ren et
    al. 2018): ``w_i = max(0, z_i) / sum_j max(0, z_j)`` with ``z_i ~ N(0, 1)``
    drawn anew at every update (see
    :func:`keras_mr.mr.random_weighting.rectified_gaussian_weights`).  It shows
    how much of MR's effect is explained by merely perturbing the weights.
    The first epoch uses uniform weights, like MR.  Same ``attach()``/
    ``model.fit`` usage and saved state as :class:`keras_mr.MRSampleWeighter`;
    with a ``seed`` each redraw depends only on ``(seed, update index)``, so a
    resumed run redraws the same weights.

    Args:
        seed: base seed (``None``: not reproducible).
        name: name of the state attached to the model.
        **kwargs: the arguments of :class:`keras_mr.mr.sample_weighter.SampleWeighter`:
            ``update_every`` (``None`` = redraw after every epoch; ``k`` = every ``k``
            steps), ``noise_mask`` (boolean ``(N,)`` of known-noisy examples, for the
            logs), ``verbose`` and ``resume``.

    Example:

    ```python
    weighter = keras_mr.RandomSampleWeighter(seed=0)
    model.fit(weighter.attach(x, y, batch_size=128), epochs=10, shuffle=False,
              callbacks=[weighter])
    ```
    """

    log_prefix = "rw_"

    def __init__(self, seed=None, name="random_sample_weighter", **kwargs):
        super().__init__(name=name, **kwargs)
        self.seed = seed

    def _new_log_weights(self, update_index, epoch):
        p = rectified_gaussian_weights(self.num_examples, seed=self.seed, update=update_index)
        with np.errstate(divide="ignore"):
            return np.log(p)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}

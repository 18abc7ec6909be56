"""Synthetic label noise: seeded, exact-rate generators.

Every generator is a pure NumPy function of the clean labels that returns a
:class:`NoisyLabels` named tuple ``(noisy_labels, noisy_mask,
transition_matrix)``:

- ``noisy_labels``: int array ``(N,)``, the corrupted labels;
- ``noisy_mask``: bool array ``(N,)``, ``True`` where ``noisy_labels != labels``;
- ``transition_matrix``: float ``(K, K)``, ``T[i, j] = P(noisy = j | clean = i)``
  of the noise model (row-stochastic).

Exact rates.  The papers define the class-conditional noise models by a
per-example probability.  Sampling each example independently makes the
realised rate random (and, with a bug-prone ``rate / K`` convention, far off);
here the *number* of corrupted examples is fixed instead:

- in every class ``c`` with ``n_c`` examples, ``round(rate * n_c)`` examples
  (chosen uniformly at random) are corrupted; the per-class counts are
  rounded with the largest-remainder rule so that the total is exactly
  ``round(rate * N)`` and each class gets ``floor`` or ``ceil`` of
  ``rate * n_c``;
- where a class spreads its corrupted examples over several targets
  (symmetric, flip2), the counts per target are split the same way, so the
  empirical transition matrix equals ``T`` up to one example per cell.

So ``noisy_mask.mean() == round(rate * N) / N`` for symmetric, pair-flip,
flip, flip2 and instance-dependent noise.  The one exception is
:func:`symmetric_noise` with ``include_true=True`` (see there), whose rate is
by definition a *resampling* probability.

Example:

>>> import numpy as np
>>> from keras_mr.benchmarking.noise import symmetric_noise
>>> y = np.repeat(np.arange(10), 100)
>>> res = symmetric_noise(y, rate=0.4, num_classes=10, seed=0)
>>> float(res.noisy_mask.mean())
0.4
"""

from keras_mr.benchmarking.noise._common import NoisyLabels
from keras_mr.benchmarking.noise._common import empirical_transition_matrix
from keras_mr.benchmarking.noise.class_conditional import confusion_noise
from keras_mr.benchmarking.noise.class_conditional import flip2_noise
from keras_mr.benchmarking.noise.class_conditional import flip_noise
from keras_mr.benchmarking.noise.class_conditional import lookalike_classes
from keras_mr.benchmarking.noise.class_conditional import pair_flip_noise
from keras_mr.benchmarking.noise.class_conditional import symmetric_noise
from keras_mr.benchmarking.noise.instance_dependent import instance_dependent_noise
from keras_mr.benchmarking.noise.kinds import NOISE
from keras_mr.benchmarking.noise.kinds import NOISE_TYPES
from keras_mr.benchmarking.noise.kinds import apply_noise

__all__ = [
    "NOISE",
    "NOISE_TYPES",
    "NoisyLabels",
    "apply_noise",
    "empirical_transition_matrix",
    "confusion_noise",
    "flip2_noise",
    "lookalike_classes",
    "flip_noise",
    "instance_dependent_noise",
    "pair_flip_noise",
    "symmetric_noise",
]

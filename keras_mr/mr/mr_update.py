"""One MR update as a pure function: ``mr_update(state, config, losses) -> (state, log p)``.

Everything :class:`keras_mr.MRSampleWeighter` decides at an update happens here, on
plain NumPy values, in this order (optax style: an explicit :class:`MRState`, a pure
update, the Keras callback a thin layer that reads the losses, calls
:func:`mr_update` and publishes the result):

1. **Guiding noise rate** (only with ``eta="auto"`` or ``max_weight="auto"``): the first
   update's mean loss becomes the reference loss; the two-groups test of
   :func:`keras_mr.mr.auto_tuning.guiding_noise_rate` gives this update's rate (held at
   its maximum); ``split_updates`` counts the updates since the losses first showed two
   groups.
2. **Step size**: a fixed ``eta``; or with ``"auto"``, ``ETA_BEFORE_SPLIT`` (uniform
   weights) until the first split, then the ``eta`` whose uncapped distribution has the
   ESS target of :func:`keras_mr.mr.auto_tuning.ess_target` (never decreasing).
3. **Multiplicative weights**: the losses join the history and
   ``log p = log softmax(-eta L)`` (:func:`keras_mr.mr.multiplicative_weights.mw_update`).
4. **Cap**: a fixed ``max_weight``, or with ``"auto"`` ``1 / ((1 - r) N)`` once a split
   was seen (no cap before), by KL projection onto the capped simplex
   (:func:`keras_mr.mr.capped_simplex.project_capped_simplex_log`).

Every value the state carries is float32 or int32 (as in the Keras variables it is
saved in, see :class:`keras_mr.mr.weighter_state.WeighterState`), and is rounded to
float32 *before* it is used, so an update computed from a restored state repeats the
uninterrupted run bitwise.

Example:

>>> import numpy as np
>>> config = MRConfig(eta=1.0, max_weight=None)
>>> state = init_mr_state(3)
>>> update = mr_update(state, config, np.array([0.0, 0.0, np.log(2.0)]))
>>> np.round(np.exp(update.log_weights), 3)  # p = softmax(-L): half the weight on the lossy one
array([0.4, 0.4, 0.2])
>>> update.state.cumulative_loss  # the history the next update starts from
array([0.       , 0.       , 0.6931472], dtype=float32)
"""

from typing import NamedTuple
from typing import Optional
from typing import Union

import numpy as np

from keras_mr.mr import auto_tuning
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.multiplicative_weights import check_eta
from keras_mr.mr.multiplicative_weights import check_finite
from keras_mr.mr.multiplicative_weights import mw_update


class MRConfig(NamedTuple):
    """The settings of an MR update.

    Attributes:
        eta: ``"auto"`` or this update's step size ``> 0`` (a schedule is evaluated by
            the caller).
        max_weight: ``"auto"``, a cap on every ``p_i`` (``>= 1/N``), or ``None``.
        history_mode: ``"rescale"`` (``log p = -eta_t sum_s l_s``) or ``"accumulate"``
            (``log p = -sum_s eta_s l_s``).
    """

    eta: Union[str, float] = "auto"
    max_weight: Union[str, float, None] = "auto"
    history_mode: str = "rescale"


class MRState(NamedTuple):
    """What an MR update carries to the next one (float32 / int32 values).

    Attributes:
        cumulative_loss: float32 ``(N,)`` loss history ``L = sum_s l_s``.
        scaled_history: float32 ``(N,)`` ``sum_s eta_s l_s`` (``history_mode="accumulate"``).
        last_loss: float32 ``(N,)`` the losses of the last update.
        eta: the last automatic ``eta`` (0 before the first split).
        noise_rate: the guiding noise rate (held at its maximum over split updates).
        reference_loss: the mean loss of the first update (0 before it).
        split_updates: updates since the losses first showed two groups (0: none yet).
    """

    cumulative_loss: np.ndarray
    scaled_history: np.ndarray
    last_loss: np.ndarray
    eta: float = 0.0
    noise_rate: float = 0.0
    reference_loss: float = 0.0
    split_updates: int = 0


class MRUpdate(NamedTuple):
    """What :func:`mr_update` returns.

    Attributes:
        state: the new :class:`MRState`.
        log_weights: float64 ``(N,)`` ``log p`` of the new distribution.
        eta: the step size this update used.
        noise_rate: the guiding noise rate of this update (``None`` when neither
            setting is automatic).
    """

    state: MRState
    log_weights: np.ndarray
    eta: float
    noise_rate: Optional[float]


def init_mr_state(num_examples):
    """The state before the first update: no history, rate 0, no split seen.

    Args:
        num_examples: ``N``.

    Returns:
        :class:`MRState`.
    """
    zeros = np.zeros(int(num_examples), np.float32)
    return MRState(zeros, zeros.copy(), zeros.copy())


def _f32(value):
    return float(np.float32(value))


def _guiding_rate(state, losses):
    """Step 1: ``(noise_rate, reference_loss, split_updates)`` after this update."""
    reference = state.reference_loss
    if reference <= 0:
        reference = _f32(max(float(np.mean(losses)), 1e-30))
    guide = auto_tuning.guiding_noise_rate(losses, state.noise_rate, reference)
    split_updates = state.split_updates
    if guide.separated or split_updates > 0:
        split_updates += 1
    return _f32(guide.rate), reference, split_updates


def _auto_eta(state, noise_rate, split_updates, history):
    """Step 2 for ``eta="auto"``: ``(eta used, eta kept in the state)``."""
    if split_updates == 0:  # no two groups seen yet: (nearly) uniform weights
        return auto_tuning.ETA_BEFORE_SPLIT, state.eta
    target = auto_tuning.ess_target(noise_rate, split_updates - 1)
    eta = auto_tuning.eta_for_ess(history, target)
    # never decreases (the distribution keeps sharpening as the history grows)
    eta = _f32(max(eta, state.eta))
    return eta, eta


def _cap(config, noise_rate, split_updates, num_examples):
    """Step 4: the cap of this update, or ``None``."""
    if config.max_weight != "auto":
        return config.max_weight
    if split_updates == 0:  # no cap before the losses show two groups
        return None
    return auto_tuning.auto_max_weight(noise_rate, num_examples)


def mr_update(state, config, losses):
    """One MR update (see the module docstring for its four steps).

    Args:
        state: the :class:`MRState` of the previous update (:func:`init_mr_state` at the
            first).
        config: :class:`MRConfig`.
        losses: float ``(N,)`` per-example losses at the current parameters (finite).

    Returns:
        :class:`MRUpdate` ``(state, log_weights, eta, noise_rate)``; the returned state's
        arrays are float32, its scalars float32-exact.

    Raises:
        ValueError: non-finite losses, a shape that does not match the state, or a
            fixed ``eta`` that is not a finite number ``> 0``.
    """
    losses = np.asarray(losses, dtype=np.float64)
    check_finite(losses, "losses")
    auto_eta = isinstance(config.eta, str) and config.eta == "auto"
    auto_rate = auto_eta or (isinstance(config.max_weight, str) and config.max_weight == "auto")
    noise_rate, reference, split_updates = None, state.reference_loss, state.split_updates
    if auto_rate:
        noise_rate, reference, split_updates = _guiding_rate(state, losses)
    kept_eta = state.eta
    if auto_eta:
        history = np.asarray(state.cumulative_loss, np.float64) + losses
        eta, kept_eta = _auto_eta(state, noise_rate, split_updates, history)
    else:
        eta = check_eta(config.eta)
    log_p, cumulative, scaled = mw_update(
        state.cumulative_loss,
        losses,
        eta,
        history_mode=config.history_mode,
        scaled_history=state.scaled_history,
    )
    cap = _cap(config, noise_rate, split_updates, losses.size)
    if cap is not None:
        log_p = project_capped_simplex_log(log_p, cap)
    new_state = MRState(
        cumulative_loss=np.asarray(cumulative, np.float32),
        scaled_history=np.asarray(scaled, np.float32),
        last_loss=np.asarray(losses, np.float32),
        eta=kept_eta,
        noise_rate=state.noise_rate if noise_rate is None else noise_rate,
        reference_loss=reference,
        split_updates=split_updates,
    )
    return MRUpdate(new_state, log_p, eta, noise_rate)

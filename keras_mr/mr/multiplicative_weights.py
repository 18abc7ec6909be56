"""The multiplicative-weights (MW) rule of Multiplicative Reweighting (MR).

Algorithm 1 of the MR paper sets, after epoch ``t``::

    w_{t+1, i} = exp(-eta * sum_{s <= t} l_i(theta_s))
    p_{t+1, i} = w_{t+1, i} / sum_j w_{t+1, j}

i.e. ``p = softmax(-eta * L)`` with ``L`` the per-example cumulative loss.
Exponentiating ``-eta * L`` directly underflows to ``0 / 0 = NaN`` as soon as
``eta * L`` exceeds ~745 for every example (e.g. ``eta = 100`` and losses of a
few units).  Everything here works in the log domain instead:
``log p = -eta * L - logsumexp(-eta * L)``, which is exact and finite for any
finite ``eta * L``.  The functions are pure NumPy (float64) so they run on any
Keras backend and on the host next to a ``tf.data`` pipeline.
"""

import numpy as np


def check_eta(eta, name="eta"):
    """Returns ``eta`` as a float, or raises a ``ValueError`` naming ``name``.

    Args:
        eta: the MW step size; must be a finite number ``> 0``.
        name: the argument's name in the error message.

    Returns:
        ``float(eta)``.
    """
    is_number = isinstance(eta, (int, float, np.integer, np.floating)) and not isinstance(eta, bool)
    if not is_number or not np.isfinite(eta) or eta <= 0:
        raise ValueError(
            f"`{name}` must be a finite number > 0 (the MW step size), got {eta!r}. "
            "The MR paper uses eta=0.01 with cross-entropy on CIFAR."
        )
    return float(eta)


def logsumexp(a):
    """Numerically stable ``log(sum(exp(a)))`` of a 1-D array."""
    a = np.asarray(a, dtype=np.float64)
    m = np.max(a)
    if not np.isfinite(m):
        return m
    shifted = a - m
    return m + np.log(np.sum(np.exp(shifted, out=shifted)))  # one temporary of N


def log_softmax(scores):
    """``log(softmax(scores))`` of a 1-D array, computed stably."""
    scores = np.asarray(scores, dtype=np.float64)
    return scores - logsumexp(scores)


def mw_log_weights(cumulative_loss, eta):
    """Log of the MR distribution for a given cumulative loss.

    Args:
        cumulative_loss: array of shape ``(N,)``: ``sum_s l_i(theta_s)``.
        eta: MW step size, ``> 0``.

    Returns:
        float64 array ``(N,)`` with ``log p_i``, ``p = softmax(-eta * L)``.

    Example:

    >>> np.exp(mw_log_weights(np.array([0.0, np.log(3.0)]), eta=1.0))
    array([0.75, 0.25])
    """
    eta = check_eta(eta)
    cumulative_loss = np.asarray(cumulative_loss, dtype=np.float64)
    if cumulative_loss.ndim != 1:
        raise ValueError(
            "`cumulative_loss` must be 1-D (one value per example), "
            f"got shape {cumulative_loss.shape}."
        )
    check_finite(cumulative_loss, "cumulative_loss")
    return log_softmax(-eta * cumulative_loss)


def mw_update(cumulative_loss, losses, eta, history_mode="rescale", scaled_history=None):
    """One MW step: adds new losses to the history and returns the new weights.

    Args:
        cumulative_loss: ``(N,)`` sum of past losses (``None`` = no history).
        losses: ``(N,)`` per-example losses at the current parameters.
        eta: step size of this update, ``> 0``.
        history_mode: how a changing ``eta`` (a schedule) treats the history.
            ``"rescale"`` (default, Algorithm 1 read literally and what the
            paper's reference code does): ``log w = -eta_t * sum_s l_s``, so
            changing ``eta`` rescales the whole history.  ``"accumulate"``:
            ``log w = -sum_s eta_s * l_s``, so a new ``eta`` only applies to
            losses from now on (FTRL with time-varying step sizes).
        scaled_history: ``(N,)`` ``sum_s eta_s l_s`` (only for
            ``"accumulate"``; ``None`` = no history).

    Returns:
        Tuple ``(log_p, cumulative_loss, scaled_history)`` of float64 arrays.
    """
    eta = check_eta(eta)
    losses = np.asarray(losses, dtype=np.float64)
    check_finite(losses, "losses")
    if cumulative_loss is None:
        cumulative_loss = np.zeros_like(losses)
    if scaled_history is None:
        scaled_history = np.zeros_like(losses)
    if np.shape(cumulative_loss) != losses.shape or np.shape(scaled_history) != losses.shape:
        raise ValueError(
            f"`losses` has shape {losses.shape} but the history has shape "
            f"{np.shape(cumulative_loss)}; "
            "the number of training examples must not change between updates."
        )
    if history_mode not in ("rescale", "accumulate"):
        raise ValueError(f"`history_mode` must be 'rescale' or 'accumulate', got {history_mode!r}.")
    # Host memory: the float64 losses, the two new histories and log_p, plus one temporary
    # of N at a time (in-place arithmetic; the same values as the plain expressions).
    cumulative_loss = np.add(cumulative_loss, losses, dtype=np.float64)
    increment = eta * losses
    scaled_history = np.add(increment, scaled_history, out=increment)
    log_p = -eta * cumulative_loss if history_mode == "rescale" else -scaled_history
    log_p -= logsumexp(log_p)
    return log_p, cumulative_loss, scaled_history


def check_finite(values, name):
    bad = ~np.isfinite(values)
    if np.any(bad):
        idx = np.flatnonzero(bad)
        raise ValueError(
            f"`{name}` has {idx.size} non-finite value(s) (NaN/inf), e.g. at example indices "
            f"{idx[:5].tolist()}. MR needs finite per-example losses: check for a diverging "
            "learning rate, labels outside the model's output range, or log(0) in a custom loss "
            "(use from_logits=True or clip probabilities)."
        )

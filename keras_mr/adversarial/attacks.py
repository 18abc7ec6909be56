"""Pure perturbation math for adversarial training and attacks.

Every function here is a small, side-effect-free function of tensors written
with ``keras.ops``, so it runs on every Keras backend and can be composed by
the caller (optax style).  Computing the *input gradient* is the only part that
needs a backend-specific autodiff tool; the training models in
:mod:`keras_mr.adversarial` do that with ``tf.GradientTape`` and then call
these functions.

Conventions:

* ``norm`` is ``"inf"`` (L-infinity) or ``2`` (L2).  ``numpy.inf``, ``"linf"``
  and ``"l2"`` are accepted aliases.
* Norms are taken per example, over all axes but the first (batch) axis.
* ``clip_min`` / ``clip_max`` give the valid input range (``[0, 1]`` for
  images by default in the models); ``None`` disables range clipping.
"""

import math

from keras import ops
from keras import random

_EPS = 1e-12


def canonical_norm(norm):
    """Returns ``"inf"`` or ``2`` for the accepted spellings of a norm.

    Args:
        norm: ``"inf"``, ``"linf"``, ``numpy.inf``/``float("inf")``, ``2``,
            ``"2"`` or ``"l2"``.

    Returns:
        ``"inf"`` or ``2``.

    Raises:
        ValueError: for any other value.
    """
    if isinstance(norm, str):
        key = norm.lower()
        if key in ("inf", "linf", "l_inf", "l-inf"):
            return "inf"
        if key in ("2", "l2"):
            return 2
    elif isinstance(norm, (int, float)):
        if math.isinf(norm) and norm > 0:
            return "inf"
        if norm == 2:
            return 2
    raise ValueError(f"Invalid `norm`={norm!r}: use 'inf' (L-infinity, also np.inf) or 2 (L2).")


def check_eps(eps, name="eps"):
    """Validates a perturbation radius or step size (a non-negative number)."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)):
        raise TypeError(
            f"`{name}` must be a non-negative float, got {eps!r} (type {type(eps).__name__})."
        )
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"`{name}` must be a finite number >= 0, got {eps}.")
    return float(eps)


def _per_example_l2(delta):
    """L2 norm of each example, shaped to broadcast against ``delta``."""
    axes = tuple(range(1, len(delta.shape)))
    sq = ops.sum(ops.square(delta), axis=axes, keepdims=True)
    return ops.sqrt(sq)


def project_linf(delta, eps):
    """Projects a perturbation onto the L-infinity ball of radius ``eps``.

    Args:
        delta: perturbation tensor ``(B, ...)``.
        eps: radius (float >= 0).

    Returns:
        ``clip(delta, -eps, eps)`` elementwise.

    Example:

    >>> project_linf(np.array([[0.3, -0.05]]), 0.1)  # doctest: +SKIP
    [[0.1, -0.05]]
    """
    delta = ops.convert_to_tensor(delta)
    return ops.clip(delta, -eps, eps)


def project_l2(delta, eps):
    """Projects each example's perturbation onto the L2 ball of radius ``eps``.

    Perturbations already inside the ball are unchanged; those outside are
    rescaled to norm ``eps`` (the Euclidean projection).

    Args:
        delta: perturbation tensor ``(B, ...)``.
        eps: radius (float >= 0).

    Returns:
        ``delta * min(1, eps / ||delta_i||_2)`` per example.
    """
    delta = ops.convert_to_tensor(delta)
    norms = _per_example_l2(delta)
    factor = ops.minimum(
        ops.ones_like(norms), eps / ops.maximum(norms, ops.cast(_EPS, norms.dtype))
    )
    return delta * factor


def project_lp_ball(delta, eps, norm="inf"):
    """Projects a perturbation onto the ``norm`` ball of radius ``eps``."""
    norm = canonical_norm(norm)
    return project_linf(delta, eps) if norm == "inf" else project_l2(delta, eps)


def clip_to_range(x, clip_min=0.0, clip_max=1.0):
    """Clips inputs to the valid range; ``None`` bounds leave that side open."""
    x = ops.convert_to_tensor(x)
    if clip_min is not None:
        x = ops.maximum(x, ops.cast(clip_min, x.dtype))
    if clip_max is not None:
        x = ops.minimum(x, ops.cast(clip_max, x.dtype))
    return x


def project_perturbation(x_adv, x, eps, norm="inf", clip_min=0.0, clip_max=1.0):
    """Projects an adversarial input onto the feasible set.

    The feasible set is ``{x + d : ||d|| <= eps} ∩ [clip_min, clip_max]``.
    Projecting the perturbation onto the ball and then clipping to the range
    lands inside both sets: for L-inf this is the exact Euclidean projection
    (both sets are boxes); for L2 it is the standard PGD approximation
    (Madry et al.), which clipping can only move *towards* ``x`` per
    coordinate, so the result stays in the ball.

    Args:
        x_adv: candidate adversarial inputs ``(B, ...)``.
        x: clean inputs, same shape.
        eps: radius of the ball.
        norm: ``"inf"`` or ``2``.
        clip_min: lower end of the valid range or ``None``.
        clip_max: upper end of the valid range or ``None``.

    Returns:
        Tensor of the shape of ``x`` inside the ball and the range.
    """
    x = ops.convert_to_tensor(x)
    x_adv = ops.cast(ops.convert_to_tensor(x_adv), x.dtype)
    delta = project_lp_ball(x_adv - x, eps, norm)
    return clip_to_range(x + delta, clip_min, clip_max)


def steepest_ascent_direction(grad, norm="inf"):
    """Unit-norm direction of steepest ascent for a given input gradient.

    Args:
        grad: gradient of the loss w.r.t. the inputs ``(B, ...)``.
        norm: ``"inf"`` gives ``sign(grad)``; ``2`` gives
            ``grad / ||grad_i||_2`` per example (0 where the gradient is 0).

    Returns:
        Tensor of the shape of ``grad``.
    """
    norm = canonical_norm(norm)
    grad = ops.convert_to_tensor(grad)
    if norm == "inf":
        return ops.sign(grad)
    norms = _per_example_l2(grad)
    return grad / ops.maximum(norms, ops.cast(_EPS, norms.dtype))


def pgd_step(x_adv, x, grad, eps, step_size, norm="inf", clip_min=0.0, clip_max=1.0):
    """One projected-gradient *ascent* step (Madry et al., 2018).

    ``x_adv <- Proj(x_adv + step_size * direction(grad))``, where
    ``direction`` is :func:`steepest_ascent_direction` and ``Proj`` is
    :func:`project` (eps-ball around ``x`` intersected with the valid range).

    Args:
        x_adv: current adversarial inputs.
        x: clean inputs.
        grad: gradient of the loss to maximise w.r.t. ``x_adv``.
        eps: radius of the ball.
        step_size: ascent step size.
        norm: ``"inf"`` or ``2``.
        clip_min: lower end of the valid range or ``None``.
        clip_max: upper end of the valid range or ``None``.

    Returns:
        The updated adversarial inputs.

    Example:

    >>> x = np.zeros((1, 2)); g = np.array([[2.0, -0.5]])
    >>> pgd_step(x, x, g, eps=0.1, step_size=0.3, clip_min=None,
    ...          clip_max=None)  # doctest: +SKIP
    [[0.1, -0.1]]
    """
    x = ops.convert_to_tensor(x)
    step = ops.cast(steepest_ascent_direction(grad, norm), x.dtype)
    x_adv = ops.cast(ops.convert_to_tensor(x_adv), x.dtype) + step_size * step
    return project_perturbation(x_adv, x, eps, norm, clip_min, clip_max)


def random_start(x, eps, norm="inf", clip_min=0.0, clip_max=1.0, seed=None):
    """Random starting point for PGD inside the eps-ball and the range.

    L-inf: uniform noise in ``[-eps, eps]`` per coordinate (Madry et al.).
    L2: a point drawn uniformly from the L2 ball (Gaussian direction, radius
    ``eps * U**(1/d)``).

    Args:
        x: clean inputs ``(B, ...)``.
        eps: radius: a number, or per-example radii broadcastable to ``x`` (e.g.
            ``(B, 1, ..., 1)``; LAS-AT's per-example ``eps``).
        norm: ``"inf"`` or ``2``.
        clip_min: lower end of the valid range or ``None``.
        clip_max: upper end of the valid range or ``None``.
        seed: ``None``, an int or a ``keras.random.SeedGenerator`` (use a
            generator inside compiled training steps).

    Returns:
        Tensor like ``x`` with ``||result - x|| <= eps`` inside the range.
    """
    norm = canonical_norm(norm)
    x = ops.convert_to_tensor(x)
    shape = ops.shape(x)
    if norm == "inf":
        delta = eps * random.uniform(shape, minval=-1.0, maxval=1.0, dtype=x.dtype, seed=seed)
    else:
        direction = random.normal(shape, dtype=x.dtype, seed=seed)
        direction = direction / ops.maximum(_per_example_l2(direction), ops.cast(_EPS, x.dtype))
        dim = 1
        for s in x.shape[1:]:
            dim *= int(s)
        u = random.uniform((shape[0],) + (1,) * (len(x.shape) - 1), dtype=x.dtype, seed=seed)
        delta = direction * eps * ops.power(u, 1.0 / dim)
    return project_perturbation(x + delta, x, eps, norm, clip_min, clip_max)


def perturbation_norm(x_adv, x, norm="inf"):
    """Per-example norm of ``x_adv - x`` (shape ``(B,)``), for checks/logs."""
    norm = canonical_norm(norm)
    delta = ops.convert_to_tensor(x_adv) - ops.convert_to_tensor(x)
    axes = tuple(range(1, len(delta.shape)))
    if norm == "inf":
        return ops.max(ops.abs(delta), axis=axes)
    return ops.sqrt(ops.sum(ops.square(delta), axis=axes))

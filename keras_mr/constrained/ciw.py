"""Constrained Instance reWeighting (CIW): closed-form per-batch weights.

CIW (Kumar & Amid, "Constrained Instance and Class Reweighting for Robust
Learning under Label Noise") gives every example of a mini-batch an
importance weight ``q_i`` that solves

    min_{q in simplex}  sum_i q_i l_i  +  lambda * D_alpha(q || p)

where ``l_i`` are the per-example losses of the batch, ``p`` is a reference
distribution (uniform ``1/B`` in the paper) and ``D_alpha`` a divergence that
keeps ``q`` close to ``p``.  The penalty weight ``lambda`` is the
*temperature*: large ``lambda`` keeps the weights uniform, small ``lambda``
concentrates them on the lowest-loss examples.  (The paper states the problem
with a constraint ``D(q || p) <= delta``; ``lambda`` is its Lagrange
multiplier, so the two forms have the same solutions, and we parametrise by
``lambda`` because that is what the closed forms use.)

Divergence family.  We use Amari's alpha-divergence restricted to the
simplex::

    D_alpha(q || p) = 1 / (alpha (alpha - 1)) * sum_i p_i ((q_i / p_i)^alpha - 1)

whose members include

| ``alpha`` | name (``divergence=``) | divergence | weights |
| --- | --- | --- | --- |
| 1 (limit) | ``"kl"`` | KL(q‖p) | ``q ∝ p exp(-l/λ)`` = ``softmax(-l/λ)`` for uniform ``p`` |
| 0 (limit) | ``"reverse_kl"`` | KL(p‖q) | ``q_i = p_i λ / (λ + l_i - ν)`` |
| 1/2 | ``"hellinger"`` | 4(1 - Σ√(qp)) = 2 sq. Hellinger | ``q_i = p_i / (1 + (l_i - ν)/(2λ))²`` |
| 2 | ``"chi2"`` | ½ Pearson χ² | ``q_i = p_i [1 + (ν - l_i)/λ]_+`` (sparse) |

Setting the gradient of the Lagrangian to zero gives, for every ``alpha``,

    q_i = p_i * [1 + (alpha - 1) (nu - l_i) / lambda]_+ ^ (1 / (alpha - 1))

i.e. ``p`` times a *tempered exponential* of ``-(l_i - nu) / lambda``; the
scalar ``nu`` makes the weights sum to one.  It is explicit for ``alpha = 1``
(a log-sum-exp) and for ``alpha = 2`` (a sort, as in sparsemax); for other
``alpha`` we find it by bisection on ``[min l, max l]`` (the sum is monotone
in ``nu``), with a fixed number of steps so that the function is a pure,
graph-friendly composition of ``keras.ops`` and runs on every backend.  After
the bisection the weights are renormalised to sum exactly to one.

For every ``alpha`` the weights are non-increasing in the loss: examples that
the model fits badly (often the mislabelled ones) get less weight.

The weights are *constants* in the gradient (the paper differentiates
``sum_i q_i l_i`` with ``q`` held fixed): :func:`instance_weights` applies
``stop_gradient`` to the losses.

Combining with MR / any sample weights: pass them as ``reference``.  The
problem above then keeps ``q`` close to the MR distribution instead of to the
uniform one; for KL this is exactly "CIW weight x MR weight, renormalised in
the batch" (``q ∝ w_MR exp(-l/λ)``).
"""

import math

from keras import ops

# Named members of the alpha family.
DIVERGENCES = {"kl": 1.0, "reverse_kl": 0.0, "hellinger": 0.5, "chi2": 2.0}


def resolve_alpha(divergence):
    """Maps a divergence name or an ``alpha`` value to ``alpha``.

    Args:
        divergence: one of ``"kl"``, ``"reverse_kl"``, ``"hellinger"``,
            ``"chi2"`` or a real number ``alpha``.

    Returns:
        Python float ``alpha``.
    """
    if isinstance(divergence, str):
        key = divergence.lower()
        if key not in DIVERGENCES:
            raise ValueError(
                f"Unknown `divergence`={divergence!r}. Use one of "
                f"{sorted(DIVERGENCES)} or a float alpha."
            )
        return DIVERGENCES[key]
    if isinstance(divergence, bool) or not isinstance(divergence, (int, float)):
        raise TypeError(
            "`divergence` must be a name "
            f"({sorted(DIVERGENCES)}) or a float alpha; got "
            f"{type(divergence).__name__}."
        )
    alpha = float(divergence)
    if not math.isfinite(alpha):
        raise ValueError(f"`divergence` alpha must be finite; got {alpha}.")
    return alpha


def _check_temperature(temperature):
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(
            f"`temperature` must be > 0 (got {temperature}); use a large "
            "value for near-uniform weights."
        )


def reference_distribution(losses, reference):
    """The CIW reference ``p``: ``reference`` normalised to sum to 1, or uniform."""
    if reference is None:
        batch = ops.cast(ops.shape(losses)[0], losses.dtype)
        return ops.ones_like(losses) / batch
    p = ops.cast(ops.reshape(reference, ops.shape(losses)), losses.dtype)
    p = ops.maximum(p, 0.0)
    total = ops.sum(p)
    safe = ops.where(total > 0, total, ops.ones_like(total))
    uniform = ops.ones_like(losses) / ops.cast(ops.shape(losses)[0], p.dtype)
    return ops.where(total > 0, p / safe, uniform)


def _normalise(q, p):
    total = ops.sum(q)
    return ops.where(total > 0, q / ops.where(total > 0, total, 1.0), p)


def _kl_weights(losses, temperature, p):
    logp = ops.log(ops.maximum(p, 1e-38))
    logits = ops.where(p > 0, logp - losses / temperature, -1e30)
    return ops.softmax(logits)


def _chi2_weights(losses, temperature, p):
    # q_i = p_i [1 + (nu - l_i)/lam]_+ ; sort by loss, the support is a prefix.
    order = ops.argsort(losses)
    ls = ops.take(losses, order)
    ps = ops.take(p, order)
    cum_p = ops.cumsum(ps)
    cum_pl = ops.cumsum(ps * ls)
    # nu_k if the support is the first k elements:
    # sum_{i<=k} p_i (lam + nu - l_i) = lam  =>  nu = (lam (1 - P) + S) / P
    safe_p = ops.maximum(cum_p, 1e-30)
    nu_k = (temperature * (1.0 - cum_p) + cum_pl) / safe_p
    # element k is in the support iff lam + nu_k - l_k > 0 (and p_k > 0)
    valid = ops.logical_and(temperature + nu_k - ls > 0, cum_p > 0)
    k = ops.sum(ops.cast(valid, "int32")) - 1
    k = ops.maximum(k, 0)
    nu = ops.take(nu_k, k)
    return p * ops.relu(1.0 + (nu - losses) / temperature)


def _tempered(losses, temperature, p, alpha, nu):
    base = 1.0 + (alpha - 1.0) * (nu - losses) / temperature
    if alpha > 1.0:
        return p * ops.power(ops.relu(base), 1.0 / (alpha - 1.0))
    # alpha < 1: base > 0 on the search interval; guard the pole anyway.
    base = ops.maximum(base, 1e-12)
    return p * ops.power(base, 1.0 / (alpha - 1.0))


def _bisection_weights(losses, temperature, p, alpha, num_iters):
    lo = ops.min(losses)
    hi = ops.max(losses)
    if alpha < 1.0:
        # the weights have a pole at nu = min(l) + lam / (1 - alpha)
        pole = lo + temperature / (1.0 - alpha)
        hi = ops.minimum(hi, lo + (pole - lo) * (1.0 - 1e-6))
    for _ in range(num_iters):
        mid = 0.5 * (lo + hi)
        too_big = ops.sum(_tempered(losses, temperature, p, alpha, mid)) > 1.0
        hi = ops.where(too_big, mid, hi)
        lo = ops.where(too_big, lo, mid)
    return _tempered(losses, temperature, p, alpha, 0.5 * (lo + hi))


def instance_weights(losses, temperature=1.0, divergence="kl", reference=None, num_iters=30):
    """Closed-form CIW instance weights of one mini-batch.

    Solves ``min_{q in simplex} <q, l> + temperature * D_alpha(q || p)``
    (see the module docstring) and returns ``q``.  Gradients do not flow
    through the weights.

    Args:
        losses: tensor ``(B,)`` of per-example losses.
        temperature: ``lambda > 0`` (float or scalar tensor).  Larger means
            closer to ``reference``; for KL the weights are
            ``softmax(-losses / temperature)``.
        divergence: ``"kl"`` (default), ``"reverse_kl"``, ``"hellinger"``,
            ``"chi2"`` or a float ``alpha`` of the alpha-divergence family.
        reference: optional ``(B,)`` non-negative weights (e.g. MR weights);
            normalised to a distribution ``p``.  Default uniform.
        num_iters: bisection steps for ``alpha`` not in ``{1, 2}``.

    Returns:
        Tensor ``(B,)`` of non-negative weights summing to one.

    Example:

    >>> import numpy as np
    >>> q = instance_weights(np.array([0.1, 0.2, 3.0]), temperature=0.5)
    >>> np.round(np.asarray(q), 3)  # softmax(-losses / 0.5): the high-loss example is damped
    array([0.549, 0.449, 0.002], dtype=float32)
    """
    alpha = resolve_alpha(divergence)
    _check_temperature(temperature)
    if not isinstance(num_iters, int) or num_iters < 1:
        raise ValueError(f"`num_iters` must be a positive int; got {num_iters}.")
    losses = ops.convert_to_tensor(losses)
    if not str(losses.dtype).startswith(("float", "bfloat")):
        losses = ops.cast(losses, "float32")
    if len(losses.shape) != 1:
        raise ValueError(
            "`losses` must be a vector of per-example losses of shape (B,); "
            f"got shape {tuple(losses.shape)}. Use a loss with "
            "reduction=None."
        )
    losses = ops.stop_gradient(losses)
    if reference is not None:
        reference = ops.stop_gradient(ops.convert_to_tensor(reference))
    temperature = ops.cast(temperature, losses.dtype)
    p = reference_distribution(losses, reference)
    if alpha == 1.0:
        q = _kl_weights(losses, temperature, p)
    elif alpha == 2.0:
        q = _chi2_weights(losses, temperature, p)
    else:
        q = _bisection_weights(losses, temperature, p, alpha, num_iters)
    return ops.stop_gradient(_normalise(q, p))


def alpha_divergence(q, p, divergence="kl"):
    """``D_alpha(q || p)`` for distributions ``q``, ``p`` (for testing/plots).

    Args:
        q: tensor ``(B,)``, a distribution.
        p: tensor ``(B,)``, a distribution with ``p > 0``.
        divergence: name or ``alpha``, as in :func:`instance_weights`.

    Returns:
        Scalar tensor.
    """
    alpha = resolve_alpha(divergence)
    q = ops.convert_to_tensor(q)
    p = ops.cast(ops.convert_to_tensor(p), q.dtype)
    eps = 1e-30
    if alpha == 1.0:
        return ops.sum(ops.where(q > 0, q * ops.log(ops.maximum(q, eps) / p), 0.0))
    if alpha == 0.0:
        return ops.sum(p * ops.log(p / ops.maximum(q, eps)))
    ratio = ops.maximum(q, 0.0) / p
    return ops.sum(p * (ops.power(ratio, alpha) - 1.0)) / (alpha * (alpha - 1.0))


def temperature_schedule(
    step,
    initial_temperature=1.0,
    final_temperature=None,
    decay_rate=0.5,
    decay_steps=1000,
    burn_in_steps=0,
):
    """Decaying CIW temperature at a training step.

    The temperature is held at ``initial_temperature`` until the end of the
    burn-in, then decays exponentially, and is floored at
    ``final_temperature``::

        lam_t = max(final, initial * decay_rate ** ((t - burn_in) / decay_steps))

    Decreasing ``lambda`` makes the weights progressively peakier as the
    model's losses become more informative.  (The CIW paper uses a decaying
    temperature but does not fix its form; this exponential schedule with a
    floor is our choice.)  ``final_temperature=None`` means no decay.

    Args:
        step: current optimizer step (int or scalar tensor).
        initial_temperature: ``lambda_0 > 0``.
        final_temperature: floor ``> 0``, or ``None`` for a constant
            temperature.
        decay_rate: factor per ``decay_steps`` in ``(0, 1]``.
        decay_steps: positive number of steps.
        burn_in_steps: steps before the decay starts.

    Returns:
        Scalar float32 tensor.
    """
    _check_temperature(initial_temperature)
    if final_temperature is not None:
        _check_temperature(final_temperature)
        if not 0 < decay_rate <= 1:
            raise ValueError(f"`decay_rate` must be in (0, 1]; got {decay_rate}.")
        if not decay_steps > 0:
            raise ValueError(f"`decay_steps` must be > 0; got {decay_steps}.")
    initial = ops.convert_to_tensor(float(initial_temperature), "float32")
    if final_temperature is None:
        return initial
    t = ops.cast(step, "float32") - float(burn_in_steps)
    t = ops.maximum(t, 0.0)
    decayed = initial * ops.power(
        ops.convert_to_tensor(float(decay_rate), "float32"), t / float(decay_steps)
    )
    return ops.maximum(decayed, float(final_temperature))

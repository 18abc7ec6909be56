"""Constrained Class reWeighting (the "C" in CICW): closed-form soft targets.

For one example with (one-hot or soft) label ``y`` over ``K`` classes and
per-class losses ``l_k`` (for cross-entropy ``l_k = -log p_k``, the loss the
example would have if its label were ``k``), CICW replaces the target ``y``
by class weights ``v`` in the simplex that trade a low loss ``<v, l>`` for
staying close to ``y``.  The training loss is then the cross-entropy with the
soft target ``v`` (held constant in the gradient), i.e. ``sum_k v_k l_k``.
All solutions below are closed form and vectorised over the batch
(``(B, K)`` in, ``(B, K)`` out); no per-example solver is needed.

``"kl"``
    ``min_v <v, l> + lam * KL(v || y_eps)`` with the smoothed label
    ``y_eps = (1 - eps) y + eps / K`` (``KL(v || y)`` is infinite for a
    one-hot ``y`` unless ``v = y``, so ``eps > 0`` is required).
    Solution: ``v ∝ y_eps * exp(-l / lam)``; for cross-entropy
    ``v ∝ y_eps * p ** (1 / lam)``.  As ``lam -> inf`` this is static label
    smoothing (``v = y_eps``); for finite ``lam`` it moves mass towards the
    classes the model predicts, a multiplicative form of *soft label
    bootstrapping* (Reed et al. 2015 use ``beta y + (1 - beta) p``).

``"l2"``
    ``min_v <v, l> + lam / 2 * ||v - y||^2``.  Solution: the Euclidean
    projection of ``y - l / lam`` onto the simplex (sort-based, as in
    sparsemax), a sparse soft target.

``"l1"`` (total variation)
    ``min_v <v, l>  s.t.  ||v - y||_1 <= delta`` (``delta`` in ``[0, 2]``).
    This is a linear program whose solution moves up to ``delta / 2`` of
    probability mass from the highest-loss classes to the lowest-loss class
    ``m = argmin_k l_k`` (``= argmax_k p_k`` for cross-entropy).  For a one-hot
    ``y`` whose class is not ``m`` it is exactly
    ``v = (1 - delta/2) y + (delta/2) onehot(argmax p)``: *static hard label
    bootstrapping* (Reed et al.) with ``beta = 1 - delta / 2``.  (The L1
    *penalty* form is bang-bang, all or nothing; the constrained form is the
    one that recovers bootstrapping, which is the paper's observation, so
    for ``"l1"`` the hyperparameter is the budget ``delta``.)
"""

from keras import ops

from keras_mr.constrained.mixing_ops import smooth_labels

CLASS_DIVERGENCES = ("kl", "l1", "l2")


def project_simplex(z):
    """Euclidean projection of each row of ``z`` onto the probability simplex.

    Args:
        z: tensor ``(B, K)``.

    Returns:
        Tensor ``(B, K)``: ``argmin_{v in simplex} ||v - z||``, row-wise.
    """
    z = ops.convert_to_tensor(z)
    k = ops.shape(z)[-1]
    z_sorted = ops.flip(ops.sort(z, axis=-1), axis=-1)
    cumsum = ops.cumsum(z_sorted, axis=-1) - 1.0
    idx = ops.cast(ops.arange(1, k + 1), z.dtype)
    support = ops.cast(z_sorted - cumsum / idx > 0, "int32")
    rho = ops.maximum(ops.sum(support, axis=-1, keepdims=True), 1)
    tau = ops.take_along_axis(cumsum, rho - 1, axis=-1) / ops.cast(rho, z.dtype)
    return ops.relu(z - tau)


def _kl(class_losses, y, temperature, smoothing):
    y_eps = smooth_labels(y, smoothing)
    logits = ops.log(ops.maximum(y_eps, 1e-38)) - class_losses / temperature
    logits = ops.where(y_eps > 0, logits, -1e30)
    return ops.softmax(logits, axis=-1)


def _l2(class_losses, y, temperature):
    return project_simplex(y - class_losses / temperature)


def _l1(class_losses, y, budget):
    num_classes = ops.shape(y)[-1]
    best = ops.argmin(class_losses, axis=-1)
    best_onehot = ops.one_hot(best, num_classes, dtype=y.dtype)
    # take mass from the classes in decreasing order of loss
    order = ops.argsort(-class_losses, axis=-1)
    y_sorted = ops.take_along_axis(y, order, axis=-1)
    not_best_sorted = 1.0 - ops.take_along_axis(best_onehot, order, axis=-1)
    avail = y_sorted * not_best_sorted
    before = ops.cumsum(avail, axis=-1) - avail
    take_sorted = ops.minimum(avail, ops.relu(budget / 2.0 - before))
    # undo the sort: scatter by the inverse permutation
    inverse = ops.argsort(order, axis=-1)
    take = ops.take_along_axis(take_sorted, inverse, axis=-1)
    moved = ops.sum(take, axis=-1, keepdims=True)
    return y - take + moved * best_onehot


def class_weights(class_losses, y, divergence="kl", temperature=1.0, budget=0.4, smoothing=0.1):
    """Closed-form CICW class weights (soft targets) for a batch.

    Args:
        class_losses: tensor ``(B, K)``; ``class_losses[i, k]`` is the loss of
            example ``i`` if its label were ``k`` (``-log p_ik`` for
            cross-entropy, see :func:`crossentropy_class_losses`).
        y: tensor ``(B, K)`` of one-hot (or soft) labels.
        divergence: ``"kl"``, ``"l2"`` or ``"l1"`` (see module docstring).
        temperature: ``lam > 0`` for ``"kl"`` and ``"l2"``.
        budget: ``delta`` in ``[0, 2]`` for ``"l1"``.
        smoothing: ``eps`` in ``(0, 1]`` of the KL reference label.

    Returns:
        Tensor ``(B, K)`` of soft targets (rows sum to one), without gradient.

    Example:

    >>> import numpy as np
    >>> v = class_weights(-np.log([[0.7, 0.2, 0.1]]), np.array([[0., 0., 1.]]),
    ...                   divergence="l1", budget=0.6)
    >>> np.round(np.asarray(v), 3)  # 0.3 of the label mass moved to the predicted class
    array([[0.3, 0. , 0.7]], dtype=float32)
    """
    if divergence not in CLASS_DIVERGENCES:
        raise ValueError(
            f"Unknown class `divergence`={divergence!r}; use one of {CLASS_DIVERGENCES}."
        )
    if isinstance(temperature, (int, float)) and not temperature > 0:
        raise ValueError(f"`temperature` must be > 0; got {temperature}.")
    if divergence == "l1" and isinstance(budget, (int, float)) and not 0 <= budget <= 2:
        raise ValueError(f"`budget` must be in [0, 2]; got {budget}.")
    if divergence == "kl" and isinstance(smoothing, (int, float)) and not 0 < smoothing <= 1:
        raise ValueError(
            "`smoothing` must be in (0, 1] for the KL class divergence "
            f"(KL to a one-hot label is infinite); got {smoothing}."
        )
    class_losses = ops.stop_gradient(ops.convert_to_tensor(class_losses))
    if not str(class_losses.dtype).startswith(("float", "bfloat")):
        class_losses = ops.cast(class_losses, "float32")
    y = ops.cast(ops.convert_to_tensor(y), class_losses.dtype)
    if len(class_losses.shape) != 2 or len(y.shape) != 2:
        raise ValueError(
            "`class_losses` and `y` must have shape (B, K); got "
            f"{tuple(class_losses.shape)} and {tuple(y.shape)}. One-hot "
            "encode integer labels first."
        )
    if divergence == "kl":
        v = _kl(class_losses, y, temperature, smoothing)
    elif divergence == "l2":
        v = _l2(class_losses, y, temperature)
    else:
        v = _l1(class_losses, y, ops.cast(budget, class_losses.dtype))
    return ops.stop_gradient(v)


def crossentropy_class_losses(y_pred, from_logits=False):
    """Per-class cross-entropy losses ``-log p_k``.

    Args:
        y_pred: tensor ``(B, K)`` of probabilities or logits.
        from_logits: whether ``y_pred`` are logits.

    Returns:
        Tensor ``(B, K)``.
    """
    y_pred = ops.convert_to_tensor(y_pred)
    if from_logits:
        return -ops.log_softmax(y_pred, axis=-1)
    return -ops.log(ops.clip(y_pred, 1e-7, 1.0))

"""Small synthetic problems from the papers: two moons and the 1-D examples."""

import numpy as np

from keras_mr.benchmarking.datasets.base import Dataset


def _check_positive_int(name, v):
    if not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"`{name}` must be a positive integer, got {v!r}.")


def _check_rate(name, v):
    if not np.isscalar(v) or not 0.0 <= float(v) <= 1.0:
        raise ValueError(f"`{name}` must be a number in [0, 1], got {v!r}.")


def make_moons(n, noise_std=0.1, seed=0):
    """Two interleaving half circles (balanced), as in the CIW paper's illustration.

    Class 0 is the upper moon ``(cos t, sin t)``, class 1 the lower one
    ``(1 - cos t, 0.5 - sin t)``, ``t ~ U[0, pi]``, plus Gaussian noise.

    Args:
        n: number of points.
        noise_std: std of the Gaussian noise added to the coordinates.
        seed: seed.

    Returns:
        ``(x, y)``: float32 ``(n, 2)`` and int64 ``(n,)``.
    """
    _check_positive_int("n", n)
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 2)
    t = rng.uniform(0.0, np.pi, size=n)
    x = np.where(
        (y == 0)[:, None],
        np.stack([np.cos(t), np.sin(t)], axis=1),
        np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1),
    )
    x = x + noise_std * rng.normal(size=x.shape)
    return x.astype("float32"), y.astype("int64")


def load_two_moons(n_train=500, n_test=500, noise_std=0.1, seed=0):
    """Two-moons train/test data (clean labels; add noise with :mod:`keras_mr.benchmarking.noise`).

    The CIW paper corrupts 30% of the labels of this dataset; do that with
    ``keras_mr.benchmarking.noise.symmetric_noise(data.y_train, 0.3, 2)``.

    Args:
        n_train: number of training points.
        n_test: number of test points.
        noise_std: coordinate noise.
        seed: seed (the test set uses ``seed + 1``).

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset` with ``x`` float32 ``(n, 2)``.
    """
    x_train, y_train = make_moons(n_train, noise_std, seed)
    x_test, y_test = make_moons(n_test, noise_std, seed + 1)
    return Dataset(
        "two_moons",
        x_train,
        y_train,
        x_test,
        y_test,
        2,
        class_names=["upper", "lower"],
        info={"noise_std": noise_std, "seed": seed},
    )


def _one_d_base(n, corruption, seed):
    _check_positive_int("n", n)
    _check_rate("corruption", corruption)
    rng = np.random.default_rng(seed)
    y = rng.choice(np.array([-1.0, 1.0]), size=n)
    x = y.copy()
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: int(np.round(corruption * n))]] = True
    return x, y, mask, rng


def load_logistic_1d(n=15, corruption=1.0 / 3.0, seed=0):
    """The MR paper's 1-D logistic-regression example with flip noise.

    ``x_i = y_i`` drawn uniformly from ``{-1, +1}``; exactly
    ``round(corruption * n)`` labels (the set ``I_cr``) are flipped,
    ``y~_k = -y_k``.  The paper simulates ``n = 15`` and ``corruption = 1/3``.
    Labels are kept in ``{-1, +1}`` (the paper's convention for the logistic
    loss ``log(1 + exp(-y theta x))``); use ``(y + 1) // 2`` for ``{0, 1}``.
    Train and test sets are the same points (the example is about the
    optimisation), with clean labels in ``y_test``.

    Args:
        n: number of points.
        corruption: fraction of flipped labels (``sigma``).
        seed: seed.

    Returns:
        :class:`keras_mr.benchmarking.datasets.Dataset`: ``x_train`` float32 ``(n, 1)``,
        ``y_train`` noisy, ``y_train_clean`` and ``noisy_mask`` set.
    """
    x, y, mask, _ = _one_d_base(n, corruption, seed)
    noisy = np.where(mask, -y, y)
    d = Dataset(
        "logistic_1d",
        x[:, None].astype("float32"),
        noisy.astype(np.int64),
        x[:, None].astype("float32"),
        y.astype(np.int64),
        2,
        y_train_clean=y.astype(np.int64),
        noisy_mask=mask,
        info={"corruption": corruption, "seed": seed, "labels": "{-1, +1}"},
    )
    return d


def load_least_squares_1d(n=15, corruption=1.0 / 3.0, epsilon=1.0, sign="flip", seed=0):
    """The MR paper's 1-D least-squares (linear regression) example.

    ``x_i = y_i`` in ``{-1, +1}``, noisy targets ``y~ = y + e`` with
    ``e_i = +-epsilon`` on exactly ``round(corruption * n)`` examples and
    ``0`` elsewhere.  The paper leaves the sign of ``e_i`` open; here
    ``sign="flip"`` (default) uses ``e_i = -epsilon * y_i`` (towards the
    other label: ``epsilon = 2`` is a label flip) and ``sign="random"`` draws
    it uniformly.  The paper simulates ``n = 15``, ``corruption = 1/3``,
    ``epsilon = 1``; the clean least-squares solution is ``theta* = 1``.

    Returns a :class:`keras_mr.benchmarking.datasets.Dataset` whose ``y_*`` are float
    targets stored in ``info["targets_train"]`` / ``info["targets_clean"]``
    (``y_train`` holds the *signs* of the clean labels as ints so the container
    stays a classification container); ``noisy_mask`` marks ``I_cr``.  For
    direct use, :func:`least_squares_1d_arrays` returns plain arrays.
    """
    x, y, y_noisy, mask = least_squares_1d_arrays(n, corruption, epsilon, sign, seed)
    return Dataset(
        "least_squares_1d",
        x[:, None],
        y.astype(np.int64),
        x[:, None],
        y.astype(np.int64),
        2,
        y_train_clean=y.astype(np.int64),
        noisy_mask=mask,
        info={
            "targets_train": y_noisy,
            "targets_clean": y,
            "epsilon": epsilon,
            "corruption": corruption,
            "sign": sign,
            "seed": seed,
        },
    )


def least_squares_1d_arrays(n=15, corruption=1.0 / 3.0, epsilon=1.0, sign="flip", seed=0):
    """Arrays of the 1-D least-squares example: ``(x, y_clean, y_noisy, noisy_mask)``.

    See :func:`load_least_squares_1d`.  All float64 except the bool mask.
    """
    if sign not in ("flip", "random"):
        raise ValueError(f"`sign` must be 'flip' or 'random', got {sign!r}.")
    if not np.isscalar(epsilon) or not epsilon > 0:
        raise ValueError(f"`epsilon` must be a positive number, got {epsilon!r}.")
    x, y, mask, rng = _one_d_base(n, corruption, seed)
    s = -y if sign == "flip" else rng.choice(np.array([-1.0, 1.0]), size=n)
    e = np.where(mask, s * epsilon, 0.0)
    return x, y, y + e, mask

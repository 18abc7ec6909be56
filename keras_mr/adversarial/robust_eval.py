"""Robust evaluation with cleverhans 4.0.0's TF2 FGSM and PGD attacks.

Produces the MR paper's table format (Tables 4, 7, 8): natural accuracy,
then accuracy under PGD and FGSM (L-inf) at each ``eps``, by default
``eps in {0.01, 0.02, 8/255}``.

Attack settings (the paper used ART's attacks and does not list them; we
fix and document ours): FGSM is one signed-gradient step of size ``eps``;
PGD uses ``nb_iter=10`` steps of size ``eps_iter = 2.5 * eps / nb_iter``
from a uniformly random start in the ball (Madry et al.), with the *true*
labels (no label leaking) and inputs clipped to ``[clip_min, clip_max]``.
cleverhans is called with ``sanity_checks=False`` (its asserts fail on
TF 2.21), and its ``loss_fn(labels=, logits=)`` convention is wrapped so
that sparse and one-hot labels both work.

cleverhans is an optional dependency: ``pip install keras-mr[adversarial]``.
"""

import contextlib
import math

import keras
import numpy as np

from keras_mr._internal.backend import require_tensorflow

DEFAULT_EPS = (0.01, 0.02, 8 / 255)
_INSTALL_MSG = (
    "Robust evaluation needs cleverhans 4.0.0: "
    "`pip install keras-mr[adversarial]` (or `pip install cleverhans==4.0.0`)."
)


def _cleverhans():
    try:
        from cleverhans.tf2.attacks.fast_gradient_method import fast_gradient_method
        from cleverhans.tf2.attacks.projected_gradient_descent import projected_gradient_descent
    except ImportError as err:  # pragma: no cover - depends on the env
        raise ImportError(_INSTALL_MSG) from err
    return fast_gradient_method, projected_gradient_descent


def eps_label(eps):
    """Column label of an eps: ``8/255`` for multiples of 1/255, else ``%g``."""
    k = eps * 255
    if abs(k - round(k)) < 1e-6 and round(k) not in (0,) and abs(eps - round(eps, 2)) > 1e-9:
        return f"{int(round(k))}/255"
    return f"{eps:g}"


def cleverhans_loss_fn(labels, logits):
    """Per-example cross-entropy in cleverhans' ``loss_fn(labels=, logits=)``.

    Accepts sparse ``(B,)``/``(B, 1)`` or one-hot ``(B, C)`` labels; logits
    are cast to float32 (mixed-precision models).
    """
    tf = require_tensorflow("robust_accuracy")

    logits = tf.cast(logits, tf.float32)
    if labels.shape.rank == 2 and labels.shape[-1] == logits.shape[-1] and logits.shape[-1] != 1:
        return tf.nn.softmax_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.float32), logits=logits
        )
    labels = tf.reshape(tf.cast(labels, tf.int64), (-1,))
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)


def _check_eps_list(eps):
    if isinstance(eps, (int, float)):
        eps = (eps,)
    eps = tuple(eps)
    for e in eps:
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e <= 0:
            raise ValueError(
                f"`eps` must be positive floats (e.g. (0.01, 0.02, 8/255)), got {e!r}."
            )
    return eps


def robust_accuracy(
    model,
    x,
    y,
    eps=DEFAULT_EPS,
    attacks=("pgd", "fgsm"),
    batch_size=256,
    pgd_steps=10,
    pgd_step_size=None,
    *,
    pgd_random_start=True,
    clip_min=0.0,
    clip_max=1.0,
    max_examples=None,
    seed=None,
):
    """Accuracy on natural inputs and under cleverhans FGSM / PGD (L-inf).

    Args:
        model: Keras model (or any callable) returning logits; a
            :class:`keras_mr.adversarial.base.AdversarialModel` works
            directly (it forwards to its inner model).
        x: numpy inputs in ``[clip_min, clip_max]``.
        y: labels, sparse ``(N,)`` or one-hot ``(N, C)``.
        eps: iterable of L-inf radii (default ``(0.01, 0.02, 8/255)``).
        attacks: subset of ``("pgd", "fgsm")``.
        batch_size: evaluation batch size.
        pgd_steps: PGD iterations (default 10).
        pgd_step_size: PGD step; default ``2.5 * eps / pgd_steps``.
        pgd_random_start: random start in the ball (default ``True``).
        clip_min: lower end of the valid input range (``None`` = open).
        clip_max: upper end of the valid input range (``None`` = open).
        max_examples: evaluate on the first ``max_examples`` only.
        seed: if not ``None``, calls ``tf.random.set_seed(seed)`` first so
            PGD's random start (cleverhans draws with TF's global seed) is
            reproducible; note this resets TF's global random state.

    Returns:
        ``dict`` mapping column names to accuracies in ``[0, 1]``, in the
        paper's order: ``"natural"``, ``"pgd@<eps>"`` for each eps,
        ``"fgsm@<eps>"`` for each eps.  Format it with
        :func:`format_robust_table`.

    Example:

    ```python
    res = robust_accuracy(model, x_test, y_test, eps=(0.01, 0.02, 8 / 255))
    print(format_robust_table({"Adv.+MR": res}))
    ```
    """
    tf = require_tensorflow("robust_accuracy")

    fgm, pgd = _cleverhans()
    eps = _check_eps_list(eps)
    attacks = _check_attack_settings(attacks, clip_min, clip_max, pgd_steps)
    x, y = _evaluation_arrays(x, y, max_examples)

    def model_fn(inp):
        return tf.cast(model(inp, training=False), tf.float32)

    if seed is not None:
        tf.random.set_seed(seed)
    correct = _correct_count_fn(model_fn)
    common = dict(
        loss_fn=cleverhans_loss_fn, clip_min=clip_min, clip_max=clip_max, sanity_checks=False
    )

    def make_attack(kind, e):
        if kind == "fgsm":
            return _fgsm_fn(fgm, model_fn, e, common)
        step = pgd_step_size if pgd_step_size is not None else 2.5 * e / pgd_steps
        step = min(step, e)  # cleverhans asserts eps_iter <= eps
        return _pgd_fn(pgd, model_fn, e, step, pgd_steps, pgd_random_start, common)

    results = {}
    n = len(x)
    with _retracing_warnings_hidden():
        for name, kind, e in _result_columns(attacks, eps):
            results[name] = _column_accuracy(
                x, y, n, batch_size, correct, None if kind is None else make_attack(kind, e)
            )
    return results


def _check_attack_settings(attacks, clip_min, clip_max, pgd_steps):
    """Checks the attack arguments of :func:`robust_accuracy`; returns ``attacks`` lowercased."""
    attacks = tuple(a.lower() for a in attacks)
    for a in attacks:
        if a not in ("pgd", "fgsm"):
            raise ValueError(f"`attacks` entries must be 'pgd' or 'fgsm', got {a!r}.")
    if (clip_min is None) != (clip_max is None):
        raise ValueError("cleverhans needs both `clip_min` and `clip_max`, or neither.")
    if not isinstance(pgd_steps, int) or pgd_steps < 1:
        raise ValueError(f"`pgd_steps` must be an int >= 1, got {pgd_steps}.")
    return attacks


def _evaluation_arrays(x, y, max_examples):
    """``x`` as float32 and ``y`` as arrays, cut to ``max_examples``; an error when empty."""
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` have different lengths ({len(x)} vs {len(y)}).")
    if max_examples is not None:
        x, y = x[:max_examples], y[:max_examples]
    if len(x) == 0:
        raise ValueError("`x` is empty.")
    return x, y


def _correct_count_fn(model_fn):
    """A ``tf.function`` ``(xb, yb) -> number of correct predictions`` (sparse or one-hot)."""
    tf = require_tensorflow("robust_accuracy")

    @tf.function(reduce_retracing=True)
    def correct(xb, yb):
        logits = model_fn(xb)
        pred = tf.argmax(logits, axis=-1)
        if yb.shape.rank == 2 and yb.shape[-1] == logits.shape[-1] and logits.shape[-1] != 1:
            label = tf.argmax(yb, axis=-1)
        else:
            label = tf.reshape(tf.cast(yb, tf.int64), (-1,))
        return tf.reduce_sum(tf.cast(tf.equal(pred, label), tf.float32))

    return correct


def _fgsm_fn(fgm, model_fn, e, common):
    """A ``tf.function`` ``(xb, yb) -> adversarial xb``: cleverhans FGSM at radius ``e``."""
    tf = require_tensorflow("robust_accuracy")

    def run(xb, yb):
        return fgm(model_fn, xb, e, np.inf, y=yb, **common)

    return tf.function(run, reduce_retracing=True)


def _pgd_fn(pgd, model_fn, e, step, steps, random_start, common):
    """A ``tf.function`` ``(xb, yb) -> adversarial xb``: cleverhans PGD at radius ``e``."""
    tf = require_tensorflow("robust_accuracy")

    def run(xb, yb):
        return pgd(model_fn, xb, e, step, steps, np.inf, y=yb, rand_init=random_start, **common)

    return tf.function(run, reduce_retracing=True)


def _result_columns(attacks, eps):
    """``(name, attack kind or None, eps or None)`` per column, in the papers' order."""
    columns = [("natural", None, None)]
    for kind in ("pgd", "fgsm"):
        if kind in attacks:
            columns += [(f"{kind}@{eps_label(e)}", kind, e) for e in eps]
    return columns


@contextlib.contextmanager
def _retracing_warnings_hidden():
    """Hides TF's "retracing" warning: one traced function per (attack, eps) is expected."""
    tf_logger = require_tensorflow("robust_accuracy").get_logger()
    level = tf_logger.level
    tf_logger.setLevel("ERROR")
    try:
        yield
    finally:
        tf_logger.setLevel(level)


def _column_accuracy(x, y, n, batch_size, correct, attack):
    tf = require_tensorflow("robust_accuracy")

    total = 0.0
    for start in range(0, n, batch_size):
        xb = tf.constant(x[start : start + batch_size])
        yb = tf.constant(y[start : start + batch_size])
        if attack is not None:
            xb = attack(xb, yb)
        total += float(correct(xb, yb))
    return total / n


def format_robust_table(rows, percent=True, digits=2):
    """Formats robust-accuracy results as a markdown table (papers' layout).

    Args:
        rows: ``{method_name: robust_accuracy(...) result}``, or ``{method_name: [result
            per seed, ...]}`` for ``mean ± std`` cells (std over the seeds, ``ddof=1``;
            0 with one seed).
        percent: print accuracies in percent (as the papers do).
        digits: decimals.

    Returns:
        Markdown string: a header ``Method | Natural | PGD ... | FGSM ...``,
        an ``eps`` row (``0``, then each eps) and one row per method.
    """
    if not rows:
        raise ValueError("`rows` is empty: pass {method_name: results}.")
    columns = []
    for res in rows.values():
        for seed_result in res if isinstance(res, (list, tuple)) else [res]:
            for key in seed_result:
                if key not in columns:
                    columns.append(key)
    head = ["Method"]
    eps_row = ["ϵ"]
    for key in columns:
        if key == "natural":
            head.append("Natural Images")
            eps_row.append("0")
        else:
            kind, e = key.split("@", 1)
            head.append(kind.upper())
            eps_row.append(e)
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        "| " + " | ".join(eps_row) + " |",
    ]
    scale, places = (100.0, digits) if percent else (1.0, digits + 2)
    for name, res in rows.items():
        cells = [name]
        for key in columns:
            if isinstance(res, (list, tuple)):
                values = scale * np.array([r[key] for r in res])
                std = values.std(ddof=1) if len(values) > 1 else 0.0
                cells.append(f"{values.mean():.{places}f} ± {std:.{places}f}")
            else:
                v = res.get(key)
                cells.append("" if v is None else f"{scale * v:.{places}f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class RobustEvaluation(keras.callbacks.Callback):
    """Callback: robust accuracy on held-out data every ``every`` epochs.

    Adds keys ``robust_<column>`` to the epoch logs (e.g.
    ``robust_natural``, ``robust_pgd@0.01``, ``robust_fgsm@8/255``) so they
    appear in ``History``; all results are also kept in ``self.history`` as
    ``[(epoch, results_dict), ...]``.

    Args:
        x: evaluation inputs (numpy).
        y: evaluation labels.
        every: evaluate every ``every`` epochs (and always after the last
            epoch of ``fit``).
        verbose: print the table when evaluating.
        **kwargs: passed to :func:`robust_accuracy` (``eps``, ``attacks``,
            ``pgd_steps``, ``max_examples``, ``clip_min``, ...).

    Example:

    ```python
    cb = RobustEvaluation(x_test, y_test, every=5, max_examples=1000)
    model.fit(ds, epochs=20, callbacks=[cb])
    ```
    """

    def __init__(self, x, y, every=1, verbose=0, **kwargs):
        super().__init__()
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"`every` must be an int >= 1, got {every!r}.")
        _cleverhans()
        self.x = x
        self.y = y
        self.every = every
        self.verbose = verbose
        self.kwargs = kwargs
        self.history = []
        self._last_epoch = None

    def on_train_begin(self, logs=None):
        self._epochs = self.params.get("epochs") if self.params else None

    def on_epoch_end(self, epoch, logs=None):
        last = self._epochs is not None and epoch + 1 == self._epochs
        if (epoch + 1) % self.every and not last:
            return
        res = robust_accuracy(self.model, self.x, self.y, **self.kwargs)
        self.history.append((epoch, res))
        if logs is not None:
            for key, value in res.items():
                logs[f"robust_{key}"] = value
        if self.verbose:
            print(f"\nRobust evaluation after epoch {epoch + 1}:")
            print(format_robust_table({"model": res}))

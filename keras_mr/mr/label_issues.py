"""Which training labels are wrong: a flagged set whose size MR estimates itself.

:func:`find_label_issues` answers the question cleanlab users ask ("which examples are
mislabelled?") from a trained :class:`keras_mr.MRSampleWeighter` (or learned example
weights), with no clean data and no oracle ``k``: the set size comes from
:func:`keras_mr.mr.noise_rate.estimate_noise_rate`, overall or per class.
:func:`label_issues_table` lays the most suspicious examples out in the same order, as a
table to review.
"""

import csv
import io

import numpy as np

from keras_mr.mr.noise_rate import estimate_noise_rate
from keras_mr.mr.noise_rate import loss_scores
from keras_mr.mr.sample_weighter import SampleWeighter

FILTERS = ("noise_rate", "noise_rate_per_class", "mixture")
RANKINGS = ("suspicion", "loss")


def find_label_issues(
    source,
    labels=None,
    *,
    filter_by="noise_rate",
    num_issues=None,
    threshold=None,
    return_indices_ranked_by=None,
):
    """Flags the training examples whose labels are likely wrong.

    The examples are ranked by their score (MR's latest loss, or ``-log p_i`` for
    weights; see :mod:`keras_mr.mr.noise_rate`); how many are flagged is decided by
    ``filter_by`` unless ``num_issues`` or ``threshold`` is given:

    * ``"noise_rate"`` (default): the ``round(rate * N)`` highest-scoring examples, with
      ``rate`` the estimated noise rate;
    * ``"noise_rate_per_class"``: within each given class ``c``, the
      ``round(rate_c * N_c)`` highest-scoring examples (needs ``labels``);
    * ``"mixture"``: every example whose posterior probability of being mislabelled
      under the two-component mixture exceeds 1/2.

    Args:
        source: a trained ``MRSampleWeighter``, or ``(N,)`` example weights (e.g.
            ``MetaWeightNet.example_weights(x, y)``). ``RandomSampleWeighter`` is rejected.
        labels: int ``(N,)`` given labels (for ``"noise_rate_per_class"``).
        filter_by: ``"noise_rate"``, ``"noise_rate_per_class"`` or ``"mixture"``.
        num_issues: flag exactly this many examples (overrides ``filter_by``).
        threshold: flag examples whose suspicion (posterior probability of a wrong label)
            is above this value in ``[0, 1)`` (overrides ``filter_by``).
        return_indices_ranked_by: ``None`` (default) returns a boolean mask;
            ``"suspicion"`` or ``"loss"`` returns the flagged indices, most suspicious
            first (by posterior, or by score).

    Returns:
        Boolean ``(N,)`` mask, or an int array of indices.

    Example:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> losses = np.exp(np.concatenate([rng.normal(-5, 1, 90), rng.normal(1, 0.3, 10)]))
    >>> w = np.exp(-losses)
    >>> mask = find_label_issues(w)
    >>> int(mask.sum()), bool(mask[90:].all())
    (10, True)
    >>> find_label_issues(w, num_issues=3, return_indices_ranked_by="loss").shape
    (3,)
    """
    _check_options(labels, filter_by, num_issues, threshold, return_indices_ranked_by)
    scores = loss_scores(source)
    estimate = estimate_noise_rate(source, labels)
    mask = _flagged_mask(scores, estimate, labels, filter_by, num_issues, threshold)
    if return_indices_ranked_by is None:
        return mask
    key = estimate.suspicion if return_indices_ranked_by == "suspicion" else scores
    return _most_suspicious_first(key, np.flatnonzero(mask))


def _most_suspicious_first(scores, indices=None):
    """``indices`` (default: all examples) by decreasing score, ties broken by index.

    The one ranking of label issues: :func:`find_label_issues` and
    :func:`label_issues_table` both order examples with it.
    """
    indices = np.arange(scores.size) if indices is None else indices
    return indices[np.lexsort((indices, -scores[indices]))]


def _check_options(labels, filter_by, num_issues, threshold, return_indices_ranked_by):
    """The checks of :func:`find_label_issues` that need no scores."""
    if filter_by not in FILTERS:
        raise ValueError(f"`filter_by` must be one of {FILTERS}, got {filter_by!r}.")
    if return_indices_ranked_by not in (None, *RANKINGS):
        raise ValueError(
            f"`return_indices_ranked_by` must be None or one of {RANKINGS}, "
            f"got {return_indices_ranked_by!r}."
        )
    if num_issues is not None and threshold is not None:
        raise ValueError("Give `num_issues` or `threshold`, not both.")
    if filter_by == "noise_rate_per_class" and labels is None:
        raise ValueError("filter_by='noise_rate_per_class' needs `labels`.")


def _flagged_mask(scores, estimate, labels, filter_by, num_issues, threshold):
    """Boolean ``(N,)`` mask of the flagged examples (see :func:`find_label_issues`)."""
    n = scores.size
    if num_issues is not None:
        _check_num_issues(num_issues, n)
        return _highest_scores_mask(scores, num_issues)
    if threshold is not None:
        if not 0 <= float(threshold) < 1:
            raise ValueError(f"`threshold` must be in [0, 1), got {threshold!r}.")
        return estimate.suspicion > float(threshold)
    if filter_by == "mixture":
        return estimate.suspicion > 0.5
    if filter_by == "noise_rate":
        return _highest_scores_mask(scores, int(round(estimate.noise_rate * n)))
    return _highest_scores_per_class_mask(scores, labels, estimate.per_class)


def _check_num_issues(num_issues, n):
    if isinstance(num_issues, bool) or not isinstance(num_issues, (int, np.integer)):
        raise TypeError(f"`num_issues` must be an int, got {num_issues!r}.")
    if not 0 <= num_issues <= n:
        raise ValueError(f"`num_issues` must be in [0, {n}], got {num_issues}.")


def _highest_scores_mask(scores, count):
    """Mask of the ``count`` highest-scoring examples."""
    mask = np.zeros(scores.size, dtype=bool)
    mask[_most_suspicious_first(scores)[:count]] = True
    return mask


def _highest_scores_per_class_mask(scores, labels, rate_per_class):
    """Within each class ``c``, mask of the ``round(rate_c * N_c)`` highest scores."""
    mask = np.zeros(scores.size, dtype=bool)
    y = np.asarray(labels).reshape(-1)
    for c, rate in rate_per_class.items():
        members = np.flatnonzero(y == c)
        mask[_most_suspicious_first(scores, members)[: int(round(rate * members.size))]] = True
    return mask


def label_issues_table(
    source, labels, top_k=100, predictions=None, noisy_mask=None, class_names=None
):
    """The ``top_k`` most suspicious training examples, as a table to review.

    The rows are the examples ``find_label_issues(source, num_issues=top_k,
    return_indices_ranked_by="loss")`` flags, in the same order: for example weights the
    lowest weight first, for an ``MRSampleWeighter`` the highest latest loss first; ties
    are broken by index.

    Args:
        source: a trained ``MRSampleWeighter``, or ``(N,)`` example weights (e.g.
            ``weighter.weights``), as for :func:`find_label_issues`.
        labels: int ``(N,)`` labels used in training.
        top_k: number of rows (``None``: all examples).
        predictions: optional ``(N,)`` predicted labels or ``(N, K)`` scores.
        noisy_mask: optional ground-truth bool ``(N,)`` (synthetic noise).
        class_names: optional list of class names for ``given_label``.

    Returns:
        :class:`LabelIssuesTable`.

    Example:

    >>> t = label_issues_table([0.3, 0.1, 0.6, 0.1], [0, 1, 1, 2], top_k=3)
    >>> [int(i) for i in t.indices]
    [1, 3, 0]
    """
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"`top_k` must be a positive integer or None, got {top_k!r}.")
    if isinstance(source, SampleWeighter):
        scores = loss_scores(source)  # rejects random and untrained weighters
        weights = source.weights
    else:
        scores, weights = None, source
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    if y.shape != w.shape:
        raise ValueError(f"`labels` must have length {w.size}, got {y.size}.")
    if scores is None:
        scores = loss_scores(w)
    order = _most_suspicious_first(scores)[: (w.size if top_k is None else top_k)]
    columns = _review_columns(order, w, y, class_names)
    if predictions is not None:
        p = _predicted_labels(predictions, w.size)
        columns["predicted_label"] = [int(p[i]) for i in order]
    if noisy_mask is not None:
        m = np.asarray(noisy_mask).reshape(-1).astype(bool)
        if m.shape != w.shape:
            raise ValueError(f"`noisy_mask` must have length {w.size}, got {m.size}.")
        columns["is_noisy"] = [bool(m[i]) for i in order]
    return LabelIssuesTable(columns)


def _review_columns(order, w, y, class_names):
    """The columns every table has: rank, index, weight, relative weight, given label."""
    total = w.sum()
    columns = {
        "rank": list(range(1, order.size + 1)),
        "index": [int(i) for i in order],
        "weight": [float(w[i]) for i in order],
        "relative_weight": [
            float(w[i] * w.size / total) if total > 0 else float("nan") for i in order
        ],
        "given_label": [int(y[i]) for i in order],
    }
    if class_names is not None:
        columns["class_name"] = [class_names[y[i]] for i in order]
    return columns


def _predicted_labels(predictions, n):
    """int ``(N,)`` labels from ``(N,)`` labels or ``(N, K)`` scores."""
    p = np.asarray(predictions)
    p = p.argmax(axis=-1) if p.ndim == 2 else p.reshape(-1)
    if p.shape != (n,):
        raise ValueError(f"`predictions` must have {n} rows, got {p.shape[0]}.")
    return p


class LabelIssuesTable:
    """A reviewable table of training examples, most suspicious first.

    Made by :func:`label_issues_table`. Columns: ``rank`` (1 = most suspicious),
    ``index`` (training example index), ``weight``, ``relative_weight`` (``N * p``:
    1 = average), ``given_label`` and, when available, ``class_name``,
    ``predicted_label`` and ``is_noisy`` (ground truth, for synthetic noise).

    Use ``rows`` (list of dicts), ``indices``, ``to_csv(path)``, ``to_markdown()`` or
    ``str(table)``.

    Args:
        columns: ``{name: list of values}``, all of one length, ``"index"`` among them.
    """

    def __init__(self, columns):
        self.columns = columns
        self.names = list(columns)

    def __len__(self):
        return len(self.columns["index"])

    @property
    def rows(self):
        """The rows as a list of ``{column name: value}``."""
        return [{k: self.columns[k][i] for k in self.names} for i in range(len(self))]

    @property
    def indices(self):
        """int array of the training example indices, in table order."""
        return np.asarray(self.columns["index"])

    def to_csv(self, path=None):
        """Writes the table as CSV to ``path`` (or returns the text if ``None``)."""
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(self.names)
        for row in self.rows:
            writer.writerow([_format_cell(row[k]) for k in self.names])
        text = buf.getvalue()
        if path is None:
            return text
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def to_markdown(self):
        """The table as Markdown text."""
        lines = ["| " + " | ".join(self.names) + " |", "|" + "---|" * len(self.names)]
        for row in self.rows:
            lines.append("| " + " | ".join(_format_cell(row[k]) for k in self.names) + " |")
        return "\n".join(lines)

    def __str__(self):
        return self.to_markdown()

    __repr__ = __str__


def _format_cell(value):
    if isinstance(value, (float, np.floating)):
        return f"{value:.6g}"
    if isinstance(value, (np.bool_, bool)):
        return str(bool(value))
    return str(value)

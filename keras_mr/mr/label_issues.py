"""Which training labels are wrong: a flagged set whose size MR estimates itself.

:func:`find_label_issues` answers the question cleanlab users ask ("which examples are
mislabelled?") from a trained :class:`keras_mr.MRSampleWeighter` (or learned example
weights), with no clean data and no oracle ``k``: the set size comes from
:func:`keras_mr.mr.noise_rate.estimate_noise_rate`, overall or per class.
"""

import numpy as np

from keras_mr.mr.noise_rate import estimate_noise_rate
from keras_mr.mr.noise_rate import loss_scores

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
    scores = loss_scores(source)
    n = scores.size
    estimate = estimate_noise_rate(source, labels if labels is not None else None)
    by_score = np.lexsort((np.arange(n), -scores))  # most suspicious first, ties by index
    mask = np.zeros(n, dtype=bool)
    if num_issues is not None:
        if isinstance(num_issues, bool) or not isinstance(num_issues, (int, np.integer)):
            raise TypeError(f"`num_issues` must be an int, got {num_issues!r}.")
        if not 0 <= num_issues <= n:
            raise ValueError(f"`num_issues` must be in [0, {n}], got {num_issues}.")
        mask[by_score[:num_issues]] = True
    elif threshold is not None:
        if not 0 <= float(threshold) < 1:
            raise ValueError(f"`threshold` must be in [0, 1), got {threshold!r}.")
        mask = estimate.suspicion > float(threshold)
    elif filter_by == "mixture":
        mask = estimate.suspicion > 0.5
    elif filter_by == "noise_rate":
        mask[by_score[: int(round(estimate.noise_rate * n))]] = True
    else:
        y = np.asarray(labels).reshape(-1)
        for c, rate in estimate.per_class.items():
            members = np.flatnonzero(y == c)
            ranked = members[np.lexsort((members, -scores[members]))]
            mask[ranked[: int(round(rate * members.size))]] = True
    if return_indices_ranked_by is None:
        return mask
    key = estimate.suspicion if return_indices_ranked_by == "suspicion" else scores
    flagged = np.flatnonzero(mask)
    return flagged[np.lexsort((flagged, -key[flagged]))]

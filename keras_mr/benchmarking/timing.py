"""Timers and ratio statistics for the benchmarks.

Every timing benchmark reports *ratios measured in one run* (method / plain), with the
methods interleaved over repetitions so that a slow moment of a shared machine does not
land on one method only.  ``clock="cpu"`` measures the process' CPU time (all threads),
which other processes disturb much less than wall time.

* Timers: :class:`Stopwatch`, :func:`time_call` and :func:`time_both_clocks` (one call),
  :class:`FitTimer` (every step and epoch inside ``fit``), :func:`time_steps` (Keras'
  compiled step of several models, taking turns in blocks).
* Repetitions: :func:`interleaved` (rounds that measure every method once each).
* Statistics over ``{name: {clock: seconds}}``: :func:`merge_instances` (identical
  models), :func:`pair_mean` / :func:`pair_means` (a baseline from two identical models),
  :func:`ratios`, :func:`round_ratios` (median of ratios paired within a round) and
  :func:`marginal` (the cost of a probe's work without the fixed cost of a step).
"""

import time

import keras
import numpy as np

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def _check_clock(clock):
    if clock not in CLOCKS:
        raise ValueError(f"`clock` must be one of {sorted(CLOCKS)}, got {clock!r}.")
    return clock


class Stopwatch:
    """Wall and CPU seconds of a ``with`` block, both read from one measurement.

    Attributes:
        seconds: ``{"wall": ..., "cpu": ...}`` once the block has ended.

    Example:

    >>> with Stopwatch() as watch:
    ...     total = sum(range(10_000))
    >>> sorted(watch.seconds), watch.wall >= 0.0, watch.cpu >= 0.0
    (['cpu', 'wall'], True, True)
    """

    def __enter__(self):
        self._start = {name: clock() for name, clock in CLOCKS.items()}
        return self

    def __exit__(self, *exc_info):
        self.seconds = {name: CLOCKS[name]() - start for name, start in self._start.items()}

    @property
    def wall(self):
        return self.seconds["wall"]

    @property
    def cpu(self):
        return self.seconds["cpu"]


def time_call(fn, clock="wall"):
    """Seconds that ``fn()`` takes on ``clock`` (``"wall"`` or ``"cpu"``).

    Example:

    >>> time_call(lambda: sum(range(1000)), clock="cpu") >= 0.0
    True
    """
    _check_clock(clock)
    with Stopwatch() as watch:
        fn()
    return watch.seconds[clock]


class FitTimer(keras.callbacks.Callback):
    """Records the time of every training step and every epoch of ``fit``.

    Args:
        clock: ``"wall"`` (default) or ``"cpu"``.

    Attributes:
        step_times: seconds per training step (``on_train_batch_begin`` to ``_end``).
        epoch_times: seconds per epoch, including every callback's ``on_epoch_end``.
    """

    def __init__(self, clock="wall"):
        super().__init__()
        self.clock = CLOCKS[_check_clock(clock)]
        self.step_times, self.epoch_times = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self._step_start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        self.step_times.append(self.clock() - self._step_start)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_times.append(self.clock() - self._epoch_start)


def interleaved(measure, names, repeats, seed=None):
    """Runs ``measure(name)`` for every name, ``repeats`` rounds interleaved.

    Round ``r`` measures every name once before round ``r + 1`` starts, so a slow
    moment of the machine lands on all methods alike.  With ``seed``, every round
    takes the names in a new random order, so that no method always runs first (the
    first measurement of a round can run slower than the others).

    Args:
        measure: ``fn(name) -> value`` (seconds, or e.g. a :class:`Stopwatch`).
        names: the methods to measure, in the order of every round.
        repeats: number of rounds.
        seed: ``None`` (the order of ``names`` every round) or a seed for the orders.

    Returns:
        ``{name: [value per round]}``.

    Example:

    >>> times = interleaved(lambda name: len(name), ["plain", "mr"], repeats=2)
    >>> times
    {'plain': [5, 5], 'mr': [2, 2]}
    """
    results = {name: [] for name in names}
    rng = None if seed is None else np.random.default_rng(seed)
    for _ in range(repeats):
        order = list(names) if rng is None else [names[i] for i in rng.permutation(len(names))]
        for name in order:
            results[name].append(measure(name))
    return results


def ratio_table(results, baseline, title, column="time / plain"):
    """A Markdown table of ``median(results[name]) / median(results[baseline])``.

    Example:

    >>> print(ratio_table({"plain": [1.0, 3.0], "mr": [3.0, 5.0]}, "plain", "Epochs"))
    <BLANKLINE>
    Epochs
    <BLANKLINE>
    | method | time / plain |
    | --- | --- |
    | plain | 1.000 |
    | mr | 2.000 |
    """
    base = float(np.median(results[baseline]))
    rows = [f"\n{title}\n", f"| method | {column} |", "| --- | --- |"]
    rows += [f"| {name} | {np.median(times) / base:.3f} |" for name, times in results.items()]
    return "\n".join(rows)


def time_both_clocks(fn):
    """``{"wall": seconds, "cpu": seconds}`` of one call of ``fn()``.

    Example:

    >>> seconds = time_both_clocks(lambda: sum(range(1000)))
    >>> sorted(seconds), min(seconds.values()) >= 0.0
    (['cpu', 'wall'], True)
    """
    with Stopwatch() as watch:
        fn()
    return dict(watch.seconds)


def compiled_step(model, data):
    """A function that runs one compiled ``fit`` step of ``model`` on the next batch of ``data``.

    The step is Keras' own ``train_function`` (``model.make_train_function()``), without
    the callback loop of ``fit`` around it.  ``model`` must be compiled; three steps of
    ``fit`` trace and compile it first, so the returned function times steady-state steps.

    Args:
        model: a compiled Keras model.
        data: a dataset that yields at least three batches more than will be timed
            (e.g. a repeated ``tf.data.Dataset``).

    Returns:
        ``run()``: one training step on the next batch.
    """
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)  # trace, compile
    function, iterator = model.make_train_function(), iter(data)
    return lambda: function(iterator)


def time_steps(models, blocks, block_steps, percentile=20, seed=0):
    """Seconds per training step of several models, taking turns in blocks.

    The models take turns, in a new random order every block, ``blocks`` times, and run
    ``block_steps`` compiled steps (:func:`compiled_step`) per turn, so that a slow moment
    of the machine falls on all of them alike.  A step's time is the ``percentile``-th
    percentile of all its steps: other processes only ever add time to a step.

    Args:
        models: ``{name: (compiled model, data)}``.
        blocks: turns of every model.
        block_steps: steps per turn.
        percentile: the percentile of the steps' times that is a step's time.
        seed: seed of the order of the turns.

    Returns:
        ``{name: {clock: seconds per step}}`` on both clocks of :data:`CLOCKS`.
    """
    steps = {name: compiled_step(*model_data) for name, model_data in models.items()}
    samples = {name: {clock: [] for clock in CLOCKS} for name in steps}
    order = np.random.default_rng(seed)
    for _ in range(blocks):
        for name in order.permutation(list(steps)):  # no model always follows another
            for _ in range(block_steps):
                for clock, seconds in time_both_clocks(steps[name]).items():
                    samples[name][clock].append(seconds)
    return {
        name: {
            clock: float(np.percentile(values, percentile)) for clock, values in per_clock.items()
        }
        for name, per_clock in samples.items()
    }


def merge_instances(times, separator="#"):
    """Geometric mean of the times of identical instances: ``{"name#k": t}`` -> ``{"name": t}``.

    An instance of a model can run a few per cent slower than an identical one; timing
    every method on several instances (named ``"name#0"``, ``"name#1"``, ...) and taking
    the geometric mean of their times halves that error for two instances.

    Args:
        times: ``{"name#k": {clock: seconds}}``.
        separator: what separates a name from its instance number.

    Returns:
        ``{name: {clock: geometric mean of the instances' seconds}}``.

    Example:

    >>> merge_instances({"a#0": {"cpu": 1.0, "wall": 2.0}, "a#1": {"cpu": 4.0, "wall": 8.0}})
    {'a': {'wall': 4.0, 'cpu': 2.0}}
    """
    groups = {}
    for key, per_clock in times.items():
        groups.setdefault(key.split(separator)[0], []).append(per_clock)
    return {
        name: {c: float(np.exp(np.mean([np.log(t[c]) for t in ts]))) for c in CLOCKS}
        for name, ts in groups.items()
    }


def ratios(times, name, base="plain"):
    """``{clock: times[name][clock] / times[base][clock]}``.

    Example:

    >>> ratios({"plain": {"wall": 2.0, "cpu": 4.0}, "mr": {"wall": 3.0, "cpu": 5.0}}, "mr")
    {'wall': 1.5, 'cpu': 1.25}
    """
    return {clock: times[name][clock] / times[base][clock] for clock in CLOCKS}


def marginal(times, name, base="plain", empty="empty", count=1):
    """The marginal cost of a step in ``base`` steps: ``count * (t_name - t_empty) / t_base``.

    A step that does some work and nothing else (a *probe*) also pays the fixed cost of a
    ``fit`` step, measured by a step that only reads its batch (``empty``); the difference
    is the cost of the work alone.  ``count`` scales it, e.g. ``1 / passes`` for the cost
    of one of the probe's ``passes`` passes.

    Example:

    >>> times = {"plain": {"wall": 4.0, "cpu": 4.0}, "empty": {"wall": 1.0, "cpu": 1.0},
    ...          "forward": {"wall": 2.0, "cpu": 3.0}}
    >>> marginal(times, "forward")
    {'wall': 0.25, 'cpu': 0.5}
    """
    return {
        clock: count * (times[name][clock] - times[empty][clock]) / times[base][clock]
        for clock in CLOCKS
    }


def round_ratios(runs, name, base="plain", extra=None):
    """The median over rounds of ``time[name] / time[base]``, each ratio within one round.

    Every round of :func:`interleaved` builds fresh models, and a model can run a few per
    cent slower than an identical one; the median of ratios paired within a round is
    robust to such an outlier.  With ``extra=(a, b)`` each round's ratio has
    ``time[a] / time[b]`` of the same round added (e.g. a floor made of two parts).

    Args:
        runs: ``{name: [{clock: seconds} per round]}``.
        name: the method.
        base: the method it is divided by.
        extra: ``None`` or a pair of names whose ratio is added within each round.

    Returns:
        ``{clock: median ratio}``.

    Example:

    >>> runs = {"plain": [{"wall": 1.0, "cpu": 1.0}, {"wall": 2.0, "cpu": 2.0}],
    ...         "mr": [{"wall": 1.5, "cpu": 1.25}, {"wall": 2.0, "cpu": 2.5}]}
    >>> round_ratios(runs, "mr")  # medians of (1.5, 1.0) and (1.25, 1.25)
    {'wall': 1.25, 'cpu': 1.25}
    """
    out = {}
    for clock in CLOCKS:
        values = []
        for r in range(len(runs[name])):
            value = runs[name][r][clock] / runs[base][r][clock]
            if extra is not None:
                value += runs[extra[0]][r][clock] / runs[extra[1]][r][clock]
            values.append(value)
        out[clock] = float(np.median(values))
    return out


def pair_mean(times, first, second):
    """``{clock: sqrt(t_first t_second)}``: one baseline from two identical models.

    Two identical models can differ by a few per cent; dividing by the geometric mean of
    both halves the error of dividing by one of them.

    Example:

    >>> pair_mean({"a": {"wall": 1.0, "cpu": 2.0}, "b": {"wall": 4.0, "cpu": 8.0}}, "a", "b")
    {'wall': 2.0, 'cpu': 4.0}
    """
    return {clock: float(np.sqrt(times[first][clock] * times[second][clock])) for clock in CLOCKS}


def pair_means(first, second):
    """:func:`pair_mean` of every round: ``[{clock: sqrt(a b)}]`` of two lists of rounds.

    Example:

    >>> pair_means([{"wall": 1.0, "cpu": 1.0}], [{"wall": 9.0, "cpu": 4.0}])
    [{'wall': 3.0, 'cpu': 2.0}]
    """
    return [{c: float(np.sqrt(a[c] * b[c])) for c in CLOCKS} for a, b in zip(first, second)]

"""Timers for the benchmarks: per-step and per-epoch times inside ``fit``, on one clock.

Every timing benchmark reports *ratios measured in one run* (method / plain), with the
methods interleaved over repetitions so that a slow moment of a shared machine does not
land on one method only.  ``clock="cpu"`` measures the process' CPU time (all threads),
which other processes disturb much less than wall time.
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

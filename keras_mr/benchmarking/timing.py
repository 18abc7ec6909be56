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
        if clock not in CLOCKS:
            raise ValueError(f"`clock` must be one of {sorted(CLOCKS)}, got {clock!r}.")
        self.clock = CLOCKS[clock]
        self.step_times, self.epoch_times = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self._step_start = self.clock()

    def on_train_batch_end(self, batch, logs=None):
        self.step_times.append(self.clock() - self._step_start)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_times.append(self.clock() - self._epoch_start)


def interleaved(measure, names, repeats):
    """Runs ``measure(name) -> seconds`` for every name, ``repeats`` rounds interleaved.

    Returns:
        ``{name: [seconds per round]}``.

    Example:

    >>> times = interleaved(lambda name: len(name), ["plain", "mr"], repeats=2)
    >>> times
    {'plain': [5, 5], 'mr': [2, 2]}
    """
    results = {name: [] for name in names}
    for _ in range(repeats):
        for name in names:
            results[name].append(measure(name))
    return results


def ratio_table(results, baseline, title, column="time / plain"):
    """A Markdown table of ``median(results[name]) / median(results[baseline])``."""
    base = float(np.median(results[baseline]))
    rows = [f"\n{title}\n", f"| method | {column} |", "| --- | --- |"]
    rows += [f"| {name} | {np.median(times) / base:.3f} |" for name, times in results.items()]
    return "\n".join(rows)

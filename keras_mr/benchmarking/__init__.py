"""Tools to measure the methods: label noise, datasets, metrics, plots and the runner.

Nothing here is needed to train with keras-mr; the ``keras-mr`` command line, the
benchmarks and the docs' figures are built from these modules.
"""

from keras_mr.benchmarking import datasets
from keras_mr.benchmarking import metrics
from keras_mr.benchmarking import noise

__all__ = ["datasets", "metrics", "noise"]

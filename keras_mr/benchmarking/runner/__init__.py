"""Noisy-label benchmark runner: dataset x noise x rate x method x seed grids.

Python API::

    from keras_mr.benchmarking import runner
    results = runner.run_grid(datasets=["default"], noises=["symmetric"], rates=[0.4],
                              methods=["base", "mr", "random", "clean"], epochs=20)
    print(results.table())

Command line (the ``keras-mr`` console script, or ``python -m keras_mr``)::

    keras-mr --dataset default --noise symmetric --rate 0.4 --methods base,mr,random --epochs 20

Every run trains a fresh model on the noisy training labels and evaluates the
clean test set after every epoch.  The results table follows the papers:
final-epoch and best test accuracy (%), mean ± std over seeds, plus the
noisy-detection AUC of the final weights for weighting methods.  With
``out_dir`` the runner writes ``runs.csv`` (one row per run), ``summary.csv``,
``results.json`` (including per-epoch curves) and plots.

Methods are a registry (:data:`METHODS`, a
:class:`~keras_mr.benchmarking.registry.Registry`): ``name -> fn(ctx) -> MethodPlan``.
Later methods register themselves with :func:`register_method`; see
:class:`RunContext` and :class:`MethodPlan` for the contract.

The package is split by concern: :mod:`.methods`, :mod:`.models`, :mod:`.grid`,
:mod:`.results` and :mod:`.cli`.
"""

from keras_mr.benchmarking.runner.cli import build_parser
from keras_mr.benchmarking.runner.cli import main
from keras_mr.benchmarking.runner.grid import Training
from keras_mr.benchmarking.runner.grid import run_grid
from keras_mr.benchmarking.runner.grid import run_single
from keras_mr.benchmarking.runner.methods import METHODS
from keras_mr.benchmarking.runner.methods import MethodPlan
from keras_mr.benchmarking.runner.methods import RunContext
from keras_mr.benchmarking.runner.methods import register_method
from keras_mr.benchmarking.runner.models import MODELS
from keras_mr.benchmarking.runner.models import make_model_builder
from keras_mr.benchmarking.runner.results import GridResult
from keras_mr.benchmarking.runner.results import RunResult

__all__ = [
    "GridResult",
    "METHODS",
    "MODELS",
    "MethodPlan",
    "RunContext",
    "RunResult",
    "Training",
    "build_parser",
    "main",
    "make_model_builder",
    "register_method",
    "run_grid",
    "run_single",
]

"""Every ``>>>`` example in the library's docstrings runs and prints what it says."""

import doctest
import importlib
import pathlib

import keras
import numpy as np
import pytest

import keras_mr

ROOT = pathlib.Path(keras_mr.__file__).parent
MODULES = sorted(
    ".".join(("keras_mr",) + path.relative_to(ROOT).with_suffix("").parts).removesuffix(
        ".__init__"
    )
    for path in ROOT.rglob("*.py")
    if path.name != "__main__.py"
)
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
# The examples are written for the TensorFlow backend (some train a model class that needs it).
pytestmark = pytest.mark.tf_only


def test_every_module_is_checked():
    assert "keras_mr.mr.capped_simplex" in MODULES and "keras_mr" in MODULES
    assert len(MODULES) > 40


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    # Examples may assume the usual imports (`np`, `keras`, `keras_mr`), as Keras' own do.
    globs = {"np": np, "keras": keras, "keras_mr": keras_mr, **vars(module)}
    for test in finder.find(module, name, globs=globs):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.failed == 0, f"{results.failed} docstring example(s) of {name} failed (see above)"

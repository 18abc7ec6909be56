"""Entry point of the ``keras-mr`` console script.

It lives outside the ``keras_mr`` package so that TensorFlow's C++ start-up
logs can be silenced before ``keras`` (and with it TensorFlow) is imported:
importing ``keras_mr.benchmarking.runner`` would import the package first.  Set
``TF_CPP_MIN_LOG_LEVEL=0`` to see them again.
"""

import os
import sys


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_mr.benchmarking.runner import main as run

    return run(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

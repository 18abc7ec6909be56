"""``python -m keras_mr``: the noisy-label benchmark CLI (same as ``keras-mr``)."""

import sys

from keras_mr.benchmarking.runner import main

if __name__ == "__main__":
    sys.exit(main())

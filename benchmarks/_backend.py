"""``--backend {tensorflow,jax,torch}`` for the benchmark scripts.

Keras reads ``KERAS_BACKEND`` once, when it is first imported, so a script calls
:func:`select_backend` before it imports Keras (or keras-mr); the flag is then also
declared on the script's parser (:func:`add_backend_argument`) for ``--help``.  On a
machine with only JAX or PyTorch installed, ``--backend jax`` / ``--backend torch`` runs
the TensorFlow-free parts of a script.
"""

import os
import sys

BACKENDS = ("tensorflow", "jax", "torch")


def select_backend(argv=None):
    """Sets ``KERAS_BACKEND`` from ``--backend NAME`` / ``--backend=NAME`` in ``argv``.

    Returns:
        The backend name that Keras will use.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    name = None
    for i, arg in enumerate(argv):
        if arg == "--backend" and i + 1 < len(argv):
            name = argv[i + 1]
        elif arg.startswith("--backend="):
            name = arg.split("=", 1)[1]
    if name is None:
        return os.environ.get("KERAS_BACKEND", "tensorflow")
    if name not in BACKENDS:
        raise SystemExit(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}.")
    if "keras" in sys.modules and os.environ.get("KERAS_BACKEND", "tensorflow") != name:
        raise SystemExit("--backend must be read before Keras is imported.")
    os.environ["KERAS_BACKEND"] = name
    return name


def add_backend_argument(parser):
    """Declares ``--backend`` on an ``argparse`` parser (its value is already applied)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=os.environ.get("KERAS_BACKEND", "tensorflow"),
        help="Keras backend (sets KERAS_BACKEND before Keras is imported)",
    )

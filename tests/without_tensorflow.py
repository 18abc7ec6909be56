"""Runs a script on the JAX backend in a subprocess where TensorFlow cannot be imported."""

import json
import os
import subprocess
import sys
import textwrap

HIDE_TENSORFLOW = textwrap.dedent(
    """
    import sys

    class HideTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "tf_keras"):
                raise ModuleNotFoundError(f"No module named {name!r}")
            return None

    sys.meta_path.insert(0, HideTensorFlow())
    """
)


def run_without_tensorflow(script, timeout=600):
    """Runs ``script`` (which prints a JSON line last) and returns the parsed JSON."""
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", HIDE_TENSORFLOW + textwrap.dedent(script)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])

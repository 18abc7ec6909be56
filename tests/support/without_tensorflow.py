"""Runs a script on the JAX backend in a subprocess where TensorFlow cannot be imported."""

import json
import os
import subprocess
import sys
import textwrap

HIDE_TENSORFLOW = textwrap.dedent(
    """
    import importlib.machinery
    import sys

    class RefuseImport:
        def create_module(self, spec):
            raise ModuleNotFoundError(f"No module named {spec.name!r}", name=spec.name)

        def exec_module(self, module):
            pass

    class HideTensorFlow:
        # A spec without origin: `import tensorflow` fails as when it is not installed,
        # and libraries that only look for it (torch._dynamo) see no files to trace.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("tensorflow", "tensorflow_datasets", "tf_keras"):
                return importlib.machinery.ModuleSpec(name, RefuseImport(), origin=None)
            return None

    sys.meta_path.insert(0, HideTensorFlow())
    """
)


def run_without_tensorflow(script, timeout=600, backend="jax", keep_stdout=False):
    """Runs ``script`` (which prints a JSON line last) and returns the parsed JSON.

    ``backend`` is the Keras backend of the subprocess (``"jax"`` or ``"torch"``);
    ``keep_stdout=True`` returns ``{"json": ..., "stdout": ...}``.
    """
    env = dict(os.environ, KERAS_BACKEND=backend, JAX_PLATFORMS="cpu")
    proc = subprocess.run(
        [sys.executable, "-c", HIDE_TENSORFLOW + textwrap.dedent(script)],
        env=env, capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    parsed = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"json": parsed, "stdout": proc.stdout} if keep_stdout else parsed

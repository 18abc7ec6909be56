"""Multi-process data parallel MR on the JAX backend: two processes on 127.0.0.1.

Both processes run ``jax_multi_process_script.py`` under
``keras.distribution.DataParallel`` (CPU collectives through gloo), each feeding its half
of every batch; a third, single process trains on the same data.  After every update the
two processes hold identical weights, equal to the single-process weights (rtol 1e-6), and
the trained models agree too.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from keras_mirrored_logs import KERAS_VERSION

from keras_mr._internal.processes import FIRST_KERAS_FEEDING_ROWS

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(HERE, "jax_multi_process_script.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(process_id, count, port, out):
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    return subprocess.Popen(
        [sys.executable, SCRIPT, str(process_id), str(count), str(port), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(procs, timeout=150):
    try:
        logs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-3000:]


@pytest.mark.skipif(
    KERAS_VERSION < FIRST_KERAS_FEEDING_ROWS,
    reason="Keras < 3.11 feeds multi-process runs from tf.data only (keras-team/keras#21430)",
)
def test_two_jax_processes_end_each_update_with_the_single_process_weights(tmp_path):
    pytest.importorskip("jax")
    port = _free_port()
    outs = [tmp_path / f"process{i}.json" for i in range(2)]
    _finish([_start(i, 2, port, outs[i]) for i in range(2)])
    _finish([_start(0, 1, 0, tmp_path / "single.json")])
    first, second, single = (
        json.loads(p.read_text()) for p in (*outs, tmp_path / "single.json")
    )
    assert first["local_batch"] == second["local_batch"] == 8  # half of each batch of 16
    assert single["local_batch"] == 16
    assert len(first["weights"]) == 4  # one update per epoch
    np.testing.assert_array_equal(first["weights"], second["weights"])
    np.testing.assert_allclose(first["weights"], single["weights"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(first["kernel"], single["kernel"], rtol=1e-5, atol=1e-6)
    assert first["noisy_mass"] < 0.25  # MR moved weight off the flipped labels

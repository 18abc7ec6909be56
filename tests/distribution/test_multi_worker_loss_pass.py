"""MR's loss pass under a two-worker MultiWorkerMirroredStrategy on localhost.

Plain Keras 3 ``fit`` fails under MultiWorkerMirroredStrategy (upstream
keras-team/keras#20585), so the pass is tested alone: each worker sees only its
shard of the data, and the pass must still return every example's loss on every
worker, equal to a single-process pass.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.tf_only, pytest.mark.slow]
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "multi_worker_loss_pass_script.py")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_every_worker_gets_every_examples_loss(tmp_path):
    ports = [str(_free_port()), str(_free_port())]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    outs = [str(tmp_path / f"w{i}.json") for i in (0, 1)]
    workers = [
        subprocess.Popen([sys.executable, SCRIPT, str(i), *ports, outs[i]], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for i in (0, 1)
    ]
    logs = []
    try:
        for proc in workers:
            logs.append(proc.communicate(timeout=300)[0])
    finally:
        for proc in workers:
            proc.kill()
    for proc, log in zip(workers, logs):
        assert proc.returncode == 0, log[-3000:]
    ref_out = str(tmp_path / "single.json")
    subprocess.run([sys.executable, SCRIPT, "-1", *ports, ref_out], env=env, check=True,
                   timeout=300, capture_output=True)
    reference = json.load(open(ref_out))
    for out in outs:
        result = json.load(open(out))
        assert result["replicas"] == 2
        assert all(result["seen"]), "a worker is missing the other worker's examples"
        np.testing.assert_allclose(result["losses"], reference["losses"], rtol=1e-6, atol=1e-7)

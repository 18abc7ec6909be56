"""The MR callback on the JAX backend (fresh interpreter: the backend is fixed at import)."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")

HERE = os.path.dirname(__file__)


def test_mr_sample_weighter_runs_on_jax_backend():
    env = dict(os.environ, KERAS_BACKEND="jax")
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, "jax_mr_script.py")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["sum"] == pytest.approx(1.0, abs=1e-5)
    assert res["noisy_mass"] < 0.15  # uniform: 0.3
    assert res["logged"] == pytest.approx(res["noisy_mass"], rel=1e-5)
    assert res["last_loss_err"] < 1e-4  # the loss pass computed the model's losses
    assert res["step_updates"] == (2 * 13) // 5  # update_every on JAX (used to crash)

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


COMPILED_PASS = """
import json, warnings
import keras, numpy as np
import keras_mr

rng = np.random.default_rng(0)
x = rng.normal(size=(50, 3)).astype("float32")
y = rng.integers(0, 2, 50).astype("int32")
loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
calls = {"traceable": 0, "numpy": 0}

def traceable(model, xb, yb):
    calls["traceable"] += 1  # Python runs this once per trace under jax.jit
    return loss(yb, model(xb, training=False))

def with_numpy(model, xb, yb):  # np.asarray of a tracer: cannot be traced
    calls["numpy"] += 1
    return loss(yb, np.asarray(model(xb, training=False)))

out = {}
for name, fn in (("traceable", traceable), ("numpy", with_numpy)):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    weighter = keras_mr.MRSampleWeighter(per_example_loss_fn=fn)
    data = weighter.attach(x, y, batch_size=16, eval_batch_size=16, shuffle=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(data, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    losses, _ = weighter.loss_source_object.collect(model, weighter.eval_dataset, weighter.num_examples)
    expected = np.asarray(loss(y, model(x, training=False)))
    out[name] = {
        "err": float(np.max(np.abs(losses - expected))),
        "warned": [str(w.message) for w in caught if "jax.jit" in str(w.message)],
    }
out["calls"] = calls
print(json.dumps(out))
"""


def test_jax_loss_pass_is_compiled_once_per_batch_shape_and_falls_back_with_a_warning():
    from without_tensorflow import run_without_tensorflow

    res = run_without_tensorflow(COMPILED_PASS)
    # 4 batches (16, 16, 16, 2) x 3 passes: traced once per batch shape, not per batch
    assert res["calls"]["traceable"] == 2
    assert res["traceable"]["err"] < 1e-5 and res["traceable"]["warned"] == []
    # the untraceable loss runs eagerly, batch by batch, with the same losses and a warning
    assert res["numpy"]["err"] < 1e-5
    assert len(res["numpy"]["warned"]) == 1 and "per_example_loss_fn" in res["numpy"]["warned"][0]
    assert res["calls"]["numpy"] > 4

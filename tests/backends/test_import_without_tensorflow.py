"""``import keras_mr`` works on the JAX backend with TensorFlow not installed.

TensorFlow is hidden from the import system of a subprocess (a meta-path hook
that refuses ``tensorflow*``), so the check holds whatever this machine has.
"""

import textwrap

import pytest
from without_tensorflow import run_without_tensorflow

pytest.importorskip("jax")

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras_mr

    out = {"tf_loaded": "tensorflow" in sys.modules, "names": len(keras_mr.__all__)}
    p, _, _ = keras_mr.mw_update(np.zeros(4), np.array([0.0, 1.0, 2.0, 3.0]), eta=1.0)
    out["mw_sum"] = float(np.exp(p).sum())
    out["weighter"] = keras_mr.MRSampleWeighter(max_weight=None, eta=0.1).loss_source
    ds = keras_mr.MRSampleWeighter().attach(np.zeros((4, 2)), np.zeros(4), batch_size=2)
    out["pipeline"] = type(ds).__name__  # attach() itself falls back to a PyDataset
    errors = {}
    for label, call in [
        ("indexed_dataset", lambda: keras_mr.indexed_dataset(np.zeros((4, 2)), np.zeros(4))),
        ("attach_tf_data", lambda: keras_mr.MRSampleWeighter().attach(
            np.zeros((4, 2)), np.zeros(4), batch_size=2, pipeline="tf.data")),
        ("loss_source_train", lambda: keras_mr.MRSampleWeighter(loss_source="train")),
    ]:
        try:
            call()
            errors[label] = None
        except Exception as error:  # noqa: BLE001
            errors[label] = [type(error).__name__, str(error)]
    out["errors"] = errors
    print(json.dumps(out))
    """
)


def test_import_keras_mr_on_jax_without_tensorflow():
    out = run_without_tensorflow(SCRIPT)
    assert out["tf_loaded"] is False
    assert out["names"] == len(__import__("keras_mr").__all__)
    assert out["mw_sum"] == pytest.approx(1.0)
    assert out["weighter"] == "eval"
    assert out["pipeline"] == "WeightedArrayDataset"
    # Every TensorFlow-needing entry point raises the one error type, one message format.
    for label, error in out["errors"].items():
        assert error is not None, f"{label} did not raise without TensorFlow"
        kind, message = error
        assert kind == "BackendNotSupportedError", (label, kind, message)
        assert "needs" in message and "pip install keras-mr[tf]" in message, message
    assert "TensorFlow is not installed" in out["errors"]["indexed_dataset"][1]
    assert "KERAS_BACKEND=tensorflow" in out["errors"]["loss_source_train"][1]

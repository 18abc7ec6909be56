"""TPU readiness without a TPU: the graphs MR adds hold no float64, complex or
string tensors, and XLA compiles them.

TPUs support neither float64 nor complex dtypes, and string tensors cannot
live on them.  The old pipeline packed the example index into a complex128
sample weight and summed losses in float64 variables.  Here the train step
(both loss sources, static batch shapes from ``attach(drop_remainder=True)``,
``jit_compile=True``) and the loss pass are traced and lowered to HLO.
"""

import re

import keras
import numpy as np
import pytest

import keras_mr

tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf_only

FORBIDDEN = re.compile(r"DT_DOUBLE|DT_COMPLEX64|DT_COMPLEX128|DT_STRING")


def _forbidden_dtypes(concrete_fn):
    text = str(concrete_fn.graph.as_graph_def())
    return sorted(set(FORBIDDEN.findall(text)))


def _setup(source):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6)).astype("float32")
    y = rng.integers(0, 3, 64).astype("int32")
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=0.5, loss_source=source)
    ds = weighter.attach(x, y, batch_size=16, drop_remainder=True)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)])
    if source == "train":
        model = keras_mr.LossRecordingModel(model)
    model.compile(keras.optimizers.SGD(0.1),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=True)
    model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    assert weighter.num_updates == 2
    return weighter, model, ds


@pytest.mark.parametrize("source", ["eval", "train"])
def test_train_step_is_tpu_safe(source):
    weighter, model, ds = _setup(source)
    batch = next(iter(ds))
    assert batch[0].shape[0] == 16  # static batch shape
    sample_weight = batch[2]
    if source == "train":
        assert sample_weight["weight"].dtype == tf.float32
        assert sample_weight["index"].dtype == tf.int32
    else:
        assert sample_weight.dtype == tf.float32
    step = tf.function(model.train_step, jit_compile=True)
    assert _forbidden_dtypes(step.get_concrete_function(batch)) == []
    hlo = step.experimental_get_compiler_ir(batch)(stage="hlo")
    assert "HloModule" in hlo
    for v in model.variables:
        assert v.dtype in ("float32", "int32", "int64"), (v.path, v.dtype)


def test_loss_pass_is_tpu_safe():
    weighter, model, _ = _setup("eval")
    x, y, idx = next(iter(weighter._eval_dataset))
    replica_step = tf.function(weighter.loss_source_object.compiled_pass.replica_fn, jit_compile=True)
    assert _forbidden_dtypes(replica_step.get_concrete_function(x, y, idx)) == []
    hlo = replica_step.experimental_get_compiler_ir(x, y, idx)(stage="hlo")
    assert "HloModule" in hlo
    state_dtypes = {v.dtype for v in model._keras_mr_mr_sample_weighter.variables}
    assert state_dtypes <= {"float32", "int32"}

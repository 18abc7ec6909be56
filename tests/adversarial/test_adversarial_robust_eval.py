"""Robust evaluation with cleverhans FGSM/PGD (TF backend)."""

import sys

import keras
import numpy as np
import pytest
from conftest import requires_tf

import keras_mr
from keras_mr.adversarial.robust_eval import eps_label

pytestmark = [pytest.mark.tf_only, requires_tf]
cleverhans = pytest.importorskip("cleverhans")


def _linear_model(w, b):
    """Two-class linear model with logits (0, w.x + b)."""
    model = keras.Sequential([keras.Input((len(w),)), keras.layers.Dense(2)])
    kernel = np.stack([np.zeros_like(w), w], axis=1).astype("float32")
    model.set_weights([kernel, np.array([0.0, b], "float32")])
    return model


def _hand_accuracy(x, y, w, b, eps):
    """Worst case L-inf attack on a linear score: shift by eps * ||w||_1."""
    z = x @ w + b
    shift = eps * np.abs(w).sum()
    return np.mean(np.where(y == 1, z - shift > 0, z + shift < 0))


def test_linear_model_accuracies_match_hand_values():
    rng = np.random.default_rng(0)
    w = np.array([1.0, -2.0, 0.5], "float32")
    b = 0.1
    x = rng.normal(size=(300, 3)).astype("float32")
    y = (x @ w + b + rng.normal(scale=0.5, size=300) > 0).astype("int32")
    model = _linear_model(w, b)
    res = keras_mr.robust_accuracy(model, x, y, eps=(0.05, 0.2),
                                   clip_min=None, clip_max=None,
                                   batch_size=128)
    assert list(res) == ["natural", "pgd@0.05", "pgd@0.2", "fgsm@0.05",
                         "fgsm@0.2"]
    np.testing.assert_allclose(res["natural"],
                               _hand_accuracy(x, y, w, b, 0.0))
    for e in (0.05, 0.2):
        expected = _hand_accuracy(x, y, w, b, e)
        np.testing.assert_allclose(res[f"fgsm@{e:g}"], expected)
        # for a linear score the L-inf optimum is FGSM's corner; PGD
        # (10 steps of 2.5 eps / 10) reaches it from any start
        np.testing.assert_allclose(res[f"pgd@{e:g}"], expected)
    assert res["fgsm@0.2"] < res["fgsm@0.05"] < res["natural"]


def test_one_hot_labels_clipping_and_adversarial_model_wrapper():
    rng = np.random.default_rng(1)
    w = np.array([1.0, -1.0], "float32")
    x = rng.uniform(size=(64, 2)).astype("float32")
    y = (x @ w > 0).astype("int32")
    inner = _linear_model(w, 0.0)
    wrapped = keras_mr.PGDAdversarialModel(
        inner, threat_model=keras_mr.adversarial.ThreatModel(0.05))
    sparse = keras_mr.robust_accuracy(wrapped, x, y, eps=(8 / 255,),
                                      attacks=("fgsm",))
    onehot = keras_mr.robust_accuracy(inner, x, keras.utils.to_categorical(y),
                                      eps=(8 / 255,), attacks=("fgsm",))
    assert sparse == onehot
    assert sparse["natural"] == 1.0
    assert list(sparse) == ["natural", "fgsm@8/255"]
    # with clipping to [0, 1] the attack can only be weaker than unclipped
    free = keras_mr.robust_accuracy(inner, x, y, eps=(8 / 255,),
                                    attacks=("fgsm",), clip_min=None,
                                    clip_max=None)
    assert sparse["fgsm@8/255"] >= free["fgsm@8/255"]


def test_format_robust_table_papers_layout():
    rows = {"Adv.": {"natural": 0.9032, "pgd@0.01": 0.8111,
                     "fgsm@0.01": 0.8322},
            "Adv.+MR": {"natural": 0.9062, "pgd@0.01": 0.826,
                        "fgsm@0.01": 0.8425}}
    table = keras_mr.format_robust_table(rows)
    lines = table.splitlines()
    assert lines[0] == "| Method | Natural Images | PGD | FGSM |"
    assert lines[2] == "| ϵ | 0 | 0.01 | 0.01 |"
    assert lines[3] == "| Adv. | 90.32 | 81.11 | 83.22 |"
    assert lines[4] == "| Adv.+MR | 90.62 | 82.60 | 84.25 |"
    with pytest.raises(ValueError, match="rows"):
        keras_mr.format_robust_table({})


def test_format_robust_table_mean_and_std_over_seeds():
    rows = {"Adv.": [{"natural": 0.90, "pgd@0.01": 0.80}, {"natural": 0.92, "pgd@0.01": 0.84}],
            "Adv.+MR": [{"natural": 0.91, "pgd@0.01": 0.82}]}
    lines = keras_mr.format_robust_table(rows).splitlines()
    assert lines[0] == "| Method | Natural Images | PGD |"
    assert lines[2] == "| ϵ | 0 | 0.01 |"
    # sample std (ddof=1) of 90 and 92 is sqrt(2) = 1.41; one seed has std 0
    assert lines[3] == "| Adv. | 91.00 ± 1.41 | 82.00 ± 2.83 |"
    assert lines[4] == "| Adv.+MR | 91.00 ± 0.00 | 82.00 ± 0.00 |"


def test_eps_labels():
    assert eps_label(8 / 255) == "8/255"
    assert eps_label(0.01) == "0.01"
    assert eps_label(0.02) == "0.02"
    assert eps_label(0.2) == "0.2"


def test_bad_arguments():
    model = _linear_model(np.ones(2, "float32"), 0.0)
    x = np.zeros((4, 2), "float32")
    y = np.zeros(4, "int32")
    with pytest.raises(ValueError, match="eps"):
        keras_mr.robust_accuracy(model, x, y, eps=(-0.1,))
    with pytest.raises(ValueError, match="attacks"):
        keras_mr.robust_accuracy(model, x, y, attacks=("cw",))
    with pytest.raises(ValueError, match="lengths"):
        keras_mr.robust_accuracy(model, x, y[:3])
    with pytest.raises(ValueError, match="clip_min"):
        keras_mr.robust_accuracy(model, x, y, clip_min=0.0, clip_max=None)


def test_missing_cleverhans_gives_install_hint(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "cleverhans.tf2.attacks.fast_gradient_method", None)
    model = _linear_model(np.ones(2, "float32"), 0.0)
    with pytest.raises(ImportError, match=r"keras-mr\[adversarial\]"):
        keras_mr.robust_accuracy(model, np.zeros((2, 2), "float32"),
                                 np.zeros(2, "int32"))


def test_robust_evaluation_callback_logs():
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(32, 2)).astype("float32")
    y = (x[:, 0] > x[:, 1]).astype("int32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(True))
    cb = keras_mr.RobustEvaluation(x, y, every=2, eps=(0.1,),
                                   attacks=("fgsm",))
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0,
                     callbacks=[cb])
    assert [e for e, _ in cb.history] == [1, 2]  # every 2 + last epoch
    last = cb.history[-1][1]
    direct = keras_mr.robust_accuracy(model, x, y, eps=(0.1,),
                                      attacks=("fgsm",))
    assert last == direct
    assert hist.history["robust_fgsm@0.1"][-1] == direct["fgsm@0.1"]
    with pytest.raises(ValueError, match="every"):
        keras_mr.RobustEvaluation(x, y, every=0)

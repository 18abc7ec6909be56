import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_mr.benchmarking import runner
from keras_mr.benchmarking.datasets import load_default

pytestmark = pytest.mark.tf_only

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README_COMMAND = ["--dataset", "default", "--noise", "symmetric", "--rate", "0.4",
                  "--methods", "base,mr,random", "--epochs", "20"]


def _fake_run(method, seed, final, best, auc=None):
    return runner.RunResult("toy", "symmetric", 0.4, method, seed, final, best, 0.4,
                            [best, final], auc=auc)


def test_table_mean_std_hand_computed():
    res = runner.GridResult([
        _fake_run("base", 0, 0.60, 0.80), _fake_run("base", 1, 0.70, 0.90),
        _fake_run("mr", 0, 0.90, 0.92, auc=0.95), _fake_run("mr", 1, 0.92, 0.92, auc=0.97),
    ])
    rows = {r["method"]: r for r in res.summary_rows()}
    assert rows["base"]["final_mean"] == pytest.approx(0.65)
    assert rows["base"]["final_std"] == pytest.approx(0.05)  # population std over seeds
    assert rows["mr"]["auc_mean"] == pytest.approx(0.96)
    table = res.table()
    assert "| base | 65.00 ± 5.00 | 85.00 ± 5.00 | - |" in table
    assert "| mr | 91.00 ± 1.00 | 92.00 ± 0.00 | 0.960 ± 0.010 |" in table
    assert table.splitlines()[1] == "| method | 40% final | 40% best | 40% AUC |"


def test_run_single_mr_and_base():
    data = load_default(n_train=300, n_test=200)
    base = runner.run_single(data, "symmetric", 0.4, "base", seed=0, epochs=3)
    assert len(base.test_acc) == 3 and base.final_acc == base.test_acc[-1]
    assert base.best_acc == max(base.test_acc)
    assert base.realised_noise_rate == pytest.approx(0.4)
    assert base.auc is None and base.final_weights is None
    mr = runner.run_single(data, "symmetric", 0.4, "mr", seed=0, epochs=3, options={"eta": 0.5})
    assert mr.final_weights.shape == (300,)
    assert mr.final_weights.sum() == pytest.approx(1.0)
    assert len(mr.noisy_mass) == 3
    # MR moves weight away from the noisy examples from the first update on.
    assert mr.noisy_mass[-1] < 0.4 and mr.auc > 0.6
    with pytest.raises(ValueError, match="Unknown method"):
        runner.run_single(data, "symmetric", 0.4, "nope", epochs=1)


def test_oracle_trains_on_the_right_labels_only():
    from keras_mr.benchmarking.runner.methods import METHODS
    from keras_mr.benchmarking.runner.methods import RunContext

    data = load_default(n_train=100, n_test=50)
    y_noisy = data.y_train.copy()
    mask = np.zeros(100, bool)
    mask[:30] = True
    y_noisy[:30] = (y_noisy[:30] + 1) % 10
    ctx = RunContext(data, y_noisy, mask, _compiled_linear, 32, 1, 0, {})
    x, y = METHODS.get("oracle")(ctx).train_data
    assert len(x) == len(y) == 70
    np.testing.assert_array_equal(y, data.y_train[30:])
    np.testing.assert_array_equal(x, data.x_train[30:])


def test_run_single_mr_mixup():
    """MR + mixup: the wrapper trains on MR's weighted, one-hot batches and still evaluates."""
    from keras_mr.benchmarking.runner.methods import METHODS
    from keras_mr.benchmarking.runner.methods import RunContext

    data = load_default(n_train=300, n_test=200)
    res = runner.run_single(data, "symmetric", 0.4, "mr_mixup", seed=0, epochs=3,
                            options={"eta": 0.5, "mixup_alpha": 1.0})
    assert len(res.test_acc) == 3 and res.final_weights.sum() == pytest.approx(1.0)
    assert res.noisy_mass[-1] < 0.4 and res.auc > 0.6
    ctx = RunContext(data, data.y_train, None, _compiled_linear, 32, 1, 0, {"mixup_alpha": 0.25})
    plan = METHODS.get("mr_mixup")(ctx)
    assert plan.model.mixing.alpha == 0.25 and plan.model.instance is None
    x, y, w = next(iter(plan.train_data))
    assert tuple(y.shape) == (32, 10) and tuple(w.shape) == (32,)


def _compiled_linear():
    import keras

    net = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    net.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return net


def test_registry_accepts_new_methods():
    calls = []

    @runner.register_method("test_half_lr")
    def _method(ctx):
        calls.append((ctx.batch_size, ctx.epochs, ctx.options))
        model = ctx.build_model()
        model.optimizer.learning_rate.assign(5e-4)
        return runner.MethodPlan(model, (ctx.data.x_train, ctx.y_noisy))

    try:
        res = runner.run_grid(datasets=[load_default(n_train=100, n_test=50)], methods=["test_half_lr"],
                              epochs=1, batch_size=32, options={"k": 1}, verbose=0)
    finally:
        runner.METHODS.pop("test_half_lr")
    assert calls == [(32, 1, {"k": 1})]
    assert res.runs[0].method == "test_half_lr"


def test_cli_writes_outputs(tmp_path, capsys):
    rc = runner.main(["--dataset", "default", "--methods", "base,mr", "--epochs", "2",
                      "--seeds", "0,1", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "[1/4] default symmetric 40% base seed 0" in out  # a progress line per run
    assert "| mr |" in out
    with open(tmp_path / "runs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["seed"]) for r in rows] == [("base", "0"), ("mr", "0"), ("base", "1"), ("mr", "1")]
    summary = json.load(open(tmp_path / "results.json"))
    assert {r["method"] for r in summary["summary"]} == {"base", "mr"}
    assert len(summary["runs"][1]["test_acc"]) == 2
    merged = runner.GridResult.load(str(tmp_path / "results.json"), str(tmp_path / "results.json"))
    assert len(merged.runs) == 8 and merged.runs[1].test_acc == summary["runs"][1]["test_acc"]
    for name in ("accuracy_default_symmetric_40.png", "noisy_mass_default_symmetric_40.png",
                 "weights_default_symmetric_40_mr.png", "table.md", "summary.csv"):
        assert (tmp_path / name).exists(), name


def test_cli_bad_arguments(capsys):
    assert runner.main(["--dataset", "nope", "--epochs", "1"]) == 2
    assert "Unknown dataset" in capsys.readouterr().err
    assert runner.main(["--methods", "base,magic", "--epochs", "1"]) == 2
    assert "Unknown method" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value, says", [
    ("--epochs", "0", "must be at least 1, got 0"),
    ("--batch-size", "0", "must be at least 1, got 0"),
    ("--train-size", "-5", "must be at least 1, got -5"),
    ("--epochs", "two", "expected a whole number, got 'two'"),
])
def test_cli_rejects_non_positive_sizes_in_one_line(flag, value, says, capsys):
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["--dataset", "default", flag, value])
    assert exit_info.value.code == 2  # argparse's usage error, before any run
    err = capsys.readouterr().err
    assert f"argument {flag}: {says}" in err and "Traceback" not in err


def test_cli_out_without_matplotlib_fails_before_any_run(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    ran = []
    monkeypatch.setattr(runner.cli, "run_grid", lambda **kw: ran.append(kw))
    with pytest.raises(SystemExit) as exit_info:
        runner.main(["--dataset", "default", "--epochs", "1", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and ran == []
    assert "--no-plots" in capsys.readouterr().err


@pytest.mark.slow
def test_readme_command_end_to_end(tmp_path):
    """The README's main command: MR recovers most of the accuracy base training loses."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "keras_mr"] + README_COMMAND + ["--out", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "runs.csv") as f:
        final = {r["method"]: float(r["final_acc"]) for r in csv.DictReader(f)}
    assert final["mr"] > 0.9
    assert final["mr"] > final["base"] + 0.15
    assert final["mr"] > final["random"] + 0.15


def test_cosine_lr_decay_option():
    import keras

    build = runner.make_model_builder("mlp", (4,), 3, lr=0.01, decay_steps=10)
    model = build()
    assert isinstance(model.optimizer._learning_rate, keras.optimizers.schedules.CosineDecay)
    assert float(model.optimizer._learning_rate(10)) == pytest.approx(0.0, abs=1e-8)
    data = load_default(n_train=50, n_test=20)
    with pytest.raises(ValueError, match="lr_decay"):
        runner.run_single(data, "symmetric", 0.2, "base", epochs=1, lr_decay="step")

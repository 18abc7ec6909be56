"""benchmarks/summary.py: the verdict logic (benchmarks/_rows.py), the statistics it combines
times with (keras_mr.benchmarking.timing), and a tiny run that prints every row."""

import os
import subprocess
import sys

import pytest

from keras_mr.benchmarking import timing

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "benchmarks", "summary.py")


THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "XLA_FLAGS",
                    "OMP_NUM_THREADS")
ENVIRONMENT_AROUND_IMPORT = {}


@pytest.fixture(scope="module")
def rows():
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import _rows as module
    finally:
        sys.path.pop(0)
    return module


@pytest.fixture(scope="module")
def summary():
    ENVIRONMENT_AROUND_IMPORT["before"] = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import summary as module
    finally:
        sys.path.pop(0)
    ENVIRONMENT_AROUND_IMPORT["after"] = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    return module


def test_instances_and_rounds_are_combined_robustly():
    times = {"a#0": {"cpu": 1.0, "wall": 1.0}, "a#1": {"cpu": 4.0, "wall": 9.0},
             "b#0": {"cpu": 3.0, "wall": 3.0}}
    merged = timing.merge_instances(times)  # geometric means
    assert merged["a"] == {"cpu": pytest.approx(2.0), "wall": pytest.approx(3.0)}
    assert merged["b"] == {"cpu": pytest.approx(3.0), "wall": pytest.approx(3.0)}
    clock = lambda t: {"cpu": t, "wall": t}
    runs = {"plain": [clock(1.0), clock(2.0), clock(1.0)],
            "mr": [clock(1.1), clock(2.4), clock(5.0)],  # round 3: a slow instance
            "predict": [clock(0.5), clock(0.5), clock(0.5)]}
    assert timing.round_ratios(runs, "mr") == {"cpu": pytest.approx(1.2), "wall": pytest.approx(1.2)}
    # per round 1.1 + 0.5, 1.2 + 0.25, 5.0 + 0.5: the median is 1.6
    assert timing.round_ratios(runs, "mr", extra=("predict", "plain"))["cpu"] == pytest.approx(1.6)


def test_verdict_against_target_and_floor(rows):
    row = rows.Row
    cpu = lambda r: {"cpu": r, "wall": r}
    assert rows.verdict(row("a", cpu(1.01), 1.02, 1.0)) == "yes"
    assert rows.verdict(row("a", cpu(1.03), 1.02, 1.0)) == "no"
    # a target below the floor cannot be met; at the floor (within 5%) says so
    assert rows.verdict(row("a", cpu(2.5), 1.8, 2.45)) == "no: target < floor, ratio at floor"
    assert rows.verdict(row("a", cpu(2.7), 1.8, 2.45)) == "no"
    # no target: the floor is the target, within 5%
    assert rows.verdict(row("a", cpu(8.3), None, 8.0)) == "yes"
    assert rows.verdict(row("a", cpu(8.5), None, 8.0)) == "no"
    assert rows.verdict(row("a", cpu(0.9))) == ""


def test_one_thread_is_the_default_and_zero_keeps_the_libraries_defaults(summary, monkeypatch):
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert summary.pin_threads([]) == 1
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "1"
    assert "intra_op_parallelism_threads=1" in os.environ["XLA_FLAGS"]
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert summary.pin_threads(["--threads", "0"]) == 0
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ


def test_importing_the_script_leaves_the_thread_settings_alone(summary):
    # one thread is the script's default, not its importer's (the test process' subprocesses)
    assert ENVIRONMENT_AROUND_IMPORT["after"] == ENVIRONMENT_AROUND_IMPORT["before"]


@pytest.mark.slow
def test_tiny_run_prints_every_row_with_a_ratio():
    out = subprocess.run(
        [sys.executable, SCRIPT, "--blocks", "1", "--block-steps", "1", "--adv-block-steps",
         "1", "--mr-n", "300", "--mr-epochs", "2", "--mr-rounds", "1", "--pgd-steps", "2",
         "--trades-steps", "2", "--free-replays", "2", "--probe-passes", "2"],
        capture_output=True, text=True, timeout=900,
        env=dict(os.environ, KERAS_BACKEND="tensorflow"),
    )
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    names = [row.split("|")[1].strip() for row in rows[1:]]
    for expected in ("PGD-2 AT step", "TRADES-2 step", "Free AT step", "A/A control",
                     "MAIL-2 step / PGD-2 AT step", "LAS-AT step (2..2 iterations)",
                     "wrapper, weighting off", "CIW-KL step", "CICW step", "CICW-Mixup step",
                     "MetaWeightNet step", "MR epoch, extra loss pass", "MR loss pass",
                     "MR epoch, training losses"):
        assert any(name.startswith(expected) or expected in name for name in names), expected
    for row in rows[1:]:
        ratio = float(row.split("|")[2])
        assert 0.05 < ratio < 100

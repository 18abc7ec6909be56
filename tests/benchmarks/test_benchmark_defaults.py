"""benchmarks/defaults.py: the verdict against the acceptance, the noise of every task, a tiny run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "benchmarks", "defaults.py")


@pytest.fixture(scope="module")
def grid():
    sys.path.insert(0, os.path.dirname(SCRIPT))
    try:
        import defaults as module
    finally:
        sys.path.pop(0)
    return module


def _row(**changes):
    row = dict(rate=0.4, kind="symmetric", plain=70.0, mr=90.0, best_fixed=91.0,
               estimated_rate=0.41, true_rate=0.4, flagged=0.4)
    row.update(changes)
    return row


def test_verdict_against_the_acceptance(grid):
    assert grid.verdict(_row()) == "ok"
    assert grid.verdict(_row(best_fixed=91.6)) == "MR -1.60 vs best fixed"
    assert grid.verdict(_row(mr=69.0, best_fixed=None)) == "MR -1.00 vs plain"
    assert grid.verdict(_row(estimated_rate=0.34)) == "rate 0.34 vs 0.40"
    assert grid.verdict(_row(kind="pair", estimated_rate=0.34)) == "ok"  # 0.10 there
    clean = _row(rate=0.0, kind="none", true_rate=0.0, estimated_rate=0.0, flagged=0.0)
    assert grid.verdict({**clean, "mr": 69.6}) == "ok"  # within 0.5 of plain
    assert grid.verdict({**clean, "mr": 69.4}) == "MR -0.60 vs plain"
    assert grid.verdict({**clean, "flagged": 0.03}) == "flags 3.0%"


@pytest.mark.parametrize("name", ["binary", "multilabel", "regression"])
def test_task_noise_hits_the_rate_and_only_the_masked_examples(grid, name):
    x, y, _, _, k = grid.load_cell_data(name)
    noisy, mask = grid.add_noise(name, "flip", 0.25, x, y, k, seed=0)
    assert mask.sum() == round(0.25 * len(y))
    changed = np.any(np.reshape(noisy != y, (len(y), -1)), axis=1)
    np.testing.assert_array_equal(changed, mask)
    if name == "regression":
        assert np.all(np.abs(noisy - y)[mask] >= 5)  # outliers of 5-10 target stds
    clean, none = grid.add_noise(name, "flip", 0.0, x, y, k, seed=0)
    assert not none.any() and np.array_equal(clean, y)


def test_cells_give_the_headline_seeds_to_clean_rows(grid):
    args = grid._parse_args(["--datasets", "small,binary", "--kinds", "symmetric,pair"])
    cells = grid.cells(args)
    assert ("small", "none", 0.0, [0, 1, 2], False) in cells
    assert ("small", "pair", 0.4, [0], True) in cells
    assert [c[1] for c in cells if c[0] == "binary"] == ["none", "flip", "flip"]


@pytest.mark.slow
def test_tiny_grid_prints_its_table_and_caches_runs(tmp_path):
    out = tmp_path / "grid"
    cmd = [sys.executable, SCRIPT, "--datasets", "small", "--rates", "0,0.4", "--kinds",
           "symmetric", "--headline-seeds", "0", "--epochs-scale", "0.05", "--sweep", "1.0",
           "--caps", "none", "--out", str(out)]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    assert "| small | symmetric | 40% | 1 |" in first.stdout
    assert "rows meet every target" in first.stdout
    runs = [json.loads(line) for line in open(out / "runs.jsonl")]
    assert len(runs) == 6  # plain and MR at 0%; plain, MR, oracle and one fixed eta at 40%
    assert {r["key"].split("|")[4] for r in runs} >= {"plain", "mr", "oracle"}
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    assert len(open(out / "runs.jsonl").readlines()) == 6  # all from the cache
    assert again.stdout.split("| data |")[1] == first.stdout.split("| data |")[1]

"""MR without TensorFlow on the JAX and PyTorch backends (subprocesses, TensorFlow hidden).

The quick-start example runs unchanged on each backend and MR moves the weight off the
flipped labels; on PyTorch the same checks as the JAX test of the array pipeline hold
(MR's first update equals the MW rule on independently computed losses, random weighting
keeps its distribution).
"""

import os
import textwrap

import pytest
from backend_neutral_scripts import ARRAY_PIPELINE_SCRIPT as PIPELINE_SCRIPT
from backend_neutral_scripts import CIW_SCRIPT as CIW_JAX_SCRIPT
from without_tensorflow import run_without_tensorflow

QUICKSTART = textwrap.dedent(
    """
    import contextlib, io, json, os, runpy, sys

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(EXAMPLE, run_name="__main__")
    rows = {}
    for line in out.getvalue().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0] in ("plain", "MR"):
            rows[cells[0]] = {"acc": float(cells[1]), "mass": float(cells[2])}
    rows["tf_loaded"] = "tensorflow" in sys.modules
    print(json.dumps(rows))
    """
).replace("EXAMPLE", repr(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "quickstart.py")))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_quickstart_runs_without_tensorflow(backend):
    pytest.importorskip(backend)
    out = run_without_tensorflow(QUICKSTART, backend=backend)
    assert out["tf_loaded"] is False
    assert out["MR"]["mass"] < 0.1, out  # 40% of the examples are flipped
    assert out["MR"]["acc"] > out["plain"]["acc"], out


def test_mr_and_random_weighting_on_torch_without_tensorflow():
    pytest.importorskip("torch")
    out = run_without_tensorflow(PIPELINE_SCRIPT, backend="torch")
    assert out["tf_loaded"] is False
    assert out["first_update_err"] < 1e-5
    assert out["noisy_mass"] < 0.2 * out["noise_rate"], out
    assert out["random_sum"] == pytest.approx(1.0)
    assert 0.3 < out["random_zero_share"] < 0.7


def test_ciw_loss_and_weights_on_torch_without_tensorflow():
    pytest.importorskip("torch")
    script = CIW_JAX_SCRIPT.replace('"jax"', '"torch"') + "\nimport json, sys\n"
    script += 'print(json.dumps({"tf_loaded": "tensorflow" in sys.modules}))\n'
    out = run_without_tensorflow(script, backend="torch", keep_stdout=True)
    line = out["stdout"].strip().splitlines()[-2]
    assert out["json"]["tf_loaded"] is False
    assert "[0.7311, 0.2689]" in line  # KL instance weights of losses (0, 1), as on TF/JAX
    assert "[[0.3, 0.0, 0.7]]" in line
    assert line.endswith("[[1.0, 0.0], [1.0, 0.0]]")

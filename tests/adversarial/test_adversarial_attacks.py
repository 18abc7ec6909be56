"""Pure perturbation math (backend-neutral: runs on TF and JAX)."""

import numpy as np
import pytest
from keras import ops

from keras_mr.adversarial import attacks


def _np(t):
    return np.asarray(ops.convert_to_numpy(t))


def test_project_linf_hand_values():
    d = np.array([[0.3, -0.05, -0.2]], "float32")
    np.testing.assert_allclose(_np(attacks.project_linf(d, 0.1)),
                               [[0.1, -0.05, -0.1]], atol=1e-7)


def test_project_l2_rescales_outside_and_keeps_inside():
    d = np.array([[3.0, 4.0], [0.3, 0.4]], "float32")
    out = _np(attacks.project_l2(d, 1.0))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.3, 0.4]], atol=1e-6)


def test_project_l2_per_example_over_all_axes():
    d = np.ones((2, 2, 2), "float32") * np.array([1.0, 0.1])[:, None, None]
    out = _np(attacks.project_l2(d, 1.0))
    # first example: norm 2 -> halved; second: norm 0.2 -> unchanged
    np.testing.assert_allclose(out[0], 0.5 * np.ones((2, 2)), atol=1e-6)
    np.testing.assert_allclose(out[1], 0.1 * np.ones((2, 2)), atol=1e-6)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_project_lands_in_ball_and_range(norm):
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(16, 3, 4)).astype("float32")
    x_adv = x + rng.normal(scale=2.0, size=x.shape).astype("float32")
    eps = 0.1
    out = _np(attacks.project_perturbation(x_adv, x, eps, norm, 0.0, 1.0))
    assert out.min() >= 0.0 and out.max() <= 1.0
    norms = _np(attacks.perturbation_norm(out, x, norm))
    assert np.all(norms <= eps + 1e-5)
    assert np.all(norms > 0)


def test_project_without_range_only_projects():
    x = np.array([[0.95]], "float32")
    out = _np(attacks.project_perturbation([[2.0]], x, 0.1, "inf", None, None))
    np.testing.assert_allclose(out, [[1.05]], atol=1e-6)


def test_steepest_ascent_direction():
    g = np.array([[3.0, -4.0, 0.0]], "float32")
    np.testing.assert_allclose(_np(attacks.steepest_ascent_direction(g)),
                               [[1, -1, 0]])
    np.testing.assert_allclose(_np(attacks.steepest_ascent_direction(g, 2)),
                               [[0.6, -0.8, 0.0]], atol=1e-6)
    # zero gradient stays zero (no NaN) in L2
    z = _np(attacks.steepest_ascent_direction(np.zeros((1, 3), "float32"), 2))
    np.testing.assert_array_equal(z, np.zeros((1, 3)))


def test_pgd_step_hand_values():
    x = np.array([[0.5, 0.5, 0.98]], "float32")
    g = np.array([[2.0, -0.5, 1.0]], "float32")
    # step 0.3 > eps 0.1: projected back to +-0.1, then clipped to [0, 1]
    out = _np(attacks.pgd_step(x, x, g, eps=0.1, step_size=0.3))
    np.testing.assert_allclose(out, [[0.6, 0.4, 1.0]], atol=1e-6)
    # small step from a previous point inside the ball
    prev = np.array([[0.55, 0.5, 0.98]], "float32")
    out = _np(attacks.pgd_step(prev, x, g, eps=0.1, step_size=0.02))
    np.testing.assert_allclose(out, [[0.57, 0.48, 1.0]], atol=1e-6)
    # L2: step along g / ||g||
    x2 = np.zeros((1, 2), "float32")
    out = _np(attacks.pgd_step(x2, x2, [[3.0, 4.0]], eps=1.0, step_size=0.5,
                               norm=2, clip_min=None, clip_max=None))
    np.testing.assert_allclose(out, [[0.3, 0.4]], atol=1e-6)


@pytest.mark.parametrize("norm", ["inf", 2])
def test_random_start_inside_ball_and_range(norm):
    x = np.random.default_rng(1).uniform(size=(64, 5)).astype("float32")
    out = _np(attacks.random_start(x, 0.2, norm, 0.0, 1.0, seed=3))
    assert out.min() >= 0.0 and out.max() <= 1.0
    norms = _np(attacks.perturbation_norm(out, x, norm))
    assert np.all(norms <= 0.2 + 1e-5)
    assert norms.mean() > 0.05  # really random, not the centre
    if norm == "inf":
        # uniform in the box: spread over the whole interval
        assert np.abs(out - x).max() > 0.15


def test_canonical_norm_and_bad_values():
    assert attacks.canonical_norm(np.inf) == "inf"
    assert attacks.canonical_norm("Linf") == "inf"
    assert attacks.canonical_norm("l2") == 2
    assert attacks.canonical_norm(2) == 2
    with pytest.raises(ValueError, match="norm"):
        attacks.canonical_norm(1)
    with pytest.raises(ValueError, match="eps"):
        attacks.check_eps(-0.1)
    with pytest.raises(TypeError, match="eps"):
        attacks.check_eps("0.1")

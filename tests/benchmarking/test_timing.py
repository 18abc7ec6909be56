"""keras_mr.benchmarking.timing: the statistics over times, against hand-computed numbers."""

import math

import pytest

from keras_mr.benchmarking import timing


def clocks(wall, cpu=None):
    return {"wall": wall, "cpu": wall if cpu is None else cpu}


def test_merge_instances_takes_the_geometric_mean_of_each_name():
    times = {"plain#0": clocks(2.0, 1.0), "plain#1": clocks(8.0, 9.0), "plain#2": clocks(4.0, 3.0),
             "ciw#0": clocks(5.0)}
    merged = timing.merge_instances(times)
    assert set(merged) == {"plain", "ciw"}
    # (2 * 8 * 4)^(1/3) = 4, (1 * 9 * 3)^(1/3) = 3
    assert merged["plain"] == {"wall": pytest.approx(4.0), "cpu": pytest.approx(3.0)}
    assert merged["ciw"] == {"wall": pytest.approx(5.0), "cpu": pytest.approx(5.0)}
    assert timing.merge_instances({"a/0": clocks(1.0), "a/1": clocks(4.0)}, separator="/") == {
        "a": {"wall": pytest.approx(2.0), "cpu": pytest.approx(2.0)}}


def test_ratios_and_marginal_cost_of_a_probe():
    times = {"plain": clocks(0.010, 0.008), "empty": clocks(0.002, 0.002),
             "forward": clocks(0.005, 0.004), "method": clocks(0.013, 0.012)}
    assert timing.ratios(times, "method") == {"wall": pytest.approx(1.3), "cpu": pytest.approx(1.5)}
    assert timing.ratios(times, "method", base="forward")["cpu"] == pytest.approx(3.0)
    # (0.005 - 0.002) / 0.010 = 0.3; (0.004 - 0.002) / 0.008 = 0.25
    assert timing.marginal(times, "forward") == {"wall": pytest.approx(0.3),
                                                "cpu": pytest.approx(0.25)}
    # a probe of 4 passes: one pass costs a quarter of its marginal cost
    assert timing.marginal(times, "forward", count=1 / 4)["cpu"] == pytest.approx(0.0625)
    assert timing.marginal(times, "method", base="forward", empty="plain")["wall"] == \
        pytest.approx(0.6)


def test_round_ratios_pair_each_round_and_take_the_median():
    runs = {"plain": [clocks(1.0), clocks(2.0), clocks(1.0), clocks(4.0)],
            "mr": [clocks(1.1), clocks(2.4), clocks(5.0), clocks(4.4)],  # round 3: an outlier
            "predict": [clocks(0.5), clocks(0.5), clocks(0.25), clocks(1.0)]}
    # per round 1.1, 1.2, 5.0, 1.1: the median is 1.15, untouched by the outlier
    assert timing.round_ratios(runs, "mr") == {"wall": pytest.approx(1.15),
                                               "cpu": pytest.approx(1.15)}
    # plus predict / plain of the same round: 1.6, 1.45, 5.25, 1.35 -> median 1.525
    assert timing.round_ratios(runs, "mr", extra=("predict", "plain"))["cpu"] == \
        pytest.approx(1.525)
    # mr / predict: 2.2, 4.8, 20, 4.4 -> median 4.6
    assert timing.round_ratios(runs, "mr", base="predict")["wall"] == pytest.approx(4.6)


def test_pair_means_are_geometric_means_of_two_identical_models():
    times = {"plain": clocks(1.0, 2.0), "plain again": clocks(1.21, 2.0)}
    assert timing.pair_mean(times, "plain", "plain again") == {"wall": pytest.approx(1.1),
                                                             "cpu": pytest.approx(2.0)}
    first, second = [clocks(1.0), clocks(2.0, 3.0)], [clocks(4.0), clocks(8.0, 12.0)]
    assert timing.pair_means(first, second) == [
        {"wall": pytest.approx(2.0), "cpu": pytest.approx(2.0)},
        {"wall": pytest.approx(4.0), "cpu": pytest.approx(6.0)}]


def test_time_both_clocks_reads_both_clocks_of_one_call():
    calls = []
    seconds = timing.time_both_clocks(lambda: calls.append(sum(range(1000))))
    assert calls == [499500]
    assert set(seconds) == {"wall", "cpu"} and min(seconds.values()) >= 0.0
    assert all(math.isfinite(s) for s in seconds.values())


@pytest.mark.tf_only
def test_time_steps_runs_every_model_in_turns_and_returns_a_percentile():
    import keras
    import numpy as np
    import tensorflow as tf

    x = np.zeros((8, 3), "float32")
    y = np.zeros((8, 1), "float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    models = {}
    for name in ("a", "b"):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile("sgd", "mse")
        models[name] = (model, data)
    steps_before = {name: int(m.optimizer.iterations) for name, (m, _) in models.items()}
    times = timing.time_steps(models, blocks=2, block_steps=3)
    assert set(times) == {"a", "b"}
    for name, (model, _) in models.items():
        assert set(times[name]) == {"wall", "cpu"} and min(times[name].values()) > 0.0
        # 3 steps of `fit` trace and compile, then 2 blocks of 3 timed steps
        assert int(model.optimizer.iterations) == steps_before[name] + 3 + 2 * 3

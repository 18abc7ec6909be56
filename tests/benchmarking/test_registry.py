"""One registry pattern for methods, models, datasets and noise kinds."""

import pytest

from keras_mr.benchmarking import datasets
from keras_mr.benchmarking import noise
from keras_mr.benchmarking import runner
from keras_mr.benchmarking.registry import Registry


def test_register_lookup_aliases_and_removal():
    reg = Registry("widget")
    reg.register("a", 1, aliases=("alpha",))

    @reg.register("b")
    def b():
        return 2

    assert reg.get("a") == 1 and reg["alpha"] == 1 and reg.get("b") is b
    assert "alpha" in reg and "c" not in reg and reg.names() == ["a", "b"] and len(reg) == 2
    assert list(reg) == ["a", "b"]
    assert reg.pop("a") == 1 and "alpha" not in reg


def test_unknown_names_list_the_choices_and_duplicates_are_refused():
    reg = Registry("widget")
    reg.register("a", 1, aliases=("alpha",))
    with pytest.raises(ValueError, match=r"Unknown widget 'z'; choose one of \['a'\]"):
        reg.get("z")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("alpha", 2)


def test_the_four_registries_share_the_pattern():
    for registry, name, alias in [
        (runner.METHODS, "mr", None),
        (runner.MODELS, "cnn", None),
        (datasets.LOADERS, "fashion_mnist", "fmnist"),
        (noise.NOISE, "pair", "pairflip"),
    ]:
        assert isinstance(registry, Registry) and name in registry
        if alias:
            assert registry.get(alias) is registry.get(name)
    with pytest.raises(ValueError, match="Unknown noise kind 'gaussian'"):
        noise.apply_noise("gaussian", [0, 1], 0.1, 2)
    with pytest.raises(ValueError, match="Unknown dataset 'mnist'"):
        datasets.load_dataset("mnist")


def test_benchmark_networks_come_from_the_model_registry():
    one_layer = runner.MODELS.get("mlp")((8,), 3, width=5, depth=1)
    assert [layer.units for layer in one_layer.layers if hasattr(layer, "units")] == [5, 3]
    valid = runner.MODELS.get("cnn")((28, 28, 1), 10, width=4, padding="valid")
    assert valid.layers[0].output.shape[1:3] == (26, 26)  # "valid": a 3x3 kernel trims 2 pixels
    assert runner.MODELS.get("cnn")((28, 28, 1), 10, width=4).layers[0].output.shape[1] == 28


def test_training_options_are_checked_before_any_run():
    with pytest.raises(TypeError):
        runner.Training(learning_rate=0.1)
    with pytest.raises(ValueError, match="lr_decay"):
        runner.run_grid(datasets=["default"], methods=["base"], lr_decay="step", verbose=0)


def test_shared_timing_helpers():
    from keras_mr.benchmarking import timing

    order = []
    times = timing.interleaved(lambda name: order.append(name) or 1.0, ["a", "b"], repeats=2)
    assert order == ["a", "b", "a", "b"] and times == {"a": [1.0, 1.0], "b": [1.0, 1.0]}
    # with a seed: every name once per round, in a new (reproducible) order
    names = ["a", "b", "c", "d"]
    runs = []
    for _ in range(2):
        order = []
        timing.interleaved(lambda name: order.append(name) or 1.0, names, repeats=6, seed=0)
        runs.append(order)
    assert runs[0] == runs[1]
    rounds = [runs[0][4 * r:4 * r + 4] for r in range(6)]
    assert all(sorted(r) == names for r in rounds)
    assert len({r[0] for r in rounds}) > 1  # not always the same name first
    with timing.Stopwatch() as watch:
        sum(range(100_000))
    assert watch.wall > 0 and watch.cpu >= 0
    with pytest.raises(ValueError, match="clock"):
        timing.time_call(lambda: None, clock="gpu")
    with pytest.raises(ValueError, match="clock"):
        timing.FitTimer(clock="gpu")

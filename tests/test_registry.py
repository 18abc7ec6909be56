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

"""The weighting methods the runner trains with: a registry of ``fn(ctx) -> MethodPlan``."""

import dataclasses
from typing import Any
from typing import Callable
from typing import Optional

import numpy as np

from keras_mr.benchmarking.registry import Registry


@dataclasses.dataclass
class RunContext:
    """What a method builder gets.

    Attributes:
        data: the :class:`keras_mr.benchmarking.datasets.Dataset` (clean labels in ``y_train``).
        y_noisy: noisy training labels (what the method trains on).
        noisy_mask: bool ``(N,)``, ground truth of the noise (for logging only).
        build_model: ``fn() -> keras.Model``, a fresh compiled model (loss:
            sparse categorical cross-entropy on logits, metric ``accuracy``).
        batch_size: training batch size.
        epochs: number of epochs.
        seed: run seed (already applied with ``keras.utils.set_random_seed``).
        options: method options from the caller / CLI (e.g. ``eta``).
    """

    data: Any
    y_noisy: np.ndarray
    noisy_mask: np.ndarray
    build_model: Callable
    batch_size: int
    epochs: int
    seed: int
    options: dict


@dataclasses.dataclass
class MethodPlan:
    """What a method builder returns.

    Attributes:
        model: the compiled model to fit.
        train_data: ``(x, y)`` arrays (fit with ``batch_size`` and shuffling)
            or a ``tf.data.Dataset`` (e.g. from ``weighter.attach``).
        callbacks: extra callbacks (e.g. the weighter itself).
        weights_fn: optional ``fn() -> (N,)`` current example weights, read
            after every epoch for the noisy-mass curve and detection AUC.
    """

    model: Any
    train_data: Any
    callbacks: list = dataclasses.field(default_factory=list)
    weights_fn: Optional[Callable] = None


METHODS = Registry("method")


def register_method(name, fn=None):
    """Registers ``fn(ctx: RunContext) -> MethodPlan`` under ``name`` (usable as a decorator)."""
    return METHODS.register(name, fn)


@register_method("base")
def _base(ctx):
    """Plain training on the noisy labels."""
    return MethodPlan(ctx.build_model(), (ctx.data.x_train, ctx.y_noisy))


@register_method("clean")
def _clean(ctx):
    """Reference: plain training on the clean labels."""
    return MethodPlan(ctx.build_model(), (ctx.data.x_train, ctx.data.y_train))


@register_method("oracle")
def _oracle(ctx):
    """Reference: plain training on only the examples whose label is right.

    What a perfect noise detector would leave: the ideal filter, and the
    ceiling of any method that learns from the correctly-labelled examples
    alone (such as MR, whose weights go to zero on wrong labels). The gap
    ``clean - oracle`` is the cost of the lost examples, ``oracle - mr`` that
    of imperfect detection.
    """
    keep = ~np.asarray(ctx.noisy_mask, dtype=bool)
    return MethodPlan(ctx.build_model(), (ctx.data.x_train[keep], ctx.y_noisy[keep]))


def _mr_plan(ctx, model, labels):
    """``model`` trained on MR's weighted batches of ``(x_train, labels)``.

    The one place the runner builds an ``MRSampleWeighter`` (options ``eta``,
    ``max_weight``), shared by ``mr`` and ``mr_mixup``.
    """
    from keras_mr.mr.mr_sample_weighter import MRSampleWeighter

    weighter = MRSampleWeighter(
        eta=ctx.options.get("eta", "auto"),
        max_weight=ctx.options.get("max_weight", "auto"),
        noise_mask=ctx.noisy_mask,
    )
    ds = weighter.attach(ctx.data.x_train, labels, batch_size=ctx.batch_size, seed=ctx.seed)
    return MethodPlan(model, ds, [weighter], lambda: weighter.weights)


@register_method("mr")
def _mr(ctx):
    """Multiplicative Reweighting (``MRSampleWeighter``); options ``eta``, ``max_weight``."""
    return _mr_plan(ctx, ctx.build_model(), ctx.y_noisy)


@register_method("random")
def _random(ctx):
    """Random (rectified-Gaussian) weighting baseline (``keras_mr.RandomSampleWeighter``)."""
    from keras_mr.mr.random_sample_weighter import RandomSampleWeighter

    weighter = RandomSampleWeighter(seed=ctx.seed, noise_mask=ctx.noisy_mask)
    ds = weighter.attach(ctx.data.x_train, ctx.y_noisy, batch_size=ctx.batch_size, seed=ctx.seed)
    return MethodPlan(ctx.build_model(), ds, [weighter], lambda: weighter.weights)


@register_method("mr_mixup")
def _mr_mixup(ctx):
    """MR + mixup (the MR paper's "MR + mixup" rows).

    Options: ``eta``, ``max_weight``, ``mixup_alpha``.

    The network is wrapped in ``ConstrainedReweightingModel(instance=None,
    mixing=WeightedMixup(mixup_alpha))`` and trained on MR's weighted batches
    with one-hot labels and the categorical cross-entropy (the mixing rule of
    :mod:`keras_mr.constrained.mixup`: each label keeps its source's weight).
    ``mixup_alpha`` defaults to 0.5, the MR paper's value with Adam (the
    runner's default optimizer). The loss pass sees the unmixed examples.
    TensorFlow backend only (the wrapper's training step).
    """
    import keras

    from keras_mr.constrained.constrained_reweighting import ConstrainedReweightingModel
    from keras_mr.constrained.mixing import WeightedMixup

    net = ctx.build_model()
    model = ConstrainedReweightingModel(
        net, instance=None, mixing=WeightedMixup(ctx.options.get("mixup_alpha", 0.5)), seed=ctx.seed
    )
    model.compile(
        net.optimizer, keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    # one-hot labels: the loss pass applies the compiled categorical loss to them
    y_one_hot = np.eye(ctx.data.num_classes, dtype="float32")[np.asarray(ctx.y_noisy, "int64")]
    return _mr_plan(ctx, model, y_one_hot)

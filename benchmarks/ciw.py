"""Benchmark: CIW / CICW / CICW-Mixup and MR + mixup / label smoothing.

Two parts (both print a markdown table):

* ``--part timing``: the constrained-reweighting rows of ``benchmarks/summary.py``'s
  table (the wrapper with weighting off, CIW with KL, Hellinger and chi2, CICW,
  CICW-Mixup), each a compiled training step relative to a plain Keras step of the same
  MLP, data and batch size, measured in one run on synthetic data, with the floor of
  CICW-Mixup built from probe steps timed alongside.
* ``--part accuracy``: clean test accuracy on Fashion-MNIST with symmetric
  label noise (each training label is replaced, with probability
  ``--noise``, by a uniformly drawn *different* class), at the final epoch
  and the best epoch, for base / CIW / CICW / CICW-M / MR+mixup /
  MR+smoothing (and optionally more, see ``--methods``).  Needs the
  Fashion-MNIST idx files (``--data-dir``, default
  ``/usr/share/datasets/fashion-mnist``).

Examples::

    python benchmarks/ciw.py --part timing --timing-blocks 80
    python benchmarks/ciw.py --part accuracy --n-train 10000 --epochs 20
"""

import argparse
import os
import time
from typing import NamedTuple

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
from _probes import Probe
from _rows import Row
from _rows import mlp_data
from _rows import repeated_batches
from _rows import table

import keras_mr
from keras_mr.benchmarking.datasets import load_dataset
from keras_mr.benchmarking.registry import Registry
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import marginal
from keras_mr.benchmarking.timing import merge_instances
from keras_mr.benchmarking.timing import pair_mean
from keras_mr.benchmarking.timing import ratios
from keras_mr.benchmarking.timing import time_steps
from keras_mr.constrained import CICWMixup
from keras_mr.constrained import ClassReweighting
from keras_mr.constrained import InstanceReweighting
from keras_mr.constrained import WeightedMixup

DEFAULT_METHODS = ["base", "CIW", "CICW", "CICW-M", "MR+mixup", "MR+smoothing"]


# -- data ---------------------------------------------------------------
def load_fashion_mnist(data_dir):
    """Fashion-MNIST as flat vectors in [0, 1] (the dataset registry's loader)."""
    data = load_dataset("fashion_mnist", data_dir=data_dir, channel_axis=False)
    x, xt = data.x_train.reshape(len(data.x_train), -1), data.x_test.reshape(len(data.x_test), -1)
    return x, data.y_train.astype("int32"), xt, data.y_test.astype("int32")


def symmetric_noise(y, rate, num_classes, seed=0):
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < rate
    shift = rng.integers(1, num_classes, size=len(y))
    return np.where(flip, (y + shift) % num_classes, y).astype("int32"), flip


# -- models -------------------------------------------------------------
def mlp(input_dim, num_classes, width, seed):
    keras.utils.set_random_seed(seed)
    return MODELS.get("mlp")((input_dim,), num_classes, width=width)


# -- methods: name -> fn(base, args, steps_per_epoch) -> Plan ------------------------
METHODS = Registry("CIW benchmark method")


class Plan(NamedTuple):
    model: object  # the model to fit
    loss: object
    one_hot: bool  # wants one-hot labels
    uses_mr: bool


def _instance(args, steps_per_epoch):
    burn = args.burn_in_epochs * steps_per_epoch
    return InstanceReweighting(args.divergence, temperature=args.temperature, burn_in_steps=burn)


def _classes(args):
    return ClassReweighting(
        args.class_divergence, temperature=args.class_temperature, budget=args.class_budget
    )


CCE = keras.losses.CategoricalCrossentropy(from_logits=True)
SPARSE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
CRM = keras_mr.ConstrainedReweightingModel


@METHODS.register("base")
def _base(base, args, steps):
    return Plan(base, SPARSE, False, False)


@METHODS.register("MR")
def _mr(base, args, steps):
    return Plan(base, SPARSE, False, True)


@METHODS.register("CIW")
def _ciw(base, args, steps):
    return Plan(CRM(base, instance=_instance(args, steps)), SPARSE, False, False)


@METHODS.register("CICW")
def _cicw(base, args, steps):
    model = CRM(base, instance=_instance(args, steps), classes=_classes(args))
    return Plan(model, CCE, True, False)


@METHODS.register("CICW-M")
def _cicw_m(base, args, steps):
    mixing = CICWMixup(args.mixup_variant)
    model = CRM(base, _instance(args, steps), _classes(args), mixing, seed=args.seed)
    return Plan(model, CCE, True, False)


def _mixup(base, args):
    return CRM(base, instance=None, mixing=WeightedMixup(args.mixup_alpha), seed=args.seed)


@METHODS.register("base+mixup")
def _base_mixup(base, args, steps):
    return Plan(_mixup(base, args), CCE, True, False)


@METHODS.register("MR+mixup")
def _mr_mixup(base, args, steps):
    return Plan(_mixup(base, args), CCE, True, True)


@METHODS.register("MR+smoothing")
def _mr_smoothing(base, args, steps):
    model = CRM(base, instance=None, label_smoothing=args.label_smoothing)
    return Plan(model, CCE, True, True)


def build(method, base, args, steps_per_epoch):
    """The :class:`Plan` of a registered method."""
    return METHODS.get(method)(base, args, steps_per_epoch)


# -- timing -------------------------------------------------------------
def step_rows(batch_size, width, instances, blocks, block_steps, divergences=()):
    """The constrained-reweighting rows of the timing table (MLP steps).

    The wrapper with weighting off, CIW-KL, CICW and CICW-Mixup, and CIW with every
    divergence of ``divergences``, each timed on ``instances`` identical models with
    :func:`keras_mr.benchmarking.timing.time_steps`, against the geometric mean of two
    plain models; CICW trains on one-hot targets with the categorical loss and is divided
    by a plain step on the same targets and loss.  Probes time the floor of CICW-Mixup
    (one extra forward and the input mixing).

    Returns:
        A list of :class:`_rows.Row`.
    """
    x, y = mlp_data(batch_size)
    kl = InstanceReweighting("kl", temperature=1.0)
    builds = {
        "plain": (lambda net: net, SPARSE, False),
        "plain again": (lambda net: net, SPARSE, False),
        # CICW trains on one-hot targets with the categorical loss: its own plain baseline
        "plain one-hot": (lambda net: net, CCE, True),
        "plain one-hot again": (lambda net: net, CCE, True),
        "empty": (lambda net: Probe(net, "empty"), SPARSE, False),
        "forward": (lambda net: Probe(net, "forward"), SPARSE, False),
        "mix": (lambda net: Probe(net, "mix"), SPARSE, False),
        "wrapper": (lambda net: CRM(net, instance=None), SPARSE, False),
        "CIW": (lambda net: CRM(net, instance=kl), SPARSE, False),
        "CICW": (lambda net: CRM(net, instance=kl, classes=ClassReweighting("kl")), CCE, True),
        "CICW-M": (
            lambda net: CRM(net, kl, ClassReweighting("kl"), CICWMixup("both"), seed=0),
            CCE,
            True,
        ),
    }
    for divergence in divergences:
        instance = InstanceReweighting(divergence, temperature=1.0)
        builds[f"CIW-{divergence}"] = (lambda net, i=instance: CRM(net, instance=i), SPARSE, False)
    models = {}
    for name, (wrap, loss, one_hot) in builds.items():
        for k in range(instances):
            model = wrap(mlp(784, 10, width, seed=0))
            model.compile(keras.optimizers.SGD(0.01), loss)
            models[f"{name}#{k}"] = (model, repeated_batches(x, y, batch_size, one_hot))
    times = merge_instances(time_steps(models, blocks, block_steps))
    aa_times = dict(times)
    # Two identical plain models differ by up to ~4% within one run (the A/A row): every
    # ratio is taken to the geometric mean of the two, which halves that error.
    times["plain"] = pair_mean(times, "plain", "plain again")
    times["plain one-hot"] = pair_mean(times, "plain one-hot", "plain one-hot again")
    forward, mix = marginal(times, "forward"), marginal(times, "mix")
    onehot = "plain one-hot"
    label = f"MLP 784-{width}-{width}-10, batch {batch_size}"
    return [
        Row(
            f"A/A control: two identical plain models ({label})",
            ratios(aa_times, "plain again"),
            note="the resolution of the MLP rows",
        ),
        Row("wrapper, weighting off", ratios(times, "wrapper"), 1.02, 1.0),
        Row("CIW-KL step", ratios(times, "CIW"), 1.05, 1.0),
        *[Row(f"CIW-{d} step", ratios(times, f"CIW-{d}")) for d in divergences],
        Row("CICW step / plain step on one-hot targets", ratios(times, "CICW", onehot), 1.05, 1.0),
        Row(
            "CICW-Mixup step / plain step on one-hot targets",
            ratios(times, "CICW-M", onehot),
            1.20,
            1 + (forward["cpu"] + mix["cpu"]) * times["plain"]["cpu"] / times[onehot]["cpu"],
            f"floor 1 + extra forward ({forward['cpu']:.2f}) + input mixing ({mix['cpu']:.2f})",
        ),
    ]


def run_timing(args):
    rows = step_rows(
        args.batch_size,
        args.width,
        args.instances,
        args.timing_blocks,
        args.timing_block_steps,
        divergences=("hellinger", "chi2"),
    )
    print(
        f"\nStep time (backend {keras.backend.backend()}; {args.timing_blocks} interleaved "
        f"turns of {args.timing_block_steps} steps, 20th percentile, {args.instances} "
        "instances each; ratios to a plain step of the same network)\n"
    )
    print(table(rows))


# -- accuracy -----------------------------------------------------------
class CleanEval(keras.callbacks.Callback):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y, self.acc = x, y, []

    def on_epoch_end(self, epoch, logs=None):
        pred = self.model.predict(self.x, batch_size=1024, verbose=0)
        self.acc.append(float(np.mean(np.argmax(pred, -1) == self.y)))


def run_accuracy(args):
    try:
        x, y, xt, yt = load_fashion_mnist(args.data_dir)
    except FileNotFoundError as err:
        print(f"Fashion-MNIST not found ({err}); skipping the accuracy part.")
        return
    rng = np.random.default_rng(args.seed)
    idx = rng.permutation(len(x))[: args.n_train]
    x, y = x[idx], y[idx]
    xt, yt = xt[: args.n_test], yt[: args.n_test]
    y_noisy, flipped = symmetric_noise(y, args.noise, 10, seed=args.seed)
    steps = int(np.ceil(len(x) / args.batch_size))
    rows = []
    for method in args.methods:
        base = mlp(x.shape[1], 10, args.width, seed=args.seed)
        model, loss, onehot, uses_mr = build(method, base, args, steps)
        model.compile(keras.optimizers.Adam(args.lr), loss)
        labels = np.eye(10, dtype="float32")[y_noisy] if onehot else y_noisy
        evaluator = CleanEval(xt, yt)
        t0 = time.time()
        if uses_mr:
            weighter = keras_mr.MRSampleWeighter(eta=args.eta, max_weight=None, noise_mask=flipped)
            ds = weighter.attach(
                x, labels, batch_size=args.batch_size, shuffle=True, seed=args.seed
            )
            model.fit(
                ds, epochs=args.epochs, verbose=0, shuffle=False, callbacks=[weighter, evaluator]
            )
        else:
            model.fit(
                x,
                labels,
                batch_size=args.batch_size,
                epochs=args.epochs,
                verbose=0,
                callbacks=[evaluator],
            )
        rows.append((method, evaluator.acc[-1], max(evaluator.acc), time.time() - t0))
        final, best = evaluator.acc[-1], max(evaluator.acc)
        print(f"  {method}: final {final:.4f} best {best:.4f}", flush=True)
    print(
        f"\nFashion-MNIST, {args.n_train} training examples, {args.noise:.0%} symmetric "
        f"noise, MLP {args.width}x2, Adam {args.lr}, {args.epochs} epochs, batch "
        f"{args.batch_size}, seed {args.seed}; clean test accuracy on {len(xt)} test images\n"
    )
    print("| method | final epoch | best epoch | train time (s) |")
    print("| --- | --- | --- | --- |")
    for method, final, best, secs in rows:
        print(f"| {method} | {final:.4f} | {best:.4f} | {secs:.0f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["timing", "accuracy", "both"], default="both")
    p.add_argument("--methods", nargs="+", default=DEFAULT_METHODS, choices=METHODS.names())
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--n-train", type=int, default=10000)
    p.add_argument("--n-test", type=int, default=10000)
    p.add_argument("--noise", type=float, default=0.4)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--divergence", default="kl")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--burn-in-epochs", type=int, default=1)
    p.add_argument("--class-divergence", default="kl", choices=["kl", "l1", "l2"])
    p.add_argument("--class-temperature", type=float, default=1.0)
    p.add_argument("--class-budget", type=float, default=0.4)
    p.add_argument("--mixup-variant", default="both", choices=["both", "sampling", "ratio"])
    p.add_argument("--mixup-alpha", type=float, default=1.0)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--eta", type=float, default=0.05, help="MR step size")
    p.add_argument("--timing-blocks", type=int, default=40, help="timing: turns of every method")
    p.add_argument("--timing-block-steps", type=int, default=10, help="timing: steps per turn")
    p.add_argument("--instances", type=int, default=2, help="timing: identical models per method")
    args = p.parse_args()
    if args.divergence not in keras_mr.constrained.ciw.DIVERGENCES:
        args.divergence = float(args.divergence)
    if args.part in ("timing", "both"):
        run_timing(args)
    if args.part in ("accuracy", "both"):
        run_accuracy(args)


if __name__ == "__main__":
    main()

"""Adversarial training: step-time ratios and a small robust-accuracy table.

Part 1 times one training step of PGD-k AT, Free-m AT and TRADES-k relative
to a plain (natural) training step of the same network and batch, measured
in one run on this machine (ratios, no absolute claims).  Free AT is also
reported per parameter update (it makes m updates per step).

Part 2 trains Base, Base+MR, Adv. and Adv.+MR on a Fashion-MNIST subset and
prints natural / PGD / FGSM accuracy at eps in {0.01, 0.02, 8/255} in the MR
paper's table format (Table 4).  "Adv." is Free AT (the paper's choice) by
default; ``--method pgd`` or ``--method trades`` switch it.  Free AT gets
``ceil(epochs / m)`` epochs (same number of updates as Base), as in the
paper.

    python benchmarks/adversarial.py                       # defaults below
    python benchmarks/adversarial.py --n-train 2000 --epochs 4 --model mlp
    python benchmarks/adversarial.py --skip-table           # timings only

Needs the TensorFlow backend and cleverhans (``pip install
keras-mr[adversarial]``); Fashion-MNIST is read from
``/usr/share/datasets/fashion-mnist`` (or ``--data-dir``), no download.
"""

import argparse
import os
import sys
import time
from typing import Callable
from typing import NamedTuple
from typing import Optional

# run from a checkout without installing: the repository root first on the path
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import keras_mr
from keras_mr.benchmarking.datasets import load_dataset
from keras_mr.benchmarking.registry import Registry
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import FitTimer
from keras_mr.benchmarking.timing import interleaved

DATA_DIR = "/usr/share/datasets/fashion-mnist"
# the two networks of this benchmark, from the runner's model registry
NETWORKS = {"cnn": dict(width=16, padding="valid"), "mlp": dict(depth=1)}


def load_fashion_mnist(data_dir, n_train, n_test, seed=0):
    """Random Fashion-MNIST subsets, ``(N, 28, 28, 1)`` in [0, 1] (the dataset registry)."""
    data = load_dataset("fashion_mnist", data_dir=data_dir)
    rng = np.random.default_rng(seed)
    i = rng.permutation(len(data.y_train))[:n_train]
    j = rng.permutation(len(data.y_test))[:n_test]
    return (
        data.x_train[i],
        data.y_train[i].astype("int32"),
        data.x_test[j],
        data.y_test[j].astype("int32"),
    )


def make_inner(kind, seed=0):
    keras.utils.set_random_seed(seed)
    return MODELS.get(kind)((28, 28, 1), 10, **NETWORKS[kind])


# -- methods: a family name plus an optional count, e.g. "pgd7", "free4", "trades10" ----
class Method(NamedTuple):
    build: Callable  # fn(inner, args, count) -> model (not compiled)
    label: str  # timing-table name; "{count}" is replaced
    short: str  # robust-table name of the "Adv." rows
    count_option: Optional[str] = None  # the argument giving the default count
    count_is_replays: bool = False  # count = parameter updates per step (Free AT)


METHODS = Registry("adversarial training method")
METHODS.register("plain", Method(lambda inner, args, count: inner, "plain (natural)", "Base"))
METHODS.register(
    "pgd",
    Method(
        lambda inner, args, count: keras_mr.PGDAdversarialModel(inner, eps=args.eps, steps=count),
        "PGD-{count} AT",
        "PGD-{count}",
        "pgd_steps",
    ),
)
METHODS.register(
    "free",
    Method(
        lambda inner, args, count: keras_mr.FreeAdversarialModel(
            inner, batch_size=args.batch_size, eps=args.eps, replays=count
        ),
        "Free AT (m={count})",
        "Free-{count}",
        "replays",
        count_is_replays=True,
    ),
)
METHODS.register(
    "trades",
    Method(
        lambda inner, args, count: keras_mr.TRADESModel(
            inner, eps=args.eps, steps=count, step_size=min(0.007, args.eps), beta=6.0
        ),
        "TRADES-{count}",
        "TRADES",
        "trades_steps",
    ),
)


class Resolved(NamedTuple):
    name: str  # family and count, e.g. "pgd7"
    method: Method
    count: int
    label: str
    short: str
    updates_per_step: int


def resolve(name, args):
    """``"pgd7"`` -> the ``pgd`` entry of :data:`METHODS` with count 7 (or the default)."""
    family = name.rstrip("0123456789")
    method = METHODS.get(family)
    count = 1
    if method.count_option:
        count = int(name[len(family) :] or getattr(args, method.count_option))
    updates = count if method.count_is_replays else 1
    return Resolved(
        f"{family}{count}" if method.count_option else family,
        method,
        count,
        method.label.format(count=count),
        method.short.format(count=count),
        updates,
    )


def make_model(name, args, seed=0):
    spec = resolve(name, args)
    inner = make_inner(args.model, seed)
    model = spec.method.build(inner, args, spec.count)
    if model is inner:  # plain training: the network itself, compiled with its loss
        model.compile(
            optimizer=keras.optimizers.Adam(args.lr),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    else:
        model.compile(optimizer=keras.optimizers.Adam(args.lr))
    return model


def timing_table(x, y, args):
    """Step time of every method / plain step; methods interleaved over the repeats."""
    import tensorflow as tf

    names = ["plain", f"pgd{args.pgd_steps}", "pgd3", f"free{args.replays}"]
    names = list(dict.fromkeys(names + [f"trades{args.trades_steps}"]))
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(args.batch_size, drop_remainder=True)
        .repeat()
        .prefetch(2)
    )
    models = {name: make_model(name, args) for name in names}

    def measure(name):
        timer = FitTimer()
        models[name].fit(
            ds,
            epochs=1,
            steps_per_epoch=args.timing_steps,
            shuffle=False,
            verbose=0,
            callbacks=[timer],
        )
        return timer.epoch_times[-1] / args.timing_steps

    interleaved(measure, names, 1)  # the first epoch traces / compiles: not timed
    per_step = {
        n: float(np.median(t)) for n, t in interleaved(measure, names, args.timing_repeats).items()
    }
    lines = ["| Method | step time / plain step | per parameter update |", "|---|---|---|"]
    for name in names:
        spec = resolve(name, args)
        ratio = per_step[name] / per_step["plain"]
        lines.append(f"| {spec.label} | {ratio:.2f} | {ratio / spec.updates_per_step:.2f} |")
    return "\n".join(lines)


def train(method, use_mr, x, y, args):
    model = make_model(method, args, seed=args.seed)
    spec = resolve(method, args)
    if method != "plain":
        model.mr_loss = args.mr_loss
    epochs = args.epochs
    if spec.method.count_is_replays:
        epochs = keras_mr.free_epochs(args.epochs, spec.updates_per_step)
    if use_mr:
        per_example = None if method == "plain" else keras_mr.mr_per_example_loss
        weighter = keras_mr.MRSampleWeighter(eta=args.eta, per_example_loss_fn=per_example)
        ds = weighter.attach(
            x, y, batch_size=args.batch_size, shuffle=True, seed=args.seed, drop_remainder=True
        )
        model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[weighter])
    else:
        import tensorflow as tf

        ds = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=args.seed)
            .batch(args.batch_size, drop_remainder=True)
        )
        model.fit(ds, epochs=epochs, verbose=0, shuffle=False)
    return model


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--n-train", type=int, default=5000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--model", choices=sorted(NETWORKS), default="cnn")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--epochs", type=int, default=8, help="natural-training epochs (Free AT gets epochs / m)"
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eps", type=float, default=8 / 255, help="training eps (L-inf)")
    p.add_argument(
        "--method",
        choices=[name for name in METHODS.names() if name != "plain"],
        default="free",
        help="adversarial training for 'Adv.'",
    )
    p.add_argument("--replays", type=int, default=4)
    p.add_argument("--pgd-steps", type=int, default=7)
    p.add_argument("--trades-steps", type=int, default=10)
    p.add_argument("--eta", type=float, default=0.01, help="MR step size")
    p.add_argument(
        "--mr-loss",
        choices=["natural", "adversarial"],
        default="natural",
        help="losses of MR's pass for the Adv. model",
    )
    p.add_argument("--eval-pgd-steps", type=int, default=10)
    p.add_argument("--timing-steps", type=int, default=20)
    p.add_argument("--timing-repeats", type=int, default=3)
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--skip-table", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    try:
        x, y, xt, yt = load_fashion_mnist(args.data_dir, args.n_train, args.n_test, args.seed)
    except FileNotFoundError as err:
        raise SystemExit(f"Fashion-MNIST not found ({err}); pass --data-dir.") from err
    print(
        f"# Fashion-MNIST: {len(x)} train / {len(xt)} test, "
        f"model={args.model}, batch={args.batch_size}, "
        f"backend={keras.backend.backend()}"
    )
    if not args.skip_timing:
        print(
            f"\n## Step time relative to a plain step "
            f"({args.timing_steps} steps x {args.timing_repeats}, "
            "median)\n"
        )
        print(timing_table(x, y, args))
    if not args.skip_table:
        adv = resolve(args.method, args)
        adv_name, label = adv.name, adv.short
        runs = [
            ("Base", "plain", False),
            ("Base+MR", "plain", True),
            (f"Adv. ({label})", adv_name, False),
            (f"Adv. ({label})+MR", adv_name, True),
        ]
        rows = {}
        for name, method, use_mr in runs:
            t0 = time.perf_counter()
            model = train(method, use_mr, x, y, args)
            rows[name] = keras_mr.robust_accuracy(
                model, xt, yt, pgd_steps=args.eval_pgd_steps, seed=args.seed
            )
            print(f"  trained+evaluated {name} in {time.perf_counter() - t0:.0f}s", flush=True)
        print(
            f"\n## Robust accuracy (%), train eps={args.eps:.4f}, "
            f"{args.epochs} natural-epoch budget, MR eta={args.eta}, "
            f"MR loss pass for Adv.: {args.mr_loss}\n"
        )
        print(keras_mr.format_robust_table(rows))


if __name__ == "__main__":
    main()

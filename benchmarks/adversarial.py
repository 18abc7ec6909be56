"""Adversarial training: step-time ratios and a robust-accuracy table (mean ± std over seeds).

Part 1 prints the adversarial rows of ``benchmarks/summary.py``'s table: one compiled
training step of PGD-k AT, TRADES-k and Free-m AT (with and without the natural-accuracy
metrics) relative to a plain (natural) training step of the same CNN and batch, each
against its floor built from probe steps timed alongside (``1 + k`` input-gradient
passes; ``m`` training steps that also return the input gradient), and the reweighting
overhead: MAIL-k / PGD-k (same attack steps; target <= 1.1) and LAS-AT with 3..k
iterations / PGD-k (target <= 1.5), measured in one run on this machine (ratios, no
absolute claims).

Part 2 trains every method of ``--methods`` (default: plain, PGD-AT, TRADES, Free-AT,
MAIL, LAS-AT) without and with MR on a Fashion-MNIST subset, once per seed of
``--seeds``, and prints natural / PGD / FGSM accuracy at eps in {0.01, 0.02, 8/255}
as mean ± std over the seeds in the MR paper's table format (Table 4).  Free AT gets
``ceil(epochs / m)`` epochs (same number of updates as the others), as in the paper.
MR updates once per epoch, or every ``steps // 5`` steps when a method has fewer than
five epochs, so that MR makes at least five updates in every run (the count is printed).
MAIL's burn-in is ``--mail-burn-in`` epochs (default: half of them).

    python benchmarks/adversarial.py                        # defaults below (hours on CPU)
    python benchmarks/adversarial.py --n-train 500 --seeds 0 --epochs 5 --model mlp
    python benchmarks/adversarial.py --skip-table           # timings only (random inputs)
    python benchmarks/adversarial.py --optimizer sgd --lr 0.01   # SGD, momentum 0.9

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
from _probes import Probe
from _rows import SPARSE
from _rows import Row
from _rows import repeated_batches
from _rows import table

import keras_mr
from keras_mr.adversarial import AttackStrategySpace
from keras_mr.adversarial import ThreatModel
from keras_mr.benchmarking.datasets import load_dataset
from keras_mr.benchmarking.registry import Registry
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import marginal
from keras_mr.benchmarking.timing import ratios
from keras_mr.benchmarking.timing import time_steps

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
    short: str  # robust-table name of the "Adv." rows
    count_option: Optional[str] = None  # the argument giving the default count
    count_is_replays: bool = False  # count = parameter updates per step (Free AT)


METHODS = Registry("adversarial training method")
METHODS.register("plain", Method(lambda inner, args, count: inner, "Base"))
METHODS.register(
    "pgd",
    Method(
        lambda inner, args, count: keras_mr.PGDAdversarialModel(
            inner, threat_model=ThreatModel(args.eps), steps=count
        ),
        "PGD-AT",
        "pgd_steps",
    ),
)
METHODS.register(
    "free",
    Method(
        lambda inner, args, count: keras_mr.FreeAdversarialModel(
            inner, batch_size=args.batch_size, threat_model=ThreatModel(args.eps), replays=count
        ),
        "Free-AT",
        "replays",
        count_is_replays=True,
    ),
)
METHODS.register(
    "trades",
    Method(
        lambda inner, args, count: keras_mr.TRADESModel(
            inner,
            threat_model=ThreatModel(args.eps),
            steps=count,
            step_size=min(0.007, args.eps),
            beta=6.0,
        ),
        "TRADES",
        "trades_steps",
    ),
)


METHODS.register(
    "mail",
    Method(
        lambda inner, args, count: keras_mr.MAILAdversarialModel(
            inner,
            threat_model=ThreatModel(args.eps),
            steps=count,
            burn_in_epochs=mail_burn_in(args),
        ),
        "MAIL",
        "pgd_steps",
    ),
)
METHODS.register(
    "lasat",
    Method(
        lambda inner, args, count: keras_mr.LASATAdversarialModel(
            inner,
            threat_model=ThreatModel(args.eps),
            strategy_space=AttackStrategySpace(steps=tuple(range(min(3, count), count + 1))),
            seed=args.seed,
        ),
        "LAS-AT",
        "lasat_max_steps",
    ),
)


def mail_burn_in(args):
    """MAIL's burn-in epochs: ``--mail-burn-in`` or half of ``--epochs``."""
    return args.epochs // 2 if args.mail_burn_in is None else args.mail_burn_in


class Resolved(NamedTuple):
    name: str  # family and count, e.g. "pgd7"
    method: Method
    count: int
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
        method.short.format(count=count),
        updates,
    )


def make_optimizer(args):
    """``--optimizer``: SGD with momentum 0.9 or Adam, at ``--lr`` (default 0.01 / 1e-3)."""
    if args.optimizer == "sgd":
        return keras.optimizers.SGD(args.lr or 0.01, momentum=0.9)
    return keras.optimizers.Adam(args.lr or 1e-3)


def make_model(name, args, seed=0):
    spec = resolve(name, args)
    inner = make_inner(args.model, seed)
    model = spec.method.build(inner, args, spec.count)
    if model is inner:  # plain training: the network itself, compiled with its loss
        model.compile(
            optimizer=make_optimizer(args),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
    else:
        model.compile(optimizer=make_optimizer(args))
    return model


def step_rows(batch_size, pgd_steps, trades_steps, free_replays, probe_passes, blocks, block_steps):
    """The adversarial-training rows of the timing table (CNN steps on random inputs).

    PGD-k, TRADES-k and Free-m steps against ``1 + k`` input-gradient passes (measured by
    a probe of ``probe_passes`` passes) or ``m`` training steps that also return the
    input gradient; MAIL-k and LAS-AT (3..k iterations) against PGD-k.  All steps take
    turns with :func:`keras_mr.benchmarking.timing.time_steps`.

    Returns:
        A list of :class:`_rows.Row`.
    """
    rng = np.random.default_rng(0)
    n = batch_size * 4
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int32")
    pgd, trades, free = pgd_steps, trades_steps, free_replays
    net = lambda: make_inner("cnn")
    threat = ThreatModel(0.1)

    builds = {
        "plain": net,
        "empty": lambda: Probe(net(), "empty"),
        "input gradient": lambda: Probe(net(), "input_gradient", passes=probe_passes),
        "joint gradient": lambda: Probe(net(), "joint_gradient", passes=free),
        "forward": lambda: Probe(net(), "forward"),
        "PGD": lambda: keras_mr.PGDAdversarialModel(net(), threat_model=threat, steps=pgd),
        "PGD lean": lambda: keras_mr.PGDAdversarialModel(
            net(), threat_model=threat, steps=pgd, natural_metrics=False
        ),
        "TRADES": lambda: keras_mr.TRADESModel(net(), threat_model=threat, steps=trades),
        "MAIL": lambda: keras_mr.MAILAdversarialModel(net(), threat_model=threat, steps=pgd),
        "LAS-AT": lambda: keras_mr.LASATAdversarialModel(
            net(),
            threat_model=threat,
            strategy_space=AttackStrategySpace(steps=tuple(range(min(3, pgd), pgd + 1))),
        ),
        "Free": lambda: keras_mr.FreeAdversarialModel(
            net(), batch_size=batch_size, threat_model=threat, replays=free
        ),
        "Free lean": lambda: keras_mr.FreeAdversarialModel(
            net(), batch_size=batch_size, threat_model=threat, replays=free, natural_metrics=False
        ),
    }
    models = {}
    for name, build in builds.items():
        model = build()
        loss = SPARSE if name == "plain" or isinstance(model, Probe) else None
        model.compile(keras.optimizers.Adam(1e-3), loss)
        models[name] = (model, repeated_batches(x, y, batch_size))
    times = time_steps(models, blocks, block_steps)
    grad = marginal(times, "input gradient", count=1 / probe_passes)["cpu"]
    forward = marginal(times, "forward")["cpu"]
    joint = ratios(times, "joint gradient")["cpu"]
    pgd_floor, free_floor = 1 + pgd * grad, joint
    metrics = f"+ one forward ({forward:.2f}) for the natural_* metrics"
    return [
        Row(
            f"PGD-{pgd} AT step, natural_metrics=False (CNN, batch {batch_size})",
            ratios(times, "PGD lean"),
            None,
            pgd_floor,
            f"floor 1 + k input-gradient passes ({grad:.2f} each)",
        ),
        Row(
            f"PGD-{pgd} AT step (default)", ratios(times, "PGD"), None, pgd_floor + forward, metrics
        ),
        Row(
            f"TRADES-{trades} step",
            ratios(times, "TRADES"),
            None,
            2 + trades * grad,
            "floor 2 + k passes (trains on natural and adversarial inputs)",
        ),
        Row(
            f"Free AT step (m={free}), natural_metrics=False",
            ratios(times, "Free lean"),
            None,
            free_floor,
            f"floor: {free} training steps that also return the input gradient",
        ),
        Row(
            f"MAIL-{pgd} step / PGD-{pgd} AT step",
            ratios(times, "MAIL", base="PGD"),
            1.10,
            1.0,
            "the margin weights: a softmax over B",
        ),
        Row(
            f"LAS-AT step ({min(3, pgd)}..{pgd} iterations) / PGD-{pgd} AT step",
            ratios(times, "LAS-AT", base="PGD"),
            1.50,
            1.0,
            "+ the strategy network's forward-backward",
        ),
        Row(
            f"Free AT step (m={free}, default)",
            ratios(times, "Free"),
            None,
            free_floor + forward,
            metrics,
        ),
    ]


def mr_update_every(epochs, steps_per_epoch, min_updates=5):
    """``update_every`` that gives MR at least ``min_updates`` updates (None: every epoch)."""
    if epochs >= min_updates:
        return None
    return max(1, (epochs * steps_per_epoch) // min_updates)


def train(method, use_mr, x, y, args, seed):
    """Trains one run; returns ``(model, MR updates made or None)``."""
    import tensorflow as tf

    model = make_model(method, args, seed=seed)
    spec = resolve(method, args)
    if method != "plain":
        model.mr_loss = args.mr_loss
    epochs = args.epochs
    if spec.method.count_is_replays:
        epochs = keras_mr.free_epochs(args.epochs, spec.updates_per_step)
    if not use_mr:
        ds = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(x), seed=seed)
            .batch(args.batch_size, drop_remainder=True)
        )
        model.fit(ds, epochs=epochs, verbose=0, shuffle=False)
        return model, None
    per_example = None if method == "plain" else keras_mr.mr_per_example_loss
    every = mr_update_every(epochs, len(x) // args.batch_size)
    weighter = keras_mr.MRSampleWeighter(
        eta=args.eta, max_weight=None, per_example_loss_fn=per_example, update_every=every
    )
    ds = weighter.attach(
        x, y, batch_size=args.batch_size, shuffle=True, seed=seed, drop_remainder=True
    )
    model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[weighter])
    return model, weighter.num_updates


def robust_table(x, y, xt, yt, args):
    """Every method of ``--methods`` without and with MR, every seed: the mean ± std table."""
    rows = {}
    for name in args.methods:
        spec = resolve(name, args)
        for use_mr in (False, True):
            label = spec.short + ("+MR" if use_mr else "")
            rows[label] = []
            for seed in args.seeds:
                t0 = time.perf_counter()
                model, updates = train(spec.name, use_mr, x, y, args, seed)
                rows[label].append(
                    keras_mr.robust_accuracy(
                        model, xt, yt, pgd_steps=args.eval_pgd_steps, seed=seed
                    )
                )
                mr = "" if updates is None else f", {updates} MR updates"
                print(f"  {label} seed {seed}: {time.perf_counter() - t0:.0f}s{mr}", flush=True)
    return keras_mr.format_robust_table(rows)  # per-seed lists: mean ± std


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
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    p.add_argument("--lr", type=float, default=None, help="default 0.01 (sgd) / 1e-3 (adam)")
    p.add_argument("--eps", type=float, default=8 / 255, help="training eps (L-inf)")
    p.add_argument(
        "--methods",
        nargs="+",
        choices=METHODS.names(),
        default=["plain", "pgd", "trades", "free", "mail", "lasat"],
        help="methods of the robust-accuracy table (each without and with MR)",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--replays", type=int, default=4)
    p.add_argument("--pgd-steps", type=int, default=7, help="PGD-AT's and MAIL's attack steps")
    p.add_argument("--trades-steps", type=int, default=10)
    p.add_argument("--lasat-max-steps", type=int, default=13, help="LAS-AT: steps 3..T")
    p.add_argument("--mail-burn-in", type=int, default=None, help="default: epochs // 2")
    p.add_argument("--eta", type=float, default=0.01, help="MR step size")
    p.add_argument(
        "--mr-loss",
        choices=["natural", "adversarial"],
        default="natural",
        help="losses of MR's pass for the adversarial models",
    )
    p.add_argument("--eval-pgd-steps", type=int, default=10)
    p.add_argument("--timing-blocks", type=int, default=40, help="turns of every step")
    p.add_argument("--timing-block-steps", type=int, default=2, help="steps per turn")
    p.add_argument(
        "--probe-passes", type=int, default=4, help="input-gradient passes of the floor's probe"
    )
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--skip-table", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="data subset and timing models")
    args = p.parse_args(argv)

    try:
        x, y, xt, yt = load_fashion_mnist(args.data_dir, args.n_train, args.n_test, args.seed)
    except FileNotFoundError as err:
        raise SystemExit(f"Fashion-MNIST not found ({err}); pass --data-dir.") from err
    print(
        f"# Fashion-MNIST: {len(x)} train / {len(xt)} test, "
        f"model={args.model}, batch={args.batch_size}, optimizer={args.optimizer}, "
        f"backend={keras.backend.backend()}"
    )
    if not args.skip_timing:
        print(
            f"\n## Step time relative to a plain step (CNN, random inputs, eps 0.1; "
            f"{args.timing_blocks} interleaved turns of {args.timing_block_steps} steps, "
            "20th percentile)\n"
        )
        rows = step_rows(
            args.batch_size,
            args.pgd_steps,
            args.trades_steps,
            args.replays,
            args.probe_passes,
            args.timing_blocks,
            args.timing_block_steps,
        )
        print(table(rows), flush=True)
    if not args.skip_table:
        robust = robust_table(x, y, xt, yt, args)
        print(
            f"\n## Robust accuracy (%), mean ± std over seeds {args.seeds}, train eps="
            f"{args.eps:.4f}, {args.epochs} natural-epoch budget, {args.optimizer}, "
            f"MR eta={args.eta}, MR loss pass: {args.mr_loss}\n"
        )
        print(robust)


if __name__ == "__main__":
    main()

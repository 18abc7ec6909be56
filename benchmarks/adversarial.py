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
import gzip
import os
import sys
import time

# run from a checkout without installing: the repository root first on the path
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import keras_mr

DATA_DIR = "/usr/share/datasets/fashion-mnist"


def load_fashion_mnist(data_dir, n_train, n_test, seed=0):
    """Fashion-MNIST subsets from the idx gz files, scaled to [0, 1]."""

    def read(name, offset):
        with gzip.open(os.path.join(data_dir, name), "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    xtr = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1)
    ytr = read("train-labels-idx1-ubyte.gz", 8)
    xte = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28, 1)
    yte = read("t10k-labels-idx1-ubyte.gz", 8)
    rng = np.random.default_rng(seed)
    i = rng.permutation(len(xtr))[:n_train]
    j = rng.permutation(len(xte))[:n_test]
    return (
        (xtr[i] / 255.0).astype("float32"),
        ytr[i].astype("int32"),
        (xte[j] / 255.0).astype("float32"),
        yte[j].astype("int32"),
    )


def make_inner(kind, seed=0):
    keras.utils.set_random_seed(seed)
    if kind == "cnn":
        layers = [
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
        ]
    else:
        layers = [keras.layers.Flatten(), keras.layers.Dense(256, activation="relu")]
    return keras.Sequential([keras.Input((28, 28, 1)), *layers, keras.layers.Dense(10)])


def make_model(method, args, seed=0):
    inner = make_inner(args.model, seed)
    if method == "plain":
        model = inner
        model.compile(
            optimizer=keras.optimizers.Adam(args.lr),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model
    if method.startswith("pgd"):
        steps = int(method[3:] or args.pgd_steps)
        model = keras_mr.PGDAdversarialModel(inner, eps=args.eps, steps=steps)
    elif method.startswith("free"):
        replays = int(method[4:] or args.replays)
        model = keras_mr.FreeAdversarialModel(
            inner, batch_size=args.batch_size, eps=args.eps, replays=replays
        )
    elif method.startswith("trades"):
        steps = int(method[6:] or args.trades_steps)
        model = keras_mr.TRADESModel(
            inner, eps=args.eps, steps=steps, step_size=min(0.007, args.eps), beta=6.0
        )
    else:
        raise ValueError(method)
    model.compile(optimizer=keras.optimizers.Adam(args.lr))
    return model


class StepTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self._t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.last = time.perf_counter() - self._t


def time_steps(method, x, y, args):
    import tensorflow as tf

    model = make_model(method, args)
    ds = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(args.batch_size, drop_remainder=True)
        .repeat()
        .prefetch(2)
    )
    timer = StepTimer()
    # epoch 1 traces/compiles; the following epochs are timed
    times = []
    for _ in range(args.timing_repeats + 1):
        model.fit(
            ds,
            epochs=1,
            steps_per_epoch=args.timing_steps,
            shuffle=False,
            verbose=0,
            callbacks=[timer],
        )
        times.append(timer.last / args.timing_steps)
    return float(np.median(times[1:]))


def timing_table(x, y, args):
    methods = [
        "plain",
        f"pgd{args.pgd_steps}",
        "pgd3",
        f"free{args.replays}",
        f"trades{args.trades_steps}",
    ]
    methods = list(dict.fromkeys(methods))
    per_step = {m: time_steps(m, x, y, args) for m in methods}
    base = per_step["plain"]
    lines = ["| Method | step time / plain step | per parameter update |", "|---|---|---|"]
    for m in methods:
        ratio = per_step[m] / base
        updates = int(m[4:]) if m.startswith("free") else 1
        name = {"plain": "plain (natural)"}.get(m, m)
        if m.startswith("pgd"):
            name = f"PGD-{m[3:]} AT"
        elif m.startswith("free"):
            name = f"Free AT (m={m[4:]})"
        elif m.startswith("trades"):
            name = f"TRADES-{m[6:]}"
        lines.append(f"| {name} | {ratio:.2f} | {ratio / updates:.2f} |")
    return "\n".join(lines)


def train(method, use_mr, x, y, args):
    model = make_model(method, args, seed=args.seed)
    if method != "plain":
        model.mr_loss = args.mr_loss
    epochs = args.epochs
    if method.startswith("free"):
        epochs = keras_mr.free_epochs(args.epochs, int(method[4:] or args.replays))
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
    p.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--epochs", type=int, default=8, help="natural-training epochs (Free AT gets epochs / m)"
    )
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--eps", type=float, default=8 / 255, help="training eps (L-inf)")
    p.add_argument(
        "--method",
        choices=["free", "pgd", "trades"],
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

    if not os.path.exists(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")):
        raise SystemExit(f"Fashion-MNIST not found in {args.data_dir} (pass --data-dir).")
    x, y, xt, yt = load_fashion_mnist(args.data_dir, args.n_train, args.n_test, args.seed)
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
        adv = {
            "free": f"free{args.replays}",
            "pgd": f"pgd{args.pgd_steps}",
            "trades": f"trades{args.trades_steps}",
        }[args.method]
        label = {
            "free": f"Free-{args.replays}",
            "pgd": f"PGD-{args.pgd_steps}",
            "trades": "TRADES",
        }[args.method]
        runs = [
            ("Base", "plain", False),
            ("Base+MR", "plain", True),
            (f"Adv. ({label})", adv, False),
            (f"Adv. ({label})+MR", adv, True),
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

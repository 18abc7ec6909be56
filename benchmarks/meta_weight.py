"""Meta-Weight-Net benchmark: step-time ratio and MW-Net / MNW-Net / RMNW-Net table.

Two tables:

1. The Meta-Weight-Net row of ``benchmarks/summary.py``'s table: one compiled
   ``MetaWeightNet`` training step (virtual step, meta step, real step) divided
   by one plain step of the same MLP and batch size (meta batch = training
   batch, as in the paper), against the floor of the exact bilevel gradient
   (a probe step with the weighting network and no bookkeeping), on random
   784-vectors, the steps taking turns in the same process; the ratio is what
   to compare across machines.
2. Final (and best-epoch) test accuracy and noisy-sample detection AUC (the
   weighting-network output as the score of being clean, RMNW paper Table 3)
   for plain training, MW-Net* (clean meta set), MNW-Net (noisy meta set, CE
   meta loss), RMNW-Net (noisy meta set, MAE meta loss) and optionally
   RMNW-Net + MR (``--with-mr``).

Data: Fashion-MNIST from ``--data-dir`` (gz idx files, default
``/usr/share/datasets/fashion-mnist``), a random subset of ``--n-train``
examples, labels corrupted with uniform noise at rate ``--noise`` (the RMNW
paper's "uniform" model: with probability ``eta`` the label is redrawn
uniformly from all K classes).  Without the files, a synthetic 10-class
Gaussian-blob problem is used instead (and the table says so).  The meta set
is a per-class balanced sample (``--meta-per-class``) drawn from the noisy
training labels and held out from training; MW-Net* uses the same examples
with their true labels.

The learning rate is divided by 10 at 60% and 80% of training by default
(``--decay-at``; the papers use step decay).  AUC is reported at the last
epoch and at the best epoch (the paper's Table 3 lists the best AUC seen
during training); for the MR row also the AUC of the combined weight
``W(l_i) * p_i``.

Example (about 5 minutes per seed on 2 busy CPU cores)::

    python benchmarks/meta_weight.py --n-train 6000 --epochs 20 --with-mr --seeds 0,1,2
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np


def load_fashion_mnist(data_dir):
    """Fashion-MNIST as flat 784-vectors in [0, 1], from the dataset registry."""
    from keras_mr.benchmarking.datasets import load_dataset

    data = load_dataset("fashion_mnist", data_dir=data_dir, channel_axis=False)
    x, xt = data.x_train.reshape(-1, 784), data.x_test.reshape(-1, 784)
    return (x, data.y_train.astype("int32")), (xt, data.y_test.astype("int32"))


def synthetic(n, n_test, seed=0, dim=64, k=10):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim)) * 0.6
    y = rng.integers(0, k, size=n + n_test).astype("int32")
    x = (centers[y] + rng.normal(size=(n + n_test, dim))).astype("float32")
    return (x[:n], y[:n]), (x[n:], y[n:])


def uniform_noise(y, k, rate, seed):
    rng = np.random.default_rng(seed)
    redraw = rng.random(len(y)) < rate
    noisy = np.where(redraw, rng.integers(0, k, size=len(y)), y).astype("int32")
    return noisy, noisy != y


def build_setup(args, seed, keras, tf, meta_data):
    """Data subset, noise, meta split and model/dataset factories for one seed."""
    from keras_mr.benchmarking.runner import MODELS

    try:
        (x_all, y_all), (x_test, y_test) = load_fashion_mnist(args.data_dir)
        source = "Fashion-MNIST"
    except FileNotFoundError:
        (x_all, y_all), (x_test, y_test) = synthetic(args.n_train, args.n_test, 0)
        source = "synthetic blobs (Fashion-MNIST files not found)"
    k = 10
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(y_all), size=min(args.n_train, len(y_all)), replace=False)
    x, y = x_all[sub], y_all[sub]
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    y_noisy, corrupted = uniform_noise(y, k, args.noise, seed)
    split = meta_data.split_meta_set(x, y_noisy, per_class=args.meta_per_class, seed=seed)
    dim = x.shape[1]
    steps_per_epoch = len(split.y_train) // args.batch_size
    fractions = [float(f) for f in args.decay_at.split(",") if f.strip()]

    def classifier():
        keras.utils.set_random_seed(seed)
        return MODELS.get("mlp")((dim,), k, width=args.hidden)

    def learning_rate():
        if not fractions:
            return args.lr
        bounds = [int(f * args.epochs) * steps_per_epoch for f in fractions]
        values = [args.lr / 10**i for i in range(len(bounds) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(bounds, values)

    def compile_model(model):
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate(), momentum=0.9),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=args.jit_compile,
        )
        return model

    def train_ds():
        ds = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
        return (
            ds.shuffle(len(split.y_train), seed=seed)
            .batch(args.batch_size, drop_remainder=True)
            .prefetch(2)
        )

    def meta_ds(y_meta):
        return meta_data.meta_dataset(split.x_meta, y_meta, batch_size=args.batch_size, seed=seed)

    description = (
        f"data: {source}, N_train={len(split.y_train)}, meta={len(split.y_meta)} "
        f"({args.meta_per_class}/class, held out), uniform noise {args.noise:.0%} "
        f"(corrupted fraction {corrupted[split.train_indices].mean():.3f}), MLP {dim}-"
        f"{args.hidden}-{args.hidden}-{k}, batch {args.batch_size} (meta batch too), "
        f"SGD lr {args.lr} momentum 0.9, jit_compile={args.jit_compile}"
        + (f", lr / 10 at {fractions} of training" if fractions else "")
    )
    return dict(
        split=split,
        x_test=x_test,
        y_test=y_test,
        noisy_train=corrupted[split.train_indices],
        y_meta_clean=y[split.meta_indices],
        classifier=classifier,
        compile_model=compile_model,
        train_ds=train_ds,
        meta_ds=meta_ds,
        description=description,
    )


def step_rows(batch_size, width, instances, blocks, block_steps):
    """The Meta-Weight-Net row of the timing table: a MetaWeightNet step / a plain step.

    Plain steps, MetaWeightNet steps (MAE meta loss) and the bilevel-gradient probe (the
    exact meta-gradient with the weighting network and no bookkeeping: the floor) of an
    MLP 784-``width``-``width``-10 take turns with
    :func:`keras_mr.benchmarking.timing.time_steps`, each on ``instances`` identical models.

    Returns:
        A one-row list of :class:`_rows.Row`.
    """
    import keras
    from _probes import Probe
    from _rows import SPARSE
    from _rows import Row
    from _rows import mlp
    from _rows import mlp_data
    from _rows import repeated_batches

    import keras_mr
    from keras_mr.benchmarking.timing import merge_instances
    from keras_mr.benchmarking.timing import ratios
    from keras_mr.benchmarking.timing import time_steps
    from keras_mr.meta import meta_data

    x, y = mlp_data(batch_size)
    train = repeated_batches(x, y, batch_size)
    meta = meta_data.meta_dataset(x[:200], y[:200], batch_size=batch_size, seed=0)
    models = {}
    for name in ("plain", "bilevel", "meta"):
        for k in range(instances):
            if name == "plain":
                model = mlp(width)
            elif name == "bilevel":
                model = Probe(mlp(width), "bilevel_gradient")
            else:
                model = keras_mr.MetaWeightNet(mlp(width), meta_loss="mae")
            model.compile(keras.optimizers.SGD(0.05, momentum=0.9), SPARSE)
            data = train if name == "plain" else meta_data.with_meta_batches(train, meta)
            models[f"{name}#{k}"] = (model, data)
    times = merge_instances(time_steps(models, blocks, block_steps))
    label = f"MLP 784-{width}-{width}-10, batch {batch_size}"
    floor = ratios(times, "bilevel")["cpu"]
    note = "floor: the exact bilevel gradient with the weighting network, no bookkeeping"
    return [Row(f"MetaWeightNet step ({label})", ratios(times, "meta"), 1.8, floor, note)]


def run_methods(args, setup, keras, keras_mr, meta_data, MetaWeightNet):
    """Trains every method once; returns {name: (accs per epoch, aucs, aucs_combined)}."""
    from keras_mr.benchmarking.metrics import noisy_detection_auc

    split, noisy_train = setup["split"], setup["noisy_train"]
    x_test, y_test = setup["x_test"], setup["y_test"]

    class Tracker(keras.callbacks.Callback):
        def __init__(self, weighter=None, track_auc=True):
            super().__init__()
            self.weighter, self.track_auc = weighter, track_auc
            self.accs, self.aucs, self.aucs_combined = [], [], []

        def on_epoch_end(self, epoch, logs=None):
            self.accs.append(
                self.model.evaluate(x_test, y_test, batch_size=1000, verbose=0, return_dict=True)[
                    "accuracy"
                ]
            )
            if not self.track_auc:
                return
            w = self.model.example_weights(split.x_train, split.y_train, batch_size=1000)
            self.aucs.append(noisy_detection_auc(w, noisy_train))
            if self.weighter is not None:
                combined = w * self.weighter.weights
                self.aucs_combined.append(noisy_detection_auc(combined, noisy_train))

    results = {}
    model = setup["compile_model"](setup["classifier"]())
    tracker = Tracker(track_auc=False)
    model.fit(
        setup["train_ds"](), epochs=args.epochs, verbose=0, shuffle=False, callbacks=[tracker]
    )
    results["plain (CE)"] = tracker

    variants = [
        ("MW-Net* (clean meta, CE)", "ce", setup["y_meta_clean"], False),
        ("MNW-Net (noisy meta, CE)", "ce", split.y_meta, False),
        ("RMNW-Net (noisy meta, MAE)", "mae", split.y_meta, False),
    ]
    if args.with_mr:
        variants.append((f"RMNW-Net + MR (eta={args.mr_eta})", "mae", split.y_meta, True))
    for name, meta_loss, y_meta, with_mr in variants:
        model = setup["compile_model"](MetaWeightNet(setup["classifier"](), meta_loss=meta_loss))
        callbacks = []
        weighter = None
        if with_mr:
            weighter = keras_mr.MRSampleWeighter(eta=args.mr_eta, max_weight=None)
            base = weighter.attach(split.x_train, split.y_train, batch_size=args.batch_size, seed=0)
            callbacks.append(weighter)
        else:
            base = setup["train_ds"]()
        tracker = Tracker(weighter)
        callbacks.append(tracker)  # after the weighter: sees this epoch's MR weights
        ds = meta_data.with_meta_batches(base, setup["meta_ds"](y_meta))
        model.fit(ds, epochs=args.epochs, verbose=0, shuffle=False, callbacks=callbacks)
        results[name] = tracker
        print(f"  done: {name}", flush=True)
    return results


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.4)
    parser.add_argument("--meta-per-class", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument(
        "--decay-at",
        default="0.6,0.8",
        help="comma-separated fractions of training where the learning rate is "
        "divided by 10 (the papers use step decay); '' for constant",
    )
    parser.add_argument(
        "--seeds",
        default="0",
        help="comma-separated seeds (data subset, noise, meta split, initialisation)",
    )
    parser.add_argument("--timing-blocks", type=int, default=40, help="turns of every step")
    parser.add_argument("--timing-block-steps", type=int, default=10, help="steps per turn")
    parser.add_argument(
        "--instances", type=int, default=2, help="timing: identical models per step kind"
    )
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--with-mr", action="store_true", help="add an RMNW-Net + MR row")
    parser.add_argument("--jit-compile", action="store_true", help="compile with XLA")
    parser.add_argument("--mr-eta", type=float, default=0.1)
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    import keras_mr
    from keras_mr.meta import meta_data
    from keras_mr.meta.meta_weight_net import MetaWeightNet

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    first = build_setup(args, seeds[0], keras, tf, meta_data)
    print(first["description"], flush=True)
    if not args.skip_timing:
        from _rows import table

        rows = step_rows(
            args.batch_size,
            args.hidden,
            args.instances,
            args.timing_blocks,
            args.timing_block_steps,
        )
        print(
            f"\nStep time ({args.timing_blocks} interleaved turns of {args.timing_block_steps} "
            f"steps, 20th percentile, {args.instances} instances each)\n"
        )
        print(table(rows), flush=True)
    if args.skip_accuracy:
        return

    per_seed = []
    for seed in seeds:
        setup = first if seed == seeds[0] else build_setup(args, seed, keras, tf, meta_data)
        print(f"seed {seed}:", flush=True)
        per_seed.append(run_methods(args, setup, keras, keras_mr, meta_data, MetaWeightNet))

    print(
        f"\nTest accuracy and noisy-sample detection AUC after {args.epochs} epochs, "
        f"seeds {seeds} (mean ± std)"
    )
    print(
        "| method | final acc | best-epoch acc | final AUC | best-epoch AUC | final AUC of W x MR |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in per_seed[0]:
        trackers = [r[name] for r in per_seed]
        print(
            f"| {name} | {fmt([t.accs[-1] for t in trackers])} "
            f"| {fmt([max(t.accs) for t in trackers])} "
            f"| {fmt([t.aucs[-1] if t.aucs else None for t in trackers])} "
            f"| {fmt([max(t.aucs) if t.aucs else None for t in trackers])} "
            f"| {fmt([t.aucs_combined[-1] if t.aucs_combined else None for t in trackers])} |"
        )


if __name__ == "__main__":
    main()

"""Meta-Weight-Net benchmark: step-time ratio and MW-Net / MNW-Net / RMNW-Net table.

Two tables:

1. Step time of one ``MetaWeightNet`` training step (virtual step, meta step,
   real step) divided by one plain ``fit`` step of the same classifier and
   batch size (meta batch = training batch, as in the paper).  Measured in the
   same process, back to back; the ratio is what to compare across machines.
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

Example (about 6 minutes on 2 CPU cores)::

    python benchmarks/meta_weight.py --n-train 6000 --epochs 15
"""

import argparse
import gzip
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402


def load_fashion_mnist(data_dir):
    def read(name, offset):
        with gzip.open(os.path.join(data_dir, name), "rb") as f:
            return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)

    x = read("train-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype("float32") / 255.0
    y = read("train-labels-idx1-ubyte.gz", 8).astype("int32")
    xt = read("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784).astype("float32") / 255.0
    yt = read("t10k-labels-idx1-ubyte.gz", 8).astype("int32")
    return (x, y), (xt, yt)


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


def auc(scores, positives):
    from scipy.stats import rankdata

    positives = np.asarray(positives, dtype=bool)
    ranks = rankdata(scores)
    n_pos, n_neg = positives.sum(), (~positives).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--n-test", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--noise", type=float, default=0.4)
    parser.add_argument("--meta-per-class", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--decay-at", default="",
                        help="comma-separated fractions of training where the learning rate is "
                             "divided by 10 (the papers use step decay), e.g. 0.6,0.8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing-steps", type=int, default=40)
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--with-mr", action="store_true", help="add an RMNW-Net + MR row")
    parser.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    import keras_mr
    from keras_mr import meta_data
    from keras_mr.meta_weight_net import MetaWeightNet

    if os.path.exists(os.path.join(args.data_dir, "train-images-idx3-ubyte.gz")):
        (x_all, y_all), (x_test, y_test) = load_fashion_mnist(args.data_dir)
        source = "Fashion-MNIST"
    else:
        (x_all, y_all), (x_test, y_test) = synthetic(args.n_train, args.n_test, args.seed)
        source = "synthetic blobs (Fashion-MNIST files not found)"
    k = 10
    rng = np.random.default_rng(args.seed)
    sub = rng.choice(len(y_all), size=min(args.n_train, len(y_all)), replace=False)
    x, y = x_all[sub], y_all[sub]
    x_test, y_test = x_test[: args.n_test], y_test[: args.n_test]
    y_noisy, corrupted = uniform_noise(y, k, args.noise, args.seed)
    split = meta_data.split_meta_set(x, y_noisy, per_class=args.meta_per_class, seed=args.seed)
    y_clean_train = y[split.train_indices]
    noisy_train = corrupted[split.train_indices]
    y_meta_clean = y[split.meta_indices]
    dim = x.shape[1]

    def classifier():
        keras.utils.set_random_seed(args.seed)
        return keras.Sequential([
            keras.Input((dim,)),
            keras.layers.Dense(args.hidden, activation="relu"),
            keras.layers.Dense(args.hidden, activation="relu"),
            keras.layers.Dense(k),
        ])

    steps_per_epoch = (len(split.y_train) // args.batch_size)
    fractions = [float(f) for f in args.decay_at.split(",") if f.strip()]

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
        )
        return model

    def train_ds(seed_offset=0):
        ds = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
        return ds.shuffle(len(split.y_train), seed=args.seed + seed_offset).batch(
            args.batch_size, drop_remainder=True
        ).prefetch(2)

    def meta_ds(y_meta):
        return meta_data.meta_dataset(split.x_meta, y_meta, batch_size=args.batch_size,
                                      seed=args.seed)

    print(f"data: {source}, N_train={len(split.y_train)}, meta={len(split.y_meta)} "
          f"({args.meta_per_class}/class, held out), uniform noise {args.noise:.0%} "
          f"(actual corrupted fraction {noisy_train.mean():.3f}), MLP {dim}-{args.hidden}-"
          f"{args.hidden}-{k}, batch {args.batch_size}, SGD lr {args.lr} momentum 0.9"
          + (f", lr / 10 at {fractions} of training" if fractions else ""))

    # -- 1. step-time ratio ---------------------------------------------------
    steps = args.timing_steps
    plain = compile_model(classifier())
    mwn = compile_model(MetaWeightNet(classifier(), meta_loss="mae"))
    plain_data = train_ds().repeat()
    meta_data_ds = meta_data.with_meta_batches(train_ds().repeat(), meta_ds(split.y_meta))
    plain.fit(plain_data, steps_per_epoch=5, epochs=1, verbose=0)  # trace + warm up
    mwn.fit(meta_data_ds, steps_per_epoch=5, epochs=1, verbose=0)
    times = {"plain": [], "meta": []}
    for _ in range(3):  # interleave to share machine-load fluctuations
        for name, model, ds in (("plain", plain, plain_data), ("meta", mwn, meta_data_ds)):
            start = time.perf_counter()
            model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
            times[name].append((time.perf_counter() - start) / steps)
    t_plain, t_meta = min(times["plain"]), min(times["meta"])
    print("\nStep time (best of 3 runs of", steps, "steps, same process)")
    print("| step | ms/step | ratio to plain |")
    print("| --- | --- | --- |")
    print(f"| plain fit step | {1e3 * t_plain:.2f} | 1.00 |")
    print(f"| MetaWeightNet step (virtual + meta + real) | {1e3 * t_meta:.2f} | "
          f"{t_meta / t_plain:.2f} |")
    if args.skip_accuracy:
        return

    # -- 2. accuracy / AUC table ------------------------------------------------
    class AUCTracker(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.aucs, self.accs = [], []

        def on_epoch_end(self, epoch, logs=None):
            w = self.model.example_weights(split.x_train, split.y_train, batch_size=1000)
            self.aucs.append(auc(w, ~noisy_train))
            self.accs.append(self.model.evaluate(x_test, y_test, batch_size=1000, verbose=0,
                                                 return_dict=True)["accuracy"])

    class AccTracker(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.accs = []

        def on_epoch_end(self, epoch, logs=None):
            self.accs.append(self.model.evaluate(x_test, y_test, batch_size=1000, verbose=0,
                                                 return_dict=True)["accuracy"])

    rows = []
    start = time.perf_counter()
    model = compile_model(classifier())
    tracker = AccTracker()
    model.fit(train_ds(), epochs=args.epochs, verbose=0, callbacks=[tracker])
    rows.append(("plain (CE)", "-", tracker.accs, None, time.perf_counter() - start))

    variants = [
        ("MW-Net* (clean meta, CE)", "ce", y_meta_clean, False),
        ("MNW-Net (noisy meta, CE)", "ce", split.y_meta, False),
        ("RMNW-Net (noisy meta, MAE)", "mae", split.y_meta, False),
    ]
    if args.with_mr:
        variants.append(("RMNW-Net + MR (eta=0.1)", "mae", split.y_meta, True))
    for name, meta_loss, y_meta, with_mr in variants:
        start = time.perf_counter()
        model = compile_model(MetaWeightNet(classifier(), meta_loss=meta_loss))
        tracker = AUCTracker()
        callbacks = [tracker]
        if with_mr:
            weighter = keras_mr.MRSampleWeighter(eta=0.1)
            base = weighter.attach(split.x_train, split.y_train, batch_size=args.batch_size,
                                   seed=args.seed)
            callbacks.insert(0, weighter)
        else:
            base = train_ds()
        ds = meta_data.with_meta_batches(base, meta_ds(y_meta))
        model.fit(ds, epochs=args.epochs, verbose=0, callbacks=callbacks)
        rows.append((name, meta_loss, tracker.accs, tracker.aucs, time.perf_counter() - start))

    print(f"\nTest accuracy and noisy-sample detection AUC after {args.epochs} epochs "
          f"(seed {args.seed})")
    print("| method | meta loss | final acc | best-epoch acc | final AUC | best AUC | time (s) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, meta_loss, accs, aucs, seconds in rows:
        auc_final = f"{aucs[-1]:.4f}" if aucs else "-"
        auc_best = f"{max(aucs):.4f}" if aucs else "-"
        print(f"| {name} | {meta_loss} | {accs[-1]:.4f} | {max(accs):.4f} | {auc_final} | "
              f"{auc_best} | {seconds:.0f} |")


if __name__ == "__main__":
    main()

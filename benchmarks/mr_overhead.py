"""MR overhead: the MR rows of the timing summary, and the cost of one MW update.

Prints the MR rows of ``benchmarks/summary.py``'s table, measured in one run on this
machine (ratios, no absolute claims), on both clocks (process CPU time and wall time):
an A/A control (a plain epoch against a plain epoch), a plain epoch with a uniform sample
weight (MR trains on weighted batches: its floor), an MR epoch with the extra loss pass
(``loss_source="eval"``, floor: the weighted epoch plus ``predict`` over N), the loss pass
against ``model.predict`` and an MR epoch that records the training losses
(``loss_source="train"``, TensorFlow only).  Every round trains a fresh model per mode, the
modes in a new random order every round; a ratio is the median over the rounds of the
ratio within each round.  Then times one MW update + capped-simplex projection at
N = 1,000,000.

    python benchmarks/mr_overhead.py                # small CNN, 20k 28x28 images
    python benchmarks/mr_overhead.py --n 5000 --epochs 3
    python benchmarks/mr_overhead.py --backend jax    # no TensorFlow needed (no train-loss row)
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _backend import add_backend_argument
from _backend import select_backend

select_backend()  # before Keras is imported

import keras
import numpy as np
from _rows import Row
from _rows import table

import keras_mr
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import CLOCKS
from keras_mr.benchmarking.timing import FitTimer
from keras_mr.benchmarking.timing import interleaved
from keras_mr.benchmarking.timing import pair_means
from keras_mr.benchmarking.timing import round_ratios
from keras_mr.benchmarking.timing import time_both_clocks
from keras_mr.benchmarking.timing import time_call
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.multiplicative_weights import mw_update

# the two networks of this benchmark, from the runner's model registry
NETWORKS = {"cnn": dict(width=32, padding="valid"), "mlp": dict(depth=1)}


def make_model(kind, input_shape, num_classes, record=False):
    keras.utils.set_random_seed(0)
    model = MODELS.get(kind)(input_shape, num_classes, **NETWORKS[kind])
    if record:  # loss_source="train": the model records its per-example training losses
        model = keras_mr.LossRecordingModel(model)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def epoch_rows(n, batch_size, epochs, eval_batch_size, rounds, network="cnn"):
    """The MR rows of the timing table: MR epochs and the loss pass against plain epochs.

    Each round trains a fresh ``network`` for ``epochs`` epochs per mode (plain, plain
    again, uniformly weighted, MR with the extra loss pass, MR recording the training
    losses on TensorFlow) and times the loss pass and ``predict`` over the ``n`` examples,
    the modes in a new random order every round; an epoch's time is the median of epochs
    2..E; a ratio is the median over ``rounds`` rounds of the ratio within each round,
    against the geometric mean of the round's two plain epochs.

    Returns:
        A list of :class:`_rows.Row`.
    """
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int32")
    tensorflow = keras.backend.backend() == "tensorflow"

    def epoch(mode):
        net = make_model(network, x.shape[1:], 10, record=mode == "train")
        timers = {clock: FitTimer(clock) for clock in CLOCKS}
        callbacks = list(timers.values())
        if mode == "pass":  # the loss pass alone and `predict`, on one trained model
            return time_loss_pass(net, x, y, batch_size, eval_batch_size)
        ones = np.ones(n, "float32")
        if mode in ("plain", "weighted") and tensorflow:  # a shuffled tf.data pipeline
            import tensorflow as tf

            slices = (x, y) if mode == "plain" else (x, y, ones)
            data = tf.data.Dataset.from_tensor_slices(slices).shuffle(n, seed=0)
            data = dict(x=data.batch(batch_size).prefetch(tf.data.AUTOTUNE))
        elif mode in ("plain", "weighted"):
            weights = dict(sample_weight=ones) if mode == "weighted" else {}
            data = dict(x=x, y=y, batch_size=batch_size, **weights)
        else:
            weighter = keras_mr.MRSampleWeighter(eta=0.01, max_weight=None, loss_source=mode)
            data = dict(
                x=weighter.attach(
                    x, y, batch_size=batch_size, seed=0, eval_batch_size=eval_batch_size
                )
            )
            callbacks = [weighter] + callbacks
        net.fit(**data, epochs=epochs, verbose=0, shuffle=False, callbacks=callbacks)
        return {clock: float(np.median(t.epoch_times[1:])) for clock, t in timers.items()}

    modes = ["plain", "plain again", "weighted", "eval", "pass"]
    modes += ["train"] if tensorflow else []
    measure = lambda mode: epoch(mode.replace(" again", ""))
    runs = interleaved(measure, modes, rounds, seed=0)  # a new order every round
    passes = runs.pop("pass")
    runs.update({name: [r[name] for r in passes] for name in ("loss pass", "predict")})
    # the baseline of a round: the geometric mean of its two plain epochs
    runs["plain"], runs["plain first"] = (
        pair_means(runs["plain"], runs["plain again"]),
        runs["plain"],
    )
    # MR trains on weighted batches: its floor is a plain epoch with a (uniform) sample weight
    weighted = round_ratios(runs, "weighted")
    floor = round_ratios(runs, "weighted", extra=("predict", "plain"))
    per_pass = round_ratios(runs, "loss pass", base="predict")
    label = f"{network.upper()}, N={n}, batch {batch_size}, pass batch {eval_batch_size}"
    rows = [
        Row(
            f"MR epochs' A/A control: plain epoch again ({label})",
            round_ratios(runs, "plain again", base="plain first"),
            note="the resolution of the MR rows",
        ),
        Row("plain epoch with a uniform sample weight", weighted, note="MR's floor"),
        Row(
            "MR epoch, extra loss pass",
            round_ratios(runs, "eval"),
            1.10,
            floor["cpu"],
            note="floor: weighted epoch + `predict` over N",
        ),
        Row("MR loss pass / `model.predict` over N", per_pass, note="1.0 = predict's speed"),
    ]
    if tensorflow:
        rows.append(
            Row(
                "MR epoch, training losses",
                round_ratios(runs, "train"),
                1.02,
                weighted["cpu"],
                note="floor: weighted epoch",
            )
        )
    return rows


def time_loss_pass(net, x, y, batch_size, eval_batch_size):
    """``{"loss pass": {clock: s}, "predict": {clock: s}}`` over the N examples of ``x``."""
    weighter = keras_mr.MRSampleWeighter(eta=0.01, max_weight=None)
    data = weighter.attach(x, y, batch_size=batch_size, eval_batch_size=eval_batch_size)
    net.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])  # compiles both
    net.predict(x, batch_size=eval_batch_size, verbose=0)
    source = weighter.loss_source_object
    jobs = {
        "loss pass": lambda: source.collect(net, weighter.eval_dataset, weighter.num_examples),
        "predict": lambda: net.predict(x, batch_size=eval_batch_size, verbose=0),
    }
    return {name: time_both_clocks(job) for name, job in jobs.items()}


def time_update(n, repeats=3):
    rng = np.random.default_rng(0)
    cum = rng.exponential(size=n) * 10
    scaled = cum * 0.01
    losses = rng.exponential(size=n)

    def update():
        # eta = 1 spreads the weights so that the cap binds (the projection sorts)
        log_p, _, _ = mw_update(cum, losses, 1.0, scaled_history=scaled)
        log_p = project_capped_simplex_log(log_p, 2.0 / n)
        np.exp(log_p + np.log(n)).astype(np.float32)  # the weight table MR keeps
        return log_p

    best = min(time_call(update) for _ in range(repeats))
    capped = int(np.sum(update() >= np.log(2.0 / n) - 1e-12))
    return best, capped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="training examples")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--eval-batch-size", type=int, default=1024)
    parser.add_argument("--model", choices=sorted(NETWORKS), default="cnn")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved repetitions")
    parser.add_argument("--update-n", type=int, default=1_000_000)
    add_backend_argument(parser)
    args = parser.parse_args()

    rows = epoch_rows(
        args.n, args.batch_size, args.epochs, args.eval_batch_size, args.rounds, network=args.model
    )
    update, capped = time_update(args.update_n)
    print(
        f"\nMR overhead (backend {keras.backend.backend()}, median of epochs 2..{args.epochs}, "
        f"median of {args.rounds} paired rounds; ratios to a plain epoch of the same network)\n"
    )
    print(table(rows))
    print(
        f"\nOne MW update + capped-simplex projection at N={args.update_n:,} "
        f"({capped:,} weights clipped): {update:.3f} s"
    )


if __name__ == "__main__":
    main()

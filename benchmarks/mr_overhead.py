"""MR overhead: epoch-time ratios MR / plain, and the cost of one MW update.

Prints a table of ratios measured in one run on this machine (no absolute
claims): a plain epoch, an MR epoch with the extra loss pass
(``loss_source="eval"``) and an MR epoch that records the training losses
(``loss_source="train"``).  Then times one MW update + capped-simplex
projection at N = 1,000,000.

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

import keras_mr
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import CLOCKS
from keras_mr.benchmarking.timing import FitTimer
from keras_mr.benchmarking.timing import interleaved
from keras_mr.benchmarking.timing import time_call
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.multiplicative_weights import mw_update

# the two networks of this benchmark, from the runner's model registry
NETWORKS = {"cnn": dict(width=32, padding="valid"), "mlp": dict(depth=1)}


def make_model(kind, input_shape, num_classes, record=False):
    keras.utils.set_random_seed(0)
    model = MODELS.get(kind)(input_shape, num_classes, **NETWORKS[kind])
    if record:  # loss_source="train": the model records its per-example training losses
        model = keras_mr.TrainingLossModel(model)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def time_epochs(mode, x, y, args):
    model = make_model(args.model, x.shape[1:], 10, record=mode == "train")
    timer = FitTimer(args.clock)
    callbacks = [timer]
    if mode == "plain" and keras.backend.backend() != "tensorflow":
        data = dict(x=x, y=y, batch_size=args.batch_size)  # Keras' own array pipeline
    elif mode == "plain":
        import tensorflow as tf

        ds = (
            tf.data.Dataset.from_tensor_slices((x, y))
            .shuffle(len(y), seed=0)
            .batch(args.batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
        data = dict(x=ds, shuffle=False)
    else:
        weighter = keras_mr.MRSampleWeighter(eta=0.01, max_weight=None, loss_source=mode)
        ds = weighter.attach(
            x, y, batch_size=args.batch_size, seed=0, eval_batch_size=args.eval_batch_size
        )
        data = dict(x=ds, shuffle=False)
        callbacks = [weighter, timer]
    model.fit(**data, epochs=args.epochs, verbose=0, callbacks=callbacks)
    # the first epoch includes tracing; use the median of the rest
    return float(np.median(timer.epoch_times[1:]))


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
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time, or process CPU time (robust on a shared machine)",
    )
    add_backend_argument(parser)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.random((args.n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, args.n).astype("int32")

    # interleave the modes over several rounds so that background load hits all alike
    # loss_source="train" records losses in a TensorFlow training step
    modes = ["plain", "eval"] + (["train"] if keras.backend.backend() == "tensorflow" else [])
    runs = interleaved(lambda mode: time_epochs(mode, x, y, args), modes, args.rounds)
    times = {mode: float(np.min(t)) for mode, t in runs.items()}
    update, capped = time_update(args.update_n)

    print(
        f"\nMR overhead ({args.model}, N={args.n}, batch {args.batch_size}, "
        f"backend {keras.backend.backend()}, {args.clock} clock, "
        f"median of epochs 2..{args.epochs}, "
        f"best of {args.rounds} interleaved rounds)"
    )
    print(f"| {'mode':<34} | {'epoch time / plain':>18} |")
    print(f"|{'-' * 36}|{'-' * 20}|")
    print(f"| {'plain fit':<34} | {1.0:>18.3f} |")
    print(
        f"| {'MR, loss_source=eval (extra pass)':<34} | {times['eval'] / times['plain']:>18.3f} |"
    )
    train = f"{times['train'] / times['plain']:>18.3f}" if "train" in times else "needs TensorFlow"
    print(f"| {'MR, loss_source=train':<34} | {train:>18} |")
    print(
        f"\nOne MW update + capped-simplex projection at N={args.update_n:,} "
        f"({capped:,} weights clipped): {update:.3f} s"
    )


if __name__ == "__main__":
    main()

"""How MR's cost grows with N: the update, the state, and the loss pass.

Prints one table per measurement, every figure measured in this run:

1. one MW update + capped-simplex projection (the host-side work per update) for
   N = 1e5, 1e6, 1e7 synthetic losses: seconds (best of ``--repeats``) and seconds per
   million examples, and the host memory the update allocates at its peak, per example;
2. the bytes of MR state per example: on the device (the float32/int32 Keras variables of
   the weighter's state layer and the weight table, for both loss sources) and on the host
   (the arrays the update reads and writes);
3. the loss pass's throughput relative to ``model.predict`` on the same model and data
   (a ratio, both measured in this process, interleaved).

    python benchmarks/mr_scale.py                       # N up to 1e7, pass at N = 100k
    python benchmarks/mr_scale.py --sizes 1e5 1e6 --pass-n 20000
    python benchmarks/mr_scale.py --backend jax       # e.g. a GPU machine without TensorFlow
"""

import argparse
import os
import tracemalloc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _backend import add_backend_argument
from _backend import select_backend

select_backend()

import keras
import numpy as np

import keras_mr
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import interleaved
from keras_mr.benchmarking.timing import time_call
from keras_mr.mr.capped_simplex import project_capped_simplex_log
from keras_mr.mr.multiplicative_weights import mw_update
from keras_mr.mr.weighter_state import WeighterState

CASES = {"inactive": 0.1, "binding": 3.0}  # eta; with cap 2/N the projection clips at eta 3


def one_update(n, rng, eta):
    """Arrays of one update at N = n, and the function that runs it."""
    cumulative = rng.exponential(size=n).astype(np.float32)
    scaled = cumulative.copy()
    losses = rng.exponential(size=n).astype(np.float32)

    def run():
        log_p, cum, sc = mw_update(cumulative, losses, eta, scaled_history=scaled)
        return project_capped_simplex_log(log_p, 2.0 / n), cum, sc

    return run


def time_updates(sizes, repeats):
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        for cap, eta in CASES.items():
            run = one_update(n, rng, eta)
            run()  # warm-up
            best = min(time_call(run) for _ in range(repeats))
            tracemalloc.start()
            run()
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows.append((n, cap, best, best / n * 1e6, peak / n))
    print("\nOne MW update + capped-simplex projection (host, NumPy float64; cap 2/N)")
    print(
        f"| {'N':>12} | {'cap':>8} | {'seconds':>9} | {'s per 1e6 examples':>18} "
        f"| {'peak bytes/example':>18} |"
    )
    print(f"|{'-' * 14}|{'-' * 10}|{'-' * 11}|{'-' * 20}|{'-' * 20}|")
    for n, cap, t, per, peak in rows:
        print(f"| {n:>12,} | {cap:>8} | {t:>9.3f} | {per:>18.3f} | {peak:>18.1f} |")
    return {cap: max(r[4] for r in rows if r[1] == cap) for cap in CASES}


def state_bytes(host_peak):
    n = 1000
    print("\nMR state per example")
    print(f"| {'where':<44} | {'bytes/example':>13} |")
    print(f"|{'-' * 46}|{'-' * 15}|")
    for records in (False, True):
        layer = WeighterState(n, records_losses=records)
        device = sum(
            np.prod(v.shape) * np.dtype(v.dtype).itemsize
            for v in layer.weights
            if len(v.shape) == 1 and v.shape[0] == n
        )
        device += 4 * n  # the float32 weight table the pipeline reads
        source = "train" if records else "eval"
        print(f"| {f'device, loss_source={source!r} (float32 vars)':<44} | {device / n:>13.0f} |")
    # host: nothing persists between updates; an update allocates float64 temporaries
    print(f"| {'host, between updates':<44} | {0:>13.0f} |")
    for cap, peak in host_peak.items():
        what = f"host, peak during an update, cap {cap}"
        print(f"| {what:<44} | {peak:>13.0f} |")


def pass_vs_predict(n, rounds):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 32)).astype("float32")
    y = rng.integers(0, 10, size=n)
    keras.utils.set_random_seed(0)
    model = MODELS.get("mlp")((32,), 10, width=256)
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    weighter = keras_mr.MRSampleWeighter(verbose=0)
    weighter.attach(x, y, batch_size=256, eval_batch_size=1024)
    weighter.set_model(model)
    source = weighter.loss_source_object
    data = (model, weighter.eval_dataset, weighter.num_examples)
    source.collect(*data)  # builds and traces the pass
    model.predict(x, batch_size=1024, verbose=0)
    work = {
        "pass": lambda: source.collect(*data),
        "predict": lambda: model.predict(x, batch_size=1024, verbose=0),
    }
    times = interleaved(lambda name: time_call(work[name]), list(work), rounds)
    ratio = min(times["pass"]) / min(times["predict"])
    print(
        f"\nLoss pass vs model.predict (N={n:,}, MLP 32-256-256-10, batch 1024, best of {rounds})"
    )
    print(f"| {'measure':<40} | {'value':>8} |")
    print(f"|{'-' * 42}|{'-' * 10}|")
    print(f"| {'loss-pass time / predict time':<40} | {ratio:>8.3f} |")
    print(f"| {'loss-pass throughput / predict':<40} | {1 / ratio:>8.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pass-n", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    add_backend_argument(parser)
    args = parser.parse_args()
    print(f"backend {keras.backend.backend()}")
    host_peak = time_updates([int(s) for s in args.sizes], args.repeats)
    state_bytes(host_peak)
    pass_vs_predict(args.pass_n, args.rounds)


if __name__ == "__main__":
    main()

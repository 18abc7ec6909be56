"""Every timing ratio of keras-mr in one table, each row measured in this process.

The rows come from the scripts that own them, each row measured by that script's row
group alone: the MR rows from ``mr_overhead.py``, the wrapper and CIW / CICW /
CICW-Mixup rows from ``ciw.py``, the Meta-Weight-Net row from ``meta_weight.py`` and the
adversarial-training rows from ``adversarial.py`` (each prints its own rows too); the
timing and its statistics are ``keras_mr.benchmarking.timing``'s, the probes
``_probes.py``'s and the table ``_rows.py``'s.  This script parses the arguments, calls
the row groups and prints their rows in one table.

Each row is a method's step (or epoch) time divided by a plain Keras step (epoch) of the
same network, batch and data, with the methods of a group interleaved over ``--rounds``
rounds so that a slow moment of the shared machine lands on all of them alike.  Besides
the ratio, a row shows its target and, where one exists, the *floor*: the lowest ratio
the method can reach on this machine, built from probes timed in the same run:

* ``forward`` -- a step that runs one forward pass in inference mode and nothing else;
* ``input gradient x k`` -- a step that runs ``k`` forward-backward passes with respect
  to the input (the work of ``k`` attack iterations) and no update;
* ``empty`` -- a step that only reads its batch (the fixed cost of a ``fit`` step);
* ``predict`` -- ``model.predict`` over the training set at the loss pass's batch size.

A probe's *marginal* cost is its time minus the empty step's, so the floors are: an MR
epoch ``weighted`` (a plain epoch on uniformly weighted batches, as MR trains on weighted
ones), plus ``predict / plain epoch`` for the extra loss pass; CICW-Mixup (one extra
forward of the batch) ``1 + (forward - empty) / plain``; an attack of ``k`` iterations
``1 + k * g / plain`` with ``g`` the marginal cost of one input-gradient pass (TRADES
adds the natural forward it shares with the loss).  A target below the floor cannot be met on
this machine; the floor says by how much.

Steps are timed on Keras' own compiled ``fit`` step (``model.make_train_function()``,
without the callback loop around it), the methods of a group taking turns in blocks;
a step's time is the 20th percentile of its steps.  Two identical models can differ by
a few per cent (the A/A rows), so every MLP method is timed on ``--instances`` identical
models and its time is their geometric mean.  Epochs are timed inside ``fit`` (the median
of epochs 2..E) on a fresh model every round; a ratio is the median over the interleaved
rounds of the ratio within each round.  Both clocks are
reported: ``cpu`` (process CPU time, all threads: the work done, little disturbed by
other processes; the targets are checked on it) and ``wall``.

    python benchmarks/summary.py                    # small sizes: a few minutes on 2 cores
    python benchmarks/summary.py --blocks 80 --instances 3 --mr-rounds 9  # more repetitions
    python benchmarks/summary.py --backend jax      # the rows that run without TensorFlow
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _backend import add_backend_argument
from _backend import select_backend


def pin_threads(argv=None):
    """``--threads N`` (default 1): the math libraries' thread count, set before import.

    One thread makes each ratio a ratio of work: on a small shared machine the scheduling
    of several threads moves a step's time by +-5% from one process to the next (see the
    A/A control row), one thread by about 1-2%.  ``--threads 0`` keeps the libraries'
    defaults.
    """
    argv = sys.argv[1:] if argv is None else argv
    threads = "1"
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
    if threads != "0":
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", threads)
        flags = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
        os.environ.setdefault("XLA_FLAGS", flags if threads == "1" else "")
        os.environ.setdefault("OMP_NUM_THREADS", threads)
    return int(threads)


select_backend()  # before Keras is imported
if __name__ == "__main__":  # not when imported (e.g. by the tests)
    pin_threads()

import adversarial
import ciw
import keras
import meta_weight
import mr_overhead
from _rows import table

from keras_mr.benchmarking.registry import Registry

GROUPS = Registry("summary group")
GROUPS.register(
    "mr",
    lambda args: mr_overhead.epoch_rows(
        args.mr_n, args.batch_size, args.mr_epochs, args.mr_eval_batch, args.mr_rounds
    ),
)
GROUPS.register(
    "constrained",
    lambda args: ciw.step_rows(
        args.batch_size, args.width, args.instances, args.blocks, args.block_steps
    ),
)
GROUPS.register(
    "meta",
    lambda args: meta_weight.step_rows(
        args.batch_size, args.width, args.instances, args.blocks, args.block_steps
    ),
)
GROUPS.register(
    "adversarial",
    lambda args: adversarial.step_rows(
        args.batch_size,
        args.pgd_steps,
        args.trades_steps,
        args.free_replays,
        args.probe_passes,
        args.blocks,
        args.adv_block_steps,
    ),
)


TENSORFLOW_ONLY = {"constrained", "meta", "adversarial"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=GROUPS.names(), choices=GROUPS.names())
    parser.add_argument("--blocks", type=int, default=40, help="turns of every method")
    parser.add_argument("--block-steps", type=int, default=10, help="MLP steps per turn")
    parser.add_argument(
        "--instances", type=int, default=2, help="identical models per method (MLP rows)"
    )
    parser.add_argument("--adv-block-steps", type=int, default=2, help="CNN steps per turn")
    parser.add_argument("--mr-rounds", type=int, default=7, help="interleaved MR epoch runs")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=256, help="MLP width")
    parser.add_argument("--mr-n", type=int, default=6000, help="MR rows: training examples")
    parser.add_argument("--mr-epochs", type=int, default=3)
    parser.add_argument("--mr-eval-batch", type=int, default=1024)
    parser.add_argument("--pgd-steps", type=int, default=7)
    parser.add_argument("--trades-steps", type=int, default=10)
    parser.add_argument("--free-replays", type=int, default=4)
    parser.add_argument("--probe-passes", type=int, default=4)
    parser.add_argument(
        "--threads", type=int, default=1, help="math library threads (0: their defaults)"
    )
    add_backend_argument(parser)
    args = parser.parse_args(argv)

    rows, skipped = [], []
    for group in args.groups:
        if group in TENSORFLOW_ONLY and keras.backend.backend() != "tensorflow":
            skipped.append(group)
            continue
        rows += GROUPS.get(group)(args)
        print(f"[{group} done]", flush=True)
    print(
        f"\nkeras-mr timing summary (backend {keras.backend.backend()}, "
        f"{args.threads or 'default'} "
        f"thread(s); steps: {args.blocks} "
        f"interleaved turns, 20th percentile, {args.instances} instances each; MR epochs: "
        f"median of {args.mr_rounds} paired rounds; "
        "ratios to a plain step/epoch of the same network)\n"
    )
    print(table(rows))
    if skipped:
        print(f"\nNeeds TensorFlow (skipped on {keras.backend.backend()}): {', '.join(skipped)}")


if __name__ == "__main__":
    main()

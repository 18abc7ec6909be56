"""Fashion-MNIST with label noise: base vs MR vs clean-label training (and the runner's other
methods: ``oracle``, the ideal filter; ``mr_mixup``; and this script's own
``mr_relabel``, MR's flagged labels replaced by its predictions, then retrained).

Reproduces the recorded result of issue 3 (see docs/noise_and_datasets.md):

    python benchmarks/noisy_fmnist.py --train-size 4000 --test-size 2000 --width 16 \
        --dense 256 --batch-size 32 --epochs 40 --eta 0.1

and the full 60k table of issue 11 (docs/benchmarks.md, "Full Fashion-MNIST")::

    python benchmarks/noisy_fmnist.py --train-size 60000 --test-size 10000 --width 16 \
        --dense 1024 --batch-size 128 --epochs 30 --lr-decay cosine --seeds 0,1,2 \
        --methods base,mr,clean,oracle

Real Fashion-MNIST files are needed (``apt-get install -y dataset-fashion-mnist``
or the four gz files in ``$KERAS_HOME/datasets/fashion-mnist/``).  Prints the
papers-style table (final and best test accuracy, mean ± std over seeds),
the gaps MR - clean and MR - base at the final epoch, and writes CSV/JSON and
plots to ``--out``.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _backend import add_backend_argument
from _backend import select_backend

select_backend()  # before Keras is imported

from keras_mr.benchmarking import runner
from keras_mr.benchmarking.datasets import fashion_mnist_available
from keras_mr.benchmarking.runner.cli import auto_or_float


def _mr_relabel(ctx):
    """MR, then plain training from scratch on MR's corrected labels (two stages).

    Stage 1 trains the runner's ``mr`` method (same seed, data and budget as an ``mr``
    run). The examples :func:`keras_mr.find_label_issues` flags (its default set size,
    the estimated noise rate) get the stage-1 model's predicted labels; stage 2, the run
    the runner records, trains a fresh model on all examples with those labels. Prints
    the share of wrong labels before and after. The run's ``seconds`` is stage 2's only.
    """
    import numpy as np

    import keras_mr

    stage1 = runner.METHODS["mr"](ctx)
    stage1.model.fit(
        stage1.train_data, epochs=ctx.epochs, callbacks=stage1.callbacks, verbose=0, shuffle=False
    )
    flagged = keras_mr.find_label_issues(stage1.callbacks[0])
    logits = stage1.model.predict(ctx.data.x_train, batch_size=1024, verbose=0)
    labels = np.where(flagged, np.argmax(logits, axis=-1), ctx.y_noisy)
    print(
        f"mr_relabel seed {ctx.seed}: relabelled {int(flagged.sum())} flagged examples, wrong "
        f"labels {np.mean(ctx.y_noisy != ctx.data.y_train):.4f} -> "
        f"{np.mean(labels != ctx.data.y_train):.4f}"
    )
    return runner.MethodPlan(ctx.build_model(), (ctx.data.x_train, labels))


if "mr_relabel" not in runner.METHODS:
    runner.register_method("mr_relabel", _mr_relabel)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--noise", default="symmetric")
    p.add_argument("--rate", type=float, default=0.4)
    p.add_argument("--methods", default="base,mr,clean")
    p.add_argument("--seeds", default="0")
    p.add_argument(
        "--train-size", type=int, default=4000, help="stratified subset of the 60k train set"
    )
    p.add_argument("--test-size", type=int, default=2000, help="subset of the 10k test set")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", default="none", choices=["none", "cosine"])
    p.add_argument("--width", type=int, default=16, help="CNN width (conv w, 2w; dense 4w)")
    p.add_argument("--dense", type=int, default=256, help="units of the CNN's dense layer")
    p.add_argument("--eta", type=auto_or_float, default="auto", help="a number or 'auto'")
    p.add_argument(
        "--max-weight",
        type=auto_or_float,
        default="auto",
        help="MR cap kappa on p_i: a number, 'auto' (default) or 'none'",
    )
    p.add_argument("--out", default="benchmark_results/noisy_fmnist")
    p.add_argument("--keras-verbose", type=int, default=0, help="2: one Keras line per epoch")
    add_backend_argument(p)
    args = p.parse_args(argv)
    if not fashion_mnist_available():
        print(
            "Fashion-MNIST files not found: apt-get install -y dataset-fashion-mnist",
            file=sys.stderr,
        )
        return 1
    methods = [m for m in args.methods.split(",") if m]
    res = runner.run_grid(
        datasets=["fashion_mnist"],
        noises=[args.noise],
        rates=[args.rate],
        methods=methods,
        seeds=[int(s) for s in args.seeds.split(",")],
        model="cnn",
        width=args.width,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer="adam",
        train_size=args.train_size,
        test_size=args.test_size,
        options={"eta": args.eta, "max_weight": args.max_weight},
        out_dir=args.out,
        keras_verbose=args.keras_verbose,
        model_kwargs={"dense": args.dense},
        lr_decay=None if args.lr_decay == "none" else args.lr_decay,
    )
    print()
    print(
        f"Fashion-MNIST, train subset {args.train_size}, CNN width {args.width} "
        f"dense {args.dense}, Adam lr {args.lr} ({args.lr_decay} decay), "
        f"batch {args.batch_size}, {args.epochs} epochs, MR eta {args.eta}, "
        f"max_weight {args.max_weight}"
    )
    print(res.table())
    rows = {r["method"]: r for r in res.summary_rows()}
    if {"mr", "clean", "base"} <= set(rows):
        mr, clean, base = (100 * rows[m]["final_mean"] for m in ("mr", "clean", "base"))
        print(
            f"\nfinal epoch: MR - clean = {mr - clean:+.2f} points (target >= -1.0), "
            f"MR - base = {mr - base:+.2f} points (target >= +10)"
        )
        if "oracle" in rows:  # the ceiling of any method that drops the wrong labels
            oracle = 100 * rows["oracle"]["final_mean"]
            print(
                f"oracle - clean = {oracle - clean:+.2f} points (the price of the lost examples), "
                f"MR - oracle = {mr - oracle:+.2f} points (the price of imperfect detection)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``keras-mr`` command line."""

import argparse
import importlib.util
import sys

from keras_mr.benchmarking.runner.grid import run_grid
from keras_mr.benchmarking.runner.methods import METHODS
from keras_mr.benchmarking.runner.models import MODELS


def _csv_list(text, cast=str):
    return [cast(t) for t in text.split(",") if t.strip()]


def build_parser():
    p = argparse.ArgumentParser(
        prog="keras-mr",
        description="Noisy-label benchmark: train methods on a dataset with synthetic label "
        "noise and print final/best test accuracy (mean ± std over seeds).",
    )
    p.add_argument(
        "--dataset",
        default="default",
        help="comma list: default, fashion_mnist, cifar10, cifar100, two_moons (default: default); "
        "in-memory datasets only (Clothing1M needs an image pipeline: use the Python API)",
    )
    p.add_argument(
        "--noise",
        default="symmetric",
        help="comma list: symmetric, uniform, pair, flip, flip2, instance, none",
    )
    p.add_argument(
        "--rate", "--rates", dest="rate", default="0.4", help="comma list of noise rates"
    )
    p.add_argument(
        "--methods",
        default="base,mr,random",
        help=f"comma list of methods; registered: {','.join(sorted(METHODS))}",
    )
    p.add_argument("--seeds", default="0", help="comma list of seeds (default 0)")
    p.add_argument(
        "--num-seeds", type=positive_int, default=None, help="use seeds 0..N-1 (overrides --seeds)"
    )
    p.add_argument("--model", default="auto", choices=["auto"] + sorted(MODELS))
    p.add_argument(
        "--width", type=positive_int, default=None, help="model width (default per model)"
    )
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", default="none", choices=["none", "cosine"])
    p.add_argument(
        "--eta", type=auto_or_float, default="auto", help="MR step size or 'auto' (default)"
    )
    p.add_argument(
        "--max-weight",
        type=auto_or_float,
        default="auto",
        help="MR cap kappa on p_i, 'auto' (default) or 'none'",
    )
    p.add_argument(
        "--train-size", type=positive_int, default=None, help="stratified training subset"
    )
    p.add_argument("--test-size", type=positive_int, default=None, help="stratified test subset")
    p.add_argument(
        "--data-dir",
        default=None,
        help="dataset folder (fashion_mnist files, tfds data_dir for cifar)",
    )
    p.add_argument("--out", default=None, help="output folder for CSV/JSON/plots")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument(
        "--verbose", type=int, default=1, help="0 quiet, 1 a line per run, 2 Keras progress"
    )
    return p


def positive_int(text):
    """A whole number >= 1 (epochs, batch size, sizes, seeds), else a one-line usage error."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def auto_or_float(text):
    """``"auto"``, ``None`` (for ``"none"``) or a float: the MR settings' argument type."""
    if text in ("auto", "none"):
        return None if text == "none" else text
    try:
        return float(text)
    except ValueError:
        message = f"expected a number, 'auto' or 'none', got {text!r}"
        raise argparse.ArgumentTypeError(message) from None


def main(argv=None):
    """Entry point of the ``keras-mr`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.out and not args.no_plots and importlib.util.find_spec("matplotlib") is None:
        # before any run: the plots are written after all of them
        parser.error(
            "--out writes plots with matplotlib, which is not installed: "
            "`pip install keras-mr[plots]`, or add --no-plots"
        )
    datasets = _csv_list(args.dataset)
    dataset_kwargs = {}
    if args.data_dir:
        # Only loaders that read files take a folder; the embedded/synthetic ones ignore it.
        key = {
            "fashion_mnist": "data_dir",
            "fmnist": "data_dir",
            "cifar10": "data_dir",
            "cifar100": "data_dir",
        }
        for d in datasets:
            if d in key:
                dataset_kwargs[d] = {key[d]: args.data_dir}
    try:
        rates = _csv_list(args.rate, float)
        result = run_grid(
            datasets=datasets,
            noises=_csv_list(args.noise),
            rates=rates,
            methods=_csv_list(args.methods),
            seeds=(list(range(args.num_seeds)) if args.num_seeds else _csv_list(args.seeds, int)),
            model=args.model,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=args.optimizer,
            lr=args.lr,
            width=args.width,
            train_size=args.train_size,
            test_size=args.test_size,
            dataset_kwargs=dataset_kwargs,
            lr_decay=args.lr_decay,
            options={"eta": args.eta, "max_weight": args.max_weight},
            out_dir=args.out,
            plots=not args.no_plots,
            verbose=int(args.verbose > 0),
            keras_verbose=2 if args.verbose > 1 else 0,
        )
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"keras-mr: error: {e}", file=sys.stderr)
        return 2
    print()
    print(result.table())
    if args.out:
        print(
            f"\nWrote results to {args.out}/ (runs.csv, summary.csv, results.json, table.md"
            f"{', plots' if not args.no_plots else ''})"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

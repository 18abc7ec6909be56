"""MR vs cleanlab on noisy Fashion-MNIST: who finds the wrong labels, who trains better.

One protocol for every training (same data subset, the runner's CNN, same epochs, batch
size and optimizer), label noise injected with exact counts (``keras_mr.benchmarking.noise``):

* **plain**: training on the noisy labels;
* **clean**: training on the true labels (the ceiling);
* **MR**: one training with ``MRSampleWeighter`` (its defaults unless ``--eta`` /
  ``--max-weight`` are given); its flagged set is ``keras_mr.find_label_issues(weighter)``
  (size from MR's own noise-rate estimate), its ranking the final weights;
* **cleanlab** (2.9, its standard recipe): ``--folds``-fold cross-validated predicted
  probabilities (one CNN per fold), ``cleanlab.filter.find_label_issues`` (default
  ``filter_by="prune_by_noise_rate"``) for the flagged set,
  ``cleanlab.rank.get_label_quality_scores`` for the ranking, then a CNN retrained on the
  examples it keeps.

Printed per (noise, seed): detection AUC and average precision of each tool's ranking,
precision and recall of each tool's own flagged set, estimated vs true number of wrong
labels, final-epoch test accuracy (no best-epoch picking) and the wall-time ratio
MR / cleanlab (cross-validation + retraining), measured in the same run.  With
``--eta-sweep`` MR is also trained with each fixed eta (``max_weight=2/N``) to compare the
defaults with the best hand-tuned eta.

Needs the Fashion-MNIST files (``apt-get install -y dataset-fashion-mnist``) and cleanlab
(``pip install -e '.[bench]'``)::

    python benchmarks/vs_cleanlab.py              # symmetric, pair, confusion 40 %, seeds 0-1
    python benchmarks/vs_cleanlab.py --seeds 0,1,2,3 --eta-sweep 0.01,0.1,0.5
"""

import argparse
import json
import logging
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _backend import add_backend_argument
from _backend import select_backend

select_backend()  # before Keras is imported

import numpy as np

NOISE_COUNT_TOLERANCE = {"symmetric": 0.05, "pair": 0.15}


def _parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--noises", default="symmetric,pair,confusion")
    p.add_argument("--rate", type=float, default=0.4)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--width", type=int, default=32, help="CNN width (the runner's default)")
    p.add_argument("--folds", type=int, default=3, help="cleanlab's cross-validation folds")
    p.add_argument("--eta", default=None, help="MR eta (default: the callback's default)")
    p.add_argument("--max-weight", default=None, help="MR cap (default: the callback's default)")
    p.add_argument(
        "--eta-sweep", default="", help="comma-separated fixed etas to train as well (cap 2/N)"
    )
    p.add_argument("--out", default="benchmark_results/vs_cleanlab")
    add_backend_argument(p)
    return p.parse_args(argv)


def _number_or_auto(value):
    return value if value in (None, "auto") else float(value)


class Protocol:
    """The shared training set-up: data, model builder, fit and evaluation."""

    def __init__(self, args):
        from keras_mr.benchmarking.datasets import load_dataset
        from keras_mr.benchmarking.runner.models import make_model_builder

        self.args = args
        self.data = load_dataset("fashion_mnist").subset(args.train_size, args.test_size, seed=0)
        self.build = make_model_builder(
            "cnn", self.data.input_shape, self.data.num_classes, "adam", args.lr, args.width
        )

    def fit(self, x, y, seed, callbacks=(), dataset=None):
        """Trains a fresh CNN; returns ``(model, final test accuracy, seconds)``."""
        import keras

        from keras_mr.benchmarking.timing import Stopwatch

        keras.utils.set_random_seed(seed)
        model = self.build()
        if dataset is None:
            data = dict(x=x, y=y, batch_size=self.args.batch_size)
        else:
            data = dict(x=dataset, shuffle=False)
        with Stopwatch() as clock:
            model.fit(**data, epochs=self.args.epochs, verbose=0, callbacks=list(callbacks))
        return model, self.accuracy(model), clock.wall

    def accuracy(self, model):
        logits = model.predict(self.data.x_test, batch_size=1024, verbose=0)
        return float(np.mean(np.argmax(logits, axis=1) == self.data.y_test))


def _detection(ranking, flagged, noisy_mask, accuracy, seconds):
    """One tool's row: ``ranking`` is low for suspicious examples, ``flagged`` its set."""
    from keras_mr.benchmarking.metrics import noisy_detection_auc
    from keras_mr.benchmarking.metrics import noisy_detection_average_precision

    tp = int(np.sum(flagged & noisy_mask))
    return {
        "auc": noisy_detection_auc(ranking, noisy_mask),
        "ap": noisy_detection_average_precision(ranking, noisy_mask),
        "precision": tp / max(int(flagged.sum()), 1),
        "recall": tp / max(int(noisy_mask.sum()), 1),
        "estimated": int(flagged.sum()),
        "accuracy": accuracy,
        "seconds": seconds,
    }


def run_mr(protocol, y_noisy, noisy_mask, seed, eta, max_weight):
    """One MR training: its own flagged set, its ranking, its test accuracy."""
    import keras_mr

    kwargs = {}
    if eta is not None:
        kwargs["eta"] = eta
    if max_weight is not None:
        kwargs["max_weight"] = max_weight
    weighter = keras_mr.MRSampleWeighter(verbose=0, **kwargs)
    ds = weighter.attach(
        protocol.data.x_train, y_noisy, batch_size=protocol.args.batch_size, seed=seed
    )
    _, acc, seconds = protocol.fit(None, None, seed, [weighter], dataset=ds)
    flagged = keras_mr.find_label_issues(weighter)
    return _detection(weighter.weights, flagged, noisy_mask, acc, seconds)


def _fold_ids(labels, folds, seed):
    """Stratified fold ids: every class spread evenly over the folds."""
    rng = np.random.default_rng(seed)
    ids = np.empty(labels.size, dtype=np.int64)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        ids[members] = np.arange(members.size) % folds
    return ids


def run_cleanlab(protocol, y_noisy, noisy_mask, seed):
    """cleanlab's recipe: cross-validated probabilities, its flagged set, retrain."""
    import cleanlab.filter
    import cleanlab.rank
    import keras

    x = protocol.data.x_train
    folds = _fold_ids(y_noisy, protocol.args.folds, seed)
    pred_probs = np.zeros((y_noisy.size, protocol.data.num_classes))
    seconds = 0.0
    for k in range(protocol.args.folds):
        train, held_out = folds != k, folds == k
        model, _, t = protocol.fit(x[train], y_noisy[train], seed + 1000 * (k + 1))
        logits = model.predict(x[held_out], batch_size=1024, verbose=0)
        pred_probs[held_out] = keras.ops.convert_to_numpy(keras.ops.softmax(logits))
        seconds += t
    flagged = cleanlab.filter.find_label_issues(labels=y_noisy, pred_probs=pred_probs)
    quality = cleanlab.rank.get_label_quality_scores(y_noisy, pred_probs)
    keep = ~flagged
    _, acc, t = protocol.fit(x[keep], y_noisy[keep], seed)
    return _detection(quality, flagged, noisy_mask, acc, seconds + t)


def _row(name, r, true_count):
    if "auc" not in r:
        return f"| {name} | – | – | – | – | – | {100 * r['accuracy']:.1f} |"
    return (
        f"| {name} | {r['auc']:.3f} | {r['ap']:.3f} | {r['precision']:.3f} | "
        f"{r['recall']:.3f} | {r['estimated']} / {true_count} | {100 * r['accuracy']:.1f} |"
    )


def _checks(noise, mr, cl, true_count):
    tol = NOISE_COUNT_TOLERANCE.get(noise, 0.15)
    off = abs(mr["estimated"] - true_count) / true_count
    return [
        ("MR precision >= cleanlab", mr["precision"] >= cl["precision"]),
        ("MR recall >= cleanlab", mr["recall"] >= cl["recall"]),
        (f"MR count within {tol:.0%} (off {off:.1%})", off <= tol),
        ("MR test acc >= cleanlab", mr["accuracy"] >= cl["accuracy"]),
    ]


def main(argv=None):
    args = _parse_args(argv)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # predict's retracing notes
    from keras_mr.benchmarking.datasets import fashion_mnist_available
    from keras_mr.benchmarking.noise import apply_noise

    if not fashion_mnist_available():
        print("Fashion-MNIST files not found: apt-get install -y dataset-fashion-mnist")
        return 1
    try:
        import cleanlab  # noqa: F401
    except ImportError:
        print("cleanlab is not installed: pip install -e '.[bench]'")
        return 1
    protocol = Protocol(args)
    n = len(protocol.data.y_train)
    sweep = [float(e) for e in args.eta_sweep.split(",") if e]
    eta, max_weight = _number_or_auto(args.eta), _number_or_auto(args.max_weight)
    import keras

    print(
        f"Keras {keras.__version__} on {keras.backend.backend()}; "
        f"Fashion-MNIST {n} train / {len(protocol.data.y_test)} test, CNN width {args.width}, "
        f"{args.epochs} epochs, batch {args.batch_size}, Adam {args.lr}; MR eta="
        f"{eta if eta is not None else 'default'}, max_weight="
        f"{max_weight if max_weight is not None else 'default'}; cleanlab {args.folds}-fold",
        flush=True,
    )
    records, all_ok = [], True
    for noise in args.noises.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            noisy = apply_noise(
                noise,
                protocol.data.y_train,
                args.rate,
                protocol.data.num_classes,
                seed=seed,
                x=protocol.data.x_train,
            )
            y_noisy, mask = noisy.noisy_labels, noisy.noisy_mask
            true_count = int(mask.sum())
            res = {"mr": run_mr(protocol, y_noisy, mask, seed, eta, max_weight)}
            res["cleanlab"] = run_cleanlab(protocol, y_noisy, mask, seed)
            for e in sweep:
                res[f"mr eta={e:g}"] = run_mr(protocol, y_noisy, mask, seed, e, 2.0 / n)
            res["plain"] = {"accuracy": protocol.fit(protocol.data.x_train, y_noisy, seed)[1]}
            res["clean"] = {
                "accuracy": protocol.fit(protocol.data.x_train, protocol.data.y_train, seed)[1]
            }
            print(f"\n{noise} {args.rate:.0%}, seed {seed} ({true_count} wrong labels)")
            print("| method | AUC | AP | precision | recall | flagged / true | test acc |")
            print("|---|---|---|---|---|---|---|")
            for name, r in res.items():
                print(_row(name, r, true_count))
            ratio = res["mr"]["seconds"] / res["cleanlab"]["seconds"]
            print(f"wall time MR / cleanlab (CV + retrain): {ratio:.2f}")
            for what, ok in _checks(noise, res["mr"], res["cleanlab"], true_count):
                all_ok &= ok
                print(f"  [{'ok' if ok else 'MISSED'}] {what}")
            if sweep:
                best = max(res[f"mr eta={e:g}"]["accuracy"] for e in sweep)
                gap = 100 * (res["mr"]["accuracy"] - best)
                all_ok &= gap >= -1.0
                print(
                    f"  [{'ok' if gap >= -1.0 else 'MISSED'}] MR defaults vs best fixed eta: "
                    f"{gap:+.1f} points (target >= -1.0)"
                )
            records.append({"noise": noise, "seed": seed, "true": true_count, **res})
            sys.stdout.flush()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"args": vars(args), "runs": records}, f, indent=1)
    print(f"\nall targets met: {all_ok}; results in {args.out}/results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

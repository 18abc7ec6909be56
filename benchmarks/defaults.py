"""Do MR's defaults help, or at least not hurt, on data they were not tuned on?

A grid over data sets, architectures, tasks, noise kinds and rates.  Every cell trains:

* **plain**: the network on the noisy targets;
* **MR**: the same with ``keras_mr.MRSampleWeighter()`` and no argument (``eta="auto"``,
  ``max_weight="auto"``);
* **fixed**: MR with each fixed ``eta`` of ``--sweep``, with and without a cap (``--caps``;
  ``2/N`` caps every weight at twice the uniform one), the best of them reported;
* **oracle** (noisy cells): plain training on the correctly-labelled examples only.

Per cell: the final-epoch test score (accuracy in %, multi-label: per-label accuracy in %,
regression: ``100 R^2``), MR's estimated noise rate (``mr_noise_rate`` of its last update)
against the true one, and the precision / recall / flagged share of
``keras_mr.find_label_issues(weighter)``.  Each row ends in a verdict against the
acceptance of the defaults: at 0% noise MR within 0.5 points of plain and at most 2% of the
examples flagged; with noise MR >= plain and within 1.5 points of the best fixed eta, the
rate within 0.05 (symmetric) or 0.10 (other kinds) of the truth.

The data sets (``--datasets``):

| name | data | N | steps/epoch | network | epochs | noise rates |
|---|---|---|---|---|---|---|
| small | procedural 8x8 images, 10 classes | 1,200 | 19 (batch 64) | MLP 256-256 | 60 | 0-40% |
| medium | procedural 8x8 images, 10 classes | 5,000 | 40 (batch 128) | CNN 16/32 | 20 | 0-40% |
| fm10k | Fashion-MNIST subset | 10,000 | 79 (batch 128) | CNN 16/32, 256 | 12 | 0, 10, 40% |
| fm60k | Fashion-MNIST, all | 60,000 | 469 (batch 128) | MLP 256-256 | 6 | 0, 40% |
| binary | procedural, classes 0-4 vs 5-9, BCE | 1,200 | 19 | MLP | 60 | 0, 10, 40% |
| multilabel | procedural, 6 attributes per class, BCE | 1,200 | 19 | MLP | 60 | 0, 10, 40% |
| regression | procedural, tanh of a projection, MSE | 1,200 | 19 | MLP | 60 | 0, 10, 40% |

Noise (``--kinds``): ``symmetric``, ``pair`` (c -> c + 1) and ``confusion`` (look-alike
classes: nearest class means, ``keras_mr.benchmarking.noise.confusion_noise``) for the
multi-class sets; binary labels are flipped, multi-label examples get the attribute
vector of another class, regression targets get outliers (``+-`` 5 to 10 target
standard deviations).  Fashion-MNIST needs ``apt-get install -y dataset-fashion-mnist``
(skipped with a note otherwise).

Runs are cached in ``--out/runs.jsonl`` (one line per run), so an interrupted grid
continues where it stopped and a second call only prints the table::

    python benchmarks/defaults.py                       # the quick grid (about 60 min, 2 cores)
    python benchmarks/defaults.py --datasets small --rates 0,0.4 --kinds symmetric --seeds 0
"""

import argparse
import functools
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _backend import add_backend_argument
from _backend import select_backend

select_backend()  # before Keras is imported

import numpy as np

# name -> (task, network, batch size, epochs, noise rates of the default grid)
ALL_RATES = (0.0, 0.05, 0.1, 0.2, 0.4)
DATASETS = {
    "small": ("multiclass", "mlp", 64, 60, ALL_RATES),
    "medium": ("multiclass", "cnn", 128, 20, ALL_RATES),
    "fm10k": ("multiclass", "cnn", 128, 12, (0.0, 0.1, 0.4)),
    "fm60k": ("multiclass", "mlp", 128, 6, (0.0, 0.4)),
    "binary": ("binary", "mlp", 64, 60, (0.0, 0.1, 0.4)),
    "multilabel": ("multilabel", "mlp", 64, 60, (0.0, 0.1, 0.4)),
    "regression": ("regression", "mlp", 64, 60, (0.0, 0.1, 0.4)),
}
MULTICLASS_KINDS = ("symmetric", "pair", "confusion")
ZERO_TOLERANCE = 0.5  # points, MR vs plain at 0% noise
SWEEP_TOLERANCE = 1.5  # points, MR vs the best fixed eta
RATE_TOLERANCE = {"symmetric": 0.05}  # others: 0.10
MAX_FLAGGED_CLEAN = 0.02


def _parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--datasets", default="small,medium,fm10k,fm60k,binary,multilabel,regression")
    p.add_argument("--rates", default=None, help="noise rates (default: each data set's own)")
    p.add_argument("--kinds", default=",".join(MULTICLASS_KINDS))
    p.add_argument("--seeds", default="0", help="seeds of every row")
    p.add_argument("--headline-seeds", default="0,1,2", help="seeds of the 0%% rows")
    p.add_argument("--sweep", default="0.1,1.0", help="fixed etas of the sweep")
    p.add_argument("--caps", default="none,2/N", help="caps of the sweep: none and/or 2/N")
    p.add_argument("--sweep-rates", default="0.4", help="noise rates that get the sweep")
    p.add_argument("--epochs-scale", type=float, default=1.0, help="multiplies every budget")
    p.add_argument("--out", default="benchmark_results/defaults")
    add_backend_argument(p)
    return p.parse_args(argv)


# ------------------------------------------------------------------------- data


def _procedural(n_train, seed=0):
    from keras_mr.benchmarking.datasets import load_dataset

    return load_dataset("default", n_train=n_train, n_test=2000, seed=seed)


@functools.lru_cache(maxsize=2)
def load_cell_data(name):
    """``(x_train, y_train, x_test, y_test, num_classes)`` of a data set (clean targets).

    Cached: every run of a data set reads the same arrays (nothing writes to them).
    """
    if name in ("fm10k", "fm60k"):
        from keras_mr.benchmarking.datasets import load_dataset

        data = load_dataset("fashion_mnist")
        if name == "fm10k":
            data = data.subset(10000, 2000, seed=0)
        return data.x_train, data.y_train, data.x_test, data.y_test, 10
    data = _procedural(5000 if name == "medium" else 1200)
    x, y, xt, yt = data.x_train, data.y_train, data.x_test, data.y_test
    if name == "binary":
        return x, (y >= 5).astype("float32"), xt, (yt >= 5).astype("float32"), 2
    if name == "multilabel":
        table = _attribute_table(10)
        return x, table[y], xt, table[yt], table.shape[1]
    if name == "regression":
        w = np.random.default_rng(1).normal(size=x[0].size) / np.sqrt(x[0].size)
        target = np.tanh(x.reshape(len(x), -1) @ w).astype("float32")
        scale = target.std()
        test_target = np.tanh(xt.reshape(len(xt), -1) @ w).astype("float32")
        return x, target / scale, xt, test_target / scale, 1
    return x, y, xt, yt, 10


def _attribute_table(num_classes, attributes=6):
    """A fixed ``(classes, attributes)`` 0/1 table: every class has a distinct attribute set."""
    rng = np.random.default_rng(7)
    while True:
        table = rng.integers(0, 2, size=(num_classes, attributes)).astype("float32")
        if len({tuple(row) for row in table}) == num_classes:
            return table


def add_noise(name, kind, rate, x, y, num_classes, seed):
    """Noisy targets and the mask of the corrupted examples."""
    from keras_mr.benchmarking.noise import apply_noise

    n = len(y)
    if rate == 0:
        return y.copy(), np.zeros(n, bool)
    if DATASETS[name][0] == "multiclass":
        res = apply_noise(kind, y, rate, num_classes, seed=seed, x=x)
        return res.noisy_labels, res.noisy_mask
    task = DATASETS[name][0]
    rng = np.random.default_rng(seed + 100)
    chosen = rng.permutation(n)[: int(round(rate * n))]
    mask = np.zeros(n, bool)
    mask[chosen] = True
    noisy = y.copy()
    if task == "binary":
        noisy[chosen] = 1.0 - noisy[chosen]
    elif task == "multilabel":
        table = _attribute_table(10)
        classes = np.array([int(np.flatnonzero((table == row).all(1))[0]) for row in y[chosen]])
        other = (classes + rng.integers(1, 10, size=classes.size)) % 10
        noisy[chosen] = table[other]
    else:  # regression outliers
        signs = rng.choice([-1.0, 1.0], size=chosen.size)
        noisy[chosen] = noisy[chosen] + signs * rng.uniform(5, 10, size=chosen.size)
    return noisy, mask


# ---------------------------------------------------------------------- training


def build_model(name, input_shape, num_classes):
    import keras

    from keras_mr.benchmarking.runner.models import MODELS

    task, network = DATASETS[name][:2]
    outputs = {"binary": 1, "multilabel": num_classes, "regression": 1}.get(task, num_classes)
    kwargs = {"width": 16, "dense": 256} if network == "cnn" else {}
    model = MODELS[network](input_shape, outputs, **kwargs)
    loss = {
        "multiclass": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        "binary": keras.losses.BinaryCrossentropy(from_logits=True),
        "multilabel": keras.losses.BinaryCrossentropy(from_logits=True),
        "regression": keras.losses.MeanSquaredError(),
    }[task]
    model.compile(keras.optimizers.Adam(1e-3), loss)
    return model


def test_score(name, model, x_test, y_test):
    """Accuracy in % (multi-label: per-label), regression ``100 R^2``."""
    out = model.predict(x_test, batch_size=1024, verbose=0)
    task = DATASETS[name][0]
    if task == "multiclass":
        return 100.0 * float(np.mean(out.argmax(-1) == y_test))
    if task in ("binary", "multilabel"):
        return 100.0 * float(np.mean((out.reshape(y_test.shape) > 0) == (y_test > 0.5)))
    residual = np.mean((out.reshape(-1) - y_test) ** 2)
    return 100.0 * float(1.0 - residual / np.var(y_test))


def run_one(name, kind, rate, seed, method, cache, epochs_scale=1.0):
    """One training (cached by its key); returns its record."""
    key = f"{name}|{kind}|{rate}|{seed}|{method}|{epochs_scale}"
    if key in cache:
        return cache[key]
    import keras

    import keras_mr
    from keras_mr.benchmarking.timing import Stopwatch

    x, y, xt, yt, k = load_cell_data(name)
    y_noisy, mask = add_noise(name, kind, rate, x, y, k, seed)
    _, _, batch, epochs, _ = DATASETS[name]
    epochs = max(1, int(round(epochs * epochs_scale)))
    keras.utils.set_random_seed(seed)
    model = build_model(name, x.shape[1:], k)
    record = {"key": key, "true_rate": float(mask.mean())}
    with Stopwatch() as clock:
        if method in ("plain", "oracle"):
            keep = ~mask if method == "oracle" else np.ones(len(y), bool)
            model.fit(x[keep], y_noisy[keep], batch_size=batch, epochs=epochs, verbose=0)
        else:
            weighter = keras_mr.MRSampleWeighter(verbose=0, **_mr_settings(method, len(y)))
            ds = weighter.attach(x, y_noisy, batch_size=batch, seed=seed)
            history = model.fit(ds, epochs=epochs, verbose=0, shuffle=False, callbacks=[weighter])
            flagged = keras_mr.find_label_issues(weighter)
            tp = int(np.sum(flagged & mask))
            record.update(
                # logged by the automatic settings only
                estimated_rate=float(history.history.get("mr_noise_rate", [np.nan])[-1]),
                flagged=float(flagged.mean()),
                precision=tp / max(int(flagged.sum()), 1),
                recall=tp / max(int(mask.sum()), 1),
                noisy_mass=float(weighter.weights[mask].sum()),
            )
    record.update(score=test_score(name, model, xt, yt), seconds=clock.wall)
    cache[key] = record
    return record


def _mr_settings(method, n):
    """``"mr"`` -> defaults; ``"eta=0.1,cap=2/N"`` -> fixed settings."""
    if method == "mr":
        return {}
    parts = dict(part.split("=") for part in method.split(","))
    cap = parts.get("cap", "none")
    return {
        "eta": float(parts["eta"]),
        "max_weight": None if cap == "none" else float(cap.split("/")[0]) / n,
    }


# ------------------------------------------------------------------------- table


def cells(args):
    """``(dataset, kind, rate, seeds, sweep?)`` of the grid, in run order."""
    seeds = [int(s) for s in args.seeds.split(",")]
    headline = [int(s) for s in args.headline_seeds.split(",")]
    sweep_rates = {float(r) for r in args.sweep_rates.split(",") if r}
    out = []
    for name in args.datasets.split(","):
        if name not in DATASETS:
            raise SystemExit(f"--datasets: unknown {name!r}; choose from {', '.join(DATASETS)}")
        kinds = args.kinds.split(",") if DATASETS[name][0] == "multiclass" else ["flip"]
        rates = DATASETS[name][4] if args.rates is None else args.rates.split(",")
        for rate in map(float, rates):
            for kind in ["none"] if rate == 0 else kinds:
                out.append(
                    (name, kind, rate, headline if rate == 0 else seeds, rate in sweep_rates)
                )
    return out


def _mean(records, field):
    values = [r[field] for r in records if r.get(field) is not None]
    return float(np.mean(values)) if values else float("nan")


def verdict(row):
    """``ok`` or what missed, against the acceptance of the defaults."""
    misses = []
    if row["rate"] == 0:
        if row["mr"] < row["plain"] - ZERO_TOLERANCE:
            misses.append(f"MR {row['mr'] - row['plain']:+.2f} vs plain")
        if row["flagged"] > MAX_FLAGGED_CLEAN:
            misses.append(f"flags {100 * row['flagged']:.1f}%")
    else:
        if row["mr"] < row["plain"]:
            misses.append(f"MR {row['mr'] - row['plain']:+.2f} vs plain")
        if row.get("best_fixed") is not None and row["mr"] < row["best_fixed"] - SWEEP_TOLERANCE:
            misses.append(f"MR {row['mr'] - row['best_fixed']:+.2f} vs best fixed")
        tolerance = RATE_TOLERANCE.get(row["kind"], 0.10)
        if abs(row["estimated_rate"] - row["true_rate"]) > tolerance:
            misses.append(f"rate {row['estimated_rate']:.2f} vs {row['true_rate']:.2f}")
    return "ok" if not misses else "; ".join(misses)


def summarise(name, kind, rate, seeds, sweep, cache, args):
    def run(method, seed):
        return run_one(name, kind, rate, seed, method, cache, args.epochs_scale)

    plain = [run("plain", s) for s in seeds]
    mr = [run("mr", s) for s in seeds]
    row = {
        "dataset": name,
        "kind": kind,
        "rate": rate,
        "seeds": len(seeds),
        "plain": _mean(plain, "score"),
        "mr": _mean(mr, "score"),
        "true_rate": _mean(mr, "true_rate"),
        "estimated_rate": _mean(mr, "estimated_rate"),
        "flagged": _mean(mr, "flagged"),
        "precision": _mean(mr, "precision"),
        "recall": _mean(mr, "recall"),
        "oracle": None,
        "best_fixed": None,
        "best_fixed_name": "",
    }
    if rate > 0:
        row["oracle"] = _mean([run("oracle", s) for s in seeds], "score")
    if sweep and rate > 0:
        fixed = {}
        for eta in args.sweep.split(","):
            for cap in args.caps.split(","):
                method = f"eta={eta},cap={cap}"
                fixed[method] = _mean([run(method, s) for s in seeds], "score")
        row["best_fixed_name"], row["best_fixed"] = max(fixed.items(), key=lambda kv: kv[1])
    row["verdict"] = verdict(row)
    return row


def format_table(rows):
    header = (
        "| data | noise | rate | seeds | plain | MR defaults | MR - plain | best fixed eta "
        "| oracle | est. rate | flagged | precision | recall | verdict |"
    )
    lines = [header, "|" + "---|" * 14]
    for r in rows:
        best = "-" if r["best_fixed"] is None else f"{r['best_fixed']:.2f} ({r['best_fixed_name']})"
        oracle = "-" if r["oracle"] is None else f"{r['oracle']:.2f}"
        detection = f"{r['precision']:.2f} | {r['recall']:.2f}" if r["rate"] > 0 else "- | -"
        lines.append(
            f"| {r['dataset']} | {r['kind']} | {100 * r['rate']:.0f}% | {r['seeds']} "
            f"| {r['plain']:.2f} | {r['mr']:.2f} | {r['mr'] - r['plain']:+.2f} | {best} "
            f"| {oracle} | {r['estimated_rate']:.3f} (true {r['true_rate']:.3f}) "
            f"| {100 * r['flagged']:.1f}% "
            f"| {detection} | {r['verdict']} |"
        )
    met = sum(r["verdict"] == "ok" for r in rows)
    lines.append(f"\n{met} of {len(rows)} rows meet every target.")
    return "\n".join(lines)


def main(argv=None):
    args = _parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "runs.jsonl")
    cache = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                cache[record["key"]] = record

    class Writer(dict):
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            with open(path, "a") as f:
                f.write(json.dumps(value) + "\n")

    cache = Writer(cache)
    rows = []
    for name, kind, rate, seeds, sweep in cells(args):
        if name.startswith("fm"):
            from keras_mr.benchmarking.datasets.fashion_mnist import fashion_mnist_available

            if not fashion_mnist_available():
                print(f"skipped {name}: no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
                continue
        row = summarise(name, kind, rate, seeds, sweep, cache, args)
        rows.append(row)
        print(
            f"{name} {kind} {100 * rate:.0f}%: plain {row['plain']:.2f}, MR {row['mr']:.2f}, "
            f"rate {row['estimated_rate']:.3f}/{row['true_rate']:.3f} -> {row['verdict']}",
            flush=True,
        )
    table = format_table(rows)
    print("\n" + table)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table + "\n")
    return rows


if __name__ == "__main__":
    main()

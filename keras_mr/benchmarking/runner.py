"""Noisy-label benchmark runner: dataset x noise x rate x method x seed grids.

Python API::

    from keras_mr.benchmarking import runner
    results = runner.run_grid(datasets=["default"], noises=["symmetric"], rates=[0.4],
                              methods=["base", "mr", "random", "clean"], epochs=20)
    print(results.table())

Command line (the ``keras-mr`` console script, or ``python -m keras_mr``)::

    keras-mr --dataset default --noise symmetric --rate 0.4 --methods base,mr,random --epochs 20

Every run trains a fresh model on the noisy training labels and evaluates the
clean test set after every epoch.  The results table follows the papers:
final-epoch and best test accuracy (%), mean ± std over seeds, plus the
noisy-detection AUC of the final weights for weighting methods.  With
``out_dir`` the runner writes ``runs.csv`` (one row per run), ``summary.csv``,
``results.json`` (including per-epoch curves) and plots.

Methods are a registry (:data:`METHODS`): ``name -> fn(ctx) -> MethodPlan``.
Later methods register themselves with :func:`register_method`; see
:class:`RunContext` and :class:`MethodPlan` for the contract.
"""

import argparse
import csv
import dataclasses
import json
import os
import sys
import time
from typing import Any
from typing import Callable
from typing import Optional

import numpy as np

# ----------------------------------------------------------------- methods


@dataclasses.dataclass
class RunContext:
    """What a method builder gets.

    Attributes:
        data: the :class:`keras_mr.benchmarking.datasets.Dataset` (clean labels in ``y_train``).
        y_noisy: noisy training labels (what the method trains on).
        noisy_mask: bool ``(N,)``, ground truth of the noise (for logging only).
        build_model: ``fn() -> keras.Model``, a fresh compiled model (loss:
            sparse categorical cross-entropy on logits, metric ``accuracy``).
        batch_size: training batch size.
        epochs: number of epochs.
        seed: run seed (already applied with ``keras.utils.set_random_seed``).
        options: method options from the caller / CLI (e.g. ``eta``).
    """

    data: Any
    y_noisy: np.ndarray
    noisy_mask: np.ndarray
    build_model: Callable
    batch_size: int
    epochs: int
    seed: int
    options: dict


@dataclasses.dataclass
class MethodPlan:
    """What a method builder returns.

    Attributes:
        model: the compiled model to fit.
        train_data: ``(x, y)`` arrays (fit with ``batch_size`` and shuffling)
            or a ``tf.data.Dataset`` (e.g. from ``weighter.attach``).
        callbacks: extra callbacks (e.g. the weighter itself).
        weights_fn: optional ``fn() -> (N,)`` current example weights, read
            after every epoch for the noisy-mass curve and detection AUC.
    """

    model: Any
    train_data: Any
    callbacks: list = dataclasses.field(default_factory=list)
    weights_fn: Optional[Callable] = None


METHODS = {}


def register_method(name, fn=None):
    """Registers ``fn(ctx: RunContext) -> MethodPlan`` under ``name`` (usable as a decorator)."""

    def deco(f):
        METHODS[name] = f
        return f

    return deco(fn) if fn is not None else deco


@register_method("base")
def _base(ctx):
    """Plain training on the noisy labels."""
    return MethodPlan(ctx.build_model(), (ctx.data.x_train, ctx.y_noisy))


@register_method("clean")
def _clean(ctx):
    """Reference: plain training on the clean labels."""
    return MethodPlan(ctx.build_model(), (ctx.data.x_train, ctx.data.y_train))


@register_method("mr")
def _mr(ctx):
    """Multiplicative Reweighting (``MRSampleWeighter``); options ``eta``, ``max_weight``."""
    from keras_mr.mr.mr_sample_weighter import MRSampleWeighter

    weighter = MRSampleWeighter(
        eta=ctx.options.get("eta", 0.5),
        max_weight=ctx.options.get("max_weight"),
        noise_mask=ctx.noisy_mask,
    )
    ds = weighter.attach(ctx.data.x_train, ctx.y_noisy, batch_size=ctx.batch_size, seed=ctx.seed)
    return MethodPlan(ctx.build_model(), ds, [weighter], lambda: weighter.weights)


@register_method("random")
def _random(ctx):
    """Random (rectified-Gaussian) weighting baseline (``keras_mr.RandomSampleWeighter``)."""
    from keras_mr.mr.random_sample_weighter import RandomSampleWeighter

    weighter = RandomSampleWeighter(seed=ctx.seed, noise_mask=ctx.noisy_mask)
    ds = weighter.attach(ctx.data.x_train, ctx.y_noisy, batch_size=ctx.batch_size, seed=ctx.seed)
    return MethodPlan(ctx.build_model(), ds, [weighter], lambda: weighter.weights)


# ------------------------------------------------------------------ models


def _mlp(input_shape, num_classes, width=256):
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(width, activation="relu"),
            keras.layers.Dense(num_classes),
        ],
        name="mlp",
    )


def _cnn(input_shape, num_classes, width=32, dense=None):
    import keras

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(width, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(2 * width, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(dense or 4 * width, activation="relu"),
            keras.layers.Dense(num_classes),
        ],
        name="cnn",
    )


MODELS = {"mlp": _mlp, "cnn": _cnn}
"""Model registry: ``name -> fn(input_shape, num_classes, width, **model_kwargs) -> keras.Model``.

``mlp``: Flatten, two Dense(width=256) ReLU layers, logits.  ``cnn``: two
3x3 Conv(width=32, 2 width) + 2x2 max-pool blocks, Dense(``dense``, default
4 width), logits.  No dropout or weight decay: plain training is allowed to
memorise noisy labels, as in the papers' baselines.
"""


def _auto_model(input_shape):
    return "cnn" if len(input_shape) == 3 and min(input_shape[:2]) >= 16 else "mlp"


def make_model_builder(
    model,
    input_shape,
    num_classes,
    optimizer="adam",
    lr=1e-3,
    width=None,
    model_kwargs=None,
    decay_steps=None,
):
    """``fn() -> compiled keras.Model`` for the runner (logits + sparse CE + accuracy).

    With ``decay_steps`` the learning rate follows a cosine decay to 0 over
    that many steps (``keras.optimizers.schedules.CosineDecay``).
    """
    import keras

    if model == "auto":
        model = _auto_model(input_shape)
    if model not in MODELS:
        raise ValueError(f"Unknown `model` {model!r}; choose one of {sorted(MODELS)} or 'auto'.")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"`optimizer` must be 'adam' or 'sgd', got {optimizer!r}.")

    def build():
        kwargs = dict(model_kwargs or {})
        if width is not None:
            kwargs["width"] = width
        net = MODELS[model](input_shape, num_classes, **kwargs)
        rate = lr if not decay_steps else keras.optimizers.schedules.CosineDecay(lr, decay_steps)
        opt = (
            keras.optimizers.Adam(rate)
            if optimizer == "adam"
            else keras.optimizers.SGD(rate, momentum=0.9)
        )
        net.compile(
            opt, keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
        )
        return net

    return build


# --------------------------------------------------------------- one run


@dataclasses.dataclass
class RunResult:
    """One training run: identifiers, final/best test accuracy, curves."""

    dataset: str
    noise: str
    rate: float
    method: str
    seed: int
    final_acc: float
    best_acc: float
    realised_noise_rate: float
    test_acc: list
    noisy_mass: Optional[list] = None
    auc: Optional[float] = None
    ap: Optional[float] = None
    seconds: float = 0.0
    final_weights: Optional[np.ndarray] = None
    noisy_mask: Optional[np.ndarray] = None

    def summary(self):
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.pop("final_weights")
        d.pop("noisy_mask")
        return d


def _epoch_recorder(weights_fn, noisy_mask, store):
    import keras

    from keras_mr.benchmarking.metrics import noisy_weight_mass

    class _Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if weights_fn is not None and noisy_mask.any():
                store.append(noisy_weight_mass(weights_fn(), noisy_mask))

    return _Recorder()


def run_single(
    data,
    noise,
    rate,
    method,
    seed=0,
    model="auto",
    epochs=20,
    batch_size=64,
    optimizer="adam",
    lr=1e-3,
    width=None,
    options=None,
    verbose=0,
    noisy=None,
    model_kwargs=None,
    lr_decay=None,
    progress=None,
):
    """Trains one method on one noisy dataset and evaluates the test set every epoch.

    Args:
        data: a :class:`keras_mr.benchmarking.datasets.Dataset` (clean labels).
        noise: noise kind (see :func:`keras_mr.benchmarking.noise.apply_noise`).
        rate: noise rate.
        method: a key of :data:`METHODS`.
        seed: seed for the noise, the initialisation and the shuffling.
        model: ``"auto"``, ``"mlp"`` or ``"cnn"`` (see :data:`MODELS`).
        epochs, batch_size, optimizer, lr, width: training set-up.
        options: method options (e.g. ``{"eta": 0.5}``).
        model_kwargs: extra model arguments (e.g. ``{"dense": 256}`` for ``cnn``).
        lr_decay: ``None`` (constant) or ``"cosine"`` (to 0 at the last step).
        verbose: Keras ``fit`` verbosity.
        noisy: precomputed :class:`keras_mr.benchmarking.noise.NoisyLabels` (else generated).
        progress: optional ``fn(epoch, epochs)`` called after every epoch.

    Returns:
        :class:`RunResult`.
    """
    import keras

    from keras_mr.benchmarking import metrics
    from keras_mr.benchmarking.noise import apply_noise

    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; registered: {sorted(METHODS)}.")
    if noisy is None:
        noisy = apply_noise(noise, data.y_train, rate, data.num_classes, seed=seed, x=data.x_train)
    keras.utils.set_random_seed(seed)
    if lr_decay not in (None, "none", "cosine"):
        raise ValueError(f"`lr_decay` must be None or 'cosine', got {lr_decay!r}.")
    steps = epochs * int(np.ceil(len(data.y_train) / batch_size))
    build = make_model_builder(
        model,
        data.input_shape,
        data.num_classes,
        optimizer,
        lr,
        width,
        model_kwargs,
        decay_steps=steps if lr_decay == "cosine" else None,
    )
    ctx = RunContext(
        data,
        noisy.noisy_labels,
        noisy.noisy_mask,
        build,
        batch_size,
        epochs,
        seed,
        dict(options or {}),
    )
    plan = METHODS[method](ctx)
    mass = []
    callbacks = list(plan.callbacks) + [_epoch_recorder(plan.weights_fn, noisy.noisy_mask, mass)]
    if progress is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: progress(epoch + 1, epochs)
            )
        )
    fit_kwargs = dict(
        epochs=epochs,
        verbose=verbose,
        callbacks=callbacks,
        validation_data=(data.x_test, data.y_test),
        validation_batch_size=1024,
    )
    start = time.time()
    if isinstance(plan.train_data, tuple):
        x, y = plan.train_data
        hist = plan.model.fit(x, y, batch_size=batch_size, shuffle=True, **fit_kwargs)
    else:
        hist = plan.model.fit(plan.train_data, shuffle=False, **fit_kwargs)
    seconds = time.time() - start
    acc = [float(a) for a in hist.history["val_accuracy"]]
    result = RunResult(
        data.name,
        noise,
        float(rate),
        method,
        int(seed),
        acc[-1],
        max(acc),
        float(noisy.noisy_mask.mean()),
        acc,
        seconds=seconds,
        noisy_mask=noisy.noisy_mask,
    )
    if plan.weights_fn is not None:
        w = np.asarray(plan.weights_fn())
        result.final_weights = w
        result.noisy_mass = mass or None
        if noisy.noisy_mask.any() and not noisy.noisy_mask.all():
            result.auc = metrics.noisy_detection_auc(w, noisy.noisy_mask)
            result.ap = metrics.noisy_detection_average_precision(w, noisy.noisy_mask)
    return result


# -------------------------------------------------------------- the grid


def _mean_std(values):
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    if v.size == 0:
        return None, None
    return float(v.mean()), float(v.std())


def _pm(mean, std, scale=100.0, digits=2):
    if mean is None:
        return "-"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


class GridResult:
    """All runs of a grid, with the papers-style table and file exports."""

    def __init__(self, runs):
        self.runs = list(runs)

    @classmethod
    def load(cls, *paths):
        """Merges the runs of one or more ``results.json`` files (e.g. parallel jobs).

        Loaded runs carry no weights (no histograms), everything else is kept.
        """
        runs = []
        fields = {f.name for f in dataclasses.fields(RunResult)}
        for path in paths:
            with open(path) as f:
                for r in json.load(f)["runs"]:
                    runs.append(RunResult(**{k: v for k, v in r.items() if k in fields}))
        return cls(runs)

    def summary_rows(self):
        """One row per (dataset, noise, rate, method): mean and std over seeds."""
        groups = {}
        for r in self.runs:
            groups.setdefault((r.dataset, r.noise, r.rate, r.method), []).append(r)
        rows = []
        for (ds, nz, rate, method), rs in groups.items():
            f_m, f_s = _mean_std([r.final_acc for r in rs])
            b_m, b_s = _mean_std([r.best_acc for r in rs])
            a_m, a_s = _mean_std([r.auc for r in rs])
            rows.append(
                dict(
                    dataset=ds,
                    noise=nz,
                    rate=rate,
                    method=method,
                    seeds=len(rs),
                    final_mean=f_m,
                    final_std=f_s,
                    best_mean=b_m,
                    best_std=b_s,
                    auc_mean=a_m,
                    auc_std=a_s,
                    realised_noise_rate=rs[0].realised_noise_rate,
                )
            )
        return rows

    def table(self):
        """The results table (markdown): rows = methods, columns = rates (final / best)."""
        rows = self.summary_rows()
        blocks = []
        for ds, nz in dict.fromkeys((r["dataset"], r["noise"]) for r in rows):
            sub = [r for r in rows if r["dataset"] == ds and r["noise"] == nz]
            rates = sorted(dict.fromkeys(r["rate"] for r in sub))
            methods = list(dict.fromkeys(r["method"] for r in sub))
            head = ["method"]
            for rate in rates:
                head += [f"{rate:.0%} final", f"{rate:.0%} best", f"{rate:.0%} AUC"]
            lines = [
                f"{ds}, {nz} noise (test accuracy %, mean ± std over seeds)",
                "| " + " | ".join(head) + " |",
                "|" + "---|" * len(head),
            ]
            for m in methods:
                cells = [m]
                for rate in rates:
                    r = next((r for r in sub if r["method"] == m and r["rate"] == rate), None)
                    if r is None:
                        cells += ["-", "-", "-"]
                        continue
                    cells += [
                        _pm(r["final_mean"], r["final_std"]),
                        _pm(r["best_mean"], r["best_std"]),
                        _pm(r["auc_mean"], r["auc_std"], scale=1.0, digits=3),
                    ]
                lines.append("| " + " | ".join(cells) + " |")
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def write(self, out_dir, plots=True):
        """Writes ``runs.csv``, ``summary.csv``, ``results.json``, ``table.md`` and plots."""
        os.makedirs(out_dir, exist_ok=True)
        run_fields = [
            "dataset",
            "noise",
            "rate",
            "method",
            "seed",
            "final_acc",
            "best_acc",
            "realised_noise_rate",
            "auc",
            "ap",
            "seconds",
        ]
        with open(os.path.join(out_dir, "runs.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, run_fields)
            w.writeheader()
            for r in self.runs:
                w.writerow({k: getattr(r, k) for k in run_fields})
        rows = self.summary_rows()
        if not rows:
            raise ValueError("No runs to write.")
        with open(os.path.join(out_dir, "summary.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(out_dir, "results.json"), "w") as f:
            json.dump({"summary": rows, "runs": [r.summary() for r in self.runs]}, f, indent=1)
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write(self.table() + "\n")
        files = ["runs.csv", "summary.csv", "results.json", "table.md"]
        if plots:
            files += self.plot(out_dir)
        return [os.path.join(out_dir, f) for f in files]

    def plot(self, out_dir):
        """Accuracy curves, noisy-mass curves and weight histograms per setting."""
        from keras_mr.benchmarking import plots

        written = []
        settings = dict.fromkeys((r.dataset, r.noise, r.rate) for r in self.runs)
        for ds, nz, rate in settings:
            rs = [r for r in self.runs if (r.dataset, r.noise, r.rate) == (ds, nz, rate)]
            tag = f"{ds}_{nz}_{int(round(100 * rate))}"
            title = f"{ds}, {nz} {rate:.0%}"
            acc = {}
            mass = {}
            for r in rs:
                acc.setdefault(r.method, []).append(r.test_acc)
                if r.noisy_mass:
                    mass.setdefault(r.method, []).append(r.noisy_mass)
            name = f"accuracy_{tag}.png"
            plots.plot_accuracy_curves(acc, title=title, path=os.path.join(out_dir, name))
            written.append(name)
            if mass:
                name = f"noisy_mass_{tag}.png"
                plots.plot_noisy_mass(
                    mass,
                    noise_rate=rs[0].realised_noise_rate,
                    title=title,
                    path=os.path.join(out_dir, name),
                )
                written.append(name)
            for r in rs:
                if r.final_weights is not None and r.seed == rs[0].seed and r.auc is not None:
                    name = f"weights_{tag}_{r.method}.png"
                    plots.plot_weight_histograms(
                        r.final_weights,
                        r.noisy_mask,
                        title=f"{title}, {r.method}",
                        path=os.path.join(out_dir, name),
                    )
                    written.append(name)
        return written


def _epoch_counter(name, log):
    """``progress`` for :func:`run_single`: an epoch counter on one terminal line."""

    def show(epoch, epochs):
        print(f"\r{name}: epoch {epoch}/{epochs}", end="", file=log, flush=True)

    return show


def run_grid(
    datasets=("default",),
    noises=("symmetric",),
    rates=(0.4,),
    methods=("base", "mr", "random"),
    seeds=(0,),
    model="auto",
    epochs=20,
    batch_size=64,
    optimizer="adam",
    lr=1e-3,
    width=None,
    train_size=None,
    test_size=None,
    dataset_kwargs=None,
    options=None,
    out_dir=None,
    plots=True,
    verbose=1,
    keras_verbose=0,
    log=None,
    model_kwargs=None,
    lr_decay=None,
):
    """Runs the grid dataset x noise x rate x method x seed.

    Args:
        datasets: dataset names (see :func:`keras_mr.benchmarking.datasets.load_dataset`) or
            :class:`keras_mr.benchmarking.datasets.Dataset` objects.
        noises: noise kinds (see :func:`keras_mr.benchmarking.noise.apply_noise`).
        rates: noise rates.
        methods: method names (keys of :data:`METHODS`).
        seeds: seeds (noise, initialisation and shuffling of each run).
        model: ``"auto"`` (``cnn`` for images >= 16 px, else ``mlp``), ``"mlp"``, ``"cnn"``.
        epochs, batch_size, optimizer, lr, width: training set-up.
        train_size, test_size: stratified subsets (``None``: full sets).
        dataset_kwargs: dict ``name -> kwargs`` for the loaders.
        options: method options, e.g. ``{"eta": 0.5}``.
        out_dir: folder for CSV/JSON/plots (``None``: nothing written).
        plots: write plots to ``out_dir``.
        verbose: 1 prints one summary line per run.
        keras_verbose: verbosity of ``model.fit``.
        log: file-like for the progress lines (default ``sys.stdout``).
        model_kwargs: extra model arguments (e.g. ``{"dense": 256}``).
        lr_decay: ``None`` or ``"cosine"``.

    Returns:
        :class:`GridResult`.
    """
    from keras_mr.benchmarking.datasets import load_dataset
    from keras_mr.benchmarking.noise import apply_noise

    log = log or sys.stdout
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"Unknown method {m!r}; registered: {sorted(METHODS)}.")
    runs = []
    total = len(datasets) * len(noises) * len(rates) * len(methods) * len(seeds)
    count = 0
    for ds_spec in datasets:
        if isinstance(ds_spec, str):
            data = load_dataset(ds_spec, **(dataset_kwargs or {}).get(ds_spec, {}))
        else:
            data = ds_spec
        if train_size is not None or test_size is not None:
            data = data.subset(train_size, test_size, seed=0)
        for nz in noises:
            for rate in rates:
                for seed in seeds:
                    noisy = apply_noise(
                        nz, data.y_train, rate, data.num_classes, seed=seed, x=data.x_train
                    )
                    for method in methods:
                        count += 1
                        name = f"[{count}/{total}] {data.name} {nz} {rate:.0%} {method} seed {seed}"
                        live = verbose and not keras_verbose and getattr(log, "isatty", bool)()
                        r = run_single(
                            data,
                            nz,
                            rate,
                            method,
                            seed,
                            model,
                            epochs,
                            batch_size,
                            optimizer,
                            lr,
                            width,
                            options,
                            keras_verbose,
                            noisy=noisy,
                            model_kwargs=model_kwargs,
                            lr_decay=lr_decay,
                            progress=_epoch_counter(name, log) if live else None,
                        )
                        runs.append(r)
                        if verbose:
                            extra = f", AUC {r.auc:.3f}" if r.auc is not None else ""
                            print(
                                ("\r" if live else "") + f"{name}: "
                                f"final {100 * r.final_acc:.2f}% best {100 * r.best_acc:.2f}%"
                                f"{extra} ({r.seconds:.1f}s)",
                                file=log,
                                flush=True,
                            )
    result = GridResult(runs)
    if out_dir is not None:
        result.write(out_dir, plots=plots)
    return result


# -------------------------------------------------------------------- CLI


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
        "--num-seeds", type=int, default=None, help="use seeds 0..N-1 (overrides --seeds)"
    )
    p.add_argument("--model", default="auto", choices=["auto"] + sorted(MODELS))
    p.add_argument("--width", type=int, default=None, help="model width (default per model)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--optimizer", default="adam", choices=["adam", "sgd"])
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--lr-decay", default="none", choices=["none", "cosine"])
    p.add_argument("--eta", type=float, default=0.5, help="MR step size (default 0.5)")
    p.add_argument("--max-weight", type=float, default=None, help="MR cap kappa on p_i")
    p.add_argument("--train-size", type=int, default=None, help="stratified training subset")
    p.add_argument("--test-size", type=int, default=None, help="stratified test subset")
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


def main(argv=None):
    """Entry point of the ``keras-mr`` console script."""
    args = build_parser().parse_args(argv)
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

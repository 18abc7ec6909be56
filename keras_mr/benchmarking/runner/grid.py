"""Running one configuration and whole grids (dataset x noise x rate x method x seed)."""

import dataclasses
import sys
import time
from typing import Optional

import numpy as np

from keras_mr.benchmarking.runner.methods import METHODS
from keras_mr.benchmarking.runner.methods import RunContext
from keras_mr.benchmarking.runner.models import make_model_builder
from keras_mr.benchmarking.runner.results import GridResult
from keras_mr.benchmarking.runner.results import RunResult


def _epoch_recorder(weights_fn, noisy_mask, store):
    import keras

    from keras_mr.benchmarking.metrics import noisy_weight_mass

    class _Recorder(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if weights_fn is not None and noisy_mask.any():
                store.append(noisy_weight_mass(weights_fn(), noisy_mask))

    return _Recorder()


@dataclasses.dataclass(frozen=True)
class Training:
    """How one run trains: the keyword options of :func:`run_single` and :func:`run_grid`.

    Attributes:
        model: ``"auto"`` (``cnn`` for images >= 16 px, else ``mlp``) or a name of
            :data:`~keras_mr.benchmarking.runner.MODELS`.
        epochs: number of epochs.
        batch_size: training batch size.
        optimizer: ``"adam"`` or ``"sgd"`` (momentum 0.9).
        lr: learning rate.
        width: model width (``None``: the model's default).
        model_kwargs: extra model arguments (e.g. ``{"dense": 256}`` for ``cnn``).
        lr_decay: ``None`` (constant) or ``"cosine"`` (to 0 at the last step).

    Example:

    >>> from keras_mr.benchmarking.runner import Training
    >>> Training(epochs=3, lr=0.01).batch_size
    64
    """

    model: str = "auto"
    epochs: int = 20
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    width: Optional[int] = None
    model_kwargs: Optional[dict] = None
    lr_decay: Optional[str] = None

    def __post_init__(self):
        if self.lr_decay not in (None, "none", "cosine"):
            raise ValueError(f"`lr_decay` must be None or 'cosine', got {self.lr_decay!r}.")

    def model_builder(self, data):
        """``fn() -> compiled keras.Model`` for ``data`` (see :func:`make_model_builder`)."""
        steps = self.epochs * int(np.ceil(len(data.y_train) / self.batch_size))
        return make_model_builder(
            self.model,
            data.input_shape,
            data.num_classes,
            self.optimizer,
            self.lr,
            self.width,
            self.model_kwargs,
            decay_steps=steps if self.lr_decay == "cosine" else None,
        )


def run_single(
    data,
    noise,
    rate,
    method,
    seed=0,
    *,
    options=None,
    verbose=0,
    noisy=None,
    progress=None,
    **training,
):
    """Trains one method on one noisy dataset and evaluates the test set every epoch.

    Args:
        data: a :class:`keras_mr.benchmarking.datasets.Dataset` (clean labels).
        noise: noise kind (see :func:`keras_mr.benchmarking.noise.apply_noise`).
        rate: noise rate.
        method: a key of :data:`METHODS`.
        seed: seed for the noise, the initialisation and the shuffling.
        options: method options (e.g. ``{"eta": 0.5}``).
        verbose: Keras ``fit`` verbosity.
        noisy: precomputed :class:`keras_mr.benchmarking.noise.NoisyLabels` (else generated).
        progress: optional ``fn(epoch, epochs)`` called after every epoch.
        **training: the fields of :class:`Training` (``model``, ``epochs``,
            ``batch_size``, ``optimizer``, ``lr``, ``width``, ``model_kwargs``, ``lr_decay``).

    Returns:
        :class:`RunResult`.
    """
    import keras

    from keras_mr.benchmarking import metrics
    from keras_mr.benchmarking.noise import apply_noise

    METHODS.canonical(method)  # a clear error for an unknown name
    setup = Training(**training)
    if noisy is None:
        noisy = apply_noise(noise, data.y_train, rate, data.num_classes, seed=seed, x=data.x_train)
    keras.utils.set_random_seed(seed)
    ctx = RunContext(
        data,
        noisy.noisy_labels,
        noisy.noisy_mask,
        setup.model_builder(data),
        setup.batch_size,
        setup.epochs,
        seed,
        dict(options or {}),
    )
    plan = METHODS[method](ctx)
    mass = []
    callbacks = list(plan.callbacks) + [_epoch_recorder(plan.weights_fn, noisy.noisy_mask, mass)]
    if progress is not None:
        callbacks.append(
            keras.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: progress(epoch + 1, setup.epochs)
            )
        )
    fit_kwargs = dict(
        epochs=setup.epochs,
        verbose=verbose,
        callbacks=callbacks,
        validation_data=(data.x_test, data.y_test),
        validation_batch_size=1024,
    )
    start = time.time()
    if isinstance(plan.train_data, tuple):
        x, y = plan.train_data
        hist = plan.model.fit(x, y, batch_size=setup.batch_size, shuffle=True, **fit_kwargs)
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
    *,
    train_size: Optional[int] = None,
    test_size: Optional[int] = None,
    dataset_kwargs: Optional[dict] = None,
    options: Optional[dict] = None,
    out_dir: Optional[str] = None,
    plots: bool = True,
    verbose: int = 1,
    keras_verbose: int = 0,
    log=None,
    **training,
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
        epochs: number of epochs.
        train_size, test_size: stratified subsets (``None``: full sets).
        dataset_kwargs: dict ``name -> kwargs`` for the loaders.
        options: method options, e.g. ``{"eta": 0.5}``.
        out_dir: folder for CSV/JSON/plots (``None``: nothing written).
        plots: write plots to ``out_dir``.
        verbose: 1 prints one summary line per run.
        keras_verbose: verbosity of ``model.fit``.
        log: file-like for the progress lines (default ``sys.stdout``).
        **training: the other fields of :class:`Training` (``batch_size``,
            ``optimizer``, ``lr``, ``width``, ``model_kwargs``, ``lr_decay``).

    Returns:
        :class:`GridResult`.
    """
    from keras_mr.benchmarking.datasets import load_dataset
    from keras_mr.benchmarking.noise import apply_noise

    log = log or sys.stdout
    training = dict(training, model=model, epochs=epochs)
    Training(**training)  # a clear error for a bad option before the first run
    for m in methods:
        METHODS.canonical(m)
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
                            **training,
                            options=options,
                            verbose=keras_verbose,
                            noisy=noisy,
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

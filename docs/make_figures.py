"""Regenerates the figures of the documentation site (``docs/figures/*.png``).

Every figure comes from a short, seeded run on data that needs no download
(the embedded ``default`` dataset or two moons) and is drawn with
``keras_mr.benchmarking.plots`` where the library has a plot for it (the two-moons
decision boundaries are drawn by ``examples/two_moons_ciw.py``).  About three
minutes on 2 CPU cores::

    python docs/make_figures.py                 # all figures
    python docs/make_figures.py --only mr,eta   # some of them

Parts: ``mr`` (MR weight histograms, noisy mass, accuracy; random weighting),
``eta`` (eta and the cap), ``meta`` (Meta-Weight-Net), ``ciw`` (two moons),
``adversarial`` (PGD-AT on two moons).  Needs matplotlib
(``pip install -e '.[plots]'``).
"""

import argparse
import os
import pathlib
import subprocess
import sys
import time
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
sys.path.insert(0, str(ROOT))

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

import keras_mr
from keras_mr.benchmarking import plots
from keras_mr.benchmarking import runner

NOISE_RATE = 0.4
EPOCHS = 20
BATCH = 64
DPI = 100


def _save(fig, name):
    path = FIGURES / name
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"  wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KiB)")


class _Snapshots(keras.callbacks.Callback):
    """Copies the weighter's distribution after every epoch (put it after the weighter)."""

    def __init__(self, weighter):
        super().__init__()
        self.weighter = weighter
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(np.array(self.weighter.weights, copy=True))


def _default_data(seed=0):
    data = keras_mr.benchmarking.datasets.load_dataset("default")
    noisy = keras_mr.symmetric_noise(data.y_train, NOISE_RATE, data.num_classes, seed=seed)
    build = runner.make_model_builder("mlp", data.input_shape, data.num_classes)
    return data, noisy, build


def _fit_weighted(data, noisy, build, weighter, seed=0, epochs=EPOCHS):
    """Trains the runner's MLP with a weighter; returns (history, per-epoch weights)."""
    keras.utils.set_random_seed(seed)
    model = build()
    ds = weighter.attach(data.x_train, noisy.noisy_labels, batch_size=BATCH, seed=seed)
    snaps = _Snapshots(weighter)
    hist = model.fit(
        ds,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        validation_data=(data.x_test, data.y_test),
        validation_batch_size=1024,
        callbacks=[weighter, snaps],
    )
    return hist.history, snaps.weights


def _fit_plain(data, labels, build, seed=0, epochs=EPOCHS):
    keras.utils.set_random_seed(seed)
    model = build()
    hist = model.fit(
        data.x_train,
        labels,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        validation_data=(data.x_test, data.y_test),
        validation_batch_size=1024,
    )
    return hist.history


def _mass(weights, mask):
    return [keras_mr.noisy_weight_mass(w, mask) for w in weights]


# ----------------------------------------------------------------------- MR


def figures_mr():
    """MR page: weight histograms over epochs, noisy mass, accuracy; random weighting page."""
    data, noisy, build = _default_data()
    mask = noisy.noisy_mask
    mr = keras_mr.MRSampleWeighter(eta=0.5, max_weight=None, noise_mask=mask)
    mr_hist, mr_w = _fit_weighted(data, noisy, build, mr)
    rnd = keras_mr.RandomSampleWeighter(seed=0, noise_mask=mask)
    rnd_hist, rnd_w = _fit_weighted(data, noisy, build, rnd)
    base_hist = _fit_plain(data, noisy.noisy_labels, build)
    clean_hist = _fit_plain(data, data.y_train, build)

    shown = (1, 5, EPOCHS)
    fig, axes = plt.subplots(1, len(shown), figsize=(13, 3.6), sharey=True)
    for ax, epoch in zip(axes, shown):
        plots.plot_weight_histograms(
            mr_w[epoch - 1], mask, ax=ax, title=f"MR weights after epoch {epoch}"
        )
    _save(fig, "mr_weight_histograms.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    plots.plot_noisy_mass(
        {"MR (eta 0.5)": _mass(mr_w, mask), "random weighting": _mass(rnd_w, mask)},
        noise_rate=float(mask.mean()),
        ax=axes[0],
        title="weight on the 40% mislabelled examples",
    )
    plots.plot_accuracy_curves(
        {
            "noisy labels, plain": base_hist["val_accuracy"],
            "noisy labels, MR": mr_hist["val_accuracy"],
            "noisy labels, random weighting": rnd_hist["val_accuracy"],
            "clean labels, plain": clean_hist["val_accuracy"],
        },
        ax=axes[1],
        title="clean test accuracy",
    )
    _save(fig, "mr_noisy_mass.png")

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    plots.plot_weight_histograms(
        rnd_w[-1], mask, ax=axes[0], title=f"random weights, epoch {EPOCHS}"
    )
    plots.plot_weight_histograms(mr_w[-1], mask, ax=axes[1], title=f"MR weights, epoch {EPOCHS}")
    _save(fig, "random_weight_histograms.png")
    print(
        f"  final test accuracy: plain {base_hist['val_accuracy'][-1]:.3f}, "
        f"MR {mr_hist['val_accuracy'][-1]:.3f}, random {rnd_hist['val_accuracy'][-1]:.3f}, "
        f"clean {clean_hist['val_accuracy'][-1]:.3f}; MR AUC "
        f"{keras_mr.noisy_detection_auc(mr_w[-1], mask):.3f}, random AUC "
        f"{keras_mr.noisy_detection_auc(rnd_w[-1], mask):.3f}"
    )


# ---------------------------------------------------------------- eta / cap


def figures_eta():
    """'Choosing eta and the cap': ESS, noisy mass and accuracy for several settings."""
    data, noisy, build = _default_data()
    mask = noisy.noisy_mask
    n = len(mask)
    settings = {
        "eta 0.05": dict(eta=0.05, max_weight=None),
        "eta 0.5": dict(eta=0.5, max_weight=None),
        "eta 5": dict(eta=5.0, max_weight=None),
        "eta 5, cap 2/N": dict(eta=5.0, max_weight=2.0 / n),
    }
    ess, mass, acc = {}, {}, {}
    for name, kwargs in settings.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            hist, w = _fit_weighted(
                data, noisy, build, keras_mr.MRSampleWeighter(noise_mask=mask, **kwargs)
            )
        collapse = [c for c in caught if issubclass(c.category, RuntimeWarning)]
        ess[name], mass[name], acc[name] = (
            hist["mr_ess"],
            hist["mr_noisy_mass"],
            hist["val_accuracy"],
        )
        print(
            f"  {name:15s} final acc {acc[name][-1]:.3f}  ESS {ess[name][-1]:.3f}  "
            f"noisy mass {mass[name][-1]:.4f}  RuntimeWarnings {len(collapse)}"
        )
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.8))
    plots.plot_curves(
        ess, "effective sample size / N (mr_ess)", ax=axes[0], title="how many examples still count"
    )
    plots.plot_noisy_mass(
        mass, noise_rate=float(mask.mean()), ax=axes[1], title="weight on mislabelled examples"
    )
    plots.plot_accuracy_curves(acc, ax=axes[2], title="clean test accuracy")
    _save(fig, "eta_and_cap.png")


# ------------------------------------------------------------- meta-weighting


def figures_meta():
    """Meta-weighting page: the learned weighting function and the example weights (RMNW-Net)."""
    data = keras_mr.benchmarking.datasets.load_dataset("default")
    noisy = keras_mr.symmetric_noise(data.y_train, NOISE_RATE, data.num_classes, seed=0)
    split = keras_mr.split_meta_set(data.x_train, noisy.noisy_labels, per_class=10, seed=0)
    mask = noisy.noisy_mask[split.train_indices]
    keras.utils.set_random_seed(0)
    classifier = runner.make_model_builder("mlp", data.input_shape, data.num_classes)()
    import tensorflow as tf

    snapshots = {}
    model = keras_mr.MetaWeightNet(classifier, meta_loss="mae")
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train = (
        tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
        .shuffle(len(split.y_train), seed=0)
        .batch(100)
    )
    meta = keras_mr.meta_dataset(split.x_meta, split.y_meta, batch_size=100)
    losses = np.linspace(0.0, 6.0, 200)

    class _Curve(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in (1, 5, 15):
                snapshots[epoch + 1] = model.weight_function(losses)

    model.fit(
        keras_mr.with_meta_batches(train, meta),
        epochs=15,
        shuffle=False,
        verbose=0,
        callbacks=[_Curve()],
    )
    v = model.example_weights(split.x_train, split.y_train)
    acc = model.evaluate(data.x_test, data.y_test, verbose=0, return_dict=True)["accuracy"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for epoch, curve in snapshots.items():
        axes[0].plot(losses, curve, label=f"after epoch {epoch}")
    axes[0].set_xlabel("training loss l")
    axes[0].set_ylabel("weight W(l)")
    axes[0].set_title("learned weighting function (RMNW-Net)")
    axes[0].grid(alpha=0.3)
    axes[0].legend()
    # linear scale: W(l) lies in [0, 1] (plots.plot_weight_histograms uses a log scale)
    edges = np.linspace(0.0, float(v.max()) * 1.02, 41)
    axes[1].hist(v[~mask], bins=edges, alpha=0.6, label=f"clean ({(~mask).sum()})")
    axes[1].hist(v[mask], bins=edges, alpha=0.6, label=f"noisy ({mask.sum()})")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("W(l_i) after training")
    axes[1].set_ylabel("examples (log scale)")
    axes[1].set_title("weights of the training examples")
    axes[1].legend()
    _save(fig, "meta_weight_function.png")
    print(
        f"  RMNW-Net test accuracy {acc:.3f}, detection AUC "
        f"{keras_mr.noisy_detection_auc(v, mask):.3f}"
    )


# ------------------------------------------------------------------- CIW


def figures_ciw():
    """Constrained reweighting page: two-moons decision boundaries (examples/two_moons_ciw.py)."""
    out = FIGURES / "two_moons_ciw.png"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "two_moons_ciw.py"), str(out)],
        check=True,
        cwd=ROOT,
    )


# ------------------------------------------------------------- adversarial


def _moons(n, seed):
    x, y = keras_mr.benchmarking.datasets.make_moons(n, noise_std=0.1, seed=seed)
    return x.astype("float32"), y.astype("int32")


def figures_adversarial():
    """Adversarial page: natural and PGD accuracy over epochs, plain vs PGD-AT vs PGD-AT + MR."""
    x, y = _moons(1000, 0)
    xt, yt = _moons(500, 1)
    eps, epochs = 0.2, 20
    threat = keras_mr.adversarial.ThreatModel(eps, norm="inf", clip_min=None, clip_max=None)

    def mlp():
        return keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(2),
            ]
        )

    def robust_curve(model, attacker):
        """Per-epoch natural and PGD-10 test accuracy of ``model`` (attacked with ``attacker``)."""
        nat, rob = [], []

        class _Eval(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                x_adv = attacker.generate_adversarial(xt, yt, steps=10)
                nat.append(float(np.mean(np.argmax(model.predict(xt, verbose=0), -1) == yt)))
                rob.append(float(np.mean(np.argmax(model.predict(x_adv, verbose=0), -1) == yt)))

        return _Eval(), nat, rob

    curves = {}
    keras.utils.set_random_seed(0)
    plain = mlp()
    plain.compile(
        keras.optimizers.Adam(1e-2), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    cb, nat, rob = robust_curve(
        plain, keras_mr.PGDAdversarialModel(plain, threat_model=threat, steps=10)
    )
    plain.fit(x, y, batch_size=100, epochs=epochs, verbose=0, callbacks=[cb])
    curves["plain: natural"], curves["plain: PGD"] = nat, rob
    for name, with_mr in (("PGD-AT", False), ("PGD-AT + MR", True)):
        keras.utils.set_random_seed(0)
        model = keras_mr.PGDAdversarialModel(mlp(), threat_model=threat, steps=5, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        cb, nat, rob = robust_curve(model, model)
        if with_mr:
            weighter = keras_mr.MRSampleWeighter(
                eta=0.1, max_weight=None, per_example_loss_fn=keras_mr.mr_per_example_loss
            )
            model.fit(
                weighter.attach(x, y, batch_size=100, seed=0),
                epochs=epochs,
                verbose=0,
                shuffle=False,
                callbacks=[weighter, cb],
            )
        else:
            model.fit(x, y, batch_size=100, epochs=epochs, verbose=0, callbacks=[cb])
        curves[f"{name}: natural"], curves[f"{name}: PGD"] = nat, rob
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    plots.plot_accuracy_curves(
        curves, ax=ax, title=f"two moons, PGD-10 test attack, L-inf eps = {eps}"
    )
    for line in ax.get_lines():
        if line.get_label().endswith("PGD"):
            line.set_linestyle("--")
    ax.set_ylim(50, 101)
    ax.legend(fontsize=8, ncol=3, loc="lower center")
    _save(fig, "adversarial_two_moons.png")
    print(
        "  final natural / PGD accuracy: "
        + ", ".join(f"{k} {v[-1]:.3f}" for k, v in curves.items())
    )


PARTS = {
    "mr": figures_mr,
    "eta": figures_eta,
    "meta": figures_meta,
    "ciw": figures_ciw,
    "adversarial": figures_adversarial,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma list of parts (default: all of {','.join(PARTS)})",
    )
    args = parser.parse_args(argv)
    FIGURES.mkdir(parents=True, exist_ok=True)
    start = time.time()
    for part in args.only.split(","):
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; choose from {sorted(PARTS)}")
        t = time.time()
        print(f"[{part}] {PARTS[part].__doc__.splitlines()[0]}")
        PARTS[part]()
        print(f"  {time.time() - t:.0f} s")
    print(f"done in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()

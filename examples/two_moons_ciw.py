"""Two-moons illustration of Constrained Instance reWeighting (CIW).

Trains the same MLP on two moons with 30% flipped labels, once with plain
cross-entropy and once with CIW (``keras_mr.ConstrainedReweightingModel``),
and saves a figure with three panels: the noisy data, the baseline's decision
boundary, and CIW's decision boundary.  Point sizes are proportional to the
importance weights the method gives each example at the end of training
(uniform for the baseline; for CIW the closed-form weights of each training
mini-batch, recomputed with the final model).  Flipped points are drawn with
a black edge.

Usage::

    python examples/two_moons_ciw.py [out.png] [--n 200] [--epochs 300]
"""

import argparse
import os

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras

import keras_mr


def make_moons(n, seed=0):
    """Two moons with the noise level of the CIW illustration."""
    x, y = keras_mr.datasets.make_moons(n, noise_std=0.15, seed=seed)
    return x, y.astype("int32")


def flip_labels(y, rate, seed=0):
    rng = np.random.default_rng(seed)
    flip = rng.random(len(y)) < rate
    return np.where(flip, 1 - y, y).astype("int32"), flip


def mlp(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(2),
        ]
    )


def train(x, y, ciw, epochs, batch_size, seed, temperature=1.0, lr=0.01, burn_in_epochs=5):
    steps = int(np.ceil(len(x) / batch_size))
    instance = None
    if ciw:
        instance = keras_mr.constrained.InstanceReweighting(
            "kl", temperature=temperature, burn_in_steps=burn_in_epochs * steps
        )
    model = keras_mr.ConstrainedReweightingModel(mlp(seed), instance=instance)
    model.compile(
        keras.optimizers.Adam(lr),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps,
    )
    model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0)
    return model


def final_weights(model, x, y, batch_size, temperature, ciw):
    if not ciw:
        return np.ones(len(x))
    per = keras.losses.sparse_categorical_crossentropy(
        y, model.predict(x, verbose=0), from_logits=True
    )
    per = np.asarray(per)
    out = np.zeros(len(x))
    for start in range(0, len(x), batch_size):
        sl = slice(start, start + batch_size)
        q = np.asarray(keras_mr.ciw.instance_weights(per[sl], temperature))
        out[sl] = q * len(q)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", default="two_moons_ciw.png")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--noise-rate", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y_clean = make_moons(args.n, seed=args.seed)
    y, flipped = flip_labels(y_clean, args.noise_rate, seed=args.seed)
    xt, yt = make_moons(2000, seed=args.seed + 1)

    grid = (
        np.stack(np.meshgrid(np.linspace(-1.5, 2.5, 200), np.linspace(-1.0, 1.5, 200)), -1)
        .reshape(-1, 2)
        .astype("float32")
    )

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    colors = np.array(["tab:red", "tab:green"])
    axes[0].scatter(x[:, 0], x[:, 1], c=colors[y], s=12, edgecolors=np.where(flipped, "k", "none"))
    axes[0].set_title(f"noisy data ({args.noise_rate:.0%} flipped, black edge)")
    for ax, ciw in zip(axes[1:], (False, True)):
        model = train(x, y, ciw, args.epochs, args.batch_size, args.seed, args.temperature, args.lr)
        acc = model.evaluate(xt, yt, verbose=0, return_dict=True)["accuracy"]
        w = final_weights(model, x, y, args.batch_size, args.temperature, ciw)
        zz = np.argmax(model.predict(grid, verbose=0), -1).reshape(200, 200)
        ax.contourf(
            grid[:, 0].reshape(200, 200),
            grid[:, 1].reshape(200, 200),
            zz,
            alpha=0.15,
            levels=1,
            colors=["tab:red", "tab:green"],
        )
        ax.scatter(
            x[:, 0], x[:, 1], c=colors[y], s=12 * w, edgecolors=np.where(flipped, "k", "none")
        )
        name = "CIW (KL)" if ciw else "baseline CE"
        ax.set_title(f"{name}: clean test acc {acc:.3f}")
        print(
            f"{name:12s} clean test accuracy {acc:.4f}  "
            f"mean weight clean {w[~flipped].mean():.3f} flipped {w[flipped].mean():.3f}"
        )
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print("saved", args.out)


if __name__ == "__main__":
    main()

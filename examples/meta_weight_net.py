"""RMNW-Net on noisy Fashion-MNIST: Meta-Weight-Net without clean samples.

Trains an MLP on a Fashion-MNIST subset whose labels are 40% uniformly
corrupted, with a weighting network learned from a small per-class-balanced
*noisy* meta set and the MAE meta loss (RMNW-Net), optionally with MR weights
on top (``--mr``).  Prints the test accuracy and the AUC of the learned
weights for detecting the corrupted training labels.

    python examples/meta_weight_net.py --n-train 6000 --epochs 10 [--mr]
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import keras
import numpy as np
from meta_weight import auc
from meta_weight import load_fashion_mnist
from meta_weight import synthetic
from meta_weight import uniform_noise

import keras_mr


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-train", type=int, default=6000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--noise", type=float, default=0.4)
    parser.add_argument("--mr", action="store_true", help="combine with MR sample weights")
    args = parser.parse_args()

    data_dir = "/usr/share/datasets/fashion-mnist"
    if os.path.exists(os.path.join(data_dir, "train-images-idx3-ubyte.gz")):
        (x, y), (x_test, y_test) = load_fashion_mnist(data_dir)
    else:
        (x, y), (x_test, y_test) = synthetic(args.n_train, 2000)
    x, y = x[: args.n_train], y[: args.n_train]
    y_noisy, corrupted = uniform_noise(y, 10, args.noise, seed=0)

    # 1. A per-class-balanced meta set drawn from the *noisy* labels, held out.
    split = keras_mr.split_meta_set(x, y_noisy, per_class=10, seed=0)

    # 2. The classifier, wrapped: meta_loss="mae" is RMNW-Net.
    classifier = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model = keras_mr.MetaWeightNet(classifier, meta_loss="mae")
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )

    # 3. Training batches (optionally MR-weighted) zipped with meta batches.
    callbacks = []
    if args.mr:
        weighter = keras_mr.MRSampleWeighter(eta=0.1)
        train = weighter.attach(split.x_train, split.y_train, batch_size=100, seed=0)
        callbacks.append(weighter)
    else:
        import tensorflow as tf

        train = tf.data.Dataset.from_tensor_slices((split.x_train, split.y_train))
        train = train.shuffle(len(split.y_train), seed=0).batch(100)
    meta = keras_mr.meta_dataset(split.x_meta, split.y_meta, batch_size=100)
    model.fit(
        keras_mr.with_meta_batches(train, meta),
        epochs=args.epochs,
        shuffle=False,
        callbacks=callbacks,
        verbose=2,
    )

    # 4. Results: accuracy and detection AUC of the learned weights.
    acc = model.evaluate(x_test, y_test, verbose=0, return_dict=True)["accuracy"]
    weights = model.example_weights(split.x_train, split.y_train)
    clean = ~corrupted[split.train_indices]
    print(f"test accuracy {acc:.4f}; detection AUC {auc(weights, clean):.4f}")
    print(
        "learned weight at losses 0.1, 1, 2, 4:",
        np.round(model.weight_function([0.1, 1.0, 2.0, 4.0]), 3),
    )


if __name__ == "__main__":
    main()

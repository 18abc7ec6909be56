"""Quick start: MR on a small noisy problem, no download needed.

Trains the same small network twice on data whose labels are 40% flipped,
once plainly and once with ``MRSampleWeighter``, and prints the clean test
accuracy of both and the weight mass MR leaves on the flipped examples.

    python examples/quickstart.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

import keras_mr


def make_data(n_train=3000, n_test=3000, num_classes=4, dim=8, rate=0.4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(num_classes, dim)) * 1.5
    y = rng.integers(0, num_classes, n_train + n_test)
    x = (centers[y] + rng.normal(size=(len(y), dim))).astype("float32")
    x_train, y_train, x_test, y_test = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    noisy = np.zeros(n_train, bool)
    noisy[rng.choice(n_train, int(rate * n_train), replace=False)] = True
    y_noisy = y_train.copy()
    y_noisy[noisy] = (y_train[noisy] + rng.integers(1, num_classes, noisy.sum())) % num_classes
    return x_train, y_noisy, noisy, x_test, y_test


def make_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(256, activation="relu"), keras.layers.Dense(4)]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main(epochs=25):
    x, y_noisy, noisy, x_test, y_test = make_data()

    plain = make_model()
    plain.fit(x, y_noisy, batch_size=32, epochs=epochs, verbose=0)

    weighter = keras_mr.MRSampleWeighter(noise_mask=noisy)  # eta, cap: "auto"
    model = make_model()
    model.fit(
        weighter.attach(x, y_noisy, batch_size=32, seed=0),
        epochs=epochs,
        shuffle=False,
        callbacks=[weighter],
        verbose=0,
    )

    def acc(m):
        return float(np.mean(np.argmax(m.predict(x_test, verbose=0), -1) == y_test))

    print(f"40% flipped labels, {len(x)} training examples, {epochs} epochs")
    print(f"| {'method':<8} | {'clean test acc':>14} | {'weight mass on flipped':>22} |")
    print(f"|{'-' * 10}|{'-' * 16}|{'-' * 24}|")
    print(f"| {'plain':<8} | {acc(plain):>14.4f} | {0.4:>22.4f} |")
    print(f"| {'MR':<8} | {acc(model):>14.4f} | {weighter.weights[noisy].sum():>22.4f} |")


if __name__ == "__main__":
    main()

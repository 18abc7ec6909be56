"""Adversarial training + MR in a few lines, on synthetic data (seconds on CPU).

The data have one robust feature (large margin, noisy) and twelve small
"non-robust" features that separate the classes almost perfectly but flip
under an eps = 0.25 L-inf attack.  Plain training relies on the latter;
PGD adversarial training (with MR weights) learns the robust one.

    python examples/adversarial_training.py
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

import keras_mr

EPS = 0.25


def data(n, seed):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2, size=n)
    sign = 2.0 * s - 1
    robust = sign + rng.normal(scale=0.35, size=n)
    weak = 0.15 * sign[:, None] + rng.normal(scale=0.15, size=(n, 12))
    return np.concatenate([robust[:, None], weak], 1).astype("float32"), s


def mlp():
    return keras.Sequential(
        [keras.Input((13,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)]
    )


def main():
    keras.utils.set_random_seed(0)
    x, y = data(600, 0)
    xt, yt = data(300, 1)

    plain = mlp()
    plain.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(True)
    )
    plain.fit(x, y, batch_size=50, epochs=15, verbose=0)

    # inputs are not images here: no [0, 1] range to clip to
    threat = keras_mr.adversarial.ThreatModel(eps=EPS, clip_min=None, clip_max=None)
    adv = keras_mr.PGDAdversarialModel(mlp(), threat_model=threat, steps=5, mr_loss="adversarial")
    adv.compile(optimizer=keras.optimizers.Adam(0.01))
    weighter = keras_mr.MRSampleWeighter(eta=0.05, per_example_loss_fn=keras_mr.mr_per_example_loss)
    ds = weighter.attach(x, y, batch_size=50, shuffle=True, seed=0)
    adv.fit(ds, epochs=15, verbose=0, shuffle=False, callbacks=[weighter])

    kw = dict(eps=(0.1, EPS), clip_min=None, clip_max=None, seed=0)
    print(
        keras_mr.format_robust_table(
            {
                "Base": keras_mr.robust_accuracy(plain, xt, yt, **kw),
                "Adv. (PGD-5)+MR": keras_mr.robust_accuracy(adv, xt, yt, **kw),
            }
        )
    )


if __name__ == "__main__":
    main()

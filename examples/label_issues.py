"""Find mislabelled examples with MR: noisy default dataset -> ranked table of suspects.

    python examples/label_issues.py

Corrupts 30% of the embedded dataset's labels (pair-flip), trains a small MLP
with ``MRSampleWeighter``, reports how well the weights detect the noisy
labels (AUC, AP, weight mass per class) and writes the 100 lowest-weight
examples to ``label_issues.csv`` for review.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np

import keras_mr


def main():
    data = keras_mr.datasets.load_default()
    noisy = keras_mr.pair_flip_noise(data.y_train, rate=0.3, num_classes=data.num_classes, seed=0)
    print(f"noisy labels: {noisy.noisy_mask.mean():.1%} of {len(data.y_train)}")

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(data.input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dense(data.num_classes),
        ]
    )
    model.compile(
        "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    weighter = keras_mr.MRSampleWeighter(noise_mask=noisy.noisy_mask)
    train_ds = weighter.attach(data.x_train, noisy.noisy_labels, batch_size=64, seed=0)
    model.fit(
        train_ds,
        epochs=15,
        validation_data=(data.x_test, data.y_test),
        callbacks=[weighter],
        shuffle=False,
        verbose=2,
    )

    p = weighter.weights
    print(
        f"detection AUC {keras_mr.noisy_detection_auc(p, noisy.noisy_mask):.3f}, "
        f"AP {keras_mr.noisy_detection_average_precision(p, noisy.noisy_mask):.3f}, "
        f"weight mass on noisy {keras_mr.noisy_weight_mass(p, noisy.noisy_mask):.4f}"
    )
    per_class = keras_mr.noisy_weight_mass_per_class(
        p, noisy.noisy_mask, noisy.noisy_labels, data.num_classes
    )
    print("noisy mass per class:", np.round(per_class, 4))
    table = keras_mr.label_issues_table(
        p,
        noisy.noisy_labels,
        top_k=100,
        predictions=model.predict(data.x_train, verbose=0),
        noisy_mask=noisy.noisy_mask,
        class_names=data.class_names,
    )
    print(f"truly noisy among the 100 lowest weights: {sum(r['is_noisy'] for r in table.rows)}")
    print("\n".join(table.to_markdown().splitlines()[:7]))
    table.to_csv("label_issues.csv")
    print("wrote label_issues.csv")


if __name__ == "__main__":
    main()

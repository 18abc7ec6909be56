"""Helper run in a subprocess by test_adversarial_mail_las_at_distribute.py.

Like ``adversarial_strategy_script.py`` (whose two logical CPUs and data it reuses):
trains MAIL-AT and LAS-AT for two epochs on one device and under
``tf.distribute.MirroredStrategy`` from the same weights and weighted batches, and
prints the largest differences.  LAS-AT chooses the most likely action (no sampling)
and starts its attacks at ``x``, so that both runs see the same attacks.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adversarial_strategy_script as base  # configures the two logical CPUs first
import keras
import numpy as np
import tensorflow as tf

import keras_mr
from keras_mr.adversarial import AttackStrategySpace
from keras_mr.adversarial import ThreatModel

SPACE = AttackStrategySpace(eps=(0.05, 0.1), step_size=(0.02, 0.04), steps=(1, 3))


class ArgmaxLASAT(keras_mr.LASATAdversarialModel):
    def choose_actions(self, logits):
        columns, start = [], 0
        for size in self.space.sizes:
            columns.append(keras.ops.argmax(logits[:, start : start + size], axis=-1))
            start += size
        return keras.ops.cast(keras.ops.stack(columns, axis=1), "int32")


def strategy_network(init=None):
    keras.utils.set_random_seed(1)
    net = keras_mr.adversarial.build_strategy_network((None, 4), SPACE.resolve(0.1), hidden=8)
    if init is not None:
        net.set_weights(init)
    return net


def make(kind, inner, net_init):
    if kind == "mail":
        return keras_mr.MAILAdversarialModel(
            inner, threat_model=ThreatModel(0.1), steps=3, gamma=4.0, beta=0.0, random_start=False
        )
    cls = ArgmaxLASAT if kind == "lasat" else keras_mr.LASATAdversarialModel
    return cls(
        inner,
        threat_model=ThreatModel(0.1),
        strategy_space=SPACE,
        strategy_network=strategy_network(net_init),
        strategy_optimizer=keras.optimizers.SGD(0.5),
        random_start=kind != "lasat",
        seed=1,
    )


def run(kind, init, net_init, strategy=None):
    x, y, w = base.data()
    ds = tf.data.Dataset.from_tensor_slices((x, y, w)).batch(base.BATCH)
    scope = strategy.scope() if strategy else tf.init_scope()
    with scope:
        inner = keras.Sequential(
            [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)]
        )
        inner.set_weights(init)
        model = make(kind, inner, net_init)
        model.compile(optimizer=keras.optimizers.SGD(0.2, momentum=0.5))
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    extra = model.strategy_network.get_weights() if kind != "mail" else []
    return inner.get_weights() + extra, hist.history


def main():
    keras.utils.set_random_seed(0)
    template = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)]
    )
    init = template.get_weights()
    net_init = strategy_network().get_weights()
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    out = {"replicas": strategy.num_replicas_in_sync}
    for kind in ("mail", "lasat"):
        w1, h1 = run(kind, init, net_init)
        w2, h2 = run(kind, init, net_init, strategy)
        start = init + (net_init if kind != "mail" else [])
        out[kind] = {
            "moved": max(float(np.abs(a - b).max()) for a, b in zip(w1, start)),
            "weight_diff": max(float(np.abs(a - b).max()) for a, b in zip(w1, w2)),
            "log_diff": max(abs(h1[k][-1] - h2[k][-1]) for k in h1),
        }
    # sampled actions and random starts also run under the strategy
    w3, h3 = run("lasat_sampled", init, net_init, strategy)
    out["lasat_sampled_finite"] = bool(
        all(np.isfinite(a).all() for a in w3) and all(np.isfinite(v).all() for v in h3.values())
    )
    print("RESULT " + json.dumps(out))


if __name__ == "__main__":
    main()

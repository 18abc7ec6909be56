"""Every timing ratio of keras-mr in one table, each row measured in this process.

Each row is a method's step (or epoch) time divided by a plain Keras step (epoch) of the
same network, batch and data, with the methods of a group interleaved over ``--rounds``
rounds so that a slow moment of the shared machine lands on all of them alike.  Besides
the ratio, a row shows its target and, where one exists, the *floor*: the lowest ratio
the method can reach on this machine, built from probes timed in the same run:

* ``forward`` -- a step that runs one forward pass in inference mode and nothing else;
* ``input gradient x k`` -- a step that runs ``k`` forward-backward passes with respect
  to the input (the work of ``k`` attack iterations) and no update;
* ``empty`` -- a step that only reads its batch (the fixed cost of a ``fit`` step);
* ``predict`` -- ``model.predict`` over the training set at the loss pass's batch size.

A probe's *marginal* cost is its time minus the empty step's, so the floors are: an MR
epoch ``weighted`` (a plain epoch on uniformly weighted batches, as MR trains on weighted
ones), plus ``predict / plain epoch`` for the extra loss pass; CICW-Mixup (one extra
forward of the batch) ``1 + (forward - empty) / plain``; an attack of ``k`` iterations
``1 + k * g / plain`` with ``g`` the marginal cost of one input-gradient pass (TRADES
adds the natural forward it shares with the loss).  A target below the floor cannot be met on
this machine; the floor says by how much.

Steps are timed on Keras' own compiled ``fit`` step (``model.make_train_function()``,
without the callback loop around it), the methods of a group taking turns in blocks;
a step's time is the 20th percentile of its steps.  Two identical models can differ by
a few per cent (the A/A rows), so every MLP method is timed on ``--instances`` identical
models and its time is their geometric mean.  Epochs are timed inside ``fit`` (the median
of epochs 2..E) on a fresh model every round; a ratio is the median over the interleaved
rounds of the ratio within each round.  Both clocks are
reported: ``cpu`` (process CPU time, all threads: the work done, little disturbed by
other processes; the targets are checked on it) and ``wall``.

    python benchmarks/summary.py                    # small sizes: a few minutes on 2 cores
    python benchmarks/summary.py --blocks 80 --instances 3 --mr-rounds 9  # more repetitions
    python benchmarks/summary.py --backend jax      # the rows that run without TensorFlow
"""

import argparse
import os
import sys
from typing import NamedTuple
from typing import Optional

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _backend import add_backend_argument
from _backend import select_backend


def pin_threads(argv=None):
    """``--threads N`` (default 1): the math libraries' thread count, set before import.

    One thread makes each ratio a ratio of work: on a small shared machine the scheduling
    of several threads moves a step's time by +-5% from one process to the next (see the
    A/A control row), one thread by about 1-2%.  ``--threads 0`` keeps the libraries'
    defaults.
    """
    argv = sys.argv[1:] if argv is None else argv
    threads = "1"
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = argv[i + 1]
        elif arg.startswith("--threads="):
            threads = arg.split("=", 1)[1]
    if threads != "0":
        os.environ.setdefault("TF_NUM_INTRAOP_THREADS", threads)
        os.environ.setdefault("TF_NUM_INTEROP_THREADS", threads)
        flags = f"--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads={threads}"
        os.environ.setdefault("XLA_FLAGS", flags if threads == "1" else "")
        os.environ.setdefault("OMP_NUM_THREADS", threads)
    return int(threads)


select_backend()  # before Keras is imported
if __name__ == "__main__":  # not when imported (e.g. by the tests)
    pin_threads()

import keras
import numpy as np
from keras import ops

import keras_mr
from keras_mr.benchmarking.registry import Registry
from keras_mr.benchmarking.runner import MODELS
from keras_mr.benchmarking.timing import CLOCKS
from keras_mr.benchmarking.timing import FitTimer
from keras_mr.benchmarking.timing import Stopwatch
from keras_mr.benchmarking.timing import interleaved

SPARSE = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
SPARSE_PER_EXAMPLE = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)
CATEGORICAL = keras.losses.CategoricalCrossentropy(from_logits=True)


class Row(NamedTuple):
    """One line of the table."""

    measure: str
    times: dict  # clock -> ratio
    target: Optional[float] = None
    floor: Optional[float] = None
    note: str = ""


# -- probes: steps that do part of the work, to measure what a method cannot avoid -------
class Probe(keras.Model):
    """A training step that does one kind of work ``passes`` times on the wrapped network.

    Args:
        network: the Keras model (logits).
        kind: one of :data:`PROBE_KINDS`.
        passes: how many passes per step.
    """

    def __init__(self, network, kind, passes=1):
        super().__init__()
        if kind not in PROBE_KINDS:
            raise ValueError(f"`kind` must be one of {sorted(PROBE_KINDS)}, got {kind!r}.")
        self.network, self.kind, self.passes = network, kind, passes
        if kind == "bilevel_gradient":  # Meta-Weight-Net's default weighting network
            self.weighting = keras_mr.meta.weighting_network.build_weighting_network()

    def call(self, x, training=None):
        return self.network(x, training=training)

    def train_step(self, data):
        x, y = data[0], data[1]
        self.meta_batch = None
        if isinstance(x, dict):  # Meta-Weight-Net's batches: training and meta batch
            from keras_mr.meta import meta_weight_net as mwn

            self.meta_batch = (x[mwn.META_X], x[mwn.META_Y])
            x = x[mwn.TRAIN_X]
        total = ops.sum(ops.cast(y, "float32")) * 0.0
        for _ in range(self.passes):
            x, total = PROBE_KINDS[self.kind](self, x, y, total)
        return {"probe": total + ops.sum(x) * 0.0}

    def loss_of(self, x, y, variables=None, training=False):
        if variables is None:
            return ops.sum(SPARSE(y, self.network(x, training=training)))
        non_trainable = [v.value for v in self.network.non_trainable_variables]
        logits, _ = self.network.stateless_call(variables, non_trainable, x, training=training)
        return ops.sum(SPARSE(y, logits))

    def weights_of(self, losses):
        """The weighting network on ``(B,)`` losses (without gradient to the losses)."""
        return ops.reshape(self.weighting(ops.reshape(ops.stop_gradient(losses), (-1, 1))), (-1,))

    def update(self, grads):
        self.optimizer.apply_gradients(zip(grads, self.network.trainable_variables))


def _empty(probe, x, y, total):
    """Reads the batch only: the fixed cost of a ``fit`` step."""
    return x, total


def _forward(probe, x, y, total):
    """One forward pass in inference mode."""
    return x, total + ops.sum(probe.network(x, training=False))


def _mix(probe, x, y, total):
    """Mixes the batch with a permutation of itself (a mixup of the inputs)."""
    partners = ops.flip(ops.arange(ops.shape(x)[0]), 0)
    return 0.7 * x + 0.3 * ops.take(x, partners, axis=0), total


def _input_gradient(probe, x, y, total):
    """One forward-backward w.r.t. the input and a sign step: an attack iteration."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = probe.loss_of(x, y)
    return x + 1e-3 * ops.sign(tape.gradient(loss, x)), total + loss


def _joint_gradient(probe, x, y, total):
    """A training step that also returns the input gradient (a Free AT replay)."""
    import tensorflow as tf

    variables = probe.network.trainable_variables
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = probe.loss_of(x, y, training=True)
    grads = tape.gradient(loss, variables + [x])
    probe.update(grads[:-1])
    return x + 1e-3 * ops.sign(grads[-1]), total + loss


def _bilevel_gradient(probe, x, y, total):
    """The derivative work of an exact Meta-Weight-Net step: the training forward, the
    weighting network ``W`` on the losses, the virtual gradient at ``w``, the meta
    forward-backward at ``w_hat = w - a g`` and back through the virtual gradient to
    ``W``'s parameters (second order), ``W`` applied again, the real step's backward of
    the first forward and the update (plain SGD steps for ``W``; no metrics).  Reads the
    same batches as ``MetaWeightNet`` (a training and a meta batch per step)."""
    import tensorflow as tf

    variables = probe.network.trainable_variables
    weighting = probe.weighting.trainable_variables
    with tf.GradientTape() as meta_tape:
        with tf.GradientTape(persistent=True) as tape:
            losses = SPARSE_PER_EXAMPLE(y, probe.network(x, training=True))
            c = probe.weights_of(losses)
            virtual = ops.mean(c * losses)
        grads = tape.gradient(virtual, variables)
        w_hat = [w.value - 1e-3 * g for w, g in zip(variables, grads)]
        meta_loss = probe.loss_of(*probe.meta_batch, w_hat, training=True)
    for v, g in zip(weighting, meta_tape.gradient(meta_loss, weighting)):
        v.assign_sub(1e-3 * g)
    c_new = ops.stop_gradient(probe.weights_of(losses))
    with tape:  # the real step: the first forward, differentiated again
        real = ops.mean(c_new * losses)
    probe.update(tape.gradient(real, variables))
    return x, total + meta_loss


PROBE_KINDS = {
    "empty": _empty,
    "forward": _forward,
    "mix": _mix,
    "input_gradient": _input_gradient,
    "joint_gradient": _joint_gradient,
    "bilevel_gradient": _bilevel_gradient,
}


# -- timing helpers -----------------------------------------------------------------------
def repeated_batches(x, y, batch_size, one_hot=False):
    import tensorflow as tf

    labels = np.eye(10, dtype="float32")[y] if one_hot else y
    return (
        tf.data.Dataset.from_tensor_slices((x, labels))
        .batch(batch_size, drop_remainder=True)
        .repeat()
        .prefetch(2)
    )


def step_runner(model, data):
    """``run()``: one call of the model's compiled ``fit`` step on the next batch of
    ``data`` (Keras' own ``train_function``, without the callback loop around it)."""
    model.fit(data, steps_per_epoch=3, epochs=1, verbose=0, shuffle=False)  # trace, compile
    function, iterator = model.make_train_function(), iter(data)
    return lambda: function(iterator)


def time_steps(models, blocks, block_steps):
    """``{name: {clock: seconds per step}}`` of ``{name: (model, data)}``.

    The methods take turns, in a new random order each time, in ``blocks`` blocks of
    ``block_steps`` steps each, so a slow moment of the machine falls on all of them alike;
    the time of a step is the 20th percentile of all its steps (noise only adds time).
    """
    runners = {name: step_runner(*model_data) for name, model_data in models.items()}
    samples = {name: {clock: [] for clock in CLOCKS} for name in runners}
    order = np.random.default_rng(0)
    for _ in range(blocks):
        for name in order.permutation(list(runners)):  # no method always follows another
            run = runners[name]
            for _ in range(block_steps):
                for clock, seconds in both_clocks(run).items():
                    samples[name][clock].append(seconds)
    return {
        name: {clock: float(np.percentile(values, 20)) for clock, values in per_clock.items()}
        for name, per_clock in samples.items()
    }


def merge_instances(times):
    """``{"name#k": t}`` -> ``{"name": geometric mean over k}``.

    An instance of a model can run a few per cent slower than an identical one (the A/A
    rows measure it); every method is timed on ``--instances`` instances, and their
    geometric mean is its time (``tests/test_benchmark_summary.py`` has an example).
    """
    groups = {}
    for key, per_clock in times.items():
        groups.setdefault(key.split("#")[0], []).append(per_clock)
    return {
        name: {c: float(np.exp(np.mean([np.log(t[c]) for t in ts]))) for c in CLOCKS}
        for name, ts in groups.items()
    }


def round_ratios(runs, name, base="plain", extra=None):
    """``{clock: median over rounds of time[name] / time[base]}`` (paired within a round),
    plus ``time[a] / time[b]`` of the same round when ``extra=(a, b)``.

    Every round builds fresh models, and a model instance can run a few per cent slower
    than an identical one; the median of paired ratios is robust to such outliers.
    """
    out = {}
    for clock in CLOCKS:
        values = []
        for r in range(len(runs[name])):
            value = runs[name][r][clock] / runs[base][r][clock]
            if extra is not None:
                value += runs[extra[0]][r][clock] / runs[extra[1]][r][clock]
            values.append(value)
        out[clock] = float(np.median(values))
    return out


def ratios(times, name, base="plain"):
    return {clock: times[name][clock] / times[base][clock] for clock in CLOCKS}


def marginal(times, name, base="plain", empty="empty", count=1):
    """``{clock: count * (time[name] - time[empty]) / time[base]}``."""
    return {
        clock: count * (times[name][clock] - times[empty][clock]) / times[base][clock]
        for clock in CLOCKS
    }


def pair_means(first, second):
    """Per round ``{clock: sqrt(a b)}`` of two lists of ``{clock: seconds}``."""
    return [{c: float(np.sqrt(a[c] * b[c])) for c in CLOCKS} for a, b in zip(first, second)]


def pair_mean(times, first, second):
    """``{clock: sqrt(t_first t_second)}``: the baseline of two identical models."""
    return {clock: float(np.sqrt(times[first][clock] * times[second][clock])) for clock in CLOCKS}


GROUPS = Registry("summary group")


# -- MR epochs ----------------------------------------------------------------------------
@GROUPS.register("mr")
def mr_rows(args):
    """MR epochs with the extra loss pass and with recorded training losses."""
    rng = np.random.default_rng(0)
    n = args.mr_n
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int32")
    tensorflow = keras.backend.backend() == "tensorflow"

    def model(record=False):
        keras.utils.set_random_seed(0)
        net = MODELS.get("cnn")((28, 28, 1), 10, width=32, padding="valid")
        net = keras_mr.TrainingLossModel(net) if record else net
        net.compile(keras.optimizers.Adam(1e-3), SPARSE, metrics=["accuracy"])
        return net

    def epoch(mode):
        net = model(record=mode == "train")
        timers = {clock: FitTimer(clock) for clock in CLOCKS}
        callbacks = list(timers.values())
        if mode == "pass":  # the loss pass alone and `predict`, on one trained model
            return time_loss_pass(net, x, y, args)
        ones = np.ones(n, "float32")
        if mode in ("plain", "weighted") and tensorflow:  # a shuffled tf.data pipeline
            import tensorflow as tf

            slices = (x, y) if mode == "plain" else (x, y, ones)
            data = tf.data.Dataset.from_tensor_slices(slices).shuffle(n, seed=0)
            data = dict(x=data.batch(args.batch_size).prefetch(tf.data.AUTOTUNE))
        elif mode in ("plain", "weighted"):
            weights = dict(sample_weight=ones) if mode == "weighted" else {}
            data = dict(x=x, y=y, batch_size=args.batch_size, **weights)
        else:
            weighter = keras_mr.MRSampleWeighter(eta=0.01, max_weight=None, loss_source=mode)
            data = dict(
                x=weighter.attach(
                    x, y, batch_size=args.batch_size, seed=0, eval_batch_size=args.mr_eval_batch
                )
            )
            callbacks = [weighter] + callbacks
        net.fit(**data, epochs=args.mr_epochs, verbose=0, shuffle=False, callbacks=callbacks)
        return {clock: float(np.median(t.epoch_times[1:])) for clock, t in timers.items()}

    modes = ["plain", "plain again", "weighted", "eval", "pass"]
    modes += ["train"] if tensorflow else []
    measure = lambda mode: epoch(mode.replace(" again", ""))
    runs = interleaved(measure, modes, args.mr_rounds, seed=0)  # a new order every round
    passes = runs.pop("pass")
    runs.update({name: [r[name] for r in passes] for name in ("loss pass", "predict")})
    # the baseline of a round: the geometric mean of its two plain epochs
    runs["plain"], runs["plain first"] = (
        pair_means(runs["plain"], runs["plain again"]),
        runs["plain"],
    )
    # MR trains on weighted batches: its floor is a plain epoch with a (uniform) sample weight
    weighted = round_ratios(runs, "weighted")
    floor = round_ratios(runs, "weighted", extra=("predict", "plain"))
    per_pass = round_ratios(runs, "loss pass", base="predict")
    label = f"CNN, N={n}, batch {args.batch_size}, pass batch {args.mr_eval_batch}"
    rows = [
        Row(
            f"MR epochs' A/A control: plain epoch again ({label})",
            round_ratios(runs, "plain again", base="plain first"),
            note="the resolution of the MR rows",
        ),
        Row("plain epoch with a uniform sample weight", weighted, note="MR's floor"),
        Row(
            "MR epoch, extra loss pass",
            round_ratios(runs, "eval"),
            1.10,
            floor["cpu"],
            note="floor: weighted epoch + `predict` over N",
        ),
        Row("MR loss pass / `model.predict` over N", per_pass, note="1.0 = predict's speed"),
    ]
    if tensorflow:
        rows.append(
            Row(
                "MR epoch, training losses",
                round_ratios(runs, "train"),
                1.02,
                weighted["cpu"],
                note="floor: weighted epoch",
            )
        )
    return rows


def time_loss_pass(net, x, y, args):
    """``{"loss pass": {clock: s}, "predict": {clock: s}}`` over the N examples of ``x``."""
    weighter = keras_mr.MRSampleWeighter(eta=0.01, max_weight=None)
    data = weighter.attach(x, y, batch_size=args.batch_size, eval_batch_size=args.mr_eval_batch)
    net.fit(data, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])  # compiles both
    net.predict(x, batch_size=args.mr_eval_batch, verbose=0)
    source = weighter.loss_source_object
    jobs = {
        "loss pass": lambda: source.collect(weighter),
        "predict": lambda: net.predict(x, batch_size=args.mr_eval_batch, verbose=0),
    }
    return {name: both_clocks(job) for name, job in jobs.items()}


def both_clocks(job):
    """``{clock: seconds}`` of one call of ``job``."""
    with Stopwatch() as watch:
        job()
    return dict(watch.seconds)


# -- constrained reweighting and the wrapper ------------------------------------------------
@GROUPS.register("constrained")
def constrained_rows(args):
    """The wrapper with weighting off, CIW, CICW and CICW-Mixup (MLP steps)."""
    from keras_mr.constrained import CICWMixup
    from keras_mr.constrained import ClassReweighting
    from keras_mr.constrained import InstanceReweighting

    x, y = mlp_data(args)
    crm = keras_mr.ConstrainedReweightingModel
    kl = InstanceReweighting("kl", temperature=1.0)
    builds = {
        "plain": (lambda net: net, SPARSE, False),
        "plain again": (lambda net: net, SPARSE, False),
        # CICW trains on one-hot targets with the categorical loss: its own plain baseline
        "plain one-hot": (lambda net: net, CATEGORICAL, True),
        "plain one-hot again": (lambda net: net, CATEGORICAL, True),
        "empty": (lambda net: Probe(net, "empty"), SPARSE, False),
        "forward": (lambda net: Probe(net, "forward"), SPARSE, False),
        "mix": (lambda net: Probe(net, "mix"), SPARSE, False),
        "wrapper": (lambda net: crm(net, instance=None), SPARSE, False),
        "CIW": (lambda net: crm(net, instance=kl), SPARSE, False),
        "CICW": (
            lambda net: crm(net, instance=kl, classes=ClassReweighting("kl")),
            CATEGORICAL,
            True,
        ),
        "CICW-M": (
            lambda net: crm(net, kl, ClassReweighting("kl"), CICWMixup("both"), seed=0),
            CATEGORICAL,
            True,
        ),
    }
    models = {}
    for name, (wrap, loss, one_hot) in builds.items():
        for k in range(args.instances):
            model = wrap(mlp(args))
            model.compile(keras.optimizers.SGD(0.01), loss)
            models[f"{name}#{k}"] = (model, repeated_batches(x, y, args.batch_size, one_hot))
    times = merge_instances(time_steps(models, args.blocks, args.block_steps))
    aa_times = dict(times)
    # Two identical plain models differ by up to ~4% within one run (the A/A row): every
    # ratio is taken to the geometric mean of the two, which halves that error.
    times["plain"] = pair_mean(times, "plain", "plain again")
    times["plain one-hot"] = pair_mean(times, "plain one-hot", "plain one-hot again")
    forward, mix = marginal(times, "forward"), marginal(times, "mix")
    onehot = "plain one-hot"
    label = f"MLP 784-{args.width}-{args.width}-10, batch {args.batch_size}"
    return [
        Row(
            f"A/A control: two identical plain models ({label})",
            ratios(aa_times, "plain again"),
            note="the resolution of the MLP rows",
        ),
        Row("wrapper, weighting off", ratios(times, "wrapper"), 1.02, 1.0),
        Row("CIW-KL step", ratios(times, "CIW"), 1.05, 1.0),
        Row("CICW step / plain step on one-hot targets", ratios(times, "CICW", onehot), 1.05, 1.0),
        Row(
            "CICW-Mixup step / plain step on one-hot targets",
            ratios(times, "CICW-M", onehot),
            1.20,
            1 + (forward["cpu"] + mix["cpu"]) * times["plain"]["cpu"] / times[onehot]["cpu"],
            f"floor 1 + extra forward ({forward['cpu']:.2f}) + input mixing ({mix['cpu']:.2f})",
        ),
    ]


def mlp_data(args):
    rng = np.random.default_rng(0)
    n = args.batch_size * 8
    return rng.normal(size=(n, 784)).astype("float32"), rng.integers(0, 10, n).astype("int32")


def mlp(args):
    keras.utils.set_random_seed(0)
    return MODELS.get("mlp")((784,), 10, width=args.width)


# -- Meta-Weight-Net --------------------------------------------------------------------------
@GROUPS.register("meta")
def meta_rows(args):
    """One MetaWeightNet step (virtual + meta + real) against a plain step."""
    from keras_mr.meta import meta_data

    x, y = mlp_data(args)
    train = repeated_batches(x, y, args.batch_size)
    meta = meta_data.meta_dataset(x[:200], y[:200], batch_size=args.batch_size, seed=0)
    models = {}
    for name in ("plain", "bilevel", "meta"):
        for k in range(args.instances):
            if name == "plain":
                model = mlp(args)
            elif name == "bilevel":
                model = Probe(mlp(args), "bilevel_gradient")
            else:
                model = keras_mr.MetaWeightNet(mlp(args), meta_loss="mae")
            model.compile(keras.optimizers.SGD(0.05, momentum=0.9), SPARSE)
            data = train if name == "plain" else meta_data.with_meta_batches(train, meta)
            models[f"{name}#{k}"] = (model, data)
    times = merge_instances(time_steps(models, args.blocks, args.block_steps))
    label = f"MLP 784-{args.width}-{args.width}-10, batch {args.batch_size}"
    floor = ratios(times, "bilevel")["cpu"]
    note = "floor: the exact bilevel gradient with the weighting network, no bookkeeping"
    return [Row(f"MetaWeightNet step ({label})", ratios(times, "meta"), 1.8, floor, note)]


# -- adversarial training -----------------------------------------------------------------------
@GROUPS.register("adversarial")
def adversarial_rows(args):
    """PGD-k, TRADES-k and Free-m steps against ``1 + k`` input-gradient passes; MAIL-k
    and LAS-AT (at most k iterations) against PGD-k."""
    from keras_mr.adversarial import AttackStrategySpace

    rng = np.random.default_rng(0)
    n = args.batch_size * 4
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, n).astype("int32")
    pgd, trades, free = args.pgd_steps, args.trades_steps, args.free_replays

    def net():
        keras.utils.set_random_seed(0)
        return MODELS.get("cnn")((28, 28, 1), 10, width=16, padding="valid")

    builds = {
        "plain": net,
        "empty": lambda: Probe(net(), "empty"),
        "input gradient": lambda: Probe(net(), "input_gradient", passes=args.probe_passes),
        "joint gradient": lambda: Probe(net(), "joint_gradient", passes=free),
        "forward": lambda: Probe(net(), "forward"),
        "PGD": lambda: keras_mr.PGDAdversarialModel(net(), eps=0.1, steps=pgd),
        "PGD lean": lambda: keras_mr.PGDAdversarialModel(
            net(), eps=0.1, steps=pgd, natural_metrics=False
        ),
        "TRADES": lambda: keras_mr.TRADESModel(net(), eps=0.1, steps=trades),
        "MAIL": lambda: keras_mr.MAILAdversarialModel(net(), eps=0.1, steps=pgd),
        "LAS-AT": lambda: keras_mr.LASATAdversarialModel(
            net(),
            eps=0.1,
            strategy_space=AttackStrategySpace(steps=tuple(range(min(3, pgd), pgd + 1))),
        ),
        "Free": lambda: keras_mr.FreeAdversarialModel(
            net(), batch_size=args.batch_size, eps=0.1, replays=free
        ),
        "Free lean": lambda: keras_mr.FreeAdversarialModel(
            net(), batch_size=args.batch_size, eps=0.1, replays=free, natural_metrics=False
        ),
    }
    models = {}
    for name, build in builds.items():
        model = build()
        loss = SPARSE if name == "plain" or isinstance(model, Probe) else None
        model.compile(keras.optimizers.Adam(1e-3), loss)
        models[name] = (model, repeated_batches(x, y, args.batch_size))
    times = time_steps(models, args.blocks, args.adv_block_steps)
    grad = marginal(times, "input gradient", count=1 / args.probe_passes)["cpu"]
    forward = marginal(times, "forward")["cpu"]
    joint = ratios(times, "joint gradient")["cpu"]
    pgd_floor, free_floor = 1 + pgd * grad, joint
    metrics = f"+ one forward ({forward:.2f}) for the natural_* metrics"
    return [
        Row(
            f"PGD-{pgd} AT step, natural_metrics=False (CNN, batch {args.batch_size})",
            ratios(times, "PGD lean"),
            None,
            pgd_floor,
            f"floor 1 + k input-gradient passes ({grad:.2f} each)",
        ),
        Row(
            f"PGD-{pgd} AT step (default)", ratios(times, "PGD"), None, pgd_floor + forward, metrics
        ),
        Row(
            f"TRADES-{trades} step",
            ratios(times, "TRADES"),
            None,
            2 + trades * grad,
            "floor 2 + k passes (trains on natural and adversarial inputs)",
        ),
        Row(
            f"Free AT step (m={free}), natural_metrics=False",
            ratios(times, "Free lean"),
            None,
            free_floor,
            f"floor: {free} training steps that also return the input gradient",
        ),
        Row(
            f"MAIL-{pgd} step / PGD-{pgd} AT step",
            ratios(times, "MAIL", base="PGD"),
            1.10,
            1.0,
            "the margin weights: a softmax over B",
        ),
        Row(
            f"LAS-AT step ({min(3, pgd)}..{pgd} iterations) / PGD-{pgd} AT step",
            ratios(times, "LAS-AT", base="PGD"),
            1.50,
            1.0,
            "+ the strategy network's forward-backward",
        ),
        Row(
            f"Free AT step (m={free}, default)",
            ratios(times, "Free"),
            None,
            free_floor + forward,
            metrics,
        ),
    ]


# -- the table ------------------------------------------------------------------------------
TOLERANCE = 1.05  # "at the floor": within 5% of it


def verdict(row):
    """Whether the CPU ratio meets the row's target (the floor when it has none)."""
    cpu = row.times["cpu"]
    target = row.floor if row.target is None else row.target
    if target is None:
        return ""
    if cpu <= target * (TOLERANCE if row.target is None else 1.0):
        return "yes"
    if row.floor is not None and row.floor > target:
        # the target is below what the method must do on this machine
        return "no: target < floor, ratio at floor" if cpu <= row.floor * TOLERANCE else "no"
    return "no"


def table(rows):
    lines = [
        "| measure | ratio (CPU) | ratio (wall) | target | floor (measured) | ratio / floor "
        "| met | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        target = f"<= {row.target:.2f}" if row.target is not None else ""
        target = "<= floor" if row.target is None and row.floor is not None else target
        floor = f"{row.floor:.3f}" if row.floor is not None else ""
        over = f"{row.times['cpu'] / row.floor:.3f}" if row.floor else ""
        lines.append(
            f"| {row.measure} | {row.times['cpu']:.3f} | {row.times['wall']:.3f} | {target} "
            f"| {floor} | {over} | {verdict(row)} | {row.note} |"
        )
    return "\n".join(lines)


TENSORFLOW_ONLY = {"constrained", "meta", "adversarial"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", nargs="+", default=GROUPS.names(), choices=GROUPS.names())
    parser.add_argument("--blocks", type=int, default=40, help="turns of every method")
    parser.add_argument("--block-steps", type=int, default=10, help="MLP steps per turn")
    parser.add_argument(
        "--instances", type=int, default=2, help="identical models per method (MLP rows)"
    )
    parser.add_argument("--adv-block-steps", type=int, default=2, help="CNN steps per turn")
    parser.add_argument("--mr-rounds", type=int, default=7, help="interleaved MR epoch runs")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--width", type=int, default=256, help="MLP width")
    parser.add_argument("--mr-n", type=int, default=6000, help="MR rows: training examples")
    parser.add_argument("--mr-epochs", type=int, default=3)
    parser.add_argument("--mr-eval-batch", type=int, default=1024)
    parser.add_argument("--pgd-steps", type=int, default=7)
    parser.add_argument("--trades-steps", type=int, default=10)
    parser.add_argument("--free-replays", type=int, default=4)
    parser.add_argument("--probe-passes", type=int, default=4)
    parser.add_argument(
        "--threads", type=int, default=1, help="math library threads (0: their defaults)"
    )
    add_backend_argument(parser)
    args = parser.parse_args(argv)

    rows, skipped = [], []
    for group in args.groups:
        if group in TENSORFLOW_ONLY and keras.backend.backend() != "tensorflow":
            skipped.append(group)
            continue
        rows += GROUPS.get(group)(args)
        print(f"[{group} done]", flush=True)
    print(
        f"\nkeras-mr timing summary (backend {keras.backend.backend()}, "
        f"{args.threads or 'default'} "
        f"thread(s); steps: {args.blocks} "
        f"interleaved turns, 20th percentile, {args.instances} instances each; MR epochs: "
        f"median of {args.mr_rounds} paired rounds; "
        "ratios to a plain step/epoch of the same network)\n"
    )
    print(table(rows))
    if skipped:
        print(f"\nNeeds TensorFlow (skipped on {keras.backend.backend()}): {', '.join(skipped)}")


if __name__ == "__main__":
    main()

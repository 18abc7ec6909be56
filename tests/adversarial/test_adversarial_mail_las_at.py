"""MAIL-AT and LAS-AT: hand-checked weights, strategy gradients, MR, config, jit (TF backend)."""

import keras
import numpy as np
import pytest
from conftest import requires_tf

import keras_mr
from keras_mr.adversarial import AttackStrategySpace
from keras_mr.adversarial import ThreatModel
from keras_mr.adversarial import attacks
from keras_mr.adversarial.attack_strategy import action_log_probability
from keras_mr.adversarial.mail import mail_weights
from keras_mr.adversarial.mail import probabilistic_margin

pytestmark = [pytest.mark.tf_only, requires_tf]

DIM = 4
W = np.array([[1.0, -1.0, 0.5], [0.5, 2.0, -1.0]], "float32")
BIAS = np.array([0.1, -0.2, 0.0], "float32")


def _inner(dim=DIM, classes=3, hidden=8):
    return keras.Sequential([
        keras.Input((dim,)),
        keras.layers.Dense(hidden, activation="tanh"),
        keras.layers.Dense(classes),
    ])


def _linear():
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    inner.set_weights([W, BIAS])
    return inner


def _data(n=16, dim=DIM, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(n, dim)).astype("float32")
    y = rng.integers(0, classes, size=n).astype("int32")
    return x, y


def _np(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


def _softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _margin(probs, y):
    true = probs[np.arange(len(y)), y]
    other = probs.copy()
    other[np.arange(len(y)), y] = -1.0
    return true - other.max(1)


SPACE = AttackStrategySpace(eps=(0.02, 0.2), step_size=(0.01, 0.05), steps=(0, 1, 4))


THREAT = ThreatModel(0.1)


def _lasat(inner=None, **kw):
    kw.setdefault("threat_model", THREAT)
    kw.setdefault("strategy_space", AttackStrategySpace(steps=(1, 2, 3)))
    return keras_mr.LASATAdversarialModel(inner or _inner(), **kw)


class ArgmaxLASAT(keras_mr.LASATAdversarialModel):
    """LAS-AT choosing the most likely action: deterministic steps for comparisons."""

    def choose_actions(self, logits):
        columns, start = [], 0
        for size in self.space.sizes:
            columns.append(keras.ops.argmax(logits[:, start:start + size], axis=-1))
            start += size
        return keras.ops.cast(keras.ops.stack(columns, axis=1), "int32")


# ------------------------------------------------------------------ MAIL math
def test_probabilistic_margin_hand_values():
    logits = np.array([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 1.0, 1.0]], "float32")
    y = np.array([0, 0, 2])
    p = _softmax(logits.astype("float64"))
    # by hand: example 0 correct (p0 - p2), example 1 wrong (p0 - p1 < 0), example 2 a tie
    expected = [p[0, 0] - p[0, 2], p[1, 0] - p[1, 1], 0.0]
    np.testing.assert_allclose(_np(probabilistic_margin(y, logits)), expected, atol=1e-6)
    assert abs(expected[0] - (0.6652 - 0.2447)) < 1e-3 and expected[1] < -0.8
    onehot = np.eye(3)[y]
    np.testing.assert_allclose(_np(probabilistic_margin(onehot, logits)), expected, atol=1e-6)


def test_mail_weights_are_the_normalised_product_with_mr_weights():
    pm = np.array([-0.5, 0.2, 0.9, 0.0], "float32")
    gamma, beta = 3.0, 0.1
    u = 1 / (1 + np.exp(gamma * (pm - beta)))  # sigmoid(-gamma (PM - beta))
    np.testing.assert_allclose(_np(mail_weights(pm, gamma, beta)), 4 * u / u.sum(), rtol=1e-5)
    m = np.array([0.0, 2.0, 1.5, 0.5], "float32")  # MR weights (sum B = 4)
    expected = 4 * u * m / np.sum(u * m)
    got = _np(mail_weights(pm, gamma, beta, sample_weight=m))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert got[0] == 0.0 and abs(got.mean() - 1.0) < 1e-6
    # smaller margin -> larger weight; all-zero products -> no update
    assert _np(mail_weights(pm, gamma, beta))[0] > _np(mail_weights(pm, gamma, beta))[2]
    np.testing.assert_array_equal(_np(mail_weights(pm, gamma, beta, np.zeros(4))), 0.0)


def _mail_step(model, x, x_adv, y, w=None, lr=0.5):
    import tensorflow as tf

    model.generate_adversarial = lambda *a, **k: tf.constant(x_adv)
    model.compile(optimizer=keras.optimizers.SGD(lr), run_eagerly=True)
    model.train_on_batch(x, y, sample_weight=w)
    return [_np(v) for v in model.model.trainable_variables]


def _expected_linear_step(x_adv, y, c, lr=0.5):
    p = _softmax(x_adv.astype("float64") @ W + BIAS)
    err = (p - np.eye(3)[y]) * c[:, None] / len(y)
    return W - lr * x_adv.T @ err, BIAS - lr * err.sum(0)


X2 = np.array([[0.2, 0.4], [0.9, 0.1], [0.5, 0.5]], "float32")
XA2 = np.array([[0.25, 0.35], [0.85, 0.15], [0.45, 0.55]], "float32")
Y2 = np.array([1, 0, 2])


@pytest.mark.parametrize("mr", [False, True])
def test_mail_step_uses_hand_computed_margins_and_weights(mr):
    gamma, beta = 4.0, 0.0
    m = np.array([0.5, 1.5, 1.0], "float32") if mr else None
    model = keras_mr.MAILAdversarialModel(_linear(), threat_model=THREAT, gamma=gamma,
                                          beta=beta)
    got = _mail_step(model, X2, XA2, Y2, m)
    pm = _margin(_softmax(XA2.astype("float64") @ W + BIAS), Y2)
    u = 1 / (1 + np.exp(gamma * (pm - beta)))
    prod = u * (1.0 if m is None else m)
    c = 3 * prod / prod.sum()  # MAIL x MR: normalised product
    for a, b in zip(got, _expected_linear_step(XA2, Y2, c)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    # the weights really differ from uniform / from the MR weights alone
    assert np.ptp(c) > 0.2


def test_mail_burn_in_gives_uniform_weights():
    m = np.array([0.5, 1.5, 1.0], "float32")
    model = keras_mr.MAILAdversarialModel(_linear(), threat_model=THREAT, gamma=4.0, beta=0.0,
                                          burn_in_epochs=2)
    assert float(model.epoch_counter.numpy()) == 0.0
    got = _mail_step(model, X2, XA2, Y2, m)  # epoch 0 < 2: plain PGD-AT with MR weights
    for a, b in zip(got, _expected_linear_step(XA2, Y2, m)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    model.epoch_counter.assign(2.0)  # burn-in over: MAIL weights
    before = [_np(v) for v in model.model.trainable_variables]
    model.train_on_batch(X2, Y2, sample_weight=m)
    after = [_np(v) for v in model.model.trainable_variables]
    model.model.set_weights(before)
    plain = keras_mr.PGDAdversarialModel(model.model, threat_model=THREAT)
    plain_after = _mail_step(plain, X2, XA2, Y2, m)
    assert any(not np.allclose(a, b, atol=1e-5) for a, b in zip(after, plain_after))


def test_mail_fit_sets_the_epoch_counter():
    x, y = _data(16)
    model = keras_mr.MAILAdversarialModel(_inner(), threat_model=THREAT, steps=2,
                                          burn_in_epochs=1)
    model.compile("adam")
    model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert float(model.epoch_counter.numpy()) == 2.0


def _zero_weight_pair(make, x, y):
    inner_a, inner_b = _inner(), _inner()
    inner_b.set_weights(inner_a.get_weights())
    a, b = make(inner_a), make(inner_b)
    for model in (a, b):
        model.compile(optimizer=keras.optimizers.SGD(0.5))
    before = inner_b.get_weights()
    a.train_on_batch(x, y, sample_weight=np.array([0.0, 2.0], "float32"))
    b.train_on_batch(x[1:], y[1:])
    for va, vb in zip(inner_a.get_weights(), inner_b.get_weights()):
        np.testing.assert_allclose(va, vb, atol=1e-6)
    assert any(not np.allclose(vb, v0) for vb, v0 in zip(inner_b.get_weights(), before))
    return a, b


def test_mail_zero_mr_weight_has_no_effect_on_the_gradient():
    x, y = _data(2)
    _zero_weight_pair(
        lambda inner: keras_mr.MAILAdversarialModel(inner, threat_model=THREAT, steps=3,
                                                    gamma=5.0, beta=0.0, random_start=False),
        x, y)


# ---------------------------------------------------------------- LAS-AT math
def test_strategy_space_defaults_are_the_papers_sets():
    space = AttackStrategySpace().resolve(8 / 255)
    np.testing.assert_allclose(np.array(space.eps) * 255, np.arange(3, 15))
    np.testing.assert_allclose(np.array(space.step_size) * 255, [1, 2, 3, 4])
    assert space.steps == tuple(range(3, 14)) and space.sizes == (12, 4, 11)
    with pytest.raises(ValueError, match="steps"):
        AttackStrategySpace(steps=(-1,))


def test_action_log_probability_hand_values():
    logits = np.array([[0.0, 1.0, 2.0, 0.5, -0.5]], "float32")  # heads of size 2, 1, 2
    actions = np.array([[1, 0, 0]])
    expected = np.log(_softmax(logits[:, :2])[0, 1]) + 0.0 + np.log(_softmax(logits[:, 3:])[0, 0])
    got = _np(action_log_probability(logits, actions, (2, 1, 2)))
    np.testing.assert_allclose(got, [expected], rtol=1e-5)


def test_strategy_gradient_matches_finite_differences():
    import tensorflow as tf

    smooth = keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(8, activation="tanh"),
                               keras.layers.Dense(sum(SPACE.sizes))])
    model = _lasat(_inner(), strategy_space=SPACE, strategy_network=smooth)
    x, _ = _data(5)
    rng = np.random.default_rng(1)
    actions = np.stack([rng.integers(0, k, 5) for k in SPACE.sizes], 1).astype("int32")
    rewards = rng.uniform(0.5, 3.0, 5).astype("float32")
    m = np.array([0.0, 2.0, 1.0, 0.5, 1.5], "float32")
    net = model.strategy_network
    variables = net.trainable_variables

    def objective():
        return float(model.strategy_objective(x, actions, rewards, m, training=False))

    with tf.GradientTape() as tape:
        value = model.strategy_objective(x, actions, rewards, m, training=False)
    grads = tape.gradient(value, variables)
    # the surrogate by hand: (1/B) sum_i m_i r_i log pi(a_i | x_i)
    log_pi = _np(action_log_probability(net(x), actions, SPACE.sizes))
    np.testing.assert_allclose(float(value), np.mean(m * rewards * log_pi), rtol=1e-5)
    h, checked = 1e-3, 0
    for var, grad in zip(variables, grads):
        flat = _np(var).reshape(-1)
        for k in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            original = flat.copy()
            shifted = original.copy()
            shifted[k] += h
            var.assign(shifted.reshape(var.shape))
            up = objective()
            shifted[k] -= 2 * h
            var.assign(shifted.reshape(var.shape))
            down = objective()
            var.assign(original.reshape(var.shape))
            numeric = (up - down) / (2 * h)
            np.testing.assert_allclose(_np(grad).reshape(-1)[k], numeric, atol=5e-4, rtol=1e-2)
            checked += 1
    assert checked >= 12 and any(np.abs(_np(g)).max() > 1e-3 for g in grads)


def test_per_example_attack_parameters_are_respected():
    model = _lasat(_inner(), strategy_space=SPACE, random_start=False)
    x, y = _data(4)
    # (eps, step size, steps): (0.02, 0.05, 4), (0.2, 0.05, 4), (0.2, 0.05, 0), (0.2, 0.01, 1)
    actions = np.array([[0, 1, 2], [1, 1, 2], [1, 1, 0], [1, 0, 1]], "int32")
    x_adv = _np(model.strategy_adversarial(x, y, actions))
    norms = _np(attacks.perturbation_norm(x_adv, x, "inf"))
    assert norms[0] <= 0.02 + 1e-6 and norms[0] > 0.019  # small eps: ends in its own ball
    assert 0.15 < norms[1] <= 0.2 + 1e-6  # four steps of 0.05 go beyond 0.02
    np.testing.assert_array_equal(x_adv[2], x[2])  # zero iterations: unchanged
    grad = _np(model.input_gradient(x[3:], y[3:]))
    one_step = np.clip(x[3:] + 0.01 * np.sign(grad), 0, 1)  # one masked-in step of 0.01
    np.testing.assert_allclose(x_adv[3:], one_step, atol=1e-6)
    eps, step, steps = (_np(t) for t in model.attack_parameters(actions))
    np.testing.assert_allclose(eps, [0.02, 0.2, 0.2, 0.2])
    np.testing.assert_array_equal(steps, [4, 4, 0, 1])
    with_start = _lasat(_inner(), strategy_space=SPACE)
    norms = _np(attacks.perturbation_norm(with_start.strategy_adversarial(x, y, actions), x,
                                          "inf"))
    assert np.all(norms <= np.array([0.02, 0.2, 0.2, 0.2]) + 1e-6) and norms[2] > 0


def test_lasat_zero_weight_ignores_an_example():
    """Target and strategy updates (reward R3 included) ignore a zero-weight example."""
    x, _ = _data(2)
    inner_a, inner_b = _inner(), _inner()
    inner_b.set_weights(inner_a.get_weights())
    pred = _np(inner_a(x)).argmax(1)
    # example 0 classified correctly, example 1 not: an unweighted R3 would differ
    y = np.array([pred[0], (pred[1] + 1) % 3], "int32")
    net_a = keras_mr.adversarial.build_strategy_network((None, DIM), SPACE.resolve(0.1))
    net_b = keras_mr.adversarial.build_strategy_network((None, DIM), SPACE.resolve(0.1))
    net_b.set_weights(net_a.get_weights())
    before = [w.copy() for w in net_a.get_weights()]
    models = [
        ArgmaxLASAT(inner, threat_model=THREAT, strategy_space=SPACE, strategy_network=net,
                    strategy_optimizer=keras.optimizers.SGD(0.5), clean_reward=5.0,
                    random_start=False)
        for inner, net in ((inner_a, net_a), (inner_b, net_b))
    ]
    for model in models:  # a small target step: example 0 stays correctly classified
        model.compile(optimizer=keras.optimizers.SGD(0.01))
    models[0].train_on_batch(x, y, sample_weight=np.array([0.0, 2.0], "float32"))
    models[1].train_on_batch(x[1:], y[1:])
    for wa, wb in zip(inner_a.get_weights() + net_a.get_weights(),
                      inner_b.get_weights() + net_b.get_weights()):
        np.testing.assert_allclose(wa, wb, atol=1e-6)
    assert any(not np.allclose(a, b) for a, b in zip(net_b.get_weights(), before))


def test_lasat_strategy_network_learns_to_raise_the_loss():
    """REINFORCE with the target loss as reward makes the larger eps more likely."""
    space = AttackStrategySpace(eps=(0.0, 0.3), step_size=(0.1,), steps=(3,))
    x, y = _data(32)
    model = _lasat(_inner(), strategy_space=space, clean_reward=0.0,
                   strategy_optimizer=keras.optimizers.SGD(1.0), seed=0)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # frozen target: a fixed bandit
    model.fit(x, y, batch_size=16, epochs=15, verbose=0)
    logits = _np(model.strategy_network(x))
    p_large = _softmax(logits[:, :2])[:, 1]
    assert p_large.mean() > 0.75


# ------------------------------------------------------------- both: MR, fit
MAKERS = {
    "mail": lambda threat_model=THREAT, **kw: keras_mr.MAILAdversarialModel(
        _inner(), threat_model=threat_model, steps=2, burn_in_epochs=1, **kw),
    "lasat": lambda **kw: _lasat(_inner(), **kw),
}


@pytest.mark.parametrize("source", ["eval", "train"])
@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_fit_with_mr_sample_weighter(kind, source):
    x, y = _data(32)
    model = MAKERS[kind](mr_loss="adversarial", seed=0)
    model.compile(optimizer="adam")
    kw = {"per_example_loss_fn": keras_mr.mr_per_example_loss} if source == "eval" else {}
    weighter = keras_mr.MRSampleWeighter(eta=0.5, loss_source=source, **kw)
    ds = weighter.attach(x, y, batch_size=8, shuffle=True, seed=0)
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False, callbacks=[weighter])
    p = np.asarray(weighter.weights)
    assert p.shape == (32,) and abs(p.sum() - 1) < 1e-5 and np.ptp(p) > 0
    assert np.isfinite(hist.history["loss"]).all()


def test_mail_mr_train_losses_are_the_unweighted_adversarial_losses():
    x, y = _data(16)
    model = keras_mr.MAILAdversarialModel(_inner(), threat_model=THREAT, steps=3, gamma=5.0,
                                          beta=0.0, random_start=False)
    model.compile(optimizer=keras.optimizers.SGD(0.0))  # frozen parameters
    eta = 0.5
    weighter = keras_mr.MRSampleWeighter(max_weight=None, eta=eta, loss_source="train")
    ds = weighter.attach(x, y, batch_size=8, shuffle=True, seed=0)
    model.fit(ds, epochs=1, verbose=0, shuffle=False, callbacks=[weighter])
    log_p = np.log(np.asarray(weighter.weights, "float64"))
    centred = log_p + eta * _np(model.per_example_loss(x, y, adversarial=True))
    assert np.ptp(log_p) > 0.05
    np.testing.assert_allclose(centred - centred.mean(), 0, atol=1e-3)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_jit_compile_fit(kind):
    x, y = _data(16)
    model = MAKERS[kind]()
    model.compile(optimizer="adam", jit_compile=True)
    hist = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    for key in ("loss", "natural_accuracy", "adversarial_loss"):
        assert np.isfinite(hist.history[key]).all()
    if kind == "lasat":
        assert 0 < hist.history["strategy_eps"][-1] and hist.history["strategy_steps"][-1] >= 1
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {
        "loss", "natural_loss", "natural_accuracy"}


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_config_round_trip_and_save_load(kind, tmp_path):
    x, y = _data(16)
    kw = {"gamma": 2.5, "beta": -0.5} if kind == "mail" else {
        "strategy_space": AttackStrategySpace(eps=(0.05, 0.1), steps=(1, 2)),
        "reward_clip": 5.0, "clean_reward": 1.0}
    model = MAKERS[kind](mr_loss="adversarial", threat_model=ThreatModel(0.1, norm=2), **kw)
    model.compile(optimizer="adam")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    clone = type(model).from_config(model.get_config())
    cfg, cfg2 = model.get_config(), clone.get_config()
    for key in cfg:
        if key not in ("model", "strategy_network"):
            assert cfg[key] == cfg2[key], key
    path = str(tmp_path / f"{kind}.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model) and loaded.norm == 2
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-6)
    if kind == "lasat":
        assert loaded.space.sizes == (2, 4, 2) and loaded.reward_clip == 5.0
        np.testing.assert_allclose(loaded.strategy_network.predict(x, verbose=0),
                                   model.strategy_network.predict(x, verbose=0), atol=1e-6)
    else:
        assert (loaded.gamma, loaded.beta, loaded.burn_in_epochs) == (2.5, -0.5, 1)
    hist = loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match="gamma"):
        keras_mr.MAILAdversarialModel(_inner(), gamma=0.0)
    with pytest.raises(ValueError, match="burn_in_epochs"):
        keras_mr.MAILAdversarialModel(_inner(), burn_in_epochs=-1)
    with pytest.raises(TypeError, match="strategy_space"):
        keras_mr.LASATAdversarialModel(_inner(), strategy_space=(1, 2))
    with pytest.raises(ValueError, match="input shape"):
        keras_mr.LASATAdversarialModel(keras.Sequential([keras.layers.Dense(2)]))

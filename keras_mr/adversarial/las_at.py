"""LAS-AT (Jia et al., CVPR 2022): adversarial training with a learnable attack strategy.

A small *strategy network* looks at each clean example and chooses its attack:
``eps``, step size and number of PGD iterations, each from a discrete candidate set
(:class:`AttackStrategySpace`).  The target model is trained on the PGD examples made
with those per-example parameters; the strategy network is trained to *maximise* the
target model's loss on them (REINFORCE), regularised by the clean accuracy of the
updated target model.
"""

import keras
from keras import ops

from keras_mr._internal.backend import require_tensorflow
from keras_mr._internal.distribution import all_sum
from keras_mr._internal.distribution import scale_loss_for_gradient
from keras_mr.adversarial import attacks
from keras_mr.adversarial.attack_strategy import AttackStrategySpace
from keras_mr.adversarial.attack_strategy import action_log_probability
from keras_mr.adversarial.attack_strategy import build_strategy_network
from keras_mr.adversarial.base import AdversarialModel
from keras_mr.adversarial.losses import per_example_correct
from keras_mr.adversarial.losses import per_example_cross_entropy
from keras_mr.pipeline.weighted_loss import weighted_mean


def _broadcast(values, x):
    return ops.reshape(ops.cast(values, x.dtype), (-1,) + (1,) * (len(x.shape) - 1))


@keras.saving.register_keras_serializable(package="keras_mr")
class LASATAdversarialModel(AdversarialModel):
    """LAS-AT: PGD adversarial training with a learned per-example attack strategy, and MR.

    Jia et al., "LAS-AT: adversarial training with learnable attack strategy" (CVPR 2022).
    Each ``train_step``:

    1. **Strategy**: the strategy network ``g_phi`` maps the clean
       ``x_i`` to logits of three categorical distributions; ``a_i = (e_i, s_i, t_i)`` is
       sampled from them (``keras.random.categorical``, inference mode), giving
       ``eps_i``, step size ``alpha_i`` and iterations ``T_i`` from the
       :class:`AttackStrategySpace`.
    2. **Attack**: PGD with per-example parameters, from a random start in the
       ``eps_i``-ball.  Per-example iteration counts run ``max(steps)`` iterations and
       *mask* the update of example ``i`` after its ``T_i``-th one (the cost is that of
       PGD with the largest candidate count).  The candidate ``eps`` may exceed the threat
       model's (the paper's set is 3..14/255 for 8/255); the threat model sets evaluation
       and MR's adversarial loss pass (plain PGD, ``attack_steps = 10``).
    3. **Target update** (the outer minimisation): minimise
       ``(1/B) sum_i m_i CE(f(x'_i), y_i)``, ``m`` the batch-normalised MR / user weights
       (a zero weight removes the example).
    4. **Strategy update** (REINFORCE, the paper's policy gradient): the reward of ``i`` is
       ``r_i = min(CE(f(x'_i), y_i), reward_clip) + clean_reward * R3`` (``R1`` of the
       paper, the target loss of the training forward pass, clipped at 10 as in the
       authors' code; ``R3`` the clean accuracy of the *updated* target model on the
       batch, weighted by ``m``: the paper's regulariser that keeps attacks from
       destroying clean accuracy).
       The strategy network maximises the surrogate
       ``S(phi) = (1/B) sum_i m_i r_i log pi_phi(a_i | x_i)`` (:meth:`strategy_objective`;
       ``grad S`` is the REINFORCE estimate of ``grad E[m r]``), one step of
       ``strategy_optimizer`` per training step.

    **Choices where the paper is vague or costly, documented:** the look-ahead model of
    the paper's ``R2``/``R3`` (a copy trained one SGD step on ``x'``) is the target model
    after this step's real update, and ``R2`` (its robust accuracy under a further PGD-10
    attack) is left out: it would cost another attack per step.  The strategy network is
    updated every step (the authors' code: every 20 steps) and the target loss is plain
    cross-entropy (their code adds label smoothing).  No reward baseline is subtracted,
    as in the paper (a batch baseline would cancel ``R3``).

    Under ``tf.distribute`` every replica samples its own actions (random draws differ
    from one device), and ``R3`` is the global batch's accuracy.  Logs add
    ``strategy_reward``, ``strategy_eps`` and ``strategy_steps`` (batch means).

    Args:
        model: Keras model mapping inputs to logits ``(B, C)``, built (``keras.Input``)
            unless ``strategy_network`` is given.
        threat_model: a :class:`~keras_mr.adversarial.threat_model.ThreatModel` (``eps``,
            ``norm``, valid input range); default ``ThreatModel()``: L-inf, ``eps = 8/255``,
            inputs in ``[0, 1]``.
        strategy_space: an :class:`AttackStrategySpace` (default: the paper's sets).
        strategy_network: a built Keras model ``x -> (B, K_eps + K_step_size + K_steps)``
            logits; default :func:`build_strategy_network`.
        strategy_optimizer: optimizer of the strategy network; default
            ``SGD(1e-4, global_clipnorm=1)`` (the authors' code).
        reward_clip: upper clip of ``R1``.
        clean_reward: weight of ``R3`` (2 in the authors' code).
        random_start: start each attack from a random point of its ``eps_i``-ball.
        mr_loss: ``"natural"`` (default) or ``"adversarial"``.
        seed: seed of the random starts and the action sampling.
        **kwargs: ``natural_metrics`` (see :class:`AdversarialModel`), the rest to
            ``keras.Model``.

    Example:

    ```python
    threat = keras_mr.adversarial.ThreatModel(eps=8 / 255)
    model = keras_mr.LASATAdversarialModel(inner, threat_model=threat)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9))
    weighter = keras_mr.MRSampleWeighter(eta=0.01)
    model.fit(weighter.attach(x, y, batch_size=128), epochs=50, callbacks=[weighter])
    ```
    """

    def __init__(
        self,
        model,
        threat_model=None,
        strategy_space=None,
        strategy_network=None,
        strategy_optimizer=None,
        reward_clip=10.0,
        clean_reward=2.0,
        random_start=True,
        mr_loss="natural",
        seed=None,
        **kwargs,
    ):
        super().__init__(
            model,
            threat_model,
            mr_loss=mr_loss,
            attack_steps=10,
            random_start=random_start,
            seed=seed,
            **kwargs,
        )
        if isinstance(strategy_space, dict):
            strategy_space = AttackStrategySpace(**strategy_space)
        space = strategy_space or AttackStrategySpace()
        if not isinstance(space, AttackStrategySpace):
            raise TypeError(f"`strategy_space` must be an AttackStrategySpace, got {space!r}.")
        self.strategy_space = space
        self.space = space.resolve(self.eps)
        if strategy_network is None:
            try:
                shape = tuple(model.input_shape)
            except (AttributeError, ValueError) as err:
                raise ValueError(
                    "LASATAdversarialModel builds its strategy network from the model's "
                    "input shape: build the model with keras.Input or pass "
                    "`strategy_network`."
                ) from err
            strategy_network = build_strategy_network(shape, self.space)
        if not isinstance(strategy_network, keras.Model) or not strategy_network.built:
            raise TypeError("`strategy_network` must be a built keras.Model.")
        self.strategy_network = strategy_network
        self.strategy_optimizer = (
            keras.optimizers.SGD(1e-4, global_clipnorm=1.0)
            if strategy_optimizer is None
            else keras.optimizers.get(strategy_optimizer)
        )
        self.strategy_optimizer.build(self.strategy_network.trainable_variables)
        for value, name in ((reward_clip, "reward_clip"), (clean_reward, "clean_reward")):
            attacks.check_eps(value, name)
        self.reward_clip, self.clean_reward = float(reward_clip), float(clean_reward)
        self.reward_tracker = keras.metrics.Mean(name="strategy_reward")
        self.eps_tracker = keras.metrics.Mean(name="strategy_eps")
        self.steps_tracker = keras.metrics.Mean(name="strategy_steps")

    # ---------------------------------------------------------- strategy
    def choose_actions(self, logits):
        """Samples the actions from the strategy network's logits.

        Args:
            logits: ``(B, K_eps + K_step_size + K_steps)`` strategy-network outputs.

        Returns:
            ``(B, 3)`` int32 indices ``a_i = (e_i, s_i, t_i)``, one draw per head.
        """
        columns, start = [], 0
        for size in self.space.sizes:
            head = ops.cast(logits[:, start : start + size], "float32")
            draw = keras.random.categorical(head, 1, seed=self._seed_generator)
            columns.append(ops.cast(ops.reshape(draw, (-1,)), "int32"))
            start += size
        return ops.stack(columns, axis=1)

    def attack_parameters(self, actions):
        """The attack parameters the actions choose.

        Args:
            actions: ``(B, 3)`` int indices into the candidate sets.

        Returns:
            ``(eps, step_size, steps)``: ``(B,)`` float32, float32 and int32 tensors.
        """
        tables = (self.space.eps, self.space.step_size, self.space.steps)
        dtypes = ("float32", "float32", "int32")
        return tuple(
            ops.take(ops.convert_to_tensor(table, dtype=dtype), actions[:, head])
            for head, (table, dtype) in enumerate(zip(tables, dtypes))
        )

    def strategy_adversarial(self, x, y, actions):
        """PGD examples with per-example ``eps``, step size and iterations.

        Runs ``max(steps)`` PGD iterations (``training=False``); iteration ``t`` updates
        example ``i`` only while ``t < T_i``.  Each example stays in its own ``eps_i``-ball
        and the valid range.

        Args:
            x: clean inputs ``(B, ...)``.
            y: labels.
            actions: ``(B, 3)`` int indices (see :meth:`attack_parameters`).

        Returns:
            Adversarial inputs like ``x`` (no gradient flows through them).
        """
        tf = require_tensorflow(f"{type(self).__name__}'s training step", backend=True)
        x = tf.convert_to_tensor(x)
        eps, alpha, steps = self.attack_parameters(actions)
        eps_b, alpha_b = _broadcast(eps, x), _broadcast(alpha, x)
        bounds = (self.norm, self.clip_min, self.clip_max)
        if self.random_start:
            x_adv = attacks.random_start(x, eps_b, *bounds, seed=self._seed_generator)
        else:
            x_adv = attacks.project_perturbation(x, x, eps_b, *bounds)
        for t in range(max(self.space.steps)):
            grad = self.input_gradient(x_adv, y)
            stepped = attacks.pgd_step(
                x_adv, x, grad, eps_b, alpha_b, self.norm, self.clip_min, self.clip_max
            )
            x_adv = tf.where(_broadcast(steps > t, x) > 0, stepped, x_adv)
        return tf.stop_gradient(x_adv)

    def strategy_objective(self, x, actions, rewards, sample_weight=None, training=True):
        """The REINFORCE surrogate ``S(phi) = (1/B) sum_i m_i r_i log pi_phi(a_i | x_i)``.

        Its gradient in the strategy network's parameters is the policy-gradient estimate
        of ``grad_phi E_{a ~ pi_phi}[(1/B) sum_i m_i r_i]``; the training step ascends it.

        Args:
            x: clean inputs ``(B, ...)`` (the strategy network's input).
            actions: ``(B, 3)`` int actions that were taken.
            rewards: ``(B,)`` rewards ``r`` (no gradient flows through them).
            sample_weight: optional ``(B,)`` batch-normalised weights ``m``.
            training: mode of the strategy network's forward pass.

        Returns:
            Scalar ``S``.
        """
        logits = self.strategy_network(x, training=training)
        log_prob = action_log_probability(logits, actions, self.space.sizes)
        rewards = ops.stop_gradient(ops.cast(rewards, "float32"))
        return weighted_mean(rewards * log_prob, sample_weight)

    def attack_batch(self, x, y):
        nat_logits = self.natural_logits(x)
        actions = self.choose_actions(self.strategy_network(x, training=False))
        return nat_logits, self.strategy_adversarial(x, y, actions), actions

    def per_example_objective(self, x, y, attacked):
        nat_logits, x_adv, _ = attacked
        adv_logits = self._logits(x_adv, training=True)
        return per_example_cross_entropy(y, adv_logits), nat_logits, adv_logits

    def train_step(self, data):
        tf = require_tensorflow(f"{type(self).__name__}'s training step", backend=True)
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        sample_weight, index = self.unpack_sample_weight(sample_weight)
        x = tf.cast(x, "float32")
        attacked = self.attack_batch(x, y)
        actions = attacked[2]
        with tf.GradientTape() as tape:
            per_example, nat_logits, adv_logits = self.per_example_objective(x, y, attacked)
            loss = weighted_mean(per_example, sample_weight)
        self.apply_gradients(tape, loss, variables=self.model.trainable_variables)
        # R3: weighted clean accuracy of the updated target model on the (global) batch
        correct = per_example_correct(y, self._logits(x, training=False))
        weight = ops.ones_like(correct) if sample_weight is None else sample_weight
        weight = ops.cast(ops.reshape(weight, (-1,)), "float32")
        total = all_sum(ops.sum(weight))
        safe = ops.where(total > 0, total, ops.ones_like(total))
        clean_accuracy = all_sum(ops.sum(weight * correct)) / safe
        rewards = ops.minimum(ops.stop_gradient(per_example), self.reward_clip)
        rewards = rewards + self.clean_reward * clean_accuracy
        svars = self.strategy_network.trainable_variables
        with tf.GradientTape() as strategy_tape:
            objective = self.strategy_objective(x, actions, rewards, sample_weight)
            strategy_loss = scale_loss_for_gradient(-objective)
        grads = strategy_tape.gradient(strategy_loss, svars)
        self.strategy_optimizer.apply_gradients(zip(grads, svars))
        eps, _, steps = self.attack_parameters(actions)
        self.reward_tracker.update_state(rewards)
        self.eps_tracker.update_state(eps)
        self.steps_tracker.update_state(ops.cast(steps, "float32"))
        return self._finish_step(index, per_example, loss, y, nat_logits, adv_logits)

    def compile_from_config(self, config):
        # the target optimizer updates the target model only (not the strategy network)
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if getattr(self, "optimizer", None) is not None and self.built:
            self.optimizer.build(self.model.trainable_variables)

    def test_step(self, data):
        logs = super().test_step(data)
        return {k: v for k, v in logs.items() if not k.startswith("strategy_")}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "strategy_space": self.strategy_space.get_config(),
                "strategy_network": keras.saving.serialize_keras_object(self.strategy_network),
                "strategy_optimizer": keras.saving.serialize_keras_object(self.strategy_optimizer),
                "reward_clip": self.reward_clip,
                "clean_reward": self.clean_reward,
                "random_start": self.random_start,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("strategy_network", "strategy_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return super().from_config(config, custom_objects=custom_objects)

"""The wavebabble GAN: one generator, its critics, their optimizers, and one distributed training step.

    gan = GAN(cfg, strategy, seed=0)          # models and optimizers built inside strategy.scope()
    it = gan.make_iterator(data_dir)          # distributed real batches (data.dataset_fn)
    losses, stop = gan.train_step(it)         # cfg.d_updates critic updates + 1 G update -> {name: float}
    audio = gan.generate(z)                   # z [N, latent_dim] -> [N, slice_len, nch] (the EMA G when kept)

One step (numbered 1, 2, ... = generator updates; `gan.step` holds the last completed one):
    for k in range(cfg.d_updates):                  # each on a fresh real batch [B, slice_len, nch]
        z ~ U(-1, 1) [B, latent_dim]; fake = G(z)
        L_D = sum over critics c of c.weight * (d_loss(c(real), c(fake)) + gp_weight * GP  [wgan-gp only])
        one Adam step on all critic variables
    L_G = sum over critics of c.weight * g_loss(c(G(z)))  + fm_weight * feature matching (critics with features)
    EMA (cfg.g_ema_decay > 0): ema <- d * ema + (1 - d) * G, d = min(g_ema_decay, (1 + step) / (EMA_WARMUP + step))
Critics (critics.py) read the waveform or its soft VAD; the step treats them all alike.
Per-example losses [B] are averaged with tf.nn.compute_average_loss over the *global* batch inside each replica;
Keras' optimizer.apply_gradients (called in replica context) sums the gradients across replicas, so N replicas
with batch B/N each take exactly the step one device takes with batch B.

Random numbers: one `tf.random.Generator` (`gan.rng`, checkpointed) makes the step's seeds in the cross-replica
context; latents and gradient-penalty weights are drawn for the whole global batch from those seeds (stateless)
and each replica takes its slice, so results do not depend on the number of replicas and a resumed run continues
the same stream. (Phase shuffle inside the WaveGAN D draws its own shifts.)
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from wavebabble import data, losses
from wavebabble.config import ADAM_BETAS, Config
from wavebabble.critics import build_critics
from wavebabble.distribute import MIXED_PRECISION
from wavebabble.errors import ConfigError
from wavebabble.finite import non_finite_variables
from wavebabble.models import build_generator

WGAN = "wgan-gp"
GENERATE_CHUNK = 16                  # clips per generator call in `generate` (bounds memory)
SEEDS_PER_STEP_PART = 2              # stateless seeds per D/G sub-step: latents, GP interpolation
EMA_WARMUP = 10.0                    # EMA decay at step t is min(g_ema_decay, (1 + t) / (EMA_WARMUP + t))
LR_DECAY_FINAL_FRACTION = 0.05       # with cfg.lr_decay_*: learning rates end at this fraction of their value


class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant `lr` up to optimizer update `start`, then linear to LR_DECAY_FINAL_FRACTION * lr over `steps`
    updates, constant after. Evaluated at the optimizer's own (checkpointed) update count, so a resumed run
    continues the schedule where it stopped."""

    def __init__(self, lr: float, start: int, steps: int):
        self.lr, self.start, self.steps = float(lr), int(start), int(steps)

    def __call__(self, step):
        progress = tf.clip_by_value((tf.cast(step, tf.float32) - self.start) / self.steps, 0.0, 1.0)
        return self.lr * (1.0 - (1.0 - LR_DECAY_FINAL_FRACTION) * progress)

    def get_config(self):
        return {"lr": self.lr, "start": self.start, "steps": self.steps}


class GAN:
    """Models, optimizers, step counter and RNG of a wavebabble GAN, and its distributed train step.

    cfg: Config (cfg.batch_size is the global batch; it must divide by strategy.num_replicas_in_sync).
    strategy: tf.distribute strategy (default: the current one). seed: seeds Keras' initialisers and the step RNG.
    mixed_precision: "off" | "bfloat16" (bfloat16 compute, float32 variables; G output, soft VAD and losses are
    float32). jit_compile: XLA-compile the loss and gradient computations (the optimizer update and the
    cross-replica all-reduce stay outside XLA).
    Attributes: generator, ema_generator (moving average of G's weights when cfg.g_ema_decay > 0, else None),
    critics {name: critics.Critic}, g_opt, d_opt (Adam over all critic variables), step (tf.Variable int64),
    rng (tf.random.Generator), checkpoint (tf.train.Checkpoint of all of it: generator, ema_generator when on,
    <name>_d per critic, g_opt, d_opt, step, rng).
    """

    def __init__(self, cfg: Config, strategy: tf.distribute.Strategy | None = None, *, seed: int = 0,
                 mixed_precision: str = "off", jit_compile: bool = False):
        self.cfg = cfg.validate()
        self.strategy = strategy or tf.distribute.get_strategy()
        replicas = self.strategy.num_replicas_in_sync
        if cfg.batch_size % replicas:
            raise ConfigError(f"config field 'batch_size' (flag --batch_size) = {cfg.batch_size}: the global batch "
                              f"must be divisible by the {replicas} replicas in sync", field="batch_size")
        if mixed_precision not in MIXED_PRECISION:
            raise ConfigError(f"--mixed_precision={mixed_precision!r}: choose one of {MIXED_PRECISION}")
        self.global_batch = cfg.batch_size
        self.mixed_precision = mixed_precision

        keras.utils.set_random_seed(seed)
        previous_policy = keras.config.dtype_policy()
        if mixed_precision != "off":
            keras.config.set_dtype_policy(f"mixed_{mixed_precision}")
        try:
            with self.strategy.scope():
                # Keras' Conv1DTranspose is ~40x slower under XLA on CPU; the polyphase form has the same
                # variables and output (tests/test_models.py) and stays fast when compiled.
                impl = "polyphase" if jit_compile else "keras"
                self.generator = build_generator(cfg, impl)
                self.ema_generator = None
                if cfg.g_ema_decay > 0:
                    self.ema_generator = build_generator(cfg, impl)
                    for e, v in zip(self.ema_generator.weights, self.generator.weights):
                        e.assign(v)
                self.critics = build_critics(cfg)
                self.g_opt = self._make_optimizer(cfg.g_lr, "g_adam")
                self.d_opt = self._make_optimizer(cfg.d_lr, "d_adam", updates_per_step=cfg.d_updates)
                # Keras 3 under tf.distribute: create the optimizer slots now, not in the first replica step.
                self.g_opt.build(self.generator.trainable_variables)
                self.d_opt.build(self.d_variables)
        finally:
            keras.config.set_dtype_policy(previous_policy)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.rng = tf.random.Generator.from_seed(seed)
        self.checkpoint = tf.train.Checkpoint(**{key: obj for key, obj in self._checkpointed()})
        # loss + gradient graphs (XLA-compiled with jit_compile); the optimizer step and all-reduce stay outside
        self._d_grads_fn = tf.function(self._d_grads, jit_compile=True) if jit_compile else self._d_grads
        self._g_grads_fn = tf.function(self._g_grads, jit_compile=True) if jit_compile else self._g_grads
        self._step_fn = tf.function(self._train_step)
        served = self.ema_generator if self.ema_generator is not None else self.generator
        self._generate_fn = tf.function(lambda z: tf.cast(served(z, training=False), tf.float32))

    # ----------------------------------------------------------------------------------------- building
    def _make_optimizer(self, lr: float, name: str, updates_per_step: int = 1):
        cfg = self.cfg
        if cfg.lr_decay_steps > 0:
            lr = LinearDecay(lr, cfg.lr_decay_start * updates_per_step, cfg.lr_decay_steps * updates_per_step)
        return keras.optimizers.Adam(learning_rate=lr, beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1], name=name)

    def models(self) -> list:
        """[(checkpoint key, keras model)] for G, the moving-average G (when on) and every critic."""
        gens = [("generator", self.generator)] + ([("ema_generator", self.ema_generator)]
                                                  if self.ema_generator is not None else [])
        return gens + [(f"{name}_d", c.model) for name, c in self.critics.items()]

    def _checkpointed(self) -> list:
        return self.models() + [("g_opt", self.g_opt), ("d_opt", self.d_opt), ("step", self.step),
                                ("rng", self.rng)]

    @property
    def d_variables(self) -> list:
        return [v for c in self.critics.values() for v in c.trainable_variables]

    def learning_rates(self) -> dict:
        """{"lr/g": float, "lr/d": float} (current optimizer learning rates)."""
        return {"lr/g": float(np.asarray(self.g_opt.learning_rate)),
                "lr/d": float(np.asarray(self.d_opt.learning_rate))}

    def make_iterator(self, data_dir=None, **dataset_kwargs):
        """Iterator over distributed real batches (per replica [B / replicas, slice_len, nch]).

        dataset_kwargs go to data.make_dataset (shuffle, channel_swap, pair_pattern, seed, ...)."""
        fn = data.dataset_fn(self.cfg, data_dir, **dataset_kwargs)
        return iter(self.strategy.distribute_datasets_from_function(fn))

    # ----------------------------------------------------------------------------------------- replica fns
    def _replica_slice(self, x: tf.Tensor, per_replica: tf.Tensor) -> tf.Tensor:
        """This replica's rows of a tensor drawn for the whole global batch."""
        rid = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group, tf.int32)
        return x[rid * per_replica:(rid + 1) * per_replica]

    def _latents(self, seed, per_replica):
        z = tf.random.stateless_uniform([self.global_batch, self.cfg.latent_dim], seed=seed, minval=-1.0,
                                        maxval=1.0)
        return self._replica_slice(z, per_replica)

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(tf.cast(per_example, tf.float32), global_batch_size=self.global_batch)

    def _d_grads(self, real, z, alpha):
        """Critic losses and gradients for this replica's real batch, latents and GP weights (jit-compilable)."""
        cfg = self.cfg
        fake = tf.stop_gradient(tf.cast(self.generator(z, training=True), tf.float32))
        logs, terms = {}, []
        with tf.GradientTape() as tape:
            for name, critic in self.critics.items():
                x_real, x_fake = critic.reads(real, self.step), critic.reads(fake, self.step)
                per_ex = losses.d_loss(critic.scores(x_real), critic.scores(x_fake), cfg.loss)
                logs[f"d_{name}"] = self._average(per_ex)
                if cfg.loss == WGAN:
                    gp = losses.gradient_penalty(critic.scores, x_real, x_fake, alpha=alpha)
                    logs[f"gp_{name}"] = self._average(gp)
                    per_ex = per_ex + cfg.gp_weight * gp
                terms.append((critic.weight, per_ex))
            total = self._average(losses.weighted_sum(terms))
        logs["d_total"] = total
        return tape.gradient(total, self.d_variables), logs

    def _g_grads(self, real, z):
        """G loss and gradients for this replica's latents (the real batch serves feature matching only)."""
        cfg = self.cfg
        logs, terms = {}, []
        with tf.GradientTape() as tape:
            fake = tf.cast(self.generator(z, training=True), tf.float32)
            for name, critic in self.critics.items():
                feats_fake, scores_fake = critic(critic.reads(fake, self.step))
                per_ex = losses.g_loss(scores_fake, cfg.loss)
                logs[f"g_{name}"] = self._average(per_ex)
                terms.append((critic.weight, per_ex))
                if cfg.fm_weight > 0 and feats_fake:
                    feats_real, _ = critic(critic.reads(real, self.step))
                    fm = losses.feature_matching(feats_real, feats_fake)
                    logs[f"g_fm_{name}"] = self._average(fm)
                    terms.append((cfg.fm_weight, fm))
            total = self._average(losses.weighted_sum(terms))
        logs["g_total"] = total
        return tape.gradient(total, self.generator.trainable_variables), logs

    def _d_replica_step(self, real, seeds):
        real = tf.cast(real, tf.float32)
        b = tf.shape(real)[0]
        z = self._latents(seeds[:, 0], b)
        alpha = self._replica_slice(tf.random.stateless_uniform([self.global_batch], seed=seeds[:, 1]), b)
        grads, logs = self._d_grads_fn(real, z, alpha)
        self.d_opt.apply_gradients(zip(grads, self.d_variables))      # all-reduces (sums) across replicas
        return logs

    def _g_replica_step(self, real, seeds):
        real = tf.cast(real, tf.float32)
        z = self._latents(seeds[:, 0], tf.shape(real)[0])
        grads, logs = self._g_grads_fn(real, z)
        self.g_opt.apply_gradients(zip(grads, self.generator.trainable_variables))
        return logs

    # ----------------------------------------------------------------------------------------- the step
    def _train_step(self, iterator, stop_requested):
        cfg, strategy = self.cfg, self.strategy
        parts = cfg.d_updates + 1
        seeds = self.rng.make_seeds(SEEDS_PER_STEP_PART * parts)        # [2, 2 * parts] int64
        sums: dict = {}
        real = None
        for k in range(cfg.d_updates):
            real = next(iterator)
            part = seeds[:, SEEDS_PER_STEP_PART * k:SEEDS_PER_STEP_PART * (k + 1)]
            logs = strategy.run(self._d_replica_step, args=(real, part))
            for key, value in logs.items():
                reduced = strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                sums[key] = sums.get(key, 0.0) + reduced / cfg.d_updates
        part = seeds[:, SEEDS_PER_STEP_PART * cfg.d_updates:]
        logs = strategy.run(self._g_replica_step, args=(real, part))
        for key, value in logs.items():
            sums[key] = strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
        if self.ema_generator is not None:
            self._update_ema()
        self.step.assign_add(1)
        # any worker asked to stop (signal) -> every worker stops at the same step
        stop = strategy.reduce(tf.distribute.ReduceOp.SUM,
                               strategy.run(tf.identity, args=(stop_requested,)), axis=None)
        return sums, stop

    def _update_ema(self) -> None:
        """ema <- d * ema + (1 - d) * G (cross-replica context; mirrored variables get the same value)."""
        step = tf.cast(self.step, tf.float32)
        decay = tf.minimum(self.cfg.g_ema_decay, (1.0 + step) / (EMA_WARMUP + step))
        for e, v in zip(self.ema_generator.weights, self.generator.weights):
            e.assign(decay * e + (1.0 - decay) * tf.cast(v, e.dtype))

    def train_step(self, iterator, stop_requested: bool = False) -> tuple[dict, bool]:
        """Run one step (cfg.d_updates critic updates + 1 G update) -> ({loss name: float}, stop).

        Loss names: d_<critic>, gp_<critic> (wgan-gp), d_total (means over the critic updates), g_<critic>,
        g_fm_<critic> (fm_weight > 0, critics with features), g_total.
        stop: True when any worker passed stop_requested=True (so all workers leave the loop together)."""
        logs, stop = self._step_fn(iterator, tf.constant(1.0 if stop_requested else 0.0))
        return {k: float(v) for k, v in logs.items()}, bool(float(stop) > 0)

    # ----------------------------------------------------------------------------------------- inference
    def generate(self, z: np.ndarray) -> np.ndarray:
        """Generator output for latents z [N, latent_dim] -> np.float32 [N, slice_len, nch] (chunks of 16).

        The moving-average generator when cfg.g_ema_decay > 0 (what export serves), else the trained one."""
        z = np.asarray(z, np.float32)
        chunks = [self._generate_fn(tf.constant(z[i:i + GENERATE_CHUNK])).numpy()
                  for i in range(0, len(z), GENERATE_CHUNK)]
        return np.concatenate(chunks) if chunks else np.zeros([0, self.cfg.slice_len, self.cfg.nch], np.float32)

    # ----------------------------------------------------------------------------------------- checks
    def model_weights(self) -> dict:
        """{"<model>/<variable path>": np.ndarray} for G and every critic (tests, debugging)."""
        return {f"{key}/{v.path}": np.array(v.numpy()) for key, model in self.models() for v in model.weights}

    def non_finite_weights(self) -> list[str]:
        """Names ("<model>/<variable path>", "<optimizer>/<slot>") of the model and optimizer variables that hold
        a NaN or an infinity: empty when every float a checkpoint saves is finite."""
        named = {f"{key}/{v.path}": v for key, model in self.models() for v in model.weights}
        named.update({v.path: v for opt in (self.g_opt, self.d_opt) for v in opt.variables})
        return non_finite_variables(named)

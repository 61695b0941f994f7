"""Distributed GAN training state and step (one generator, up to three discriminators).

    strategy = make_strategy("auto")
    trainer = GANTrainer(cfg, strategy, seed=0)            # models + optimizers built inside strategy.scope()
    it = trainer.make_iterator(data_dir)                     # distribute_datasets_from_function(data.dataset_fn)
    losses, stop = trainer.train_step(it)                    # cfg.d_updates D steps + 1 G step; trainer.step += 1

One training step (numbered 1, 2, ... = generator updates; `trainer.step` holds the last completed one):
    for k in range(cfg.d_updates):                  # each D step on a fresh real batch [B, slice_len, nch]
        z ~ U(-1, 1) [B, latent_dim]; fake = G(z)
        for every active D (weight > 0):  wave: audio, ms: audio, timing: soft_vad(audio) [B, frames, 2]
            L_D += weight * (d_loss(D(real), D(fake)) + gp_weight * gradient_penalty  [wgan-gp only])
                   (timing D: + timing_r1_weight * r1_penalty(D, real VAD): 0.5 ||dD/dx||^2 at the data)
        one Adam step on all D variables
    G step: L_G = sum over active Ds of weight * g_loss(D(G(z)))  (+ fm_weight * feature matching on ms D)
            (+ timing_weight * timing_fm_weight * |batch mean of timing-D pooled features, real - fake|)
            (+ timing_weight * timing_stats_weight * |log batch mean of the timing D's turn statistics,
               real - fake|: relative error of pooled turn rates, the quantity the timing evaluation reports)
    EMA (cfg.g_ema_decay > 0): ema_generator <- d * ema_generator + (1 - d) * generator, with
        d = min(g_ema_decay, (1 + step) / (10 + step)) so early averages are not dominated by the initial weights
Per-example losses [B] are averaged with tf.nn.compute_average_loss over the *global* batch inside each
replica; Keras' optimizer.apply_gradients (called in replica context) sums the gradients across replicas,
so N replicas with batch B/N each take exactly the step one device takes with batch B.

Random numbers: one `tf.random.Generator` (`trainer.rng`, checkpointed) makes the step's seeds in the
cross-replica context; latents z and the gradient-penalty interpolation weights are drawn for the whole global
batch from those seeds (stateless) and each replica takes its slice (by replica_id_in_sync_group). So results do
not depend on the number of replicas, and a resumed run continues the same random stream. (Phase shuffle inside
the WaveGAN D draws its own shifts.)

Run directory helpers: `check_resume_compatible`, `write_config`, `RunCheckpoints` (tf.train.CheckpointManager in
<logdir>/ckpt; under MultiWorkerMirroredStrategy only the chief writes there, the others write to temp dirs). A
checkpoint is never saved from, nor resumed into, weights holding NaN or infinity (NonFiniteWeightsError).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from wavebabble import data, losses, vad
from wavebabble.config import Config
from wavebabble.errors import ConfigError, OutputError, WavebabbleError, output_error
from wavebabble.models import (build_generator, build_multiscale_discriminator, build_timing_discriminator,
                               build_wave_discriminator, split_outputs)
from wavebabble.models.timing_discriminator import TURN_STATS_LAYER, TURN_STATS_LOG_EPS

CKPT_SUBDIR = "ckpt"                 # <logdir>/ckpt: tf.train.CheckpointManager directory
CONFIG_NAME = "config.json"          # <logdir>/config.json: the run's Config
CKPT_PREFIX = "ckpt"                 # checkpoint files ckpt-<step>.*
DEFAULT_MAX_TO_KEEP = 5
WGAN = "wgan-gp"
STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")
# float16 is left out: it needs dynamic loss scaling, and Keras 3.15's LossScaleOptimizer fails inside
# strategy.run ("No gradients provided" from its cross-replica cond). bfloat16 keeps float32's range.
MIXED_PRECISION = ("off", "bfloat16")
GENERATE_CHUNK = 16                  # clips per generator call in `generate` (bounds memory)
SEEDS_PER_STEP_PART = 2              # stateless seeds per D/G sub-step: latents, GP interpolation
EMA_WARMUP = 10.0                    # EMA decay at step t is min(g_ema_decay, (1 + t) / (EMA_WARMUP + t))
LR_DECAY_FINAL_FRACTION = 0.05       # with cfg.lr_decay_*: learning rates end at this fraction of their value
TIMING_FEATURES_LAYER = "timing_pool"  # the turn-timing D's pooled features (timing_discriminator.py)
# What TensorFlow raises when it cannot write a file (disk full, read-only or forbidden folder), besides OSError.
WRITE_ERRORS = (OSError, tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
                tf.errors.FailedPreconditionError)
# What a checkpoint save leaves in the checkpoint folder when it dies: the shards' folder ckpt-<step>_temp and
# the state file's temp copy checkpoint.tmp<uuid hex> (tf.io's atomic write).
PARTIAL_CHECKPOINT_RE = re.compile(rf"^(?:{CKPT_PREFIX}-\d+_temp|checkpoint\.tmp[0-9a-f]{{32}})$")
TF_OP_SUFFIX = " [Op:"               # TensorFlow appends ' [Op:SaveV2]' to an op's error message

# Discriminators: name -> (config weight field, builder, input kind). Weight 0: not built, not trained.
DISCRIMINATORS = {
    "wave": ("wave_weight", build_wave_discriminator, "audio"),
    "ms": ("ms_weight", build_multiscale_discriminator, "audio"),
    "timing": ("timing_weight", build_timing_discriminator, "vad"),
}

# Config fields that change model variables or their shapes. Changing any of them (or which discriminators
# are active) makes a run dir's checkpoints unusable, so resuming with a different value is refused. Every other
# field (loss, weights' values, gp_weight, fm_weight, d_updates, learning rates, betas, batch_size, VAD
# threshold/temperature, phase_shuffle, name) only affects training and may change when a run is resumed.
ARCH_FIELDS = ("sample_rate", "slice_len", "nch", "latent_dim", "model_dim", "kernel_len", "upsample",
               "post_proc_filt_len", "g_activity_gate", "g_gate_form", "ms_dim", "ms_scales", "ms_groups",
               "timing_dim", "timing_minibatch_std", "timing_turn_stats", "timing_duration_stats",
               "timing_pause_stats", "frame_hz")


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


class NonFiniteLossError(WavebabbleError):
    """A training loss became NaN or infinite (the message names the step and the loss)."""


class NonFiniteWeightsError(NonFiniteLossError):
    """Model or optimizer weights hold NaN or infinity (the message names the step or checkpoint and a weight)."""


# ---------------------------------------------------------------------------------------------- helpers
def active_discriminators(cfg: Config) -> list[str]:
    """Names of the discriminators with a weight > 0, in DISCRIMINATORS order."""
    return [name for name, (field, _, _) in DISCRIMINATORS.items() if getattr(cfg, field) > 0]


def check_resume_compatible(old: Config, new: Config, where: str = CONFIG_NAME) -> None:
    """Raise ConfigError naming every architecture field (and the active-discriminator set) that differs."""
    diffs = [f"{f}: {getattr(old, f)!r} -> {getattr(new, f)!r}" for f in ARCH_FIELDS
             if getattr(old, f) != getattr(new, f)]
    if (old.g_ema_decay > 0) != (new.g_ema_decay > 0):
        diffs.append(f"generator moving average (g_ema_decay > 0): {old.g_ema_decay > 0} -> {new.g_ema_decay > 0}")
    if active_discriminators(old) != active_discriminators(new):
        diffs.append(f"active discriminators (weights > 0): {active_discriminators(old)} -> "
                     f"{active_discriminators(new)}")
    if diffs:
        raise ConfigError(f"cannot resume the run in {where}: its architecture differs from the requested "
                          f"config in {'; '.join(diffs)}. Use a new --logdir, or the run's own settings "
                          f"(training-only fields such as learning rates, loss weights, d_updates, batch_size "
                          f"may change).")


def training_field_changes(old: Config, new: Config) -> list[str]:
    """'field: old -> new' for every non-architecture field that differs (logged on resume)."""
    return [f"{f.name}: {getattr(old, f.name)!r} -> {getattr(new, f.name)!r}" for f in dataclasses.fields(Config)
            if f.name not in ARCH_FIELDS and getattr(old, f.name) != getattr(new, f.name)]


def make_strategy(name: str = "auto", tpu: str = "") -> tf.distribute.Strategy:
    """A tf.distribute strategy by name (see STRATEGIES).

    auto: MultiWorkerMirroredStrategy when TF_CONFIG names more than one task; else MirroredStrategy over all
    GPUs when there are several; else one device (GPU:0 or CPU:0). mirrored without GPUs mirrors over the
    logical CPU devices. multi_worker reads the cluster from TF_CONFIG. tpu: TPUClusterResolver(tpu).
    Must be called before other TensorFlow work (multi_worker and tpu require it).
    """
    if name not in STRATEGIES:
        raise ConfigError(f"--strategy={name!r}: choose one of {STRATEGIES}")
    if name == "auto":
        tasks = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}").get("cluster", {})
        if sum(len(v) for v in tasks.values()) > 1:
            name = "multi_worker"
        else:
            name = "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "one_device"
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if tf.config.list_physical_devices("GPU") else "/cpu:0")
    if name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=cpus, cross_device_ops=tf.distribute.ReductionToOneDevice())
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def task_info(strategy: tf.distribute.Strategy) -> tuple[str | None, int | None]:
    """(task_type, task_id) of this process in a multi-worker cluster, (None, None) otherwise."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or isinstance(strategy, tf.distribute.TPUStrategy):
        return None, None
    return resolver.task_type, resolver.task_id


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this is a non-chief worker of a multi-worker cluster (TF docs' rule)."""
    task_type, task_id = task_info(strategy)
    if task_type is None:
        return True
    has_chief = "chief" in strategy.cluster_resolver.cluster_spec().as_dict()
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and not has_chief)


def write_error(what: str, path, error: BaseException) -> OutputError:
    """OutputError 'cannot write <what> to <path>: <reason>' for an OSError or a TensorFlow write error (whose
    reason is the text after its last '; ', e.g. 'No space left on device')."""
    if isinstance(error, tf.errors.OpError):
        reason = error.message.rsplit("; ", 1)[-1].split(TF_OP_SUFFIX)[0]
        return OutputError(f"cannot write {what} to {path}: {reason}")
    return output_error(what, path, error)


def write_config(cfg: Config, logdir) -> Path:
    """Write <logdir>/config.json (creating logdir); -> its path. OutputError naming the path when it cannot."""
    path = Path(logdir) / CONFIG_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg.to_json(path)
    except OSError as e:
        raise output_error("the run config", path, e) from None
    return path


def non_finite_variables(named: dict) -> list[str]:
    """The names in {name: variable} of the floating-point variables holding a NaN or an infinity."""
    return [name for name, v in named.items()
            if tf.as_dtype(v.dtype).is_floating and not bool(tf.reduce_all(tf.math.is_finite(v)))]


def non_finite_checkpoint_tensors(path: str) -> list[str]:
    """The keys of the floating-point tensors saved in checkpoint `path` holding a NaN or an infinity."""
    reader = tf.train.load_checkpoint(path)
    return [key for key, dtype in sorted(reader.get_variable_to_dtype_map().items())
            if dtype.is_floating and not np.isfinite(reader.get_tensor(key)).all()]


def describe_names(names: list[str]) -> str:
    """'first' or 'first (and N more)'."""
    return names[0] + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")


def assert_finite(losses_now: dict, step: int) -> None:
    """Raise NonFiniteLossError naming the step and the first non-finite loss."""
    for name, value in losses_now.items():
        if not np.isfinite(value):
            raise NonFiniteLossError(f"non-finite loss at step {step}: {name} = {value}")


# ---------------------------------------------------------------------------------------------- trainer
class GANTrainer:
    """Models, optimizers, step counter and RNG of a wavebabble GAN, and its distributed train step.

    cfg: Config (cfg.batch_size is the global batch; it must divide by strategy.num_replicas_in_sync).
    strategy: tf.distribute strategy (default: the current one). seed: seeds Keras' initialisers and the
    step RNG. mixed_precision: "off" | "bfloat16" (Keras "mixed_bfloat16" policy: bfloat16 compute, float32
    variables; G output, soft VAD and losses are float32). jit_compile: XLA-compile the loss and gradient
    computations (the optimizer update and the cross-replica all-reduce stay outside XLA).
    Attributes: generator, discriminators {name: model}, g_opt, d_opt (Adam over all D variables),
    step (tf.Variable int64), rng (tf.random.Generator), ema_generator (a second G holding the moving average
    of G's weights when cfg.g_ema_decay > 0, else None), checkpoint (tf.train.Checkpoint with generator=G,
    ema_generator (when on), wave_d / ms_d / timing_d (active ones), g_opt, d_opt, step, rng).
    """

    def __init__(self, cfg: Config, strategy: tf.distribute.Strategy | None = None, *, seed: int = 0,
                 mixed_precision: str = "off", jit_compile: bool = False):
        self.cfg = cfg.validate()
        self.strategy = strategy or tf.distribute.get_strategy()
        self.num_replicas = self.strategy.num_replicas_in_sync
        if cfg.batch_size % self.num_replicas:
            raise ConfigError(f"config field 'batch_size' (flag --batch_size) = {cfg.batch_size}: the global batch "
                              f"must be divisible by the {self.num_replicas} replicas in sync")
        if mixed_precision not in MIXED_PRECISION:
            raise ConfigError(f"--mixed_precision={mixed_precision!r}: choose one of {MIXED_PRECISION}")
        self.global_batch = cfg.batch_size
        self.weights_by_d = {name: float(getattr(cfg, DISCRIMINATORS[name][0])) for name in active_discriminators(cfg)}
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
                self.discriminators = {name: DISCRIMINATORS[name][1](cfg) for name in self.weights_by_d}
                # the turn-timing D's pooled features alongside its score (same layers, no new variables)
                self._timing_with_features = None
                if "timing" in self.discriminators and cfg.timing_fm_weight > 0:
                    d = self.discriminators["timing"]
                    self._timing_with_features = keras.Model(
                        d.inputs, [d.get_layer(TIMING_FEATURES_LAYER).output, d.outputs[0]])
                # the timing D's turn statistics (a fixed function of its VAD input, no variables)
                self._timing_stats = None
                if "timing" in self.discriminators and cfg.timing_stats_weight > 0:
                    d = self.discriminators["timing"]
                    self._timing_stats = keras.Model(d.inputs, d.get_layer(TURN_STATS_LAYER).output)
                self.g_opt = self._make_optimizer(cfg.g_lr, "g_adam")
                self.d_opt = self._make_optimizer(cfg.d_lr, "d_adam", updates_per_step=cfg.d_updates)
                # Keras 3 under tf.distribute: create the optimizer slots now, not in the first replica step.
                self.g_opt.build(self.generator.trainable_variables)
                self.d_opt.build(self.d_variables)
        finally:
            keras.config.set_dtype_policy(previous_policy)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.rng = tf.random.Generator.from_seed(seed)
        self.checkpoint = tf.train.Checkpoint(
            generator=self.generator, g_opt=self.g_opt, d_opt=self.d_opt, step=self.step,
            rng=self.rng, **({"ema_generator": self.ema_generator} if self.ema_generator is not None else {}),
            **{f"{name}_d": model for name, model in self.discriminators.items()})
        # loss + gradient graphs (XLA-compiled with jit_compile); the optimizer step and all-reduce stay outside
        self._d_grads_fn = tf.function(self._d_grads, jit_compile=jit_compile) if jit_compile else self._d_grads
        self._g_grads_fn = tf.function(self._g_grads, jit_compile=jit_compile) if jit_compile else self._g_grads
        self._step_fn = tf.function(self._train_step)
        served = self.ema_generator if self.ema_generator is not None else self.generator
        self._generate_fn = tf.function(lambda z: tf.cast(served(z, training=False), tf.float32))

    # ----------------------------------------------------------------------------------------- building
    def _make_optimizer(self, lr: float, name: str, updates_per_step: int = 1):
        cfg = self.cfg
        if cfg.lr_decay_steps > 0:
            lr = LinearDecay(lr, cfg.lr_decay_start * updates_per_step, cfg.lr_decay_steps * updates_per_step)
        return keras.optimizers.Adam(learning_rate=lr, beta_1=cfg.beta1, beta_2=cfg.beta2, name=name)

    @property
    def d_variables(self) -> list:
        return [v for d in self.discriminators.values() for v in d.trainable_variables]

    def learning_rates(self) -> dict:
        """{"lr/g": float, "lr/d": float} (current optimizer learning rates)."""
        return {"lr/g": float(np.asarray(self.g_opt.learning_rate)),
                "lr/d": float(np.asarray(self.d_opt.learning_rate))}

    # ----------------------------------------------------------------------------------------- data
    def make_iterator(self, data_dir=None, **dataset_kwargs):
        """Iterator over distributed real batches (per replica [B / replicas, slice_len, nch]).

        dataset_kwargs go to data.make_dataset (shuffle, channel_swap, pair_pattern, seed, ...).
        """
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

    def _d_input(self, name: str, audio: tf.Tensor) -> tf.Tensor:
        if DISCRIMINATORS[name][2] == "vad":
            return vad.model_soft_vad(audio, self.cfg, self.step)
        return audio

    @staticmethod
    def _scores(name: str, out):
        return split_outputs(out)[1] if name == "ms" else out

    def _average(self, per_example: tf.Tensor) -> tf.Tensor:
        return tf.nn.compute_average_loss(tf.cast(per_example, tf.float32), global_batch_size=self.global_batch)

    def _d_grads(self, real, z, alpha):
        """D losses and gradients for this replica's real batch, latents and GP weights (jit-compilable)."""
        cfg = self.cfg
        fake = tf.stop_gradient(tf.cast(self.generator(z, training=True), tf.float32))
        logs, terms = {}, []
        with tf.GradientTape() as tape:
            for name, d in self.discriminators.items():
                x_real, x_fake = self._d_input(name, real), self._d_input(name, fake)
                per_ex = losses.d_loss(self._scores(name, d(x_real, training=True)),
                                       self._scores(name, d(x_fake, training=True)), cfg.loss)
                logs[f"d_{name}"] = self._average(per_ex)
                if cfg.loss == WGAN:
                    gp = losses.gradient_penalty(lambda x, d=d: d(x, training=True), x_real, x_fake, alpha=alpha)
                    logs[f"gp_{name}"] = self._average(gp)
                    per_ex = per_ex + cfg.gp_weight * gp
                if name == "timing" and cfg.timing_r1_weight > 0:
                    r1 = losses.r1_penalty(lambda x, d=d: d(x, training=True), x_real)
                    logs["r1_timing"] = self._average(r1)
                    per_ex = per_ex + cfg.timing_r1_weight * r1
                terms.append((self.weights_by_d[name], per_ex))
            total = self._average(losses.weighted_sum(terms))
        logs["d_total"] = total
        return tape.gradient(total, self.d_variables), logs

    def _g_grads(self, real, z):
        """G loss and gradients for this replica's latents (real batch: feature matching only)."""
        cfg = self.cfg
        logs, terms = {}, []
        with tf.GradientTape() as tape:
            fake = tf.cast(self.generator(z, training=True), tf.float32)
            for name, d in self.discriminators.items():
                x_fake = self._d_input(name, fake)
                # the real batch's D input, once, for the timing matching terms that compare against it
                x_real = None
                if name == "timing" and (self._timing_with_features is not None or self._timing_stats is not None):
                    x_real = self._d_input(name, real)
                if name == "timing" and self._timing_with_features is not None:
                    feats_fake, out_fake = self._timing_with_features(x_fake, training=True)
                    feats_real, _ = self._timing_with_features(x_real, training=True)
                    fm = losses.batch_feature_matching(feats_real, feats_fake)
                    logs["g_timing_fm"] = self._average(fm)
                    terms.append((self.weights_by_d[name] * cfg.timing_fm_weight, fm))
                else:
                    out_fake = d(x_fake, training=True)
                per_ex = losses.g_loss(self._scores(name, out_fake), cfg.loss)
                logs[f"g_{name}"] = self._average(per_ex)
                terms.append((self.weights_by_d[name], per_ex))
                if name == "timing" and self._timing_stats is not None:
                    sm = losses.batch_log_mean_matching(self._timing_stats(x_real), self._timing_stats(x_fake),
                                                        TURN_STATS_LOG_EPS)
                    logs["g_timing_stats"] = self._average(sm)
                    terms.append((self.weights_by_d[name] * cfg.timing_stats_weight, sm))
                if name == "ms" and cfg.fm_weight > 0:
                    out_real = d(real, training=True)
                    fm = losses.feature_matching(split_outputs(out_real)[0], split_outputs(out_fake)[0])
                    logs["g_fm"] = self._average(fm)
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
        """Run one step (cfg.d_updates D updates + 1 G update) -> ({loss name: float}, stop).

        Loss names: d_<name>, gp_<name> (wgan-gp), r1_timing (timing_r1_weight > 0), d_total (means over the
        D updates), g_<name>, g_fm, g_timing_fm, g_timing_stats, g_total.
        stop: True when any worker passed stop_requested=True (so all workers leave the loop together).
        """
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

    def _models(self) -> list:
        """(checkpoint key, model) for G, the moving-average G (when on) and every active D."""
        gens = [("generator", self.generator)] + ([("ema_generator", self.ema_generator)]
                                                  if self.ema_generator is not None else [])
        return gens + [(f"{n}_d", m) for n, m in self.discriminators.items()]

    def model_weights(self) -> dict:
        """{"<model>/<variable path>": np.ndarray} for G and every D (tests, debugging)."""
        return {f"{key}/{v.path}": np.array(v.numpy()) for key, model in self._models() for v in model.weights}

    def non_finite_weights(self) -> list[str]:
        """Names ("<model>/<variable path>", "<optimizer>/<slot>") of the model and optimizer variables that hold
        a NaN or an infinity: empty when every float a checkpoint saves is finite."""
        named = {f"{key}/{v.path}": v for key, model in self._models() for v in model.weights}
        named.update({v.path: v for opt in (self.g_opt, self.d_opt) for v in opt.variables})
        return non_finite_variables(named)


# ---------------------------------------------------------------------------------------------- checkpoints
def _remove_entries(folder: Path, names: list[str]) -> list[str]:
    """Remove folder/<name> (a file, or a folder with its contents) for each name; -> names."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return names


def remove_new_files(folder: Path, before: set[str]) -> list[str]:
    """Remove what a failed write added to `folder`: every entry not in `before` (names listed before it began);
    -> the names removed."""
    return _remove_entries(folder, sorted(set(os.listdir(folder)) - before) if folder.is_dir() else [])


def remove_partial_checkpoints(folder) -> list[str]:
    """Remove the partial files a killed checkpoint save left in `folder` (PARTIAL_CHECKPOINT_RE names only);
    -> the names removed."""
    folder = Path(folder)
    return _remove_entries(folder, sorted(n for n in os.listdir(folder) if PARTIAL_CHECKPOINT_RE.match(n))
                           if folder.is_dir() else [])


class RunCheckpoints:
    """tf.train.CheckpointManager over `trainer.checkpoint` in <logdir>/ckpt.

    Multi-worker: every worker saves (saving may involve collectives), but only the chief into <logdir>/ckpt;
    the others write into a temp dir that is deleted after each save. Every worker restores from <logdir>/ckpt
    (a shared filesystem in multi-worker clusters). The chief first removes the partial files a killed save left
    there (PARTIAL_CHECKPOINT_RE; their names are in `removed_partial`).
    """

    def __init__(self, trainer: GANTrainer, logdir, max_to_keep: int = DEFAULT_MAX_TO_KEEP, chief: bool = True):
        self.trainer = trainer
        self.chief = chief
        self.directory = str(Path(logdir) / CKPT_SUBDIR)
        self._read_manager = tf.train.CheckpointManager(trainer.checkpoint, self.directory, max_to_keep=max_to_keep,
                                                        checkpoint_name=CKPT_PREFIX)
        self.removed_partial: list[str] = []     # partial files of a killed save, removed from <logdir>/ckpt
        if chief:
            self.removed_partial = remove_partial_checkpoints(self.directory)
            self._write_dir = None
            self._write_manager = self._read_manager
        else:
            task_type, task_id = task_info(trainer.strategy)
            self._write_dir = tempfile.mkdtemp(prefix=f"wavebabble_{task_type}{task_id}_ckpt_")
            self._write_manager = tf.train.CheckpointManager(trainer.checkpoint, self._write_dir, max_to_keep=1,
                                                             checkpoint_name=CKPT_PREFIX)

    @property
    def latest(self) -> str | None:
        return tf.train.latest_checkpoint(self.directory)

    def last_good(self) -> str | None:
        """The newest checkpoint of <logdir>/ckpt whose saved floats are all finite, or None."""
        state = tf.train.get_checkpoint_state(self.directory)
        for path in reversed(list(state.all_model_checkpoint_paths) if state else []):
            try:
                if not non_finite_checkpoint_tensors(path):
                    return path
            except (tf.errors.OpError, ValueError):        # listed but deleted or unreadable
                continue
        return None

    def restore_latest(self) -> int | None:
        """Restore the newest checkpoint of <logdir>/ckpt; -> its step, or None when there is none.

        NonFiniteWeightsError when it holds a NaN or an infinity (the message names the last good checkpoint)."""
        path = self.latest
        if path is None:
            return None
        status = self.trainer.checkpoint.restore(path)
        status.assert_existing_objects_matched()
        bad = self.trainer.non_finite_weights()
        if bad:
            raise NonFiniteWeightsError(f"checkpoint {path} holds non-finite weights: {describe_names(bad)}; not "
                                        f"resuming from it. Last good checkpoint: {self.last_good() or 'none'}")
        return int(self.trainer.step.numpy())

    def save(self) -> str:
        """Save at the trainer's current step (checkpoint number = step); -> the path (chief's real path).

        NonFiniteWeightsError, with nothing saved, when a model or optimizer weight is NaN or infinite."""
        step = int(self.trainer.step.numpy())
        bad = self.trainer.non_finite_weights()
        if bad:
            raise NonFiniteWeightsError(f"non-finite weights at step {step}: {describe_names(bad)}")
        directory = Path(self._write_manager.directory)
        before = set(os.listdir(directory)) if directory.is_dir() else set()
        try:
            path = self._write_manager.save(checkpoint_number=step)
        except WRITE_ERRORS as e:
            remove_new_files(directory, before)
            raise write_error("checkpoint", directory, e) from None
        if not self.chief:
            shutil.rmtree(self._write_dir, ignore_errors=True)
            os.makedirs(self._write_dir, exist_ok=True)
        return path

    def close(self) -> None:
        if self._write_dir:
            shutil.rmtree(self._write_dir, ignore_errors=True)

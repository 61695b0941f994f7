"""Train a wavebabble GAN: `python -m train.train --preset=demo --logdir=runs/demo` (console: wavebabble-train).

Reads the preset, applies flag overrides, builds the tf.distribute strategy, trains with a custom distributed
loop (wavebabble.trainer), writes TensorBoard panels (wavebabble.summaries) and checkpoints to --logdir, and at
the end exports the generator as a SavedModel to <logdir>/export (wavebabble.export, when installed).

Run dir (--logdir): config.json (the run's Config), ckpt/ (tf.train.CheckpointManager: G, every active D, both
optimizers, step, RNG state), TensorBoard event files, export/ (SavedModel).
Restarting with the same --logdir resumes from the latest checkpoint. Architecture fields must match the saved
config.json (otherwise the job refuses with the differing fields); training-only fields (learning rates, loss,
loss weights' values, d_updates, batch_size, ...) may change and are logged.
Steps are generator updates; each runs cfg.d_updates discriminator updates on fresh real batches.
SIGINT/SIGTERM: the current step finishes, a checkpoint is saved, and the job exits with 128 + signal number
(130 / 143) so schedulers see it was interrupted. A non-finite loss, or non-finite weights when a checkpoint is
due, stops the job (exit 1) without saving: the last good checkpoint stays, and the error names it. So does a
checkpoint that cannot be written (disk full, read-only --logdir): its partial files are removed. A checkpoint
holding non-finite weights is not resumed from. Progress: one line per --log_every steps.

Multi-worker (MultiWorkerMirroredStrategy): start the same command on every machine with TF_CONFIG set
(`--strategy=multi_worker`, or `auto` picks it when TF_CONFIG names several tasks); --logdir must be on storage
every worker can read (only the chief writes it).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.config import LOSSES, PRESETS, Config, get_config
from wavebabble.errors import ConfigError, OutputError, WavebabbleError

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker", "tpu")   # = trainer.STRATEGIES (kept TF-free)
MIXED_PRECISION = ("off", "bfloat16")                         # = trainer.MIXED_PRECISION
DEFAULT_LOGDIR_ROOT = "runs"          # --logdir default: runs/<preset>
DEFAULT_TRAIN_STEPS = {"demo": 600, "dialogue8k": 100000, "paper": 100000}
FALLBACK_TRAIN_STEPS = 100000
FIXED_Z_SALT = 7919                   # summary latents: np.random.default_rng([seed, FIXED_Z_SALT])
REAL_CLIPS_SALT = 104729              # summary real clips: data.load_clips(seed=seed + REAL_CLIPS_SALT)
EXIT_NON_FINITE = 1
SIGNAL_EXIT_BASE = 128                # exit status after a signal: 128 + signum (shell convention)
EXPORT_MODULE = "wavebabble.export"
BOOL_WORDS = {"true": True, "1": True, "false": False, "0": False}   # what --set accepts for a bool field

# flags that override a Config field of the same name (flag value None = keep the preset's value)
CONFIG_FLAGS = ("batch_size", "loss", "d_updates", "wave_weight", "ms_weight", "timing_weight", "fm_weight",
                "gp_weight", "g_lr", "d_lr")

FLAGS = flags.FLAGS
flags.DEFINE_enum("preset", "demo", sorted(PRESETS), "Config preset (wavebabble/config.py) that flags override.")
flags.DEFINE_string("data_dir", None, "Folder of stereo dialogue audio (or per-speaker mono pairs with "
                    "--pair_pattern). Default: the embedded babble corpus (built on first use).")
flags.DEFINE_string("pair_pattern", None, "Pair per-speaker mono files, e.g. '{id}_A.wav,{id}_B.wav' "
                    "(see wavebabble/data.py). Default: files are stereo.")
flags.DEFINE_string("logdir", None, f"Run dir for config.json, checkpoints, TensorBoard events and the export. "
                    f"Default: {DEFAULT_LOGDIR_ROOT}/<preset>. An existing run there is resumed.")
flags.DEFINE_integer("train_steps", None, f"Total generator steps (the run stops at this step, counting steps "
                     f"done before a resume). Default per preset: {DEFAULT_TRAIN_STEPS}.", lower_bound=1)
flags.DEFINE_integer("batch_size", None, "Global batch size (split over replicas). Default: the preset's.",
                     lower_bound=1)
flags.DEFINE_enum("strategy", "auto", STRATEGIES, "tf.distribute strategy: auto = multi_worker when TF_CONFIG "
                  "names several tasks, else mirrored over all GPUs when there are more than one, else one device.")
flags.DEFINE_string("tpu", "", "TPU name or grpc:// address for --strategy=tpu ('' = local TPU VM).")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices (e.g. 2 with "
                     "--strategy=mirrored to try data parallelism without GPUs). 0 = leave as is.", lower_bound=0)
flags.DEFINE_enum("loss", None, list(LOSSES), "GAN loss. Default: the preset's.")
flags.DEFINE_integer("d_updates", None, "Discriminator updates per generator update. Default: the preset's.",
                     lower_bound=1)
flags.DEFINE_float("wave_weight", None, "Weight of the WaveGAN discriminator (0 removes it). Default: preset's.")
flags.DEFINE_float("ms_weight", None, "Weight of the multi-scale discriminator (0 removes it). Default: preset's.")
flags.DEFINE_float("timing_weight", None, "Weight of the turn-timing discriminator on soft-VAD envelopes "
                   "(0 removes it: the ablation). Default: the preset's.")
flags.DEFINE_float("fm_weight", None, "Feature-matching weight on the multi-scale D features. Default: preset's.")
flags.DEFINE_float("gp_weight", None, "WGAN-GP gradient-penalty weight (lambda). Default: the preset's.")
flags.DEFINE_float("g_lr", None, "Generator Adam learning rate. Default: the preset's.")
flags.DEFINE_float("d_lr", None, "Discriminator Adam learning rate. Default: the preset's.")
flags.DEFINE_multi_string("set", [], "Override any Config field: --set=model_dim=16 --set=slice_len=16384 "
                          "(applied after the preset, before the named flags above).")
flags.DEFINE_integer("save_every", 500, "Save a checkpoint every this many steps (and at the end).", lower_bound=1)
flags.DEFINE_integer("max_to_keep", 5, "Checkpoints kept in <logdir>/ckpt.", lower_bound=1)
flags.DEFINE_integer("summary_every", 250, "Write the TensorBoard listening panels every this many steps "
                     "(and at the first and last step).", lower_bound=1)
flags.DEFINE_integer("log_every", 25, "Print a progress line and write loss scalars every this many steps.",
                     lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed for initial weights, latents, the data order and summary clips.")
flags.DEFINE_enum("mixed_precision", "off", MIXED_PRECISION, "Mixed precision: bfloat16 compute with float32 "
                  "variables (TPUs, Ampere+ GPUs, CPUs with AMX/AVX512-BF16). float16 is not offered: it needs "
                  "loss scaling, which Keras 3's LossScaleOptimizer does not support inside strategy.run.")
flags.DEFINE_boolean("jit_compile", False, "XLA-compile the loss/gradient graphs (slower on CPU: 0.57 vs 1.8 "
                     "demo steps/s on 2 cores; for GPUs).")
flags.DEFINE_integer("num_summary_clips", 4, "Generated (fixed latents) and real clips written as audio and VAD "
                     "strips to TensorBoard.", lower_bound=0)
flags.DEFINE_integer("num_timing_clips", 16, "Generated and real clips whose timing statistics are compared in "
                     "TensorBoard's timing table.", lower_bound=1)
flags.DEFINE_boolean("export", True, "At the end, export the generator as a SavedModel to <logdir>/export "
                     "(python -m wavebabble.export).")
flags.DEFINE_integer("debug_nan_at_step", 0, "Testing hook: poison a generator weight with NaN before this step "
                     "(0 = off).", lower_bound=0)
flags.DEFINE_string("debug_dump_weights", "", "Testing hook: at exit write every model weight to this .npz file.")


@dataclasses.dataclass
class TrainOptions:
    """Everything `train()` needs besides the Config (the flags above)."""
    logdir: str
    train_steps: int
    data_dir: str | None = None
    pair_pattern: str | None = None
    strategy: str = "auto"
    tpu: str = ""
    save_every: int = 500
    max_to_keep: int = 5
    summary_every: int = 250
    log_every: int = 25
    seed: int = 0
    mixed_precision: str = "off"
    jit_compile: bool = False
    num_summary_clips: int = 4
    num_timing_clips: int = 16
    export: bool = True
    debug_nan_at_step: int = 0
    debug_dump_weights: str = ""


# ---------------------------------------------------------------------------------------------- flags -> config
def _parse_set(items: list[str]) -> dict:
    """--set field=value items -> {field: typed value} (types from Config's defaults)."""
    defaults = Config()
    out = {}
    for item in items:
        field, sep, raw = item.partition("=")
        field = field.strip()
        if not sep or not hasattr(defaults, field) or field.startswith("_"):
            raise ConfigError(f"flag --set={item}: expected FIELD=VALUE with FIELD one of "
                              f"{sorted(f.name for f in dataclasses.fields(Config))}")
        kind = type(getattr(defaults, field))
        try:
            if kind is bool:
                value = BOOL_WORDS[raw.strip().lower()]
            elif kind is int:
                value = int(raw)
            elif kind is float:
                value = float(raw)
            else:
                value = raw
        except (ValueError, KeyError):
            wanted = "true, false, 1 or 0" if kind is bool else f"a {kind.__name__}"
            raise ConfigError(f"flag --set={item}: {field} needs {wanted}, got {raw!r}") from None
        out[field] = value
    return out


def config_from_flags(flag_values=FLAGS) -> Config:
    """The preset with --set and the named config flags applied; ConfigError naming the flag on bad values."""
    cfg = get_config(flag_values.preset)
    set_overrides = _parse_set(flag_values.set)
    named = {name: getattr(flag_values, name) for name in CONFIG_FLAGS if getattr(flag_values, name) is not None}
    try:
        cfg = cfg.replace(**set_overrides)
    except ConfigError as e:
        raise ConfigError(f"flag --set: {e}") from None
    try:
        return cfg.replace(**named)
    except ConfigError as e:
        field = str(e).split("'")[1] if str(e).startswith("config field '") else None
        if field in named:
            raise ConfigError(f"flag --{field}={named[field]}: {e}") from None
        if field is not None and field in CONFIG_FLAGS:
            raise ConfigError(f"flag --{field} (preset value {getattr(cfg, field)!r}, together with the other "
                              f"flags): {e}") from None
        raise ConfigError(f"flags {sorted('--' + n for n in named)}: {e}") from None


def options_from_flags(flag_values=FLAGS) -> TrainOptions:
    """TrainOptions from the flags (defaults resolved); ConfigError naming the flag on bad values."""
    data_dir = flag_values.data_dir
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise ConfigError(f"flag --data_dir={data_dir}: no such folder")
    preset = flag_values.preset
    logdir = flag_values.logdir or os.path.join(DEFAULT_LOGDIR_ROOT, preset)
    if Path(logdir).exists() and not Path(logdir).is_dir():
        raise ConfigError(f"flag --logdir={logdir}: exists and is not a folder")
    return TrainOptions(
        logdir=logdir, data_dir=data_dir, pair_pattern=flag_values.pair_pattern,
        train_steps=flag_values.train_steps or DEFAULT_TRAIN_STEPS.get(preset, FALLBACK_TRAIN_STEPS),
        strategy=flag_values.strategy, tpu=flag_values.tpu, save_every=flag_values.save_every,
        max_to_keep=flag_values.max_to_keep, summary_every=flag_values.summary_every,
        log_every=flag_values.log_every, seed=flag_values.seed, mixed_precision=flag_values.mixed_precision,
        jit_compile=flag_values.jit_compile,
        num_summary_clips=flag_values.num_summary_clips, num_timing_clips=flag_values.num_timing_clips,
        export=flag_values.export, debug_nan_at_step=flag_values.debug_nan_at_step,
        debug_dump_weights=flag_values.debug_dump_weights)


def check_run_dir(cfg: Config, logdir: str) -> Config | None:
    """Refuse (ConfigError) a --logdir whose config.json has a different architecture; -> the saved Config."""
    from wavebabble.trainer import CONFIG_NAME, check_resume_compatible    # trainer imports TF: keep it late

    path = Path(logdir) / CONFIG_NAME
    if not path.is_file():
        return None
    old = Config.from_json(path)
    check_resume_compatible(old, cfg, where=f"--logdir={logdir} ({path})")
    return old


# ---------------------------------------------------------------------------------------------- the loop
class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop saves and exits after the current step."""

    def __init__(self):
        self.signum = 0
        self._previous = {}

    def install(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:          # not the main thread: no handler (tests calling train() from threads)
                pass

    def _handle(self, signum, frame):
        if self.signum:                 # second signal: give up at once
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            os.kill(os.getpid(), signum)
            return
        self.signum = signum
        print(f"received {signal.Signals(signum).name}: saving a checkpoint after this step, then exiting",
              flush=True)

    def restore(self):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _format_seconds(s: float) -> str:
    if not np.isfinite(s):
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


def progress_line(step: int, total: int, losses: dict, steps_per_s: float, clips_per_s: float) -> str:
    """'step 120/3000 | d_total -1.234 ... | 2.31 steps/s | 36.9 clips/s | ETA 20m47s'."""
    loss_text = " ".join(f"{k} {v:.4g}" for k, v in losses.items())
    eta = (total - step) / steps_per_s if steps_per_s > 0 else float("inf")
    return (f"step {step}/{total} | {loss_text} | {steps_per_s:.3g} steps/s | {clips_per_s:.3g} clips/s | "
            f"ETA {_format_seconds(eta)}")


def _export(logdir: str) -> str:
    """wavebabble.export.export_from_logdir(logdir) -> <logdir>/export (replacing the files an earlier export
    wrote there; the user's other files stay)."""
    export = importlib.import_module(EXPORT_MODULE)
    print(f"exporting the generator to {os.path.join(logdir, 'export')} ...", flush=True)
    try:
        out = export.export_from_logdir(logdir, overwrite=True)
    except WavebabbleError as e:
        raise WavebabbleError(f"training finished (checkpoints in {logdir}/ckpt) but the export failed: {e}; "
                              f"retry with: python -m {EXPORT_MODULE} --logdir={logdir} --overwrite") from e
    print(f"exported SavedModel to {out}", flush=True)
    return out


def train(cfg: Config, opts: TrainOptions) -> int:
    """Train (or resume) the run in opts.logdir up to opts.train_steps; -> exit status (0 done, 128 + signal
    number when interrupted). Raises NonFiniteLossError (a non-finite loss, or its subclass NonFiniteWeightsError:
    non-finite weights when saving or in the checkpoint to resume; nothing saved after it), ConfigError, DataError."""
    import tensorflow as tf

    from wavebabble import data, summaries, trainer as trainer_lib

    strategy = trainer_lib.make_strategy(opts.strategy, opts.tpu)
    if cfg.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(f"flag --batch_size={cfg.batch_size}: the global batch must be divisible by the "
                          f"{strategy.num_replicas_in_sync} replicas of --strategy={opts.strategy}")
    chief = trainer_lib.is_chief(strategy)
    logdir = opts.logdir
    old_cfg = check_run_dir(cfg, logdir)
    if chief:
        if old_cfg is not None:
            for change in trainer_lib.training_field_changes(old_cfg, cfg):
                print(f"resume: training field changed: {change}", flush=True)
    print(f"strategy {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s); global batch "
          f"{cfg.batch_size}; discriminators {trainer_lib.active_discriminators(cfg)}; logdir {logdir}", flush=True)

    trainer = trainer_lib.GANTrainer(cfg, strategy, seed=opts.seed, mixed_precision=opts.mixed_precision,
                                     jit_compile=opts.jit_compile)
    ckpts = trainer_lib.RunCheckpoints(trainer, logdir, max_to_keep=opts.max_to_keep, chief=chief)
    if ckpts.removed_partial:
        print(f"removed the partial files of an interrupted checkpoint save from {ckpts.directory}: "
              f"{', '.join(ckpts.removed_partial)}", flush=True)
    resumed = ckpts.restore_latest()
    if resumed is not None:
        print(f"resumed from {ckpts.latest} at step {resumed}", flush=True)
    start = int(trainer.step.numpy())

    # a resumed run continues with a new data order instead of replaying the first clips
    ds_kwargs = {"seed": opts.seed + start, "pair_pattern": opts.pair_pattern}
    iterator = trainer.make_iterator(opts.data_dir, **ds_kwargs)
    panels, fixed_z = None, None
    if chief:
        n_real = max(opts.num_summary_clips, opts.num_timing_clips)
        real = data.load_clips(opts.data_dir, sample_rate=cfg.sample_rate, slice_len=cfg.slice_len,
                               num_clips=n_real, seed=opts.seed + REAL_CLIPS_SALT, pair_pattern=opts.pair_pattern)
        if cfg.nch == 2:
            panels = summaries.ListeningPanels(cfg, real, num_audio_clips=opts.num_summary_clips)
        fixed_z = np.random.default_rng([opts.seed, FIXED_Z_SALT]).uniform(
            -1.0, 1.0, [n_real, cfg.latent_dim]).astype(np.float32)
        # only now that the data loaded: a run that fails on its data leaves no config.json to block another
        trainer_lib.write_config(cfg, logdir)
    writer = tf.summary.create_file_writer(logdir) if chief else tf.summary.create_noop_writer()

    stop_flag = _StopFlag()
    stop_flag.install()
    clips_per_step = cfg.batch_size * cfg.d_updates
    step = start
    interval_t0, interval_steps, step_time_sum = time.perf_counter(), 0, 0.0
    interval_losses: dict = {}
    status = 0
    try:
        if start >= opts.train_steps:
            print(f"nothing to do: step {start} >= --train_steps={opts.train_steps}", flush=True)
        while step < opts.train_steps:
            if opts.debug_nan_at_step and step + 1 == opts.debug_nan_at_step:
                v = trainer.generator.trainable_variables[0]
                v.assign(np.full(v.shape, np.nan, np.float32))
            t0 = time.perf_counter()
            losses, stop = trainer.train_step(iterator, stop_requested=bool(stop_flag.signum))
            step_time_sum += time.perf_counter() - t0
            step = int(trainer.step.numpy())
            trainer_lib.assert_finite(losses, step)      # raises: nothing is saved after a non-finite loss
            interval_steps += 1
            for k, v in losses.items():
                interval_losses[k] = interval_losses.get(k, 0.0) + v

            last = step >= opts.train_steps or stop
            if step % opts.log_every == 0 or last:
                elapsed = time.perf_counter() - interval_t0
                steps_per_s = interval_steps / elapsed if elapsed > 0 else 0.0
                mean_losses = {k: v / interval_steps for k, v in interval_losses.items()}
                if chief:
                    print(progress_line(step, opts.train_steps, mean_losses, steps_per_s,
                                        steps_per_s * clips_per_step), flush=True)
                with writer.as_default():
                    summaries.write_scalars({**{f"loss/{k}": v for k, v in mean_losses.items()},
                                             **trainer.learning_rates(),
                                             "perf/step_time_s": step_time_sum / interval_steps,
                                             "perf/steps_per_s": steps_per_s,
                                             "perf/clips_per_s": steps_per_s * clips_per_step}, step)
                interval_t0, interval_steps, step_time_sum, interval_losses = time.perf_counter(), 0, 0.0, {}
            if chief and (step % opts.summary_every == 0 or step == start + 1 or last):
                with writer.as_default():
                    if panels is not None:
                        panels.write(step, trainer.generate(fixed_z))
                    else:
                        tf.summary.audio("audio/generated", trainer.generate(fixed_z[:opts.num_summary_clips]),
                                         cfg.sample_rate, step=step, max_outputs=opts.num_summary_clips)
                writer.flush()
            if step % opts.save_every == 0 or last:
                path = ckpts.save()
                if chief:
                    print(f"saved {path}", flush=True)
            if stop:
                signum = stop_flag.signum or signal.SIGTERM      # another worker was signalled
                print(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved in "
                      f"{ckpts.directory}; rerun the same command to resume", flush=True)
                status = SIGNAL_EXIT_BASE + int(signum)
                break
    except trainer_lib.NonFiniteLossError as e:
        raise type(e)(f"{e}; stopping without saving. Last good checkpoint: {ckpts.last_good() or 'none'}") from None
    except OutputError as e:
        raise OutputError(f"{e}; stopping. Last good checkpoint: {ckpts.last_good() or 'none'}") from None
    finally:
        stop_flag.restore()
        writer.flush()
        ckpts.close()
        if opts.debug_dump_weights:
            np.savez(opts.debug_dump_weights, step=int(trainer.step.numpy()), **trainer.model_weights())

    if status == 0 and chief and opts.export and importlib.util.find_spec(EXPORT_MODULE) is not None:
        _export(logdir)
    return status


# ---------------------------------------------------------------------------------------------- CLI
def _configure_devices(cpu_devices: int) -> None:
    if cpu_devices > 0:
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_devices)


def main(argv) -> None:
    try:                                         # every flag check happens here, before TensorFlow starts
        cfg = config_from_flags()
        opts = options_from_flags()
        check_run_dir(cfg, opts.logdir)
        if opts.debug_nan_at_step and opts.debug_nan_at_step > opts.train_steps:
            raise ConfigError(f"flag --debug_nan_at_step={opts.debug_nan_at_step}: beyond --train_steps")
    except ConfigError as e:
        raise app.UsageError(str(e)) from None
    _configure_devices(FLAGS.cpu_devices)
    with cli_errors("wavebabble-train", EXIT_NON_FINITE):
        status = train(cfg, opts)
    sys.exit(status)


def run() -> None:
    """Console-script entry point (wavebabble-train)."""
    runtime.tune("train")
    run_main(main, "wavebabble-train")


if __name__ == "__main__":
    run()

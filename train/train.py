"""Train a wavebabble GAN: `python -m train.train --preset=demo --logdir=runs/demo` (console: wavebabble-train).

Config: the preset, then --config=FILE.json (Config fields; a run's config.json reproduces that run), then
--set=FIELD=VALUE, then --train_steps / --batch_size. Builds the tf.distribute strategy (wavebabble.distribute),
the GAN (wavebabble.gan), and runs the loop (wavebabble.train_loop) with hooks for progress, TensorBoard panels
(wavebabble.summaries) and checkpoints in --logdir (wavebabble.run_dir); at the end exports the generator as a
SavedModel to <logdir>/export (wavebabble.export, when installed).

Run dir (--logdir, wavebabble.run_dir): config.json (the run's Config), ckpt/ (G, its moving average, every
active critic, both optimizers, step, RNG state), TensorBoard event files, export/ (SavedModel).
Restarting with the same --logdir resumes from the latest checkpoint. Architecture fields must match the saved
config.json (otherwise the job refuses with the differing fields); training-only fields (learning rates, loss,
loss weights' values, d_updates, batch_size, ...) may change and are logged.
Steps are generator updates (the preset's train_steps unless --train_steps); each runs cfg.d_updates
discriminator updates on fresh real batches.
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
import json
import os
import sys
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.config import CONFIG_NAME, PRESETS, Config, drop_retired_fields, get_config, require_wavegan
from wavebabble.distribute import MIXED_PRECISION, STRATEGIES, split_cpu
from wavebabble.errors import ConfigError, NonFiniteLossError, OutputError, WavebabbleError

DEFAULT_LOGDIR_ROOT = "runs"          # --logdir default: runs/<preset>
FIXED_Z_SALT = 7919                   # summary latents: np.random.default_rng([seed, FIXED_Z_SALT])
REAL_CLIPS_SALT = 104729              # summary real clips: data.load_clips(seed=seed + REAL_CLIPS_SALT)
EXIT_NON_FINITE = 1
EXPORT_MODULE = "wavebabble.export"
BOOL_WORDS = {"true": True, "1": True, "false": False, "0": False}   # what --set accepts for a bool field
CONFIG_FLAGS = ("train_steps", "batch_size")   # flags that set the Config field of the same name

FLAGS = flags.FLAGS
flags.DEFINE_enum("preset", "demo", sorted(PRESETS), "Config preset (wavebabble/config.py): one measured result.")
flags.DEFINE_string("config", None, "JSON file of Config fields applied over the preset (a run's config.json "
                    "reproduces that run).")
flags.DEFINE_multi_string("set", [], "Override one Config field: --set=model_dim=16 --set=g_activity_gate=false "
                          "(after --config; booleans take true/false/1/0).")
flags.DEFINE_string("data_dir", None, "Folder of stereo dialogue audio (or per-speaker mono pairs with "
                    "--pair_pattern). Default: the embedded babble corpus (built on first use).")
flags.DEFINE_string("pair_pattern", None, "Pair per-speaker mono files, e.g. '{id}_A.wav,{id}_B.wav' "
                    "(see wavebabble/data.py). Default: files are stereo.")
flags.DEFINE_string("logdir", None, f"Run dir for config.json, checkpoints, TensorBoard events and the export. "
                    f"Default: {DEFAULT_LOGDIR_ROOT}/<preset>. An existing run there is resumed.")
flags.DEFINE_integer("train_steps", None, "Total generator steps (counting steps done before a resume). "
                     "Default: the preset's step budget.", lower_bound=1)
flags.DEFINE_integer("batch_size", None, "Global batch size (split over replicas). Default: the preset's.",
                     lower_bound=1)
flags.DEFINE_enum("strategy", "auto", STRATEGIES, "tf.distribute strategy: auto = multi_worker when TF_CONFIG "
                  "names several tasks, else mirrored over all GPUs when there are more than one, else one device.")
flags.DEFINE_string("tpu", "", "TPU name or grpc:// address for --strategy=tpu ('' = local TPU VM).")
flags.DEFINE_integer("cpu_devices", 0, "Split the CPU into this many logical devices (e.g. 2 with "
                     "--strategy=mirrored to try data parallelism without GPUs). 0 = leave as is.", lower_bound=0)
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


@dataclasses.dataclass
class TrainOptions:
    """Everything `train()` needs besides the Config (the flags above)."""
    logdir: str
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


# ---------------------------------------------------------------------------------------------- flags -> config
def parse_set(items: list[str]) -> dict:
    """--set FIELD=VALUE items -> {field: (typed value, the item)} (types from Config's defaults)."""
    defaults = Config()
    names = sorted(f.name for f in dataclasses.fields(Config))
    out = {}
    for item in items:
        field, sep, raw = item.partition("=")
        field = field.strip()
        if not sep or field not in names:
            raise ConfigError(f"flag --set={item}: expected FIELD=VALUE with FIELD one of {names}")
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
            raise ConfigError(f"flag --set={item}: {field} needs {wanted}, got {raw!r}", field=field) from None
        out[field] = (value, f"--set={item}")
    return out


def read_config_file(path: str) -> dict:
    """--config=FILE.json -> {field: value}; ConfigError naming the file when it cannot be read or is no object."""
    try:
        d = json.loads(Path(path).expanduser().read_text())
    except (OSError, ValueError) as e:
        raise ConfigError(f"flag --config={path}: cannot read it: {e}") from None
    if not isinstance(d, dict):
        raise ConfigError(f"flag --config={path}: expected a JSON object of Config fields")
    try:
        return drop_retired_fields(d)
    except ConfigError as e:
        raise ConfigError(f"flag --config={path}: {e}", field=e.field) from None


def config_from_flags(flag_values=FLAGS) -> Config:
    """The preset, then --config, --set and the CONFIG_FLAGS, validated; ConfigError naming the flag to blame."""
    overrides = {}                                       # field -> (value, the flag that set it)
    if flag_values.config:
        overrides.update({k: (v, f"--config={flag_values.config}")
                          for k, v in read_config_file(flag_values.config).items()})
    overrides.update(parse_set(flag_values.set))
    overrides.update({name: (getattr(flag_values, name), f"--{name}={getattr(flag_values, name)}")
                      for name in CONFIG_FLAGS if getattr(flag_values, name) is not None})
    try:
        require_wavegan(overrides.get("generator", ("wavegan",))[0])   # first: its other fields follow from it
        return get_config(flag_values.preset, **{k: v for k, (v, _) in overrides.items()})
    except ConfigError as e:
        if e.field in overrides:
            raise ConfigError(f"flag {overrides[e.field][1]}: {e}", field=e.field) from None
        raise ConfigError(f"preset '{flag_values.preset}' with the flags given: {e}", field=e.field) from None


def options_from_flags(flag_values=FLAGS) -> TrainOptions:
    """TrainOptions from the flags (defaults resolved); ConfigError naming the flag on bad values."""
    data_dir = flag_values.data_dir
    if data_dir is not None and not Path(data_dir).expanduser().is_dir():
        raise ConfigError(f"flag --data_dir={data_dir}: no such folder")
    logdir = flag_values.logdir or os.path.join(DEFAULT_LOGDIR_ROOT, flag_values.preset)
    if Path(logdir).exists() and not Path(logdir).is_dir():
        raise ConfigError(f"flag --logdir={logdir}: exists and is not a folder")
    names = [f.name for f in dataclasses.fields(TrainOptions) if f.name != "logdir"]
    return TrainOptions(logdir=logdir, **{n: getattr(flag_values, n) for n in names})


def check_run_dir(cfg: Config, logdir: str) -> Config | None:
    """Refuse (ConfigError) a --logdir whose config.json has a different architecture; -> the saved Config."""
    from wavebabble.run_dir import check_resume_compatible, read_config   # imports TF: keep it late

    old = read_config(logdir)
    if old is not None:
        check_resume_compatible(old, cfg, where=f"--logdir={logdir} ({Path(logdir) / CONFIG_NAME})")
    return old


# ---------------------------------------------------------------------------------------------- training
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


def train(cfg: Config, opts: TrainOptions, hooks=()) -> int:
    """Train (or resume) the run in opts.logdir up to cfg.train_steps; -> exit status (0 done, 128 + signal
    number when interrupted). `hooks`: extra train_loop.Hook objects, run after the built-in ones.
    Raises NonFiniteLossError (a non-finite loss, or its subclass NonFiniteWeightsError: non-finite weights when
    saving or in the checkpoint to resume; nothing saved after it), ConfigError, DataError, OutputError."""
    import tensorflow as tf

    from wavebabble import data, summaries, train_loop
    from wavebabble.critics import active_critics
    from wavebabble.distribute import is_chief, make_strategy
    from wavebabble.gan import GAN
    from wavebabble.run_dir import RunCheckpoints, training_field_changes, write_config

    strategy = make_strategy(opts.strategy, opts.tpu)
    if cfg.batch_size % strategy.num_replicas_in_sync:
        raise ConfigError(f"flag --batch_size={cfg.batch_size}: the global batch must be divisible by the "
                          f"{strategy.num_replicas_in_sync} replicas of --strategy={opts.strategy}")
    chief = is_chief(strategy)
    logdir = opts.logdir
    old_cfg = check_run_dir(cfg, logdir)
    if chief and old_cfg is not None:
        for change in training_field_changes(old_cfg, cfg):
            print(f"resume: training field changed: {change}", flush=True)
    print(f"strategy {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s); global batch "
          f"{cfg.batch_size}; discriminators {active_critics(cfg)}; logdir {logdir}", flush=True)

    gan = GAN(cfg, strategy, seed=opts.seed, mixed_precision=opts.mixed_precision, jit_compile=opts.jit_compile)
    ckpts = RunCheckpoints(gan, logdir, max_to_keep=opts.max_to_keep, chief=chief)
    if ckpts.removed_partial:
        print(f"removed the partial files of an interrupted checkpoint save from {ckpts.directory}: "
              f"{', '.join(ckpts.removed_partial)}", flush=True)
    resumed = ckpts.restore_latest()
    if resumed is not None:
        print(f"resumed from {ckpts.latest} at step {resumed}", flush=True)
    start = int(gan.step.numpy())

    # a resumed run continues with a new data order instead of replaying the first clips
    iterator = gan.make_iterator(opts.data_dir, seed=opts.seed + start, pair_pattern=opts.pair_pattern)
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
        write_config(cfg, logdir)
    writer = tf.summary.create_file_writer(logdir) if chief else tf.summary.create_noop_writer()
    loop_hooks = [train_loop.ProgressHook(gan, writer, opts.log_every, cfg.train_steps, chief)]
    if chief:
        loop_hooks.append(train_loop.SummaryHook(gan, writer, opts.summary_every, start + 1, panels, fixed_z,
                                                 opts.num_summary_clips))
    loop_hooks += [train_loop.CheckpointHook(ckpts, opts.save_every, chief), *hooks]

    signals = train_loop.StopSignals()
    signals.install()
    try:
        status = train_loop.run_loop(gan, iterator, cfg.train_steps, loop_hooks, signals)
    except NonFiniteLossError as e:
        raise type(e)(f"{e}; stopping without saving. Last good checkpoint: {ckpts.last_good() or 'none'}") from None
    except OutputError as e:
        raise OutputError(f"{e}; stopping. Last good checkpoint: {ckpts.last_good() or 'none'}") from None
    finally:
        signals.restore()
        writer.flush()
        ckpts.close()

    if status == 0 and chief and opts.export and importlib.util.find_spec(EXPORT_MODULE) is not None:
        _export(logdir)
    return status


# ---------------------------------------------------------------------------------------------- CLI
def main(argv, hooks=()) -> None:
    """The CLI: flags -> Config and TrainOptions (every check before TensorFlow starts) -> train()."""
    try:
        cfg = config_from_flags()
        opts = options_from_flags()
        runtime.start_tensorflow()              # the flags are fine: the run dir check needs TensorFlow
        check_run_dir(cfg, opts.logdir)
    except ConfigError as e:
        raise app.UsageError(str(e)) from None
    split_cpu(FLAGS.cpu_devices)
    with cli_errors("wavebabble-train", EXIT_NON_FINITE):
        status = train(cfg, opts, hooks)
    sys.exit(status)


def run() -> None:
    """Console-script entry point (wavebabble-train)."""
    runtime.tune("train", start=False)
    run_main(main, "wavebabble-train")


if __name__ == "__main__":
    run()

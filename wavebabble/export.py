"""Export a trained generator as a self-contained TensorFlow SavedModel.

    python -m wavebabble.export --logdir=runs/demo --out=runs/demo/export [--overwrite]
    python -m wavebabble.export --planner=PLANNER/ckpt/ckpt-N --renderer=RENDERER/ckpt/ckpt-M --out=DIR
                                (the two-stage generator, models/two_stage.py, from its two jobs' checkpoints)

The SavedModel needs neither wavebabble nor Keras to run (`tf.saved_model.load` is enough). Signatures:

    serving_default(z: float32 [None, latent_dim])  -> {audio: float32 [None, slice_len, 2] in [-1, 1],
                                                        vad:   float32 [None, num_frames, 2] in [0, 1]}
    generate(num_clips: int32 [], seed: int64 [])    -> same outputs; 1 <= num_clips <= MAX_CLIPS
    metadata()                                       -> {sample_rate, slice_len, latent_dim, frame_hz, hop_len,
                                                        num_frames, nch, max_clips, format_version,
                                                        latent_quantum: int32 [],
                                                        clip_seconds, vad_threshold_db, vad_temperature_db:
                                                        float32 [], config_json: string []}

`serving_default` refuses a z holding NaN or inf (InvalidArgumentError "z must be finite").
`generate` draws z ~ uniform(-1, 1) with a stateless Philox RNG: clip i uses seed pair (seed, i), so its latent
depends only on (seed, i), never on num_clips or batching, and is bit-identical on every machine.
What holds for the audio on every x86-64 CPU: the same seed and the same batch give bit-identical clips on one
machine and runtime setting (run it twice, in any process); a clip generated in a batch of another size, or on
another CPU or with oneDNN on or off, is equal within BATCH_ATOL (the kernels' summation order differs between
batch sizes and CPU kinds; measured up to 8e-9 here), so a 16-bit WAV of it may differ by one quantisation step.
The same draw is exported as the (non-signature) function `latents(start: int64, num_clips: int32,
seed: int64) -> [num_clips, latent_dim]` for callers that generate in batches (see generate.py).
`vad` is the soft VAD (vad.model_soft_vad) of `audio` with the config's VAD settings (threshold, temperature).

A generator that makes any length (the two-stage one) has latent_quantum > 0 and two more entry points:
    serving_any_length(z: float32 [None, None])      -> the same outputs for z of any length that is a multiple
                                                        of latent_quantum (audio: slice_len / latent_dim samples
                                                        per z value); a signature
    latents_of_length(start, num_clips, seed, latent_len: int32 [])  -> [num_clips, latent_len], the same draw
latent_quantum is 0 for fixed-length generators (and absent from exports made before it existed).

A two-stage export made with --responder and --continuer (and optionally --offline_responder) also holds the
babbling agent (wavebabble.agent):
    respond(partner: float32 [None], seed: int64 [])  -> {agent: float32 [None], partner_vad, agent_gate:
                                                        float32 [frames]}; partner: 8 kHz mono at the training
                                                        level (agent.normalize_level); a signature; the offline
                                                        responder answers (the streaming one without it)
    agent.partner_vad, agent.gate, agent.voice, agent.render    the streaming agent's steps (agent.StreamingAgent)
    agent.gate_offline                                          the offline responder's gate (long partners' blocks)
    agent.continue_vad                                          the continuation's who-speaks-when
                                                                (agent.continue_dialogue)
    agent.response_delay_frames, agent.receptive_frames         int64 scalars: the responder's reaction delay and
                                                                receptive field (agent.agent_frames reads them)
    agent.offline_delay_frames, agent.offline_receptive_frames  the same of the offline responder

The same numbers are also readable as scalar variables on the loaded object (`loaded.sample_rate`, ...) and
as `assets/wavebabble.json` (the full config plus the metadata). The folder also holds `.wavebabble-outputs.json`,
the record of the files the export wrote, which is what `--overwrite` may replace (wavebabble.outdir).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

from wavebabble import runtime

runtime.tune_if_main(__name__, "serve")  # before TensorFlow loads (python -m wavebabble.export)

import tensorflow as tf  # noqa: E402
from absl import app, flags, logging  # noqa: E402

from wavebabble.cli import cli_errors, run_main
from wavebabble.config import CONFIG_NAME, Config
from wavebabble.errors import ConfigError, output_error
from wavebabble.finite import describe_names, non_finite_variables
from wavebabble.run_dir import CKPT_SUBDIR, EXPORT_SUBDIR, WRITE_ERRORS, write_error
from wavebabble.outdir import OutputFolder, open_out_dir

MAX_CLIPS = 256                    # most clips one `generate` call makes (memory bound at dialogue8k sizes)
FORMAT_VERSION = 1                 # bump when signatures or metadata change incompatibly
ASSET_NAME = "wavebabble.json"     # config + metadata, under the SavedModel's assets/
DEFAULT_JIT_COMPILE = False        # XLA was ~2x slower than oneDNN graphs at batch 1 (eval/bench_serving.py)
DEFAULT_OPTIMIZE = True            # serve a polyphase copy of G with precomputed kernels (see serving_generator)
CHECK_CLIPS = 2                    # clips compared between G and its serving copy at export time
CHECK_ATOL = 1e-4                  # largest allowed |difference| between them (audio in [-1, 1])
BATCH_ATOL = 1e-5                  # promised |difference| of a clip across batch sizes and CPUs
INT_METADATA = ("sample_rate", "slice_len", "latent_dim", "frame_hz", "hop_len", "num_frames", "nch",
                "max_clips", "format_version", "latent_quantum")
FLOAT_METADATA = ("clip_seconds", "vad_threshold_db", "vad_temperature_db")
TOOL = "export"                    # this tool's name in the output folder's record (wavebabble.outdir)
EXPORT_TMP_INFIX = ".tmp-"         # an export stages into the sibling folder .<out name>.tmp-<random>
MKDTEMP_SUFFIX_RE = "[a-z0-9_]{8}"  # tempfile.mkdtemp's <random>: 8 of a-z, 0-9 and _
# files every export writes, known before saving (checked before the slow restore and save)
SAVED_MODEL_NAMES = (tf.saved_model.SAVED_MODEL_FILENAME_PB,
                     f"{tf.saved_model.VARIABLES_DIRECTORY}/{tf.saved_model.VARIABLES_FILENAME}.index",
                     f"{tf.saved_model.ASSETS_DIRECTORY}/{ASSET_NAME}")


def latent_quantum(cfg: Config) -> int:
    """The step of z lengths a generator accepts beyond latent_dim: 0 for fixed-length generators; for the
    two-stage one, the noise of one planner step (PLAN_UPSAMPLE mel frames)."""
    if cfg.generator != "two_stage":
        return 0
    from wavebabble.config import TWO_STAGE_NOISE_CH
    from wavebabble.models.mel_planner import PLAN_UPSAMPLE

    return PLAN_UPSAMPLE * TWO_STAGE_NOISE_CH


def export_metadata(cfg: Config) -> dict:
    """The numbers a serving client needs, as plain Python values."""
    meta = {"sample_rate": cfg.sample_rate, "slice_len": cfg.slice_len, "latent_dim": cfg.latent_dim,
            "frame_hz": cfg.frame_hz, "hop_len": cfg.hop_len, "num_frames": cfg.num_frames, "nch": cfg.nch,
            "max_clips": MAX_CLIPS, "format_version": FORMAT_VERSION, "latent_quantum": latent_quantum(cfg),
            "clip_seconds": cfg.clip_seconds,
            "vad_threshold_db": cfg.vad_threshold_db, "vad_temperature_db": cfg.vad_temperature_db}
    assert set(meta) == set(INT_METADATA) | set(FLOAT_METADATA)
    return meta


def serving_generator(generator, cfg: Config):
    """A copy of `generator` that is faster to serve, with the same weights and (to float rounding) outputs.

    Transposed-conv layers become PolyphaseConv1DTranspose (one stride-1 conv + reshape; models/layers.py) whose
    polyphase kernels are computed once here and stored as variables, instead of on every call: at batch 1 this
    halves dialogue8k latency on CPU. Falls back to `generator` itself (with a warning) when the copy cannot be
    built or does not reproduce `generator`'s output to CHECK_ATOL.
    """
    from wavebabble.models.generator import build_generator
    from wavebabble.models.layers import PolyphaseConv1DTranspose

    if cfg.generator != "wavegan":
        return generator
    try:
        fast = build_generator(cfg, transpose_impl="polyphase")
        fast.set_weights(generator.get_weights())
        for layer in fast.layers:
            if isinstance(layer, PolyphaseConv1DTranspose):
                layer.freeze_kernel()
        z = tf.random.stateless_uniform([CHECK_CLIPS, cfg.latent_dim], seed=[0, 0], minval=-1.0, maxval=1.0)
        diff = float(np.max(np.abs(fast(z, training=False).numpy() - generator(z, training=False).numpy())))
    except Exception as e:  # noqa: BLE001 - any failure: serve the original generator
        logging.warning("serving copy of the generator unavailable (%s); exporting it unchanged", e)
        return generator
    if not diff <= CHECK_ATOL:
        logging.warning("serving copy of the generator differs by %.2g (> %g); exporting it unchanged", diff, CHECK_ATOL)
        return generator
    return fast


class DialogueGenerator(tf.Module):
    """tf.Module wrapping a Keras generator with the serving signatures (see module docstring)."""

    def __init__(self, generator, cfg: Config, jit_compile: bool = DEFAULT_JIT_COMPILE, asset_path=None,
                 extra_json: dict | None = None, agent=None):
        super().__init__(name="wavebabble")
        from wavebabble.vad import model_soft_vad  # traced into the graph at export time; not needed at load

        # The Keras model itself is not tracked (a serving copy may hold unused training-layout kernels): only the
        # variables the traced graph reads are saved (see `serving_variables` below).
        self._holder = types.SimpleNamespace(generator=generator)
        self._cfg = cfg
        self._soft_vad = model_soft_vad
        meta = export_metadata(cfg)
        for key in INT_METADATA:
            setattr(self, key, tf.Variable(meta[key], dtype=tf.int32, trainable=False, name=key))
        for key in FLOAT_METADATA:
            setattr(self, key, tf.Variable(meta[key], dtype=tf.float32, trainable=False, name=key))
        self._meta = meta
        self._config_json = json.dumps({"config": cfg.to_dict(), "metadata": meta, **(extra_json or {})},
                                       sort_keys=True)
        if asset_path is not None:
            self.config_file = tf.saved_model.Asset(str(asset_path))
        latent_dim, nch = cfg.latent_dim, cfg.nch

        # Inner graph: z -> audio, vad. XLA-compiled when asked; input checks live outside (XLA drops asserts).
        def synthesize(z):
            audio = self._holder.generator(z, training=False)
            audio = tf.clip_by_value(tf.cast(audio, tf.float32), -1.0, 1.0)  # a post-filter may leave [-1, 1]
            vad = self._soft_vad(audio, cfg)
            return {"audio": tf.identity(audio, name="audio"), "vad": tf.identity(vad, name="vad")}

        self._synthesize = tf.function(synthesize, jit_compile=jit_compile, reduce_retracing=True)

        @tf.function(input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")])
        def serving_default(z):
            """z float32 [batch, latent_dim] -> {audio [batch, slice_len, nch], vad [batch, num_frames, nch]}."""
            # Checked at run time: signature callers may feed any shape (the signature alone does not stop them).
            z = tf.ensure_shape(z, [None, latent_dim],
                                name=f"z_must_be_float32_batch_by_{latent_dim}")
            z = tf.debugging.assert_all_finite(z, "serving_default: z must be finite (no NaN or inf)")
            return self._synthesize(z)

        def draw(start, num_clips, seed, length):
            """z for clips start .. start + num_clips - 1: float32 [num_clips, length], uniform(-1, 1)."""
            index = start + tf.range(tf.cast(num_clips, tf.int64), dtype=tf.int64)
            seeds = tf.stack([tf.fill(tf.shape(index), seed), index], axis=1)  # [num_clips, 2]
            return tf.map_fn(
                lambda s: tf.random.stateless_uniform(tf.reshape(length, [1]), seed=s, minval=-1.0, maxval=1.0,
                                                      dtype=tf.float32, alg="philox"),
                seeds, fn_output_signature=tf.TensorSpec([None], tf.float32))

        @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="start"),
                                      tf.TensorSpec([], tf.int32, name="num_clips"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def latents(start, num_clips, seed):
            """z for clips start .. start + num_clips - 1: float32 [num_clips, latent_dim], uniform(-1, 1)."""
            return tf.ensure_shape(draw(start, num_clips, seed, tf.constant(latent_dim)), [None, latent_dim])

        @tf.function(input_signature=[tf.TensorSpec([], tf.int32, name="num_clips"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def generate(num_clips, seed):
            """num_clips int32 [] in [1, MAX_CLIPS], seed int64 [] -> same outputs as serving_default."""
            num_clips = tf.ensure_shape(num_clips, [], name="num_clips_must_be_an_int32_scalar")
            seed = tf.ensure_shape(seed, [], name="seed_must_be_an_int64_scalar")
            checks = [
                tf.debugging.assert_greater_equal(
                    num_clips, 1, message="generate: num_clips must be >= 1"),
                tf.debugging.assert_less_equal(
                    num_clips, MAX_CLIPS,
                    message=f"generate: num_clips must be <= MAX_CLIPS = {MAX_CLIPS}; call it several times "
                            f"(clip i depends only on (seed, i)) or use serving_default"),
            ]
            with tf.control_dependencies(checks):
                z = latents(tf.constant(0, tf.int64), num_clips, seed)
            return self._synthesize(z)

        @tf.function(input_signature=[])
        def metadata():
            """Scalars describing the model (see module docstring)."""
            out = {k: tf.constant(meta[k], tf.int32) for k in INT_METADATA}
            out.update({k: tf.constant(meta[k], tf.float32) for k in FLOAT_METADATA})
            out["config_json"] = tf.constant(self._config_json)
            return out

        # Save exactly the variables the serving graph reads (tf.saved_model.save fails loudly on any other).
        traced = self._synthesize.get_concrete_function(tf.TensorSpec([None, latent_dim], tf.float32))
        self.serving_variables = list(traced.variables)
        self.serving_default = serving_default
        self.latents = latents
        self.generate = generate
        self.metadata = metadata
        self._any_length = {}
        quantum = meta["latent_quantum"]
        if quantum:
            @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="z")])
            def serving_any_length(z):
                """z float32 [batch, k * latent_quantum] -> audio [batch, k * latent_quantum * slice_len /
                latent_dim, nch], vad."""
                checks = [tf.debugging.assert_equal(
                    tf.shape(z)[1] % quantum, 0,
                    message=f"serving_any_length: z's length must be a positive multiple of {quantum}"),
                    tf.debugging.assert_positive(tf.shape(z)[1], message="serving_any_length: z is empty")]
                with tf.control_dependencies(checks):
                    z = tf.debugging.assert_all_finite(z, "serving_any_length: z must be finite (no NaN or inf)")
                return self._synthesize(z)

            @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="start"),
                                          tf.TensorSpec([], tf.int32, name="num_clips"),
                                          tf.TensorSpec([], tf.int64, name="seed"),
                                          tf.TensorSpec([], tf.int32, name="latent_len")])
            def latents_of_length(start, num_clips, seed, latent_len):
                """z for clips start .. start + num_clips - 1: float32 [num_clips, latent_len], uniform(-1, 1)."""
                return draw(start, num_clips, seed, latent_len)

            self.serving_any_length = serving_any_length
            self.latents_of_length = latents_of_length
            self._any_length = {"serving_any_length": serving_any_length}
        self._agent = {}
        if agent is not None:       # wavebabble.agent.AgentCore: its functions, and respond as a signature
            self.agent = agent
            self._agent = {"respond": agent.respond}

    def signatures(self) -> dict:
        return {"serving_default": self.serving_default, "generate": self.generate, "metadata": self.metadata,
                **self._any_length, **self._agent}


def _open_out_dir(out_dir: Path, overwrite: bool) -> OutputFolder:
    """The export folder; ConfigError when it is non-empty without overwrite, or when a file that no earlier
    export wrote holds a name every export writes (saved_model.pb, ...)."""
    folder = open_out_dir(out_dir, overwrite, "--out", "the export", tool=TOOL)
    folder.check_writes(SAVED_MODEL_NAMES)
    return folder


def export_tmp_prefix(out_dir: Path) -> str:
    """Name prefix of the temporary sibling folder an export of out_dir is staged in: '.<name>.tmp-'."""
    return f".{out_dir.name}{EXPORT_TMP_INFIX}"


def remove_killed_staging(out_dir: Path) -> list[str]:
    """Remove the staging folders a killed export of out_dir left beside it (folders named exactly as
    tempfile.mkdtemp names them with export_tmp_prefix); say so on stderr and return their names."""
    pattern = re.compile(re.escape(export_tmp_prefix(out_dir)) + MKDTEMP_SUFFIX_RE + "$")
    parent = out_dir.parent
    names = sorted(p.name for p in parent.iterdir()
                   if pattern.match(p.name) and p.is_dir() and not p.is_symlink()) if parent.is_dir() else []
    for name in names:
        shutil.rmtree(parent / name, ignore_errors=True)
    if names:
        print(f"removed the staging folder(s) of an interrupted export from {parent}: {', '.join(names)}",
              file=sys.stderr, flush=True)
    return names


def export_generator(generator, cfg: Config, out_dir, overwrite: bool = False,
                     jit_compile: bool = DEFAULT_JIT_COMPILE, optimize: bool = DEFAULT_OPTIMIZE,
                     extra_json: dict | None = None, agent=None) -> str:
    """Save `generator` (z [B, latent_dim] -> audio [B, slice_len, nch]) as a SavedModel in out_dir.

    optimize: serve `serving_generator(generator)` (same outputs, faster); jit_compile: XLA around G + VAD;
    extra_json: more top-level entries of the asset JSON and `config_json` (what the config does not say);
    agent: a wavebabble.agent.AgentCore saved with it (its functions under `agent`, `respond` a signature).

    Saves into a temporary sibling folder first (removing the ones a killed export left), so a failed export
    leaves out_dir as it was. A new out_dir is then that folder, renamed in one step; into an existing one
    (overwrite) each file the export wrote is moved over its older version and the earlier export's other files
    are removed, as recorded in out_dir (see wavebabble.outdir: the user's files stay, and one at a name the
    export writes is refused).
    Returns out_dir as a string. ConfigError if out_dir is non-empty and overwrite is False; OutputError naming
    out_dir when it cannot be written (read-only, disk full).
    """
    cfg.validate()
    out_dir = Path(out_dir).expanduser().resolve()
    folder = _open_out_dir(out_dir, overwrite)
    remove_killed_staging(out_dir)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=export_tmp_prefix(out_dir), dir=out_dir.parent))
    except OSError as e:
        raise output_error("the export", out_dir, e) from None
    try:
        asset_src = tmp / "_asset_src" / ASSET_NAME
        asset_src.parent.mkdir()
        served = serving_generator(generator, cfg) if optimize else generator
        module = DialogueGenerator(served, cfg, jit_compile=jit_compile, asset_path=asset_src, extra_json=extra_json,
                                   agent=agent)
        asset_src.write_text(module._config_json + "\n")
        model_dir = tmp / "model"
        tf.saved_model.save(module, str(model_dir), signatures=module.signatures())
        folder.install(model_dir)  # checks out_dir again: it may have changed while saving
    except WRITE_ERRORS as e:
        raise write_error("the export", out_dir, e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(out_dir)


def load_generator_from_logdir(logdir, checkpoint: str | None = None):
    """(generator, cfg) restored from a training run dir: <logdir>/config.json + <logdir>/ckpt/ (latest).

    When the run kept a moving average of G's weights (cfg.g_ema_decay > 0) the average is restored.
    ConfigError when the checkpoint cannot be restored or its generator holds a NaN or an infinity."""
    from wavebabble.models.generator import build_generator

    logdir = Path(logdir).expanduser()
    if not (logdir / CONFIG_NAME).is_file():
        raise ConfigError(f"--logdir={logdir}: no {CONFIG_NAME} (is this a training run dir?)")
    cfg = Config.from_json(logdir / CONFIG_NAME)
    if not checkpoint:
        checkpoint = tf.train.latest_checkpoint(str(logdir / CKPT_SUBDIR))
        if checkpoint is None:
            raise ConfigError(f"--logdir={logdir}: no checkpoint in {logdir / CKPT_SUBDIR}")
    generator = build_generator(cfg)
    # a run with a moving average of G's weights serves the average (what its listening panels played)
    key = "ema_generator" if cfg.g_ema_decay > 0 else "generator"
    try:
        status = tf.train.Checkpoint(**{key: generator}).restore(checkpoint).expect_partial()
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
        raise ConfigError(f"cannot restore the generator from checkpoint {checkpoint} with "
                          f"{logdir / CONFIG_NAME}: {e}") from e
    bad = non_finite_variables({f"{key}/{v.path}": v for v in generator.weights})
    if bad:
        raise ConfigError(f"checkpoint {checkpoint} holds non-finite weights: {describe_names(bad)}; refusing to "
                          f"export it (choose an earlier one with --checkpoint)")
    return generator, cfg


def export_from_logdir(logdir: str, out_dir: str | None = None, overwrite: bool = False,
                       checkpoint: str | None = None) -> str:
    """Restore the latest generator of a run dir and export it (default out_dir: <logdir>/export)."""
    out_dir = out_dir or os.path.join(logdir, EXPORT_SUBDIR)
    _open_out_dir(Path(out_dir).expanduser().resolve(), overwrite)  # fail before the slow restore
    generator, cfg = load_generator_from_logdir(logdir, checkpoint)
    return export_generator(generator, cfg, out_dir, overwrite=overwrite)


TWO_STAGE_BASE = "demo"            # the two-stage export's config: this preset's VAD and timing settings, with
TWO_STAGE_SLICE_LEN = 65536        # clips of this many samples by default (8.2 s; any length through
                                   # serving_any_length)


def two_stage_config(planner_dim: int, slice_len: int = TWO_STAGE_SLICE_LEN) -> Config:
    """The Config a two-stage export carries: generator 'two_stage', model_dim = the planner's dim, the base
    preset's VAD settings. Its training fields are the base preset's and do not describe the two jobs that
    trained it (their record goes beside it in the asset JSON: export_two_stage)."""
    from wavebabble.config import TWO_STAGE_NOISE_CH, TWO_STAGE_HOP, TWO_STAGE_SAMPLE_RATE, get_config

    return get_config(TWO_STAGE_BASE).replace(
        name="two_stage", generator="two_stage", sample_rate=TWO_STAGE_SAMPLE_RATE, nch=2, slice_len=slice_len,
        latent_dim=slice_len // TWO_STAGE_HOP * TWO_STAGE_NOISE_CH, model_dim=planner_dim).validate()


def export_two_stage(planner_ckpt: str, renderer_ckpt: str, out_dir, overwrite: bool = False,
                     planner_dim: int = 8, renderer_dim: int = 16, responder_ckpt: str | None = None,
                     responder_dim: int = 32, continuer_ckpt: str | None = None, continuer_dim: int = 32,
                     offline_responder_ckpt: str | None = None) -> str:
    """Export the two-stage generator restored from its jobs' checkpoints (models/two_stage.py), with the agent
    (wavebabble.agent: the `respond` signature) when the checkpoints of its answering and continuing turn-takers
    are given (train.train_responder --mode=streaming, train.train_continuer: both or neither), and its offline
    responder when offline_responder_ckpt is given (train.train_responder --mode=offline, the same dim as the
    streaming one); the asset JSON's "two_stage" entry names the checkpoints and dims. ConfigError naming a
    checkpoint that cannot be restored, or a streaming responder whose delay is too short to stream."""
    from wavebabble.models.two_stage import (build_two_stage_generator, restore_checkpoint, restore_responder,
                                             restore_two_stage, saved_responder_setup)

    if bool(responder_ckpt) != bool(continuer_ckpt):
        raise ConfigError("the agent needs both turn-takers: --responder (train.train_responder) and --continuer "
                          "(train.train_continuer), or neither")
    if offline_responder_ckpt and not responder_ckpt:
        raise ConfigError("--offline_responder goes with --responder and --continuer (the agent's streaming and "
                          "continuing turn-takers)")
    if responder_ckpt:
        from wavebabble.models.responder import stream_chunk_frames

        delay, _ = saved_responder_setup(responder_ckpt)
        if stream_chunk_frames(delay) < 1:
            raise ConfigError(f"--responder={responder_ckpt}: its reaction delay ({delay} frames) is too short to "
                              f"answer a stream (train.train_responder --mode=offline); give it as "
                              f"--offline_responder and a --mode=streaming checkpoint as --responder")
    out_dir = Path(out_dir).expanduser().resolve()
    _open_out_dir(out_dir, overwrite)  # fail before the slow restore
    cfg = two_stage_config(planner_dim)
    planner, renderer = restore_two_stage(planner_ckpt, renderer_ckpt, planner_dim, renderer_dim)
    models = [planner, renderer]
    from wavebabble.models.mel_renderer import renderer_harmonics

    record = {"two_stage": {"planner": str(planner_ckpt), "renderer": str(renderer_ckpt),
                            "planner_dim": planner_dim, "renderer_dim": renderer_dim,
                            "renderer_harmonics": renderer_harmonics(renderer),
                            "trained_by": ["train.train_renderer", "train.train_mel_gan"]}}
    agent = None
    if responder_ckpt:
        from wavebabble.agent import AgentCore
        from wavebabble.models.continuer import build_continuer

        responder = restore_responder(responder_ckpt, responder_dim)
        continuer = restore_checkpoint("continuer", build_continuer(continuer_dim), continuer_ckpt, continuer_dim)
        offline = (restore_responder(offline_responder_ckpt, responder_dim, "offline_responder")
                   if offline_responder_ckpt else None)
        models += [responder, continuer] + ([offline] if offline is not None else [])
        record["two_stage"].update(responder=str(responder_ckpt), responder_dim=responder_dim,
                                   continuer=str(continuer_ckpt), continuer_dim=continuer_dim)
        if offline_responder_ckpt:
            record["two_stage"]["offline_responder"] = str(offline_responder_ckpt)
        record["two_stage"]["trained_by"] += ["train.train_responder", "train.train_continuer"]
    bad = non_finite_variables({f"{m.name}/{v.path}": v for m in models for v in m.weights})
    if bad:
        raise ConfigError(f"the two-stage checkpoints hold non-finite weights: {describe_names(bad)}")
    if responder_ckpt:
        agent = AgentCore(planner, renderer, responder, continuer, cfg.vad_threshold_db, cfg.vad_temperature_db,
                          offline)
    return export_generator(build_two_stage_generator(planner, renderer), cfg, out_dir, overwrite=overwrite,
                            extra_json=record, agent=agent)


FLAGS = flags.FLAGS


def define_flags() -> None:
    """Define this CLI's flags (only when it runs: library users such as the trainer import this module)."""
    flags.DEFINE_string("logdir", None, "Training run dir holding config.json and ckpt/ (train.train).")
    flags.DEFINE_string("planner", None, "Instead of --logdir: the two-stage generator's planner checkpoint "
                        "(train.train_mel_gan: <logdir>/ckpt/ckpt-N); needs --renderer and --out.")
    flags.DEFINE_string("renderer", None, "Its renderer checkpoint (train.train_renderer: <logdir>/ckpt/ckpt-N).")
    flags.DEFINE_integer("planner_dim", 8, "The planner's --dim (two-stage export).")
    flags.DEFINE_integer("renderer_dim", 16, "The renderer's --dim (two-stage export).")
    flags.DEFINE_string("responder", None, "With --planner: the agent's turn-taker checkpoint (train.train_responder: "
                        "<logdir>/ckpt/ckpt-N), exported as the respond signature (wavebabble.respond).")
    flags.DEFINE_integer("responder_dim", 32, "The responder's --dim (both responders').")
    flags.DEFINE_string("offline_responder", None, "With --responder: the turn-taker that answers whole recordings "
                        "(train.train_responder --mode=offline: <logdir>/ckpt/ckpt-N); respond's offline answers "
                        "use it, respond --streaming the --responder.")
    flags.DEFINE_string("continuer", None, "With --responder: the agent's continuation turn-taker checkpoint "
                        "(train.train_continuer: <logdir>/ckpt/ckpt-N), used by wavebabble.continuation.")
    flags.DEFINE_integer("continuer_dim", 32, "The continuer's --dim.")
    flags.DEFINE_string("out", "", "SavedModel output folder; empty means <logdir>/export.")
    flags.DEFINE_string("checkpoint", "", "Checkpoint prefix to export; empty means the latest in <logdir>/ckpt.")
    flags.DEFINE_boolean("overwrite", False, "Write into a non-empty --out, replacing the files an earlier export "
                         "wrote there (the other files stay).")


def main(argv) -> None:
    two_stage = bool(FLAGS.planner or FLAGS.renderer)
    if two_stage == bool(FLAGS.logdir):
        raise app.UsageError("give --logdir (a train.train run), or --planner and --renderer (the two-stage "
                             "generator's checkpoints)")
    if (FLAGS.responder or FLAGS.continuer) and not two_stage:
        raise app.UsageError("--responder and --continuer go with --planner and --renderer (the agent speaks with "
                             "the two-stage generator's voice)")
    if bool(FLAGS.responder) != bool(FLAGS.continuer):
        raise app.UsageError("the agent needs both --responder and --continuer (or neither)")
    if FLAGS.offline_responder and not FLAGS.responder:
        raise app.UsageError("--offline_responder goes with --responder and --continuer")
    if two_stage and not (FLAGS.planner and FLAGS.renderer and FLAGS.out):
        raise app.UsageError("a two-stage export needs --planner, --renderer and --out")
    with cli_errors("wavebabble-export"):
        if two_stage:
            out = export_two_stage(FLAGS.planner, FLAGS.renderer, FLAGS.out, overwrite=FLAGS.overwrite,
                                   planner_dim=FLAGS.planner_dim, renderer_dim=FLAGS.renderer_dim,
                                   responder_ckpt=FLAGS.responder, responder_dim=FLAGS.responder_dim,
                                   continuer_ckpt=FLAGS.continuer, continuer_dim=FLAGS.continuer_dim,
                                   offline_responder_ckpt=FLAGS.offline_responder)
        else:
            out = export_from_logdir(FLAGS.logdir, FLAGS.out or None, overwrite=FLAGS.overwrite,
                                     checkpoint=FLAGS.checkpoint or None)
    print(f"exported SavedModel to {out}\n  inspect: saved_model_cli show --all --dir {out}")


def run() -> None:
    """Console-script entry point."""
    runtime.tune("serve")
    define_flags()
    run_main(main, "wavebabble-export")


if __name__ == "__main__":
    run()

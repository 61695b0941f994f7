"""Throughput of the tf.data input pipeline (wavebabble/data.py) vs what a training step consumes.

    python -m eval.bench_input --preset=demo                       # default corpus
    python -m eval.bench_input --data_dir=DIR --batches=50 --windows=5
    python -m eval.bench_input --synthetic_minutes=30              # no corpus at hand: synthetic stereo noise
    python -m eval.bench_input --train_step_time=2.5               # ratio against a known step time (s)

Prints: time to index/cache the sources, the pipeline's clips/s at the preset's slice length and batch size
(median over --windows timing windows of --batches batches each, after --warmup batches), seconds of audio per
second, and the ratio pipeline clips/s / training clips/s, where training consumes cfg.d_updates real batches
of cfg.batch_size per step (one per discriminator update). The step time comes from --train_step_time, or is
measured (--measure_train, on constant in-memory batches so the pipeline is not part of it) when
wavebabble.gan is available. Goal: ratio >= 10.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import flags

from wavebabble import runtime
from wavebabble.cli import run_main

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "demo", "Config preset giving sample rate, slice length and batch size.")
flags.DEFINE_string("data_dir", "", "Folder of stereo dialogues; empty = the embedded default corpus.")
flags.DEFINE_string("pair_pattern", None, "Mono-pair pattern for --data_dir (see wavebabble/data.py).")
flags.DEFINE_string("cache_dir", None, "Decoded-audio cache; default $WAVEBABBLE_CACHE/audio.")
flags.DEFINE_integer("batch_size", 0, "Batch size override (0 = the preset's).")
flags.DEFINE_integer("batches", 50, "Batches per timing window.")
flags.DEFINE_integer("windows", 5, "Timing windows; the median is reported.")
flags.DEFINE_integer("warmup", 10, "Batches drawn before timing (fills prefetch buffers, traces functions).")
flags.DEFINE_float("synthetic_minutes", 0.0, "If > 0: bench on this many minutes of synthetic stereo noise "
                   "(60 s WAVs written to a temp folder) instead of --data_dir / the default corpus.")
flags.DEFINE_float("train_step_time", 0.0, "Seconds per training step (cfg.d_updates D updates + 1 G update); "
                   "0 = measure it with wavebabble.gan when --measure_train.")
flags.DEFINE_bool("measure_train", True, "Measure the training step time when --train_step_time is 0.")
flags.DEFINE_integer("train_steps", 3, "Timed training steps (after 1 warm-up step) when measuring.")
flags.DEFINE_integer("seed", 0, "Pipeline seed.")

GOAL_RATIO = 10.0                    # pipeline must outrun training by this factor
SYNTHETIC_FILE_SECONDS = 60          # length of each synthetic WAV
SYNTHETIC_LEVELS = (0.3, 0.1)        # noise std of the two channels (different speaker levels)


def write_synthetic(folder: Path, minutes: float, sample_rate: int) -> Path:
    """Stereo noise WAVs totalling ``minutes`` (bench fodder only)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    n = max(1, int(round(minutes * 60 / SYNTHETIC_FILE_SECONDS)))
    for i in range(n):
        x = rng.standard_normal((SYNTHETIC_FILE_SECONDS * sample_rate, 2)).astype(np.float32) * SYNTHETIC_LEVELS
        sf.write(str(folder / f"synthetic_{i:04d}.wav"), np.clip(x, -1, 1), sample_rate, subtype="PCM_16")
    return folder


def time_pipeline(ds, batch_size: int, batches: int, windows: int, warmup: int) -> list[float]:
    """clips/s of each timing window."""
    it = iter(ds)
    for _ in range(warmup):
        next(it)
    rates = []
    for w in range(windows):
        t0 = time.perf_counter()
        for _ in range(batches):
            next(it)
        rates.append(batches * batch_size / (time.perf_counter() - t0))
        print(f"  window {w + 1}/{windows}: {rates[-1]:9.1f} clips/s", flush=True)
    return rates


def measure_train_step(cfg, steps: int) -> float:
    """Median seconds per GAN.train_step on constant in-memory batches (default strategy)."""
    import tensorflow as tf
    from wavebabble.gan import GAN

    trainer = GAN(cfg, seed=0)
    real = tf.random.uniform([cfg.batch_size, cfg.slice_len, cfg.nch], -0.5, 0.5, seed=0)
    it = iter(trainer.strategy.distribute_datasets_from_function(
        lambda ctx: tf.data.Dataset.from_tensors(real[:ctx.get_per_replica_batch_size(cfg.batch_size)]).repeat()))
    print("  training step: tracing + 1 warm-up step ...", flush=True)
    trainer.train_step(it)
    times = []
    for s in range(steps):
        t0 = time.perf_counter()
        trainer.train_step(it)
        times.append(time.perf_counter() - t0)
        print(f"  step {s + 1}/{steps}: {times[-1]:.3f} s", flush=True)
    return statistics.median(times)


def main(argv):
    del argv
    from wavebabble import data
    from wavebabble.config import get_config

    cfg = get_config(FLAGS.preset, **({"batch_size": FLAGS.batch_size} if FLAGS.batch_size else {}))
    tmp = None
    data_dir = FLAGS.data_dir or None
    if FLAGS.synthetic_minutes > 0:
        tmp = tempfile.TemporaryDirectory(prefix="bench_input_")
        data_dir = write_synthetic(Path(tmp.name), FLAGS.synthetic_minutes, cfg.sample_rate)
    cache_dir = FLAGS.cache_dir or (Path(tmp.name) / "cache" if tmp else None)

    print(f"preset={cfg.name} sample_rate={cfg.sample_rate} slice_len={cfg.slice_len} "
          f"({cfg.clip_seconds:.2f} s) batch_size={cfg.batch_size} d_updates={cfg.d_updates}")
    t0 = time.perf_counter()
    index = data.index_sources(data_dir, sample_rate=cfg.sample_rate, pair_pattern=FLAGS.pair_pattern,
                               cache_dir=cache_dir)
    t_index = time.perf_counter() - t0
    print(f"sources: {len(index.sources)} usable ({index.total_seconds / 60:.1f} min), {len(index.bad)} unusable; "
          f"index {t_index:.2f} s ({index.num_decoded} decoded, {index.num_cached} from cache) in {index.folder}")
    ds = data.make_dataset(data_dir, sample_rate=cfg.sample_rate, slice_len=cfg.slice_len,
                           batch_size=cfg.batch_size, seed=FLAGS.seed, index=index)
    print(f"pipeline: {FLAGS.windows} windows x {FLAGS.batches} batches after {FLAGS.warmup} warm-up batches")
    rates = time_pipeline(ds, cfg.batch_size, FLAGS.batches, FLAGS.windows, FLAGS.warmup)
    clips_s = statistics.median(rates)
    audio_s = clips_s * cfg.clip_seconds

    step_time, how = FLAGS.train_step_time, "--train_step_time"
    if step_time <= 0 and FLAGS.measure_train:
        try:
            step_time, how = measure_train_step(cfg, FLAGS.train_steps), "measured"
        except ImportError as e:
            print(f"  (training step not measured: {e})")
            step_time = 0.0
    print()
    print(f"{'pipeline clips/s (median)':34s} {clips_s:12.1f}   (min {min(rates):.1f}, max {max(rates):.1f})")
    print(f"{'pipeline batches/s':34s} {clips_s / cfg.batch_size:12.1f}")
    print(f"{'audio seconds per second':34s} {audio_s:12.1f}")
    if step_time > 0:
        train_clips_s = cfg.d_updates * cfg.batch_size / step_time
        ratio = clips_s / train_clips_s
        print(f"{'training step time (s, ' + how + ')':34s} {step_time:12.3f}")
        print(f"{'training consumes clips/s':34s} {train_clips_s:12.1f}   "
              f"({cfg.d_updates} x {cfg.batch_size} clips per step)")
        print(f"{'ratio pipeline / training':34s} {ratio:12.1f}x  goal >= {GOAL_RATIO:.0f}x: "
              f"{'OK' if ratio >= GOAL_RATIO else 'BELOW GOAL'}")
    else:
        print("ratio to training: not computed (pass --train_step_time=SECONDS)")
    if tmp is not None:
        tmp.cleanup()


def run():
    runtime.tune("train")
    run_main(main, "python -m eval.bench_input")


if __name__ == "__main__":
    run()

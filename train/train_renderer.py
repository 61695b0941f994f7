"""Train the two-stage generator's renderer (log-mel -> waveform) on random windows of real dialogue audio.

    python -m train.train_renderer --logdir=runs/renderer [--data_dir=DIR] [--steps=N]

Each step: a batch of random windows (one speaker each) cut from jointly normalised real clips (the data
pipeline's level), their log-mels (wavebabble.mel), the renderer's waveform from those mels, and the
multi-resolution STFT loss between the two (losses.multi_resolution_stft). Checkpoints in <logdir>/ckpt every
--save_every steps; restarting with the same --logdir resumes (--init_from: start from another run's checkpoint).
Progress: one line per --log_every steps.
"""
from __future__ import annotations

import numpy as np
from absl import flags

from train.stage_loop import add_loop_flags, check_init_from, run_stage
from wavebabble import runtime
from wavebabble.cli import run_main

FLAGS = flags.FLAGS
DEFAULT_STEPS = 5000       # --steps: the measured run (eval/results/sound_notes.md), what eval.ship_model runs


def define_flags() -> None:
    add_loop_flags("runs/renderer", steps=DEFAULT_STEPS, save_every=500, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Windows per step.")
    flags.DEFINE_integer("window", 8192, "Samples per window (a multiple of the mel hop).")
    flags.DEFINE_integer("dim", 16, "Renderer base channels.")
    flags.DEFINE_float("lr", 1e-3, "Adam learning rate.")
    flags.DEFINE_integer("num_clips", 256, "Real clips (slice_len 65536) the windows are cut from.")


def main(argv) -> int:
    del argv
    check_init_from(FLAGS.init_from)
    runtime.tune("train")
    import tensorflow as tf
    from wavebabble import data, losses
    from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE, log_mel
    from wavebabble.models.mel_renderer import build_mel_renderer

    sr = MEL_SAMPLE_RATE
    clips = data.load_clips(FLAGS.data_dir, sample_rate=sr, slice_len=65536, num_clips=FLAGS.num_clips,
                            seed=FLAGS.seed)
    rows = np.concatenate([clips[..., 0], clips[..., 1]], axis=0)          # [2 * num_clips, 65536]
    rng = np.random.default_rng(FLAGS.seed)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    renderer = build_mel_renderer(FLAGS.dim)
    opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    opt.build(renderer.trainable_variables)

    @tf.function
    def train_step(wave):
        mel = log_mel(wave, sr)
        with tf.GradientTape() as tape:
            loss = losses.multi_resolution_stft(wave, renderer(mel, training=True)[..., 0])
        grads = tape.gradient(loss, renderer.trainable_variables)
        opt.apply_gradients(zip(grads, renderer.trainable_variables))
        return {"loss": loss}

    window = FLAGS.window - FLAGS.window % MEL_HOP

    def step_fn():
        idx = rng.integers(0, rows.shape[0], FLAGS.batch_size)
        off = rng.integers(0, rows.shape[1] - window + 1, FLAGS.batch_size)
        return train_step(tf.constant(np.stack([rows[i, o:o + window] for i, o in zip(idx, off)])))

    return run_stage(step_fn, {"renderer": renderer, "opt": opt}, logdir=FLAGS.logdir, steps=FLAGS.steps,
                     init_from=FLAGS.init_from, save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"renderer: {renderer.count_params()} parameters; {rows.shape[0]} rows of real audio")


def run() -> None:
    define_flags()
    run_main(main, "train.train_renderer")


if __name__ == "__main__":
    run()

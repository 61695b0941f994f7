"""Train the two-stage generator's renderer (log-mel -> waveform) on random windows of real dialogue audio.

    python -m train.train_renderer --logdir=runs/renderer [--data_dir=DIR] [--steps=N]

Each step: a batch of random windows (one speaker each) cut from jointly normalised real clips (the data
pipeline's level), their log-mels (wavebabble.mel), the renderer's waveform from those mels, and the
multi-resolution STFT loss between the two (losses.multi_resolution_stft). With --harmonics > 0 the renderer has a
pitched source (models/mel_renderer.py) whose pitch head is also trained on the windows' own pitch
(wavebabble.pitch_track, YIN on the real rows once at the start): --pitch_weight x (binary cross-entropy of the
voicing + mean |log2 f0 error| in octaves over voiced frames); the number of harmonics is saved with the
checkpoints ("harmonics"), so export and the evaluation tools build the renderer it was trained as. Checkpoints
in <logdir>/ckpt every --save_every steps; restarting with the same --logdir resumes (--init_from: start from
another run's checkpoint).
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
# --harmonics: measured against no source on the same 5000 steps (eval/results/sound_notes.md): the corpus rendered
# from its own mels voiced 0.81 vs 0.49 of active frames, log-mel FD 925 vs 1025; the shipped planner's clips
# voiced 0.44 vs 0.24, FD 848 vs 1076
DEFAULT_HARMONICS = 8


def define_flags() -> None:
    add_loop_flags("runs/renderer", steps=DEFAULT_STEPS, save_every=500, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Windows per step.")
    flags.DEFINE_integer("window", 8192, "Samples per window (a multiple of the mel hop).")
    flags.DEFINE_integer("dim", 16, "Renderer base channels.")
    flags.DEFINE_float("lr", 1e-3, "Adam learning rate.")
    flags.DEFINE_integer("num_clips", 256, "Real clips (slice_len 65536) the windows are cut from.")
    flags.DEFINE_integer("harmonics", DEFAULT_HARMONICS, "Harmonics of the renderer's pitched source (0: none, the "
                         "renderer before 2026-12-03).", lower_bound=0)
    flags.DEFINE_float("pitch_weight", 1.0, "Weight of the pitch head's loss (with --harmonics).", lower_bound=0.0)


def check_resumed_harmonics(logdir: str, harmonics: int) -> None:
    """UsageError when the run in `logdir` was trained with another --harmonics."""
    import tensorflow as tf
    from absl import app

    from wavebabble.models.two_stage import saved_renderer_harmonics

    latest = tf.train.latest_checkpoint(f"{logdir}/ckpt")
    saved = saved_renderer_harmonics(latest) if latest else harmonics
    if saved != harmonics:
        raise app.UsageError(f"--harmonics={harmonics}: the run in {logdir} was trained with --harmonics={saved}; "
                             f"give that or another --logdir")


def main(argv) -> int:
    del argv
    check_init_from(FLAGS.init_from)
    runtime.tune("train")
    check_resumed_harmonics(FLAGS.logdir, FLAGS.harmonics)
    import tensorflow as tf
    from wavebabble import data, losses
    from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE, log_mel
    from wavebabble.models.mel_renderer import build_mel_renderer, pitch_model
    from wavebabble.pitch_track import track_pitch

    sr = MEL_SAMPLE_RATE
    clips = data.load_clips(FLAGS.data_dir, sample_rate=sr, slice_len=65536, num_clips=FLAGS.num_clips,
                            seed=FLAGS.seed)
    rows = np.concatenate([clips[..., 0], clips[..., 1]], axis=0)          # [2 * num_clips, 65536]
    rng = np.random.default_rng(FLAGS.seed)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    renderer = build_mel_renderer(FLAGS.dim, FLAGS.harmonics)
    opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    opt.build(renderer.trainable_variables)
    harmonics = FLAGS.harmonics
    if harmonics:
        pitch_head = pitch_model(renderer)
        f0_rows, voiced_rows = track_pitch(rows, sr)                       # [rows, 65536 // MEL_HOP] each
        print(f"pitch targets: {voiced_rows.mean():.2f} of the rows' frames voiced, median f0 "
              f"{np.median(f0_rows[voiced_rows]) if voiced_rows.any() else 0:.0f} Hz", flush=True)

    @tf.function
    def train_step(wave, f0, voiced):
        mel = log_mel(wave, sr)
        with tf.GradientTape() as tape:
            fake = renderer(mel, training=True)[..., 0]
            stft = losses.multi_resolution_stft(wave, fake)
            out = {"loss": stft}
            total = stft
            if harmonics:
                pitch = pitch_head(mel, training=True)                         # [batch, frames, 2]
                voicing_loss = tf.reduce_mean(tf.keras.losses.binary_crossentropy(voiced[..., None],
                                                                                  pitch[..., 1:]))
                octaves = tf.abs(tf.math.log(pitch[..., 0] / tf.maximum(f0, 1.0))) / np.log(2.0)
                f0_loss = tf.reduce_sum(octaves * voiced) / tf.maximum(tf.reduce_sum(voiced), 1.0)
                total += FLAGS.pitch_weight * (voicing_loss + f0_loss)
                out.update(voicing=voicing_loss, octaves=f0_loss)
        grads = tape.gradient(total, renderer.trainable_variables)
        opt.apply_gradients(zip(grads, renderer.trainable_variables))
        return out

    frames = FLAGS.window // MEL_HOP
    window = frames * MEL_HOP

    def step_fn():
        idx = rng.integers(0, rows.shape[0], FLAGS.batch_size)
        first = rng.integers(0, rows.shape[1] // MEL_HOP - frames + 1, FLAGS.batch_size)   # frame-aligned
        wave = np.stack([rows[i, f * MEL_HOP:f * MEL_HOP + window] for i, f in zip(idx, first)])
        if harmonics:
            f0 = np.stack([f0_rows[i, f:f + frames] for i, f in zip(idx, first)])
            voiced = np.stack([voiced_rows[i, f:f + frames] for i, f in zip(idx, first)]).astype(np.float32)
        else:
            f0 = voiced = np.zeros((FLAGS.batch_size, frames), np.float32)
        return train_step(tf.constant(wave), tf.constant(f0), tf.constant(voiced))

    saved = {"renderer": renderer, "opt": opt, "harmonics": tf.Variable(harmonics, dtype=tf.int64, trainable=False)}
    return run_stage(step_fn, saved, logdir=FLAGS.logdir, steps=FLAGS.steps,
                     init_from=FLAGS.init_from, save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"renderer: {renderer.count_params()} parameters; {rows.shape[0]} rows of real audio")


def run() -> None:
    define_flags()
    run_main(main, "train.train_renderer")


if __name__ == "__main__":
    run()

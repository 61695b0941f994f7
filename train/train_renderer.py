"""Train the two-stage generator's renderer (log-mel -> waveform) on random windows of real dialogue audio.

    python -m train.train_renderer --logdir=runs/renderer [--data_dir=DIR] [--steps=N]

Each step: a batch of random windows (one speaker each) cut from jointly normalised real clips (the data
pipeline's level), their log-mels (wavebabble.mel), the renderer's waveform from those mels, and the
multi-resolution STFT loss between the two (losses.multi_resolution_stft). With --adv_weight > 0 a multi-scale
waveform critic (models/multiscale_discriminator.py, MelGAN-style, one speaker's window; LSGAN loss) also
judges the rendered windows, and the renderer's loss adds --adv_weight x (its adversarial loss + --fm_weight x
feature matching on the critic's features), as in Parallel WaveGAN / HiFi-GAN; start such a run from an
STFT-only checkpoint with --init_from. Checkpoints in <logdir>/ckpt every --save_every steps; restarting with
the same --logdir resumes. Progress: one line per --log_every steps.
"""
from __future__ import annotations

import numpy as np
from absl import flags

from train.stage_loop import add_loop_flags, check_init_from, run_stage
from wavebabble import runtime
from wavebabble.cli import run_main

FLAGS = flags.FLAGS


def define_flags() -> None:
    add_loop_flags("runs/renderer", steps=5000, save_every=500, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Windows per step.")
    flags.DEFINE_integer("window", 8192, "Samples per window (a multiple of the mel hop).")
    flags.DEFINE_integer("dim", 16, "Renderer base channels.")
    flags.DEFINE_float("lr", 1e-3, "Adam learning rate.")
    flags.DEFINE_integer("num_clips", 256, "Real clips (slice_len 65536) the windows are cut from.")
    flags.DEFINE_float("adv_weight", 0.0, "Weight of the multi-scale waveform critic's terms (0: STFT loss only).")
    flags.DEFINE_float("fm_weight", 2.0, "Feature matching on that critic's features, relative to its adversarial "
                       "loss.")
    flags.DEFINE_integer("critic_dim", 16, "Base channels of the waveform critic.")


def main(argv) -> int:
    del argv
    check_init_from(FLAGS.init_from)
    runtime.tune("train")
    import tensorflow as tf
    from wavebabble import data, losses
    from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE, log_mel
    from wavebabble.config import get_config
    from wavebabble.models.mel_renderer import build_mel_renderer
    from wavebabble.models.multiscale_discriminator import build_multiscale_discriminator

    sr = MEL_SAMPLE_RATE
    clips = data.load_clips(FLAGS.data_dir, sample_rate=sr, slice_len=65536, num_clips=FLAGS.num_clips,
                            seed=FLAGS.seed)
    rows = np.concatenate([clips[..., 0], clips[..., 1]], axis=0)          # [2 * num_clips, 65536]
    rng = np.random.default_rng(FLAGS.seed)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    renderer = build_mel_renderer(FLAGS.dim)
    opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    opt.build(renderer.trainable_variables)
    critic = build_multiscale_discriminator(get_config("demo").replace(nch=1, timing_weight=0.0,
                                                                      ms_dim=FLAGS.critic_dim))
    d_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    d_opt.build(critic.trainable_variables)
    adversarial = FLAGS.adv_weight > 0

    def heads(outs):
        """[[features..., score] per scale] -> (features, scores)."""
        return [o[:-1] for o in outs], [o[-1] for o in outs]

    @tf.function
    def train_step(wave):
        mel = log_mel(wave, sr)
        out = {}
        with tf.GradientTape() as tape:
            fake = renderer(mel, training=True)                             # [batch, window, 1]
            out["loss"] = losses.multi_resolution_stft(wave, fake[..., 0])
            loss = out["loss"]
            if adversarial:
                real_f, _ = heads(critic(wave[..., None], training=True))
                fake_f, fake_s = heads(critic(fake, training=True))
                out["g_adv"] = tf.reduce_mean(losses.g_loss(fake_s, "lsgan"))
                out["fm"] = tf.reduce_mean(losses.feature_matching(real_f, fake_f))
                loss += FLAGS.adv_weight * (out["g_adv"] + FLAGS.fm_weight * out["fm"])
        grads = tape.gradient(loss, renderer.trainable_variables)
        opt.apply_gradients(zip(grads, renderer.trainable_variables))
        if adversarial:
            with tf.GradientTape() as tape:
                d = tf.reduce_mean(losses.d_loss(heads(critic(wave[..., None], training=True))[1],
                                                 heads(critic(tf.stop_gradient(fake), training=True))[1], "lsgan"))
            d_opt.apply_gradients(zip(tape.gradient(d, critic.trainable_variables), critic.trainable_variables))
            out["d"] = d
        return out

    window = FLAGS.window - FLAGS.window % MEL_HOP

    def step_fn():
        idx = rng.integers(0, rows.shape[0], FLAGS.batch_size)
        off = rng.integers(0, rows.shape[1] - window + 1, FLAGS.batch_size)
        return train_step(tf.constant(np.stack([rows[i, o:o + window] for i, o in zip(idx, off)])))

    return run_stage(step_fn, {"renderer": renderer, "opt": opt, "critic": critic, "d_opt": d_opt},
                     logdir=FLAGS.logdir, steps=FLAGS.steps, init_from=FLAGS.init_from,
                     save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"renderer: {renderer.count_params()} parameters; waveform critic "
                              f"{critic.count_params() if adversarial else 'off'}; {rows.shape[0]} rows of real audio")


def run() -> None:
    define_flags()
    run_main(main, "train.train_renderer")


if __name__ == "__main__":
    run()

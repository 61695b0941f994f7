"""Train the two-stage generator's planner: a GAN on both speakers' log-mel sequences of real dialogue clips.

    python -m train.train_mel_gan --logdir=runs/mel_gan [--data_dir=DIR] [--steps=N]

Real: jointly normalised clips (--slice_len samples, the data pipeline's level) -> each speaker's log-mel
(wavebabble.mel) -> [batch, frames, 2 * MEL_BINS], A/B swapped with probability 1/2. Fake: the planner's mels
(models/mel_planner.py) from white noise [batch, frames, NOISE_CH]. Critics: the mel critic (both speakers'
mels, two score maps) and the turn-timing D of the v1 generator (models/timing_discriminator.py, the demo preset's
size, at 125 frames/s), which sees only both speakers' soft VAD computed from the mels' frame energy
(mel.mel_soft_vad, with the surrogate gradient of vad.soft_vad). --loss for both (hinge, or WGAN-GP with
gradient penalty GP_WEIGHT on each critic), --d_updates critic steps per planner step, fresh batches each.
Loop, checkpoints and resuming: train.stage_loop.
"""
from __future__ import annotations

import numpy as np
from absl import app, flags

from train.stage_loop import add_loop_flags, run_stage
from wavebabble import runtime

FLAGS = flags.FLAGS
GP_WEIGHT = 10.0


def define_flags() -> None:
    add_loop_flags("runs/mel_gan", steps=4000, save_every=250, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Clips per step.")
    flags.DEFINE_integer("slice_len", 65536, "Samples per real clip (a multiple of MEL_HOP * PLAN_UPSAMPLE).")
    flags.DEFINE_integer("dim", 16, "Base channels of planner and critic.")
    flags.DEFINE_float("lr", 2e-4, "Adam learning rate (both).")
    flags.DEFINE_enum("loss", "wgan-gp", ["wgan-gp", "hinge"], "GAN loss of both critics (WGAN-GP: gp 10).")
    flags.DEFINE_integer("d_updates", 5, "Critic updates per planner update.")
    flags.DEFINE_bool("spectral_norm", False, "Spectral normalisation in the mel critic.")
    flags.DEFINE_float("vad_grad_temperature_db", 10.0, "Surrogate gradient of the soft VAD (vad.soft_vad).")
    flags.DEFINE_float("fm_weight", 0.0, "Feature-matching weight of the planner's loss.")
    flags.DEFINE_float("mel_weight", 1.0, "Weight of the mel critic in the planner's loss (and its own).")
    flags.DEFINE_float("timing_weight", 1.0, "Weight of the turn-timing D, which sees only both speakers' soft "
                       "VAD (from the mels' frame energy: wavebabble.mel.mel_soft_vad); 0 removes it.")
    flags.DEFINE_integer("num_clips", 1024, "Real clips the batches are drawn from.")


def main(argv) -> int:
    del argv
    runtime.tune("train")
    import tensorflow as tf
    from wavebabble import data, losses
    from wavebabble.config import get_config
    from wavebabble.mel import MEL_HOP, log_mel, mel_soft_vad
    from wavebabble.models.timing_discriminator import build_timing_discriminator
    from wavebabble.models.mel_planner import NOISE_CH, build_mel_critic, build_mel_planner

    sr = 8000
    clips = data.load_clips(FLAGS.data_dir, sample_rate=sr, slice_len=FLAGS.slice_len, num_clips=FLAGS.num_clips,
                            seed=FLAGS.seed)
    mels = []
    for i in range(0, len(clips), 64):
        c = clips[i:i + 64]
        m = log_mel(tf.constant(np.concatenate([c[..., 0], c[..., 1]])), sr).numpy()
        mels.append(np.concatenate([m[:len(c)], m[len(c):]], axis=-1))
    mels = np.concatenate(mels).astype(np.float32)            # [num_clips, frames, 2 * MEL_BINS]
    del clips
    bins = mels.shape[-1] // 2
    frames = FLAGS.slice_len // MEL_HOP          # mel frames per clip = the planner's noise frames
    rng = np.random.default_rng(FLAGS.seed)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    planner, critic = build_mel_planner(FLAGS.dim), build_mel_critic(FLAGS.dim, spectral_norm=FLAGS.spectral_norm)
    tcfg = get_config("demo").replace(frame_hz=sr // MEL_HOP, slice_len=FLAGS.slice_len)
    timing_d = build_timing_discriminator(tcfg)
    d_vars = critic.trainable_variables + (timing_d.trainable_variables if FLAGS.timing_weight else [])
    g_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    d_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    g_opt.build(planner.trainable_variables)
    d_opt.build(d_vars)
    n_scores = 2

    def split(outs):
        return outs[:-n_scores], outs[-n_scores:]

    def vad(mel):
        return mel_soft_vad(mel, 2, tcfg.vad_threshold_db, tcfg.vad_temperature_db, FLAGS.vad_grad_temperature_db)

    gp = FLAGS.loss == "wgan-gp"

    def critic_scores(x):
        return split(critic(x, training=True))[1]

    def timing_scores(v):
        return timing_d(v, training=True)

    @tf.function
    def d_step(real, noise):
        fake = planner(noise, training=True)
        with tf.GradientTape() as tape:
            d_loss = tf.reduce_mean(losses.d_loss(critic_scores(real), critic_scores(fake), FLAGS.loss))
            if gp:
                d_loss += GP_WEIGHT * tf.reduce_mean(losses.gradient_penalty(critic_scores, real, fake))
            d_t = tf.constant(0.0)
            if FLAGS.timing_weight:
                vr, vf = vad(real), vad(fake)
                d_t = tf.reduce_mean(losses.d_loss(timing_scores(vr), timing_scores(vf), FLAGS.loss))
                if gp:
                    d_t += GP_WEIGHT * tf.reduce_mean(losses.gradient_penalty(timing_scores, vr, vf))
            d_total = FLAGS.mel_weight * d_loss + FLAGS.timing_weight * d_t
        grads = tape.gradient(d_total, d_vars)
        d_opt.apply_gradients(zip(grads, d_vars))
        return d_loss, d_t

    @tf.function
    def g_step(real, noise):
        with tf.GradientTape() as tape:
            fake = planner(noise, training=True)
            fake_f, fake_s = split(critic(fake, training=True))
            adv = tf.reduce_mean(losses.g_loss(fake_s, FLAGS.loss))
            fm = tf.constant(0.0)
            if FLAGS.fm_weight:     # the real batch's critic pass only when its features are used
                real_f, _ = split(critic(real, training=True))
                fm = tf.reduce_mean(losses.feature_matching(real_f, fake_f))
            g_t = tf.constant(0.0)
            if FLAGS.timing_weight:
                g_t = tf.reduce_mean(losses.g_loss(timing_scores(vad(fake)), FLAGS.loss))
            g_loss = FLAGS.mel_weight * adv + FLAGS.fm_weight * fm + FLAGS.timing_weight * g_t
        grads = tape.gradient(g_loss, planner.trainable_variables)
        g_opt.apply_gradients(zip(grads, planner.trainable_variables))
        return adv, g_t, fm

    def batch():
        real = mels[rng.integers(0, len(mels), FLAGS.batch_size)]
        swap = rng.random(FLAGS.batch_size) < 0.5
        real[swap] = np.concatenate([real[swap, :, bins:], real[swap, :, :bins]], axis=-1)
        noise = rng.standard_normal((FLAGS.batch_size, frames, NOISE_CH)).astype(np.float32)
        return tf.constant(real), tf.constant(noise)

    def train_step():
        for _ in range(FLAGS.d_updates):
            d_loss, d_t = d_step(*batch())
        adv, g_t, fm = g_step(*batch())
        out = {"d": d_loss, "d_timing": d_t, "g_adv": adv, "g_timing": g_t}
        return {**out, "fm": fm} if FLAGS.fm_weight else out

    return run_stage(train_step, {"planner": planner, "critic": critic, "timing_d": timing_d, "g_opt": g_opt,
                                  "d_opt": d_opt}, logdir=FLAGS.logdir, steps=FLAGS.steps,
                     save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"planner {planner.count_params()} / critic {critic.count_params()} parameters; "
                              f"real mels {mels.shape}")


def run() -> None:
    define_flags()
    app.run(main)


if __name__ == "__main__":
    run()

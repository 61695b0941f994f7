"""Train the two-stage generator's planner: a GAN on both speakers' log-mel sequences of real dialogue clips.

    python -m train.train_mel_gan --logdir=runs/mel_gan [--data_dir=DIR] [--steps=N]

Real: jointly normalised clips (--slice_len samples, the data pipeline's level) -> each speaker's log-mel
(wavebabble.mel) -> [batch, frames, 2 * MEL_BINS], A/B swapped with probability 1/2. Fake: the planner's mels
(models/mel_planner.py) from white noise [batch, frames, NOISE_CH]. Critics, each with a weight flag (0 leaves
it out) and a loss d_<name> / g_<name> in the progress lines:
    mel       both speakers' mels, score maps for ~0.4 s and ~1.5 s patches (--mel_weight)
    timing    the turn-timing D of the v1 generator (models/timing_discriminator.py, the demo preset's size, at
              125 frames/s) on both speakers' soft VAD from the mels' frame energy (mel.mel_soft_vad, with the
              surrogate gradient of vad.soft_vad) (--timing_weight)
    syllable  each speaker's mels alone through one critic, ~0.2 s patches (--syllable_weight)
--loss for all (hinge, or WGAN-GP with gradient penalty GP_WEIGHT on each critic), --d_updates critic steps per
planner step, fresh batches each; --fm_weight adds feature matching on the mel critic's features.
Loop, checkpoints and resuming: train.stage_loop.
"""
from __future__ import annotations

import numpy as np
from absl import app, flags

from train.stage_loop import add_loop_flags, check_init_from, run_stage
from wavebabble import runtime
from wavebabble.cli import run_main

FLAGS = flags.FLAGS
DEFAULT_STEPS = 6000       # --steps: the shipped run (eval/results/sound_notes.md), what eval.ship_model runs
GP_WEIGHT = 10.0


def define_flags() -> None:
    add_loop_flags("runs/mel_gan", steps=DEFAULT_STEPS, save_every=250, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Clips per step.")
    flags.DEFINE_integer("slice_len", 65536, "Samples per real clip (a multiple of MEL_HOP * PLAN_UPSAMPLE).")
    flags.DEFINE_integer("dim", 8, "Base channels of planner and critics.")
    flags.DEFINE_float("lr", 2e-4, "Adam learning rate (both).")
    flags.DEFINE_enum("loss", "hinge", ["hinge", "wgan-gp"], "GAN loss of every critic (WGAN-GP: 5 critic steps "
                      "per planner step ran at 0.3 steps/s, a third of hinge with 1).")
    flags.DEFINE_integer("d_updates", 1, "Critic updates per planner update.")
    flags.DEFINE_bool("spectral_norm", False, "Spectral normalisation in the mel critic.")
    flags.DEFINE_float("vad_grad_temperature_db", 10.0, "Surrogate gradient of the soft VAD (vad.soft_vad).")
    flags.DEFINE_float("fm_weight", 0.0, "Feature-matching weight of the planner's loss.")
    flags.DEFINE_float("mel_weight", 1.0, "Weight of the mel critic in the planner's loss (and its own).")
    flags.DEFINE_float("syllable_weight", 1.0, "Weight of the syllable critic (each speaker's mels alone, "
                       "~0.2 s patches) in the planner's loss and its own; 0 removes it.")
    flags.DEFINE_float("timing_weight", 1.0, "Weight of the turn-timing D, which sees only both speakers' soft "
                       "VAD (from the mels' frame energy: wavebabble.mel.mel_soft_vad); 0 removes it.")
    flags.DEFINE_integer("num_clips", 1024, "Real clips the batches are drawn from.")


def main(argv) -> int:
    del argv
    if not (FLAGS.mel_weight or FLAGS.timing_weight or FLAGS.syllable_weight):
        raise app.UsageError("--mel_weight, --timing_weight and --syllable_weight are all 0: no critic to train with")
    check_init_from(FLAGS.init_from)
    runtime.tune("train")
    import tensorflow as tf
    from wavebabble import data, losses
    from wavebabble.config import get_config
    from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE, dialogue_mels, mel_soft_vad
    from wavebabble.models.timing_discriminator import build_timing_discriminator
    from wavebabble.models.mel_planner import NOISE_CH, build_mel_critic, build_mel_planner, build_syllable_critic

    sr = MEL_SAMPLE_RATE
    clips = data.load_clips(FLAGS.data_dir, sample_rate=sr, slice_len=FLAGS.slice_len, num_clips=FLAGS.num_clips,
                            seed=FLAGS.seed)
    mels = dialogue_mels(clips, sr)                 # [num_clips, frames, 2 * MEL_BINS]
    del clips
    bins = mels.shape[-1] // 2
    frames = FLAGS.slice_len // MEL_HOP          # mel frames per clip = the planner's noise frames
    rng = np.random.default_rng(FLAGS.seed)
    tf.keras.utils.set_random_seed(FLAGS.seed)
    planner, critic = build_mel_planner(FLAGS.dim), build_mel_critic(FLAGS.dim, spectral_norm=FLAGS.spectral_norm)
    tcfg = get_config("demo").replace(frame_hz=sr // MEL_HOP, slice_len=FLAGS.slice_len)
    timing_d = build_timing_discriminator(tcfg)
    syllable = build_syllable_critic(FLAGS.dim, spectral_norm=FLAGS.spectral_norm)
    d_vars = ((critic.trainable_variables if FLAGS.mel_weight else [])
              + (timing_d.trainable_variables if FLAGS.timing_weight else []))
    s_vars = syllable.trainable_variables if FLAGS.syllable_weight else []
    g_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    d_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    s_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)   # its own: a run without it resumes
    g_opt.build(planner.trainable_variables)
    d_opt.build(d_vars)
    s_opt.build(s_vars)
    n_scores = 2

    def split(outs):
        return outs[:-n_scores], outs[-n_scores:]

    def vad(mel):
        return mel_soft_vad(mel, 2, tcfg.vad_threshold_db, tcfg.vad_temperature_db, FLAGS.vad_grad_temperature_db)

    gp = FLAGS.loss == "wgan-gp"

    def mel_scores(x):
        return split(critic(x, training=True))[1]

    def per_speaker(mel):
        """[batch, frames, 2 * bins] -> [2 * batch, frames, bins]: speaker A's clips, then speaker B's."""
        return tf.concat([mel[..., :bins], mel[..., bins:]], axis=0)

    # each critic: (name, weight, what it reads of a mel batch, view -> its score maps); weight 0 leaves it out
    critics = [(name, weight, view, scores) for name, weight, view, scores in (
        ("mel", FLAGS.mel_weight, tf.identity, mel_scores),
        ("timing", FLAGS.timing_weight, vad, lambda v: timing_d(v, training=True)),
        ("syllable", FLAGS.syllable_weight, per_speaker, lambda x: syllable(x, training=True)[-1:]),
    ) if weight]

    @tf.function
    def d_step(real, noise):
        fake = planner(noise, training=True)
        out = {}
        with tf.GradientTape() as tape:
            for name, weight, view, scores in critics:
                vr, vf = view(real), view(fake)
                loss = tf.reduce_mean(losses.d_loss(scores(vr), scores(vf), FLAGS.loss))
                if gp:
                    loss += GP_WEIGHT * tf.reduce_mean(losses.gradient_penalty(scores, vr, vf))
                out[f"d_{name}"] = loss
            d_total = tf.add_n([weight * out[f"d_{name}"] for name, weight, _, _ in critics])
        grads = tape.gradient(d_total, d_vars + s_vars)
        d_opt.apply_gradients(zip(grads[:len(d_vars)], d_vars))
        if s_vars:
            s_opt.apply_gradients(zip(grads[len(d_vars):], s_vars))
        return out

    @tf.function
    def g_step(real, noise):
        out = {}
        with tf.GradientTape() as tape:
            fake = planner(noise, training=True)
            for name, weight, view, scores in critics:
                out[f"g_{name}"] = tf.reduce_mean(losses.g_loss(scores(view(fake)), FLAGS.loss))
            g_loss = tf.add_n([weight * out[f"g_{name}"] for name, weight, _, _ in critics])
            if FLAGS.fm_weight:     # feature matching on the mel critic's features
                real_f, fake_f = split(critic(real, training=True))[0], split(critic(fake, training=True))[0]
                out["fm"] = tf.reduce_mean(losses.feature_matching(real_f, fake_f))
                g_loss += FLAGS.fm_weight * out["fm"]
        grads = tape.gradient(g_loss, planner.trainable_variables)
        g_opt.apply_gradients(zip(grads, planner.trainable_variables))
        return out

    def batch():
        real = mels[rng.integers(0, len(mels), FLAGS.batch_size)]
        swap = rng.random(FLAGS.batch_size) < 0.5
        real[swap] = np.concatenate([real[swap, :, bins:], real[swap, :, :bins]], axis=-1)
        noise = rng.standard_normal((FLAGS.batch_size, frames, NOISE_CH)).astype(np.float32)
        return tf.constant(real), tf.constant(noise)

    def train_step():
        for _ in range(FLAGS.d_updates):
            d_losses = d_step(*batch())
        return {**d_losses, **g_step(*batch())}

    return run_stage(train_step, {"planner": planner, "critic": critic, "timing_d": timing_d,
                                  "syllable_critic": syllable, "g_opt": g_opt, "d_opt": d_opt, "s_opt": s_opt},
                     logdir=FLAGS.logdir, steps=FLAGS.steps, init_from=FLAGS.init_from,
                     save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"planner {planner.count_params()} / critic {critic.count_params()} / syllable critic "
                              f"{syllable.count_params()} parameters; "
                              f"real mels {mels.shape}")


def run() -> None:
    define_flags()
    run_main(main, "train.train_mel_gan")


if __name__ == "__main__":
    run()

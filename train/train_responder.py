"""Train the agent's turn-taker (models/responder.py): when to speak, given what the partner has said so far.

    python -m train.train_responder --logdir=runs/responder [--mode=streaming|offline] [--planner=CKPT
                                    --planner_dim=8] [--data_dir=DIR]

--mode sets the reaction delay (models/responder.py REACTION_DELAYS): "streaming" (192 ms, the turn-taker that
answers in chunks: respond --streaming) or "offline" (24 ms, the one that answers a whole recording); the delay
is saved in the checkpoints ("reaction_delay"), so export and eval.select_responder build the model it was
trained as (two_stage.restore_responder). The responder's noise is the agent's (frame_noise.responder_noise: its
slow channels held over NOISE_HOLD_FRAMES), at a random seed and absolute first frame per clip; the hold is saved
too ("noise_hold_frames").

Real: both speakers' soft VAD (mel.mel_soft_vad of each speaker's log-mels, 125 frames/s) of jointly normalised
dialogue clips. Fake: the partner is one speaker of a real clip (A or B, with probability 1/2 each); the agent's
mels are the two-stage planner's voice features (its checkpoint --planner, frozen; a bank of VOICE_BANK_CLIPS
clips of both its speakers, drawn once) gated by the responder's gate over the planner's silence floor
(mel_planner.gate_voice), and the agent's soft VAD is read from those mels the same way as the real one's (with
the surrogate gradient of vad.soft_vad). So the VAD the critic judges includes the voice's own quiet stretches,
as the VAD of the rendered answer does. The critic is the turn-timing D of the v1 generator at the demo preset's
size (models/timing_discriminator.py: dilated convs over the whole clip, minibatch std, turn statistics) on the
pair (partner, agent), the partner in its own channel; hinge loss. Loop, checkpoints, resuming: train.stage_loop.
"""
from __future__ import annotations

import numpy as np
from absl import flags

from train.stage_loop import add_loop_flags, check_init_from, run_stage
from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main

FLAGS = flags.FLAGS
DEFAULT_STEPS = 3000
DEFAULT_PLANNER = "eval/results/two_stage_checkpoints/planner/ckpt-3500"   # the shipped model's planner
MODES = ("streaming", "offline")   # --mode: the keys of models/responder.py REACTION_DELAYS (keras-free import here)
VOICE_BANK_CLIPS = 128          # planner clips drawn once; each gives two voices (its two speakers)
NOISE_SEEDS = 1 << 30           # a clip's noise: a random seed and absolute first frame below this


def define_flags() -> None:
    add_loop_flags("runs/responder", steps=DEFAULT_STEPS, save_every=250, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Clips per step.")
    flags.DEFINE_integer("slice_len", 65536, "Samples per real clip (a multiple of MEL_HOP * PLAN_UPSAMPLE).")
    flags.DEFINE_integer("dim", 32, "Responder channels.")
    flags.DEFINE_enum("mode", "streaming", list(MODES), "Which reaction delay the turn-taker learns: "
                      "streaming (192 ms: answers in chunks) or offline (24 ms: answers whole recordings).")
    flags.DEFINE_float("lr", 2e-4, "Adam learning rate (both).")
    flags.DEFINE_string("planner", DEFAULT_PLANNER, "Checkpoint of the two-stage planner whose voice the agent "
                        "speaks with (train.train_mel_gan's <logdir>/ckpt/ckpt-N).")
    flags.DEFINE_integer("planner_dim", 8, "Base channels of that planner.")
    flags.DEFINE_float("vad_grad_temperature_db", 10.0, "Surrogate gradient of the soft VAD (vad.soft_vad).")
    flags.DEFINE_integer("num_clips", 1024, "Real clips the batches are drawn from.")


def check_resumed_setup(logdir: str, delay: int, hold: int) -> None:
    """UsageError when the run in `logdir` was trained with another reaction delay than --mode's, or with another
    noise (white only, before NOISE_HOLD_FRAMES)."""
    import tensorflow as tf
    from absl import app

    from wavebabble.models.two_stage import saved_responder_setup

    latest = tf.train.latest_checkpoint(f"{logdir}/ckpt")
    saved_delay, saved_hold = saved_responder_setup(latest) if latest else (delay, hold)
    if saved_delay != delay:
        raise app.UsageError(f"--mode={FLAGS.mode}: the run in {logdir} was trained with a reaction delay of "
                             f"{saved_delay} frames, not {delay}; give its --mode or another --logdir")
    if saved_hold != hold:
        raise app.UsageError(f"the run in {logdir} was trained with noise held over {saved_hold} frames (0: white "
                             f"only), not {hold}: it cannot be resumed by this version; give another --logdir")


def main(argv) -> int:
    del argv
    check_init_from(FLAGS.init_from)
    runtime.tune("train")
    import tensorflow as tf

    from wavebabble.models.responder import NOISE_HOLD_FRAMES, REACTION_DELAYS

    delay = REACTION_DELAYS[FLAGS.mode]

    from wavebabble import data, losses
    from wavebabble.config import get_config
    from wavebabble.mel import MEL_BINS, MEL_HOP, MEL_SAMPLE_RATE, dialogue_mels, mel_soft_vad
    from wavebabble.models.mel_planner import NOISE_CH, gate_voice, voice_model
    from wavebabble.frame_noise import responder_noise
    from wavebabble.models.responder import RESPONDER_NOISE_CH, build_responder
    from wavebabble.models.timing_discriminator import build_timing_discriminator
    from wavebabble.models.two_stage import restore_planner

    sr = MEL_SAMPLE_RATE
    frames = FLAGS.slice_len // MEL_HOP
    tcfg = get_config("demo").replace(frame_hz=sr // MEL_HOP, slice_len=FLAGS.slice_len)

    def vad(mel, nch, grad=0.0):
        return mel_soft_vad(mel, nch, tcfg.vad_threshold_db, tcfg.vad_temperature_db, grad)

    with cli_errors("train.train_responder"):        # one line for a bad --planner (before the data loads) or data
        check_resumed_setup(FLAGS.logdir, delay, NOISE_HOLD_FRAMES)
        planner = restore_planner(FLAGS.planner, FLAGS.planner_dim)
        clips = data.load_clips(FLAGS.data_dir, sample_rate=sr, slice_len=FLAGS.slice_len,
                                num_clips=FLAGS.num_clips, seed=FLAGS.seed)
    real_vad = vad(tf.constant(dialogue_mels(clips, sr)), 2).numpy()          # [num_clips, frames, 2]
    del clips
    floor = tf.constant(planner.get_layer("gated_mel").floor.numpy())
    voices, rng = voice_model(planner), np.random.default_rng(FLAGS.seed)
    bank = []
    for i in range(0, VOICE_BANK_CLIPS, 16):
        v = voices(rng.standard_normal((16, frames, NOISE_CH)).astype(np.float32)).numpy()
        bank += [v[..., :MEL_BINS], v[..., MEL_BINS:]]
    bank = np.concatenate(bank)                                                # [2 * VOICE_BANK_CLIPS, frames, bins]
    del planner, voices

    tf.keras.utils.set_random_seed(FLAGS.seed)
    responder, critic = build_responder(FLAGS.dim, delay, NOISE_HOLD_FRAMES), build_timing_discriminator(tcfg)
    g_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    d_opt = tf.keras.optimizers.Adam(FLAGS.lr, beta_1=0.5, beta_2=0.9)
    g_opt.build(responder.trainable_variables)
    d_opt.build(critic.trainable_variables)

    def pair(partner, agent, partner_first):
        """[batch, frames, 1] x 2 -> [batch, frames, 2] with the partner in channel 0 where partner_first."""
        first = partner_first[:, None, None]
        return tf.concat([tf.where(first, partner, agent), tf.where(first, agent, partner)], axis=-1)

    def fake_pair(real, voice, noise, partner_first):
        partner = tf.where(partner_first[:, None, None], real[..., :1], real[..., 1:])
        gate = responder([partner, noise], training=True)
        agent = vad(gate_voice(voice, gate, floor), 1, FLAGS.vad_grad_temperature_db)
        return pair(partner, agent, partner_first), gate

    @tf.function
    def d_step(real, voice, noise, partner_first):
        fake, _ = fake_pair(real, voice, noise, partner_first)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(losses.d_loss(critic(real, training=True), critic(fake, training=True), "hinge"))
        d_opt.apply_gradients(zip(tape.gradient(loss, critic.trainable_variables), critic.trainable_variables))
        return {"d_timing": loss}

    @tf.function
    def g_step(real, voice, noise, partner_first):
        with tf.GradientTape() as tape:
            fake, gate = fake_pair(real, voice, noise, partner_first)
            loss = tf.reduce_mean(losses.g_loss(critic(fake, training=True), "hinge"))
        grads = tape.gradient(loss, responder.trainable_variables)
        g_opt.apply_gradients(zip(grads, responder.trainable_variables))
        return {"g_timing": loss, "gate_mean": tf.reduce_mean(gate)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)] * 2)
    def batch_noise(first_frames, seeds):
        """The clips' noise [batch, frames, RESPONDER_NOISE_CH]: the agent's (frame_noise.responder_noise), each
        clip at its own seed and absolute first frame, so the held channels' blocks start at any phase."""
        return tf.map_fn(lambda c: responder_noise(c[0], frames, c[1], NOISE_HOLD_FRAMES),
                         tf.stack([first_frames, seeds], axis=1),
                         fn_output_signature=tf.TensorSpec([frames, RESPONDER_NOISE_CH], tf.float32))

    def batch():
        n = FLAGS.batch_size
        real = real_vad[rng.integers(0, len(real_vad), n)]
        voice = bank[rng.integers(0, len(bank), n)]
        seeds, starts = rng.integers(0, NOISE_SEEDS, n), rng.integers(0, NOISE_SEEDS, n)
        return (tf.constant(real), tf.constant(voice), batch_noise(tf.constant(starts), tf.constant(seeds)),
                tf.constant(rng.random(n) < 0.5))

    def train_step():
        return {**d_step(*batch()), **g_step(*batch())}

    saved = {name: tf.Variable(value, dtype=tf.int64, trainable=False)      # read by two_stage.restore_responder
             for name, value in (("reaction_delay", delay), ("noise_hold_frames", NOISE_HOLD_FRAMES))}
    return run_stage(train_step, {"responder": responder, "critic": critic, "g_opt": g_opt, "d_opt": d_opt,
                                  **saved},
                     logdir=FLAGS.logdir, steps=FLAGS.steps, init_from=FLAGS.init_from,
                     save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"{FLAGS.mode} responder (reaction delay {delay} frames) {responder.count_params()} / "
                              f"critic {critic.count_params()} parameters; real VAD {real_vad.shape}; voice bank "
                              f"{bank.shape}")


def run() -> None:
    define_flags()
    run_main(main, "train.train_responder")


if __name__ == "__main__":
    run()

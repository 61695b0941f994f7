"""Train the continuation's turn-taker (models/continuer.py): whether a speaker speaks next, given both pasts.

    python -m train.train_continuer --logdir=runs/continuer [--data_dir=DIR] [--steps=N]

Data: each speaker's voice activity (mel.mel_soft_vad of its log-mels above continuer.SPEECH, 125 frames/s: what
the agent hears) in every dialogue of the corpus, each read whole and normalised jointly (data.read_source).
A batch is --batch_size random crops of --clip_seconds (a shorter dialogue whole, its padding masked out of the
loss), each with a random speaker as "own". Loss: binary cross-entropy of the model's logit at every frame
against that speaker's VAD there, the model reading its VAD before the frame and the other's up to the reaction
delay before it (teacher forcing). No critic: the model is a likelihood model of who speaks when, and a
continuation samples it frame by frame (continuer.sample_continuation), so both speakers react to what the other
(and they themselves) did. The learning rate decays along a cosine to LR_FLOOR of --lr. Loop, checkpoints,
resuming: train.stage_loop (the model under "continuer").
"""
from __future__ import annotations

import numpy as np
from absl import flags

from train.stage_loop import add_loop_flags, check_init_from, run_stage
from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import ConfigError, DataError

FLAGS = flags.FLAGS
DEFAULT_STEPS = 2000
LR_FLOOR = 0.05                 # the learning rate at the last step, as a fraction of --lr


def define_flags() -> None:
    add_loop_flags("runs/continuer", steps=DEFAULT_STEPS, save_every=250, log_every=100)
    flags.DEFINE_integer("batch_size", 16, "Crops per step.")
    flags.DEFINE_float("clip_seconds", 60.0, "Seconds per crop (the continuer's memory warms up over a crop's first "
                       "~MEMORY_SECONDS).")
    flags.DEFINE_integer("dim", 32, "Continuer channels.")
    flags.DEFINE_float("lr", 1e-3, "Adam learning rate at the start; it decays along a cosine to LR_FLOOR * lr at "
                       "--steps (the rare turn ends and onsets are fitted late).")


def speech_frames(audio, sample_rate: int):
    """Stereo audio [samples, 2] -> each speaker's VAD [samples // MEL_HOP, 2] in {0, 1} (float32): the soft VAD
    of its log-mels (the turn-timing D's measure at the demo preset's threshold) above continuer.SPEECH."""
    import tensorflow as tf

    from wavebabble.config import get_config
    from wavebabble.mel import dialogue_mels, mel_soft_vad
    from wavebabble.models.continuer import SPEECH

    cfg = get_config("demo")
    mel = tf.constant(dialogue_mels(audio[None], sample_rate))
    return (mel_soft_vad(mel, 2, cfg.vad_threshold_db, cfg.vad_temperature_db).numpy()[0] > SPEECH).astype(np.float32)


def main(argv) -> int:
    del argv
    check_init_from(FLAGS.init_from)
    runtime.tune("train")
    import tensorflow as tf

    from wavebabble import data
    from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE
    from wavebabble.models.continuer import FRAMES_PER_SECOND, build_continuer

    crop = int(round(FLAGS.clip_seconds * FRAMES_PER_SECOND))
    with cli_errors("train.train_continuer"):
        if crop < 1:
            raise ConfigError(f"--clip_seconds={FLAGS.clip_seconds:g}: must be at least one frame "
                              f"({MEL_HOP / MEL_SAMPLE_RATE:g} s)")
        index = data.index_sources(FLAGS.data_dir, sample_rate=MEL_SAMPLE_RATE)
        if not index.sources:
            raise DataError(f"{index.folder}: no usable dialogue to learn from")
    vads = [v for v in (speech_frames(data.read_source(src), MEL_SAMPLE_RATE) for src in index.sources) if len(v)]
    tf.keras.utils.set_random_seed(FLAGS.seed)
    rng = np.random.default_rng(FLAGS.seed)
    model = build_continuer(FLAGS.dim)
    opt = tf.keras.optimizers.Adam(tf.keras.optimizers.schedules.CosineDecay(FLAGS.lr, FLAGS.steps, alpha=LR_FLOOR))
    opt.build(model.trainable_variables)

    @tf.function
    def step(own, other, mask):
        with tf.GradientTape() as tape:
            logit = model([own, other], training=True)
            bce = tf.nn.sigmoid_cross_entropy_with_logits(own, logit)
            loss = tf.reduce_sum(bce * mask) / tf.reduce_sum(mask)
        opt.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return {"bce": loss, "speech": tf.reduce_sum(own * mask) / tf.reduce_sum(mask)}

    def train_step():
        batch = np.zeros((FLAGS.batch_size, crop, 2), np.float32)
        mask = np.zeros((FLAGS.batch_size, crop, 1), np.float32)
        for b, i in enumerate(rng.integers(0, len(vads), FLAGS.batch_size)):
            start = int(rng.integers(0, max(len(vads[i]) - crop, 0) + 1))
            piece = vads[i][start:start + crop]
            batch[b, :len(piece)] = piece[:, ::-1] if rng.random() < 0.5 else piece     # a random speaker is "own"
            mask[b, :len(piece)] = 1.0
        return step(tf.constant(batch[..., :1]), tf.constant(batch[..., 1:]), tf.constant(mask))

    seconds = sum(len(v) for v in vads) / FRAMES_PER_SECOND
    return run_stage(train_step, {"continuer": model, "opt": opt}, logdir=FLAGS.logdir, steps=FLAGS.steps,
                     init_from=FLAGS.init_from, save_every=FLAGS.save_every, log_every=FLAGS.log_every,
                     describe=f"continuer {model.count_params()} parameters; {len(vads)} dialogues, "
                              f"{seconds / 60:.1f} min (speech share {np.mean([v.mean() for v in vads]):.2f}); "
                              f"crops of {crop} frames")


def run() -> None:
    define_flags()
    run_main(main, "train.train_continuer")


if __name__ == "__main__":
    run()

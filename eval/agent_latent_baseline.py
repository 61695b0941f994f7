"""Baseline answer to a partner by latent optimisation through the frozen two-stage planner ("GAN as a prior").

    python -m eval.agent_latent_baseline [--loss=vad|mel] [--prior=1.0] [--steps=200]

For each held-out partner of eval.agent (the same dialogues, each speaker the partner once): optimise the planner's
noise [1, frames, NOISE_CH] with Adam (LR) so that its speaker A matches the partner (--loss=vad: squared error
of the soft VAD, mel.mel_soft_vad; --loss=mel: of the log-mels), plus --prior * mean(noise^2) to stay near the
noise the planner was trained on; speaker B of the result, rendered, is the answer. Prints eval.agent's figures
for it and the other-dialogue control. Kept for the record of the comparison (eval/results/agent_notes.md).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from absl import flags

from wavebabble import runtime
from wavebabble.cli import run_main

LR = 0.05
FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_enum("loss", "vad", ["vad", "mel"], "What of speaker A is matched to the partner.")
    flags.DEFINE_float("prior", 1.0, "Weight of mean(noise^2).")
    flags.DEFINE_integer("steps", 200, "Adam steps per partner.")
    flags.DEFINE_integer("num_dialogues", 16, "Held-out dialogues (eval.agent's set).")


def main(argv) -> int:
    del argv
    runtime.tune("serve")
    import numpy as np
    import tensorflow as tf

    from eval.agent import build_dialogues, pair_figures
    from eval.select_responder import DEFAULT_PLANNER, DEFAULT_RENDERER
    from wavebabble.agent import normalize_partner
    from wavebabble.mel import MEL_BINS, MEL_HOP, log_mel, mel_soft_vad
    from wavebabble.models.mel_planner import NOISE_CH, PLAN_UPSAMPLE
    from wavebabble.models.two_stage import restore_two_stage

    planner, renderer = restore_two_stage(DEFAULT_PLANNER, DEFAULT_RENDERER, 8, 16)
    with tempfile.TemporaryDirectory() as tmp:
        dialogues = build_dialogues("babble", FLAGS.num_dialogues, 60.0, Path(tmp) / "d")
    partners = [d[:, s] for _, d in dialogues for s in (0, 1)]
    real = [d[:, 1 - s] for _, d in dialogues for s in (0, 1)]
    answers = []
    for i, p in enumerate(partners):
        heard, gain = normalize_partner(p)
        frames = len(heard) // MEL_HOP // PLAN_UPSAMPLE * PLAN_UPSAMPLE
        target = log_mel(tf.constant(heard[None, :frames * MEL_HOP]), 8000)
        target_vad = mel_soft_vad(target, 1, -40.0, 3.0)
        noise = tf.Variable(tf.random.stateless_normal([1, frames, NOISE_CH], [i, 0]))
        opt = tf.keras.optimizers.Adam(LR)

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                a = planner(noise)[..., :MEL_BINS]
                if FLAGS.loss == "vad":
                    err = tf.reduce_mean((mel_soft_vad(a, 1, -40.0, 3.0, 10.0) - target_vad) ** 2)
                else:
                    err = tf.reduce_mean((a - target) ** 2)
                loss = err + FLAGS.prior * tf.reduce_mean(noise ** 2)
            opt.apply_gradients([(tape.gradient(loss, noise), noise)])

        for _ in range(FLAGS.steps):
            step()
        b = renderer(planner(noise)[..., MEL_BINS:])[0, :, 0].numpy() / gain
        answers.append(np.pad(b, (0, len(p) - len(b))))
        print(f"partner {i + 1}/{len(partners)}", flush=True)
    n = len(partners)
    reference = list(zip(partners, real))
    for name, xs in (("latent_baseline", answers), ("other_dialogue", [real[(i + 2) % n] for i in range(n)])):
        f = pair_figures(list(zip(partners, xs)), reference)
        print(name, {k: round(v, 3) if isinstance(v, float) else v for k, v in f.items()})
    return 0


def run() -> None:
    define_flags()
    run_main(main, "eval.agent_latent_baseline")


if __name__ == "__main__":
    run()

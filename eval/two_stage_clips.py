"""Clips from a two-stage generator's training checkpoints (planner: train.train_mel_gan, renderer:
train.train_renderer), for measuring it with eval.report.

    python -m eval.two_stage_clips --planner=runs/mel_gan/ckpt/ckpt-2000 --renderer=runs/renderer/ckpt/ckpt-5000
        --out_dir=OUT [--num=200] [--seconds=8.192] [--seed=0] [--overwrite]

Writes OUT/clip_0000.wav ... (stereo, 8 kHz, speaker A left, B right), each one call of the joined model
(models/two_stage.py) on a white-noise sequence drawn from (--seed, clip index) only: any length (--seconds,
rounded up to whole planner steps of PLAN_UPSAMPLE mel frames, 0.128 s), no joins. --planner_dim / --renderer_dim
must match the training runs' --dim.
--resynthesize (no --planner): the renderer's ceiling instead: --num real clips of --seconds (data.load_clips from
--data_dir, seed --seed, the training runs' level), each speaker rendered from its own log-mels.
"""
from __future__ import annotations

import math

import numpy as np
from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main

SAMPLE_RATE = 8000
CLIP_PREFIX = "clip_"
TOOL = "two_stage_clips"
FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("planner", None, "Planner checkpoint prefix (train.train_mel_gan: <logdir>/ckpt/ckpt-N).")
    flags.DEFINE_bool("resynthesize", False, "Render real clips from their own log-mels (no planner).")
    flags.DEFINE_string("data_dir", None, "With --resynthesize: folder of real dialogues (default: the corpus).")
    flags.DEFINE_string("renderer", None, "Renderer checkpoint prefix (train.train_renderer).", required=True)
    flags.DEFINE_string("out_dir", None, "Folder for the clips.", required=True)
    flags.DEFINE_integer("num", 200, "Clips.", lower_bound=1)
    flags.DEFINE_float("seconds", 8.192, "Seconds per clip (any length).", lower_bound=0.1)
    flags.DEFINE_integer("seed", 0, "Clip i uses noise from (seed, i).")
    flags.DEFINE_integer("planner_dim", 8, "The planner's --dim.")
    flags.DEFINE_integer("renderer_dim", 16, "The renderer's --dim.")
    flags.DEFINE_bool("overwrite", False, "Replace this tool's earlier clips in --out_dir.")


def clip_noise(seed: int, index: int, frames: int) -> np.ndarray:
    """[frames, NOISE_CH] float32 white noise of clip `index`: depends on (seed, index) only."""
    from wavebabble.models.mel_planner import NOISE_CH

    return np.random.default_rng([seed, index]).standard_normal((frames, NOISE_CH)).astype(np.float32)


def main(argv) -> int:
    del argv
    with cli_errors(TOOL):
        import tensorflow as tf

        from wavebabble.audio import write_wav
        from wavebabble.mel import MEL_HOP
        from wavebabble.models.mel_planner import PLAN_UPSAMPLE, build_mel_planner
        from wavebabble.models.mel_renderer import build_mel_renderer
        from wavebabble.models.two_stage import build_two_stage
        from wavebabble.outdir import prepare_out_dir

        planner, renderer = build_mel_planner(FLAGS.planner_dim), build_mel_renderer(FLAGS.renderer_dim)
        tf.train.Checkpoint(renderer=renderer).restore(FLAGS.renderer).expect_partial() \
            .assert_existing_objects_matched()
        step = PLAN_UPSAMPLE * MEL_HOP
        frames = math.ceil(FLAGS.seconds * SAMPLE_RATE / step) * PLAN_UPSAMPLE
        if FLAGS.resynthesize:
            from wavebabble import data
            from wavebabble.mel import log_mel

            real = data.load_clips(FLAGS.data_dir, sample_rate=SAMPLE_RATE, slice_len=frames * MEL_HOP,
                                   num_clips=FLAGS.num, seed=FLAGS.seed)

            def make(i):
                mels = log_mel(tf.constant(real[i].T), SAMPLE_RATE)           # [2, frames, MEL_BINS]
                return renderer(mels).numpy()[..., 0].T
        else:
            tf.train.Checkpoint(planner=planner).restore(FLAGS.planner).expect_partial() \
                .assert_existing_objects_matched()
            model = build_two_stage(planner, renderer)

            def make(i):
                return model(clip_noise(FLAGS.seed, i, frames)[None]).numpy()[0]
        names = [f"{CLIP_PREFIX}{i:04d}.wav" for i in range(FLAGS.num)]
        with prepare_out_dir(FLAGS.out_dir, FLAGS.overwrite, "--out_dir", "two-stage clips", tool=TOOL,
                             writes=names) as folder:
            for i, name in enumerate(names):
                audio = make(i)
                write_wav(folder.path / name, audio, SAMPLE_RATE, overwrite=True)
                if (i + 1) % 50 == 0 or i + 1 == FLAGS.num:
                    print(f"{i + 1}/{FLAGS.num} clips of {audio.shape[0] / SAMPLE_RATE:.2f} s", flush=True)
    return 0


def run() -> None:
    define_flags()
    flags.register_multi_flags_validator(["planner", "resynthesize"],
                                         lambda f: bool(f["planner"]) != f["resynthesize"],
                                         "give --planner, or --resynthesize without it")
    runtime.tune("serve", start=False)
    run_main(main, TOOL)


if __name__ == "__main__":
    run()

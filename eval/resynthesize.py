"""The two-stage generator's renderer on real audio: real clips rendered from their own log-mels, the renderer's
ceiling (what the two-stage generator would sound like with a perfect planner), for measuring with eval.report.

    python -m eval.resynthesize --renderer=runs/renderer/ckpt/ckpt-5000 --out_dir=OUT [--num=200]
        [--seconds=8.192] [--seed=0] [--data_dir=DIR] [--renderer_dim=16] [--overwrite]

Writes OUT/clip_0000.wav ... (stereo, 8 kHz, speaker A left, B right): --num real clips of --seconds (rounded up
to whole planner steps of PLAN_UPSAMPLE mel frames, 0.128 s; data.load_clips from --data_dir, seed --seed, the
training jobs' level), each speaker rendered from its own log-mels in one call. --renderer_dim must match the
training run's --dim. Generated clips come from an export instead: `python -m wavebabble.export --planner=...
--renderer=...`, then `python -m wavebabble.generate --seconds=N`.
"""
from __future__ import annotations

import math

from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main

CLIP_PREFIX = "clip_"
TOOL = "resynthesize"
FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("data_dir", None, "Folder of real dialogues (default: the embedded corpus).")
    flags.DEFINE_string("renderer", None, "Renderer checkpoint prefix (train.train_renderer: <logdir>/ckpt/ckpt-N; "
                        "required).")
    flags.DEFINE_string("out_dir", None, "Folder for the clips (required).")
    flags.DEFINE_integer("num", 200, "Clips.", lower_bound=1)
    flags.DEFINE_float("seconds", 8.192, "Seconds per clip (any length).", lower_bound=0.1)
    flags.DEFINE_integer("seed", 0, "Seed of the real clips' choice.")
    flags.DEFINE_integer("renderer_dim", 16, "The renderer's --dim.")
    flags.DEFINE_bool("overwrite", False, "Replace this tool's earlier clips in --out_dir.")


def main(argv) -> int:
    del argv
    for name in ("renderer", "out_dir"):
        if not FLAGS[name].value:
            raise app.UsageError(f"--{name} is required")
    with cli_errors(TOOL):
        import tensorflow as tf

        from wavebabble import data
        from wavebabble.audio import write_wav
        from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE, log_mel
        from wavebabble.models.mel_planner import PLAN_UPSAMPLE
        from wavebabble.models.two_stage import restore_renderer
        from wavebabble.outdir import prepare_out_dir

        renderer = restore_renderer(FLAGS.renderer, FLAGS.renderer_dim)
        step = PLAN_UPSAMPLE * MEL_HOP
        frames = math.ceil(FLAGS.seconds * MEL_SAMPLE_RATE / step) * PLAN_UPSAMPLE
        real = data.load_clips(FLAGS.data_dir, sample_rate=MEL_SAMPLE_RATE, slice_len=frames * MEL_HOP,
                               num_clips=FLAGS.num, seed=FLAGS.seed)

        def make(i):
            mels = log_mel(tf.constant(real[i].T), MEL_SAMPLE_RATE)           # [2, frames, MEL_BINS]
            return renderer(mels).numpy()[..., 0].T

        names = [f"{CLIP_PREFIX}{i:04d}.wav" for i in range(FLAGS.num)]
        with prepare_out_dir(FLAGS.out_dir, FLAGS.overwrite, "--out_dir", "resynthesized clips", tool=TOOL,
                             writes=names) as folder:
            for i, name in enumerate(names):
                audio = make(i)
                write_wav(folder.path / name, audio, MEL_SAMPLE_RATE, overwrite=True)
                if (i + 1) % 50 == 0 or i + 1 == FLAGS.num:
                    print(f"{i + 1}/{FLAGS.num} clips of {audio.shape[0] / MEL_SAMPLE_RATE:.2f} s", flush=True)
    return 0


def run() -> None:
    define_flags()
    runtime.tune("serve", start=False)
    run_main(main, TOOL)


if __name__ == "__main__":
    run()

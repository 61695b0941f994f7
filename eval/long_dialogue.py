"""Timing of long generated dialogues window by window: does the turn-taking hold over minutes?

    python -m eval.long_dialogue --generated=DIR --reference=DIR [--window_seconds=60] [--out=FILE.json]

Each generated dialogue (e.g. `python -m wavebabble.generate --model=EXPORT --seconds=300`) is cut into
consecutive windows of --window_seconds (a shorter tail is dropped); each window's timing statistics (hard_vad,
wavebabble.timing, the same definitions as eval.report) are compared with the whole reference set's pooled
statistics by timing.timing_distance. Prints, per window index (minute 1, 2, ...), the median and the largest
mean relative error (MRE) over the dialogues, and the share of windows within MRE_GOAL; --out writes them as
JSON with every window's MRE and FTO Wasserstein distance.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import timing
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import DataError
from wavebabble.vad import FRAME_HZ, hard_vad

TOOL = "eval.long_dialogue"
MRE_GOAL = 0.20                  # the per-minute MRE a long dialogue should keep (generator v2's goal)
DEFAULT_WINDOW_SECONDS = 60.0
MAX_FILES = 10000


def window_distances(dialogues, reference_stats: timing.TimingStats, sample_rate: int, window_seconds: float,
                     frame_hz: int = FRAME_HZ) -> list[list[dict]]:
    """dialogues: [audio [samples, 2]] -> per dialogue, per whole window: {"mre", "fto_wasserstein_s"} against
    reference_stats. DataError when no dialogue holds one whole window."""
    window = int(round(window_seconds * frame_hz))
    out = []
    for audio in dialogues:
        vad = hard_vad(audio, sample_rate, frame_hz)
        rows = []
        for start in range(0, vad.shape[0] - window + 1, window):
            d = timing.timing_distance(timing.timing_stats(vad[start:start + window], frame_hz), reference_stats)
            rows.append({"mre": d["mean_relative_error"], "fto_wasserstein_s": d["fto_wasserstein_s"]})
        out.append(rows)
    if not any(out):
        raise DataError(f"no generated dialogue is {window_seconds:g} s long (--window_seconds); generate longer "
                        f"ones with `python -m wavebabble.generate --seconds=N`")
    return out


def summarise(per_dialogue: list[list[dict]]) -> list[dict]:
    """Per window index: {"window", "dialogues", "mre_median", "mre_max", "share_within_goal"}."""
    rows = []
    for w in range(max(len(d) for d in per_dialogue)):
        mre = np.array([d[w]["mre"] for d in per_dialogue if len(d) > w], dtype=float)
        rows.append({"window": w + 1, "dialogues": int(mre.size), "mre_median": float(np.median(mre)),
                     "mre_max": float(mre.max()), "share_within_goal": float(np.mean(mre <= MRE_GOAL))})
    return rows


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("generated", None, "Folder of long generated stereo dialogues (required).")
    flags.DEFINE_string("reference", None, "Folder of real stereo dialogues: the pooled statistics (required).")
    flags.DEFINE_float("window_seconds", DEFAULT_WINDOW_SECONDS, "Window length.", lower_bound=1.0)
    flags.DEFINE_string("out", None, "JSON file for the figures (optional; not overwritten).")


def main(argv) -> None:
    del argv
    if not (FLAGS.generated and FLAGS.reference):
        raise app.UsageError("--generated and --reference are required")
    if FLAGS.out and Path(FLAGS.out).exists():
        raise app.UsageError(f"--out={FLAGS.out} exists; choose a new file")
    with cli_errors(TOOL):
        from eval.report import load_set

        rng = np.random.default_rng(0)
        _, gen, _, sr = load_set(FLAGS.generated, "generated", None, MAX_FILES, rng)
        _, ref, _, _ = load_set(FLAGS.reference, "reference", sr, MAX_FILES, rng)
        ref_stats = timing.timing_stats([hard_vad(c, sr, FRAME_HZ) for c in ref], FRAME_HZ)
        per = window_distances(gen, ref_stats, sr, FLAGS.window_seconds)
        rows = summarise(per)
        print(f"{len(gen)} dialogues, windows of {FLAGS.window_seconds:g} s, MRE against the reference's pooled "
              f"timing (goal <= {MRE_GOAL}):")
        print("window  dialogues  MRE median  MRE max  share <= goal")
        for r in rows:
            print(f"{r['window']:6d}  {r['dialogues']:9d}  {r['mre_median']:10.3f}  {r['mre_max']:7.3f}  "
                  f"{r['share_within_goal']:13.2f}")
        if FLAGS.out:
            Path(FLAGS.out).write_text(json.dumps({"generated": FLAGS.generated, "reference": FLAGS.reference,
                                                   "window_seconds": FLAGS.window_seconds, "mre_goal": MRE_GOAL,
                                                   "windows": rows, "per_dialogue": per}, indent=1) + "\n")


def run() -> None:
    define_flags()
    run_main(main, TOOL)


if __name__ == "__main__":
    run()

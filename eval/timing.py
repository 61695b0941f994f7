"""Dialogue timing statistics of stereo audio or VAD annotations, optionally against a reference set.

    python -m eval.timing --input=dialogues/                       # a stereo file or a folder (recursive)
    python -m eval.timing --input=generated/ --reference=real/ --json=timing.json
    python -m eval.timing --vad_json=annotations.json [--reference_vad_json=ref.json]

Prints a table (DESIGN.md "Timing definitions" keys, backchannels, event counts); with a reference, both sets
side by side plus the distances. ``--json`` writes ``{"input": {...}}`` (and ``"reference"``, ``"distance"``).
Per-minute rates depend on the length of the dialogues they are counted in (``measure.clip_windows``), so a
reference whose median dialogue is longer than the input's longest is counted in consecutive windows of the
input's median length (``measure.reference_window_length``; each file's VAD cut into windows, where
``eval.report`` takes each window's VAD from its own audio; ``"reference"["window_s"]`` in the JSON, null when
counted whole); ``--nomatch_length`` compares whole files.
The measuring itself lives in ``wavebabble.measure`` / ``wavebabble.timing``.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from absl import app, flags

from wavebabble import measure, timing
from wavebabble.audio import MAX_SAMPLE_RATE
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import ConfigError, output_error
from wavebabble.outdir import write_text_atomic
from wavebabble.vad import FRAME_HZ, MAX_FRAME_HZ

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "Stereo audio file, or folder searched recursively for audio files, to measure.")
flags.DEFINE_string("vad_json", None, "Instead of --input: JSON timing annotations "
                    '{"duration": s, "vad": [[[start, end], ...], [[start, end], ...]]} or a list of them.')
flags.DEFINE_string("reference", None, "Optional reference stereo audio file or folder (e.g. real dialogues).")
flags.DEFINE_string("reference_vad_json", None, "Optional reference as JSON timing annotations (see --vad_json).")
flags.DEFINE_bool("match_length", True, "With a reference: count its dialogues in consecutive windows of the "
                  "input's median dialogue length when its median dialogue is longer than the input's longest "
                  "(rates depend on the length they are counted in); false compares whole files.")
flags.DEFINE_string("json", None, "Write the statistics (and distances) to this JSON file.")
flags.DEFINE_integer("sample_rate", None, "Resample audio to this rate before the VAD (default: each file's rate); "
                     f"from --frame_hz to {MAX_SAMPLE_RATE} Hz.")
flags.DEFINE_integer("frame_hz", FRAME_HZ, f"VAD frames per second, 1 to {MAX_FRAME_HZ}.")
flags.DEFINE_bool("skip_bad", False, "Skip (and count) unreadable or non-stereo audio files instead of failing.")
flags.DEFINE_enum("mono", "reject", ["reject", "duplicate"],
                  "Mono files: reject them, or copy the channel to both speakers.")
flags.DEFINE_float("dialogue_range_db", None, "Hard VAD: if set, a channel's threshold is at least the loudest "
                   "channel's speech level minus this many dB (ignores faint crosstalk or generator hiss on a "
                   "silent channel); a positive number. Default: each channel adapts to its own level only.")


def check_flags() -> None:
    """ConfigError naming the flag and its allowed range when --frame_hz, --sample_rate or --dialogue_range_db
    is out of range."""
    frame_hz, sample_rate, range_db = FLAGS.frame_hz, FLAGS.sample_rate, FLAGS.dialogue_range_db
    if not 1 <= frame_hz <= MAX_FRAME_HZ:
        raise ConfigError(f"flag --frame_hz={frame_hz}: must be 1 to {MAX_FRAME_HZ} (VAD frames per second)")
    if sample_rate is not None and not frame_hz <= sample_rate <= MAX_SAMPLE_RATE:
        raise ConfigError(f"flag --sample_rate={sample_rate}: must be from --frame_hz={frame_hz} to "
                          f"{MAX_SAMPLE_RATE} Hz")
    if range_db is not None and not (math.isfinite(range_db) and range_db > 0):
        raise ConfigError(f"flag --dialogue_range_db={range_db:g}: must be a positive number of dB (or unset)")


def _vads(audio_path: str | None, vad_json: str | None, what: str) -> tuple[list, list] | None:
    """The set's VADs [frames, 2] and its skipped files, or None when neither source is given."""
    if audio_path and vad_json:
        raise app.UsageError(f"give either --{what} or --{'vad_json' if what == 'input' else what + '_vad_json'}, "
                             "not both")
    if vad_json:
        return measure.load_vad_json(vad_json, FLAGS.frame_hz), []
    if audio_path:
        return measure.path_vads(audio_path, sample_rate=FLAGS.sample_rate, frame_hz=FLAGS.frame_hz,
                                 mono=FLAGS.mono, skip_bad=FLAGS.skip_bad,
                                 vad_kwargs={"dialogue_range_db": FLAGS.dialogue_range_db})
    return None


def main(argv):
    with cli_errors("wavebabble-timing"):
        check_flags()
        inputs = _vads(FLAGS.input, FLAGS.vad_json, "input")
        if inputs is None:
            raise app.UsageError("give --input (audio file or folder) or --vad_json (annotations)")
        refs = _vads(FLAGS.reference, FLAGS.reference_vad_json, "reference")
    stats, ref, window = measure.stats_of_vads(*inputs, FLAGS.frame_hz), None, None
    if refs is not None:
        ref_vads, ref_skipped = refs
        if FLAGS.match_length:
            window = measure.reference_window_length([len(v) for v in inputs[0]], [len(v) for v in ref_vads])
        if window is not None:
            ref_vads = measure.clip_windows(ref_vads, window)
        ref = measure.stats_of_vads(ref_vads, ref_skipped, FLAGS.frame_hz)
    named = {"input": stats}
    window_s = None if window is None else window / FLAGS.frame_hz
    distance = None
    if ref is not None:
        named["reference"] = ref
        distance = timing.timing_distance(stats, ref)
    print(timing.stats_table(named, distance))
    if window_s is not None:
        print(f"reference counted in consecutive {window_s:.2f} s windows (the input's median dialogue length; "
              "--nomatch_length counts whole files)")
    for name, s in named.items():
        if s.skipped:
            print(f"{name}: skipped {len(s.skipped)} bad file(s):", file=sys.stderr)
            for path, why in s.skipped:
                print(f"  {why}", file=sys.stderr)
    if FLAGS.json:
        out = {name: s.to_json() for name, s in named.items()}
        for name, s in named.items():
            out[name]["num_dialogues"] = s.num_dialogues
            out[name]["num_skipped"] = len(s.skipped)
        if ref is not None:
            out["reference"]["window_s"] = window_s
        if distance is not None:
            out["distance"] = distance
        path = Path(FLAGS.json)
        with cli_errors("wavebabble-timing"):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise output_error("the statistics", path, e) from None
            write_text_atomic(path, json.dumps(out, indent=2, allow_nan=False) + "\n", "the statistics")
        print(f"wrote {path}")
    return 0


def run():
    """Console-script entry point (``wavebabble-timing``)."""
    run_main(main, "wavebabble-timing")


if __name__ == "__main__":
    run()

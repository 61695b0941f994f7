r"""CLI: build a dialogue corpus (stereo 16-bit WAVs + manifest.jsonl).

    python -m wavebabble.corpus --kind=babble --out_dir=out/babble --num_dialogues=20 --seconds_each=60
    python -m wavebabble.corpus --kind=assemble --utterances_dir=../shared/data/fsdd/recordings \
        --out_dir=out/fsdd --num_dialogues=10 --seconds_each=30
    python -m wavebabble.corpus --kind=assemble --utterances_dir=DIR --timing_file=timing.csv --out_dir=out/t

Console script: ``wavebabble-corpus`` (``wavebabble.corpus.__main__:run``). ``--flagfile`` works.
"""
from __future__ import annotations


from absl import app, flags

from wavebabble.cli import cli_errors, run_main
from wavebabble.corpus.build import KINDS, CorpusSpec, build_corpus
from wavebabble.corpus.turn_model import TurnTakingParams

_DEFAULTS = CorpusSpec()
FLAGS = flags.FLAGS
flags.DEFINE_enum("kind", _DEFAULTS.kind, list(KINDS),
                  "babble: procedural two-voice babble; assemble: real mono utterances from --utterances_dir.")
flags.DEFINE_string("out_dir", None, "Output folder for dialogue_NNNNN.wav + manifest.jsonl (must be empty or "
                                     "absent unless --overwrite).")
flags.DEFINE_integer("num_dialogues", _DEFAULTS.num_dialogues, "Number of stereo dialogues to write.")
flags.DEFINE_float("seconds_each", _DEFAULTS.seconds_each,
                   "Length of each dialogue in seconds (ignored with --timing_file: its entries set durations).")
flags.DEFINE_integer("sample_rate", _DEFAULTS.sample_rate, "Output sample rate in Hz.")
flags.DEFINE_integer("seed", _DEFAULTS.seed, "Random seed; the same flags and seed give identical WAV bytes.")
flags.DEFINE_string("utterances_dir", None,
                    "--kind=assemble: folder of mono utterances, one subfolder per speaker or speaker in the file "
                    "name (FSDD's {digit}_{speaker}_{n}.wav works as is).")
flags.DEFINE_string("speaker_pattern", None,
                    "--kind=assemble: regex with a (?P<speaker>...) group applied to file names (without "
                    "extension) of files directly in --utterances_dir.")
flags.DEFINE_string("timing_file", None,
                    "Per-channel [start, end] speech intervals to use instead of the turn-taking model: .json, "
                    ".jsonl (a manifest.jsonl works) or .csv with rows channel,start,end [dialogue first].")
flags.DEFINE_bool("overwrite", False, "Allow writing into a non-empty --out_dir (replaces a previous corpus).")
flags.DEFINE_float("noise_db", _DEFAULTS.noise_db, "White noise floor in dBFS RMS added to both channels; "
                                                   "-inf for none.")
flags.DEFINE_bool("skip_bad", False, "--kind=assemble: skip unusable utterance files (listed and counted) "
                                     "instead of stopping with their names.")
flags.DEFINE_bool("progress", True, "Show progress (count, rate, ETA) on stderr.")
flags.DEFINE_float("style_spread", 0.0, "Per-dialogue timing style: each dialogue scales its IPU, pause and "
                   "backchannel lengths, IPUs per turn, FTO mean and backchannel rate by its own exp(spread * "
                   "N(0, 1)) (turn_model.dialogue_style); 0: one style for all, as the embedded corpus.")


def main(argv) -> int:
    if not FLAGS.out_dir:
        raise app.UsageError("--out_dir is required")
    spec = CorpusSpec(kind=FLAGS.kind, num_dialogues=FLAGS.num_dialogues, seconds_each=FLAGS.seconds_each,
                      sample_rate=FLAGS.sample_rate, seed=FLAGS.seed, noise_db=FLAGS.noise_db,
                      utterances_dir=FLAGS.utterances_dir, speaker_pattern=FLAGS.speaker_pattern,
                      timing_file=FLAGS.timing_file, skip_bad=FLAGS.skip_bad)
    with cli_errors("wavebabble-corpus"):
        turn_params = TurnTakingParams(style_spread=FLAGS.style_spread).validate()
        build_corpus(FLAGS.out_dir, spec, overwrite=FLAGS.overwrite, progress=FLAGS.progress,
                     turn_params=turn_params)
    return 0


def run() -> None:
    """Console-script entry point."""
    run_main(main, "wavebabble-corpus")


if __name__ == "__main__":
    run()

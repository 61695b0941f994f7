"""Dialogue corpora: turn-taking timing model, babble voices, utterance assembler, builder, default corpus.

Public API (see each module):
  turn_model:  TurnTakingParams, sample_timing(duration_s, rng, params) -> [[(s, e), ...], [(s, e), ...]]
  babble:      VoiceParams, random_voice(rng, speaker_index), render_channel(intervals, duration_s,
               sample_rate, voice, rng, *, noise_db) -> float32 [T]
  assembler:   group_utterances(folder, speaker_pattern=None), load_utterances(groups, sample_rate, ...),
               assemble_dialogue(pools, intervals, duration_s, sample_rate, rng, *, noise_db) -> ([T, 2], intervals)
  timing_file: read_timing_file(path) -> [TimingEntry(intervals, duration_s)]
  manifest:    MANIFEST_NAME, read_manifest(folder) -> [dict]
  build:       CorpusSpec, build_corpus(out_dir, spec, *, overwrite=False, progress=True) -> Path
  default:     default_corpus_dir() -> Path (built once under $WAVEBABBLE_CACHE)
CLI: ``python -m wavebabble.corpus --help``.
"""
from wavebabble.corpus.assembler import assemble_dialogue, group_utterances, load_utterances
from wavebabble.corpus.babble import VoiceParams, random_voice, render_channel
from wavebabble.corpus.build import CorpusSpec, build_corpus
from wavebabble.corpus.default import default_corpus_dir
from wavebabble.corpus.manifest import MANIFEST_NAME, read_manifest
from wavebabble.corpus.timing_file import TimingEntry, read_timing_file
from wavebabble.corpus.turn_model import TurnTakingParams, sample_timing

__all__ = ["TurnTakingParams", "sample_timing", "VoiceParams", "random_voice", "render_channel",
           "group_utterances", "load_utterances", "assemble_dialogue", "TimingEntry", "read_timing_file",
           "MANIFEST_NAME", "read_manifest", "CorpusSpec", "build_corpus", "default_corpus_dir"]

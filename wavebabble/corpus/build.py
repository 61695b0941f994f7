"""Build a corpus folder: stereo 16-bit WAVs ``dialogue_NNNNN.wav`` + ``manifest.jsonl`` + ``corpus.json``.

One code path for the CLI (``python -m wavebabble.corpus``) and the embedded default corpus
(:mod:`wavebabble.corpus.default`):

    spec = CorpusSpec(kind="babble", num_dialogues=4, seconds_each=30.0, seed=1)
    build_corpus("out/corpus", spec)

Dialogue ``i`` draws everything from ``np.random.default_rng([seed, i])``, so a corpus is a deterministic
function of its spec (same spec -> identical WAV bytes) and dialogues do not depend on each other.
Timing comes from the turn-taking model (``seconds_each`` long) or, with ``timing_file``, from the user's
annotations (dialogue i uses entry ``i % len(entries)`` and that entry's duration).
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import numpy as np

from wavebabble.audio import write_wav
from wavebabble.corpus import assembler, babble
from wavebabble.corpus.manifest import MANIFEST_NAME, manifest_record, write_manifest
from wavebabble.corpus.progress import Progress
from wavebabble.corpus.timing_file import read_timing_file
from wavebabble.corpus.turn_model import TurnTakingParams, sample_timing
from wavebabble.errors import ConfigError
from wavebabble.outdir import prepare_out_dir

KINDS = ("babble", "assemble")
NUM_CHANNELS = 2
WAV_PATTERN = "dialogue_{:05d}.wav"
TOOL = "corpus"                  # this tool's name in the output folder's record (wavebabble.outdir)
SPEC_NAME = "corpus.json"
MAX_SAMPLE_RATE = 192_000
MIN_SAMPLE_RATE = 1_000
SECONDS_PER_MINUTE = 60.0


@dataclasses.dataclass(frozen=True)
class CorpusSpec:
    """Everything that determines a corpus's content."""

    kind: str = "babble"                 # "babble" (procedural voices) or "assemble" (real mono utterances)
    num_dialogues: int = 10
    seconds_each: float = 60.0           # dialogue length (ignored with timing_file: the entries' durations)
    sample_rate: int = 8000
    seed: int = 0
    noise_db: float | None = babble.NOISE_FLOOR_DB  # white noise floor (dBFS RMS); None / -inf: none
    utterances_dir: str | None = None    # kind="assemble": folder of mono utterances
    speaker_pattern: str | None = None   # kind="assemble": regex with (?P<speaker>...) on file stems
    timing_file: str | None = None       # per-channel [start, end] lists (JSON / JSON lines / CSV)
    skip_bad: bool = False               # kind="assemble": skip unusable utterance files instead of failing

    def validate(self) -> "CorpusSpec":
        """Raise ConfigError naming the bad field (as its CLI flag)."""
        if self.kind not in KINDS:
            raise ConfigError(f"--kind={self.kind!r}: must be one of {KINDS}")
        if self.num_dialogues < 1:
            raise ConfigError(f"--num_dialogues={self.num_dialogues}: must be >= 1")
        if not (math.isfinite(self.seconds_each) and self.seconds_each > 0):
            raise ConfigError(f"--seconds_each={self.seconds_each}: must be a positive number of seconds")
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ConfigError(f"--sample_rate={self.sample_rate}: must be in [{MIN_SAMPLE_RATE}, "
                              f"{MAX_SAMPLE_RATE}] Hz")
        if self.noise_db is not None and self.noise_db > 0:
            raise ConfigError(f"--noise_db={self.noise_db}: a noise floor is negative dBFS (or -inf for none)")
        if self.kind == "assemble" and not self.utterances_dir:
            raise ConfigError("--utterances_dir is required with --kind=assemble")
        if self.kind == "babble" and self.utterances_dir:
            raise ConfigError("--utterances_dir is only used with --kind=assemble")
        return self

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        if d["noise_db"] is not None and not math.isfinite(d["noise_db"]):
            d["noise_db"] = None
        return d


def _timings(spec: CorpusSpec):
    """Function i -> (intervals or None, duration_s): the user's timing file or the turn-taking model."""
    if spec.timing_file:
        entries = read_timing_file(spec.timing_file)
        return lambda i: (entries[i % len(entries)].intervals, entries[i % len(entries)].resolved_duration_s)
    return lambda i: (None, float(spec.seconds_each))


def render_dialogue(spec: CorpusSpec, index: int, intervals, duration_s: float, bank=None,
                    turn_params: TurnTakingParams = TurnTakingParams()):
    """Dialogue ``index`` of ``spec``: -> (audio float32 [T, 2], ground-truth intervals, extra manifest keys).

    ``intervals`` None: sampled from the turn-taking model. ``bank``: an UtteranceBank for kind="assemble".
    """
    rng = np.random.default_rng([int(spec.seed), int(index)])
    if intervals is None:
        intervals = sample_timing(duration_s, rng, turn_params)
    if spec.kind == "babble":
        registers = rng.permutation(NUM_CHANNELS)  # which channel gets the low / high voice
        channels = []
        for c in range(NUM_CHANNELS):
            voice = babble.random_voice(rng, int(registers[c]))
            channels.append(babble.render_channel(intervals[c], duration_s, spec.sample_rate, voice, rng,
                                                  noise_db=spec.noise_db))
        return np.stack(channels, axis=1), intervals, {}
    names = sorted(bank.speakers)
    pair = [names[int(k)] for k in rng.choice(len(names), size=NUM_CHANNELS, replace=False)]
    audio, placed = assembler.assemble_dialogue([bank.speakers[n] for n in pair], intervals, duration_s,
                                                spec.sample_rate, rng, noise_db=spec.noise_db)
    return audio, placed, {"speakers": pair}


def build_corpus(out_dir, spec: CorpusSpec, *, overwrite: bool = False, progress: bool = True,
                 turn_params: TurnTakingParams = TurnTakingParams(), log=None) -> Path:
    """Render ``spec`` into ``out_dir`` (WAVs, manifest.jsonl, corpus.json); return the folder.

    With ``overwrite`` the files an earlier build wrote there are removed first (wavebabble.outdir); the user's
    other files stay, and one at a name this writes is refused (ConfigError).
    Raises ConfigError for a bad spec or a non-empty ``out_dir`` without ``overwrite``; DataError for unusable
    utterances (unless ``spec.skip_bad``) or a bad timing file. ``log``: callable for status lines (default:
    print to stderr when ``progress``; what ``overwrite`` removed is printed to stderr either way).
    """
    spec.validate()
    turn_params.validate()
    out_dir = Path(out_dir)
    out_log = {"log": log} if log is not None else {}       # prepare_out_dir's own default: stderr
    if log is None:
        log = (lambda msg: print(msg, file=sys.stderr, flush=True)) if progress else (lambda msg: None)
    timing = _timings(spec)  # read (and validate) the timing file before touching out_dir
    bank = None
    if spec.kind == "assemble":
        groups = assembler.group_utterances(spec.utterances_dir, spec.speaker_pattern)
        log(f"utterances: {sum(len(v) for v in groups.values())} files, {len(groups)} speakers in "
            f"{spec.utterances_dir}")
        bank = assembler.load_utterances(groups, spec.sample_rate, skip_bad=spec.skip_bad)
        if bank.rejected:
            log(f"skipped {len(bank.rejected)} unusable utterance file(s):\n  " + "\n  ".join(bank.rejected))
    if spec.timing_file:
        log(f"timing from {spec.timing_file} (--seconds_each is not used: each entry sets its duration)")
    names = [WAV_PATTERN.format(i) for i in range(spec.num_dialogues)]
    records = []
    with (prepare_out_dir(out_dir, overwrite, "--out_dir", "a corpus there", tool=TOOL,
                          writes=[*names, MANIFEST_NAME, SPEC_NAME], **out_log),
          Progress(spec.num_dialogues, "dialogues", enabled=progress) as bar):
        for i, name in enumerate(names):
            intervals, duration_s = timing(i)
            audio, truth, extra = render_dialogue(spec, i, intervals, duration_s, bank, turn_params)
            write_wav(out_dir / name, audio, spec.sample_rate)
            records.append(manifest_record(name, spec.sample_rate, audio.shape[0] / spec.sample_rate, truth,
                                           **extra))
            bar.update()
        (out_dir / SPEC_NAME).write_text(json.dumps({"spec": spec.to_json(),
                                                     "turn_taking": dataclasses.asdict(turn_params)},
                                                    indent=2, sort_keys=True) + "\n", encoding="utf-8")
        write_manifest(out_dir, records)
    total_s = sum(r["duration"] for r in records)
    length = f"{total_s / SECONDS_PER_MINUTE:.1f} min" if total_s >= SECONDS_PER_MINUTE else f"{total_s:.1f} s"
    log(f"wrote {len(records)} dialogue(s) ({length}) to {out_dir}")
    return out_dir

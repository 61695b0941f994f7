"""Stereo dialogues assembled from a folder of mono utterances.

1. :func:`group_utterances` ``(folder, speaker_pattern=None) -> {speaker: [Path, ...]}``: files in
   subfolders belong to the subfolder's speaker (``folder/alice/*.wav``); files directly in ``folder`` are
   grouped by a regex on the file stem with a named group ``speaker`` (default: FSDD's
   ``{digit}_{speaker}_{n}``, else the stem's first ``_``/``-`` separated token).
2. :func:`load_utterances` ``(groups, sample_rate, ...) -> UtteranceBank``: decode (resampled, mixed to mono),
   trim leading/trailing silence, level-match every utterance to ``TARGET_RMS_DB``. Bad files are rejected
   up front (DataError listing every bad file) or, with ``skip_bad=True``, skipped and listed in
   ``bank.rejected``.
3. :func:`assemble_dialogue` ``(pools, intervals, duration_s, sample_rate, rng, noise_db=...) ->
   (audio float32 [T, 2], placed_intervals)``: each channel's speech slots are filled with utterances of that
   channel's speaker, concatenated with short (< 0.2 s) gaps and the last one truncated (with a fade) at the
   slot's end. ``placed_intervals`` are the spans actually holding speech (from the first placed sample to the
   last of each slot), the ground truth for the manifest.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np

from wavebabble.audio import read_audio, require_audio_files
from wavebabble.errors import AudioError, DataError
from wavebabble.vad import frame_energy_db, frame_params

NUM_CHANNELS = 2
# FSDD names its files {digit}_{speaker}_{n}.wav.
FSDD_SPEAKER_PATTERN = r"^[^_]+_(?P<speaker>[^_]+)_[^_]+$"
# Fallback: the first token of the stem ("alice_0001.wav", "bob-12.flac").
FIRST_TOKEN_PATTERN = r"^(?P<speaker>[^_\-]+)[_\-]"
TRIM_TOP_DB = 25.0          # leading/trailing frames more than this below the loudest frame are trimmed
MIN_UTTERANCE_S = 0.05      # an utterance shorter than this after trimming is rejected as silent
TARGET_RMS_DB = -20.0       # every utterance is level-matched to this RMS (dBFS)
PEAK_LIMIT = 0.98           # an utterance whose peak would exceed this after level-matching is scaled down
JOIN_GAP_RANGE_S = (0.02, 0.08)  # silence between concatenated utterances inside one slot (< 0.2 s bridging)
MIN_PIECE_S = 0.15          # a slot's remaining room shorter than this is left empty (no sliver of a word)
FADE_S = 0.005              # fade in/out of every placed piece (no clicks at cuts)
NOISE_FLOOR_DB = -60.0      # default white noise floor (dBFS RMS); None or -inf disables it


def group_utterances(folder, speaker_pattern: str | None = None) -> dict[str, list[Path]]:
    """Audio files under ``folder`` grouped by speaker (sorted names, sorted paths).

    Raises DataError when the folder holds no audio, when a top-level file's name gives no speaker, or when
    fewer than two speakers are found.
    """
    folder = Path(folder)
    files = require_audio_files(folder, f"utterances folder {folder}")
    patterns = [re.compile(speaker_pattern)] if speaker_pattern else [
        re.compile(FSDD_SPEAKER_PATTERN), re.compile(FIRST_TOKEN_PATTERN)]
    groups: dict[str, list[Path]] = {}
    unmatched = []
    for f in files:
        rel = f.relative_to(folder) if folder.is_dir() else Path(f.name)
        speaker = rel.parts[0] if len(rel.parts) > 1 else None
        if speaker is None:
            for pattern in patterns:
                m = pattern.search(f.stem)
                if m and m.groupdict().get("speaker"):
                    speaker = m.group("speaker")
                    break
        if speaker is None:
            unmatched.append(f.name)
            continue
        groups.setdefault(speaker, []).append(f)
    if unmatched:
        shown = ", ".join(unmatched[:5]) + (f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else "")
        raise DataError(f"utterances folder {folder}: no speaker in the names of {shown} (put each speaker's "
                        f"files in a subfolder, or pass a speaker pattern with a (?P<speaker>...) group)")
    if len(groups) < NUM_CHANNELS:
        raise DataError(f"utterances folder {folder}: found {len(groups)} speaker(s) {sorted(groups)}; a "
                        f"dialogue needs at least {NUM_CHANNELS}")
    return {k: sorted(groups[k]) for k in sorted(groups)}


def trim_silence(audio: np.ndarray, sample_rate: int, top_db: float = TRIM_TOP_DB) -> np.ndarray:
    """Drop leading/trailing frames more than ``top_db`` below the loudest frame: ``[T]`` -> ``[T']``."""
    energy = frame_energy_db(audio, sample_rate)
    if energy.size == 0:
        return audio
    hop = frame_params(sample_rate)[0]
    loud = np.flatnonzero(energy > energy.max() - top_db)
    return audio[loud[0] * hop:min(len(audio), (loud[-1] + 1) * hop)]


def level_match(audio: np.ndarray, target_rms_db: float = TARGET_RMS_DB) -> np.ndarray:
    """Scale ``[T]`` to ``target_rms_db`` RMS (then down, if needed, so the peak stays <= PEAK_LIMIT)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    scaled = audio * (10.0 ** (target_rms_db / 20.0) / max(rms, 1e-12))
    peak = float(np.abs(scaled).max())
    if peak > PEAK_LIMIT:
        scaled *= PEAK_LIMIT / peak
    return scaled.astype(np.float32)


@dataclasses.dataclass
class UtteranceBank:
    """Loaded utterances: ``speakers[name]`` = list of trimmed, level-matched float32 ``[T]`` arrays."""

    speakers: dict[str, list[np.ndarray]]
    sample_rate: int
    rejected: list[str]  # "path: reason" for every skipped file


def load_utterances(groups: dict[str, list[Path]], sample_rate: int, *, skip_bad: bool = False,
                    max_per_speaker: int | None = None) -> UtteranceBank:
    """Decode, trim and level-match every utterance (all files are checked before anything is rendered).

    Args:
      groups: from :func:`group_utterances`.
      sample_rate: target rate (files are resampled).
      skip_bad: False -> DataError listing every bad file; True -> skip them (listed in ``rejected``).
      max_per_speaker: use only the first N files of each speaker (sorted), e.g. for quick tests.
    """
    speakers: dict[str, list[np.ndarray]] = {}
    rejected = []
    min_len = int(MIN_UTTERANCE_S * sample_rate)
    for name, paths in groups.items():
        for path in paths[:max_per_speaker]:
            try:
                audio, _ = read_audio(path, sample_rate)
            except AudioError as err:
                rejected.append(f"{path}: {err}")
                continue
            mono = trim_silence(audio.mean(axis=1), sample_rate)
            if len(mono) < min_len or not np.any(mono):
                rejected.append(f"{path}: silent or shorter than {MIN_UTTERANCE_S} s after trimming")
                continue
            speakers.setdefault(name, []).append(level_match(mono))
    if rejected and not skip_bad:
        shown = "\n  ".join(rejected[:20]) + (f"\n  ... and {len(rejected) - 20} more" if len(rejected) > 20
                                              else "")
        raise DataError(f"{len(rejected)} unusable utterance file(s) (pass --skip_bad to skip them):\n  {shown}")
    if len(speakers) < NUM_CHANNELS:
        raise DataError(f"only {len(speakers)} speaker(s) with usable utterances; a dialogue needs "
                        f"{NUM_CHANNELS}")
    return UtteranceBank(speakers, int(sample_rate), rejected)


def _fade(piece: np.ndarray, fade: int) -> np.ndarray:
    """Linear fade-in and fade-out of ``fade`` samples (copy)."""
    piece = piece.astype(np.float32, copy=True)
    r = min(fade, len(piece) // 2)
    if r > 0:
        ramp = np.linspace(0.0, 1.0, r + 1, dtype=np.float32)[1:]
        piece[:r] *= ramp
        piece[-r:] *= ramp[::-1]
    return piece


def fill_channel(pool, slots, num_samples: int, sample_rate: int, rng: np.random.Generator):
    """Fill one channel's slots with utterances from ``pool``: -> (float32 [T], placed intervals)."""
    out = np.zeros(num_samples, dtype=np.float32)
    placed = []
    fade = int(round(FADE_S * sample_rate))
    min_piece = int(round(MIN_PIECE_S * sample_rate))
    for s, e in slots:
        a, b = int(round(s * sample_rate)), min(num_samples, int(round(e * sample_rate)))
        pos, last_end = a, None
        while pos < b:
            utt = pool[int(rng.integers(len(pool)))]
            room = b - pos
            if len(utt) > room:
                if room < min_piece and last_end is not None:
                    break
                utt = utt[:room]
            out[pos:pos + len(utt)] = _fade(utt, fade)
            last_end = pos + len(utt)
            pos = last_end + int(round(rng.uniform(*JOIN_GAP_RANGE_S) * sample_rate))
        if last_end is not None and last_end > a:
            placed.append((round(a / sample_rate, 6), round(last_end / sample_rate, 6)))
    return out, placed


def assemble_dialogue(pools, intervals, duration_s: float, sample_rate: int, rng: np.random.Generator, *,
                      noise_db: float | None = NOISE_FLOOR_DB):
    """One stereo dialogue from two speakers' utterances placed in the given speech slots.

    Args:
      pools: 2 sequences of float32 ``[T_i]`` utterances (speaker A's, speaker B's), trimmed and level-matched.
      intervals: 2 lists of (start_s, end_s) slots (from ``sample_timing`` or a timing file).
      duration_s: clip length; output has ``round(duration_s * sample_rate)`` samples.
      sample_rate: Hz (the utterances' rate).
      rng: numpy Generator (the result is a deterministic function of its state).
      noise_db: white noise floor (dBFS RMS) added to both channels; None or -inf for none.

    Returns:
      (audio float32 ``[T, 2]``, placed intervals: 2 lists of (start_s, end_s) actually holding speech).
    """
    if len(pools) != NUM_CHANNELS or len(intervals) != NUM_CHANNELS:
        raise ValueError(f"need {NUM_CHANNELS} utterance pools and {NUM_CHANNELS} interval lists")
    if any(len(p) == 0 for p in pools):
        raise DataError("assemble_dialogue: a speaker has no utterances")
    num_samples = int(round(duration_s * sample_rate))
    channels, placed = [], []
    for pool, slots in zip(pools, intervals):
        audio, spans = fill_channel(pool, slots, num_samples, sample_rate, rng)
        channels.append(audio)
        placed.append(spans)
    stereo = np.stack(channels, axis=1)
    if noise_db is not None and np.isfinite(noise_db):
        stereo += (10.0 ** (noise_db / 20.0)) * rng.standard_normal(stereo.shape, dtype=np.float32)
    return np.clip(stereo, -1.0, 1.0).astype(np.float32), placed

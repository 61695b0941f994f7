"""Measure dialogue timing from audio files, audio arrays or JSON timing annotations.

    stats = measure_path("dialogues/")                  # every stereo file under a folder -> hard_vad -> stats
    stats = measure_audio(clips, sample_rate=8000)       # np [N, T, 2] (e.g. generated clips) -> stats
    vads, skipped = path_vads("dialogues/")              # the same files' hard VADs [frames, 2], before counting
    stats = measure_vad_json("annotations.json")         # {"duration": s, "vad": [[[s, e], ...], [...]]} or a list
    corr = envelope_correlation(clips, sample_rate=8000) # np [N] inter-channel correlation of frame energies (dB)
    windows = clip_windows(dialogues, length)            # each [T, 2] cut into [length, 2] windows (like for like)
    length = reference_window_length(lengths, reference_lengths)   # when to cut a reference (None: whole)

The measure_* functions return a pooled :class:`wavebabble.timing.TimingStats`. The CLI ``python -m eval.timing``
is a thin wrapper.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from wavebabble import audio as audio_io
from wavebabble import timing
from wavebabble.errors import AudioError, DataError
from wavebabble.vad import FRAME_HZ, frame_energy_db, frame_energy_db_blocks, hard_vad, hard_vad_from_energy

PROGRESS_EVERY_S = 5.0  # log progress at most this often while measuring many files
SECONDS_PER_HOUR = 3600
MAX_DURATION_S = 24 * SECONDS_PER_HOUR  # longest VAD-JSON dialogue accepted (its VAD is [duration * frame_hz, 2])
READ_BLOCK_FRAMES = 1 << 16  # samples per channel read at a time from an audio file (256 KiB of float32 stereo)

log = logging.getLogger(__name__)


def _dialogue(stereo) -> np.ndarray:
    """One dialogue as an array ``[T, 2]``; ValueError naming the shape otherwise."""
    stereo = np.asarray(stereo)
    if stereo.ndim != 2 or stereo.shape[1] != 2:
        raise ValueError(f"dialogue audio must be [time, 2], got shape {stereo.shape}")
    return stereo


def audio_vad(stereo: np.ndarray, sample_rate: int, frame_hz: int = FRAME_HZ, vad_kwargs: dict | None = None
              ) -> np.ndarray:
    """Hard VAD of one dialogue ``[T, 2]`` -> bool ``[T // hop, 2]`` (``vad_kwargs`` go to ``hard_vad``)."""
    return hard_vad(_dialogue(stereo), sample_rate, frame_hz, **(vad_kwargs or {}))


def measure_audio(clips, sample_rate: int, frame_hz: int = FRAME_HZ, vad_kwargs: dict | None = None
                  ) -> timing.TimingStats:
    """Timing of dialogue audio: ``[T, 2]``, ``[N, T, 2]`` or a list of ``[T_i, 2]`` (pooled)."""
    if isinstance(clips, np.ndarray) and clips.ndim == 2:
        clips = [clips]
    return timing.timing_stats([audio_vad(c, sample_rate, frame_hz, vad_kwargs) for c in clips], frame_hz)


def clip_windows(clips, length: int) -> list[np.ndarray]:
    """Each clip ``[T, C]`` cut into its consecutive windows ``[length, C]`` (a remainder shorter than ``length``
    dropped); a clip shorter than ``length`` stays whole.

    Per-minute timing depends on the length of the clips it is counted in: a speech run cut by a clip's edge
    still counts as an IPU, while a pause or gap cut by it does not count at all. The embedded corpus's 60 s
    dialogues read 24.9 IPUs and 9.5 pauses a minute whole and 29.6 and 8.8 cut into 8.2 s windows (the
    generated clips' length), so two sets are compared at one length.
    """
    if length < 1:
        raise ValueError(f"clip_windows: length must be >= 1 sample, got {length}")
    out = []
    for clip in clips:
        n = clip.shape[0] // length
        out += [clip[i * length:(i + 1) * length] for i in range(n)] if n else [clip]
    return out


def reference_window_length(lengths, reference_lengths) -> int | None:
    """The length to count a reference's dialogues in (same units as the lengths: samples or frames), or None
    to count them whole: the input's median length when the reference's median dialogue is longer than the
    input's longest one (generated clips against long recordings); sets of similar lengths, a set and itself
    included, stay whole."""
    if len(lengths) == 0 or len(reference_lengths) == 0 or np.median(reference_lengths) <= np.max(lengths):
        return None
    return max(1, int(np.median(lengths)))


def envelope_correlation(clips, sample_rate: int, frame_hz: int = FRAME_HZ) -> np.ndarray:
    """Pearson correlation of the two channels' frame energies (dB) per dialogue: ``[N, T, 2]`` -> ``[N]``.

    Independent of each channel's gain (while its frames stay above vad.SILENCE_DB), unlike the VAD statistics.
    Turn-taking makes it negative (one speaker talks while the other is silent: real dialogue corpora here give
    medians near -0.5); a channel that carries a quieter copy of the other's envelope (crosstalk, or a generator
    that has not separated its speakers) makes it approach +1. A channel with constant energy gives NaN.
    """
    out = []
    for stereo in clips:
        e = frame_energy_db(_dialogue(stereo), sample_rate, frame_hz).astype(np.float64)
        d = e - e.mean(axis=0)
        denom = np.sqrt((d ** 2).sum(axis=0).prod())
        out.append(float((d[:, 0] * d[:, 1]).sum() / denom) if denom > 0 else float("nan"))
    return np.asarray(out)


def file_energy_db(path, sample_rate: int | None = None, frame_hz: int = FRAME_HZ, mono: str = "reject"
                   ) -> tuple[np.ndarray, int]:
    """Frame energies of one dialogue file: ``(float32 [frames, 2] dBFS, sample rate they were measured at)``.

    A file libsndfile reads (WAV, FLAC, OGG, ...) at its own rate (``sample_rate`` None or equal to it) is read
    in blocks of ``READ_BLOCK_FRAMES`` samples and framed block by block, so memory is one block plus the
    energies, whatever the file's length. Resampling (``sample_rate`` differing from the file's rate) and files
    only librosa decodes read the whole file first (:func:`wavebabble.audio.read_stereo`), then frame it.
    AudioError (naming the file) as read_stereo raises it, and when the rate is below ``frame_hz``.
    """
    opened = audio_io.stereo_blocks(path, READ_BLOCK_FRAMES, mono)
    if opened is not None and (sample_rate is None or int(sample_rate) == opened[0]):
        sr, blocks = opened
        _check_frame_rate(path, sr, frame_hz)
        return frame_energy_db_blocks(blocks, sr, frame_hz, audio_io.STEREO_CHANNELS), sr
    stereo, sr = audio_io.read_stereo(path, sample_rate, mono=mono)
    _check_frame_rate(path, sr, frame_hz)
    return frame_energy_db(stereo, sr, frame_hz), sr


def _check_frame_rate(path, sample_rate: int, frame_hz: int) -> None:
    """AudioError naming the file when ``sample_rate`` gives less than one sample per VAD frame."""
    if int(sample_rate) < int(frame_hz):
        raise AudioError(f"audio file {path}: sample rate {sample_rate} Hz is below the VAD frame rate "
                         f"frame_hz={frame_hz} (at least one sample per frame is needed)")


def file_vads(paths, *, sample_rate: int | None = None, frame_hz: int = FRAME_HZ, mono: str = "reject",
              skip_bad: bool = False, vad_kwargs: dict | None = None) -> tuple[list[np.ndarray], list]:
    """Hard VADs of stereo audio files: each file :func:`file_energy_db` -> ``hard_vad_from_energy(**vad_kwargs)``
    -> (bool ``[frames, 2]`` per usable file, ``(path, reason)`` per skipped one).

    A bad file raises its AudioError (naming the file) unless ``skip_bad``. No usable file at all raises DataError.
    """
    paths = [Path(p) for p in paths]
    vads, skipped = [], []
    last = time.monotonic()
    for i, path in enumerate(paths):
        try:
            energy, _ = file_energy_db(path, sample_rate, frame_hz, mono)
        except AudioError as e:
            if not skip_bad:
                raise
            log.warning("skipping %s", e)
            skipped.append((str(path), str(e)))
            continue
        vads.append(hard_vad_from_energy(energy, frame_hz, **(vad_kwargs or {})))
        if time.monotonic() - last > PROGRESS_EVERY_S:
            last = time.monotonic()
            log.info("measured %d / %d files", i + 1, len(paths))
    if not vads:
        raise DataError(f"no usable audio among {len(paths)} file(s)"
                        + (f" ({len(skipped)} skipped as bad)" if skipped else ""))
    return vads, skipped


def path_vads(path, **kw) -> tuple[list[np.ndarray], list]:
    """:func:`file_vads` of one stereo audio file or every audio file under a folder (recursive)."""
    files = audio_io.find_audio_files(path)
    if not files:
        raise DataError(f"no audio files ({', '.join(audio_io.AUDIO_EXTENSIONS)}) under {path}")
    return file_vads(files, **kw)


def stats_of_vads(vads, skipped: list, frame_hz: int = FRAME_HZ) -> timing.TimingStats:
    """Pooled timing of VADs ``[frames, 2]`` with the files left out recorded in ``stats.skipped``."""
    stats = timing.timing_stats(vads, frame_hz)
    stats.skipped = skipped
    return stats


def measure_files(paths, *, frame_hz: int = FRAME_HZ, **kw) -> timing.TimingStats:
    """Timing of stereo audio files (pooled; :func:`file_vads` -> events); skipped files in ``stats.skipped``."""
    return stats_of_vads(*file_vads(paths, frame_hz=frame_hz, **kw), frame_hz)


def measure_path(path, *, frame_hz: int = FRAME_HZ, **kw) -> timing.TimingStats:
    """Timing of one stereo audio file or every audio file under a folder (recursive); see measure_files."""
    return stats_of_vads(*path_vads(path, frame_hz=frame_hz, **kw), frame_hz)


def _parse_item(item, where: str, frame_hz: int) -> np.ndarray:
    if not isinstance(item, dict) or "duration" not in item or "vad" not in item:
        raise DataError(f"{where}: expected an object with 'duration' (seconds) and 'vad' "
                        "([[[start, end], ...], [[start, end], ...]])")
    duration = item["duration"]
    # the range test also refuses NaN and inf, and ints too large for a float
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not 0 < duration <= MAX_DURATION_S:
        raise DataError(f"{where}: 'duration' must be a positive number of seconds, at most {MAX_DURATION_S} "
                        f"({MAX_DURATION_S / SECONDS_PER_HOUR:g} hours), got {duration!r}")
    chans = item["vad"]
    if not isinstance(chans, list) or len(chans) != 2:
        raise DataError(f"{where}: 'vad' must be a list of 2 channels (speaker A, speaker B) of [start, end] "
                        f"intervals, got {type(chans).__name__} of length "
                        f"{len(chans) if isinstance(chans, list) else '-'}")
    for c, chan in enumerate(chans):
        if not isinstance(chan, list):
            raise DataError(f"{where}: vad channel {c} must be a list of [start, end] intervals")
        for j, iv in enumerate(chan):
            ok = (isinstance(iv, (list, tuple)) and len(iv) == 2
                  and all(isinstance(t, (int, float)) and not isinstance(t, bool) and np.isfinite(t) for t in iv))
            if not ok or not 0 <= iv[0] <= iv[1]:
                raise DataError(f"{where}: vad channel {c} interval {j} = {iv!r} is not [start, end] seconds "
                                "with 0 <= start <= end")
    _warn_clipped_or_merged(where, chans, float(duration))
    return timing.intervals_to_vad(chans, float(duration), frame_hz)


def _warn_clipped_or_merged(where: str, chans, duration: float) -> None:
    """Log one warning line per channel whose intervals the VAD changes: intervals ending past ``duration``
    (clipped to it, or dropped when they start after it) and intervals overlapping an earlier one (merged)."""
    for c, chan in enumerate(chans):
        clipped = sum(1 for _, end in chan if end > duration)
        merged, reach = 0, -np.inf
        for start, end in sorted(chan):
            merged += start < reach
            reach = max(reach, end)
        found = ([f"{clipped} interval(s) end past the duration {duration:g} s (clipped)"] if clipped else []) \
            + ([f"{merged} interval(s) overlap an earlier one (merged)"] if merged else [])
        if found:
            log.warning("%s: vad channel %d: %s", where, c, "; ".join(found))


def load_vad_json(path, frame_hz: int = FRAME_HZ) -> list[np.ndarray]:
    """Read timing annotations -> list of bool VAD ``[frames, 2]``.

    The file holds one object ``{"duration": seconds, "vad": [[[start, end], ...], [[start, end], ...]]}``
    (channel 0, then channel 1; seconds) or a JSON list of them. Problems raise DataError naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"VAD JSON file {path}: not found")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(f"VAD JSON file {path}: cannot parse ({e})") from e
    items = data if isinstance(data, list) else [data]
    if not items:
        raise DataError(f"VAD JSON file {path}: empty list")
    return [_parse_item(item, f"VAD JSON file {path} item {i}", frame_hz) for i, item in enumerate(items)]


def measure_vad_json(path, frame_hz: int = FRAME_HZ) -> timing.TimingStats:
    """Timing statistics of the annotations in a VAD JSON file (pooled over its items)."""
    return timing.timing_stats(load_vad_json(path, frame_hz), frame_hz)

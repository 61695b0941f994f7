"""Measure dialogue timing from audio files, audio arrays or JSON timing annotations.

    stats = measure_path("dialogues/")                  # every stereo file under a folder -> hard_vad -> stats
    stats = measure_audio(clips, sample_rate=8000)       # np [N, T, 2] (e.g. generated clips) -> stats
    stats = measure_vad_json("annotations.json")         # {"duration": s, "vad": [[[s, e], ...], [...]]} or a list
    corr = envelope_correlation(clips, sample_rate=8000) # np [N] inter-channel correlation of frame energies (dB)

All return a pooled :class:`wavebabble.timing.TimingStats`. The CLI ``python -m eval.timing`` is a thin wrapper.
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
from wavebabble.vad import FRAME_HZ, frame_energy_db, hard_vad

PROGRESS_EVERY_S = 5.0  # log progress at most this often while measuring many files

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


def measure_files(paths, *, sample_rate: int | None = None, frame_hz: int = FRAME_HZ, mono: str = "reject",
                  skip_bad: bool = False, vad_kwargs: dict | None = None) -> timing.TimingStats:
    """Timing of stereo audio files (pooled). Each file: ``read_stereo`` -> ``hard_vad(**vad_kwargs)`` -> events.

    A bad file raises its AudioError (naming the file) unless ``skip_bad``; skipped files are listed in
    ``stats.skipped`` as ``(path, reason)``. No usable file at all raises DataError.
    """
    paths = [Path(p) for p in paths]
    events, skipped = [], []
    last = time.monotonic()
    for i, path in enumerate(paths):
        try:
            stereo, sr = audio_io.read_stereo(path, sample_rate, mono=mono)
        except AudioError as e:
            if not skip_bad:
                raise
            log.warning("skipping %s", e)
            skipped.append((str(path), str(e)))
            continue
        events.append(timing.dialogue_events(audio_vad(stereo, sr, frame_hz, vad_kwargs), frame_hz))
        if time.monotonic() - last > PROGRESS_EVERY_S:
            last = time.monotonic()
            log.info("measured %d / %d files", i + 1, len(paths))
    if not events:
        raise DataError(f"no usable audio among {len(paths)} file(s)"
                        + (f" ({len(skipped)} skipped as bad)" if skipped else ""))
    stats = timing.stats_from_events(events, frame_hz)
    stats.skipped = skipped
    return stats


def measure_path(path, **kw) -> timing.TimingStats:
    """Timing of one stereo audio file or every audio file under a folder (recursive); see measure_files."""
    files = audio_io.find_audio_files(path)
    if not files:
        raise DataError(f"no audio files ({', '.join(audio_io.AUDIO_EXTENSIONS)}) under {path}")
    return measure_files(files, **kw)


def _parse_item(item, where: str, frame_hz: int) -> np.ndarray:
    if not isinstance(item, dict) or "duration" not in item or "vad" not in item:
        raise DataError(f"{where}: expected an object with 'duration' (seconds) and 'vad' "
                        "([[[start, end], ...], [[start, end], ...]])")
    duration = item["duration"]
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not np.isfinite(duration) \
            or duration <= 0:
        raise DataError(f"{where}: 'duration' must be a positive number of seconds, got {duration!r}")
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
    return timing.intervals_to_vad(chans, float(duration), frame_hz)


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

"""Active speech level: a dialogue scaled so that its speech sits at one level, so that sound measures compare
sounds, not gains.

    level = speech_level_db(audio [T, C], vad [frames, C] bool, sample_rate)   -> dBFS, or None without speech
    scaled = normalize_speech_level(audio [T, C], vad [frames, C], sample_rate) -> float32 [T, C]

The level is the mean power over each channel's own speech frames (the hard VAD's, wavebabble.vad, on its frame
grid: sample_rate // frame_hz samples a frame), pooled over channels; one gain for the whole dialogue keeps the
speakers' level ratio. Every clip is brought to SPEECH_LEVEL_DBFS (any constant would do: what matters is that
both sets a measure compares are at the same one). A clip without speech is left as it is.
"""
from __future__ import annotations

import numpy as np

from wavebabble.vad import FRAME_HZ

SPEECH_LEVEL_DBFS = -20.0     # the speech level clips are brought to (rms 0.1)


def speech_level_db(audio: np.ndarray, vad: np.ndarray, sample_rate: int, frame_hz: int = FRAME_HZ) -> float | None:
    """audio [T, C] (or [T]), vad [frames, C] (or [frames]) bool -> 10 log10 of the mean power of the speech frames
    (dBFS), or None when the VAD has no speech."""
    x = np.asarray(audio, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    v = np.asarray(vad, bool)
    v = v[:, None] if v.ndim == 1 else v
    hop = sample_rate // frame_hz
    n = min(len(v), len(x) // hop)
    power = (x[:n * hop].reshape(n, hop, x.shape[1]) ** 2).mean(axis=1)          # [n, C]
    speech = v[:n]
    if not speech.any():
        return None
    return float(10.0 * np.log10(max(power[speech].mean(), 1e-20)))


def normalize_speech_level(audio: np.ndarray, vad: np.ndarray, sample_rate: int,
                           frame_hz: int = FRAME_HZ) -> np.ndarray:
    """audio [T, C] scaled by one gain so that its speech_level_db is SPEECH_LEVEL_DBFS -> float32 [T, C] (may
    exceed +-1); unchanged without speech."""
    level = speech_level_db(audio, vad, sample_rate, frame_hz)
    audio = np.asarray(audio, np.float32)
    if level is None:
        return audio
    return (audio * np.float32(10.0 ** ((SPEECH_LEVEL_DBFS - level) / 20.0))).astype(np.float32)

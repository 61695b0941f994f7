"""Frame-rate pitch of real audio (YIN, de Cheveigné & Kawahara 2002): the renderer's pitch targets.

    f0, voiced = track_pitch(audio [n, samples], sample_rate)   -> f0 float32 [n, frames] (Hz; 0 where unvoiced),
                                                                   voiced bool [n, frames]

Frames are the log-mel frames of wavebabble.mel: frame f is centred on sample f * MEL_HOP + MEL_HOP / 2 and
`samples` (a multiple of MEL_HOP) give samples / MEL_HOP frames. Each frame reads YIN_WINDOW samples around its
centre: the difference function over lags 1 .. sample_rate / PITCH_MIN_HZ on an integration window of
YIN_WINDOW / 2, its cumulative-mean normalisation d', and the first lag at or above sample_rate / PITCH_MAX_HZ
whose d' dips below YIN_THRESHOLD (the bottom of that dip, refined by a parabola). A frame is voiced when such a
dip exists and its RMS is above FLOOR_DBFS and within SILENCE_DB of the loudest frame of its row (a silent
frame's d' is noise, or 0 for digital silence).
Vectorised numpy (FFT cross-correlation): ~100x faster than librosa.pyin, which is too slow to label every
training window.
"""
from __future__ import annotations

import numpy as np

from wavebabble.mel import MEL_HOP
from wavebabble.speechlike import PITCH_MAX_HZ, PITCH_MIN_HZ

YIN_WINDOW = 512          # samples each frame reads at 8 kHz (64 ms: two periods of PITCH_MIN_HZ plus the lags)
# d' below this is a pitch period; against librosa.pyin on corpus audio: 0.76 of its voiced frames found, 0.996 of
# ours voiced for it too, 5 % octave errors
YIN_THRESHOLD = 0.25
SILENCE_DB = 45.0         # frames quieter than the row's loudest by more than this are unvoiced
FLOOR_DBFS = -70.0        # frames quieter than this (RMS, dB re full scale) are unvoiced
ROWS_PER_CALL = 32        # rows per FFT batch (bounds memory: ROWS_PER_CALL * frames * YIN_WINDOW complex values)


def _frames(audio: np.ndarray, window: int) -> np.ndarray:
    """audio [n, samples] -> [n, samples // MEL_HOP, window] windows centred on the mel frames' centres."""
    n, samples = audio.shape
    frames = samples // MEL_HOP
    left = window // 2 - MEL_HOP // 2
    padded = np.pad(audio, [(0, 0), (left, window)])
    idx = np.arange(frames)[:, None] * MEL_HOP + np.arange(window)[None, :]
    return padded[:, idx]


def _cmnd(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """frames [..., window] -> YIN's cumulative-mean-normalised difference d' [..., max_lag + 1] (d'[0] = 1)."""
    window = frames.shape[-1]
    w = window // 2
    size = 2 * window
    head = np.zeros_like(frames)
    head[..., :w] = frames[..., :w]
    corr = np.fft.irfft(np.conj(np.fft.rfft(head, size)) * np.fft.rfft(frames, size), size)[..., :max_lag + 1]
    sq = np.cumsum(np.concatenate([np.zeros(frames.shape[:-1] + (1,)), frames ** 2], axis=-1), axis=-1)
    lags = np.arange(max_lag + 1)
    energy0 = sq[..., w:w + 1]
    energy_tau = sq[..., lags + w] - sq[..., lags]
    diff = np.maximum(energy0 + energy_tau - 2.0 * corr, 0.0)
    running = np.cumsum(diff[..., 1:], axis=-1)
    out = np.ones_like(diff)
    out[..., 1:] = diff[..., 1:] * lags[1:] / np.maximum(running, 1e-12)
    return out


def track_pitch(audio, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """audio [n, samples] (or [samples]) -> (f0 float32 [n, frames] in Hz, 0 when unvoiced; voiced bool [n, frames])."""
    audio = np.asarray(audio, np.float64)
    squeeze = audio.ndim == 1
    audio = audio[None] if squeeze else audio
    window = int(YIN_WINDOW * sample_rate / 8000)
    max_lag = int(np.ceil(sample_rate / PITCH_MIN_HZ))
    min_lag = int(np.floor(sample_rate / PITCH_MAX_HZ))
    assert max_lag < window // 2, "YIN_WINDOW is too short for PITCH_MIN_HZ"
    f0s, voiceds = [], []
    for a in range(0, audio.shape[0], ROWS_PER_CALL):
        frames = _frames(audio[a:a + ROWS_PER_CALL], window)               # [rows, frames, window]
        d = _cmnd(frames, max_lag)                                           # [rows, frames, max_lag + 1]
        search = d[..., min_lag:max_lag]
        below = search < YIN_THRESHOLD
        has = below.any(axis=-1)
        first = np.argmax(below, axis=-1)
        # walk from the first lag below the threshold to the bottom of its dip
        k = first.copy()
        for _ in range(max_lag - min_lag):
            nxt = np.minimum(k + 1, search.shape[-1] - 1)
            step = np.take_along_axis(search, nxt[..., None], -1)[..., 0] < \
                np.take_along_axis(search, k[..., None], -1)[..., 0]
            if not step.any():
                break
            k = np.where(step, nxt, k)
        lag = (k + min_lag).astype(np.float64)
        # parabolic refinement on d' around the dip
        i = np.clip(k + min_lag, 1, max_lag - 1)
        y0, y1, y2 = (np.take_along_axis(d, (i + o)[..., None], -1)[..., 0] for o in (-1, 0, 1))
        denom = y0 - 2.0 * y1 + y2
        shift = np.where(np.abs(denom) > 1e-12, 0.5 * (y0 - y2) / np.where(denom == 0, 1.0, denom), 0.0)
        lag = np.where(np.abs(shift) < 1.0, i + shift, lag)
        rms_db = 10.0 * np.log10(np.mean(frames ** 2, axis=-1) + 1e-12)
        loud = (rms_db > rms_db.max(axis=-1, keepdims=True) - SILENCE_DB) & (rms_db > FLOOR_DBFS)
        voiced = has & loud
        f0s.append(np.where(voiced, sample_rate / lag, 0.0).astype(np.float32))
        voiceds.append(voiced)
    f0, voiced = np.concatenate(f0s), np.concatenate(voiceds)
    return (f0[0], voiced[0]) if squeeze else (f0, voiced)

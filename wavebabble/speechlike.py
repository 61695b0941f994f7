"""Is the active sound speech-like? Voiced fraction (librosa.pyin) and syllable-rate envelope modulation.

    vf = voiced_fraction(clips, sample_rate, vads, max_seconds, rng)   -> {"voiced_fraction", "seconds"}
    mod = syllable_modulation(clips, sample_rate, vads)                -> {"modulation", "windows"}

Both read stereo clips (float ``[T, 2]``, one speaker per channel) and their hard VADs (bool ``[frames, 2]`` at
``frame_hz``) and look only where a channel is active, so silence and turn-taking do not enter.

**Voiced fraction**: the share of a channel's active frames in which `librosa.pyin` finds a pitch between
``PITCH_MIN_HZ`` and ``PITCH_MAX_HZ`` (human voices). Real speech is mostly voiced (FSDD ~0.6-0.9 of its
active frames); noise is almost never voiced, and a steady tone always is. pyin (librosa's defaults but for the
window) reads about 2.4 s of audio per second on one core, so it reads active runs of at least ``MIN_RUN_S`` in
random order until ``max_seconds`` of audio.

**Syllable-rate modulation**: speech's loudness rises and falls with its syllables, 3-8 times a second. For each
``MOD_WINDOW_S`` window (hop half a window) in which a channel is active in at least ``MOD_MIN_ACTIVE`` of the
frames, the frame RMS envelope e (one value per VAD frame) is divided by its mean, Hann-windowed, and the
variance of e / mean(e) that falls in ``SYLLABLE_BAND_HZ`` is measured from its spectrum (a sinusoidal
modulation of depth m at 5 Hz gives m^2 / 2). ``modulation`` is the mean over windows: ~0 for a steady tone or
stationary noise, clearly above for speech.
"""
from __future__ import annotations

import numpy as np

PITCH_MIN_HZ = 60.0            # lowest voice pitch pyin searches
PITCH_MAX_HZ = 400.0           # highest
PYIN_WINDOW_S = 0.064          # pyin's frame: >= 2 periods of PITCH_MIN_HZ (512 samples at 8 kHz)
MIN_RUN_S = 0.2                # active runs shorter than this are not read by pyin
RUN_EXCERPT_S = 0.5            # a longer run is read as one random excerpt of this length (more runs per draw)
DEFAULT_VOICING_SECONDS = 60.0   # audio pyin reads per set by default (~25 s of one core)
MOD_WINDOW_S = 1.0             # envelope window for the modulation spectrum (1 Hz resolution)
MOD_MIN_ACTIVE = 0.8           # share of a window's frames the channel must be active in
SYLLABLE_BAND_HZ = (3.0, 8.0)  # syllable rate


def _active_runs(vad: np.ndarray, min_frames: int) -> list[tuple[int, int]]:
    """[(start, end)) frame runs of a 1-D bool VAD at least ``min_frames`` long."""
    d = np.diff(np.concatenate([[0], vad.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(int(a), int(b)) for a, b in zip(starts, ends) if b - a >= min_frames]


def voiced_fraction(clips, sample_rate: int, vads, max_seconds: float = DEFAULT_VOICING_SECONDS,
                    rng: np.random.Generator | None = None, frame_hz: int = 100) -> dict:
    """Share of active frames pyin calls voiced, over both channels of `clips` (list of ``[T, 2]``).

    vads: hard VAD ``[frames, 2]`` per clip at `frame_hz`. Active runs (>= MIN_RUN_S) are read in random order
    (`rng`), each longer one as a random RUN_EXCERPT_S excerpt, until `max_seconds` of audio.
    -> ``{"voiced_fraction": float | None (no active run), "seconds": read}``.
    """
    import librosa

    rng = rng or np.random.default_rng(0)
    hop = sample_rate // frame_hz
    runs = [(i, c, a, b) for i, v in enumerate(vads) for c in range(v.shape[1])
            for a, b in _active_runs(np.asarray(v[:, c], bool), int(round(MIN_RUN_S * frame_hz)))]
    frame_length = int(2 ** np.ceil(np.log2(PYIN_WINDOW_S * sample_rate)))
    excerpt = int(round(RUN_EXCERPT_S * frame_hz))
    voiced = total = 0
    for k in rng.permutation(len(runs)):
        if total >= max_seconds * frame_hz:
            break
        i, c, a, b = runs[k]
        if b - a > excerpt:
            a += int(rng.integers(0, b - a - excerpt + 1))
            b = a + excerpt
        x = np.asarray(clips[i][a * hop:b * hop, c], np.float32)
        if not np.any(x):
            total += b - a                      # digital silence marked active: unvoiced
            continue
        _, flag, _ = librosa.pyin(x, fmin=PITCH_MIN_HZ, fmax=PITCH_MAX_HZ, sr=sample_rate,
                                  frame_length=frame_length, hop_length=hop, center=True)
        flag = flag[:b - a]
        voiced += int(np.sum(flag))
        total += len(flag)
    return {"voiced_fraction": voiced / total if total else None, "seconds": total / frame_hz}


def frame_rms(x: np.ndarray, hop: int) -> np.ndarray:
    """RMS of consecutive ``hop``-sample frames of a 1-D signal -> ``[len(x) // hop]``."""
    n = len(x) // hop
    frames = np.asarray(x[:n * hop], np.float64).reshape(n, hop)
    return np.sqrt(np.mean(frames * frames, axis=1))


def syllable_modulation(clips, sample_rate: int, vads, frame_hz: int = 100) -> dict:
    """Mean syllable-band (3-8 Hz) variance of the normalised RMS envelope over active windows (module docstring).

    clips: list of ``[T, C]``; vads: hard VAD ``[frames, C]`` per clip. -> ``{"modulation": float | None (no
    active window), "windows": int}``.
    """
    hop = sample_rate // frame_hz
    n = int(round(MOD_WINDOW_S * frame_hz))
    window = np.hanning(n)
    freqs = np.fft.rfftfreq(n, 1.0 / frame_hz)
    band = (freqs >= SYLLABLE_BAND_HZ[0]) & (freqs <= SYLLABLE_BAND_HZ[1])
    values = []
    for clip, v in zip(clips, vads):
        for c in range(v.shape[1]):
            env = frame_rms(np.asarray(clip)[:, c], hop)
            active = np.asarray(v[:len(env), c], bool)
            for start in range(0, len(env) - n + 1, n // 2):
                if active[start:start + n].mean() < MOD_MIN_ACTIVE:
                    continue
                e = env[start:start + n]
                mean = e.mean()
                if mean <= 0:
                    continue
                spec = np.abs(np.fft.rfft((e / mean - 1.0) * window)) ** 2
                values.append(2.0 * spec[band].sum() / (n * np.sum(window ** 2)))
    return {"modulation": float(np.mean(values)) if values else None, "windows": len(values)}

"""Procedural speech-like babble: a numpy source-filter voice rendered exactly inside given speech intervals.

Per speaker (:class:`VoiceParams`): an F0 register, vocal-tract length (formant scale), speaking rate, jitter,
shimmer, breathiness, spectral tilt and level. Per IPU: syllables at the voice's rate (~4-6 per second) tile
the interval; each syllable is an optional consonant noise burst followed by a vowel. The vowel is a glottal
pulse train (F0 falling over the IPU, with per-syllable accents, jitter and shimmer, plus aspiration noise)
through a cascade of formant resonances (Peterson & Barney vowel table, scaled by the voice); consonants are
noise through one broad resonance. Filtering is done per syllable in the FFT domain on a batch
``[syllables, block]`` with a minimum-phase response (no scipy). Syllable envelopes never fall below
``VOWEL_FLOOR`` inside an IPU, IPU edges get ``EDGE_RAMP_S`` ramps, and nothing is rendered outside the
intervals except the channel's low white noise floor: an energy VAD finds the speech where the intervals say.

:func:`render_channel` ``(intervals [(start_s, end_s), ...], duration_s, sample_rate, voice, rng)`` ->
float32 ``[T]`` with ``T = round(duration_s * sample_rate)``; deterministic given the rng state.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from wavebabble.errors import ConfigError

# --- vowels: Peterson & Barney (1952) adult male averages, F1-F3 (Hz), plus a generic F4 ---
VOWEL_FORMANTS_HZ = np.array([
    [270, 2290, 3010, 3500],   # i  (heed)
    [390, 1990, 2550, 3500],   # I  (hid)
    [530, 1840, 2480, 3500],   # E  (head)
    [660, 1720, 2410, 3500],   # ae (had)
    [730, 1090, 2440, 3500],   # a  (hod)
    [570, 840, 2410, 3500],    # O  (hawed)
    [440, 1020, 2240, 3500],   # U  (hood)
    [300, 870, 2240, 3500],    # u  (who'd)
    [640, 1190, 2390, 3500],   # V  (hud)
    [490, 1350, 1690, 3500],   # 3r (heard)
], dtype=np.float64)
FORMANT_BANDWIDTHS_HZ = np.array([80.0, 100.0, 150.0, 250.0])  # typical formant bandwidths, F1..F4

# --- consonants: one broad noise resonance each (centre Hz, bandwidth Hz); centres above Nyquist are capped ---
CONSONANT_RESONANCES_HZ = np.array([
    [4500.0, 2000.0],   # s-like fricative
    [2500.0, 1200.0],   # sh-like fricative
    [1800.0, 3000.0],   # f/h-like broadband
    [3000.0, 2500.0],   # t/k-like burst
])
MAX_CENTRE_FRACTION_OF_NYQUIST = 0.85  # consonant centre frequencies are capped here
VOWEL_ONLY_SHARE = 0.25                # share of syllables without a consonant onset
CONSONANT_FRACTION_RANGE = (0.15, 0.35)  # consonant part of a syllable (fraction of its length)
CONSONANT_GAIN = 0.55                  # consonant burst amplitude relative to the vowel

# --- envelopes ---
VOWEL_FLOOR = 0.3          # syllable envelope never falls below this inside an IPU (no silent gaps)
VOWEL_RISE_FRACTION = 0.2  # vowel rises over this fraction of the syllable after the consonant
VOWEL_FALL_FRACTION = 0.25  # and falls over this final fraction
EDGE_RAMP_S = 0.008        # onset / offset ramp at each IPU edge
BOUNDARY_TAPER_S = 0.002   # every syllable fades in/out over this, so syllable joins do not click
SYLLABLE_LEN_SHAPE = 8.0   # gamma shape of relative syllable lengths (higher = more regular rhythm)
IPU_LEVEL_SD_DB = 1.5      # IPU-to-IPU level variation
SYLLABLE_LEVEL_SD_DB = 1.5  # syllable-to-syllable level variation
DECLINATION_DB = 4.0       # amplitude falls by this much over an IPU
ENVELOPE_RMS = 0.8         # approximate RMS of a syllable envelope (for level calibration)
PEAK_LIMIT = 0.95          # a channel whose peak exceeds this is scaled down to it

# --- pitch ---
IPU_F0_SD_SEMITONES = 1.5   # IPU-to-IPU F0 variation around the voice median
ACCENT_SD_SEMITONES = 1.2   # per-syllable pitch accent
SEMITONES_PER_OCTAVE = 12.0

# --- spectral shaping ---
FILTER_TAIL_S = 0.03       # zero padding after a syllable so formant ringing does not wrap around
BLOCK_MULTIPLE = 64        # FFT block length is a multiple of this
SYLLABLE_BATCH = 256       # syllables filtered per FFT batch (bounds memory)
NOISE_FLOOR_DB = -60.0     # default channel noise floor (white, dBFS RMS); None disables it
LOG_EPS = 1e-9


@dataclasses.dataclass(frozen=True)
class VoiceParams:
    """One babble speaker."""

    f0_median_hz: float = 120.0        # median F0 at the start of an IPU
    declination_semitones: float = 3.0  # F0 falls by this much over an IPU
    jitter: float = 0.01               # period-to-period F0 perturbation (fraction of a period, sd)
    shimmer: float = 0.08              # pulse-to-pulse amplitude perturbation (fraction, sd)
    formant_scale: float = 1.0         # vocal-tract length: 1.0 adult male, ~1.15-1.2 adult female
    syllable_rate_hz: float = 5.0      # syllables per second
    breathiness: float = 0.05          # aspiration noise relative to the pulse train
    tilt_hz: float = 250.0             # glottal spectral roll-off corner (-12 dB/oct above)
    level_db: float = -20.0            # speech RMS (dBFS)

    def validate(self) -> "VoiceParams":
        for name in ["f0_median_hz", "formant_scale", "syllable_rate_hz", "tilt_hz"]:
            if not getattr(self, name) > 0:
                raise ConfigError(f"VoiceParams.{name} must be > 0, got {getattr(self, name)}")
        for name in ["jitter", "shimmer", "breathiness", "declination_semitones"]:
            if getattr(self, name) < 0:
                raise ConfigError(f"VoiceParams.{name} must be >= 0, got {getattr(self, name)}")
        return self


# Voice registers: (F0 median range Hz, formant scale range). Index 0 "low" (adult male-like), 1 "high".
REGISTERS = (
    {"f0_median_hz": (95.0, 135.0), "formant_scale": (0.95, 1.05), "tilt_hz": (180.0, 280.0)},
    {"f0_median_hz": (175.0, 240.0), "formant_scale": (1.12, 1.22), "tilt_hz": (260.0, 400.0)},
)
VOICE_RANGES = {
    "declination_semitones": (2.0, 5.0),
    "jitter": (0.005, 0.015),
    "shimmer": (0.04, 0.12),
    "syllable_rate_hz": (4.0, 6.0),
    "breathiness": (0.02, 0.10),
    "level_db": (-23.0, -17.0),
}


def random_voice(rng: np.random.Generator, speaker_index: int) -> VoiceParams:
    """A random voice; ``speaker_index`` parity picks the register (0 low, 1 high), so the two speakers of a
    dialogue built with indices 0 and 1 always differ in pitch and vocal-tract length."""
    kw = {name: float(rng.uniform(*rng_range)) for name, rng_range in REGISTERS[speaker_index % 2].items()}
    kw.update({name: float(rng.uniform(*rng_range)) for name, rng_range in VOICE_RANGES.items()})
    return VoiceParams(**kw)


def _resonance_log_mag(freqs: np.ndarray, centre: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """log|H| of second-order resonances (unit gain at DC): freqs [F], centre/bandwidth [..., K] -> [..., F]."""
    f = freqs[None, :]
    c, b = centre[..., :, None], bandwidth[..., :, None]
    mag = c ** 2 / np.sqrt((c ** 2 - f ** 2) ** 2 + (b * f) ** 2 + LOG_EPS)
    return np.log(mag + LOG_EPS).sum(axis=-2)


def _min_phase(log_mag: np.ndarray, n_fft: int) -> np.ndarray:
    """Minimum-phase complex response from log magnitudes [..., n_fft // 2 + 1] (real-cepstrum folding)."""
    cep = np.fft.irfft(log_mag, n=n_fft, axis=-1)
    fold = np.zeros(n_fft)
    fold[0] = 1.0
    fold[1:(n_fft + 1) // 2] = 2.0
    if n_fft % 2 == 0:
        fold[n_fft // 2] = 1.0
    return np.exp(np.fft.rfft(cep * fold, axis=-1)).astype(np.complex64)


def _filter_tables(voice: VoiceParams, sample_rate: int, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Vowel [V, n_fft//2+1] and consonant [C, n_fft//2+1] minimum-phase responses for this voice."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    nyquist = sample_rate / 2.0
    centres = VOWEL_FORMANTS_HZ * voice.formant_scale
    bws = np.broadcast_to(FORMANT_BANDWIDTHS_HZ * voice.formant_scale, centres.shape)
    glottal = -np.log1p((freqs / voice.tilt_hz) ** 2)           # -12 dB/oct source roll-off
    radiation = np.log(freqs / nyquist + LOG_EPS)               # +6 dB/oct lip radiation, no DC
    vowel = _resonance_log_mag(freqs, centres, bws) + glottal + radiation
    c_centre = np.minimum(CONSONANT_RESONANCES_HZ[:, :1], MAX_CENTRE_FRACTION_OF_NYQUIST * nyquist)
    cons = _resonance_log_mag(freqs, c_centre, CONSONANT_RESONANCES_HZ[:, 1:]) + radiation
    return _min_phase(vowel, n_fft), _min_phase(cons, n_fft)


def _syllables(intervals, sample_rate: int, num_samples: int, voice: VoiceParams, rng: np.random.Generator):
    """Tile each interval with syllables: returns dict of per-syllable arrays and IPU sample bounds."""
    starts, lengths, ipu_ids, positions = [], [], [], []
    bounds = []
    for s, e in intervals:
        a = int(round(s * sample_rate))
        b = min(int(round(e * sample_rate)), num_samples)
        if b - a < 2:
            continue
        n = max(1, int(round((b - a) / sample_rate * voice.syllable_rate_hz)))
        rel = rng.gamma(SYLLABLE_LEN_SHAPE, size=n)
        edges = a + np.round(np.concatenate([[0.0], np.cumsum(rel) / rel.sum()]) * (b - a)).astype(np.int64)
        edges[-1] = b
        keep = np.diff(edges) > 0
        st, ln = edges[:-1][keep], np.diff(edges)[keep]
        starts.append(st)
        lengths.append(ln)
        ipu_ids.append(np.full(len(st), len(bounds)))
        positions.append((st + ln / 2 - a) / (b - a))
        bounds.append((a, b))
    if not bounds:
        empty = np.zeros(0, dtype=np.int64)
        return {"start": empty, "length": empty, "ipu": empty, "pos": np.zeros(0)}, []
    return {"start": np.concatenate(starts), "length": np.concatenate(lengths),
            "ipu": np.concatenate(ipu_ids), "pos": np.concatenate(positions)}, bounds


def _pulse_train(syl: dict, bounds, num_samples: int, sample_rate: int, voice: VoiceParams,
                 rng: np.random.Generator) -> np.ndarray:
    """Glottal excitation [T]: jittered, shimmered impulses along a falling, accented F0 contour."""
    n_ipu = len(bounds)
    ipu_st = rng.normal(0.0, IPU_F0_SD_SEMITONES, n_ipu) + voice.declination_semitones / 2
    accent = rng.normal(0.0, ACCENT_SD_SEMITONES, len(syl["start"]))
    semis = ipu_st[syl["ipu"]] - voice.declination_semitones * syl["pos"] + accent
    knots_t = syl["start"] + syl["length"] / 2.0
    knots_f0 = voice.f0_median_hz * 2.0 ** (semis / SEMITONES_PER_OCTAVE)
    f0 = np.interp(np.arange(num_samples, dtype=np.float64), knots_t, knots_f0)
    phase = np.cumsum(f0 / sample_rate)
    k = np.arange(1, int(phase[-1]))
    targets = k + voice.jitter * rng.standard_normal(len(k))
    pos = np.searchsorted(phase, targets)
    amp = 1.0 + voice.shimmer * rng.standard_normal(len(k))
    keep = pos < num_samples
    return np.bincount(pos[keep], weights=amp[keep], minlength=num_samples)[:num_samples].astype(np.float32)


def _envelopes(lengths: np.ndarray, cons_frac: np.ndarray, block: int,
               taper: int) -> tuple[np.ndarray, np.ndarray]:
    """Vowel and consonant envelopes [n, block] for syllables of `lengths` samples (0 beyond each length);
    both fade in and out over `taper` samples at the syllable's edges."""
    n = np.arange(block, dtype=np.float32)[None, :]
    x = n / lengths[:, None].astype(np.float32)
    edge = np.clip(np.minimum(n + 1.0, lengths[:, None] - n) / max(taper, 1), 0.0, 1.0)
    cf = cons_frac[:, None].astype(np.float32)
    inside = x < 1.0
    rise = np.clip((x - cf) / VOWEL_RISE_FRACTION, 0.0, 1.0)
    fall = np.clip((1.0 - x) / VOWEL_FALL_FRACTION, 0.0, 1.0)
    shape = np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2
    vowel = np.where(inside, VOWEL_FLOOR + (1.0 - VOWEL_FLOOR) * shape, 0.0)
    burst = np.where(x < cf, np.sqrt(np.clip(1.0 - x / np.maximum(cf, LOG_EPS), 0.0, 1.0)), 0.0)
    return (vowel * edge).astype(np.float32), (burst * edge).astype(np.float32)


def _unit_rms(y: np.ndarray, lengths: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scale each row of y [n, block] to unit RMS over its first `lengths` samples."""
    power = (np.where(mask, y, 0.0) ** 2).sum(axis=1) / np.maximum(lengths, 1)
    return y / np.sqrt(power + LOG_EPS)[:, None]


def render_channel(intervals, duration_s: float, sample_rate: int, voice: VoiceParams,
                   rng: np.random.Generator, *, noise_db: float | None = NOISE_FLOOR_DB) -> np.ndarray:
    """Render one speaker's babble: speech exactly inside ``intervals``, noise floor elsewhere.

    Args:
      intervals: sorted, non-overlapping (start_s, end_s) pairs (seconds) for this channel.
      duration_s: clip length; the output has ``round(duration_s * sample_rate)`` samples.
      sample_rate: Hz.
      voice: the speaker.
      rng: numpy Generator (output is a deterministic function of its state).
      noise_db: white noise floor level (dBFS RMS) over the whole channel; None or -inf for digital silence.

    Returns:
      float32 ``[T]`` in [-1, 1].
    """
    voice.validate()
    num_samples = int(round(duration_s * sample_rate))
    out = np.zeros(num_samples, dtype=np.float32)
    noise = rng.standard_normal(num_samples, dtype=np.float32)
    syl, bounds = _syllables(intervals, sample_rate, num_samples, voice, rng)
    n_syl = len(syl["start"])
    if n_syl:
        source = _pulse_train(syl, bounds, num_samples, sample_rate, voice, rng)
        source += voice.breathiness * np.sqrt(voice.f0_median_hz / sample_rate) * noise
        tail = int(round(FILTER_TAIL_S * sample_rate))
        block = int(-(-(int(syl["length"].max()) + tail) // BLOCK_MULTIPLE) * BLOCK_MULTIPLE)
        vowel_h, cons_h = _filter_tables(voice, sample_rate, block)
        vowel_id = rng.integers(len(VOWEL_FORMANTS_HZ), size=n_syl)
        cons_id = rng.integers(len(CONSONANT_RESONANCES_HZ), size=n_syl)
        cons_frac = np.where(rng.random(n_syl) < VOWEL_ONLY_SHARE, 0.0,
                             rng.uniform(*CONSONANT_FRACTION_RANGE, size=n_syl))
        ipu_db = rng.normal(0.0, IPU_LEVEL_SD_DB, len(bounds))
        syl_db = (voice.level_db + ipu_db[syl["ipu"]] - DECLINATION_DB * syl["pos"]
                  + rng.normal(0.0, SYLLABLE_LEVEL_SD_DB, n_syl))
        gain = (10.0 ** (syl_db / 20.0) / ENVELOPE_RMS).astype(np.float32)
        padded_src = np.concatenate([source, np.zeros(block, np.float32)])
        padded_noise = np.concatenate([noise, np.zeros(block, np.float32)])
        offsets = np.arange(block)
        taper = int(round(BOUNDARY_TAPER_S * sample_rate))
        for lo in range(0, n_syl, SYLLABLE_BATCH):
            sl = slice(lo, min(n_syl, lo + SYLLABLE_BATCH))
            starts, lengths = syl["start"][sl], syl["length"][sl]
            idx = starts[:, None] + offsets[None, :]
            mask = offsets[None, :] < lengths[:, None]
            v = np.fft.irfft(np.fft.rfft(np.where(mask, padded_src[idx], 0.0), axis=1)
                             * vowel_h[vowel_id[sl]], n=block, axis=1)
            c = np.fft.irfft(np.fft.rfft(np.where(mask, padded_noise[idx], 0.0), axis=1)
                             * cons_h[cons_id[sl]], n=block, axis=1)
            env_v, env_c = _envelopes(lengths, cons_frac[sl], block, taper)
            y = (_unit_rms(v, lengths, mask) * env_v + CONSONANT_GAIN * _unit_rms(c, lengths, mask) * env_c)
            y *= gain[sl, None]
            out[idx[mask]] += y[mask].astype(np.float32)  # syllables tile the IPUs: no index repeats
        ramp_len = max(1, int(round(EDGE_RAMP_S * sample_rate)))
        for a, b in bounds:
            r = min(ramp_len, (b - a) // 2)
            if r > 0:
                ramp = np.linspace(0.0, 1.0, r + 1, dtype=np.float32)[1:]
                out[a:a + r] *= ramp
                out[b - r:b] *= ramp[::-1]
        peak = float(np.abs(out).max())
        if peak > PEAK_LIMIT:
            out *= PEAK_LIMIT / peak
    if noise_db is not None and np.isfinite(noise_db):
        out += (10.0 ** (noise_db / 20.0)) * noise[::-1]
    return np.clip(out, -1.0, 1.0).astype(np.float32)

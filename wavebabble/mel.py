"""Log-mel frames of a waveform: the frame-rate voice features the two-stage generator plans and renders.

    log_mel(audio [batch, samples]) -> [batch, samples // MEL_HOP, MEL_BINS], normalised log10 magnitudes
    dialogue_mels(clips [n, samples, 2]) -> np.float32 [n, samples // MEL_HOP, 2 * MEL_BINS] (speaker A's bins first)

Frame f is centred on sample f * MEL_HOP + MEL_HOP / 2 (the signal is zero-padded by (MEL_FFT - MEL_HOP) / 2 on
each side), so `samples` (a multiple of MEL_HOP) map to exactly samples / MEL_HOP frames and a renderer that
upsamples by MEL_HOP lines up with them. Values: (log10(max(mel magnitude, LOG_FLOOR)) - LOG_CENTRE) / LOG_SCALE,
about -1 (silence at the noise floor) .. +1.2 (loud voiced speech at the data pipeline's level).
Differentiable (tf.signal).
"""
from __future__ import annotations

import tensorflow as tf

from wavebabble.config import TWO_STAGE_HOP, TWO_STAGE_SAMPLE_RATE

MEL_SAMPLE_RATE = TWO_STAGE_SAMPLE_RATE  # Hz: the two-stage model's audio rate; MEL_HOP, MEL_FFT count its samples
MEL_HOP = TWO_STAGE_HOP  # samples per frame: 125 frames/s at 8 kHz; the renderer's three stride-4 upsamplings
MEL_FFT = 256         # 32 ms Hann window at 8 kHz
MEL_BINS = 40
MEL_FMIN = 60.0       # Hz
LOG_FLOOR = 1e-4      # magnitude floor (log10 = -4: below the corpus's noise floor)
LOG_CENTRE = -1.0
LOG_SCALE = 2.0
# frame energy in dBFS (wavebabble.vad's measure, 125 frames/s) = 10 log10(sum of squared mel magnitudes) + this;
# measured on 32 corpus clips: frames above -55 dBFS, median offset, 99.9 % agreement on the -40 dBFS threshold
MEL_ENERGY_OFFSET_DB = -43.4


def mel_matrix(sample_rate: int) -> tf.Tensor:
    """[MEL_FFT // 2 + 1, MEL_BINS] linear-to-mel weights (HTK mel scale, MEL_FMIN .. Nyquist)."""
    return tf.signal.linear_to_mel_weight_matrix(MEL_BINS, MEL_FFT // 2 + 1, sample_rate, MEL_FMIN,
                                                 sample_rate / 2.0)


def log_mel(audio: tf.Tensor, sample_rate: int) -> tf.Tensor:
    """audio [batch, samples] -> normalised log-mel [batch, samples // MEL_HOP, MEL_BINS]."""
    pad = (MEL_FFT - MEL_HOP) // 2
    x = tf.pad(audio, [[0, 0], [pad, pad]])
    spec = tf.abs(tf.signal.stft(x, MEL_FFT, MEL_HOP, MEL_FFT, window_fn=tf.signal.hann_window, pad_end=False))
    mel = tf.tensordot(spec, mel_matrix(sample_rate), axes=1)
    return (tf.math.log(tf.maximum(mel, LOG_FLOOR)) / tf.math.log(10.0) - LOG_CENTRE) / LOG_SCALE


def dialogue_mels(clips, sample_rate: int, batch: int = 64):
    """Stereo clips (numpy [n, samples, 2]) -> np.float32 [n, samples // MEL_HOP, 2 * MEL_BINS]: each speaker's
    log_mel, speaker A's bins first; `batch` clips at a time."""
    import numpy as np

    out = []
    for i in range(0, len(clips), batch):
        c = clips[i:i + batch]
        m = log_mel(tf.constant(np.concatenate([c[..., 0], c[..., 1]])), sample_rate).numpy()
        out.append(np.concatenate([m[:len(c)], m[len(c):]], axis=-1))
    return np.concatenate(out).astype(np.float32)


def mel_energy_db(mel: tf.Tensor) -> tf.Tensor:
    """normalised log-mel [..., MEL_BINS] -> frame energy in dBFS [...] (the soft VAD's input, vad.py)."""
    log_mag = mel * LOG_SCALE + LOG_CENTRE                      # log10 magnitudes
    power = tf.reduce_sum(tf.pow(10.0, 2.0 * log_mag), axis=-1)
    return 10.0 * tf.math.log(power + 1e-12) / tf.math.log(10.0) + MEL_ENERGY_OFFSET_DB


def mel_soft_vad(mel: tf.Tensor, nch: int, threshold_db: float, temperature_db: float,
                 grad_temperature_db: float = 0.0) -> tf.Tensor:
    """[batch, frames, nch * MEL_BINS] -> soft VAD [batch, frames, nch] (vad.soft_vad_from_db of mel_energy_db)."""
    from wavebabble.vad import soft_vad_from_db

    per = tf.stack([mel_energy_db(mel[..., s * MEL_BINS:(s + 1) * MEL_BINS]) for s in range(nch)], axis=-1)
    return soft_vad_from_db(per, threshold_db, temperature_db, grad_temperature_db)

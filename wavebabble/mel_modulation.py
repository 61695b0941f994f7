"""The modulation spectrum of log-mel sequences: how much each mel band moves at each rate, and a loss that pulls
a generator's average modulation spectrum onto the corpus's.

    modulation_power(mel)            mel [batch, frames, bins] -> [batch, MODULATION_BANDS, bins]: mean power of
                                     each band's time series in each modulation band (Hann window over the clip)
    log_modulation_spectrum(mel)     -> [MODULATION_BANDS, bins]: log of the batch's mean power
    modulation_loss(fake, target)    mean squared difference of log_modulation_spectrum(fake) and a target
                                     [MODULATION_BANDS, bins] (the corpus's, computed once)

Modulation bands are octaves of the mel frame rate's spectrum (MODULATION_EDGES_HZ, at 125 frames/s up to its
Nyquist of 62.5 Hz): syllables move at 2-8 Hz, phones at 8-30 Hz; a transposed convolution's checkerboard shows
as power at the frame rate's Nyquist (period 2 frames) and half of it (period 4).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE

MEL_FRAME_HZ = MEL_SAMPLE_RATE / MEL_HOP                        # 125 frames/s
MODULATION_EDGES_HZ = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 48.0, MEL_FRAME_HZ / 2 + 1e-6)
MODULATION_BANDS = len(MODULATION_EDGES_HZ) - 1
POWER_FLOOR = 1e-6          # added before the log: far below any band's power in real mels (~1e-1 .. 1e3)


def _band_matrix(frames: int) -> np.ndarray:
    """[frames // 2 + 1, MODULATION_BANDS]: 1 / (bins in band) where an rfft bin of `frames` lies in the band."""
    f = np.fft.rfftfreq(frames, 1.0 / MEL_FRAME_HZ)
    m = np.stack([(f >= a) & (f < b) for a, b in zip(MODULATION_EDGES_HZ[:-1], MODULATION_EDGES_HZ[1:])], -1)
    counts = m.sum(0)
    if (counts == 0).any():
        empty = [f"{a:g}-{b:.3g} Hz" for (a, b), c in zip(zip(MODULATION_EDGES_HZ[:-1], MODULATION_EDGES_HZ[1:]),
                                                           counts) if c == 0]
        raise ValueError(f"{frames} mel frames ({frames / MEL_FRAME_HZ:.2f} s) are too short: no frequency of their "
                         f"spectrum falls in the modulation band(s) {', '.join(empty)}")
    return (m / counts).astype(np.float32)


def modulation_power(mel: tf.Tensor) -> tf.Tensor:
    """mel [batch, frames, bins] -> [batch, MODULATION_BANDS, bins]: each bin's time series less its mean, Hann
    windowed, |rfft|^2 / frames averaged over the rfft bins of each modulation band."""
    mel = tf.convert_to_tensor(mel, tf.float32)
    frames = int(mel.shape[1])
    x = mel - tf.reduce_mean(mel, axis=1, keepdims=True)
    x = x * tf.signal.hann_window(frames, periodic=False)[None, :, None]
    spec = tf.signal.rfft(tf.transpose(x, [0, 2, 1]))                          # [batch, bins, frames // 2 + 1]
    power = tf.math.real(spec * tf.math.conj(spec)) / frames
    return tf.einsum("bcf,fk->bkc", power, tf.constant(_band_matrix(frames)))


def log_modulation_spectrum(mel: tf.Tensor) -> tf.Tensor:
    """mel [batch, frames, bins] -> [MODULATION_BANDS, bins]: log of the batch's mean modulation power."""
    return tf.math.log(tf.reduce_mean(modulation_power(mel), axis=0) + POWER_FLOOR)


def corpus_log_modulation_spectrum(mels: np.ndarray, batch: int = 64) -> np.ndarray:
    """mels [clips, frames, bins] (numpy) -> [MODULATION_BANDS, bins]: log of the mean power over all clips."""
    total = sum(tf.reduce_sum(modulation_power(mels[i:i + batch]), axis=0).numpy()
                for i in range(0, len(mels), batch))
    return np.log(total / len(mels) + POWER_FLOOR).astype(np.float32)


def modulation_loss(fake: tf.Tensor, target) -> tf.Tensor:
    """fake mels [batch, frames, bins], target [MODULATION_BANDS, bins] -> scalar: mean squared log-power
    difference (natural log) over modulation bands and mel bins."""
    return tf.reduce_mean(tf.square(log_modulation_spectrum(fake) - target))

"""A pitched excitation for generator v2's renderer: the harmonics of a frame-rate f0 contour at the sample rate.

    HarmonicSource(sample_rate, hop, harmonics)(f0 [batch, frames, 1] in Hz) -> [batch, frames * hop, harmonics]

Channel k-1 is sin(k * phase(t)) for k = 1 .. harmonics, and 0 where k * f0(t) is at or above
`ALIAS_FRACTION` of the Nyquist frequency (no aliased partials). phase(t) = 2 pi sum_{u <= t} f0(u) / sample_rate,
with f0 interpolated linearly between frame centres (LinearUpsample1D), so the pitch glides without steps and the
phase never jumps. The phase is summed in float64 and wrapped to [0, 2 pi) before the sines: a render of minutes keeps
the precision of a render of one frame.

Gradient: only the within-frame part of the phase passes gradient to f0 (the phase each frame starts from is held
constant for it). The derivative of sin(k * phase) by an f0 value that has been summed over t samples grows with t
(DDSP, Engel et al. 2020, notes the same for learned oscillator frequencies); within one frame it stays bounded.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from wavebabble.models.layers import linear_upsample

ALIAS_FRACTION = 0.95          # partials at or above this fraction of the Nyquist frequency are silenced


@keras.saving.register_keras_serializable(package="wavebabble")
class HarmonicSource(keras.layers.Layer):
    """f0 [batch, frames, 1] (Hz) -> [batch, frames * hop, harmonics]: sin(k * phase(t)); see the module docstring."""

    def __init__(self, sample_rate: int, hop: int, harmonics: int, **kwargs):
        super().__init__(**kwargs)
        self.sample_rate = int(sample_rate)
        self.hop = int(hop)
        self.harmonics = int(harmonics)

    def call(self, f0):
        f = linear_upsample(f0, self.hop)[..., 0]                         # [B, T] Hz
        batch, frames = tf.shape(f0)[0], tf.shape(f0)[1]
        step = tf.cast(f, tf.float64) * (2.0 * math.pi / self.sample_rate)
        within = tf.cumsum(tf.reshape(step, tf.stack([batch, frames, self.hop])), axis=2)  # phase since frame start
        total = tf.math.floormod(tf.stop_gradient(within[:, :, -1]), 2.0 * math.pi)
        start = tf.cumsum(total, axis=1, exclusive=True)                  # [B, F] float64, held for the gradient
        phase = tf.math.floormod(within + start[:, :, None], 2.0 * math.pi)
        phase = tf.reshape(tf.cast(phase, f.dtype), tf.stack([batch, -1, 1]))
        k = tf.range(1, self.harmonics + 1, dtype=phase.dtype)            # [K]
        audible = tf.cast(f[..., None] * k < ALIAS_FRACTION * self.sample_rate / 2, phase.dtype)
        out = tf.sin(phase * k) * audible                                 # [B, T, K]
        if f0.shape[1] is not None:
            out.set_shape([f0.shape[0], f0.shape[1] * self.hop, self.harmonics])
        return out

    def compute_output_shape(self, input_shape):
        t = None if input_shape[1] is None else input_shape[1] * self.hop
        return (input_shape[0], t, self.harmonics)

    def get_config(self):
        return {**super().get_config(), "sample_rate": self.sample_rate, "hop": self.hop,
                "harmonics": self.harmonics}

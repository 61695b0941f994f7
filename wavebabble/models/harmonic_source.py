"""A pitched excitation for the renderer (neural source-filter, Wang et al. 2019): frame f0 -> harmonics.

    HarmonicSource(harmonics, hop, sample_rate)([f0 [batch, frames], voicing [batch, frames](, start [batch, frames])])
        -> [batch, frames * hop, harmonics]
    frame_start_phases(f0 [batch, frames], hop, sample_rate, phase0=0) -> [batch, frames] float64 cycles in [0, 1)
    ExtendStartPhases(n, hop, sample_rate)([start [batch, frames], f0 [batch, frames + 2 n]])
        -> [batch, frames + 2 n]: given start phases, n frames more each side following f0
    NoiseExcitation(hop, edges)([voicing [batch, frames], at [batch, 2] int64]) -> [batch, frames * hop, 2]

Channel k - 1 is voicing * sin(2 pi k phase(t)): the k-th harmonic of the frame pitch, zero where k * f0 is at or
above NYQUIST_SHARE of the Nyquist frequency (no aliases). f0 (Hz) and voicing (0..1) are linear between frame
starts (frame f's value at its first sample, frame f + 1's at the next frame's; the last frame holds), so the
instantaneous frequency and level have no steps. The phase (in cycles) is the running integral of f0 from the
first sample: each frame's start phase is a float64 cumulative sum of whole-frame increments taken mod 1
(frame_start_phases), so a rendering of minutes keeps sub-sample accuracy. A third input gives the frames' start
phases instead (a window of a longer rendering, whose phases its caller kept: wavebabble.agent's streaming).
The source passes no gradient back to f0 and voicing.

NoiseExcitation is the source's noise branch (the unvoiced sounds and the breath in voiced ones): unit-variance
noise times (1 - voicing) and an independent one times voicing, each frame's voicing held over its hop. Its noise
is wavebabble.sample_noise's, a pure function of a key and the absolute sample index, so a window of a longer
rendering gets the whole rendering's noise.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from wavebabble.sample_noise import sample_normal

NYQUIST_SHARE = 0.95     # harmonics at or above this share of the Nyquist frequency are silenced


def frame_increments(f0, hop: int, sample_rate: int):
    """f0 [..., frames] Hz -> each frame's phase advance in cycles [..., frames] (float64): hop samples of an f0
    linear from the frame's value to the next frame's (the last frame holds its own)."""
    f0 = tf.cast(f0, tf.float64)
    nxt = tf.concat([f0[..., 1:], f0[..., -1:]], axis=-1)
    return float(hop) * 0.5 * (f0 + nxt) / float(sample_rate)


def frame_start_phases(f0, hop: int, sample_rate: int, phase0=0.0):
    """f0 [..., frames] Hz -> frame start phases [..., frames] float64 in [0, 1): phase0 (cycles) at frame 0 plus
    the exclusive running sum of frame_increments."""
    inc = frame_increments(f0, hop, sample_rate)
    return tf.math.floormod(tf.cast(phase0, tf.float64) + tf.cumsum(inc, axis=-1, exclusive=True), 1.0)


@keras.saving.register_keras_serializable(package="wavebabble")
class ExtendStartPhases(keras.layers.Layer):
    """[start [batch, frames] cycles, f0 [batch, frames + 2 n] Hz] -> start phases [batch, frames + 2 n] in [0, 1):
    the given ones in the middle; the n frames before run back from the first and the n after run on from the
    last by frame_increments of f0 (which covers all frames: f0 of an input padded by n frames each side), so a
    source over the padded frames is continuous with the given phases."""

    def __init__(self, n: int, hop: int, sample_rate: int, **kwargs):
        super().__init__(**kwargs)
        self.n, self.hop, self.sample_rate = int(n), int(hop), int(sample_rate)

    def get_config(self):
        return {**super().get_config(), "n": self.n, "hop": self.hop, "sample_rate": self.sample_rate}

    def call(self, inputs):
        start = tf.cast(tf.stop_gradient(inputs[0]), tf.float64)                   # [batch, frames]
        inc = frame_increments(tf.stop_gradient(inputs[1]), self.hop, self.sample_rate)  # [batch, frames + 2n]
        n, last = self.n, tf.shape(inc)[1] - self.n - 1                            # last: the last given frame
        before = start[:, :1] - tf.cumsum(inc[:, :n], axis=1, reverse=True)
        after = start[:, -1:] + tf.cumsum(inc[:, last:last + n], axis=1)
        out = tf.math.floormod(tf.concat([before, start, after], axis=1), 1.0)
        return tf.cast(out, inputs[0].dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[1]


@keras.saving.register_keras_serializable(package="wavebabble")
class HarmonicSource(keras.layers.Layer):
    """[f0 [batch, frames] Hz, voicing [batch, frames] (, start [batch, frames] cycles)] -> excitation
    [batch, frames * hop, harmonics]."""

    def __init__(self, harmonics: int, hop: int, sample_rate: int, **kwargs):
        super().__init__(**kwargs)
        self.harmonics, self.hop, self.sample_rate = int(harmonics), int(hop), int(sample_rate)

    def get_config(self):
        return {**super().get_config(), "harmonics": self.harmonics, "hop": self.hop,
                "sample_rate": self.sample_rate}

    def call(self, inputs):
        f0, voicing = inputs[0], inputs[1]
        f0 = tf.stop_gradient(tf.cast(f0, tf.float32))         # the head learns from its targets only
        nxt_f0 = tf.concat([f0[:, 1:], f0[:, -1:]], axis=1)                      # [batch, frames]
        voicing = tf.stop_gradient(tf.cast(voicing, tf.float32))
        nxt_v = tf.concat([voicing[:, 1:], voicing[:, -1:]], axis=1)
        hop = float(self.hop)
        if len(inputs) > 2:
            start = tf.stop_gradient(tf.cast(inputs[2], tf.float32))              # [batch, frames] given
        else:
            start = tf.cast(frame_start_phases(f0, self.hop, self.sample_rate), tf.float32)
        t = tf.range(self.hop, dtype=tf.float32) / hop                           # [hop] fraction of the frame
        slope = (nxt_f0 - f0)[..., None]
        # phase within the frame: integral of f0 + slope * t over [0, t] (cycles)
        within = hop * (f0[..., None] * t + 0.5 * slope * t * t) / self.sample_rate   # [batch, frames, hop]
        phase = start[..., None] + within
        level = voicing[..., None] + (nxt_v - voicing)[..., None] * t             # [batch, frames, hop]
        freq = f0[..., None] + slope * t                                           # Hz per sample
        k = tf.range(1, self.harmonics + 1, dtype=tf.float32)                      # [harmonics]
        audible = tf.cast(freq[..., None] * k < NYQUIST_SHARE * self.sample_rate / 2.0, tf.float32)
        wave = tf.sin(2.0 * 3.141592653589793 * tf.math.floormod(phase[..., None] * k, 1.0))
        out = wave * audible * level[..., None]                                    # [batch, frames, hop, K]
        shape = tf.shape(f0)
        return tf.reshape(out, [shape[0], shape[1] * self.hop, self.harmonics])

    def compute_output_shape(self, input_shape):
        batch, frames = input_shape[0][:2]
        return (batch, None if frames is None else frames * self.hop, self.harmonics)


@keras.saving.register_keras_serializable(package="wavebabble")
class NoiseExcitation(keras.layers.Layer):
    """[voicing [batch, frames], at [batch, 2] int64] -> [batch, frames * hop, 2]: sample_normal noise times
    (1 - voicing) and an independent one times voicing. at[:, 0] is each row's noise key; at[:, 1] the absolute
    sample index of frame `edges`'s first sample (the frames before it are padding: a renderer's edge frames),
    so sample n of the output is absolute sample at[:, 1] + n - edges * hop."""

    def __init__(self, hop: int, edges: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.hop, self.edges = int(hop), int(edges)

    def get_config(self):
        return {**super().get_config(), "hop": self.hop, "edges": self.edges}

    def call(self, inputs):
        voicing, at = inputs
        v = tf.repeat(tf.stop_gradient(tf.cast(voicing, tf.float32)), self.hop, axis=1)[..., None]   # [b, t, 1]
        at = tf.cast(at, tf.int64)
        noise = sample_normal(at[:, 0], at[:, 1] - self.edges * self.hop, tf.shape(v)[1], 2)
        return noise * tf.concat([1.0 - v, v], axis=-1)

    def compute_output_shape(self, input_shape):
        frames = input_shape[0][1]
        return (input_shape[0][0], None if frames is None else frames * self.hop, 2)

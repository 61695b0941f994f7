"""Differentiable per-clip turn statistics of a soft VAD: what the timing evaluation counts, in TF.

    TurnStatistics(frame_hz)(vad [batch, frames, 2]) -> [batch, NUM_TURN_STATS] (order: STAT_NAMES)

The evaluation (`wavebabble.timing`, DESIGN.md) bridges each channel's silences shorter than MIN_SILENCE_S,
calls each remaining speech run an IPU and counts per minute IPUs, pauses, gaps and overlaps. This layer
computes the same kind of quantities from soft VAD probabilities a, b in [0, 1], differentiably:

    bridge(x)    grey-scale morphological closing of x with a flat window of MIN_SILENCE_S frames, on the
                 clip padded with silence: on a 0/1 VAD exactly `timing.fill_short_silences` (silences shorter
                 than the window between two speech runs are filled; leading and trailing ones are not)
    runs(x)      x[0] + sum_t relu(x[t] - x[t-1]): the number of runs of a 0/1 signal, soft otherwise
    A, B         bridge(a), bridge(b): the two speakers' IPU signals

    floor(t)     who last spoke alone: f = A(1-B) - B(1-A) (+1 A alone, -1 B alone, 0 otherwise) held through
                 frames where f = 0 (silence, overlap): floor(t) = f(t) + (1 - |f(t)|) floor(t-1), computed in
                 closed form as a masked [frames, frames] product (no recurrence)
    changes      (sum_t |floor(t) - floor(t-1)| - |floor(end)|) / 2, floor(-1) = 0: the number of speaker
                 changes (gaps and speaker-change overlaps), which tells a gap (A _ B) from a pause (A _ A) where
                 the run counts cannot. The held floor's total variation counts a swing from +1 to -1 as one
                 change however many frames the swing takes; the first speaker's 0 -> +-1 is taken off by the
                 |floor(end)| term.

    statistics (rates in events per second, the rest fractions of the clip's frames):
      speech fraction of a and b, overlap fraction mean(a*b),
      runs of A and B (IPUs), runs of A*B (overlaps), runs of (1-A)(1-B) (joint silences: pauses, gaps and
      the clip's leading/trailing silence), runs of A(1-B) and B(1-A) (one speaker alone), speaker changes,

The turn-timing discriminator (timing_discriminator.py, `cfg.timing_turn_stats`) reads these next to its
convolutional features, so a generator whose turns are too short, or whose speakers switch too often, is
told so through one number per clip rather than through a pattern its convolutions must first learn to count.
Gradients flow through the max/min windows to the frames that decide them (e.g. the loudest frame inside a
gap that would bridge it).

"""
from __future__ import annotations

import keras
import tensorflow as tf

from wavebabble.timing import MIN_SILENCE_S

STAT_NAMES = ("speech_a", "speech_b", "overlap", "ipu_rate_a", "ipu_rate_b", "overlap_rate", "silence_rate",
              "a_alone_rate", "b_alone_rate", "speaker_change_rate")
NUM_TURN_STATS = len(STAT_NAMES)
HALF = 0.5               # a change is a swing of the floor from +1 to -1 (or back): variation 2
HOLD_EPS = 1e-6          # floor hold factors are clipped to >= this before their log (exact 0 would give -inf)


def _window_max(x, left: int, right: int, pad_value: float):
    """[batch, frames, C] -> max over x[t - left .. t + right] per frame (outside padded with pad_value)."""
    padded = tf.pad(x, [[0, 0], [left, right], [0, 0]], constant_values=pad_value)
    return tf.nn.max_pool1d(padded, ksize=left + right + 1, strides=1, padding="VALID")


def keep_long_runs(x, window: int, outside: float):
    """Opening of [batch, frames, C] values in [0, 1]: on 0/1 signals, runs of 1 shorter than `window` frames
    vanish and longer ones are kept whole. Beyond the clip the signal is `outside` (0: a speech run cut by the
    clip's edge counts only for the part inside; 1: a silence there continues beyond it)."""
    if window <= 1:
        return x
    frames = tf.shape(x)[1]
    left, right = window // 2, window - 1 - window // 2
    ext = tf.pad(x, [[0, 0], [window, window], [0, 0]], constant_values=outside)
    eroded = -_window_max(-ext, left, right, -outside)
    opened = _window_max(eroded, right, left, outside)                  # dilation with the reflected window
    return opened[:, window:window + frames, :]


def bridge_short_silences(x, window: int):
    """Closing of [batch, frames, C] values in [0, 1]: fills silences shorter than `window` frames between
    two speech runs; leading/trailing silences stay (the clip is treated as padded with silence). It is the
    opening of the silence signal 1 - x with silence beyond the clip."""
    return 1.0 - keep_long_runs(1.0 - x, window, 1.0)


def count_runs(x):
    """[batch, frames, C] -> [batch, C]: number of runs of a 0/1 signal (soft for values in between)."""
    rises = tf.nn.relu(x[:, 1:, :] - x[:, :-1, :])
    return x[:, 0, :] + tf.reduce_sum(rises, axis=1)


def hold(f, keep):
    """[batch, frames] each -> [batch, frames]: out(t) = f(t) + keep(t) out(t-1), out(-1) = 0, keep in [0, 1].

    out(t) = sum_{s <= t} f(s) prod_{s < r <= t} keep(r); the products are exp(L(t) - L(s)) of the cumulative
    log hold factor L (always <= 1, so nothing overflows), a masked [frames, frames] product (no recurrence)."""
    log_hold = tf.math.cumsum(tf.math.log(tf.maximum(keep, HOLD_EPS)), axis=1)                    # L(t)
    frames = tf.shape(f)[1]
    causal = tf.linalg.band_part(tf.ones([frames, frames]), -1, 0)                                # s <= t
    decay = tf.exp(tf.minimum(log_hold[:, :, None] - log_hold[:, None, :], 0.0)) * causal         # [b, t, s]
    return tf.linalg.matvec(decay, f)


def held_floor(alone_a, alone_b):
    """[batch, frames] each -> [batch, frames]: +1/-1 for the speaker who last spoke alone, 0 before anyone did
    (f = alone_a - alone_b held where |f| < 1)."""
    f = alone_a - alone_b
    return hold(f, 1.0 - tf.abs(f))


def count_speaker_changes(alone_a, alone_b):
    """[batch, frames] each -> [batch]: sign changes of the held floor (gaps + speaker-change overlaps), as
    half its total variation from 0 before the clip, less the final |floor| (the first speaker's arrival)."""
    floor = held_floor(alone_a, alone_b)
    steps = tf.abs(floor[:, 1:] - floor[:, :-1])
    variation = tf.abs(floor[:, 0]) + tf.reduce_sum(steps, axis=1)
    return HALF * (variation - tf.abs(floor[:, -1]))


@keras.saving.register_keras_serializable(package="wavebabble")
class TurnStatistics(keras.layers.Layer):
    """Soft VAD [batch, frames, 2] -> [batch, NUM_TURN_STATS] (order: STAT_NAMES; see the module docstring)."""

    def __init__(self, frame_hz: int, min_silence_s: float = MIN_SILENCE_S, **kwargs):
        super().__init__(**kwargs)
        self.frame_hz = int(frame_hz)
        self.min_silence_s = float(min_silence_s)

    def call(self, vad):
        vad = tf.cast(vad, tf.float32)
        seconds = tf.cast(tf.shape(vad)[1], tf.float32) / float(self.frame_hz)
        a, b = vad[..., 0:1], vad[..., 1:2]
        ipus = bridge_short_silences(vad, int(round(self.min_silence_s * self.frame_hz)))
        big_a, big_b = ipus[..., 0:1], ipus[..., 1:2]
        alone_a, alone_b = big_a * (1.0 - big_b), big_b * (1.0 - big_a)
        fractions = tf.reduce_mean(tf.concat([a, b, a * b], axis=-1), axis=1)             # [batch, 3]
        silence = (1.0 - big_a) * (1.0 - big_b)                                           # joint silence
        signals = tf.concat([ipus, big_a * big_b, silence, alone_a, alone_b], axis=-1)   # [batch, frames, 6]
        changes = count_speaker_changes(alone_a[..., 0], alone_b[..., 0])[:, None]
        return tf.concat([fractions, count_runs(signals) / seconds, changes / seconds], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], NUM_TURN_STATS)

    def get_config(self):
        return {**super().get_config(), "frame_hz": self.frame_hz, "min_silence_s": self.min_silence_s}

"""Differentiable per-clip turn statistics of a soft VAD: what the timing evaluation counts, in TF.

    TurnStatistics(frame_hz, hard=False, durations_s=(), pauses=False)(vad [batch, frames, 2])
        -> [batch, len(turn_stat_names(durations_s, pauses))]

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
                 |floor(end)| term. (The earlier product form sum relu(-floor(t) floor(t-1)) counted a change
                 spread over a few frames as a fraction of one: measured on 100 clips, FSDD seed 2, real 6.4
                 changes/min against 12.6 thresholded and generated 8.2 against 22.4; on babble it ranked a
                 generator with 18 changes/min below the corpus's 12. This form: real 13.5, generated 23.7.)

    before(t)    who spoke alone just before the current joint silence: g(t) = f(t) + S(t) g(t-1) with
                 S = (1-A)(1-B) the joint silence (held only through silence; an overlap or the clip's start
                 gives 0), the same closed form as the floor's
    ends(t)      relu(S(t-1) - S(t)): a joint silence ends at t
    pauses       sum_t ends(t) [A(t)(1-B(t)) relu(before(t-1)) + B(t)(1-A(t)) relu(-before(t-1))]: joint
                 silences with the same speaker alone on both sides; gaps: the same with the speakers crossed.
                 On a 0/1 VAD exactly the evaluation's pauses and gaps (a silence after an overlap, at the
                 clip's edges, or ending in an overlap is neither).

    long(x, w)   grey-scale morphological opening of x with a flat window of w frames: on a 0/1 signal it
                 removes the runs shorter than w and keeps the others whole

    statistics (rates in events per second, the rest fractions of the clip's frames):
      speech fraction of a and b, overlap fraction mean(a*b),
      runs of A and B (IPUs), runs of A*B (overlaps), runs of (1-A)(1-B) (joint silences: pauses, gaps and
      the clip's leading/trailing silence), runs of A(1-B) and B(1-A) (one speaker alone), speaker changes,
      with pauses=True the rates of pauses and gaps (the silence count split by who speaks on each side:
      measured in every babble seed of the eighth session, G made a third of the corpus's pauses and 30-60 %
      more gaps, a difference of two soft counts the D would otherwise have to learn to take; reading them
      did not bring the pauses on three babble seeds: ablation_timing_notes.md, ninth session),
      then for each duration d in durations_s: runs of long(A, d), long(B, d), long((1-A)(1-B), d), i.e. the
      rates of IPUs and of joint silences lasting at least d. The counts above say how many turns there are;
      these say how long they last, so a generator that chops its speech into 0.2 s bursts separated by
      pauses just over the 0.2 s bridging (measured: FSDD seed 0, IPU median 0.2 s against 1.54 s) is told so
      even when its IPU count happens to be close to the corpus's.

The turn-timing discriminator (timing_discriminator.py, `cfg.timing_turn_stats`) reads these next to its
convolutional features, so a generator whose turns are too short, or whose speakers switch too often, is
told so through one number per clip rather than through a pattern its convolutions must first learn to count.
Gradients flow through the max/min windows to the frames that decide them (e.g. the loudest frame inside a
gap that would bridge it).

hard=True counts the thresholded VAD (a > 0.5) in the forward pass, as the evaluation counts its hard VAD, and
passes gradients straight through the threshold (Bengio et al. 2013). Soft counts are biased by how decisive the
VAD is, and differently for real and generated audio: the held floor of a soft VAD loses speaker changes
(measured on a babble generator at 1000 steps, 200 clips: soft counts 0.13 changes/s real vs 0.06 generated,
thresholded 0.19 vs 0.27, so the soft statistic asked for more changes where there were too many).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from wavebabble.timing import MIN_SILENCE_S

STAT_NAMES = ("speech_a", "speech_b", "overlap", "ipu_rate_a", "ipu_rate_b", "overlap_rate", "silence_rate",
              "a_alone_rate", "b_alone_rate", "speaker_change_rate")
NUM_TURN_STATS = len(STAT_NAMES)
PAUSE_STAT_NAMES = ("pause_rate", "gap_rate")
DURATION_STAT_PREFIXES = ("long_ipu_rate_a", "long_ipu_rate_b", "long_silence_rate")
DURATION_STATS_PER_WINDOW = len(DURATION_STAT_PREFIXES)
HARD_THRESHOLD = 0.5     # hard=True: speech where the soft VAD exceeds this
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


def turn_stat_names(durations_s=(), pauses: bool = False) -> tuple[str, ...]:
    """Names of TurnStatistics' outputs, in order, for the given duration windows (seconds) and pause option."""
    return (STAT_NAMES + (PAUSE_STAT_NAMES if pauses else ())
            + tuple(f"{p}_{d:g}s" for d in durations_s for p in DURATION_STAT_PREFIXES))


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


def count_pauses_and_gaps(alone_a, alone_b, silence):
    """[batch, frames] each -> [batch, 2]: joint silences with the same speaker alone on both sides (pauses)
    and with different ones (gaps); see the module docstring."""
    before = hold(alone_a - alone_b, silence)[:, :-1]                  # who spoke alone before, at t - 1
    ends = tf.nn.relu(silence[:, :-1] - silence[:, 1:])               # a joint silence ends at t
    next_a, next_b = alone_a[:, 1:], alone_b[:, 1:]
    was_a, was_b = tf.nn.relu(before), tf.nn.relu(-before)
    pauses = tf.reduce_sum(ends * (next_a * was_a + next_b * was_b), axis=1)
    gaps = tf.reduce_sum(ends * (next_a * was_b + next_b * was_a), axis=1)
    return tf.stack([pauses, gaps], axis=-1)


def count_speaker_changes(alone_a, alone_b):
    """[batch, frames] each -> [batch]: sign changes of the held floor (gaps + speaker-change overlaps), as
    half its total variation from 0 before the clip, less the final |floor| (the first speaker's arrival)."""
    floor = held_floor(alone_a, alone_b)
    steps = tf.abs(floor[:, 1:] - floor[:, :-1])
    variation = tf.abs(floor[:, 0]) + tf.reduce_sum(steps, axis=1)
    return HALF * (variation - tf.abs(floor[:, -1]))


@keras.saving.register_keras_serializable(package="wavebabble")
class TurnStatistics(keras.layers.Layer):
    """Soft VAD [batch, frames, 2] -> [batch, len(turn_stat_names(durations_s, pauses))] (order: module docstring)."""

    def __init__(self, frame_hz: int, min_silence_s: float = MIN_SILENCE_S, hard: bool = False,
                 durations_s=(), pauses: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.frame_hz = int(frame_hz)
        self.min_silence_s = float(min_silence_s)
        self.hard = bool(hard)
        self.durations_s = tuple(float(d) for d in durations_s)
        self.pauses = bool(pauses)

    def call(self, vad):
        vad = tf.cast(vad, tf.float32)
        if self.hard:   # forward: 0/1 at HARD_THRESHOLD; backward: identity (straight-through)
            vad = vad + tf.stop_gradient(tf.cast(vad > HARD_THRESHOLD, tf.float32) - vad)
        seconds = tf.cast(tf.shape(vad)[1], tf.float32) / float(self.frame_hz)
        a, b = vad[..., 0:1], vad[..., 1:2]
        ipus = bridge_short_silences(vad, int(round(self.min_silence_s * self.frame_hz)))
        big_a, big_b = ipus[..., 0:1], ipus[..., 1:2]
        alone_a, alone_b = big_a * (1.0 - big_b), big_b * (1.0 - big_a)
        fractions = tf.reduce_mean(tf.concat([a, b, a * b], axis=-1), axis=1)             # [batch, 3]
        silence = (1.0 - big_a) * (1.0 - big_b)                                           # joint silence
        signals = tf.concat([ipus, big_a * big_b, silence, alone_a, alone_b], axis=-1)   # [batch, frames, 6]
        changes = count_speaker_changes(alone_a[..., 0], alone_b[..., 0])[:, None]
        out = [fractions, count_runs(signals) / seconds, changes / seconds]
        if self.pauses:
            out.append(count_pauses_and_gaps(alone_a[..., 0], alone_b[..., 0], silence[..., 0]) / seconds)
        for d in self.durations_s:
            window = int(round(d * self.frame_hz))
            long_runs = tf.concat([keep_long_runs(ipus, window, 0.0), keep_long_runs(silence, window, 1.0)], -1)
            out.append(count_runs(long_runs) / seconds)
        return tf.concat(out, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(turn_stat_names(self.durations_s, self.pauses)))

    def get_config(self):
        return {**super().get_config(), "frame_hz": self.frame_hz, "min_silence_s": self.min_silence_s,
                "hard": self.hard, "durations_s": list(self.durations_s), "pauses": self.pauses}

"""Turn-timing discriminator: judges only the two speakers' voice-activity envelopes.

    build_timing_discriminator(cfg) -> keras.Model:  soft VAD [batch, num_frames, 2] -> score [batch, 1]

Input is `wavebabble.vad.soft_vad(audio)`: per-frame speech probabilities (a, b) of speaker A and B at
cfg.frame_hz; the model never sees the waveform. Inside:
    TimingFeatures -> [a, b, a*b (overlap), (1-a)(1-b) (joint silence)]       [batch, frames, 4]
    MinibatchStd (when cfg.timing_minibatch_std) -> + per-frame std of those 4 features across the batch
        [batch, frames, 8]: a batch of fakes whose turn patterns are all alike (mode collapse of the
        timing) has std ~0 where real batches do not, so D can punish it (Karras et al. 2018, sec. 3)
    Conv1D(timing_dim, 1)
    residual dilated blocks: LeakyReLU -> Conv1D(timing_dim, 3, dilation 1, 2, 4, ...) ; x += block
        with enough blocks that the receptive field (1 + 2 * sum(dilations)) >= num_frames, so one
        output frame can relate every turn in the clip (e.g. 819 frames -> 9 blocks, field 1023)
    LeakyReLU -> global mean and max over time (concatenated)                     "timing_pool"
    (when cfg.timing_turn_stats) per-clip turn statistics of the VAD input (turn_statistics.py: speech and
        overlap fractions, IPU / overlap / silence / one-speaker-alone run rates after 0.2 s bridging, speaker
        changes), on a log scale log(stat + TURN_STATS_LOG_EPS) so that an overlap fraction of 0.05 against 0.02 weighs
        like a speech fraction of 1.0 against 0.4 (the evaluation scores relative errors),
        + their std across the batch when cfg.timing_minibatch_std, -> Dense(timing_dim) -> LeakyReLU,
        concatenated with "timing_pool"
    -> Dense(1)
"""
from __future__ import annotations

import keras
from keras import ops

from wavebabble.config import Config
from wavebabble.errors import ConfigError
from wavebabble.models.layers import TimingFeatures
from wavebabble.models.turn_statistics import TurnStatistics

LEAKY_SLOPE = 0.2
DILATED_KERNEL = 3
VAD_CHANNELS = 2
TURN_STATS_LOG_EPS = 0.01  # turn statistics are read as log(stat + this): rates/s and fractions ~0.02..1
TURN_STATS_LAYER = "timing_turn_stats"   # the layer whose output is the per-clip turn statistics [batch, stats]
MBSTD_EPS = 1e-8          # inside the sqrt of the minibatch variance (finite gradient at zero variance)


class MinibatchStd(keras.layers.Layer):
    """[batch, frames, C] -> [batch, frames, 2C]: appends, per frame and channel, the standard deviation of
    that feature across the batch (the same values for every example of the batch).

    The discriminator always scores real and fake batches in separate calls, so the statistic describes one
    kind of batch. A batch of one gets std ~0 (sqrt(MBSTD_EPS)). Under tf.distribute the statistic is over each
    replica's share of the batch.
    """

    def call(self, x):
        mean = ops.mean(x, axis=0, keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(x - mean), axis=0, keepdims=True) + MBSTD_EPS)   # [1, frames, C]
        return ops.concatenate([x, ops.zeros_like(x) + std], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], None if input_shape[-1] is None else 2 * input_shape[-1])


class LogScale(keras.layers.Layer):
    """x -> log(x + eps), elementwise (x >= 0)."""

    def __init__(self, eps: float, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, x):
        return ops.log(x + self.eps)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


def timing_dilations(num_frames: int) -> list[int]:
    """Dilations 1, 2, 4, ... until the stack's receptive field covers num_frames."""
    dilations = []
    while timing_receptive_field(dilations) < num_frames:
        dilations.append(2 ** len(dilations))
    return dilations


def timing_receptive_field(dilations: list[int]) -> int:
    """Receptive field in frames of the dilated stack (kernel DILATED_KERNEL)."""
    return 1 + (DILATED_KERNEL - 1) * sum(dilations)


def build_timing_discriminator(cfg: Config) -> keras.Model:
    """soft VAD [batch, cfg.num_frames, 2] -> [batch, 1]. See the module docstring."""
    if cfg.nch != VAD_CHANNELS:
        raise ConfigError(f"config field 'nch' = {cfg.nch}: the turn-timing discriminator needs 2 channels "
                          "(one speaker each)")
    vad = keras.Input((cfg.num_frames, VAD_CHANNELS), name="vad")
    x = TimingFeatures(name="timing_features")(vad)
    if cfg.timing_minibatch_std:
        x = MinibatchStd(name="timing_minibatch_std")(x)
    x = keras.layers.Conv1D(cfg.timing_dim, 1, name="timing_in")(x)
    for i, dil in enumerate(timing_dilations(cfg.num_frames)):
        h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"timing_lrelu_{i}")(x)
        h = keras.layers.Conv1D(cfg.timing_dim, DILATED_KERNEL, dilation_rate=dil, padding="same",
                                name=f"timing_dilated_{i}")(h)
        x = keras.layers.Add(name=f"timing_res_{i}")([x, h])
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="timing_lrelu_out")(x)
    pooled = keras.layers.Concatenate(name="timing_pool")([
        keras.layers.GlobalAveragePooling1D(name="timing_mean")(x),
        keras.layers.GlobalMaxPooling1D(name="timing_max")(x)])
    if cfg.timing_turn_stats:
        stats = TurnStatistics(cfg.frame_hz, name=TURN_STATS_LAYER)(vad)
        stats = LogScale(TURN_STATS_LOG_EPS, name="timing_turn_stats_log")(stats)
        if cfg.timing_minibatch_std:
            stats = MinibatchStd(name="timing_turn_stats_std")(stats)
        stats = keras.layers.Dense(cfg.timing_dim, name="timing_stats_dense")(stats)
        stats = keras.layers.LeakyReLU(LEAKY_SLOPE, name="timing_stats_lrelu")(stats)
        pooled = keras.layers.Concatenate(name="timing_head_in")([pooled, stats])
    score = keras.layers.Dense(1, name="score")(pooled)
    return keras.Model(vad, score, name=f"timing_discriminator_{cfg.name}")

"""Turn-timing discriminator: judges only the two speakers' voice-activity envelopes.

    build_timing_discriminator(cfg) -> keras.Model:  soft VAD [batch, num_frames, 2] -> score [batch, 1]

Input is `wavebabble.vad.soft_vad(audio)`: per-frame speech probabilities (a, b) of speaker A and B at
cfg.frame_hz; the model never sees the waveform. Inside:
    TimingFeatures -> [a, b, a*b (overlap), (1-a)(1-b) (joint silence)]       [batch, frames, 4]
    Conv1D(timing_dim, 1)
    residual dilated blocks: LeakyReLU -> Conv1D(timing_dim, 3, dilation 1, 2, 4, ...) ; x += block
        with enough blocks that the receptive field (1 + 2 * sum(dilations)) >= num_frames, so one
        output frame can relate every turn in the clip (e.g. 819 frames -> 9 blocks, field 1023)
    LeakyReLU -> global mean and max over time (concatenated) -> Dense(1)
"""
from __future__ import annotations

import keras

from wavebabble.config import Config
from wavebabble.errors import ConfigError
from wavebabble.models.layers import TimingFeatures

LEAKY_SLOPE = 0.2
DILATED_KERNEL = 3
VAD_CHANNELS = 2


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
    score = keras.layers.Dense(1, name="score")(pooled)
    return keras.Model(vad, score, name=f"timing_discriminator_{cfg.name}")

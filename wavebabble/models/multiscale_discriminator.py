"""Multi-scale waveform discriminator (MelGAN-style, Kumar et al. 2019), channels-last.

    build_multiscale_discriminator(cfg) -> keras.Model:
        audio [batch, time, nch] (a clip, or a cfg.ms_window window of one) -> list of cfg.ms_scales lists,
        scale s (input 1/2^s rate):
            [feature_1, ..., feature_k, score_map [batch, frames_s, 1]]

Scale s sees the waveform average-pooled s times (AveragePooling1D kernel 4, stride 2, "same").
Each scale (m = cfg.ms_dim, g = cfg.ms_groups):
    Conv1D(m, 15)                                  -> LeakyReLU 0.2   feature
    MS_DOWNSAMPLE_LAYERS x grouped Conv1D(kernel 41, stride 4, groups g), channels doubling up to
        MS_MAX_MUL * m                             -> LeakyReLU 0.2   feature each
    Conv1D(same channels, 5)                       -> LeakyReLU 0.2   feature
    Conv1D(1, 3)                                   -> score map (linear)
Grouped convs are `layers.GroupedConv1D` (same weights/output as keras Conv1D(groups=g), but one
ordinary conv per group: TF's CPU gradient of grouped convs is ~60x slower).
Channels double per stride-4 layer (MelGAN multiplies by 4 with many small groups; doubling with
cfg.ms_groups groups keeps every layer at about the same cost on CPU).
"""
from __future__ import annotations

import keras

from wavebabble.config import Config
from wavebabble.models.layers import GroupedConv1D

LEAKY_SLOPE = 0.2
FIRST_KERNEL = 15
DOWN_KERNEL = 41
DOWN_STRIDE = 4
MS_DOWNSAMPLE_LAYERS = 4
CHANNEL_GROWTH = 2
MS_MAX_MUL = 16
POST_KERNEL = 5
SCORE_KERNEL = 3
POOL_KERNEL = 4
POOL_STRIDE = 2


def _scale_block(x, cfg: Config, s: int) -> list:
    m = cfg.ms_dim
    feats = []
    x = keras.layers.Conv1D(m, FIRST_KERNEL, padding="same", name=f"ms{s}_conv_in")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"ms{s}_lrelu_in")(x)
    feats.append(x)
    ch = m
    for i in range(MS_DOWNSAMPLE_LAYERS):
        ch = min(ch * CHANNEL_GROWTH, MS_MAX_MUL * m)
        x = GroupedConv1D(ch, DOWN_KERNEL, strides=DOWN_STRIDE, groups=cfg.ms_groups, name=f"ms{s}_down_{i}")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"ms{s}_lrelu_{i}")(x)
        feats.append(x)
    x = keras.layers.Conv1D(ch, POST_KERNEL, padding="same", name=f"ms{s}_conv_post")(x)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"ms{s}_lrelu_post")(x)
    feats.append(x)
    score = keras.layers.Conv1D(1, SCORE_KERNEL, padding="same", name=f"ms{s}_score")(x)
    return feats + [score]


def build_multiscale_discriminator(cfg: Config) -> keras.Model:
    """audio [batch, slice_len, nch] -> [[features..., score_map] per scale]. See the module docstring."""
    audio = keras.Input((None, cfg.nch), name="audio")          # fully convolutional: clips or windows
    outputs = []
    x = audio
    for s in range(cfg.ms_scales):
        if s > 0:
            x = keras.layers.AveragePooling1D(POOL_KERNEL, strides=POOL_STRIDE, padding="same", name=f"ms_pool_{s}")(x)
        outputs.append(_scale_block(x, cfg, s))
    return keras.Model(audio, outputs, name=f"multiscale_discriminator_{cfg.name}")

"""The renderer of the two-stage generator: log-mel frames -> waveform (MelGAN-style, Kumar et al. 2019).

    build_mel_renderer(dim) -> keras.Model: mel [batch, frames, MEL_BINS] -> audio [batch, frames * MEL_HOP, 1]

Conv1D(8 dim, IN_KERNEL) -> three stages of [LeakyReLU -> Conv1DTranspose(kernel 2 * 4, stride 4, ICNR start) ->
RESIDUAL_DILATIONS residual units (LeakyReLU, Conv1D(kernel 3, dilation), LeakyReLU, Conv1D(1))], channels
4 dim, 2 dim, dim -> LeakyReLU -> Conv1D(1, OUT_KERNEL, tanh). One speaker at a time (speakers are folded into the
batch). Fully convolutional with a bounded receptive field (about RECEPTIVE_FRAMES frames each side), so it trains
on short random windows and renders any length in one call.
"""
from __future__ import annotations

import keras

from wavebabble.mel import MEL_BINS, MEL_HOP
from wavebabble.models.layers import ICNR

RENDER_STRIDES = (4, 4, 4)           # product = MEL_HOP
RENDER_MULS = (4, 2, 1)              # channels per stage, multiples of dim
RESIDUAL_DILATIONS = (1, 3, 9)
IN_MUL = 8
IN_KERNEL = 7
OUT_KERNEL = 7
LEAKY_SLOPE = 0.2
assert RENDER_STRIDES[0] * RENDER_STRIDES[1] * RENDER_STRIDES[2] == MEL_HOP


def build_mel_renderer(dim: int = 16, name: str = "mel_renderer") -> keras.Model:
    """mel [batch, frames, MEL_BINS] -> audio [batch, frames * MEL_HOP, 1] in (-1, 1); base channels `dim`."""
    mel = keras.Input((None, MEL_BINS), name="mel")
    x = keras.layers.Conv1D(IN_MUL * dim, IN_KERNEL, padding="same", name="in_conv")(mel)
    for s, (stride, mul) in enumerate(zip(RENDER_STRIDES, RENDER_MULS)):
        ch = mul * dim
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"up{s}_act")(x)
        x = keras.layers.Conv1DTranspose(ch, 2 * stride, strides=stride, padding="same",
                                         kernel_initializer=ICNR(stride), name=f"up{s}")(x)
        for r, dilation in enumerate(RESIDUAL_DILATIONS):
            h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"res{s}_{r}_act_a")(x)
            h = keras.layers.Conv1D(ch, 3, dilation_rate=dilation, padding="same", name=f"res{s}_{r}_conv")(h)
            h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"res{s}_{r}_act_b")(h)
            h = keras.layers.Conv1D(ch, 1, name=f"res{s}_{r}_mix")(h)
            x = keras.layers.Add(name=f"res{s}_{r}")([x, h])
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="out_act")(x)
    audio = keras.layers.Conv1D(1, OUT_KERNEL, padding="same", activation="tanh", name="out_conv")(x)
    return keras.Model(mel, audio, name=name)

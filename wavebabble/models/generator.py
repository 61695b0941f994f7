"""Stereo WaveGAN generator (Donahue et al. 2019), channels-last.

    build_generator(cfg) -> keras.Model:  z [batch, latent_dim] -> audio [batch, slice_len, nch] in (-1, 1)

Architecture (d = cfg.model_dim, k = WAVEGAN_KERNEL_LEN = 25):
    Dense(16 * 16d)  (16 * 32d for slice_len > 16384) -> reshape [16, 16d | 32d] -> ReLU
    -> upsampling layers (stride 4 unless noted), channels halving, ReLU between, tanh last:
       16384:  8d, 4d, 2d, d, nch                                 16 -> 16384
       32768:  16d, 8d, 4d, 2d, d, nch(stride 2)                  16 -> 32768
       65536:  16d, 8d, 4d, 2d, d, nch                            16 -> 65536
       131072: 16d, 8d, 4d, 2d, d, d, nch(stride 2)               16 -> 131072
    -> optional speaker-activity gate (cfg.g_activity_gate): a Conv1D(nch, k, sigmoid) head on the (per-clip
       standardised) first upsampling output at least as long as the VAD frame sequence gives each speaker a
       slow activity envelope [batch, gate_len, nch] in (0, 1); it is repeated to [batch, slice_len, nch] and
       multiplies the waveform. Each speaker's gate has its own weights, so the two channels can follow
       different envelopes, which the speaker-symmetric turn-timing D needs to tell speakers apart.
Upsampling layer: Conv1DTranspose(kernel k, stride, "same").
With nch=1, d=64, slice 16384 (and no gate) the model has WaveGAN's 19,065,345 parameters.

`transpose_impl` picks how the upsampling layers are computed; both hold identical weights
([kernel, out_ch, in_ch] + bias) and give the same output:
    "keras" (default): keras.layers.Conv1DTranspose (fastest eager/graph fp32 on CPU via oneDNN);
    "polyphase": PolyphaseConv1DTranspose, one stride-1 Conv1D + reshape: ~10% slower without XLA,
                 but under XLA jit_compile it stays fast where Conv1DTranspose is ~40x slower on CPU
                 (eval/bench_models.py), so use it for jit-compiled steps.
"""
from __future__ import annotations

import keras

from wavebabble.config import WAVEGAN_KERNEL_LEN, Config, require_wavegan
from wavebabble.errors import ConfigError
from wavebabble.models.layers import PolyphaseConv1DTranspose

START_LEN = 16                 # time steps after the dense projection
SHORT_SLICE = 16384            # slices longer than this double the dense width (WaveGAN)
DIM_MUL_SHORT = 16             # dense width = START_LEN * DIM_MUL * d
DIM_MUL_LONG = 32
UPSAMPLE_STRIDE = 4
TRANSPOSE_IMPLS = ("polyphase", "keras")
DEFAULT_TRANSPOSE_IMPL = "keras"
# (channel multiplier of d, or None for nch; stride) per upsampling layer, by slice length.
_LAYER_PLANS = {
    16384: [(8, 4), (4, 4), (2, 4), (1, 4), (None, 4)],
    32768: [(16, 4), (8, 4), (4, 4), (2, 4), (1, 4), (None, 2)],
    65536: [(16, 4), (8, 4), (4, 4), (2, 4), (1, 4), (None, 4)],
    131072: [(16, 4), (8, 4), (4, 4), (2, 4), (1, 4), (1, 4), (None, 2)],
}


def generator_plan(cfg: Config) -> list[tuple[int, int]]:
    """[(out_channels, stride), ...] of the upsampling layers for this config."""
    if cfg.slice_len not in _LAYER_PLANS:
        raise ConfigError(f"config field 'slice_len' = {cfg.slice_len}: generator supports {sorted(_LAYER_PLANS)}")
    return [(cfg.nch if mul is None else mul * cfg.model_dim, stride) for mul, stride in _LAYER_PLANS[cfg.slice_len]]


def _upsample_block(x, filters, stride, cfg, transpose_impl, activation, name):
    k = WAVEGAN_KERNEL_LEN
    if transpose_impl == "keras":
        return keras.layers.Conv1DTranspose(filters, k, strides=stride, padding="same",
                                            activation=activation, name=name)(x)
    return PolyphaseConv1DTranspose(filters, k, stride, activation=activation, name=name)(x)


def build_generator(cfg: Config, transpose_impl: str = DEFAULT_TRANSPOSE_IMPL) -> keras.Model:
    """z [batch, latent_dim] -> audio [batch, slice_len, nch] (tanh). See the module docstring. The two-stage
    generator is not built here: ConfigError pointing to its jobs."""
    if transpose_impl not in TRANSPOSE_IMPLS:
        raise ConfigError(f"build_generator: transpose_impl={transpose_impl!r}, choose one of {TRANSPOSE_IMPLS}")
    require_wavegan(cfg.generator)
    plan = generator_plan(cfg)
    d = cfg.model_dim
    dim_mul = DIM_MUL_SHORT if cfg.slice_len <= SHORT_SLICE else DIM_MUL_LONG
    z = keras.Input((cfg.latent_dim,), name="z")
    x = keras.layers.Dense(START_LEN * dim_mul * d, name="z_project")(z)
    x = keras.layers.Reshape((START_LEN, dim_mul * d), name="z_reshape")(x)
    x = keras.layers.ReLU(name="z_relu")(x)
    gate, length = None, START_LEN
    for i, (filters, stride) in enumerate(plan):
        last = i == len(plan) - 1
        x = _upsample_block(x, filters, stride, cfg, transpose_impl,
                            activation="tanh" if last else "relu",
                            name=f"upconv_{i}")
        length *= stride
        if cfg.g_activity_gate and gate is None and length >= cfg.num_frames and not last:
            # G's hidden activations are small (~0.02 at d=8), so the head reads them standardised per clip
            # (over time and channels: the temporal envelope is kept); otherwise its logits hardly move.
            h = keras.layers.LayerNormalization(axis=(1, 2), center=False, scale=False,
                                                name="activity_gate_norm")(x)
            gate = keras.layers.Conv1D(cfg.nch, WAVEGAN_KERNEL_LEN, padding="same", activation="sigmoid",
                                       name="activity_gate")(h)
            gate = keras.layers.UpSampling1D(cfg.slice_len // length, name="activity_gate_repeat")(gate)
    if cfg.g_activity_gate:
        if gate is None:
            raise ConfigError(f"g_activity_gate: no upsampling layer before the last one is at least "
                              f"{cfg.num_frames} steps long (slice_len {cfg.slice_len}, frame_hz {cfg.frame_hz})")
        x = keras.layers.Multiply(name="activity_gate_apply")([x, gate])
    assert length == cfg.slice_len, (length, cfg.slice_len)
    return keras.Model(z, x, name=f"generator_{cfg.name}")

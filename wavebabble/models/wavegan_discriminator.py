"""WaveGAN discriminator (Donahue et al. 2019) with phase shuffle, channels-last.

    build_wave_discriminator(cfg) -> keras.Model:  audio [batch, slice_len, nch] -> score [batch, 1]

Conv1D(kernel WAVEGAN_KERNEL_LEN = 25, "same") layers, LeakyReLU 0.2 after each, PhaseShuffle(cfg.phase_shuffle)
after each of the first four (reflect padding, one random shift per batch):
    16384:  d, 2d, 4d, 8d, 16d (stride 4 each)            16384 -> 16 frames
    32768:  ... + 32d stride 2                             32768 -> 16
    65536:  ... + 32d stride 4                             65536 -> 16
    131072: ... + 32d stride 4                             131072 -> 32 (flattened as is; a further
            32d->32d conv would add 25*(32d)^2 parameters for little gain)
then flatten -> Dense(1) (linear score; the loss decides its meaning).
With nch=1, d=64, slice 16384 the model has WaveGAN's 17,427,969 parameters.
Phase shuffle runs unless the model is called with training=False.
"""
from __future__ import annotations

import keras

from wavebabble.config import WAVEGAN_KERNEL_LEN, Config
from wavebabble.errors import ConfigError
from wavebabble.models.phase_shuffle import PhaseShuffle

LEAKY_SLOPE = 0.2
PHASE_SHUFFLE_LAYERS = 4       # phase shuffle after each of the first four conv layers

# (channel multiplier of d, stride) per conv layer, by slice length.
_BASE = [(1, 4), (2, 4), (4, 4), (8, 4), (16, 4)]
_LAYER_PLANS = {
    16384: _BASE,
    32768: _BASE + [(32, 2)],
    65536: _BASE + [(32, 4)],
    131072: _BASE + [(32, 4)],
}


def wave_discriminator_plan(cfg: Config) -> list[tuple[int, int]]:
    """[(out_channels, stride), ...] of the conv layers for this config."""
    if cfg.slice_len not in _LAYER_PLANS:
        raise ConfigError(f"config field 'slice_len' = {cfg.slice_len}: WaveGAN D supports {sorted(_LAYER_PLANS)}")
    return [(mul * cfg.model_dim, stride) for mul, stride in _LAYER_PLANS[cfg.slice_len]]


def build_wave_discriminator(cfg: Config) -> keras.Model:
    """audio [batch, slice_len, nch] -> [batch, 1]. See the module docstring."""
    plan = wave_discriminator_plan(cfg)
    audio = keras.Input((cfg.slice_len, cfg.nch), name="audio")
    x = audio
    for i, (filters, stride) in enumerate(plan):
        x = keras.layers.Conv1D(filters, WAVEGAN_KERNEL_LEN, strides=stride, padding="same", name=f"downconv_{i}")(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"lrelu_{i}")(x)
        if i < PHASE_SHUFFLE_LAYERS and cfg.phase_shuffle > 0:
            x = PhaseShuffle(cfg.phase_shuffle, name=f"phase_shuffle_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    score = keras.layers.Dense(1, name="score")(x)
    return keras.Model(audio, score, name=f"wave_discriminator_{cfg.name}")

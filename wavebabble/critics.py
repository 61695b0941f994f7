"""Every discriminator ("critic") behind one interface, and the registry that lists them.

    critics = build_critics(cfg)                 {name: Critic}, every critic whose weight is > 0, CRITICS order
    x = critic.reads(audio, step)                what it sees of a batch of audio [B, T, nch]: the waveform, a
                                                 random window of it [B, W, nch], or the soft VAD
                                                 [B, T // hop, 2] at generator step `step`
    features, scores = critic(x, training=True)  lists: feature maps [B, ...] (may be empty) and score maps
                                                 [B, 1] or [B, t, 1], one per head (MelGAN's [features..., score])

A critic's model returns either one score tensor or a list of heads, each `[feature_1, ..., feature_k, score]`
(the multi-scale D: one head per scale); `heads_of` turns both into (features, scores). The training step
(gan.py) treats every critic alike: its weight scales its adversarial loss, the WGAN-GP penalty applies to each,
and feature matching (cfg.fm_weight) to those that return features.

A new discriminator is one file with its builder `cfg -> keras.Model` plus one line in CRITICS.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import tensorflow as tf

from wavebabble import vad
from wavebabble.config import Config
from wavebabble.models import (build_multiscale_discriminator, build_timing_discriminator,
                               build_wave_discriminator)


def read_audio(audio, cfg: Config, step):
    """The waveform itself, [B, T, nch]."""
    return audio


def read_window(audio, cfg: Config, step):
    """One random window of cfg.ms_window samples per clip, [B, ms_window, nch] (the whole clip when 0): the
    sound critic sees local texture at a fraction of the cost (GAN-TTS's random-window discriminators). Offsets
    are drawn independently per clip with TensorFlow's global generator."""
    window = cfg.ms_window
    if not window or window >= cfg.slice_len:
        return audio
    batch = tf.shape(audio)[0]
    offsets = tf.random.uniform([batch], 0, cfg.slice_len - window + 1, dtype=tf.int32)
    return tf.gather(audio, offsets[:, None] + tf.range(window)[None, :], batch_dims=1)


def read_soft_vad(audio, cfg: Config, step):
    """The differentiable voice activity of each channel, [B, T // hop, nch] (vad.model_soft_vad)."""
    return vad.model_soft_vad(audio, cfg, step)


@dataclasses.dataclass(frozen=True)
class CriticSpec:
    """One registry entry: the Config field holding the critic's weight, its model builder and what it reads."""
    weight_field: str
    build: Callable[[Config], object]
    reads: Callable = read_audio


# name -> spec; checkpoints hold each critic's model as "<name>_d". Weight 0: not built, not trained.
CRITICS = {
    "wave": CriticSpec("wave_weight", build_wave_discriminator),
    "ms": CriticSpec("ms_weight", build_multiscale_discriminator, read_window),
    "timing": CriticSpec("timing_weight", build_timing_discriminator, read_soft_vad),
}


def heads_of(output) -> tuple[list, list]:
    """A critic model's output -> (feature maps, score maps), both flat lists.

    output: one score tensor, or a list of heads `[features..., score]` (see the module docstring)."""
    if not isinstance(output, (list, tuple)):
        return [], [output]
    heads = [h if isinstance(h, (list, tuple)) else [h] for h in output]
    return [f for h in heads for f in h[:-1]], [h[-1] for h in heads]


def active_critics(cfg: Config) -> list[str]:
    """Names of the critics with a weight > 0, in CRITICS order."""
    return [name for name, spec in CRITICS.items() if getattr(cfg, spec.weight_field) > 0]


class Critic:
    """A discriminator model with its weight and its view of a batch (see the module docstring)."""

    def __init__(self, name: str, cfg: Config):
        spec = CRITICS[name]
        self.name = name
        self.cfg = cfg
        self.weight = float(getattr(cfg, spec.weight_field))
        self.model = spec.build(cfg)
        self._reads = spec.reads

    def reads(self, audio, step):
        """What this critic sees of audio [B, T, nch] at generator step `step`."""
        return self._reads(audio, self.cfg, step)

    def __call__(self, x, training: bool = True) -> tuple[list, list]:
        """(feature maps, score maps) of input x (what `reads` returns)."""
        return heads_of(self.model(x, training=training))

    def scores(self, x, training: bool = True) -> list:
        """The score maps only (what the losses and the gradient penalty take)."""
        return self(x, training)[1]

    @property
    def trainable_variables(self) -> list:
        return self.model.trainable_variables


def build_critics(cfg: Config) -> dict:
    """{name: Critic} for every critic whose weight is > 0 (call inside the strategy's scope)."""
    return {name: Critic(name, cfg) for name in active_critics(cfg)}

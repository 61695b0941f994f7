"""The two-stage generator: the mel planner and the renderer joined into one model (models/mel_planner.py,
models/mel_renderer.py).

    build_two_stage(planner, renderer) -> keras.Model: noise [batch, frames, NOISE_CH]
                                          -> audio [batch, frames * MEL_HOP, nch] in [-1, 1]

The planner makes both speakers' log-mels [batch, frames, nch * MEL_BINS]; the renderer (one speaker at a time,
speakers folded into the batch) turns each speaker's mels into its channel. Both are fully convolutional, so
`frames` (a multiple of PLAN_UPSAMPLE) sets the length: 125 frames per second at 8 kHz, any number, in one call
(no joins, so no clicks or level jumps).
"""
from __future__ import annotations

import keras

from wavebabble.mel import MEL_BINS, MEL_HOP


@keras.saving.register_keras_serializable(package="wavebabble")
class RenderSpeakers(keras.layers.Layer):
    """mels [batch, frames, nch * MEL_BINS] -> audio [batch, frames * MEL_HOP, nch]: `renderer` on each speaker."""

    def __init__(self, renderer: keras.Model, nch: int, **kwargs):
        super().__init__(**kwargs)
        self.renderer, self.nch = renderer, int(nch)

    def call(self, mel):
        ops = keras.ops
        batch = ops.shape(mel)[0]
        per = ops.concatenate([mel[..., s * MEL_BINS:(s + 1) * MEL_BINS] for s in range(self.nch)], axis=0)
        wave = self.renderer(per)[..., 0]                                   # [nch * batch, samples]
        return ops.stack([wave[s * batch:(s + 1) * batch] for s in range(self.nch)], axis=-1)

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[1] is None else input_shape[1] * MEL_HOP
        return (input_shape[0], frames, self.nch)


def build_two_stage(planner: keras.Model, renderer: keras.Model, nch: int = 2,
                    name: str = "two_stage") -> keras.Model:
    """noise [batch, frames, NOISE_CH] -> audio [batch, frames * MEL_HOP, nch] (see the module docstring)."""
    noise = keras.Input(planner.input_shape[1:], name="noise")
    mel = planner(noise)
    return keras.Model(noise, RenderSpeakers(renderer, nch, name="render")(mel), name=name)

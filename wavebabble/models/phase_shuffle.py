"""Phase shuffle (Donahue et al. 2019, WaveGAN): shift activations by a random number of samples.

    PhaseShuffle(radius)(x [batch, time, ch]) -> [batch, time, ch]

One shift k ~ U{-radius, ..., radius} is drawn per call (per batch, as in WaveGAN); the output is
`x` shifted right by k samples with reflect padding at the edge: y[:, t] = x[:, t - k] (indices outside
[0, time) are reflected). It stops the discriminator from keying on the generator's periodic
upsampling artefacts.

It is applied unless the layer is called with `training=False` (WaveGAN applies it whenever D runs;
the discriminator only runs during training), so a trainer that forgets `training=True` still shuffles.
"""
from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="wavebabble")
class PhaseShuffle(keras.layers.Layer):
    """Random time shift in [-radius, radius] with reflect padding; shape preserving."""

    def __init__(self, radius: int, **kwargs):
        super().__init__(**kwargs)
        if radius < 0:
            raise ValueError(f"PhaseShuffle radius must be >= 0, got {radius}")
        self.radius = int(radius)

    def call(self, x, training=None, shift=None):
        """x: [batch, time, ch]. `shift` (int tensor) overrides the random draw (tests)."""
        if self.radius == 0 or training is False:
            return x
        if shift is None:
            shift = tf.random.uniform([], minval=-self.radius, maxval=self.radius + 1, dtype=tf.int32)
        shift = tf.convert_to_tensor(shift, tf.int32)
        # Fixed-size reflect pad by the radius on both sides, then a fixed-length slice with a random start:
        # y[:, t] = padded[:, radius - k + t] = x[:, t - k]. Static shapes keep it XLA/TPU compilable.
        r = self.radius
        padded = tf.pad(x, [[0, 0], [r, r], [0, 0]], mode="REFLECT")
        out = tf.slice(padded, tf.stack([0, r - shift, 0]), tf.shape(x))
        out.set_shape(x.shape)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "radius": self.radius}

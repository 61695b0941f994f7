"""Multi-resolution spectrogram discriminator (UnivNet's MRD, Jang et al. 2021), channels-last.

    build_spectral_discriminator(cfg) -> keras.Model:
        audio [batch, time, nch] (a clip, or a cfg.ms_window window of one) -> list of len(SPEC_FFT_SIZES) lists,
        resolution r (n_fft = SPEC_FFT_SIZES[r], hop n_fft // SPEC_HOP_DIVISOR):
            [feature_1, ..., feature_k, score_map [batch, nch * frames_r, bins_r, 1]]

Each speaker is judged alone by the same weights (the timing D judges how they relate): per channel, the log
magnitude of a Hann-windowed STFT [batch, frames, n_fft // 2 + 1, 1] goes through a 2-D conv stack (c =
SPEC_CHANNEL_MUL * cfg.ms_dim):
    Conv2D(c, (3, 9))                                    -> LeakyReLU 0.2   feature
    SPEC_DOWNSAMPLE_LAYERS x Conv2D(c, (3, 9), stride 2 along frequency) -> LeakyReLU 0.2   feature each
    Conv2D(c, (3, 3))                                    -> LeakyReLU 0.2   feature
    Conv2D(1, (3, 3))                                    -> score map (linear)
and the channels' maps are joined along the frame axis. A waveform critic can be passed by shaped noise or by a
comb of tones whose sample-level statistics look right; a spectrogram critic sees pitch harmonics, formants and
their movement directly, at three time-frequency trade-offs.
"""
from __future__ import annotations

import keras
import tensorflow as tf

from wavebabble.config import Config

SPEC_FFT_SIZES = (128, 256, 512)   # 16, 32 and 64 ms at 8 kHz: time detail to pitch-harmonic detail
SPEC_HOP_DIVISOR = 4               # hop = n_fft / 4 (75 % overlap)
SPEC_LOG_FLOOR = 1e-5              # log(|X| + floor): ~-100 dB, below any corpus noise floor
SPEC_CHANNEL_MUL = 1               # conv channels = this * cfg.ms_dim
SPEC_DOWNSAMPLE_LAYERS = 3
WIDE_KERNEL = (3, 9)               # (frames, frequency bins)
NARROW_KERNEL = (3, 3)
FREQ_STRIDE = (1, 2)
LEAKY_SLOPE = 0.2


class LogSpectrogram(keras.layers.Layer):
    """One channel's log STFT magnitude: audio [batch, time, nch] -> [batch, frames, n_fft // 2 + 1, 1] (float32).

    frames = 1 + (time - n_fft) // hop (no padding: every frame lies inside the input)."""

    def __init__(self, n_fft: int, hop: int, channel: int, **kwargs):
        super().__init__(**kwargs)
        self.n_fft, self.hop, self.channel = n_fft, hop, channel

    def call(self, audio):
        x = tf.cast(audio[:, :, self.channel], tf.float32)
        stft = tf.signal.stft(x, frame_length=self.n_fft, frame_step=self.hop, fft_length=self.n_fft,
                              window_fn=tf.signal.hann_window, pad_end=False)
        return tf.math.log(tf.abs(stft) + SPEC_LOG_FLOOR)[..., None]

    def get_config(self):
        return {**super().get_config(), "n_fft": self.n_fft, "hop": self.hop, "channel": self.channel}


def _resolution_block(n_fft: int, cfg: Config) -> list:
    """The conv stack of one resolution as a list of layers (shared by the channels)."""
    c = SPEC_CHANNEL_MUL * cfg.ms_dim
    name = f"spec{n_fft}"
    layers = [keras.layers.Conv2D(c, WIDE_KERNEL, padding="same", name=f"{name}_conv_in")]
    layers += [keras.layers.Conv2D(c, WIDE_KERNEL, strides=FREQ_STRIDE, padding="same", name=f"{name}_down_{i}")
               for i in range(SPEC_DOWNSAMPLE_LAYERS)]
    layers += [keras.layers.Conv2D(c, NARROW_KERNEL, padding="same", name=f"{name}_conv_post")]
    return layers + [keras.layers.Conv2D(1, NARROW_KERNEL, padding="same", name=f"{name}_score")]


def build_spectral_discriminator(cfg: Config) -> keras.Model:
    """audio [batch, time, nch] -> [[features..., score_map] per resolution]. See the module docstring."""
    audio = keras.Input((None, cfg.nch), name="audio")          # clips or windows
    outputs = []
    for n_fft in SPEC_FFT_SIZES:
        layers = _resolution_block(n_fft, cfg)
        per_channel = []                                         # per channel: [features..., score]
        for ch in range(cfg.nch):
            x = LogSpectrogram(n_fft, n_fft // SPEC_HOP_DIVISOR, ch, name=f"spec{n_fft}_stft_ch{ch}")(audio)
            maps = []
            for layer in layers[:-1]:
                x = keras.layers.LeakyReLU(LEAKY_SLOPE)(layer(x))
                maps.append(x)
            maps.append(layers[-1](x))
            per_channel.append(maps)
        if cfg.nch == 1:
            outputs.append(per_channel[0])
        else:
            outputs.append([keras.layers.Concatenate(axis=1)(list(maps)) for maps in zip(*per_channel)])
    return keras.Model(audio, outputs, name=f"spectral_discriminator_{cfg.name}")

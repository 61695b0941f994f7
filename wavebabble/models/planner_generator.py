"""Generator v2: a frame-rate turn planner and a waveform renderer (cfg.generator = "planner").

    build_planner_generator(cfg) -> keras.Model:  z [batch, latent_dim] -> audio [batch, slice_len, nch] in (-1, 1)

z is read as a noise sequence [batch, F, latent_dim // F] with F = slice_len / PLAN_HOP planner frames (31.25 per
second at 8 kHz), so who-speaks-when and the voice texture are made by two parts, each fully convolutional:

- **Turn planner** (frame rate, causal: frame f sees noise frames <= f only; receptive field PLAN_DILATIONS):
  Conv1D(P, 1) -> residual blocks [LeakyReLU, Conv1D(P, 3, dilation, causal), LeakyReLU, Conv1D(P, 1)] with
  dilations 1, 2, 4, ..., 64 (255 frames, 8.2 s) -> two heads: each speaker's activity gate
  [batch, F, nch] (sigmoid) and voice features [batch, F, nch, PLAN_FEATURES]. P = PLAN_MUL * cfg.model_dim.
- **Renderer** (sample rate, the same weights for both speakers: speakers are folded into the batch):
  [batch * nch, F, PLAN_FEATURES + 1] (features and the speaker's gate) -> Conv1D(8d, 3) -> four stages of
  [Conv1DTranspose(kernel 2 * stride, stride 4) with ICNR initialisation -> LeakyReLU -> residual
  Conv1D(kernel RESIDUAL_KERNEL) -> LeakyReLU], channels 8d, 4d, 2d, d -> Conv1D(1, OUT_KERNEL, tanh).
  A kernel of twice the stride covers every output phase equally, and ICNR (Aitken et al. 2017) starts each
  transposed conv as nearest-neighbour upsampling followed by a conv, so training does not start from the
  checkerboard tones (multiples of sample_rate / 8) a kernel-25 stride-4 stack makes.
- **Gating**: each speaker's waveform is multiplied by its gate, interpolated linearly between planner frames to
  the sample rate (ramps over one frame, 32 ms: no clicks at turn edges).

Both parts are convolutional with bounded receptive fields, so the same weights run on a longer noise sequence
(any length, see `build_planner_generator(cfg, frames=N)`).
"""
from __future__ import annotations

import keras
import numpy as np

from wavebabble.config import PLAN_HOP, Config
from wavebabble.models.layers import LinearUpsample1D, PolyphaseConv1DTranspose

PLAN_FEATURES = 16             # voice features per speaker and planner frame
PLAN_MUL = 8                   # planner channels = PLAN_MUL * cfg.model_dim
PLAN_DILATIONS = (1, 2, 4, 8, 16, 32, 64)
PLAN_KERNEL = 3
RENDER_STRIDES = (4, 4, 4, 4)  # product = PLAN_HOP
RENDER_MULS = (8, 4, 2, 1)     # renderer channels per stage, multiples of cfg.model_dim
RESIDUAL_KERNEL = 9
IN_KERNEL = 3
OUT_KERNEL = 7
LEAKY_SLOPE = 0.2
assert int(np.prod(RENDER_STRIDES)) == PLAN_HOP


@keras.saving.register_keras_serializable(package="wavebabble")
class ICNR(keras.initializers.Initializer):
    """Conv1DTranspose kernel [kernel, out, in] whose `stride` output phases start identical (Aitken et al. 2017):
    a He-normal sub-kernel [kernel // stride, out, in] repeated over the phases, i.e. nearest-neighbour
    upsampling followed by a convolution. Needs kernel % stride == 0."""

    def __init__(self, stride: int, seed=None):
        self.stride = int(stride)
        self.seed = seed

    def __call__(self, shape, dtype=None):
        k, out_ch, in_ch = shape
        sub = keras.initializers.HeNormal(seed=self.seed)((k // self.stride, out_ch, in_ch), dtype=dtype)
        return keras.ops.repeat(sub, self.stride, axis=0)

    def get_config(self):
        return {"stride": self.stride, "seed": self.seed}


def _planner(noise, cfg: Config):
    """noise [B, F, n] -> (gate [B, F, nch] in (0, 1), features [B, F, nch * PLAN_FEATURES])."""
    p = PLAN_MUL * cfg.model_dim
    x = keras.layers.Conv1D(p, 1, name="plan_in")(noise)
    for i, dilation in enumerate(PLAN_DILATIONS):
        h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"plan_act_{i}a")(x)
        h = keras.layers.Conv1D(p, PLAN_KERNEL, dilation_rate=dilation, padding="causal", name=f"plan_conv_{i}")(h)
        h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"plan_act_{i}b")(h)
        h = keras.layers.Conv1D(p, 1, name=f"plan_mix_{i}")(h)
        x = keras.layers.Add(name=f"plan_res_{i}")([x, h])
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="plan_out_act")(x)
    gate = keras.layers.Conv1D(cfg.nch, 1, activation="sigmoid", name="plan_gate")(x)
    feats = keras.layers.Conv1D(cfg.nch * PLAN_FEATURES, 1, name="plan_features")(x)
    return gate, feats


def _renderer(x, cfg: Config, transpose_impl: str):
    """Per-speaker frames [B * nch, F, PLAN_FEATURES + 1] -> waveform [B * nch, F * PLAN_HOP, 1]."""
    d = cfg.model_dim
    x = keras.layers.Conv1D(RENDER_MULS[0] * d, IN_KERNEL, padding="same", name="render_in")(x)
    for i, (stride, mul) in enumerate(zip(RENDER_STRIDES, RENDER_MULS)):
        kw = dict(kernel_initializer=ICNR(stride), name=f"render_up_{i}")
        if transpose_impl == "keras":
            x = keras.layers.Conv1DTranspose(mul * d, 2 * stride, strides=stride, padding="same", **kw)(x)
        else:
            x = PolyphaseConv1DTranspose(mul * d, 2 * stride, stride, **kw)(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"render_act_{i}a")(x)
        h = keras.layers.Conv1D(mul * d, RESIDUAL_KERNEL, padding="same", name=f"render_res_{i}")(x)
        x = keras.layers.Add(name=f"render_add_{i}")([x, h])
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"render_act_{i}b")(x)
    return keras.layers.Conv1D(1, OUT_KERNEL, padding="same", activation="tanh", name="render_out")(x)


def build_planner_generator(cfg: Config, transpose_impl: str = "keras", frames: int | None = None) -> keras.Model:
    """z [batch, latent_dim] -> audio [batch, slice_len, nch]; see the module docstring.

    frames: planner frames to build for (default slice_len / PLAN_HOP, the training length). A model built for
    more frames takes z [batch, frames * (latent_dim // (slice_len / PLAN_HOP))] and returns frames * PLAN_HOP
    samples; its weights are the same variables (set_weights from the training model).
    """
    train_frames = cfg.slice_len // PLAN_HOP
    noise_dim = cfg.latent_dim // train_frames
    frames = frames or train_frames
    nch = cfg.nch
    z = keras.Input((frames * noise_dim,), name="z")
    noise = keras.layers.Reshape((frames, noise_dim), name="z_sequence")(z)
    gate, feats = _planner(noise, cfg)
    # speakers into the batch: [B, F, nch, C] -> [B, nch, F, C] -> [B * nch, F, C]
    per_speaker = keras.layers.Concatenate(name="speaker_frames")([
        keras.layers.Reshape((frames, nch, PLAN_FEATURES), name="features_split")(feats),
        keras.layers.Reshape((frames, nch, 1), name="gate_split")(gate)])
    per_speaker = keras.ops.reshape(keras.ops.transpose(per_speaker, (0, 2, 1, 3)),
                                    (-1, frames, PLAN_FEATURES + 1))
    wave = _renderer(per_speaker, cfg, transpose_impl)                         # [B * nch, T, 1]
    wave = keras.ops.transpose(keras.ops.reshape(wave, (-1, nch, frames * PLAN_HOP)), (0, 2, 1))   # [B, T, nch]
    envelope = LinearUpsample1D(PLAN_HOP, name="gate_upsample")(gate)
    audio = keras.layers.Multiply(name="gate_apply")([wave, envelope])
    return keras.Model(z, audio, name=f"planner_generator_{cfg.name}")

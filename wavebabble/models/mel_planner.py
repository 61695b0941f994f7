"""The planner of the two-stage generator and its critic, at mel-frame rate (wavebabble.mel: 125 frames/s at 8 kHz).

    build_mel_planner(dim, nch) -> keras.Model: noise [batch, frames, NOISE_CH] -> mel [batch, frames, nch * MEL_BINS]
                                                (frames a multiple of PLAN_UPSAMPLE)
    build_mel_critic(dim, nch)  -> keras.Model: mel [batch, frames, nch * MEL_BINS] -> [features..., scores...]
    build_syllable_critic(dim)  -> keras.Model: mel [batch, frames, MEL_BINS] (one speaker) -> [features..., score]

Planner: the noise (white, one vector per mel frame) is read at every scale: averaged over PLAN_UPSAMPLE frames
(0.128 s, rescaled to unit variance) -> Conv1D(PLAN_MULS[0] dim) -> four stages of [LeakyReLU ->
Conv1DTranspose(kernel 4, stride 2) -> + Conv1D(1) of the noise averaged to this stage's rate -> residual units
with dilations RESIDUAL_DILATIONS] -> Conv1D(nch * MEL_BINS, OUT_KERNEL): both speakers' log-mels, speaker s in
channels [s * MEL_BINS, (s + 1) * MEL_BINS), each gated by the speaker's activity gate (GatedMel; a sigmoid read
after stage GATE_STAGE, 32 ms steps, interpolated to the frame rate). Fresh noise at each scale (as StyleGAN's
per-layer noise, but read from the input so a given noise gives a given dialogue) keeps the outputs varied. Fully
convolutional: a longer noise sequence gives a longer dialogue.
Critic (PatchGAN-style, both speakers together so it sees who speaks when): Conv1D(k5) then five strided
Conv1D(k5, stride 2) with LeakyReLU (CRITIC_MULS); a score map [batch, frames / 2^k, 1] (after a minibatch-std
channel) is read after layers SCORE_LAYERS, each patch judging ~0.4 s and ~1.5 s of both speakers.
Syllable critic: the same layers cut after SYLLABLE_LAYERS strided stages, on one speaker's mels at a time (both
speakers through the same weights): each patch of its one score map judges ~0.2 s (SYLLABLE_PATCH_FRAMES), a
syllable, which the mel critic's patches are too long to single out.
"""
from __future__ import annotations

import keras

from wavebabble.config import TWO_STAGE_NOISE_CH
from wavebabble.mel import MEL_BINS
from wavebabble.models.layers import LinearUpsample1D

NOISE_CH = TWO_STAGE_NOISE_CH    # white-noise channels per mel frame
PLAN_UPSAMPLE = 16               # mel frames per noise frame (four stride-2 stages)
PLAN_MULS = (8, 8, 4, 4, 4)      # channels: input conv, then per upsampling stage (multiples of dim)
RESIDUAL_DILATIONS = (1, 3, 9)
OUT_KERNEL = 5
CRITIC_MULS = (4, 8, 8, 16, 16, 16)   # channels of the critic's first conv and its strided stages
CRITIC_KERNEL = 5
SCORE_LAYERS = (3, 5)             # critic layers after which a score map is read (the middle and the last)
SYLLABLE_LAYERS = 2               # the syllable critic: CRITIC_MULS[:SYLLABLE_LAYERS + 1], score after the last
SYLLABLE_PATCH_FRAMES = 25        # its score's receptive field: 5 + 4 * (1 + 2) + 2 * 4 frames (0.2 s at 125/s)
LEAKY_SLOPE = 0.2
GATE_STAGE = 1                   # each speaker's activity gate is read after this upsampling stage (1/4 frame rate)
GATE_KERNEL = 3
MEL_LIMIT = 1.5                  # voice features are bounded softly to +-this (the corpus's mels reach 1.25), which
                                 # keeps the soft VAD's energy finite (sound_notes.md: unbounded mels went NaN)
FLOOR_INIT = -0.8                # initial silence floor (normalised log-mel; the corpus's pauses read -0.9 .. -0.6)


def _critic_conv(filters, kernel, strides, name, spectral_norm):
    """Conv1D(padding "same"); with `spectral_norm`, wrapped in spectral normalisation (Miyato et al. 2018)."""
    if not spectral_norm:
        return keras.layers.Conv1D(filters, kernel, strides=strides, padding="same", name=name)
    conv = keras.layers.Conv1D(filters, kernel, strides=strides, padding="same", name=f"{name}_inner")
    return keras.layers.SpectralNormalization(conv, name=name)


@keras.saving.register_keras_serializable(package="wavebabble")
class MinibatchStdFeatures(keras.layers.Layer):
    """[batch, frames, ch] -> [batch, frames, ch + 1]: appends the mean over channels of each frame's std across
    the batch (Karras et al. 2018), so the critic can see a batch whose members are all alike (mode collapse)."""

    def call(self, x):
        std = keras.ops.sqrt(keras.ops.var(x, axis=0, keepdims=True) + 1e-8)
        m = keras.ops.mean(std, axis=-1, keepdims=True)
        return keras.ops.concatenate([x, keras.ops.broadcast_to(m, keras.ops.shape(x[..., :1]))], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def _res_unit(x, ch, dilation, name):
    h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act_a")(x)
    h = keras.layers.Conv1D(ch, 3, dilation_rate=dilation, padding="same", name=f"{name}_conv")(h)
    h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act_b")(h)
    h = keras.layers.Conv1D(ch, 1, name=f"{name}_mix")(h)
    return keras.layers.Add(name=name)([x, h])


def _noise_at(noise, factor: int, name: str):
    """noise [batch, frames, c] averaged over `factor` frames and rescaled to unit variance."""
    if factor == 1:
        return noise
    pooled = keras.layers.AveragePooling1D(factor, name=f"{name}_pool")(noise)
    return keras.layers.Rescaling(factor ** 0.5, name=f"{name}_scale")(pooled)


def build_mel_planner(dim: int = 16, nch: int = 2, name: str = "mel_planner") -> keras.Model:
    """noise [batch, frames, NOISE_CH] -> log-mels [batch, frames, nch * MEL_BINS]; frames % PLAN_UPSAMPLE == 0."""
    noise = keras.Input((None, NOISE_CH), name="noise")
    x = keras.layers.Conv1D(PLAN_MULS[0] * dim, 3, padding="same",
                            name="in_conv")(_noise_at(noise, PLAN_UPSAMPLE, "noise_in"))
    stages = len(PLAN_MULS) - 1
    for s, mul in enumerate(PLAN_MULS[1:]):
        ch = mul * dim
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"up{s}_act")(x)
        x = keras.layers.Conv1DTranspose(ch, 4, strides=2, padding="same", name=f"up{s}")(x)
        n = keras.layers.Conv1D(ch, 1, name=f"noise{s}")(_noise_at(noise, 2 ** (stages - 1 - s), f"noise{s}"))
        x = keras.layers.Add(name=f"up{s}_noise")([x, n])
        for r, dilation in enumerate(RESIDUAL_DILATIONS):
            x = _res_unit(x, ch, dilation, f"res{s}_{r}")
        if s == GATE_STAGE:
            g = keras.layers.LeakyReLU(LEAKY_SLOPE, name="gate_act")(x)
            gate = keras.layers.Conv1D(nch, GATE_KERNEL, padding="same", activation="sigmoid", name="gate")(g)
    x = keras.layers.LeakyReLU(LEAKY_SLOPE, name="out_act")(x)
    voice = keras.layers.Conv1D(nch * MEL_BINS, OUT_KERNEL, padding="same", name="out_conv")(x)
    gate = LinearUpsample1D(2 ** (stages - 1 - GATE_STAGE), name="gate_up")(gate)
    mel = GatedMel(nch, name="gated_mel")([voice, gate])
    return keras.Model(noise, mel, name=name)


def gate_voice(voice, gate, floor):
    """One speaker's mels: voice [batch, frames, MEL_BINS] (the planner's out_conv, unbounded), gate
    [batch, frames, 1] in (0, 1), floor [MEL_BINS] -> floor + gate * (MEL_LIMIT tanh(voice / MEL_LIMIT) - floor)."""
    return floor + gate * (MEL_LIMIT * keras.ops.tanh(voice / MEL_LIMIT) - floor)


def voice_model(planner: keras.Model) -> keras.Model:
    """noise [batch, frames, NOISE_CH] -> the planner's voice features before its gates [batch, frames,
    nch * MEL_BINS] (its "out_conv"); with the planner's "gated_mel" floor and gate_voice they make its mels."""
    return keras.Model(planner.input, planner.get_layer("out_conv").output, name="planner_voice")


@keras.saving.register_keras_serializable(package="wavebabble")
class GatedMel(keras.layers.Layer):
    """[voice [batch, frames, nch * MEL_BINS], gate [batch, frames, nch] in (0, 1)] -> mels: each speaker's
    floor + gate * (MEL_LIMIT tanh(voice / MEL_LIMIT) - floor), with a learned per-bin floor (the silence
    between turns, initialised at FLOOR_INIT: the corpus's noise floor in wavebabble.mel's units). A gate near 0
    is silence whatever the voice features, so who-speaks-when is one number per speaker and frame, which the
    turn-timing D's gradient reaches directly (as the v1 generator's activity gate)."""

    def __init__(self, nch: int, **kwargs):
        super().__init__(**kwargs)
        self.nch = int(nch)

    def build(self, input_shape):
        self.floor = self.add_weight(shape=(MEL_BINS,), initializer=keras.initializers.Constant(FLOOR_INIT),
                                     name="floor")

    def call(self, inputs):
        voice, gate = inputs
        return keras.ops.concatenate([gate_voice(voice[..., s * MEL_BINS:(s + 1) * MEL_BINS], gate[..., s:s + 1],
                                                 self.floor) for s in range(self.nch)], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "nch": self.nch}


def build_mel_critic(dim: int = 16, nch: int = 2, spectral_norm: bool = False, layers: int = len(CRITIC_MULS) - 1,
                     score_layers: tuple = SCORE_LAYERS, name: str = "mel_critic") -> keras.Model:
    """log-mels [batch, frames, nch * MEL_BINS] -> [features..., one score map [batch, f, 1] per score layer]:
    Conv1D(k5) then `layers` strided Conv1D(k5, stride 2) with CRITIC_MULS channels."""
    mel = keras.Input((None, nch * MEL_BINS), name="mel")
    x, feats, scores = mel, [], []
    for i, mul in enumerate(CRITIC_MULS[:layers + 1]):
        x = _critic_conv(mul * dim, CRITIC_KERNEL, 1 if i == 0 else 2, f"conv{i}", spectral_norm)(x)
        x = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"act{i}")(x)
        feats.append(x)
        if i in score_layers:
            h = MinibatchStdFeatures(name=f"mbstd{i}")(x)
            scores.append(_critic_conv(1, 3, 1, f"score{i}", spectral_norm)(h))
    return keras.Model(mel, feats + scores, name=name)


def build_syllable_critic(dim: int = 16, spectral_norm: bool = False) -> keras.Model:
    """One speaker's log-mels [batch, frames, MEL_BINS] -> [features..., score [batch, frames / 4, 1]], each score
    judging SYLLABLE_PATCH_FRAMES frames."""
    return build_mel_critic(dim, 1, spectral_norm, layers=SYLLABLE_LAYERS, score_layers=(SYLLABLE_LAYERS,),
                            name="syllable_critic")

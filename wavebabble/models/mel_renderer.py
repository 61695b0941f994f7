"""The renderer of the two-stage generator: log-mel frames -> waveform (MelGAN-style, Kumar et al. 2019).

    build_mel_renderer(dim, harmonics=0) -> keras.Model: mel [batch, frames, MEL_BINS] (or [mel, noise_at])
        -> audio [batch, frames * MEL_HOP, 1]
    pitch_model(renderer) -> keras.Model: mel -> [batch, frames, 2] (f0 in Hz, voicing probability)  (harmonics > 0)
    phased_renderer(renderer) -> keras.Model: [mel, start [batch, frames], noise_at [batch, 2]] -> audio, the
        source's frame phases and noise given
    noise_at(key [batch], first=0) -> noise_at [batch, 2] int64: the renderer's noise input, keys from a sample
    content_noise_at(mel) -> noise_at [batch, 2] int64: the noise a renderer called on mel alone uses

Conv1D(8 dim, IN_KERNEL) -> three stages of [LeakyReLU -> HeldConv1DTranspose(kernel 2 * 4, stride 4, ICNR start:
a transposed convolution then a causal mean over its stride, so no checkerboard lines at 2 and 4 kHz) ->
RESIDUAL_DILATIONS residual units (LeakyReLU, Conv1D(kernel 3, dilation), LeakyReLU, Conv1D(1))], channels
4 dim, 2 dim, dim -> LeakyReLU -> Conv1D(1, OUT_KERNEL, tanh). One speaker at a time (speakers are folded into the
batch). Fully convolutional with a bounded receptive field (8 frames ahead: the agent's RENDER_LOOKAHEAD_FRAMES;
about 10 back), so it trains on short random windows and renders any length in one call. The mels are
edge-padded first (EDGE_FRAMES copies of the first and of the last frame; the output's EDGE_FRAMES * MEL_HOP samples
each side cropped off): with the convolutions' zero padding a log-mel edge reads as a loud frame (0 is -20 dB), and
the causal filters below would start from rest at the first sample; either rendered a click at every clip's start.

With `harmonics` > 0 the renderer has a pitched source (neural source-filter, Wang et al. 2019): a pitch head
(PITCH_CONVS causal Conv1D(4 dim, PITCH_KERNEL) + LeakyReLU, then Conv1D(2, 1)) reads the mels up to each frame and
gives it an f0 in PITCH_MIN_HZ .. PITCH_MAX_HZ (log scale; held steady by a causal voicing-weighted mean over
PITCH_SMOOTH_FRAMES) and a voicing probability (layer "pitch", trained on YIN targets by train.train_renderer); a
HarmonicSource makes `harmonics` voiced harmonics of that pitch at the sample rate (it passes no gradient back to
the head), and a NoiseExcitation adds two noise channels (noise x (1 - voicing), noise x voicing: the unvoiced
sounds, the pauses' noise floor, the breath); each upsampling stage adds all of them, brought to its rate by a
strided Conv1D (kernel 2 x factor), before its residual units; the output passes a CausalDCBlock over
DC_BLOCK_SAMPLES (the source through the LeakyReLUs leaves a DC shift that follows the voicing, a syllable-rate
rumble the STFT loss hardly sees), then a causal Butterworth high-pass (HIGH_PASS_ORDER, HIGH_PASS_HZ: the DC block
leaves rumble below 60 Hz, which the log-mel, from 60 Hz, does not see). The head is causal so that the source adds
little to the renderer's look-ahead (RENDER_LOOKAHEAD_FRAMES, which sets the streaming agent's reaction delay).
Without it (0) the voice's periodicity and noise must come from the mels.

The noise is a pure function of a key and the absolute sample (wavebabble.sample_noise): the renderer's second
input noise_at [batch, 2] int64 gives each row's key and the absolute index of its frame 0's first sample. Called
on mel alone, the key is a hash of the row's mels and frame 0 is sample 0 (content_noise_at), so the renderer is a
deterministic function of its mels; the two-stage generator keys each speaker by its clip's z instead and the
agent by its seed, and the streaming agent's windows give their absolute position, so they get the whole
rendering's noise.
"""
from __future__ import annotations

import keras

from wavebabble.mel import MEL_BINS, MEL_HOP, MEL_SAMPLE_RATE
from wavebabble.models.harmonic_source import ExtendStartPhases, HarmonicSource, NoiseExcitation
from wavebabble.models.layers import ICNR, CausalDCBlock, CausalHighPass, HeldConv1DTranspose
from wavebabble.sample_noise import row_key
from wavebabble.speechlike import PITCH_MAX_HZ, PITCH_MIN_HZ

RENDER_STRIDES = (4, 4, 4)           # product = MEL_HOP
RENDER_MULS = (4, 2, 1)              # channels per stage, multiples of dim
RESIDUAL_DILATIONS = (1, 3, 9)
IN_MUL = 8
IN_KERNEL = 7
OUT_KERNEL = 7
LEAKY_SLOPE = 0.2
PITCH_CONVS = 2
PITCH_KERNEL = 5
DC_BLOCK_SAMPLES = MEL_HOP   # the source renderer's output DC block: notch below ~sample_rate / 2 / this
HIGH_PASS_HZ = PITCH_MIN_HZ  # then a high-pass: speech has nothing below the lowest voice pitch (60 Hz)
HIGH_PASS_ORDER = 4
HIGH_PASS_TAPS = 5 * MEL_HOP  # its causal FIR: the impulse response's tail beyond this holds < 1e-6 of its energy
VOICING_WEIGHT_FLOOR = 1e-3  # added to each frame's voicing weight in the f0 mean (an all-unvoiced span keeps a mean)
EDGE_FRAMES = 10             # mel frames of edge padding each side: the renderer reads ~10 back, 8 ahead
PITCH_SMOOTH_FRAMES = 9     # the f0 is a voicing-weighted mean of the head's log-f0 over frames t - 8 .. t (72 ms)
PITCH_RECEPTIVE_FRAMES = 1 + PITCH_CONVS * (PITCH_KERNEL - 1) + PITCH_SMOOTH_FRAMES - 1   # the causal pitch
                                                                                         # path's frames (17)
assert RENDER_STRIDES[0] * RENDER_STRIDES[1] * RENDER_STRIDES[2] == MEL_HOP


@keras.saving.register_keras_serializable(package="wavebabble")
class PitchFromLogits(keras.layers.Layer):
    """[batch, frames, 2] logits -> [batch, frames, 2]: f0 in Hz (log scale over PITCH_MIN_HZ .. PITCH_MAX_HZ) and
    the voicing probability. The f0 of frame t is the mean of the log-f0 of frames t - smooth_frames + 1 .. t
    (the first frame repeated before the start), each weighted by its voicing probability: causal, and a pitch
    that holds still over a syllable's voiced frames however much the head's reading of each frame wavers."""

    def __init__(self, smooth_frames: int = PITCH_SMOOTH_FRAMES, **kwargs):
        super().__init__(**kwargs)
        self.smooth_frames = int(smooth_frames)

    def call(self, logits):
        import tensorflow as tf

        log_f0 = tf.sigmoid(logits[..., :1])                  # [batch, frames, 1]: 0 .. 1 over the log-f0 range
        voicing = tf.sigmoid(logits[..., 1:])
        k = self.smooth_frames
        if k > 1:
            weight = voicing + VOICING_WEIGHT_FLOOR
            pair = tf.concat([log_f0 * weight, weight], axis=-1)                  # [batch, frames, 2]
            padded = tf.concat([tf.repeat(pair[:, :1], k - 1, axis=1), pair], axis=1)   # first frame repeated
            sums = tf.nn.avg_pool1d(padded, k, 1, "VALID")                         # means over frames t-k+1 .. t
            log_f0 = sums[..., :1] / sums[..., 1:]
        f0 = PITCH_MIN_HZ * tf.pow(PITCH_MAX_HZ / PITCH_MIN_HZ, log_f0)
        return tf.concat([f0, voicing], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "smooth_frames": self.smooth_frames}


class EdgePaddedRenderer(keras.Model):
    """The renderer: its functional graph (_render_graph on mel [batch, frames, MEL_BINS] and, with a pitched
    source, noise_at [batch, 2] int64) called on the mels edge-padded by EDGE_FRAMES frames each side
    (replicate_edges), the audio's EDGE_FRAMES * MEL_HOP samples each side cropped off -> [batch, frames * MEL_HOP,
    1]. Inputs: mel, or [mel, noise_at]; a pitched renderer given mel alone uses content_noise_at(mel). The padding
    is in `call`, not in the graph, so the graph's layers keep the numbering checkpoints find them by."""

    @property
    def input_spec(self):
        """None: mel alone or [mel, noise_at] (the graph's own spec would demand both)."""
        return None

    @input_spec.setter
    def input_spec(self, value):
        pass

    def call(self, inputs, training=None, mask=None):
        mel, at = inputs if isinstance(inputs, (list, tuple)) else (inputs, None)
        padded = replicate_edges(mel, EDGE_FRAMES)
        if len(self.inputs) > 1:
            padded = [padded, content_noise_at(mel) if at is None else at]
        audio = super().call(padded, training=training, mask=mask)
        return crop_edges(audio, EDGE_FRAMES * MEL_HOP)


def noise_at(key, first=0):
    """key [batch] int64 (sample_noise keys), first: the absolute sample of frame 0 (int64 scalar or [batch]) ->
    the renderer's noise_at [batch, 2] int64."""
    import tensorflow as tf

    key = tf.cast(key, tf.int64)
    return tf.stack([key, tf.zeros_like(key) + tf.cast(first, tf.int64)], axis=1)


def content_noise_at(mel):
    """mel [batch, frames, MEL_BINS] -> noise_at [batch, 2] int64: (a hash of the row's mels, sample 0)."""
    return noise_at(row_key(mel))


def build_mel_renderer(dim: int = 16, harmonics: int = 0, name: str = "mel_renderer") -> keras.Model:
    """mel [batch, frames, MEL_BINS] (or [mel, noise_at [batch, 2] int64] with a source) -> audio [batch,
    frames * MEL_HOP, 1] in (-1, 1); base channels `dim`; `harmonics` > 0 adds the pitched and noise source
    (module docstring), its phase the running integral from the first padded frame (EDGE_FRAMES before frame 0)."""
    mel = keras.Input((None, MEL_BINS), name="mel")
    at = keras.Input((2,), dtype="int64", name="noise_at") if harmonics else None
    audio = _render_graph(mel, lambda layer_name, make: make(), dim, harmonics, at=at)
    return EdgePaddedRenderer(mel if at is None else [mel, at], audio, name=name)


def phased_renderer(renderer: keras.Model) -> keras.Model:
    """[mel [batch, frames, MEL_BINS], start [batch, frames], noise_at [batch, 2] int64] -> audio: `renderer` (with
    a pitched source; its own layers, shared) whose source starts each frame at the given phase (cycles) instead of
    the running integral from frame 0. A caller that renders a window of a longer signal gives the whole signal's
    start phases and its noise key with the window's first absolute sample (the streaming agent,
    wavebabble.agent), so the window's source is the whole rendering's."""
    dim = renderer.get_layer("in_conv").filters // IN_MUL
    mel = keras.Input((None, MEL_BINS), name="mel")
    start = keras.Input((None,), name="start")
    at = keras.Input((2,), dtype="int64", name="noise_at")

    def shared(layer_name, make):
        return make() if layer_name in ("source", "start_edges") else renderer.get_layer(layer_name)

    audio = _render_graph(replicate_edges(mel, EDGE_FRAMES), shared, dim, renderer_harmonics(renderer), start,
                          edges=EDGE_FRAMES, at=at)
    return keras.Model([mel, start, at], crop_edges(audio, EDGE_FRAMES * MEL_HOP), name=f"{renderer.name}_phased")


def _render_graph(mel, layer, dim: int, harmonics: int, start=None, edges: int = 0, at=None):
    """The renderer's graph on symbolic `mel` (EDGE_FRAMES padded frames each side); layer(name, make) gives the
    layer of that name (make() builds it). `start`: the source's frame start phases (None: integrated from frame
    0) of mel's frames but the `edges` padded ones each side (ExtendStartPhases gives those theirs). `at`: the
    noise's [batch, 2] (key, absolute sample of the first unpadded frame), with `harmonics` > 0."""

    def conv(layer_name, *args, **kwargs):
        return layer(layer_name, lambda: keras.layers.Conv1D(*args, name=layer_name, **kwargs))

    def act(layer_name):
        return layer(layer_name, lambda: keras.layers.LeakyReLU(LEAKY_SLOPE, name=layer_name))

    source = None
    if harmonics:
        p = mel
        for i in range(PITCH_CONVS):
            p = act(f"pitch_act{i}")(conv(f"pitch_conv{i}", 4 * dim, PITCH_KERNEL, padding="causal")(p))
        pitch = layer("pitch", lambda: PitchFromLogits(name="pitch"))(conv("pitch_logits", 2, 1)(p))
        harmonic = layer("source", lambda: HarmonicSource(harmonics, MEL_HOP, MEL_SAMPLE_RATE, name="source"))
        if start is not None:
            start = layer("start_edges", lambda: ExtendStartPhases(edges, MEL_HOP, MEL_SAMPLE_RATE,
                                                                   name="start_edges"))([start, pitch[..., 0]])
        source = harmonic([pitch[..., 0], pitch[..., 1]] + ([] if start is None else [start]))
        noise = layer("noise_source", lambda: NoiseExcitation(MEL_HOP, EDGE_FRAMES, name="noise_source"))(
            [pitch[..., 1], at])
        source = layer("excitation", lambda: keras.layers.Concatenate(axis=-1, name="excitation"))([source, noise])
    x = conv("in_conv", IN_MUL * dim, IN_KERNEL, padding="same")(mel)
    factor = MEL_HOP
    for s, (stride, mul) in enumerate(zip(RENDER_STRIDES, RENDER_MULS)):
        ch = mul * dim
        factor //= stride
        x = act(f"up{s}_act")(x)
        x = layer(f"up{s}", lambda: HeldConv1DTranspose(
            ch, 2 * stride, strides=stride, padding="same", kernel_initializer=ICNR(stride), name=f"up{s}"))(x)
        if source is not None:
            y = conv(f"source{s}_conv", ch, max(2 * factor, IN_KERNEL), strides=factor, padding="same")(source)
            x = layer(f"source{s}", lambda: keras.layers.Add(name=f"source{s}"))([x, y])
        for r, dilation in enumerate(RESIDUAL_DILATIONS):
            h = act(f"res{s}_{r}_act_a")(x)
            h = act(f"res{s}_{r}_act_b")(conv(f"res{s}_{r}_conv", ch, 3, dilation_rate=dilation, padding="same")(h))
            h = conv(f"res{s}_{r}_mix", ch, 1)(h)
            x = layer(f"res{s}_{r}", lambda: keras.layers.Add(name=f"res{s}_{r}"))([x, h])
    x = act("out_act")(x)
    audio = conv("out_conv", 1, OUT_KERNEL, padding="same", activation="tanh")(x)
    if harmonics:
        audio = layer("dc_block", lambda: CausalDCBlock(DC_BLOCK_SAMPLES, name="dc_block"))(audio)
        audio = layer("high_pass", lambda: CausalHighPass(HIGH_PASS_HZ, MEL_SAMPLE_RATE, HIGH_PASS_ORDER,
                                                          HIGH_PASS_TAPS, name="high_pass"))(audio)
    return audio


def replicate_edges(x, n: int):
    """x [batch, time, ch] -> [batch, time + 2 n, ch]: n copies of the first step before it and of the last after.
    Symbolic or eager."""
    if n == 0:
        return x
    ops = keras.ops
    return ops.concatenate([ops.repeat(x[:, :1], n, axis=1), x, ops.repeat(x[:, -1:], n, axis=1)], axis=1)


def crop_edges(x, n: int):
    """x [batch, time, ...] -> [batch, time - 2 n, ...]: n steps off each end (replicate_edges undone)."""
    return x if n == 0 else x[:, n:-n]


def renderer_harmonics(renderer: keras.Model) -> int:
    """The harmonics of `renderer`'s pitched source; 0 without one."""
    names = {layer.name for layer in renderer.layers}
    return renderer.get_layer("source").harmonics if "source" in names else 0


def pitch_model(renderer: keras.Model) -> keras.Model:
    """mel [batch, frames, MEL_BINS] -> [batch, frames, 2] (f0 Hz, voicing probability): `renderer`'s pitch head
    (its own layers, shared; the head reads the edge-padded mels, as the renderer's source does)."""
    head = keras.Model(renderer.inputs[0], renderer.get_layer("pitch").output)
    mel = keras.Input((None, MEL_BINS), name="mel")
    return keras.Model(mel, crop_edges(head(replicate_edges(mel, EDGE_FRAMES)), EDGE_FRAMES), name="pitch_head")


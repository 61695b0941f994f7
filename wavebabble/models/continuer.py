"""The continuation's turn-taker: whether a speaker speaks at a frame, given its own voice activity before that
frame and the other speaker's up to the reaction delay before it.

    build_continuer(dim) -> keras.Model: [own_vad [batch, frames, 1], other_vad [batch, frames, 1]] in {0, 1}
                                         -> logit [batch, frames, 1] of own_vad at each frame
    ContinuerSteps(model): its causal stack one frame at a time (each causal convolution's past kept as a buffer):
        initial_state(batch) -> state;  step(state, features [batch, FEATURES]) -> (logit [batch], state)
    sample_continuation(steps, prompt_vad [n, 2], num_frames, seed) -> [num_frames, 2] in {0, 1}

Frames are mel frames (FRAMES_PER_SECOND = 125). The own VAD is delayed one frame inside the model and the other
speaker's by RESPONSE_DELAY_FRAMES (192 ms, the answering turn-taker's reaction delay, models/responder.py). Each
delayed VAD also feeds an ExponentialMemory (time constant MEMORY_SECONDS: the exponential averages of the VAD
and of its onsets per second, i.e. the speaker's recent speech share and IPU rate: the dialogue's tempo, beyond
the stack's reach). The features (the two VADs, their four averages) are read by the turn-takers' causal stack
(responder.causal_stack, RECEPTIVE_FRAMES = 8.2 s). Trained by likelihood on real dialogues with both channels
given (train.train_continuer: binary cross-entropy of a speaker's VAD at every frame), it is sampled frame by
frame: both speakers of a continuation hear each other (and themselves), so a speaker who has held the floor
knows it, and a gap the other leaves is a real one. The answering turn-taker (models/responder.py) is trained
against recorded partners instead, who do not react to it.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE
from wavebabble.models.responder import (KERNEL, LEAKY_SLOPE, RECEPTIVE_FRAMES, RESPONSE_DELAY_FRAMES, DelayFrames,
                                         causal_stack)

OWN_DELAY_FRAMES = 1            # a speaker knows whether it spoke up to the frame before
CONTINUER_STREAM = -1           # the sampler's second seed word (the agent's noise draws use 2 * block + 0 or 1)
SPEECH = 0.5                    # soft VAD (mel.mel_soft_vad) above this is speech: the continuer's inputs and target
FRAMES_PER_SECOND = MEL_SAMPLE_RATE // MEL_HOP
MEMORY_SECONDS = 20.0           # the exponential memory's time constant
MEMORY_DECAY = math.exp(-1.0 / (MEMORY_SECONDS * FRAMES_PER_SECOND))
FEATURES = 6                    # per frame: own VAD, other's VAD, own memory (2), other's memory (2)


def memory_inputs(vad, previous):
    """VAD [..., 1] in {0, 1} and the VAD of the frame before -> [..., 2]: the VAD and its onset in onsets per
    second (FRAMES_PER_SECOND where the VAD turns 1), what ExponentialMemory averages."""
    return tf.concat([vad, vad * (1.0 - previous) * FRAMES_PER_SECOND], axis=-1)


def remember(memory, inputs):
    """One exponential-memory step: memory, inputs [..., 2] -> MEMORY_DECAY * memory + (1 - MEMORY_DECAY) * inputs."""
    return MEMORY_DECAY * memory + (1.0 - MEMORY_DECAY) * inputs


def exponential_memory(vad):
    """VAD [batch, frames, 1] in {0, 1} -> [batch, frames, 2]: the exponential averages (MEMORY_DECAY per frame,
    zero before the first frame, each frame included) of memory_inputs: the VAD and its onsets per second."""
    previous = tf.pad(vad[:, :-1], [[0, 0], [1, 0], [0, 0]])
    inputs = tf.transpose(memory_inputs(vad, previous), [1, 0, 2])                # time-major for the scan
    averages = tf.scan(remember, inputs, initializer=tf.zeros(tf.shape(inputs)[1:]))   # no frames: none
    return tf.transpose(averages, [1, 0, 2])


@keras.saving.register_keras_serializable(package="wavebabble")
class ExponentialMemory(keras.layers.Layer):
    """exponential_memory as a layer: VAD [batch, frames, 1] -> [batch, frames, 2]."""

    def call(self, vad):
        return exponential_memory(vad)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2)


def build_continuer(dim: int = 32, name: str = "continuer") -> keras.Model:
    """[own_vad [batch, frames, 1], other_vad [batch, frames, 1]] -> logit [batch, frames, 1] (module docstring)."""
    own = keras.Input((None, 1), name="own_vad")
    other = keras.Input((None, 1), name="other_vad")
    known = DelayFrames(OWN_DELAY_FRAMES, name="own_delay")(own)
    heard = DelayFrames(RESPONSE_DELAY_FRAMES, name="reaction_delay")(other)
    features = keras.layers.Concatenate(name="features")(
        [known, heard, ExponentialMemory(name="own_memory")(known), ExponentialMemory(name="other_memory")(heard)])
    return keras.Model([own, other], keras.layers.Conv1D(1, 1, name="logit")(causal_stack(features, dim)), name=name)


def _leaky(x):
    return tf.maximum(x, LEAKY_SLOPE * x)


class ContinuerSteps:
    """A build_continuer model's causal stack run one frame at a time. The state holds, per residual unit of
    dilation d, the last (KERNEL - 1) * d + 1 inputs of its causal convolution [batch, (KERNEL - 1) * d + 1, dim];
    a step reads one frame's features (the model's "features" layer: see sample_continuation) and returns the
    frame's logit, equal to the whole-sequence model's (tests/test_continuer.py)."""

    def __init__(self, model: keras.Model):
        conv = model.get_layer("in_conv")
        self.dim = int(conv.filters)
        self.in_kernel, self.in_bias = conv.kernel, conv.bias          # [1, FEATURES, dim], [dim]
        self.units = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv1D) and layer.padding == "causal":
                d = int(layer.dilation_rate[0])
                mix = model.get_layer(layer.name.replace("_conv", "_mix"))
                self.units.append((d, layer.kernel, layer.bias, mix.kernel, mix.bias))
        out = model.get_layer("logit")
        self.out_kernel, self.out_bias = out.kernel, out.bias

    def initial_state(self, batch) -> tuple:
        """All-zero pasts (what the causal convolutions pad with before the first frame)."""
        return tuple(tf.zeros([batch, (KERNEL - 1) * d + 1, self.dim]) for d, *_ in self.units)

    def step(self, state: tuple, features):
        """features [batch, FEATURES] -> (logit [batch], the next state)."""
        x = features @ self.in_kernel[0] + self.in_bias
        new = []
        for (d, kernel, bias, mix, mix_bias), past in zip(self.units, state):
            past = tf.concat([past[:, 1:], _leaky(x)[:, None]], axis=1)
            taps = tf.concat([past[:, k * d] for k in range(KERNEL)], axis=-1)        # oldest tap first
            y = taps @ tf.reshape(kernel, [KERNEL * self.dim, self.dim]) + bias
            x = x + _leaky(y) @ mix[0] + mix_bias
            new.append(past)
        return (_leaky(x) @ self.out_kernel[0] + self.out_bias)[:, 0], tuple(new)


def sample_continuation(steps: ContinuerSteps, prompt_vad, num_frames, seed):
    """Both speakers go on from a prompt's VAD [n, 2] in {0, 1} -> [num_frames, 2] in {0, 1} (float32).

    The batch is the two speakers, each once as "own" (A, then B). Over the whole prompt: each frame's delayed
    VADs (own at t - 1, the other's at t - RESPONSE_DELAY_FRAMES) and their exponential_memory; the stack is primed on the prompt's last RECEPTIVE_FRAMES frames (all a continued frame's
    stack reads). Then each frame of each speaker is drawn from its logit with a uniform of
    tf.random.stateless_uniform(seed, CONTINUER_STREAM), and heard by both from then on (the memories go on one
    `remember` step per frame). Graph loops (tf.while_loop): eager or traced."""
    prompt_vad = tf.convert_to_tensor(prompt_vad, tf.float32)
    delay = RESPONSE_DELAY_FRAMES
    n = tf.shape(prompt_vad)[0]
    # recent[t] = the VAD of frame t - delay (zeros before the first); frame t's own VAD at t - 1 is recent[t +
    # delay - 1], the other's at t - delay is recent[t] with the speakers swapped
    recent = tf.concat([tf.zeros([delay, 2]), prompt_vad], axis=0)
    known = tf.transpose(recent[delay - OWN_DELAY_FRAMES:delay - OWN_DELAY_FRAMES + n])[..., None]   # [2, n, 1]
    heard = tf.transpose(tf.reverse(recent[:n], [1]))[..., None]                                    # [2, n, 1]
    own_memory, other_memory = exponential_memory(known), exponential_memory(heard)                 # [2, n, 2]
    features = tf.concat([known, heard, own_memory, other_memory], axis=-1)                         # [2, n, F]
    first = tf.maximum(0, n - RECEPTIVE_FRAMES)

    def prime(t, state):
        return t + 1, steps.step(state, features[:, t])[1]

    _, state = tf.while_loop(lambda t, _: t < n, prime, (first, steps.initial_state(2)))
    uniforms = tf.random.stateless_uniform([num_frames, 2], tf.stack([tf.cast(seed, tf.int64),
                                                                        CONTINUER_STREAM]))

    def draw(t, window, before, memory, state, out):
        """window: the VAD of frames t - delay .. t - 1 [delay, 2]; before: (own, other) delayed VADs of frame
        t - 1 [2] each; memory: (own, other) [2, 2] each, up to frame t - 1."""
        now = (window[-1], tf.reverse(window[0], [0]))
        memory = tuple(remember(m, memory_inputs(v[:, None], b[:, None])) for m, v, b in zip(memory, now, before))
        logit, state = steps.step(state, tf.concat([now[0][:, None], now[1][:, None], *memory], axis=-1))
        spoke = tf.cast(uniforms[t] < tf.sigmoid(logit), tf.float32)
        return t + 1, tf.concat([window[1:], spoke[None]], axis=0), now, memory, state, out.write(t, spoke)

    def at_end(x):
        """The prompt's last frame of x [2, n, c] -> [2, c] ([2] for c = 1; zeros for an empty prompt)."""
        last = tf.concat([tf.zeros([2, 1, x.shape[-1]]), x], axis=1)[:, n]
        return last[:, 0] if x.shape[-1] == 1 else last

    start = (0, recent[-delay:], (at_end(known), at_end(heard)), (at_end(own_memory), at_end(other_memory)), state,
             tf.TensorArray(tf.float32, size=num_frames))
    out = tf.while_loop(lambda t, *_: t < num_frames, draw, start)[-1]
    return tf.reshape(out.stack(), [-1, 2])

"""The agent's turn-taker: when the agent speaks, decided from what the partner has said so far.

    build_responder(dim, delay, noise_hold_frames) -> keras.Model: [partner_vad [batch, frames, 1] in [0, 1],
                                          noise [batch, frames, RESPONDER_NOISE_CH]]
                                         -> gate [batch, frames, 1] in (0, 1)

Frames are mel frames (wavebabble.mel: 125 per second at 8 kHz). The partner's soft VAD is delayed by `delay`
inside the model (zeros before the start), then read by a causal stack: Conv1D(1) -> residual units [LeakyReLU ->
causal Conv1D(k3, dilation d) -> LeakyReLU -> Conv1D(1)] for d in DILATIONS (receptive field RECEPTIVE_FRAMES,
8.2 s) -> Conv1D(1, sigmoid). So the gate at frame t depends only on the partner's VAD up to frame t - delay and
on the agent's own noise up to t. With RESPONSE_DELAY_FRAMES (192 ms), an agent that hears the partner in chunks
of up to STREAM_CHUNK_FRAMES can decide (and render, mel_renderer's look-ahead included) each chunk before it is
due, and its streamed answer is the same as its offline one. An agent that answers a whole recording need not
wait for chunks or the renderer: OFFLINE_DELAY_FRAMES (24 ms, the spectrogram's own look-ahead) lets frame t hear
the partner's audio before t. The delay is the agent's reaction time; it learns to anticipate the partner's turn
ends (the turn-timing D judges the pair, train.train_responder).
The noise (wavebabble.frame_noise.responder_noise): white per frame, except the last HELD_NOISE_CH channels, which
hold one value for NOISE_HOLD_FRAMES (400 ms): slow choices (how long to wait, whether to take the floor) that
spread the answers' timing, where white noise alone had left one fixed wait (eval/results/agent_notes.md). The
model carries the hold its noise needs as `noise_hold_frames` (0: white only, the responders trained before).
The gate opens the agent's voice: voice features made by the two-stage planner from the agent's noise, gated
over the planner's learned silence floor exactly as the planner gates its own speakers (mel_planner.gate_voice).
"""
from __future__ import annotations

import keras

LEAKY_SLOPE = 0.2
RESPONDER_NOISE_CH = 8                 # noise channels per mel frame
HELD_NOISE_CH = 4                      # of them, the last ones held over NOISE_HOLD_FRAMES
NOISE_HOLD_FRAMES = 50                 # 400 ms
DILATIONS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
KERNEL = 3
RECEPTIVE_FRAMES = 1 + (KERNEL - 1) * sum(DILATIONS)      # 1023 frames = 8.2 s
STREAM_CHUNK_FRAMES = 13               # 104 ms: the streaming agent's chunk (respond --streaming)
RENDER_LOOKAHEAD_FRAMES = 8            # mel frames past a sample's own frame that the renderer reads (measured)
MEL_LOOKAHEAD_FRAMES = 3               # a mel frame's STFT window ends 2.5 frames past its own hop
RESPONSE_DELAY_FRAMES = STREAM_CHUNK_FRAMES + RENDER_LOOKAHEAD_FRAMES + MEL_LOOKAHEAD_FRAMES   # 24 = 192 ms
OFFLINE_DELAY_FRAMES = MEL_LOOKAHEAD_FRAMES   # 3 = 24 ms: offline, frame t hears the partner's audio before t only
REACTION_DELAYS = {"streaming": RESPONSE_DELAY_FRAMES, "offline": OFFLINE_DELAY_FRAMES}   # by train_responder --mode


@keras.saving.register_keras_serializable(package="wavebabble")
class DelayFrames(keras.layers.Layer):
    """[batch, frames, ch] -> the same shape delayed by `frames` (zeros first, the last `frames` dropped)."""

    def __init__(self, frames: int, **kwargs):
        super().__init__(**kwargs)
        self.frames = int(frames)

    def call(self, x):
        ops = keras.ops
        length = ops.shape(x)[1]
        padded = ops.pad(x, [[0, 0], [self.frames, 0], [0, 0]])
        return padded[:, :length]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


def build_responder(dim: int = 32, delay: int = RESPONSE_DELAY_FRAMES, noise_hold_frames: int = NOISE_HOLD_FRAMES,
                    name: str = "responder") -> keras.Model:
    """[partner_vad [batch, frames, 1], noise [batch, frames, RESPONDER_NOISE_CH]] -> gate [batch, frames, 1]; the
    partner heard `delay` frames late (RESPONSE_DELAY_FRAMES: a streaming agent's; OFFLINE_DELAY_FRAMES: an agent
    that answers a whole recording, which does not wait for chunks or the renderer's look-ahead). The model's
    `noise_hold_frames` says which noise it takes (frame_noise.responder_noise; 0: white only)."""
    partner = keras.Input((None, 1), name="partner_vad")
    noise = keras.Input((None, RESPONDER_NOISE_CH), name="noise")
    heard = DelayFrames(delay, name="reaction_delay")(partner)
    x = causal_stack(keras.layers.Concatenate(name="inputs")([heard, noise]), dim)
    gate = keras.layers.Conv1D(1, 1, activation="sigmoid", name="gate")(x)
    model = keras.Model([partner, noise], gate, name=name)
    model.noise_hold_frames = int(noise_hold_frames)
    return model


def causal_stack(inputs, dim: int):
    """The turn-takers' causal trunk: [batch, frames, ch] -> LeakyReLU features [batch, frames, dim], Conv1D(1)
    "in_conv" -> residual units "res{d}" [LeakyReLU -> causal Conv1D(KERNEL, dilation d) -> LeakyReLU -> Conv1D(1)]
    for d in DILATIONS -> LeakyReLU "out_act". Frame t reads inputs up to t only (RECEPTIVE_FRAMES of them)."""
    x = keras.layers.Conv1D(dim, 1, name="in_conv")(inputs)
    for d in DILATIONS:
        h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"res{d}_act_a")(x)
        h = keras.layers.Conv1D(dim, KERNEL, dilation_rate=d, padding="causal", name=f"res{d}_conv")(h)
        h = keras.layers.LeakyReLU(LEAKY_SLOPE, name=f"res{d}_act_b")(h)
        h = keras.layers.Conv1D(dim, 1, name=f"res{d}_mix")(h)
        x = keras.layers.Add(name=f"res{d}")([x, h])
    return keras.layers.LeakyReLU(LEAKY_SLOPE, name="out_act")(x)


def stream_chunk_frames(delay: int) -> int:
    """The longest partner chunk (frames) a turn-taker with this reaction delay answers before it is due: the delay
    less the spectrogram's and the renderer's look-ahead (under 1: it cannot stream)."""
    return delay - MEL_LOOKAHEAD_FRAMES - RENDER_LOOKAHEAD_FRAMES


def reaction_frames(responder: keras.Model) -> tuple[int, int]:
    """(reaction delay, receptive field) in frames of a model made by build_responder, read from its layers (the
    delay of its DelayFrames layer; 1 + the sum of (kernel - 1) * dilation over its causal convolutions)."""
    delay = responder.get_layer("reaction_delay").frames
    receptive = 1 + sum((layer.kernel_size[0] - 1) * layer.dilation_rate[0] for layer in responder.layers
                        if isinstance(layer, keras.layers.Conv1D) and layer.padding == "causal")
    return int(delay), int(receptive)

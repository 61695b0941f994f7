"""Two speakers made by one responder answering each other, block by block, differentiably: the closed loop.

    closed_loop(responder, prompt_vad [batch, P, 2], noise [batch, frames, 2, RESPONDER_NOISE_CH], speaker_vad)
        -> (gates [batch, frames - P, 2], vad [batch, frames, 2])
    speaker_vad(gates [batch, n, 2], first_frame, n) -> vad [batch, n, 2]   each speaker's VAD of its gated voice

Frames [0, P) are the prompt: both speakers' VAD is given. From frame P on, both speakers are the responder
(models/responder.py), each with its own noise, hearing the other: speaker c's gate on frames [b, b + n) reads the
other speaker's VAD up to b + n - delay, which is the prompt's or was made in an earlier block, so the two are made
together in blocks of the responder's reaction delay (reaction_frames). This is agent.continue_dialogue's
procedure, and what train.train_responder's closed-loop pairs are made by: there the turn-timing D judges the
pair both speakers make together, so each must end its own turns (a partner taken from a recording starts by
itself whatever the agent does; here it only starts if the agent yields).
Each block computes only its own frames: every causal convolution keeps the inputs it has seen (as pieces, one
per block) and reads its dilated taps from them, so a clip costs one pass of the model, not one per block. The
result equals the responder run on each block's whole history (tests/test_agent.py checks it).
"""
from __future__ import annotations

import keras
import tensorflow as tf

from wavebabble.models.responder import LEAKY_SLOPE, reaction_frames


class _Sequence:
    """A sequence [batch, frames, ch] kept as the pieces it was made in, zeros before frame 0."""

    def __init__(self, zeros_before: int, batch: tf.Tensor, channels: int):
        self.pieces = [(-zeros_before, tf.zeros(tf.stack([batch, zeros_before, channels])))] if zeros_before else []
        self.end = 0

    def append(self, piece: tf.Tensor) -> None:
        self.pieces.append((self.end, piece))
        self.end += int(piece.shape[1])

    def frames(self, lo: int, n: int) -> tf.Tensor:
        """Frames [lo, lo + n): all made already (lo >= -zeros_before, lo + n <= end)."""
        out = []
        for start, piece in self.pieces:
            stop = start + int(piece.shape[1])
            if stop <= lo or n <= 0:
                continue
            if start >= lo + n:
                break
            a, b = max(lo, start) - start, min(lo + n, stop) - start
            out.append(piece[:, a:b])
        return out[0] if len(out) == 1 else tf.concat(out, axis=1)


def _leaky(x):
    return tf.nn.leaky_relu(x, LEAKY_SLOPE)


def _pointwise(layer, x):
    """A kernel-1 Conv1D layer applied to [batch, n, ch]."""
    return tf.einsum("bnc,cd->bnd", x, layer.kernel[0]) + layer.bias


def closed_loop(responder: keras.Model, prompt_vad: tf.Tensor, noise: tf.Tensor, speaker_vad):
    """See the module docstring. The number of frames is noise's (static); P is prompt_vad's (static, may be 0)."""
    delay, _ = reaction_frames(responder)
    frames, prompt = int(noise.shape[1]), int(prompt_vad.shape[1])
    in_conv, out_conv = responder.get_layer("in_conv"), responder.get_layer("gate")
    convs = [layer for layer in responder.layers if isinstance(layer, keras.layers.Conv1D)
             and layer.padding == "causal"]
    mixes = [responder.get_layer(c.name.replace("_conv", "_mix")) for c in convs]
    # both speakers in one batch: rows [speaker 0's clips, speaker 1's clips]
    noise2 = tf.concat([noise[:, :, 0], noise[:, :, 1]], axis=0)          # [2 * batch, frames, noise ch]
    batch = tf.shape(noise)[0]
    vad = _Sequence(delay, batch, 2)                                      # [batch, frames, 2] as made
    acts = None                                                           # per conv: its input's pieces

    def block(lo: int, n: int, known: tf.Tensor | None) -> tf.Tensor:
        """The gates [batch, n, 2] of frames [lo, lo + n); `known`: their VAD [batch, n, 2] when it is given (the
        prompt), else each speaker's VAD is made from the gates (n <= delay, so what is heard was made before)."""
        nonlocal acts
        if known is not None:
            vad.append(known)
        heard = vad.frames(lo - delay, n)                                 # [batch, n, 2]: each hears the other
        heard2 = tf.concat([heard[..., 1:], heard[..., :1]], axis=0)       # [2 * batch, n, 1]
        x = _pointwise(in_conv, tf.concat([heard2, noise2[:, lo:lo + n]], axis=-1))
        if acts is None:
            acts = [_Sequence((c.kernel_size[0] - 1) * c.dilation_rate[0], 2 * batch, int(x.shape[-1]))
                    for c in convs]
        for conv, mix, hist in zip(convs, mixes, acts):
            hist.append(_leaky(x))
            d, k = conv.dilation_rate[0], conv.kernel_size[0]
            h = conv.bias + sum(tf.einsum("bnc,cd->bnd", hist.frames(lo - (k - 1 - j) * d, n), conv.kernel[j])
                                for j in range(k))
            x = x + _pointwise(mix, _leaky(h))
        gate2 = tf.sigmoid(_pointwise(out_conv, _leaky(x)))                # [2 * batch, n, 1]
        gates = tf.concat(tf.split(gate2, 2, axis=0), axis=-1)             # [batch, n, 2]
        if known is None:
            vad.append(speaker_vad(gates, lo, n))
        return gates

    if prompt:          # the prompt's frames go through the model in one piece: its VAD is known, not made
        block(0, prompt, prompt_vad)
    gates = [block(lo, min(delay, frames - lo), None) for lo in range(prompt, frames, delay)]
    return tf.concat(gates, axis=1), vad.frames(0, frames)

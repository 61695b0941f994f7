"""Noise as a function of (seed, absolute frame): the noise inputs of the agent's models.

    block_noise(first_frame, num_frames, seed, stream, channels) -> [num_frames, channels]   white, per frame
    held_noise(first_frame, num_frames, seed, stream, channels, hold_frames) -> [num_frames, channels]
    responder_noise(first_frame, num_frames, seed, hold_frames) -> [num_frames, RESPONDER_NOISE_CH]

Every value is a stateless draw keyed by the seed and by the absolute frame's block, so a window of frames gets
the same noise whichever call asks for it: the streaming agent, which recomputes windows, and the offline one
see the same noise (wavebabble.agent). block_noise draws NOISE_BLOCK_FRAMES frames at a time (second seed word
2 * block + stream, >= 0); held_noise draws one value per channel for each block of `hold_frames` frames, which
it holds over the block (second seed word -1 - (2 * block + stream), < 0: never one of block_noise's). The
responder's noise (models/responder.py): white in its first RESPONDER_NOISE_CH - HELD_NOISE_CH channels, held
over hold_frames in the last HELD_NOISE_CH (hold_frames 0: all white, the responders trained before
NOISE_HOLD_FRAMES). The held channels are slow choices the turn-taker can read for how long to wait, which
spread its answers' timing (eval/results/agent_notes.md). train.train_responder draws its batches' noise from
these functions too, at a random seed and first frame per clip, so training and serving share one definition.
first_frame, seed, stream: int64 scalars; num_frames, channels: int32 scalars (tensors or Python ints).
"""
from __future__ import annotations

import tensorflow as tf

from wavebabble.models.responder import HELD_NOISE_CH, RESPONDER_NOISE_CH

NOISE_BLOCK_FRAMES = 64          # frames per stateless draw of white noise
RESPONDER_STREAM, PLANNER_STREAM = 0, 1   # `stream`: which model the noise is for


def _per_block(first_frame, num_frames, block_frames: int, draw):
    """(draw(block) stacked over the absolute blocks of block_frames frames that frames first_frame .. +
    num_frames touch (at least one), the first of those blocks' index)."""
    first, n = tf.cast(first_frame, tf.int64), tf.cast(num_frames, tf.int64)
    size = tf.constant(block_frames, tf.int64)
    b0, b1 = first // size, (first + n + size - 1) // size
    values = tf.map_fn(draw, tf.range(b0, tf.maximum(b1, b0 + 1)), fn_output_signature=tf.TensorSpec(None, tf.float32))
    return values, b0


def block_noise(first_frame, num_frames, seed, stream, channels):
    """[num_frames, channels] standard normal noise of frames first_frame .. (one draw per block)."""
    seed, stream, channels = tf.cast(seed, tf.int64), tf.cast(stream, tf.int64), tf.cast(channels, tf.int32)
    blocks, b0 = _per_block(first_frame, num_frames, NOISE_BLOCK_FRAMES, lambda b: tf.random.stateless_normal(
        tf.stack([NOISE_BLOCK_FRAMES, channels]), tf.stack([seed, 2 * b + stream])))
    start = tf.cast(first_frame, tf.int64) - b0 * NOISE_BLOCK_FRAMES
    return tf.reshape(blocks, [-1, channels])[start:start + tf.cast(num_frames, tf.int64)]


def held_noise(first_frame, num_frames, seed, stream, channels, hold_frames: int):
    """[num_frames, channels] standard normal values, each held over the absolute block of `hold_frames` frames
    (a positive Python int) it falls in."""
    seed, stream, channels = tf.cast(seed, tf.int64), tf.cast(stream, tf.int64), tf.cast(channels, tf.int32)
    values, h0 = _per_block(first_frame, num_frames, hold_frames, lambda h: tf.random.stateless_normal(
        tf.reshape(channels, [1]), tf.stack([seed, -1 - (2 * h + stream)])))
    frames = tf.cast(first_frame, tf.int64) + tf.range(tf.cast(num_frames, tf.int64))
    return tf.gather(values, frames // hold_frames - h0)


def responder_noise(first_frame, num_frames, seed, hold_frames: int):
    """[num_frames, RESPONDER_NOISE_CH]: a responder's noise input of frames first_frame .. (white; with
    hold_frames > 0, the last HELD_NOISE_CH channels held over hold_frames-frame blocks)."""
    white = block_noise(first_frame, num_frames, seed, RESPONDER_STREAM, RESPONDER_NOISE_CH)
    if not hold_frames:
        return white
    held = held_noise(first_frame, num_frames, seed, RESPONDER_STREAM, HELD_NOISE_CH, hold_frames)
    return tf.concat([white[:, :RESPONDER_NOISE_CH - HELD_NOISE_CH], held], axis=-1)

"""Noise as a pure function of (key, absolute sample): the renderer's noise excitation (models/harmonic_source.py).

    sample_normal(key [batch], first [batch], length, channels) -> [batch, length, channels] standard normal
    row_key(x [batch, ...]) -> [batch] key: a hash of each row's float32 bits
    stream_key(key, stream) -> key: an independent key for one use of a key (a speaker, a channel, a model)
    seed_key(seed) -> key: an int64 seed's 64 bits hashed to a key

Keys are int64 tensors holding 32-bit values (0 .. 2**32 - 1). Value (b, n, c) of sample_normal depends only on
key[b], the absolute sample index first[b] + n (any int64, negative too) and c, through a counter-based hash
(HASH_ROUNDS rounds of xor-shift-multiply over 32 bits, done in int64 so that no product overflows): the sum of
UNIFORMS_PER_VALUE 16-bit uniforms from its hashes, centred and scaled to unit variance (Irwin-Hall: near
normal, bounded at +-sqrt(3 UNIFORMS_PER_VALUE)). Everything is integer work and one exact cast, scale and shift
(no log or cos, whose vectorised and scalar kernels differ in the last bit), so a window of a longer signal gets
bit for bit the samples the whole signal's call gives them, whoever asks and at whatever batch size (the
streaming agent renders windows; `generate --seed` reproduces clips); rows with different keys get independent
noise.
"""
from __future__ import annotations

import tensorflow as tf

MASK32 = 0xFFFFFFFF
HASH_MULTIPLIER = 0x45D9F3B     # < 2**31: a 32-bit value times it fits in int64
HASH_ROUNDS = 2
UNIFORM_BITS = 16               # two uniforms per 32-bit hash
UNIFORMS_PER_VALUE = 4          # summed per noise value (their integer sum, < 2**18, is exact in float32)


def mix32(x):
    """int64 values in 0 .. 2**32 - 1 -> hashed values in the same range (elementwise, exact)."""
    x = tf.bitwise.bitwise_and(tf.cast(x, tf.int64), MASK32)
    for _ in range(HASH_ROUNDS):
        x = tf.bitwise.bitwise_and(tf.bitwise.bitwise_xor(tf.bitwise.right_shift(x, 16), x) * HASH_MULTIPLIER,
                                   MASK32)
    return tf.bitwise.bitwise_xor(tf.bitwise.right_shift(x, 16), x)


def stream_key(key, stream):
    """key (int64, 32-bit values), stream (int) -> the key of that stream of it: mix32(mix32(key) + stream)."""
    return mix32(mix32(key) + tf.cast(stream, tf.int64))


def seed_key(seed):
    """int64 seed(s) (any value) -> key(s): both 32-bit halves hashed together."""
    seed = tf.cast(seed, tf.int64)
    low = tf.bitwise.bitwise_and(seed, MASK32)
    high = tf.bitwise.bitwise_and(tf.bitwise.right_shift(seed, 32), MASK32)
    return mix32(tf.bitwise.bitwise_xor(low, mix32(high + 1)))


def row_key(x):
    """x [batch, ...] (float32 values) -> [batch] int64 keys: a hash of each row's bits and their positions (any
    change to a row changes its key; equal rows get equal keys)."""
    x = tf.convert_to_tensor(x, tf.float32)
    bits = tf.reshape(tf.cast(tf.bitcast(x, tf.uint32), tf.int64), [tf.shape(x)[0], -1])     # [batch, n]
    index = mix32(tf.range(tf.shape(bits)[1], dtype=tf.int64))[None]
    return mix32(tf.reduce_sum(mix32(bits + index), axis=1))      # a sum of < 2**32 values, each < 2**32: exact


def sample_normal(key, first, length, channels: int):
    """[batch, length, channels] unit-variance noise (near normal): row b's samples first[b] .. first[b] + length - 1
    under key[b] (key, first: [batch] int64; length: int32 scalar; channels: a Python int)."""
    hashes = UNIFORMS_PER_VALUE // 2
    key = mix32(key)[:, None, None]                                                   # [batch, 1, 1]
    position = tf.cast(first, tf.int64)[:, None] + tf.range(tf.cast(length, tf.int64))[None]   # [batch, length]
    counter = position[..., None] * (hashes * channels) + tf.range(hashes * channels, dtype=tf.int64)
    low = tf.bitwise.bitwise_and(counter, MASK32)                                    # [batch, length, h c]
    high = tf.bitwise.bitwise_and(tf.bitwise.right_shift(counter, 32), MASK32)
    bits = mix32(tf.bitwise.bitwise_xor(mix32(low + mix32(high)), key))
    top = 2 ** UNIFORM_BITS - 1
    pair = tf.bitwise.right_shift(bits, UNIFORM_BITS) + tf.bitwise.bitwise_and(bits, top)   # two uniforms summed
    total = tf.reduce_sum(tf.reshape(pair, tf.concat([tf.shape(pair)[:2], [channels, hashes]], 0)), axis=-1)
    spread = float(2 ** UNIFORM_BITS) * (UNIFORMS_PER_VALUE / 12.0) ** 0.5          # the sum's standard deviation
    return (tf.cast(total, tf.float32) - 0.5 * UNIFORMS_PER_VALUE * top) / spread

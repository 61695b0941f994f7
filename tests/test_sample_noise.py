"""wavebabble.sample_noise: noise as a pure function of (key, absolute sample)."""
import numpy as np
import tensorflow as tf

from wavebabble.sample_noise import row_key, sample_normal, seed_key, stream_key


def test_a_window_gets_the_whole_signals_noise_bit_for_bit_at_any_batch():
    keys = tf.constant([1, 2, 2**32 - 1], tf.int64)
    whole = sample_normal(keys, tf.constant([0, -50, 7], tf.int64), 20000, 2).numpy()
    window = sample_normal(keys[1:2], tf.constant([-50 + 1234], tf.int64), 301, 2).numpy()
    np.testing.assert_array_equal(window[0], whole[1, 1234:1535])
    assert not np.array_equal(whole[0, 50:], whole[1, :-50])               # another key: other noise


def test_noise_is_white_unit_variance_and_independent_across_keys_and_channels():
    n = sample_normal(tf.constant([5, 6], tf.int64), tf.constant([0, 0], tf.int64), 100000, 2).numpy()
    assert abs(n.mean()) < 0.02 and abs(n.std() - 1.0) < 0.02
    pairs = [(n[0, :, 0], n[0, :, 1]), (n[0, :, 0], n[1, :, 0]), (n[0, 1:, 0], n[0, :-1, 0])]
    assert max(abs(np.corrcoef(a, b)[0, 1]) for a, b in pairs) < 0.02
    assert 0.1 < np.mean(np.abs(n) > 1.5) < 0.16                           # near normal: 13 % beyond 1.5 sd


def test_keys_follow_rows_seeds_and_streams():
    x = np.random.default_rng(0).normal(size=(3, 4, 5)).astype(np.float32)
    x[2] = x[0]
    k = row_key(tf.constant(x)).numpy()
    assert k[0] == k[2] and k[0] != k[1]
    y = x.copy()
    y[0, 3, 4] = np.nextafter(y[0, 3, 4], np.float32(np.inf))              # one bit of one value
    assert row_key(tf.constant(y)).numpy()[0] != k[0]
    seeds = seed_key(tf.constant([0, 1, 2**32, -1], tf.int64)).numpy()     # the high half counts too
    assert len(set(seeds)) == 4 and all(0 <= s < 2**32 for s in seeds)
    streams = [int(stream_key(tf.constant(9, tf.int64), s)) for s in range(3)]
    assert len(set(streams)) == 3

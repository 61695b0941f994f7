"""wavebabble.frame_noise: the agent's noise is a function of (seed, absolute frame), so any window of frames gets
the same values; the responder's held channels hold one value over each absolute block of NOISE_HOLD_FRAMES and
the white ones change every frame."""
import numpy as np
import pytest
import tensorflow as tf

from wavebabble.frame_noise import RESPONDER_STREAM, block_noise, held_noise, responder_noise
from wavebabble.models.responder import HELD_NOISE_CH, NOISE_HOLD_FRAMES, RESPONDER_NOISE_CH

HOLD = NOISE_HOLD_FRAMES
WHITE_CH = RESPONDER_NOISE_CH - HELD_NOISE_CH


def _noise(first, n, seed=7, hold=HOLD):
    return responder_noise(tf.constant(first, tf.int64), n, tf.constant(seed, tf.int64), hold).numpy()


@pytest.mark.parametrize("first, n", [(0, 1), (49, 2), (63, 70), (100, 1), (137, 250), (200, 0)])
def test_a_window_gets_the_same_noise_as_the_whole(first, n):
    whole = _noise(0, 500)
    part = _noise(first, n)
    assert part.shape == (n, RESPONDER_NOISE_CH)
    np.testing.assert_array_equal(part, whole[first:first + n])


def test_held_channels_hold_over_absolute_blocks_and_white_ones_change_every_frame():
    first, n = 23, 10 * HOLD
    z = _noise(first, n)
    frames = first + np.arange(n)
    held, white = z[:, WHITE_CH:], z[:, :WHITE_CH]
    for block in np.unique(frames // HOLD):
        rows = held[frames // HOLD == block]
        assert np.all(rows == rows[0])
    boundaries = np.nonzero(np.diff(frames // HOLD))[0]
    assert len(boundaries) == 10 and np.all(held[boundaries] != held[boundaries + 1])
    assert np.all(white[1:] != white[:-1])
    # the held values are standard normal draws, not copies of the white ones
    values = held[frames % HOLD == 0]
    assert not np.isin(values, white).any()
    big = held_noise(tf.constant(0, tf.int64), 2000 * HOLD, tf.constant(1, tf.int64), RESPONDER_STREAM,
                     HELD_NOISE_CH, HOLD).numpy()[::HOLD]
    assert abs(big.mean()) < 0.1 and abs(big.std() - 1.0) < 0.1


def test_no_hold_is_white_noise_and_seeds_differ():
    white = block_noise(tf.constant(5, tf.int64), 80, tf.constant(7, tf.int64), RESPONDER_STREAM, RESPONDER_NOISE_CH)
    np.testing.assert_array_equal(_noise(5, 80, hold=0), white.numpy())
    np.testing.assert_array_equal(_noise(5, 80)[:, :WHITE_CH], white.numpy()[:, :WHITE_CH])
    assert not np.isin(_noise(0, 100, seed=8), _noise(0, 100, seed=7)).any()

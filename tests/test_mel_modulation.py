"""The modulation spectrum of log-mel sequences and its loss (wavebabble.mel_modulation)."""
import numpy as np
import pytest
import tensorflow as tf

from wavebabble.mel_modulation import (MEL_FRAME_HZ, MODULATION_BANDS, MODULATION_EDGES_HZ,
                                       corpus_log_modulation_spectrum, log_modulation_spectrum, modulation_loss,
                                       modulation_power)

FRAMES = 1024
BINS = 3


def _band_of(hz: float) -> int:
    return next(k for k in range(MODULATION_BANDS) if MODULATION_EDGES_HZ[k] <= hz < MODULATION_EDGES_HZ[k + 1])


def test_a_band_moving_at_one_rate_puts_its_power_in_that_rates_modulation_band():
    t = np.arange(FRAMES) / MEL_FRAME_HZ
    for hz in (0.7, 5.0, 20.0, MEL_FRAME_HZ / 2):      # the last: frames alternating, a checkerboard
        mel = np.zeros((1, FRAMES, BINS), np.float32)
        mel[0, :, 1] = np.cos(2 * np.pi * hz * t) + 0.3          # only bin 1 moves; the offset is removed
        p = modulation_power(mel).numpy()[0]                       # [bands, bins]
        assert p.shape == (MODULATION_BANDS, BINS)
        assert np.argmax(p[:, 1]) == _band_of(hz), hz
        assert np.allclose(p[:, [0, 2]], 0.0, atol=1e-9)         # still bins have no power


def test_loss_is_near_zero_for_clips_like_the_target_and_grows_with_frame_jitter():
    rng = np.random.default_rng(0)
    # smooth random sequences: white noise through a 9-frame moving average
    def smooth(n):
        x = rng.standard_normal((n, FRAMES + 8, BINS)).astype(np.float32)
        return np.stack([x[:, i:i + FRAMES] for i in range(9)]).mean(0)
    target = corpus_log_modulation_spectrum(smooth(256), batch=100)
    alike = smooth(32)
    jitter = np.where(np.arange(FRAMES) % 2, 0.1, -0.1)[None, :, None].astype(np.float32)
    near, far = float(modulation_loss(alike, target)), float(modulation_loss(alike + jitter, target))
    assert near < 0.05 and far > 10 * near


def test_loss_has_a_gradient_that_removes_jitter():
    rng = np.random.default_rng(1)
    clean = np.cumsum(rng.standard_normal((8, FRAMES, BINS)), axis=1).astype(np.float32) * 0.05
    target = log_modulation_spectrum(clean)
    jitter = np.where(np.arange(FRAMES) % 2, 0.5, -0.5)[None, :, None].astype(np.float32)
    x = tf.Variable(clean + jitter)
    opt = tf.keras.optimizers.Adam(0.02)
    first = None
    for _ in range(50):
        with tf.GradientTape() as tape:
            loss = modulation_loss(x, target)
        first = float(loss) if first is None else first
        opt.apply_gradients([(tape.gradient(loss, x), x)])
    assert float(modulation_loss(x, target)) < 0.2 * first
    top = modulation_power(x).numpy()[:, -1].mean()           # the checkerboard's band
    assert top < 0.2 * modulation_power(clean + jitter).numpy()[:, -1].mean()


def test_clips_too_short_for_the_lowest_band_are_refused_naming_it():
    with pytest.raises(ValueError, match="100 mel frames .0.80 s. are too short.* 0.5-1 Hz$"):
        modulation_power(np.zeros((1, 100, BINS), np.float32))
    assert modulation_power(np.zeros((1, 256, BINS), np.float32)).shape == (1, MODULATION_BANDS, BINS)

"""The renderer's pitched source (models/harmonic_source.py): exact partials, alias guard, no phase jumps, precision
over minutes, bounded gradient."""
import numpy as np
import tensorflow as tf

from wavebabble.models.harmonic_source import ALIAS_FRACTION, HarmonicSource

SR, HOP, K = 8000, 256, 24


def test_constant_pitch_gives_its_exact_partials_and_silences_aliased_ones():
    f0 = 200.0
    y = HarmonicSource(SR, HOP, K)(np.full((1, 40, 1), f0, np.float32)).numpy()[0]
    t = np.arange(1, 40 * HOP + 1)
    for k in (1, 2, 7):
        np.testing.assert_allclose(y[:, k - 1], np.sin(2 * np.pi * k * f0 * t / SR), atol=2e-4)
    first_silent = int(np.ceil(ALIAS_FRACTION * SR / 2 / f0))        # 19: 19 * 200 Hz >= 3800 Hz
    assert np.abs(y[:, first_silent - 2]).max() > 0.99
    assert np.abs(y[:, first_silent - 1:]).max() == 0.0


def test_gliding_pitch_has_no_phase_jumps_and_follows_the_contour():
    f0 = np.linspace(80, 380, 50, dtype=np.float32)[None, :, None]
    y = HarmonicSource(SR, HOP, 1)(f0).numpy()[0, :, 0]
    # one sample of a sine at f Hz moves it by at most 2 pi f / SR
    assert np.abs(np.diff(y)).max() <= 2 * np.pi * 380 / SR + 1e-4
    # zero crossings per frame follow the pitch: ~2 f0 * HOP / SR
    crossings = np.array([np.sum(np.diff(np.sign(y[i * HOP:(i + 1) * HOP])) != 0) for i in range(50)])
    np.testing.assert_allclose(crossings[5:-5], 2 * f0[0, 5:-5, 0] * HOP / SR, atol=1.5)


def test_phase_keeps_its_precision_over_minutes():
    """A 5-minute contour: the last frame's partial matches a float64 reference to 1e-3."""
    frames = 5 * 60 * SR // HOP
    rng = np.random.default_rng(0)
    f0 = rng.uniform(90, 300, (1, frames, 1)).astype(np.float32)
    y = HarmonicSource(SR, HOP, 3)(f0).numpy()[0, -HOP:, 2]
    upsampled = tf.image.resize(f0[:, :, None, :], (frames * HOP, 1), method="bilinear").numpy()[0, :, 0, 0]
    phase = np.cumsum(upsampled.astype(np.float64) * 2 * np.pi / SR)
    np.testing.assert_allclose(y, np.sin(3 * phase[-HOP:]), atol=1e-3)


def test_gradient_to_pitch_is_finite_and_bounded_by_one_frame():
    f0 = tf.Variable(np.full((2, 64, 1), 150.0, np.float32))
    with tf.GradientTape() as tape:
        y = HarmonicSource(SR, HOP, K)(f0)
        loss = tf.reduce_sum(y * np.random.default_rng(1).standard_normal(y.shape).astype(np.float32))
    g = tape.gradient(loss, f0).numpy()
    assert np.isfinite(g).all() and np.abs(g).max() > 0
    # each f0 value's gradient sums over at most ~2 frames of samples (interpolation), each sample's
    # d phase / d f0 <= 2 pi HOP / SR within a frame, times k <= K, times |weight| (normal, < 6)
    assert np.abs(g).max() < 2 * 2 * HOP * K * 2 * np.pi * HOP / SR * 6

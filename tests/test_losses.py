"""Losses: per-example shapes, known values, WGAN-GP penalty, feature matching, weights."""
import numpy as np
import pytest
import tensorflow as tf

from wavebabble.errors import ConfigError
from wavebabble.losses import d_loss, feature_matching, g_loss, gradient_penalty, weighted_sum

REAL = tf.constant([[2.0], [0.5], [-1.0]])
FAKE = tf.constant([[-2.0], [0.0], [1.5]])


def test_wgan_values():
    np.testing.assert_allclose(d_loss(REAL, FAKE, "wgan-gp"), [-4.0, -0.5, 2.5])
    np.testing.assert_allclose(g_loss(FAKE, "wgan-gp"), [2.0, 0.0, -1.5])


def test_hinge_values():
    # relu(1 - r) + relu(1 + f)
    np.testing.assert_allclose(d_loss(REAL, FAKE, "hinge"), [0.0, 1.5, 4.5])
    np.testing.assert_allclose(g_loss(FAKE, "hinge"), [2.0, 0.0, -1.5])


def test_lsgan_values():
    # (r - 1)^2 + f^2 ; G: (f - 1)^2
    np.testing.assert_allclose(d_loss(REAL, FAKE, "lsgan"), [5.0, 0.25, 6.25])
    np.testing.assert_allclose(g_loss(FAKE, "lsgan"), [9.0, 1.0, 0.25])


def test_score_maps_and_lists():
    real_map = tf.constant([[[2.0], [0.0]]])               # [1, 2, 1]: hinge per position then mean
    fake_map = tf.constant([[[0.0], [-3.0]]])
    np.testing.assert_allclose(d_loss(real_map, fake_map, "hinge"), [(0 + 1) / 2 + (1 + 0) / 2])
    # a list of score maps sums over scales
    np.testing.assert_allclose(g_loss([FAKE, FAKE], "lsgan"), 2 * g_loss(FAKE, "lsgan").numpy())
    with pytest.raises(ConfigError, match="loss"):
        d_loss(REAL, FAKE, "wasserstein")


def _linear_critic(w):
    w = tf.constant(w, tf.float32)
    return lambda x: tf.reduce_sum(x * w, axis=[1, 2])[:, None]


def test_gradient_penalty_linear_critic():
    rng = np.random.default_rng(0)
    real = tf.constant(rng.normal(size=[4, 16, 2]), tf.float32)
    fake = tf.constant(rng.normal(size=[4, 16, 2]), tf.float32)
    w = rng.normal(size=[16, 2])
    unit = w / np.linalg.norm(w)
    gp = gradient_penalty(_linear_critic(unit), real, fake)
    assert gp.shape == (4,)
    np.testing.assert_allclose(gp, 0.0, atol=1e-6)
    gp2 = gradient_penalty(_linear_critic(2 * unit), real, fake, alpha=tf.constant([0.0, 0.3, 0.7, 1.0]))
    np.testing.assert_allclose(gp2, 1.0, atol=1e-5)        # (||2w|| - 1)^2
    gp_half = gradient_penalty(_linear_critic(0.5 * unit), real, fake)
    assert np.all(gp_half.numpy() > 0.2)


def test_gradient_penalty_critic_with_several_score_maps():
    x = tf.random.normal([2, 8, 2])
    critic = lambda v: [v[..., :1], v[:, ::2, 1:]]             # one score map per head (critics.Critic.scores)
    gp = gradient_penalty(critic, x, x * 0.0)
    assert gp.shape == (2,) and np.all(np.isfinite(gp.numpy()))


def test_feature_matching():
    real = [tf.ones([2, 4, 3]), [tf.zeros([2, 5])]]
    fake = [tf.zeros([2, 4, 3]), [tf.constant([[1.0] * 5, [3.0] * 5])]]
    np.testing.assert_allclose(feature_matching(real, fake), [(1 + 1) / 2, (1 + 3) / 2])
    with tf.GradientTape(persistent=True) as tape:
        r, f = tf.ones([2, 3]), tf.zeros([2, 3])
        tape.watch([r, f])
        loss = tf.reduce_sum(feature_matching(r, f))
    assert tape.gradient(loss, r) is None                  # real features are constants
    assert tape.gradient(loss, f) is not None


def test_weighted_sum_skips_zero_weights():
    a, b = tf.constant([1.0, 2.0]), tf.constant([np.nan, np.nan])
    np.testing.assert_allclose(weighted_sum([(2.0, a), (0.0, b)]), [2.0, 4.0])
    with pytest.raises(ConfigError):
        weighted_sum([(0.0, a)])

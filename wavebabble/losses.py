"""GAN losses, per example (shape [batch]) so a distributed trainer can average them with
`tf.nn.compute_average_loss(per_example, global_batch_size=...)`.

Scores: a tensor [batch, 1] or a score map [batch, t, 1] (averaged over every non-batch axis, after
the element-wise loss, so hinge/LSGAN apply per position as in MelGAN), or a list of them (e.g. the
multi-scale D's score maps, see critics.heads_of), whose per-example losses are summed.

    d_loss(real_scores, fake_scores, kind) -> [B]   kind in config.LOSSES:
        "wgan-gp": fake - real                     (add gp_weight * gradient_penalty yourself)
        "hinge":   relu(1 - real) + relu(1 + fake)
        "lsgan":   (real - 1)^2 + fake^2
    g_loss(fake_scores, kind) -> [B]:  wgan-gp / hinge: -fake;  lsgan: (fake - 1)^2
    gradient_penalty(critic, real, fake, alpha=None) -> [B]: (||d critic(x_hat) / d x_hat||_2 - 1)^2 with
        x_hat = alpha * real + (1 - alpha) * fake, alpha ~ U(0, 1) per example. UNWEIGHTED: the caller
        multiplies by cfg.gp_weight (lambda), e.g. via weighted_sum.
    feature_matching(real_feats, fake_feats) -> [B]: mean over feature maps of the per-example mean
        L1 distance; real features are treated as constants (stop_gradient).
    weighted_sum([(weight, per_example), ...]) -> [B]: sum of weight * loss, skipping weight 0 terms
        (cfg.wave_weight / ms_weight / timing_weight / fm_weight = 0 removes that term entirely).
"""
from __future__ import annotations

import tensorflow as tf

from wavebabble.config import LOSSES
from wavebabble.errors import ConfigError

WGAN = "wgan-gp"
HINGE = "hinge"
LSGAN = "lsgan"
HINGE_MARGIN = 1.0
LSGAN_REAL_TARGET = 1.0
GP_TARGET_NORM = 1.0
GP_EPS = 1e-12                # keeps sqrt differentiable at a zero gradient


def _check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ConfigError(f"config field 'loss' = {kind!r}: must be one of {LOSSES}")


def per_example_mean(x: tf.Tensor) -> tf.Tensor:
    """[batch, ...] -> [batch]: mean over all non-batch axes ([batch] passes through)."""
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 1:
        return x
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def _as_list(scores) -> list:
    return list(scores) if isinstance(scores, (list, tuple)) else [scores]


def _sum_over(scores, fn) -> tf.Tensor:
    return tf.add_n([per_example_mean(fn(tf.cast(s, tf.float32))) for s in _as_list(scores)])


def d_loss(real_scores, fake_scores, kind: str) -> tf.Tensor:
    """Discriminator loss per example [batch]. See the module docstring."""
    _check_kind(kind)
    if kind == WGAN:
        return _sum_over(fake_scores, lambda f: f) - _sum_over(real_scores, lambda r: r)
    if kind == HINGE:
        return (_sum_over(real_scores, lambda r: tf.nn.relu(HINGE_MARGIN - r))
                + _sum_over(fake_scores, lambda f: tf.nn.relu(HINGE_MARGIN + f)))
    return (_sum_over(real_scores, lambda r: tf.square(r - LSGAN_REAL_TARGET))
            + _sum_over(fake_scores, tf.square))


def g_loss(fake_scores, kind: str) -> tf.Tensor:
    """Generator adversarial loss per example [batch]. See the module docstring."""
    _check_kind(kind)
    if kind == LSGAN:
        return _sum_over(fake_scores, lambda f: tf.square(f - LSGAN_REAL_TARGET))
    return _sum_over(fake_scores, lambda f: -f)


def gradient_penalty(critic, real, fake, alpha=None) -> tf.Tensor:
    """WGAN-GP penalty per example [batch] (unweighted; multiply by cfg.gp_weight).

    critic: callable x [batch, ...] -> a score map [batch, ...] or a list of them (critics.Critic.scores).
    real, fake: same shape [batch, ...].
    alpha: optional [batch] interpolation weights; default U(0, 1) per example.
    """
    real = tf.convert_to_tensor(real)
    fake = tf.convert_to_tensor(fake)
    batch = tf.shape(real)[0]
    if alpha is None:
        alpha = tf.random.uniform([batch], 0.0, 1.0, dtype=real.dtype)
    alpha = tf.reshape(tf.cast(alpha, real.dtype), [-1] + [1] * (real.shape.rank - 1))
    x_hat = alpha * real + (1.0 - alpha) * fake
    with tf.GradientTape() as tape:
        tape.watch(x_hat)
        scores = _sum_over(critic(x_hat), lambda s: s)
    grads = tape.gradient(scores, x_hat)
    grads = tf.reshape(grads, [batch, -1])
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + GP_EPS)
    return tf.square(norm - GP_TARGET_NORM)


def _flatten(feats) -> list:
    if isinstance(feats, (list, tuple)):
        return [t for f in feats for t in _flatten(f)]
    return [feats]


def feature_matching(real_feats, fake_feats) -> tf.Tensor:
    """Mean L1 distance between matching feature maps, per example [batch].

    real_feats, fake_feats: a tensor or (nested) lists of tensors [batch, ...] with equal structure,
    e.g. the first element of critics.heads_of(ms_D(x)). Real features get stop_gradient.
    """
    real, fake = _flatten(real_feats), _flatten(fake_feats)
    if len(real) != len(fake) or not real:
        raise ValueError(f"feature_matching: {len(real)} real vs {len(fake)} fake feature maps")
    terms = [per_example_mean(tf.abs(tf.stop_gradient(r) - f)) for r, f in zip(real, fake)]
    return tf.add_n(terms) / float(len(terms))


def weighted_sum(terms) -> tf.Tensor:
    """[(weight, per_example [batch]), ...] -> [batch], skipping terms whose weight is 0."""
    used = [w * t for w, t in terms if w]
    if not used:
        raise ConfigError("weighted_sum: every loss weight is 0 (check wave_weight/ms_weight/timing_weight)")
    return tf.add_n(used)


STFT_RESOLUTIONS = (128, 256, 512)   # multi-resolution STFT loss: FFT sizes (hop = size / 4, Hann window)
STFT_EPS = 1e-5


def multi_resolution_stft(real: tf.Tensor, fake: tf.Tensor, sizes=STFT_RESOLUTIONS) -> tf.Tensor:
    """Spectral convergence + log-magnitude L1, averaged over FFT sizes (Yamamoto et al. 2020): a scalar.

    real, fake: [batch, samples]. Spectral convergence is taken over the whole batch (Frobenius norms of all
    magnitudes), so a silent example does not divide by ~0. Real gets stop_gradient.
    """
    real = tf.stop_gradient(real)
    terms = []
    for n in sizes:
        r = tf.abs(tf.signal.stft(real, n, n // 4, n, window_fn=tf.signal.hann_window))
        f = tf.abs(tf.signal.stft(fake, n, n // 4, n, window_fn=tf.signal.hann_window))
        sc = tf.norm(r - f) / (tf.norm(r) + STFT_EPS)
        mag = tf.reduce_mean(tf.abs(tf.math.log(r + STFT_EPS) - tf.math.log(f + STFT_EPS)))
        terms.append(sc + mag)
    return tf.add_n(terms) / float(len(terms))

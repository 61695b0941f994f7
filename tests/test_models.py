"""Models: shapes for every preset and slice length, exact WaveGAN parameter counts, phase shuffle,
multi-scale outputs, turn-timing D (VAD-only input, gradients reach G through soft_vad)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from wavebabble.critics import heads_of
from wavebabble.config import PRESETS, SUPPORTED_SLICE_LENS, WAVEGAN_KERNEL_LEN, get_config
from wavebabble.errors import ConfigError
from wavebabble.losses import g_loss
from wavebabble.models import (build_generator, build_multiscale_discriminator, build_timing_discriminator,
                               build_wave_discriminator)
from wavebabble.models.layers import CausalHighPass, PolyphaseConv1DTranspose
from wavebabble.models.phase_shuffle import PhaseShuffle
from wavebabble.models.timing_discriminator import MinibatchStd, timing_dilations, timing_receptive_field
from wavebabble.vad import soft_vad

TINY = dict(model_dim=4, ms_dim=4, ms_groups=2, timing_dim=8)
WAVEGAN_G_PARAMS = 19_065_345
WAVEGAN_D_PARAMS = 17_427_969


def _z(cfg, batch=1, seed=0):
    return tf.random.stateless_uniform([batch, cfg.latent_dim], [seed, 1], -1.0, 1.0)


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_shapes(preset):
    cfg = get_config(preset, **TINY)
    audio = build_generator(cfg)(_z(cfg))
    assert audio.shape == (1, cfg.slice_len, cfg.nch)
    assert float(tf.reduce_max(tf.abs(audio))) <= 1.0
    assert build_wave_discriminator(cfg)(audio).shape == (1, 1)
    ms = build_multiscale_discriminator(cfg)(audio)
    assert len(ms) == cfg.ms_scales
    vad = soft_vad(audio, cfg.sample_rate, cfg.frame_hz, cfg.vad_threshold_db, cfg.vad_temperature_db)
    assert vad.shape == (1, cfg.num_frames, cfg.nch)
    if cfg.timing_weight > 0:
        assert build_timing_discriminator(cfg)(vad).shape == (1, 1)


@pytest.mark.parametrize("slice_len", SUPPORTED_SLICE_LENS)
@pytest.mark.parametrize("gate", [False, True])
def test_generator_and_wave_d_shapes(slice_len, gate):
    cfg = get_config("demo", slice_len=slice_len, g_activity_gate=gate, model_dim=2)
    audio = build_generator(cfg)(_z(cfg))
    assert audio.shape == (1, slice_len, 2)
    assert np.all(np.isfinite(audio.numpy())) and float(tf.reduce_max(tf.abs(audio))) <= 1.0
    assert build_wave_discriminator(cfg)(audio).shape == (1, 1)


def test_timing_d_all_slice_lengths():
    for slice_len in SUPPORTED_SLICE_LENS:
        cfg = get_config("demo", slice_len=slice_len, timing_dim=4)
        dil = timing_dilations(cfg.num_frames)
        assert timing_receptive_field(dil) >= cfg.num_frames
        assert build_timing_discriminator(cfg)(tf.zeros([2, cfg.num_frames, 2])).shape == (2, 1)


def test_exact_wavegan_parameter_counts():
    cfg = get_config("paper")
    assert build_generator(cfg).count_params() == WAVEGAN_G_PARAMS
    assert build_generator(cfg, transpose_impl="polyphase").count_params() == WAVEGAN_G_PARAMS
    assert build_wave_discriminator(cfg).count_params() == WAVEGAN_D_PARAMS


def test_polyphase_transpose_matches_keras():
    cfg = get_config("demo", model_dim=2, slice_len=16384)
    g_poly, g_keras = build_generator(cfg, "polyphase"), build_generator(cfg, "keras")
    g_keras.set_weights(g_poly.get_weights())      # identical variable layout
    z = _z(cfg, batch=2)
    np.testing.assert_allclose(g_poly(z).numpy(), g_keras(z).numpy(), atol=1e-5)
    x = tf.random.normal([2, 7, 3])
    for kernel, stride in [(25, 4), (25, 2), (5, 4), (4, 2)]:
        ref = keras.layers.Conv1DTranspose(5, kernel, strides=stride, padding="same")
        ref.build(x.shape)
        ref.bias.assign(tf.random.normal([5]))
        poly = PolyphaseConv1DTranspose(5, kernel, stride)
        poly.build(x.shape)
        poly.set_weights(ref.get_weights())
        np.testing.assert_allclose(poly(x).numpy(), ref(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("slice_len", SUPPORTED_SLICE_LENS)
def test_activity_gate_is_a_per_speaker_envelope(slice_len):
    """The gate head has nch sigmoid outputs at >= VAD frame rate; it multiplies the waveform per channel."""
    cfg = get_config("demo", slice_len=slice_len, model_dim=2, g_activity_gate=False)
    plain, gated = build_generator(cfg), build_generator(cfg.replace(g_activity_gate=True))
    head = gated.get_layer("activity_gate")
    gate_len, in_ch = head.output.shape[1], head.input.shape[-1]
    assert cfg.num_frames <= gate_len < 4 * cfg.num_frames
    assert gated.count_params() == plain.count_params() + WAVEGAN_KERNEL_LEN * in_ch * 2 + 2
    # Same weights elsewhere: gated output == plain output * the gate, repeated to full rate per channel.
    for layer in plain.layers:
        gated.get_layer(layer.name).set_weights(layer.get_weights())
    z = _z(cfg, batch=2)
    gate = keras.Model(gated.input, gated.get_layer("activity_gate_repeat").output)(z).numpy()
    assert gate.shape == (2, slice_len, 2)
    np.testing.assert_allclose(gated(z).numpy(), plain(z).numpy() * gate, atol=1e-6)
    hop = slice_len // gate_len
    np.testing.assert_array_equal(gate[:, ::hop], gate[:, hop - 1::hop])
    # The head's weights are per speaker: a bias of -30 on speaker B's gate silences only speaker B.
    kernel, bias = head.get_weights()
    head.set_weights([kernel, np.array([0.0, -30.0], np.float32)])
    out = gated(z).numpy()
    assert np.max(np.abs(out[..., 1])) < 1e-6 and np.max(np.abs(out[..., 0])) > 0


def test_activity_gate_needs_a_layer_at_frame_rate():
    with pytest.raises(ConfigError, match="g_activity_gate"):
        build_generator(get_config("demo", model_dim=2, slice_len=16384, frame_hz=4000, g_activity_gate=True))


def _reflect_shift(x, k):
    """x [B, T, C] shifted right by k with reflect padding: y[:, t] = x[:, t - k]."""
    t = x.shape[1]
    pad = np.pad(x, [(0, 0), (max(k, 0), max(-k, 0)), (0, 0)], mode="reflect")
    return pad[:, max(-k, 0):max(-k, 0) + t]


def test_phase_shuffle_only_shifts():
    radius = 2
    layer = PhaseShuffle(radius)
    x = np.random.default_rng(0).normal(size=[3, 20, 4]).astype(np.float32)
    for k in range(-radius, radius + 1):
        np.testing.assert_array_equal(layer(x, shift=k).numpy(), _reflect_shift(x, k))
    seen = set()
    for _ in range(40):
        y = layer(x, training=True).numpy()
        assert y.shape == x.shape
        matches = [k for k in range(-radius, radius + 1) if np.array_equal(y, _reflect_shift(x, k))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 1                                   # it really is random
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)


def test_wave_d_uses_phase_shuffle_by_default():
    cfg = get_config("demo", model_dim=2, slice_len=16384)
    d = build_wave_discriminator(cfg)
    x = tf.random.normal([1, cfg.slice_len, 2])
    assert float(tf.reduce_max(tf.abs(d(x, training=False) - d(x, training=False)))) == 0.0
    outs = {round(float(d(x)[0, 0]), 6) for _ in range(12)}
    assert len(outs) > 1


def test_multiscale_returns_features_and_score_maps():
    cfg = get_config("demo", **TINY)
    ms = build_multiscale_discriminator(cfg)(tf.random.normal([2, cfg.slice_len, 2]))
    assert len(ms) == cfg.ms_scales == 3
    feats, scores = heads_of(ms)
    assert len(scores) == 3 and len(feats) == 3 * (len(ms[0]) - 1) and len(ms[0]) >= 3
    lengths = [s.shape[1] for s in scores]
    assert all(s.shape[0] == 2 and s.shape[-1] == 1 for s in scores)
    assert lengths[0] == 2 * lengths[1] == 4 * lengths[2]    # 1x, 1/2x, 1/4x


def test_timing_d_sees_only_vad():
    cfg = get_config("demo", timing_dim=4)
    d = build_timing_discriminator(cfg)
    assert len(d.inputs) == 1 and tuple(d.inputs[0].shape) == (None, cfg.num_frames, 2)
    with pytest.raises(Exception):
        d(tf.zeros([1, cfg.slice_len, 2]))
    with pytest.raises(ConfigError, match="nch"):
        build_timing_discriminator(cfg.replace(nch=1))


def test_minibatch_std_feature():
    """[B, frames, C] -> [B, frames, 2C]: input kept, then each frame's std across the batch (same for all rows)."""
    x = tf.random.uniform([3, 7, 4])
    y = MinibatchStd()(x).numpy()
    assert y.shape == (3, 7, 8)
    np.testing.assert_allclose(y[..., :4], x.numpy())
    np.testing.assert_allclose(y[0, :, 4:], np.std(x.numpy(), axis=0), atol=1e-4)
    assert np.all(y[1:, :, 4:] == y[:1, :, 4:])
    same = MinibatchStd()(tf.repeat(x[:1], 3, axis=0)).numpy()[..., 4:]      # identical patterns -> std ~0
    assert np.all(same < 1e-3)


@pytest.mark.parametrize("mbstd", [False, True])
def test_timing_d_minibatch_std_option(mbstd):
    """cfg.timing_minibatch_std adds the std channels; the score then depends on the rest of the batch."""
    cfg = get_config("demo", timing_dim=4, timing_minibatch_std=mbstd)
    d = build_timing_discriminator(cfg)
    assert any(layer.name == "timing_minibatch_std" for layer in d.layers) == mbstd
    vad = tf.random.uniform([2, cfg.num_frames, 2])
    alone = d(vad[:1]).numpy()
    together = d(vad).numpy()[:1]
    assert together.shape == alone.shape == (1, 1)
    assert (not np.allclose(alone, together, atol=1e-6)) == mbstd


def test_timing_loss_gradients_reach_generator():
    """G -> soft_vad -> timing D -> g_loss only: every G variable gets a finite, non-zero gradient."""
    cfg = get_config("demo", model_dim=4, timing_dim=8, timing_minibatch_std=True)
    gen, dis = build_generator(cfg), build_timing_discriminator(cfg)
    z = _z(cfg, batch=2)
    with tf.GradientTape() as tape:
        audio = gen(z, training=True)
        vad = soft_vad(audio, cfg.sample_rate, cfg.frame_hz, cfg.vad_threshold_db, cfg.vad_temperature_db)
        loss = tf.reduce_mean(g_loss(dis(vad, training=True), "wgan-gp"))
    grads = tape.gradient(loss, gen.trainable_variables)
    for var, g in zip(gen.trainable_variables, grads):
        assert g is not None, var.path
        g = g.numpy()
        assert np.all(np.isfinite(g)), var.path
        assert np.any(g != 0.0), var.path


def test_grouped_conv_matches_keras():
    from wavebabble.models.layers import GroupedConv1D
    x = tf.random.normal([2, 50, 8])
    ref = keras.layers.Conv1D(12, 41, strides=4, padding="same", groups=4)
    ref.build(x.shape)
    ref.bias.assign(tf.random.normal([12]))
    mine = GroupedConv1D(12, 41, strides=4, groups=4)
    mine.build(x.shape)
    mine.set_weights(ref.get_weights())
    np.testing.assert_allclose(mine(x).numpy(), ref(x).numpy(), atol=1e-5)


def test_causal_high_pass_is_the_butterworth_filter_without_look_ahead():
    from scipy import signal

    sr, n = 8000, 4000
    hp = CausalHighPass(60.0, sr, 4, 320)
    x = np.random.default_rng(0).standard_normal((2, n, 3)).astype(np.float32)
    y = hp(tf.constant(x)).numpy()
    sos = signal.butter(4, 60.0, "highpass", fs=sr, output="sos")
    err = y - signal.sosfilt(sos, x, axis=1)
    assert np.sqrt(np.mean(err ** 2)) < 1e-3 and np.abs(err).max() < 1e-2      # the FIR truncation only
    later = x.copy()
    later[:, 2000:] = 0.0           # the output up to t reads no sample after t
    np.testing.assert_allclose(hp(tf.constant(later)).numpy()[:, :2000], y[:, :2000], atol=1e-6)
    t = np.arange(n) / sr
    for hz, lo, hi in ((20.0, 0.0, 0.02), (300.0, 0.99, 1.01)):    # gain in steady state: -38 dB and ~0 dB
        tone = np.sin(2 * np.pi * hz * t).astype(np.float32)[None, :, None]
        out = hp(tf.constant(tone)).numpy()[0, n // 2:, 0]
        assert lo <= np.abs(out).max() <= hi, (hz, np.abs(out).max())

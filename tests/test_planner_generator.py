"""Generator v2 (models/planner_generator.py): shapes, causal planner, any length, ICNR start, export."""
import numpy as np
import pytest
import tensorflow as tf

from wavebabble.config import PLAN_HOP, get_config
from wavebabble.errors import ConfigError
from wavebabble.models import build_generator
from wavebabble.models.layers import LinearUpsample1D
from wavebabble.models.planner_generator import ICNR, build_planner_generator

NOISE = 2                      # noise values per planner frame in these tests


def tiny(**kw):
    frames = 16384 // PLAN_HOP
    return get_config("demo", slice_len=16384, model_dim=2, generator="planner",
                      latent_dim=frames * NOISE, g_activity_gate=False, **kw)


def _z(rng, n, frames):
    return rng.uniform(-1, 1, (n, frames * NOISE)).astype(np.float32)


def test_planner_generator_shapes_range_and_both_transpose_forms():
    cfg = tiny()
    tf.keras.utils.set_random_seed(0)
    g = build_generator(cfg)
    z = _z(np.random.default_rng(0), 3, cfg.slice_len // PLAN_HOP)
    y = g(z).numpy()
    assert y.shape == (3, cfg.slice_len, 2) and np.all(np.abs(y) < 1)
    assert not np.allclose(y[..., 0], y[..., 1])            # two speakers, not one copied
    poly = build_generator(cfg, "polyphase")
    poly.set_weights(g.get_weights())
    np.testing.assert_allclose(poly(z).numpy(), y, atol=1e-5)


def test_planner_config_checks():
    with pytest.raises(ConfigError, match="latent_dim"):
        get_config("demo", generator="planner", latent_dim=100, g_activity_gate=False)
    with pytest.raises(ConfigError, match="g_activity_gate"):
        get_config("demo", generator="planner", latent_dim=2048)
    with pytest.raises(ConfigError, match="generator"):
        get_config("demo", generator="melgan")


def test_planner_is_causal_and_the_same_weights_render_any_length():
    """Noise after frame f never changes the output before f (minus the renderer's reach), and a model built for
    twice the frames, fed the same noise followed by more, starts with the training model's output."""
    cfg = tiny()
    frames = cfg.slice_len // PLAN_HOP
    tf.keras.utils.set_random_seed(1)
    g = build_generator(cfg)
    rng = np.random.default_rng(1)
    z = _z(rng, 1, frames)
    changed = z.copy()
    changed[0, (frames // 2) * NOISE:] = rng.uniform(-1, 1, (frames - frames // 2) * NOISE)
    margin = 8 * PLAN_HOP                                     # more than the renderer's receptive field
    cut = (frames // 2) * PLAN_HOP - margin
    a, b = g(z).numpy(), g(changed).numpy()
    np.testing.assert_allclose(a[:, :cut], b[:, :cut], atol=1e-6)
    assert not np.allclose(a[:, cut + 2 * margin:], b[:, cut + 2 * margin:])
    long = build_planner_generator(cfg, frames=2 * frames)
    long.set_weights(g.get_weights())
    y = long(np.concatenate([z, _z(rng, 1, frames)], axis=1)).numpy()
    assert y.shape == (1, 2 * cfg.slice_len, 2)
    np.testing.assert_allclose(y[:, :cfg.slice_len - margin], a[:, :cfg.slice_len - margin], atol=1e-5)


def test_icnr_starts_every_output_phase_alike():
    kernel = ICNR(4, seed=0)((8, 3, 5)).numpy()
    for phase in range(4):
        np.testing.assert_array_equal(kernel[phase], kernel[0])
        np.testing.assert_array_equal(kernel[4 + phase], kernel[4])
    assert not np.array_equal(kernel[0], kernel[4])
    # nearest-neighbour start: a constant input gives a constant output away from the edges (no checkerboard)
    layer = tf.keras.layers.Conv1DTranspose(3, 8, strides=4, padding="same", kernel_initializer=ICNR(4, seed=0))
    y = layer(np.ones((1, 16, 5), np.float32)).numpy()[0, 8:-8]
    np.testing.assert_allclose(y, np.broadcast_to(y[0], y.shape), atol=1e-5)


def test_linear_upsample_ramps_between_frame_centres():
    x = np.array([[[0.0], [1.0], [1.0], [0.0]]], np.float32)
    y = LinearUpsample1D(4)(x).numpy()[0, :, 0]
    np.testing.assert_allclose(y, [0, 0, .125, .375, .625, .875, 1, 1, 1, 1, .875, .625, .375, .125, 0, 0])


def test_planner_generator_exports_and_serves(tmp_path):
    from wavebabble.export import export_generator

    cfg = tiny()
    tf.keras.utils.set_random_seed(2)
    g = build_generator(cfg)
    out = export_generator(g, cfg, tmp_path / "model")
    served = tf.saved_model.load(str(out)).signatures["serving_default"]
    z = _z(np.random.default_rng(2), 2, cfg.slice_len // PLAN_HOP)
    np.testing.assert_allclose(served(z=tf.constant(z))["audio"].numpy(), g(z).numpy(), atol=1e-4)

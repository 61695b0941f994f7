"""The GAN's training options: the moving average of G's weights (g_ema_decay: update rule, checkpoint, export,
resume check), feature matching on critics that return features (fm_weight), the annealed surrogate gradient,
and the critic interface (every critic treated alike)."""
import numpy as np
import pytest
import tensorflow as tf

import train_helpers
from wavebabble import export
from wavebabble.config import get_config
from wavebabble.errors import ConfigError
from wavebabble import critics
from wavebabble.gan import EMA_WARMUP, GAN
from wavebabble.run_dir import RunCheckpoints, check_resume_compatible, write_config

DECAY = 0.5


def _cfg(**kw):
    return get_config("demo", **{**train_helpers.TINY, **kw})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return train_helpers.write_dialogues(tmp_path_factory.mktemp("dialogues"))


def _weights(model):
    return [np.array(v.numpy()) for v in model.weights]


def test_ema_follows_the_update_rule_and_is_served(data_dir, tmp_path):
    cfg = _cfg(g_ema_decay=DECAY)
    trainer = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=1)
    np.testing.assert_array_equal(np.concatenate([w.ravel() for w in _weights(trainer.ema_generator)]),
                                  np.concatenate([w.ravel() for w in _weights(trainer.generator)]))
    it = trainer.make_iterator(data_dir)
    ema = _weights(trainer.ema_generator)
    for step in range(3):
        trainer.train_step(it)
        decay = min(DECAY, (1.0 + step) / (EMA_WARMUP + step))
        ema = [decay * e + (1 - decay) * g for e, g in zip(ema, _weights(trainer.generator))]
        for got, want in zip(_weights(trainer.ema_generator), ema):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert max(np.abs(e - g).max() for e, g in zip(ema, _weights(trainer.generator))) > 0   # not a copy of G
    z = np.random.default_rng(0).uniform(-1, 1, (2, cfg.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(trainer.generate(z), trainer.ema_generator(z, training=False).numpy(), atol=1e-6)

    # checkpoint -> export restores the average, not the raw generator
    write_config(cfg, tmp_path)
    RunCheckpoints(trainer, tmp_path).save()
    restored, _ = export.load_generator_from_logdir(tmp_path)
    for got, want in zip(_weights(restored), _weights(trainer.ema_generator)):
        np.testing.assert_array_equal(got, want)


def test_switching_the_moving_average_on_or_off_is_refused_on_resume():
    with pytest.raises(ConfigError, match="moving average"):
        check_resume_compatible(_cfg(g_ema_decay=0.0), _cfg(g_ema_decay=0.99))
    check_resume_compatible(_cfg(g_ema_decay=0.9), _cfg(g_ema_decay=0.99))   # only the rate: allowed
    with pytest.raises(ConfigError, match="g_ema_decay"):
        _cfg(g_ema_decay=1.0)


def _copy_weights(src: GAN, dst: GAN) -> None:
    dst.generator.set_weights(src.generator.get_weights())
    for name, c in src.critics.items():
        dst.critics[name].model.set_weights(c.model.get_weights())


def test_feature_matching_adds_a_term_for_critics_with_features(data_dir):
    """fm_weight > 0: G's loss gains fm_weight x the L1 distance of the multi-scale D's feature maps (the only
    critic that returns features); the other critics' terms are unchanged."""
    cfg = _cfg(ms_weight=1.0, fm_weight=2.0, phase_shuffle=0)
    gan = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=2)
    plain = GAN(cfg.replace(fm_weight=0.0), tf.distribute.OneDeviceStrategy("/cpu:0"), seed=2)
    _copy_weights(gan, plain)
    real = tf.cast(next(gan.make_iterator(data_dir)), tf.float32)
    z = tf.random.uniform([cfg.batch_size, cfg.latent_dim], -1, 1, seed=0)
    _, logs = gan._g_grads(real, z)
    _, plain_logs = plain._g_grads(real, z)
    assert set(logs) - set(plain_logs) == {"g_fm_ms"}
    for key in plain_logs:
        if key != "g_total":
            np.testing.assert_allclose(float(logs[key]), float(plain_logs[key]), rtol=1e-5)
    np.testing.assert_allclose(float(logs["g_total"]), float(plain_logs["g_total"]) + 2.0 * float(logs["g_fm_ms"]),
                               rtol=1e-5)
    assert float(logs["g_fm_ms"]) > 0


def test_a_new_critic_is_one_registry_line(data_dir, monkeypatch):
    """A critic added to the registry (here: a second turn-timing D reading the soft VAD, weighted by ms_weight)
    is built, checkpointed and trained like the others, with no change to the training step."""
    monkeypatch.setitem(critics.CRITICS, "ms", critics.CriticSpec("ms_weight", critics.CRITICS["timing"].build,
                                                                  critics.read_soft_vad))
    cfg = _cfg(ms_weight=0.5)
    gan = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=5)
    assert list(gan.critics) == ["wave", "ms", "timing"] and gan.critics["ms"].weight == 0.5
    assert "ms_d" in dict(gan.models())
    before = [np.array(v) for v in gan.critics["ms"].trainable_variables]
    losses, _ = gan.train_step(gan.make_iterator(data_dir))
    assert {"d_ms", "g_ms", "d_timing", "g_timing"} <= set(losses)
    assert any(np.abs(np.array(v) - b).max() > 0 for v, b in zip(gan.critics["ms"].trainable_variables, before))


def test_heads_of_reads_every_output_shape():
    score = tf.zeros([2, 1])
    feats, scores = critics.heads_of(score)
    assert feats == [] and len(scores) == 1 and scores[0] is score
    f1, f2, s1, s2 = (tf.zeros([2, 3]) for _ in range(4))
    feats, scores = critics.heads_of([[f1, s1], [f2, s2]])
    assert [id(t) for t in feats] == [id(f1), id(f2)] and [id(t) for t in scores] == [id(s1), id(s2)]


def test_surrogate_gradient_annealing_follows_the_training_step(data_dir):
    """vad_grad_anneal_*: at step 0 G's gradient is the constant surrogate's, once annealed it is the sharp VAD's;
    the step is read when the traced gradient function runs, not frozen when it was traced."""
    base = _cfg(phase_shuffle=0, vad_threshold_db=-30.0, vad_grad_temperature_db=0.0, vad_grad_anneal_start=0,
                vad_grad_anneal_steps=0)                        # deterministic gradients, no surrogate
    annealed_cfg = base.replace(vad_grad_temperature_db=10.0, vad_grad_anneal_start=1, vad_grad_anneal_steps=2)
    trainers = {k: GAN(c, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=4)
                for k, c in (("annealed", annealed_cfg), ("sharp", base),
                             ("broad", base.replace(vad_grad_temperature_db=10.0)))}
    for other in ("sharp", "broad"):
        _copy_weights(trainers["annealed"], trainers[other])
    real = tf.cast(next(trainers["annealed"].make_iterator(data_dir)), tf.float32)
    z = tf.random.uniform([base.batch_size, base.latent_dim], -1, 1, seed=0)

    def grads(key):
        return trainers[key]._g_grads_fn(real, z)[0]

    def diff(a, b):
        return max(float(tf.reduce_max(tf.abs(x - y))) for x, y in zip(a, b))

    sharp, broad = grads("sharp"), grads("broad")
    scale = max(float(tf.reduce_max(tf.abs(g))) for g in broad)
    assert diff(sharp, broad) > 1e-3 * scale                       # the surrogate changes G's gradient
    assert diff(grads("annealed"), broad) <= 1e-5 * scale          # step 0: surrogate weight 1
    trainers["annealed"].step.assign(2)                            # halfway: the mean of the two
    half = [(a + b) / 2 for a, b in zip(sharp, broad)]
    assert diff(grads("annealed"), half) <= 1e-5 * scale
    trainers["annealed"].step.assign(3)                            # annealed: the sharp VAD's own gradient
    assert diff(grads("annealed"), sharp) <= 1e-5 * scale


def test_the_multi_scale_critic_reads_one_random_window_per_clip(data_dir):
    """ms_window > 0: each clip's view is a contiguous ms_window-sample slice of it, at its own offset; training
    with it runs (the multi-scale D is fully convolutional)."""
    cfg = _cfg(ms_weight=1.0, ms_window=2048)
    audio = tf.reshape(tf.range(4 * cfg.slice_len * 2, dtype=tf.float32), [4, cfg.slice_len, 2])
    tf.random.set_seed(3)
    windows = critics.read_window(audio, cfg, step=0).numpy()
    assert windows.shape == (4, 2048, 2)
    a = audio.numpy()
    offsets = [int(np.argwhere(a[i, :, 0] == windows[i, 0, 0])[0, 0]) for i in range(4)]
    for i, o in enumerate(offsets):
        np.testing.assert_array_equal(windows[i], a[i, o:o + 2048])
    assert len(set(offsets)) > 1
    assert critics.read_window(audio, cfg.replace(ms_window=0), step=0) is audio
    gan = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=4)
    losses, _ = gan.train_step(gan.make_iterator(data_dir))
    assert np.isfinite(losses["d_ms"]) and np.isfinite(losses["g_ms"])

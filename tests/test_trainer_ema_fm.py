"""Trainer options for the turn-timing ablation: the moving average of G's weights (g_ema_decay: update rule,
checkpoint, export, resume check), feature matching on the turn-timing D (timing_fm_weight) and matching of its
turn statistics (timing_stats_weight)."""
import numpy as np
import pytest
import tensorflow as tf

import train_helpers
from wavebabble import export
from wavebabble.config import get_config
from wavebabble.errors import ConfigError
from wavebabble.trainer import EMA_WARMUP, GANTrainer, RunCheckpoints, check_resume_compatible, write_config

DECAY = 0.5


def _cfg(**kw):
    return get_config("demo", **{**train_helpers.TINY, **kw})


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return train_helpers.write_dialogues(tmp_path_factory.mktemp("dialogues"))


def _weights(model):
    return [np.array(v.numpy()) for v in model.weights]


def test_ema_follows_the_update_rule_and_is_served(data_dir, tmp_path):
    cfg = _cfg(g_ema_decay=DECAY, vad_adaptive=True)
    trainer = GANTrainer(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=1)
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
        check_resume_compatible(_cfg(), _cfg(g_ema_decay=0.99))
    check_resume_compatible(_cfg(g_ema_decay=0.9), _cfg(g_ema_decay=0.99))   # only the rate: allowed
    with pytest.raises(ConfigError, match="g_ema_decay"):
        _cfg(g_ema_decay=1.0)


@pytest.mark.parametrize("field, log_key, extra", [("timing_fm_weight", "g_timing_fm", {}),
                                                    ("timing_stats_weight", "g_timing_stats",
                                                     {"timing_turn_stats": True})])
def test_timing_matching_terms_are_logged_and_reach_the_generator(data_dir, field, log_key, extra):
    cfg = _cfg(**{field: 1.0}, **extra, phase_shuffle=0)   # no random shifts: gradients are deterministic
    trainer = GANTrainer(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=2)
    real = next(trainer.make_iterator(data_dir))
    z = tf.random.uniform([cfg.batch_size, cfg.latent_dim], -1, 1, seed=0)
    with_fm = trainer._g_grads(real, z)
    assert log_key in with_fm[1] and np.isfinite(float(with_fm[1][log_key]))
    assert float(with_fm[1][log_key]) > 0
    plain = GANTrainer(cfg.replace(**{field: 0.0}), tf.distribute.OneDeviceStrategy("/cpu:0"), seed=2)
    plain.generator.set_weights(trainer.generator.get_weights())
    plain.discriminators["timing"].set_weights(trainer.discriminators["timing"].get_weights())
    plain.discriminators["wave"].set_weights(trainer.discriminators["wave"].get_weights())
    without, again = plain._g_grads(real, z), plain._g_grads(real, z)
    assert log_key not in without[1]

    def diff(a, b):
        return max(float(tf.reduce_max(tf.abs(x - y))) for x, y in zip(a[0], b[0]))

    assert diff(without, again) == 0                 # deterministic ...
    assert diff(with_fm, without) > 0                # ... so the matching term is what changes G's gradient
    losses, _ = trainer.train_step(trainer.make_iterator(data_dir))
    assert np.isfinite(losses[log_key])


def test_timing_stats_weight_needs_the_turn_statistics():
    with pytest.raises(ConfigError, match="timing_stats_weight.*timing_turn_stats"):
        _cfg(timing_stats_weight=1.0, timing_turn_stats=False)


def test_timing_r1_penalty_is_logged_and_changes_only_the_timing_d_gradient(data_dir):
    # turn statistics on: the penalty differentiates twice through the closing (max pools) and held floor
    cfg = _cfg(timing_r1_weight=1.0, timing_turn_stats=True, phase_shuffle=0)
    trainer = GANTrainer(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=3)
    real = tf.cast(next(trainer.make_iterator(data_dir)), tf.float32)
    z = tf.random.uniform([cfg.batch_size, cfg.latent_dim], -1, 1, seed=0)
    alpha = tf.zeros([cfg.batch_size])
    grads, logs = trainer._d_grads(real, z, alpha)
    assert float(logs["r1_timing"]) > 0 and np.isfinite(float(logs["r1_timing"]))
    plain = GANTrainer(cfg.replace(timing_r1_weight=0.0), tf.distribute.OneDeviceStrategy("/cpu:0"), seed=3)
    plain.generator.set_weights(trainer.generator.get_weights())
    for name, d in trainer.discriminators.items():
        plain.discriminators[name].set_weights(d.get_weights())
    plain_grads, plain_logs = plain._d_grads(real, z, alpha)
    assert "r1_timing" not in plain_logs
    timing_vars = {id(v) for v in trainer.discriminators["timing"].trainable_variables}
    changed = {id(v): float(tf.reduce_max(tf.abs(g - p))) > 0
               for v, g, p in zip(trainer.d_variables, grads, plain_grads)}
    assert any(changed[i] for i in timing_vars)                               # the penalty reaches the timing D
    assert not any(c for i, c in changed.items() if i not in timing_vars)     # ... and no other D
    losses, _ = trainer.train_step(trainer.make_iterator(data_dir))
    assert np.isfinite(losses["r1_timing"])
    with pytest.raises(ConfigError, match="timing_r1_weight"):
        _cfg(timing_r1_weight=-1.0)


def test_surrogate_gradient_annealing_follows_the_training_step(data_dir):
    """vad_grad_anneal_*: at step 0 G's gradient is the constant surrogate's, once annealed it is the sharp VAD's;
    the step is read when the (compiled) gradient function runs, not frozen when it was traced."""
    base = _cfg(phase_shuffle=0, vad_threshold_db=-30.0)         # deterministic gradients
    annealed_cfg = base.replace(vad_grad_temperature_db=10.0, vad_grad_anneal_start=1, vad_grad_anneal_steps=2)
    trainers = {k: GANTrainer(c, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=4, jit_compile=True)
                for k, c in (("annealed", annealed_cfg), ("sharp", base),
                             ("broad", base.replace(vad_grad_temperature_db=10.0)))}
    for other in ("sharp", "broad"):
        trainers[other].generator.set_weights(trainers["annealed"].generator.get_weights())
        for name, d in trainers["annealed"].discriminators.items():
            trainers[other].discriminators[name].set_weights(d.get_weights())
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

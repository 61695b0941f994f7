"""Linear learning-rate decay (cfg.lr_decay_start / lr_decay_steps): schedule values, the optimizers follow it
(D counted in generator steps when d_updates > 1), and invalid settings are rejected naming the field."""
import numpy as np
import pytest
import tensorflow as tf

import train_helpers
from wavebabble.config import get_config
from wavebabble.errors import ConfigError
from wavebabble.gan import GAN, LR_DECAY_FINAL_FRACTION, LinearDecay


def test_schedule_values():
    s = LinearDecay(1e-3, start=10, steps=20)
    got = [float(s(t)) for t in (0, 10, 20, 30, 100)]
    np.testing.assert_allclose(got, [1e-3, 1e-3, 1e-3 * (1 + LR_DECAY_FINAL_FRACTION) / 2,
                                     1e-3 * LR_DECAY_FINAL_FRACTION, 1e-3 * LR_DECAY_FINAL_FRACTION], rtol=1e-6)


def test_trainer_learning_rates_follow_the_schedule(tmp_path):
    cfg = get_config("demo", **{**train_helpers.TINY, "lr_decay_start": 1, "lr_decay_steps": 2, "d_updates": 2})
    trainer = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"), seed=0)
    it = trainer.make_iterator(train_helpers.write_dialogues(tmp_path / "d"))
    seen = [trainer.learning_rates()]
    for _ in range(3):
        trainer.train_step(it)
        seen.append(trainer.learning_rates())
    g = [s["lr/g"] for s in seen]
    d = [s["lr/d"] for s in seen]
    frac = [1.0, 1.0, (1 + LR_DECAY_FINAL_FRACTION) / 2, LR_DECAY_FINAL_FRACTION]   # after 0, 1, 2, 3 G steps
    np.testing.assert_allclose(g, np.multiply(frac, cfg.g_lr), rtol=1e-5)
    np.testing.assert_allclose(d, np.multiply(frac, cfg.d_lr), rtol=1e-5)


@pytest.mark.parametrize("fields", [{"lr_decay_start": 5}, {"lr_decay_steps": 5}, {"lr_decay_start": -1},
                                    {"lr_decay_start": 2.5, "lr_decay_steps": 5}])
def test_invalid_settings_name_the_field(fields):
    with pytest.raises(ConfigError, match="lr_decay"):
        get_config("demo", **{"lr_decay_start": 0, "lr_decay_steps": 0, **fields})

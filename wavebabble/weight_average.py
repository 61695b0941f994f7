"""A moving average of a model's weights (Polyak averaging; Yazici et al. 2019 for GAN generators).

    update_weight_average(average, model, step, decay)   average <- d * average + (1 - d) * model,
                                                          d = min(decay, (1 + step) / (WARMUP + step))

`average` and `model` are keras models of the same architecture (their `.weights` in the same order); `step` is
the number of updates made so far (a scalar tensor or number), so the first updates follow the model closely and
the average's horizon grows to 1 / (1 - decay) steps. Callable inside tf.function and in a tf.distribute
cross-replica context (mirrored variables get the same value).
"""
from __future__ import annotations

WARMUP = 10.0        # the decay at step t is min(decay, (1 + t) / (WARMUP + t))


def update_weight_average(average, model, step, decay: float) -> None:
    """average's weights <- d * average + (1 - d) * model's (see the module docstring)."""
    import tensorflow as tf

    step = tf.cast(step, tf.float32)
    d = tf.minimum(decay, (1.0 + step) / (WARMUP + step))
    for a, w in zip(average.weights, model.weights):
        a.assign(d * a + (1.0 - d) * tf.cast(w, a.dtype))


def copy_weights(target, source) -> None:
    """target's weights <- source's (models of the same architecture): an average's starting point."""
    for t, s in zip(target.weights, source.weights):
        t.assign(s)

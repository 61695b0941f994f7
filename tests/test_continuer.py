"""The continuation's turn-taker (models/continuer.py): causal, stepwise = whole-sequence, sampling well-formed."""
import numpy as np
import pytest
import keras
import tensorflow as tf

from wavebabble.models.continuer import (CONTINUER_STREAM, FEATURES, FRAMES_PER_SECOND, MEMORY_DECAY, ContinuerSteps,
                                        ExponentialMemory, build_continuer, sample_continuation)
from wavebabble.models.responder import RECEPTIVE_FRAMES, RESPONSE_DELAY_FRAMES


def _random_model(dim=8, seed=0):
    tf.keras.utils.set_random_seed(seed)
    model = build_continuer(dim)
    rng = np.random.default_rng(seed)
    for w in model.weights:                      # biases too, so that zero padding vs zero bias would show
        w.assign(rng.normal(0, 0.3, w.shape).astype(np.float32))
    return model


def _vads(rng, batch, frames):
    return (rng.random((batch, frames, 1)) < 0.5).astype(np.float32)


def test_logit_reads_own_past_and_delayed_other_only():
    model = _random_model()
    rng = np.random.default_rng(1)
    own, other = _vads(rng, 1, 300), _vads(rng, 1, 300)
    t = 200
    base = model([own, other]).numpy()[0, :, 0]
    own2, other2 = own.copy(), other.copy()
    own2[0, t:] = 1 - own2[0, t:]                         # own at t and later: not read at t
    other2[0, t - RESPONSE_DELAY_FRAMES + 1:] = 1 - other2[0, t - RESPONSE_DELAY_FRAMES + 1:]
    changed = model([own2, other2]).numpy()[0, :, 0]
    np.testing.assert_allclose(changed[:t + 1], base[:t + 1], atol=1e-5)
    own3 = own.copy()
    own3[0, t - 1] = 1 - own3[0, t - 1]                   # own at t - 1: read at t
    assert abs(model([own3, other]).numpy()[0, t, 0] - base[t]) > 1e-4


def test_steps_equal_the_whole_sequence_model():
    model = _random_model()
    steps = ContinuerSteps(model)
    rng = np.random.default_rng(2)
    own, other = _vads(rng, 2, 120), _vads(rng, 2, 120)
    whole = model([own, other]).numpy()[..., 0]
    features = keras.Model(model.inputs, model.get_layer("features").output)([own, other]).numpy()
    assert features.shape == (2, 120, FEATURES)
    state, got = steps.initial_state(2), []
    for t in range(120):
        logit, state = steps.step(state, tf.constant(features[:, t]))
        got.append(logit.numpy())
    np.testing.assert_allclose(np.stack(got, 1), whole, atol=1e-4)


def test_memory_averages_the_vad_and_its_onsets_per_second():
    vad = np.zeros((1, 3000, 1), np.float32)
    vad[0, 100:200] = vad[0, 400:500] = 1.0                                   # two onsets, 200 frames of speech
    mem = ExponentialMemory()(tf.constant(vad)).numpy()[0]
    decay = MEMORY_DECAY ** np.arange(2999, -1, -1)                          # weight of each frame at the last
    np.testing.assert_allclose(mem[-1, 0], (1 - MEMORY_DECAY) * (decay * vad[0, :, 0]).sum(), rtol=1e-4)
    onsets = np.zeros(3000)
    onsets[[100, 400]] = FRAMES_PER_SECOND
    np.testing.assert_allclose(mem[-1, 1], (1 - MEMORY_DECAY) * (decay * onsets).sum(), rtol=1e-4)
    assert np.all(mem[:100] == 0)                                            # causal: nothing before the first speech


@pytest.mark.parametrize("prompt_frames", [0, 50, RECEPTIVE_FRAMES + RESPONSE_DELAY_FRAMES + 40])
def test_sampling_follows_the_model(prompt_frames):
    """The first continued frame's probability is the whole-sequence model's on the prompt (whatever its length:
    the sampler primes on the frames the logit reads), and draws are 0/1, seeded."""
    model = _random_model()
    steps = ContinuerSteps(model)
    rng = np.random.default_rng(3)
    prompt = (rng.random((prompt_frames, 2)) < 0.5).astype(np.float32)
    fn = tf.function(lambda p, n, s: sample_continuation(steps, p, n, s))
    out = fn(tf.constant(prompt.reshape(-1, 2)), tf.constant(30), tf.constant(5, tf.int64)).numpy()
    assert out.shape == (30, 2) and set(np.unique(out)) <= {0.0, 1.0}
    again = fn(tf.constant(prompt.reshape(-1, 2)), tf.constant(30), tf.constant(5, tf.int64)).numpy()
    np.testing.assert_array_equal(out, again)
    # the whole sequence (prompt + continuation) re-read by the model: each continued frame was drawn from it
    full = np.concatenate([prompt.reshape(-1, 2), out])
    logit = model([full[None, :, :1], full[None, :, 1:]]).numpy()[0, :, 0]
    logit_b = model([full[None, :, 1:], full[None, :, :1]]).numpy()[0, :, 0]
    u = tf.random.stateless_uniform([30, 2], tf.constant([5, CONTINUER_STREAM], tf.int64)).numpy()
    p = 1 / (1 + np.exp(-np.stack([logit, logit_b], -1)[prompt_frames:]))
    margin = np.abs(u - p) > 1e-4                         # draws not on a knife's edge
    np.testing.assert_array_equal((u < p)[margin], out[margin] > 0.5)

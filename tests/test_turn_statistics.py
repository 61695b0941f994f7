"""The timing D's differentiable turn statistics agree with the evaluation's counts on 0/1 VADs."""
import numpy as np
import pytest
import tensorflow as tf

from wavebabble import timing
from wavebabble.config import get_config
from wavebabble.models import build_timing_discriminator
from wavebabble.models.turn_statistics import NUM_TURN_STATS, STAT_NAMES, TurnStatistics, bridge_short_silences

FRAME_HZ = 100
FRAMES = 819


def random_vad(rng, frames=FRAMES, max_run=60):
    """[frames, 2] bool with random run lengths 1..max_run (many silences near the 0.2 s bridging limit)."""
    v = np.zeros((frames, 2), bool)
    for c in range(2):
        t, on = 0, bool(rng.random() < 0.5)
        while t < frames:
            n = int(rng.integers(1, max_run))
            v[t:t + n, c] = on
            t, on = t + n, not on
    return v


def _joint_state(filled):
    """[frames, 2] bool -> [frames] int: 0 silence, 1 A only, 2 B only, 3 both."""
    return filled[:, 0].astype(int) + 2 * filled[:, 1].astype(int)


def test_bridging_is_exactly_the_evaluation_fill():
    rng = np.random.default_rng(0)
    vads = np.stack([random_vad(rng) for _ in range(64)])
    window = int(round(timing.MIN_SILENCE_S * FRAME_HZ))
    got = bridge_short_silences(tf.constant(vads, tf.float32), window).numpy()
    want = np.stack([timing.fill_short_silences(v, FRAME_HZ) for v in vads])
    np.testing.assert_array_equal(got > 0.5, want)
    assert set(np.unique(got)) <= {0.0, 1.0}


def test_counts_match_dialogue_events():
    rng = np.random.default_rng(1)
    for _ in range(32):
        v = random_vad(rng)
        ev = timing.dialogue_events(v, FRAME_HZ)
        stats = dict(zip(STAT_NAMES, TurnStatistics(FRAME_HZ)(tf.constant(v[None], tf.float32)).numpy()[0]))
        seconds = FRAMES / FRAME_HZ
        np.testing.assert_allclose(stats["speech_a"], v[:, 0].mean(), atol=1e-6)
        np.testing.assert_allclose(stats["overlap"], (v[:, 0] & v[:, 1]).mean(), atol=1e-6)
        for c, name in enumerate(("ipu_rate_a", "ipu_rate_b")):
            np.testing.assert_allclose(stats[name] * seconds, len(ev.ipus[c]), atol=1e-4)
        overlaps = len(ev.change_overlaps) + len(ev.within_overlaps)
        np.testing.assert_allclose(stats["overlap_rate"] * seconds, overlaps, atol=1e-4)
        filled = timing.fill_short_silences(v, FRAME_HZ)
        silent = ~filled[:, 0] & ~filled[:, 1]
        edge = int(silent[0]) + int(silent[-1] and not silent.all())      # leading/trailing joint silences
        np.testing.assert_allclose(stats["silence_rate"] * seconds, len(ev.pauses) + len(ev.gaps) + edge
                                   + _interior_silences_next_to_overlap(filled), atol=1e-4)


def _run_lengths(mask):
    """[frames] bool -> (lengths of the runs of True, whether each touches the clip's start or end)."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    starts, ends = edges[::2], edges[1::2]
    return ends - starts, (starts == 0) | (ends == len(mask))


def _interior_silences_next_to_overlap(filled):
    """Joint silences that DESIGN.md calls neither pause nor gap (overlap on one side), not at the edges."""
    state = _joint_state(filled)
    n, t = 0, 0
    while t < len(state):
        if state[t] == 0:
            s = t
            while t < len(state) and state[t] == 0:
                t += 1
            if s > 0 and t < len(state) and (state[s - 1] == 3 or state[t] == 3):
                n += 1
        else:
            t += 1
    return n


def test_gradients_reach_gap_frames():
    """A short cross-speaker silence: raising the frames inside it lowers the silence count."""
    v = np.zeros((1, 200, 2), np.float32)
    v[0, :80, 0] = 1.0
    v[0, 120:, 1] = 1.0                                                   # 0.4 s gap between A and B
    x = tf.Variable(v)
    with tf.GradientTape() as tape:
        silence_rate = TurnStatistics(FRAME_HZ)(x)[0, STAT_NAMES.index("silence_rate")]
    g = tape.gradient(silence_rate, x).numpy()
    assert np.all(np.isfinite(g)) and g[0, 80:120].min() < 0


@pytest.mark.parametrize("mbstd", [False, True])
def test_timing_d_turn_stats_option(mbstd):
    cfg = get_config("demo", timing_dim=4, timing_minibatch_std=mbstd, timing_turn_stats=False)
    plain = build_timing_discriminator(cfg)
    with_stats = build_timing_discriminator(cfg.replace(timing_turn_stats=True))
    assert not any(layer.name == "timing_turn_stats" for layer in plain.layers)
    layer = with_stats.get_layer("timing_turn_stats")
    assert layer.compute_output_shape((None, cfg.num_frames, 2)) == (None, NUM_TURN_STATS)
    stats_in = NUM_TURN_STATS * (2 if mbstd else 1)
    assert with_stats.count_params() - plain.count_params() == stats_in * 4 + 4 + 4   # Dense(4) + 4 score weights
    assert with_stats(tf.random.uniform([3, cfg.num_frames, 2])).shape == (3, 1)


def _solo_alternations(filled):
    """Reference: changes of speaker between consecutive one-speaker-alone runs (whatever lies between)."""
    state = _joint_state(filled)
    solo = [s for s in state if s in (1, 2)]
    return sum(1 for x, y in zip(solo, solo[1:]) if x != y)


def test_speaker_changes():
    rng = np.random.default_rng(2)
    layer = TurnStatistics(FRAME_HZ)
    seconds = FRAMES / FRAME_HZ
    for trial in range(32):
        v = random_vad(rng)
        if trial % 2:                        # no overlaps: every speaker change is a gap (DESIGN.md)
            v[:, 1] &= ~v[:, 0]
            v = timing.fill_short_silences(v, FRAME_HZ)
            v[:, 1] &= ~v[:, 0]
        changes = layer(tf.constant(v[None], tf.float32)).numpy()[0, STAT_NAMES.index("speaker_change_rate")]
        filled = timing.fill_short_silences(v, FRAME_HZ)
        np.testing.assert_allclose(changes * seconds, _solo_alternations(filled), atol=1e-3)
        if trial % 2 and not (filled[:, 0] & filled[:, 1]).any():
            state = _joint_state(filled)
            direct = int(np.sum(state[1:] * state[:-1] == 2))          # A then B (or B then A) with no silence
            ev = timing.dialogue_events(v, FRAME_HZ)
            np.testing.assert_allclose(changes * seconds, len(ev.gaps) + direct, atol=1e-3)
    pause = np.zeros((1, 300, 2), np.float32)
    pause[0, :100, 0] = pause[0, 150:, 0] = 1.0                          # A _ A: a pause, no change
    gap = pause.copy()
    gap[0, 150:] = [0.0, 1.0]                                            # A _ B: one gap
    both = layer(tf.constant(np.concatenate([pause, gap]))).numpy()[:, STAT_NAMES.index("speaker_change_rate")]
    np.testing.assert_allclose(both * 3.0, [0.0, 1.0], atol=1e-4)


def test_a_speaker_change_with_gradual_onsets_counts_as_one():
    """A _ B where B's VAD rises over a few frames (as a soft VAD of generated audio does): still one change,
    and a pause with a gradual restart still none."""
    layer = TurnStatistics(FRAME_HZ)
    ramp = np.linspace(0.1, 1.0, 6, dtype=np.float32)
    gap = np.zeros((1, 300, 2), np.float32)
    gap[0, :100, 0] = 1.0
    gap[0, 150:156, 1], gap[0, 156:, 1] = ramp, 1.0
    pause = gap[..., ::-1].copy()
    pause[0, :100] = [1.0, 0.0]                                          # A, silence, A ramping up again
    pause[0, 150:156, 0], pause[0, 156:, 0] = ramp, 1.0
    pause[0, 150:, 1] = 0.0
    got = layer(tf.constant(np.concatenate([gap, pause]))).numpy()[:, STAT_NAMES.index("speaker_change_rate")]
    np.testing.assert_allclose(got * 3.0, [1.0, 0.0], atol=1e-3)

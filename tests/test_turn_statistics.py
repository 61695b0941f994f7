"""The timing D's differentiable turn statistics agree with the evaluation's counts on 0/1 VADs."""
import numpy as np
import pytest
import tensorflow as tf

from wavebabble import timing
from wavebabble.config import get_config
from wavebabble.models import build_timing_discriminator
from wavebabble.models.timing_discriminator import DURATION_WINDOWS_S
from wavebabble.models.turn_statistics import (
    DURATION_STATS_PER_WINDOW, NUM_TURN_STATS, PAUSE_STAT_NAMES, STAT_NAMES, TurnStatistics, bridge_short_silences,
    turn_stat_names)

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


def test_duration_counts_match_the_evaluation_ipus_and_joint_silences():
    """durations_s: IPUs (the evaluation's) lasting >= d, and joint silences >= d (those at the clip's edges
    always count: beyond the clip is silence); the base statistics are unchanged."""
    rng = np.random.default_rng(4)
    durations = (0.3, 0.5)
    layer = TurnStatistics(FRAME_HZ, durations_s=durations)
    names = turn_stat_names(durations)
    assert len(names) == NUM_TURN_STATS + DURATION_STATS_PER_WINDOW * len(durations)
    vads = np.stack([random_vad(rng, max_run=90) for _ in range(24)])
    got = layer(tf.constant(vads, tf.float32)).numpy()
    assert got.shape == (24, len(names))
    np.testing.assert_allclose(got[:, :NUM_TURN_STATS], TurnStatistics(FRAME_HZ)(tf.constant(vads, tf.float32)),
                               atol=1e-6)
    seconds = FRAMES / FRAME_HZ
    for v, row in zip(vads, got):
        stats = dict(zip(names, row * seconds))
        ev = timing.dialogue_events(v, FRAME_HZ)
        filled = timing.fill_short_silences(v, FRAME_HZ)
        for d in durations:
            window = int(round(d * FRAME_HZ))
            for c, side in enumerate("ab"):
                lengths = ev.ipus[c][:, 1] - ev.ipus[c][:, 0]
                np.testing.assert_allclose(stats[f"long_ipu_rate_{side}_{d:g}s"], np.sum(lengths >= window),
                                           atol=1e-4)
            lengths, at_edge = _run_lengths(~filled[:, 0] & ~filled[:, 1])
            np.testing.assert_allclose(stats[f"long_silence_rate_{d:g}s"], np.sum((lengths >= window) | at_edge),
                                       atol=1e-4)
    # a long IPU chopped into short bursts: the same speech, far fewer long IPUs
    whole = np.zeros((1, FRAMES, 2), np.float32)
    whole[0, 100:400, 0] = 1
    chopped = whole.copy()
    for t in range(140, 400, 70):
        chopped[0, t:t + 25, 0] = 0             # 0.25 s silences (pauses): bursts of 0.25-0.45 s
    long_a = names.index("long_ipu_rate_a_0.5s")
    counts = layer(tf.constant(np.concatenate([whole, chopped]))).numpy()[:, long_a] * seconds
    np.testing.assert_allclose(counts, [1, 0], atol=1e-4)


def test_duration_stats_option_in_the_timing_d():
    cfg = get_config("demo", timing_dim=4, timing_turn_stats=True)
    plain = build_timing_discriminator(cfg)
    longer = build_timing_discriminator(cfg.replace(timing_duration_stats=True))
    extra = DURATION_STATS_PER_WINDOW * len(DURATION_WINDOWS_S)
    assert longer.get_layer("timing_turn_stats").compute_output_shape((None, cfg.num_frames, 2)) == (
        None, NUM_TURN_STATS + extra)
    stats_in = extra * (2 if cfg.timing_minibatch_std else 1)              # + their batch std
    assert longer.count_params() - plain.count_params() == stats_in * 4     # Dense(4) inputs
    assert longer(tf.random.uniform([2, cfg.num_frames, 2])).shape == (2, 1)
    layer = longer.get_layer("timing_turn_stats")
    assert TurnStatistics.from_config(layer.get_config()).durations_s == DURATION_WINDOWS_S


def test_pause_and_gap_counts_match_the_evaluation():
    """pauses=True: the evaluation's pauses and gaps exactly on 0/1 VADs, between the base and duration stats."""
    rng = np.random.default_rng(6)
    durations = (0.5,)
    names = turn_stat_names(durations, pauses=True)
    assert names[NUM_TURN_STATS:NUM_TURN_STATS + 2] == PAUSE_STAT_NAMES
    layer = TurnStatistics(FRAME_HZ, durations_s=durations, pauses=True)
    vads = np.stack([random_vad(rng, max_run=int(rng.integers(20, 120))) for _ in range(48)])
    got = layer(tf.constant(vads, tf.float32)).numpy()
    assert got.shape == (48, len(names)) == (48, layer.compute_output_shape((None, FRAMES, 2))[1])
    without = TurnStatistics(FRAME_HZ, durations_s=durations)(tf.constant(vads, tf.float32)).numpy()
    np.testing.assert_allclose(np.delete(got, [NUM_TURN_STATS, NUM_TURN_STATS + 1], axis=1), without, atol=1e-6)
    seconds = FRAMES / FRAME_HZ
    counts = []
    for v, row in zip(vads, got):
        stats = dict(zip(names, row * seconds))
        ev = timing.dialogue_events(v, FRAME_HZ)
        np.testing.assert_allclose([stats["pause_rate"], stats["gap_rate"]], [len(ev.pauses), len(ev.gaps)],
                                   atol=1e-4)
        counts.append((len(ev.pauses), len(ev.gaps)))
    assert min(c[0] for c in counts) < max(c[0] for c in counts) and max(c[1] for c in counts) > 0


def test_pauses_and_gaps_by_who_speaks_on_each_side():
    """A _ A is a pause, A _ B a gap; a silence after an overlap or at the clip's start is neither."""
    def vad(*runs):
        v = np.zeros((1, 300, 2), np.float32)
        for channel, start, end in runs:
            v[0, start:end, channel] = 1.0
        return v

    cases = {"pause": (vad((0, 0, 80), (0, 120, 200)), [1, 0]),
             "gap": (vad((0, 0, 80), (1, 120, 200)), [0, 1]),
             "after overlap": (vad((0, 0, 80), (1, 50, 80), (0, 120, 200)), [0, 0]),
             "leading silence": (vad((0, 50, 200)), [0, 0]),
             "pause then gap": (vad((1, 0, 60), (1, 100, 150), (0, 190, 300)), [1, 1])}
    layer = TurnStatistics(FRAME_HZ, pauses=True)
    for name, (v, want) in cases.items():
        got = layer(tf.constant(v)).numpy()[0, NUM_TURN_STATS:NUM_TURN_STATS + 2] * 300 / FRAME_HZ
        np.testing.assert_allclose(got, want, atol=1e-4, err_msg=name)
    # gradients: raising A's resuming onset makes more of a pause; B speaking in the silence makes less of one
    x = tf.Variable(cases["pause"][0])
    with tf.GradientTape() as tape:
        pauses = layer(x)[0, NUM_TURN_STATS]
    g = tape.gradient(pauses, x).numpy()
    assert np.all(np.isfinite(g)) and g[0, 120, 0] > 0 and g[0, 80:120, 1].sum() < 0


def test_pause_stats_option_in_the_timing_d():
    cfg = get_config("demo", timing_dim=4, timing_turn_stats=True)
    plain = build_timing_discriminator(cfg)
    with_pauses = build_timing_discriminator(cfg.replace(timing_pause_stats=True))
    stats_in = len(PAUSE_STAT_NAMES) * (2 if cfg.timing_minibatch_std else 1)
    assert with_pauses.count_params() - plain.count_params() == stats_in * 4
    assert with_pauses(tf.random.uniform([2, cfg.num_frames, 2])).shape == (2, 1)
    assert TurnStatistics.from_config(with_pauses.get_layer("timing_turn_stats").get_config()).pauses


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


def test_hard_counts_the_thresholded_vad_with_straight_through_gradients():
    rng = np.random.default_rng(3)
    hard_vad = np.stack([random_vad(rng) for _ in range(8)]).astype(np.float32)
    # soft values on the right side of 0.5: same hard VAD, different soft counts
    soft = np.where(hard_vad > 0, rng.uniform(0.55, 1.0, hard_vad.shape), rng.uniform(0.0, 0.45, hard_vad.shape))
    x = tf.Variable(soft.astype(np.float32))
    with tf.GradientTape() as tape:
        got = TurnStatistics(FRAME_HZ, hard=True)(x)
        loss = tf.reduce_sum(got[:, STAT_NAMES.index("silence_rate")])
    want = TurnStatistics(FRAME_HZ)(tf.constant(hard_vad)).numpy()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-6)
    assert not np.allclose(TurnStatistics(FRAME_HZ)(x).numpy(), want, atol=1e-3)   # the soft counts differ
    g = tape.gradient(loss, x).numpy()
    assert np.all(np.isfinite(g)) and np.abs(g).max() > 0
    layer = TurnStatistics(FRAME_HZ, hard=True)
    assert TurnStatistics.from_config(layer.get_config()).hard


@pytest.mark.parametrize("mbstd", [False, True])
def test_timing_d_turn_stats_option(mbstd):
    cfg = get_config("demo", timing_dim=4, timing_minibatch_std=mbstd)
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

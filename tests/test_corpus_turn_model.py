"""Turn-taking model: determinism, valid intervals, human timing ranges (ground truth, DESIGN.md definitions)."""
import numpy as np
import pytest

from wavebabble.corpus.turn_model import TurnTakingParams, sample_timing
from wavebabble.errors import ConfigError
from wavebabble.timing import intervals_to_vad, timing_stats

DURATION_S = 60.0
NUM_DIALOGUES = 16


def test_same_seed_same_timing_and_different_seed_differs():
    a = sample_timing(DURATION_S, np.random.default_rng(5))
    b = sample_timing(DURATION_S, np.random.default_rng(5))
    c = sample_timing(DURATION_S, np.random.default_rng(6))
    assert a == b
    assert a != c


def test_intervals_are_sorted_disjoint_and_inside_the_clip():
    params = TurnTakingParams()
    for seed in range(10):
        intervals = sample_timing(DURATION_S, np.random.default_rng(seed), params)
        assert len(intervals) == 2
        for chan in intervals:
            assert chan, "each speaker talks"
            for s, e in chan:
                assert 0.0 <= s < e <= DURATION_S
            for (_, e0), (s1, _) in zip(chan[:-1], chan[1:]):
                # same-speaker silences stay above the 0.2 s bridging limit (clean IPU boundaries)
                assert s1 - e0 >= min(params.pause_min_s, params.backchannel_margin_s) - 1e-6


def test_ground_truth_timing_lands_in_human_ranges():
    vads = [intervals_to_vad(sample_timing(DURATION_S, np.random.default_rng([1, i])), DURATION_S)
            for i in range(NUM_DIALOGUES)]
    s = timing_stats(vads).summary
    assert all(0.3 <= r <= 0.5 for r in s["speech_ratio"]), s
    assert 0.1 <= s["fto_median_s"] <= 0.4, s
    assert 0.15 <= s["transitions_overlapped"] <= 0.35, s
    assert s["pause_median_s"] > s["gap_median_s"], s
    assert 1.0 <= s["ipu_median_s"] <= 2.0, s
    assert 18.0 <= s["ipu_per_min"] <= 28.0, s
    assert s["overlap_per_min"] > 0 and s["backchannel_per_min"] > 0, s


def test_short_clip_and_bad_params():
    assert all(e <= 1.0 for ch in sample_timing(1.0, np.random.default_rng(0)) for _, e in ch)
    with pytest.raises(ConfigError, match="ipu_min_s"):
        sample_timing(10.0, np.random.default_rng(0), TurnTakingParams(ipu_min_s=7.0, ipu_max_s=6.0))
    with pytest.raises(ConfigError, match="duration_s"):
        sample_timing(0.0, np.random.default_rng(0))


def test_style_spread_gives_each_dialogue_its_own_tempo_and_zero_draws_nothing():
    from wavebabble.corpus.turn_model import dialogue_style

    plain = TurnTakingParams()
    rng = np.random.default_rng(0)
    assert dialogue_style(rng, plain) is plain
    assert rng.random() == np.random.default_rng(0).random()       # no draw was made
    a = sample_timing(60.0, np.random.default_rng(3), plain)
    assert sample_timing(60.0, np.random.default_rng(3), TurnTakingParams(style_spread=0.0)) == a
    styled = TurnTakingParams(style_spread=0.5)
    styles = [dialogue_style(np.random.default_rng(i), styled) for i in range(40)]
    medians = np.array([s.ipu_median_s for s in styles])
    assert medians.min() >= styled.ipu_min_s and medians.max() <= styled.ipu_max_s
    assert np.std(np.log(medians)) > 0.25 and all(s.ipus_per_turn_mean >= 1 for s in styles)
    # the tempo shows in the dialogues: IPU counts per minute spread far more than with one style
    counts = [[sum(len(ch) for ch in sample_timing(60.0, np.random.default_rng(i), p)) for i in range(30)]
              for p in (plain, styled)]
    assert np.std(counts[1]) > 1.5 * np.std(counts[0])
    with pytest.raises(ConfigError, match="style_spread"):
        TurnTakingParams(style_spread=-0.1).validate()

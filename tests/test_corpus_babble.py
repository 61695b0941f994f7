"""Babble voices: determinism, speech only inside the intervals, measured timing == ground truth."""
import numpy as np

from timing_checks import assert_rates_close
from wavebabble.corpus.babble import VoiceParams, random_voice, render_channel
from wavebabble.corpus.turn_model import sample_timing
from wavebabble.timing import intervals_to_vad
from wavebabble.vad import frame_energy_db, hard_vad

SR = 8000
DURATION_S = 60.0
RATE_TOLERANCE = 0.10


def _dialogue(seed, noise_db=-60.0):
    rng = np.random.default_rng(seed)
    intervals = sample_timing(DURATION_S, rng)
    audio = np.stack([render_channel(intervals[c], DURATION_S, SR, random_voice(rng, c), rng, noise_db=noise_db)
                      for c in range(2)], axis=1)
    return audio, intervals


def test_render_is_deterministic_and_seed_dependent():
    a, _ = _dialogue(3)
    b, _ = _dialogue(3)
    c, _ = _dialogue(4)
    assert a.dtype == np.float32 and a.shape == (int(DURATION_S * SR), 2)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)


def test_speech_exactly_inside_intervals():
    rng = np.random.default_rng(0)
    intervals = [(0.5, 1.7), (2.3, 2.6), (3.0, 4.5)]
    x = render_channel(intervals, 5.0, SR, VoiceParams(), rng, noise_db=None)
    inside = np.zeros(len(x), dtype=bool)
    for s, e in intervals:
        inside[int(round(s * SR)):int(round(e * SR))] = True
    assert not np.any(x[~inside]), "nothing outside the intervals without a noise floor"
    energy = frame_energy_db(x, SR)
    for s, e in intervals:  # every 10 ms frame well inside an IPU is loud speech
        frames = energy[int(s * 100) + 2:int(e * 100) - 2]
        assert frames.min() > -45.0, (s, e, frames.min())
    assert np.abs(x).max() <= 1.0 and 0.03 < np.sqrt(np.mean(x[inside] ** 2)) < 0.3


def test_two_speakers_differ():
    rng = np.random.default_rng(1)
    low, high = random_voice(rng, 0), random_voice(rng, 1)
    assert high.f0_median_hz > 1.2 * low.f0_median_hz
    assert high.formant_scale > low.formant_scale


def test_hard_vad_timing_matches_ground_truth():
    gt, measured = [], []
    for seed in range(3):
        audio, intervals = _dialogue([9, seed])
        gt.append(intervals_to_vad(intervals, DURATION_S))
        measured.append(hard_vad(audio, SR))
    a, b = assert_rates_close(gt, measured, rel=RATE_TOLERANCE)
    for c in range(2):
        assert abs(b["speech_ratio"][c] - a["speech_ratio"][c]) <= RATE_TOLERANCE * a["speech_ratio"][c]
    agreement = np.mean([(g[:len(m)] == m).mean() for g, m in zip(gt, measured)])
    assert agreement > 0.97

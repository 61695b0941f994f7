"""eval.long_dialogue: per-window timing distance of long dialogues against a reference's pooled timing."""
import numpy as np
import pytest

from eval.long_dialogue import MRE_GOAL, summarise, window_distances
from wavebabble import timing
from wavebabble.errors import DataError
from wavebabble.vad import FRAME_HZ, hard_vad

SR = 8000


def _turns(seconds, turn_s, gap_s, rng):
    """[samples, 2]: speakers alternate turns of noise bursts (turn_s long, gap_s between), quiet noise elsewhere."""
    n = int(seconds * SR)
    audio = 1e-4 * rng.standard_normal((n, 2))
    t, who = 0.0, 0
    while t + turn_s < seconds:
        a, b = int(t * SR), int((t + turn_s) * SR)
        audio[a:b, who] += 0.3 * rng.standard_normal(b - a)
        t += turn_s + gap_s
        who = 1 - who
    return audio.astype(np.float32)


def test_windows_of_a_dialogue_like_the_reference_score_low_and_a_different_one_high():
    rng = np.random.default_rng(0)
    ref = [_turns(60, 2.0, 0.3, rng) for _ in range(3)]
    ref_stats = timing.timing_stats([hard_vad(c, SR, FRAME_HZ) for c in ref], FRAME_HZ)
    like = window_distances([_turns(185, 2.0, 0.3, rng)], ref_stats, SR, 60)
    unlike = window_distances([_turns(185, 0.5, 2.0, rng)], ref_stats, SR, 60)
    assert len(like[0]) == 3 and len(unlike[0]) == 3            # whole windows only: the 5 s tail is dropped
    assert max(w["mre"] for w in like[0]) < 0.1 < min(w["mre"] for w in unlike[0])
    rows = summarise(like + unlike)
    assert [r["window"] for r in rows] == [1, 2, 3] and all(r["dialogues"] == 2 for r in rows)
    assert all(r["share_within_goal"] == 0.5 for r in rows) and MRE_GOAL < rows[0]["mre_max"]


def test_dialogues_shorter_than_a_window_are_refused_with_the_fix():
    rng = np.random.default_rng(1)
    ref_stats = timing.timing_stats([hard_vad(_turns(60, 2.0, 0.3, rng), SR, FRAME_HZ)], FRAME_HZ)
    with pytest.raises(DataError, match="--seconds"):
        window_distances([_turns(30, 2.0, 0.3, rng)], ref_stats, SR, 60)

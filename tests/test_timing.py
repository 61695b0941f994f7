"""wavebabble.timing (+ measure): events on hand-built VAD with every event known, the same events measured back
from rendered stereo WAVs, real speech (each FSDD recording is one IPU), pooling, silence, distances."""
import dataclasses
import json

import numpy as np
import pytest

from wavebabble import audio, measure, timing, vad

FH = 100
SR = 8000

# --------------------------------------------------------------------------- the hand-built dialogue
# 12 s. Timeline (A = channel 0, B = channel 1):
#  0.0-0.5 silence (clip start: not counted)      5.5-6.0 both: A before, A after -> within-turn overlap 0.5
#  0.5-3.0 A (its 0.1 s silence at 2.0 is bridged)6.0-7.0 A
#  3.0-3.5 silence A->A: pause 0.5                7.0-7.3 silence A->A: pause 0.3
#  3.5-3.8 A                                      7.3-7.8 A
#  3.8-4.0 both A->B: speaker-change overlap 0.2  7.8-7.9 silence A->B: gap 0.1
#  4.0-4.6 B                                      7.9-9.0 B
#  4.6-5.0 silence B->A: gap 0.4                  9.0-9.4 silence B->B: pause 0.4
#  5.0-5.5 A                                      9.4-9.8 B
#  9.8-10.0 both, then silence -> within-turn overlap 0.2
#  10.0-10.5 silence after "both": neither pause nor gap;  10.5-11.0 A;  11.0-12.0 silence (clip end)
# Backchannels: B 3.8-4.6 (A holds the floor across it) and B 5.5-6.0 (inside A's IPU). Not: B 7.9-9.0 (> 1 s),
# B 9.4-10.0 (A's 9.8-10.0 lies between), A 7.3-7.8 (continues A's own turn), A 9.8-10.0 / 10.5-11.0 (B never
# speaks again).
DURATION = 12.0
INTERVALS = [
    [(0.5, 2.0), (2.1, 3.0), (3.5, 4.0), (5.0, 7.0), (7.3, 7.8), (9.8, 10.0), (10.5, 11.0)],
    [(3.8, 4.6), (5.5, 6.0), (7.9, 9.0), (9.4, 10.0)],
]
EXPECT = {
    "ipu_s": [2.5, 0.5, 2.0, 0.5, 0.2, 0.5, 0.8, 0.5, 1.1, 0.6],
    "pause_s": [0.5, 0.3, 0.4],
    "gap_s": [0.4, 0.1],
    "change_overlap_s": [0.2],
    "within_overlap_s": [0.5, 0.2],
    "fto_s": [-0.2, 0.4, 0.1],
    "backchannel_s": [0.8, 0.5],
}
EXPECT_SUMMARY = {
    "minutes": 0.2, "ipu_per_min": 50.0, "pause_per_min": 15.0, "gap_per_min": 10.0, "overlap_per_min": 15.0,
    "ipu_median_s": 0.55, "pause_median_s": 0.4, "gap_median_s": 0.25, "overlap_median_s": 0.2,
    "fto_median_s": 0.1, "speech_ratio": [6.2 / 12, 3.0 / 12], "overlap_ratio": 0.9 / 12,
    "silence_ratio": 3.7 / 12, "transitions_overlapped": 1 / 3, "backchannel_per_min": 10.0,
    "num_backchannels": 2, "fto_share_0_400ms": 2 / 3,       # 0.4 and 0.1 s; not the -0.2 s overlap
}


def _check_summary(got, want, abs_tol=1e-9):
    assert set(got) == set(timing.SUMMARY_KEYS)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=abs_tol), k


def _sorted(x):
    return sorted(np.round(np.asarray(x, dtype=float), 6).tolist())


def test_intervals_vad_round_trip():
    v = timing.intervals_to_vad(INTERVALS, DURATION, FH)
    assert v.shape == (1200, 2) and v.dtype == bool
    assert timing.vad_to_intervals(v, FH) == [list(map(tuple, c)) for c in INTERVALS]
    # off-grid times go to the frames whose centres they cover; durations round to whole frames
    off = timing.intervals_to_vad([[(0.004, 0.016)], [(0.0151, 0.05)]], 0.1, FH)
    assert off[:, 0].tolist() == [True, True] + [False] * 8
    assert off[:, 1].tolist() == [False, False, True, True, True] + [False] * 5
    assert timing.intervals_to_vad([[], []], 1.0).shape == (100, 2)


def test_bridging_threshold_is_0_2_s():
    below = timing.timing_stats(timing.intervals_to_vad([[(1.0, 2.0), (2.19, 3.0)], []], 4.0, FH), FH)
    at = timing.timing_stats(timing.intervals_to_vad([[(1.0, 2.0), (2.2, 3.0)], []], 4.0, FH), FH)
    assert len(below.ipu_s) == 1 and below.ipu_s[0] == pytest.approx(2.0) and len(below.pause_s) == 0
    assert len(at.ipu_s) == 2 and _sorted(at.pause_s) == [0.2]
    filled = timing.fill_short_silences(np.array([[0, 1, 0, 1, 0]], bool).T, FH, 0.2)
    assert filled[:, 0].tolist() == [False, True, True, True, False]  # edges never filled


def test_hand_built_dialogue_every_event():
    stats = timing.timing_stats(timing.intervals_to_vad(INTERVALS, DURATION, FH), FH)
    for field, want in EXPECT.items():
        assert _sorted(getattr(stats, field)) == _sorted(want), field
    assert np.sign(stats.fto_s).tolist() == [-1, 1, 1]          # in time order
    assert _sorted(stats.overlap_s) == _sorted(EXPECT["change_overlap_s"] + EXPECT["within_overlap_s"])
    _check_summary(stats.summary, EXPECT_SUMMARY)
    assert stats.counts() == {"ipus": 10, "pauses": 3, "gaps": 2, "overlaps": 3, "change_overlaps": 1,
                              "within_overlaps": 2, "backchannels": 2, "speaker_changes": 3}
    ev = timing.dialogue_events(timing.intervals_to_vad(INTERVALS, DURATION, FH), FH)
    assert ev.pause_speaker.tolist() == [0, 0, 1]
    assert [b.tolist() for b in ev.backchannels] == [[], [[380, 460], [550, 600]]]


def test_edges_overlap_at_start_and_speech_to_the_end():
    # A 0-1 and B 0-0.4 start together (overlap with nothing before: within-turn); gap A->B 1.0-1.5;
    # B->A speaker-change overlap 2.3-2.5; A talks to the clip end; no silence at either edge. B's 1 s IPU
    # 1.5-2.5 sits between two IPUs of A, isolated from B's first one by A's speech: a backchannel.
    v = timing.intervals_to_vad([[(0.0, 1.0), (2.3, 5.0)], [(0.0, 0.4), (1.5, 2.5)]], 5.0, FH)
    s = timing.timing_stats(v, FH)
    assert len(s.ipu_s) == 4 and len(s.pause_s) == 0
    assert _sorted(s.gap_s) == [0.5] and _sorted(s.change_overlap_s) == [0.2]
    assert _sorted(s.within_overlap_s) == [0.4] and s.fto_s.tolist() == pytest.approx([0.5, -0.2])
    assert s.summary["transitions_overlapped"] == pytest.approx(0.5) and _sorted(s.backchannel_s) == [1.0]


def test_edge_silences_not_counted():
    v = timing.intervals_to_vad([[(1.0, 2.0)], [(3.0, 4.0)]], 5.0, FH)
    s = timing.timing_stats(v, FH)
    assert _sorted(s.gap_s) == [1.0] and len(s.pause_s) == 0
    assert s.summary["silence_ratio"] == pytest.approx(0.6)
    one = timing.timing_stats(timing.intervals_to_vad([[(1.0, 2.0), (2.5, 3.0)], []], 5.0, FH), FH)
    assert _sorted(one.pause_s) == [0.5] and len(one.gap_s) == 0 and len(one.fto_s) == 0
    assert one.summary["transitions_overlapped"] is None


@pytest.mark.parametrize("b_intervals,expected", [
    ([(2.1, 2.4)], [0.3]),                    # "mm" in A's pause: A holds the floor
    ([(1.0, 2.0)], [1.0]),                    # overlapping, exactly 1 s: still a backchannel
    ([(1.0, 2.01)], []),                      # longer than 1 s
    ([(2.1, 2.4), (2.7, 3.0)], []),           # two IPUs in A's pause: a short turn, not isolated
    ([(4.0, 4.5)], [0.5]),                    # inside A's second IPU
    ([(5.5, 5.9)], []),                       # after A's last IPU: nobody's turn continues
])
def test_backchannel_rule(b_intervals, expected):
    a = [(0.0, 2.0), (3.2, 5.0)]
    s = timing.timing_stats(timing.intervals_to_vad([a, b_intervals], 6.0, FH), FH)
    assert _sorted(s.backchannel_s) == _sorted(expected)
    assert s.summary["num_backchannels"] == len(expected)


def test_pooling_over_dialogues():
    v1 = timing.intervals_to_vad(INTERVALS, DURATION, FH)
    v2 = timing.intervals_to_vad([[(1.0, 2.0)], [(3.0, 4.0)]], 6.0, FH)
    s1, s2, both = (timing.timing_stats(v1, FH), timing.timing_stats(v2, FH),
                    timing.timing_stats([v1, v2], FH))
    assert both.num_dialogues == 2 and both.summary["minutes"] == pytest.approx(0.3)
    assert both.summary["ipu_per_min"] == pytest.approx((10 + 2) / 0.3)
    assert both.summary["gap_per_min"] == pytest.approx((2 + 1) / 0.3)
    assert _sorted(both.gap_s) == _sorted(list(s1.gap_s) + list(s2.gap_s))
    assert both.summary["speech_ratio"][0] == pytest.approx((6.2 + 1.0) / 18)
    # pooling is not concatenation: no event spans the boundary between dialogues
    assert timing.timing_stats(np.stack([v1, v1]), FH).summary["pause_per_min"] == pytest.approx(15.0)
    # (concatenating them instead would join A's last IPU to its first across the seam: one 1.5 s pause more)
    assert _sorted(timing.timing_stats(np.concatenate([v1, v1]), FH).pause_s) == _sorted([0.5, 0.3, 0.4] * 2 + [1.5])


def test_all_silent_dialogue_is_json_safe():
    for vad_arr in (np.zeros((1000, 2), bool), np.zeros((0, 2), bool)):
        s = timing.timing_stats(vad_arr, FH)
        j = s.to_json()
        text = json.dumps(j, allow_nan=False)
        assert "NaN" not in text and set(j) == set(timing.SUMMARY_KEYS)
        for k in timing.RATE_KEYS + ("backchannel_per_min",):
            assert j[k] == 0.0
        for k in timing.MEDIAN_KEYS + ("transitions_overlapped",):
            assert j[k] is None
        assert j["speech_ratio"] == [0.0, 0.0] and j["overlap_ratio"] == 0.0
    assert timing.timing_stats(np.zeros((1000, 2), bool), FH).summary["silence_ratio"] == 1.0
    # and from audio: an all-silent stereo file
    z = measure.measure_audio(np.zeros((2 * SR, 2), np.float32), SR)
    assert z.summary["ipu_per_min"] == 0 and json.dumps(z.to_json(), allow_nan=False)


def test_rejects_bad_vad_shape():
    with pytest.raises(ValueError, match="frames, 2"):
        timing.timing_stats(np.zeros((10, 3), bool))


# --------------------------------------------------------------------------- distances
def test_wasserstein_1d():
    assert timing.wasserstein_1d([0.0], [1.0]) == pytest.approx(1.0)
    assert timing.wasserstein_1d([1, 2, 3], [1, 2, 3]) == 0.0
    rng = np.random.default_rng(0)
    u, v = rng.normal(0, 1, 50), rng.normal(0.5, 2, 70)
    assert timing.wasserstein_1d(u, u + 0.3) == pytest.approx(0.3)
    assert timing.wasserstein_1d(u, v) == pytest.approx(timing.wasserstein_1d(v, u))
    # equal sample sizes: mean absolute difference of the sorted samples
    a, b = rng.normal(0, 1, 40), rng.exponential(1, 40)
    assert timing.wasserstein_1d(a, b) == pytest.approx(np.mean(np.abs(np.sort(a) - np.sort(b))))
    assert timing.wasserstein_1d([], []) == 0.0 and timing.wasserstein_1d([1.0], []) is None
    scipy_stats = pytest.importorskip("scipy.stats")
    assert timing.wasserstein_1d(u, v) == pytest.approx(scipy_stats.wasserstein_distance(u, v))


def test_fto_share_and_relative_fto_distance():
    assert timing.fto_near_share([0.0, 0.2, 0.4, 0.41, -0.05]) == pytest.approx(3 / 5)
    assert timing.fto_near_share([]) is None
    # reference FTOs 0.1 / 0.2 / 0.6: median 0.2, spread = mean |fto - 0.2| = (0.1 + 0 + 0.4) / 3
    ref = timing.TimingStats(summary={}, fto_s=np.array([0.1, 0.2, 0.6]), ipu_s=np.zeros(0), pause_s=np.zeros(0),
                             gap_s=np.zeros(0), overlap_s=np.zeros(0))
    late = dataclasses.replace(ref, fto_s=ref.fto_s + 0.5)            # every gap 0.5 s longer
    for stats in (ref, late):
        stats.summary.update({k: 1.0 for k in timing.RATE_KEYS}, speech_ratio=[0.4, 0.4], overlap_ratio=0.1)
    d = timing.timing_distance(late, ref)
    assert d["mean_relative_error"] == 0.0 and d["fto_wasserstein_s"] == pytest.approx(0.5)
    assert d["fto_relative_wasserstein"] == pytest.approx(0.5 / (0.5 / 3))
    assert d["timing_score"] == pytest.approx(d["fto_relative_wasserstein"])


def test_timing_distance():
    s = timing.timing_stats(timing.intervals_to_vad(INTERVALS, DURATION, FH), FH)
    d0 = timing.timing_distance(s, s)
    assert d0["mean_relative_error"] == 0.0
    assert d0["fto_wasserstein_s"] == d0["ipu_wasserstein_s"] == d0["pause_wasserstein_s"] == 0.0
    assert set(d0["relative_errors"]) == set(timing.DISTANCE_KEYS) and len(timing.DISTANCE_KEYS) == 7
    # the same dialogue followed by as much silence: every rate and ratio halves -> each relative error 0.5
    padded = np.concatenate([timing.intervals_to_vad(INTERVALS, DURATION, FH), np.zeros((1200, 2), bool)])
    d = timing.timing_distance(timing.timing_stats(padded, FH), s)
    assert d["mean_relative_error"] == pytest.approx(0.5)
    assert d["ipu_wasserstein_s"] == pytest.approx(0.0)
    silent = timing.timing_stats(np.zeros((1200, 2), bool), FH)
    ds = timing.timing_distance(silent, s)
    assert ds["mean_relative_error"] == pytest.approx(1.0) and ds["fto_wasserstein_s"] is None
    assert ds["timing_score"] == pytest.approx(1.0 + timing.MISSING_FTO_PENALTY)
    assert json.dumps(ds, allow_nan=False)
    assert d0["fto_relative_wasserstein"] == 0.0 and d0["timing_score"] == 0.0
    table = timing.stats_table({"generated": silent, "real": s}, ds)
    for word in ("generated", "real", "ipu_per_min", "fto_wasserstein_s", "mean_relative_error", "0.550"):
        assert word in table


# --------------------------------------------------------------------------- rendered audio -> hard VAD -> timing
RENDER_TOL_S = 0.06    # hard VAD edges: onset within a frame, offset + hangover + half window
BACKGROUND_RMS = 1e-3  # steady background noise (-60 dBFS) on both channels


def render_dialogue(intervals, duration, seed=0):
    """Stereo [T, 2]: A = harmonic tone bursts, B = band-limited noise bursts, over steady background noise."""
    rng = np.random.default_rng(seed)
    n = int(duration * SR)
    t = np.arange(n) / SR
    tone = 0.25 * (np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 360 * t))
    hiss = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same") * 0.3
    out = BACKGROUND_RMS * rng.standard_normal((n, 2))
    for c, src in enumerate((tone, hiss)):
        for a, b in intervals[c]:
            i, j = int(round(a * SR)), int(round(b * SR))
            out[i:j, c] += src[i:j]
    return out.astype(np.float32)


def test_rendered_wav_measured_back(tmp_path):
    path = audio.write_wav(tmp_path / "dlg" / "hand.wav", render_dialogue(INTERVALS, DURATION), SR)
    stereo, sr = audio.read_stereo(path)
    stats = timing.timing_stats(vad.hard_vad(stereo, sr), FH)
    assert stats.counts() == {"ipus": 10, "pauses": 3, "gaps": 2, "overlaps": 3, "change_overlaps": 1,
                              "within_overlaps": 2, "backchannels": 2, "speaker_changes": 3}
    assert np.sign(stats.fto_s).tolist() == [-1, 1, 1]
    for field, want in EXPECT.items():
        np.testing.assert_allclose(_sorted(getattr(stats, field)), _sorted(want), atol=RENDER_TOL_S, err_msg=field)
    assert measure.measure_path(tmp_path / "dlg").summary == stats.summary


def test_rendered_random_dialogues_at_any_gain():
    """Random turn timing (events >= 0.3 s so VAD edges cannot merge or split them), both speakers at
    independent random gains: the hard VAD recovers every event."""
    rng = np.random.default_rng(7)
    for trial in range(3):
        ivs, t, ch = [[], []], 0.3, 0
        while t < 9.0:
            for _ in range(int(rng.integers(1, 3))):
                d = rng.uniform(0.3, 1.5)
                ivs[ch].append((round(t, 2), round(t + d, 2)))
                t += d + rng.uniform(0.35, 0.8)
            t -= rng.uniform(0.3, 0.6) if rng.random() < 0.3 else 0.0   # sometimes the next speaker overlaps
            ch = 1 - ch
        dur = round(t + 1.0, 2)
        truth = timing.timing_stats(timing.intervals_to_vad(ivs, dur, FH), FH)
        x = render_dialogue(ivs, dur, seed=trial) * rng.uniform(0.01, 1.0, size=2).astype(np.float32)
        got = measure.measure_audio(x, SR)
        assert got.counts() == truth.counts(), (ivs, got.counts(), truth.counts())
        np.testing.assert_allclose(got.fto_s, truth.fto_s, atol=RENDER_TOL_S)
        np.testing.assert_allclose(_sorted(got.ipu_s), _sorted(truth.ipu_s), atol=RENDER_TOL_S)


# --------------------------------------------------------------------------- real speech: FSDD
FSDD_GAP_S = 0.5       # silence between the two speakers' digits
FSDD_LEAD_S = 0.3      # silence before the first digit and after the second
CORE_DB = 10.0         # every frame within this of the recording's loudest frame must be speech
BODY_DB = 20.0         # ... and at least BODY_FRACTION of the frames within this
BODY_FRACTION = 0.85   # (the worst of all 3000 recordings: 0.88, a 30 ms burst after a 0.1 s dip)
FSDD_SAMPLE_EVERY = 10  # the fast test takes every 10th recording (300, all speakers and digits)


def _check_fsdd_one_ipu(files):
    """Each recording, at its raw level, as one turn of a two-party exchange: A says digit i, B another
    recording after a 0.5 s gap. Each channel must hold exactly one IPU covering the recording's energetic part.
    Returns the names of the recordings that fail."""
    recs = []
    for p in files:
        x, sr = audio.read_audio(p)
        assert sr == SR and x.shape[1] == 1
        recs.append(x[:, 0])
    n = len(recs)
    lead, gap = int(FSDD_LEAD_S * SR), int(FSDD_GAP_S * SR)
    failures = []
    for i in range(n):
        a, b = recs[i], recs[(i + n // 2 + 1) % n]   # partner: another speaker / digit
        x = np.zeros((lead + len(a) + gap + len(b) + lead, 2), np.float32)
        x[lead:lead + len(a), 0] = a
        x[lead + len(a) + gap:lead + len(a) + gap + len(b), 1] = b
        v = vad.hard_vad(x, SR)
        c = timing.timing_stats(v, FH).counts()
        ipus = timing.fill_short_silences(v, FH)
        ok = (len(timing.vad_to_intervals(ipus, FH)[0]) == 1 and c["ipus"] == 2 and c["gaps"] == 1
              and c["overlaps"] == 0 and c["pauses"] == 0)
        if ok:  # speech found: the IPU covers the recording's energetic frames
            e = vad.frame_energy_db(x[:, 0], SR)
            ok = ipus[e > e.max() - CORE_DB, 0].all() and ipus[e > e.max() - BODY_DB, 0].mean() >= BODY_FRACTION
        if not ok:
            failures.append(files[i].name)
    return failures


@pytest.mark.fsdd
def test_fsdd_recordings_are_one_ipu(fsdd_dir):
    files = sorted(fsdd_dir.glob("*.wav"))[::FSDD_SAMPLE_EVERY]
    assert len({p.stem.split("_")[1] for p in files}) >= 6 and len({p.stem[0] for p in files}) == 10
    failures = _check_fsdd_one_ipu(files)
    assert not failures, f"{len(failures)}/{len(files)} recordings not found as one IPU: {failures[:10]}"


@pytest.mark.fsdd
@pytest.mark.slow
def test_all_fsdd_recordings_are_one_ipu(fsdd_dir):
    files = sorted(fsdd_dir.glob("*.wav"))
    failures = _check_fsdd_one_ipu(files)
    assert not failures, f"{len(failures)}/{len(files)} recordings not found as one IPU: {failures[:10]}"

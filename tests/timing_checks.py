"""Shared test checks: a corpus's ground-truth timing vs the timing hard_vad measures from its audio."""
import soundfile as sf

from wavebabble.timing import RATE_KEYS, intervals_to_vad, timing_stats
from wavebabble.vad import hard_vad


def manifest_vs_measured(folder, records) -> tuple[list, list]:
    """(ground-truth VADs from the manifest records, hard VADs of their WAVs under folder)."""
    truth, measured = [], []
    for r in records:
        audio, sr = sf.read(folder / r["path"], dtype="float32")
        truth.append(intervals_to_vad(r["intervals"], r["duration"]))
        measured.append(hard_vad(audio, sr))
    return truth, measured


def assert_rates_close(truth: list, measured: list, rel: float = 0.10, slack: float = 0.0) -> tuple[dict, dict]:
    """Every per-minute rate of the measured VADs within rel * truth + slack; returns both summaries."""
    a, b = timing_stats(truth).summary, timing_stats(measured).summary
    for key in RATE_KEYS:
        assert abs(b[key] - a[key]) <= rel * a[key] + slack, (key, a[key], b[key])
    return a, b

"""python -m eval.timing: audio file/folder, --vad_json, --reference, --json, bad input, --skip_bad."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wavebabble import audio, measure, timing
from wavebabble.errors import DataError

REPO = Path(__file__).resolve().parents[1]
SR = 8000
FH = 100
JSON_KEYS = set(timing.SUMMARY_KEYS) | {"num_dialogues", "num_skipped"}

# two annotated dialogues; every event known (see tests/test_timing.py for the rules)
DLG1 = {"duration": 6.0, "vad": [[[0.5, 2.0], [2.5, 3.0]], [[2.9, 4.0], [4.5, 5.5]]]}
# A: 0.5-2.0, pause 0.5, 2.5-3.0; B->: change overlap 2.9-3.0 (FTO -0.1); B 3.0-4.0, pause 0.5, 4.5-5.5
DLG2 = {"duration": 4.0, "vad": [[[0.2, 1.0]], [[1.3, 3.0]]]}
# A 0.2-1.0, gap 0.3 (FTO +0.3), B 1.3-3.0


def _cli(*args, ok=True):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-m", "eval.timing", *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    if ok:
        assert res.returncode == 0, res.stdout + res.stderr
    return res


def _render(intervals, duration, seed=0):
    """Stereo [T, 2]: tone bursts (A 200 Hz, B 310 Hz) over -60 dBFS background noise."""
    rng = np.random.default_rng(seed)
    n = int(duration * SR)
    t = np.arange(n) / SR
    out = 1e-3 * rng.standard_normal((n, 2))
    for c, f in enumerate((200.0, 310.0)):
        for a, b in intervals[c]:
            i, j = int(a * SR), int(b * SR)
            out[i:j, c] += 0.3 * np.sin(2 * np.pi * f * t[i:j])
    return out.astype(np.float32)


def _load(path):
    def no_nan(c):
        raise AssertionError(f"non-JSON constant {c} in {path}")
    return json.loads(Path(path).read_text(), parse_constant=no_nan)


@pytest.fixture()
def audio_dir(tmp_path):
    d = tmp_path / "dialogues"
    audio.write_wav(d / "one.wav", _render(DLG1["vad"], DLG1["duration"]), SR)
    audio.write_wav(d / "sub" / "two.wav", _render(DLG2["vad"], DLG2["duration"], seed=1), SR)
    return d


def test_cli_audio_folder_with_json(audio_dir, tmp_path):
    out = tmp_path / "res" / "t.json"
    res = _cli(f"--input={audio_dir}", f"--json={out}")
    assert "ipu_per_min" in res.stdout and "input" in res.stdout
    j = _load(out)
    assert set(j) == {"input"} and set(j["input"]) == JSON_KEYS
    s = j["input"]
    assert s["num_dialogues"] == 2 and s["minutes"] == pytest.approx(10.0 / 60)
    # events: 6 IPUs, pauses 2, gaps 1, overlaps 1 (speaker change) in 10 s
    assert s["ipu_per_min"] == pytest.approx(6 / s["minutes"])
    assert s["pause_per_min"] == pytest.approx(2 / s["minutes"])
    assert s["gap_per_min"] == pytest.approx(1 / s["minutes"])
    assert s["overlap_per_min"] == pytest.approx(1 / s["minutes"])
    assert s["transitions_overlapped"] == pytest.approx(0.5)
    assert s == {**measure.measure_path(audio_dir).to_json(), "num_dialogues": 2, "num_skipped": 0}


def test_cli_single_file_and_vad_json_agree(audio_dir, tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps([DLG1, DLG2]))
    out = tmp_path / "v.json"
    _cli(f"--vad_json={ann}", f"--json={out}")
    got = _load(out)["input"]
    want = timing.timing_stats([timing.intervals_to_vad(d["vad"], d["duration"]) for d in (DLG1, DLG2)])
    assert got == {**want.to_json(), "num_dialogues": 2, "num_skipped": 0}
    assert got["fto_median_s"] == pytest.approx(0.1) and got["pause_median_s"] == pytest.approx(0.5)
    # one object (not a list) works too
    one = tmp_path / "one.json"
    one.write_text(json.dumps(DLG2))
    _cli(f"--vad_json={one}", f"--json={out}")
    assert _load(out)["input"]["gap_median_s"] == pytest.approx(0.3)
    # a single audio file measured against its own annotation: the same events
    _cli(f"--input={audio_dir / 'sub' / 'two.wav'}", f"--reference_vad_json={one}", f"--json={out}")
    j = _load(out)
    assert j["input"]["num_dialogues"] == 1
    assert j["input"]["gap_per_min"] == j["reference"]["gap_per_min"]
    assert j["distance"]["fto_wasserstein_s"] < 0.06


def test_cli_reference_side_by_side(audio_dir, tmp_path):
    ref = tmp_path / "ref"
    audio.write_wav(ref / "r.wav", _render([[[0.5, 1.5]], [[2.0, 3.0]]], 4.0, seed=3), SR)
    out = tmp_path / "cmp.json"
    res = _cli(f"--input={audio_dir}", f"--reference={ref}", f"--json={out}")
    header = res.stdout.splitlines()[0]
    assert "input" in header and "reference" in header and "mean_relative_error" in res.stdout
    j = _load(out)
    assert set(j) == {"input", "reference", "distance"} and set(j["reference"]) == JSON_KEYS | {"window_s"}
    assert j["reference"]["window_s"] is None    # the reference (4 s) is not longer than the input (4 s, 6 s)
    assert set(j["distance"]) >= {"mean_relative_error", "fto_wasserstein_s", "ipu_wasserstein_s",
                                  "pause_wasserstein_s", "relative_errors"}
    assert j["distance"]["mean_relative_error"] > 0
    assert j["distance"]["pause_wasserstein_s"] is None  # the reference has no pauses: null, not NaN
    _cli(f"--input={audio_dir}", f"--reference={audio_dir}", f"--json={out}")
    assert _load(out)["distance"]["mean_relative_error"] == 0.0


def _turns(duration, seed):
    """A VAD-JSON dialogue of `duration` s: turns of 0.5-2.5 s handed over after -0.3..0.6 s, pauses inside."""
    rng = np.random.default_rng(seed)
    vad, t, who = [[], []], 0.3, 0
    while t < duration - 0.5:
        end = min(t + rng.uniform(0.5, 2.5), duration)
        vad[who].append([round(t, 2), round(end, 2)])
        if rng.random() < 0.3:                       # a pause, the same speaker goes on
            t = end + rng.uniform(0.3, 0.8)
        else:
            who, t = 1 - who, max(0.0, end + rng.uniform(-0.3, 0.6))
    return {"duration": duration, "vad": vad}


def test_cli_reference_counted_at_the_inputs_length(tmp_path):
    """A reference of long dialogues whose 6 s windows are the input: identical timing once the reference is
    cut into the input's length (MRE 0); counted whole, its rates differ (events cut by the clips' edges)."""
    window, long = 6.0, [_turns(60.0, seed) for seed in range(3)]
    ref, clips = tmp_path / "ref.json", tmp_path / "clips.json"
    ref.write_text(json.dumps(long))
    vads = [v for v in measure.load_vad_json(ref, FH)]
    pieces = [w for v in vads for w in measure.clip_windows([v], int(window * FH))]
    assert len(pieces) == 30
    clips.write_text(json.dumps([{"duration": window, "vad": [
        [[a / FH, b / FH] for a, b in zip(*timing._runs(w[:, c]))] for c in range(2)]} for w in pieces]))
    out = tmp_path / "cmp.json"
    res = _cli(f"--vad_json={clips}", f"--reference_vad_json={ref}", f"--json={out}")
    assert "6.00 s windows" in res.stdout
    j = _load(out)
    assert j["reference"]["window_s"] == window and j["reference"]["num_dialogues"] == 30
    assert j["distance"]["mean_relative_error"] == pytest.approx(0.0, abs=1e-9)
    _cli(f"--vad_json={clips}", f"--reference_vad_json={ref}", f"--json={out}", "--nomatch_length")
    j = _load(out)
    assert j["reference"]["window_s"] is None and j["reference"]["num_dialogues"] == 3
    assert j["distance"]["mean_relative_error"] > 0.02


def test_reference_window_length():
    assert measure.reference_window_length([80, 82, 90], [600, 600]) == 82
    assert measure.reference_window_length([60, 40], [60, 40]) is None      # a set and itself: whole
    assert measure.reference_window_length([80, 700], [600, 600]) is None   # the input has a longer dialogue
    assert measure.reference_window_length([], [600]) is None


def test_cli_silent_dialogue_json_has_no_nan(tmp_path):
    audio.write_wav(tmp_path / "s" / "silent.wav", np.zeros((3 * SR, 2), np.float32), SR)
    out = tmp_path / "s.json"
    _cli(f"--input={tmp_path / 's'}", f"--json={out}")
    s = _load(out)["input"]
    assert s["ipu_per_min"] == 0 and s["fto_median_s"] is None and s["transitions_overlapped"] is None


def test_cli_bad_files(audio_dir, tmp_path):
    (audio_dir / "broken.wav").write_bytes(b"not a wav file at all" * 10)
    res = _cli(f"--input={audio_dir}", ok=False)
    assert res.returncode == 1 and "broken.wav" in res.stderr and "corrupt" in res.stderr
    out = tmp_path / "skip.json"
    res = _cli(f"--input={audio_dir}", "--skip_bad", f"--json={out}")
    assert "broken.wav" in res.stderr
    j = _load(out)["input"]
    assert j["num_skipped"] == 1 and j["num_dialogues"] == 2
    audio.write_wav(tmp_path / "m" / "mono.wav", np.zeros(SR, np.float32), SR)
    res = _cli(f"--input={tmp_path / 'm'}", ok=False)
    assert res.returncode == 1 and "mono.wav" in res.stderr and "mono" in res.stderr
    res = _cli(f"--input={tmp_path / 'nothing_here'}", ok=False)
    assert res.returncode == 1 and "nothing_here" in res.stderr
    (tmp_path / "empty_dir").mkdir()
    res = _cli(f"--input={tmp_path / 'empty_dir'}", ok=False)
    assert res.returncode == 1 and "no audio files" in res.stderr


def test_cli_usage_errors(tmp_path):
    res = _cli(ok=False)
    assert res.returncode != 0 and "--input" in (res.stdout + res.stderr)
    res = _cli("--input=x", "--vad_json=y", ok=False)
    assert res.returncode != 0 and "not both" in (res.stdout + res.stderr)


@pytest.mark.parametrize("content,words", [
    ("{not json", ["cannot parse"]),
    ("[]", ["empty list"]),
    (json.dumps({"duration": 5}), ["'duration'", "'vad'"]),
    (json.dumps({"duration": -1, "vad": [[], []]}), ["duration", "positive"]),
    (json.dumps({"duration": 5, "vad": [[]]}), ["2 channels"]),
    (json.dumps({"duration": 5, "vad": [[[2.0, 1.0]], []]}), ["channel 0 interval 0"]),
    (json.dumps([DLG1, {"duration": 5, "vad": [[], [["a", 1]]]}]), ["item 1", "channel 1 interval 0"]),
])
def test_bad_vad_json(tmp_path, content, words):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(DataError) as info:
        measure.load_vad_json(p)
    msg = str(info.value)
    assert str(p) in msg and all(w in msg for w in words), msg


def test_bad_vad_json_via_cli(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{oops")
    res = _cli(f"--vad_json={p}", ok=False)
    assert res.returncode == 1 and "bad.json" in res.stderr and "cannot parse" in res.stderr


def test_help_lists_every_flag():
    res = _cli("--helpshort", ok=False)  # absl prints the usage and exits 1
    for flag in ("input", "vad_json", "reference", "reference_vad_json", "json", "skip_bad", "sample_rate",
                 "frame_hz", "mono", "dialogue_range_db"):
        assert f"--{flag}" in res.stdout or f"--[no]{flag}" in res.stdout, flag


def test_measure_audio_batches():
    x = _render(DLG2["vad"], DLG2["duration"])
    one = measure.measure_audio(x, SR)
    batch = measure.measure_audio(np.stack([x, x, x]), SR)
    assert batch.num_dialogues == 3 and batch.summary["ipu_per_min"] == pytest.approx(one.summary["ipu_per_min"])
    assert len(batch.fto_s) == 3 * len(one.fto_s) == 3


def test_envelope_correlation_turn_taking_vs_copied_channel():
    from wavebabble.measure import envelope_correlation

    rng = np.random.default_rng(0)
    sr, n = 8000, 8000 * 4
    turn = (np.arange(n) // (sr // 2)) % 2                     # speakers alternate every 0.5 s
    noise = rng.standard_normal((n, 2)) * 0.3
    taking = np.stack([noise[:, 0] * (turn == 0), noise[:, 1] * (turn == 1)], 1) + 1e-3 * rng.standard_normal((n, 2))
    copied = np.stack([taking[:, 0], 0.01 * taking[:, 0] + 1e-6 * rng.standard_normal(n)], 1)   # -40 dB crosstalk
    corr = envelope_correlation(np.stack([taking, copied]), sr)
    assert corr.shape == (2,) and corr[0] < -0.8 and corr[1] > 0.9
    gained = taking * np.array([1.0, 0.01])       # a channel's gain does not change it (above the -100 dB floor)
    np.testing.assert_allclose(envelope_correlation(gained[None], sr), corr[:1], atol=2e-3)
    assert np.isnan(envelope_correlation(np.zeros((1, n, 2)), sr)[0])


def _one_error_line(res):
    """The CLI failed with exit code 1 and said why in exactly one line, without a Python traceback."""
    assert res.returncode == 1, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr, res.stderr
    lines = [line for line in (res.stdout + res.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("args,flag,allowed", [
    (["--sample_rate=0"], "--sample_rate=0", "frame_hz"),
    (["--sample_rate=-8000"], "--sample_rate=-8000", "frame_hz"),
    (["--sample_rate=50"], "--sample_rate=50", "frame_hz"),
    (["--sample_rate=1000000000"], "--sample_rate=1000000000", "384000"),
    (["--frame_hz=0"], "--frame_hz=0", "1000"),
    (["--frame_hz=-100"], "--frame_hz=-100", "1000"),
    (["--frame_hz=100000"], "--frame_hz=100000", "1000"),
    (["--dialogue_range_db=-5"], "--dialogue_range_db=-5", "positive"),
    (["--dialogue_range_db=0"], "--dialogue_range_db=0", "positive"),
    (["--dialogue_range_db=nan"], "--dialogue_range_db=nan", "positive"),
])
def test_cli_refuses_bad_values_in_one_line(audio_dir, args, flag, allowed):
    line = _one_error_line(_cli(f"--input={audio_dir}", *args, ok=False))
    assert flag in line and allowed in line, line


def test_cli_frame_rate_above_a_files_rate_is_one_line(tmp_path):
    audio.write_wav(tmp_path / "low.wav", np.zeros((200, 2), np.float32), 50)
    line = _one_error_line(_cli(f"--input={tmp_path / 'low.wav'}", ok=False))
    assert "low.wav" in line and "frame_hz=100" in line, line


def test_cli_bad_frame_rate_with_vad_json_is_one_line(tmp_path):
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(DLG1))
    line = _one_error_line(_cli(f"--vad_json={ann}", "--frame_hz=0", ok=False))
    assert "--frame_hz=0" in line, line


def test_vad_json_clipped_and_merged_intervals_warn(tmp_path):
    # channel 0: one interval past the 6 s duration and one starting after it; channel 1: two overlapping pairs
    dlg = {"duration": 6.0, "vad": [[[0.5, 2.0], [5.0, 7.0], [6.5, 8.0]],
                                    [[2.9, 4.0], [3.5, 4.2], [4.5, 5.5], [5.0, 5.2]]]}
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(dlg))
    res = _cli(f"--vad_json={ann}")
    warned = [line for line in res.stderr.splitlines() if "ann.json" in line]
    assert len(warned) == 2, res.stderr
    assert "channel 0" in warned[0] and "2 interval(s)" in warned[0] and "clipped" in warned[0], warned
    assert "channel 1" in warned[1] and "2 interval(s)" in warned[1] and "merged" in warned[1], warned
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(DLG1))
    assert "clean.json" not in _cli(f"--vad_json={clean}").stderr

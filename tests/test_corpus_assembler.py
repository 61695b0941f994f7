"""Assembler: speaker grouping, bad files, FSDD dialogues whose placed speech matches the manifest."""
import numpy as np
import pytest
import soundfile as sf

from timing_checks import assert_rates_close
from wavebabble.corpus.assembler import (assemble_dialogue, group_utterances, load_utterances, trim_silence)
from wavebabble.corpus.turn_model import sample_timing
from wavebabble.errors import DataError
from wavebabble.timing import intervals_to_vad
from wavebabble.vad import hard_vad

SR = 8000
DURATION_S = 60.0
RATE_TOLERANCE = 0.10


def _tone(seconds, freq=220.0, lead_s=0.2):
    t = np.arange(int(seconds * SR)) / SR
    y = 0.3 * np.sin(2 * np.pi * freq * t)
    return np.concatenate([np.zeros(int(lead_s * SR)), y, np.zeros(int(lead_s * SR))]).astype(np.float32)


def test_group_by_subfolder_and_by_name(tmp_path):
    for spk in ["alice", "bob"]:
        for n in range(2):
            sf.write(_mk(tmp_path / "sub" / spk / f"u{n}.wav"),
                     _tone(0.3), SR)
    groups = group_utterances(tmp_path / "sub")
    assert sorted(groups) == ["alice", "bob"] and all(len(v) == 2 for v in groups.values())
    flat = tmp_path / "flat"
    for name in ["carol_01.wav", "carol_02.wav", "dave-1.wav"]:
        sf.write(_mk(flat / name), _tone(0.3), SR)
    assert {k: len(v) for k, v in group_utterances(flat).items()} == {"carol": 2, "dave": 1}
    custom = group_utterances(flat, speaker_pattern=r"^(?P<speaker>[a-z]+)")
    assert sorted(custom) == ["carol", "dave"]


def _mk(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_grouping_errors(tmp_path):
    with pytest.raises(DataError, match="no audio files"):
        group_utterances(_mk(tmp_path / "empty" / "x").parent)
    sf.write(_mk(tmp_path / "one" / "solo_1.wav"), _tone(0.3), SR)
    with pytest.raises(DataError, match="at least 2"):
        group_utterances(tmp_path / "one")
    sf.write(_mk(tmp_path / "noname" / "nounderscore.wav"), _tone(0.3), SR)
    with pytest.raises(DataError, match="nounderscore.wav"):
        group_utterances(tmp_path / "noname")


def test_bad_files_rejected_up_front_or_skipped(tmp_path):
    for spk in ["a", "b"]:
        sf.write(_mk(tmp_path / spk / "good.wav"), _tone(0.4), SR)
    (tmp_path / "a" / "broken.wav").write_bytes(b"")
    sf.write(tmp_path / "b" / "silent.wav", np.zeros(SR, np.float32), SR)
    groups = group_utterances(tmp_path)
    with pytest.raises(DataError, match="broken.wav") as err:
        load_utterances(groups, SR)
    assert "silent.wav" in str(err.value) and "2 unusable" in str(err.value)
    bank = load_utterances(groups, SR, skip_bad=True)
    assert len(bank.rejected) == 2 and {k: len(v) for k, v in bank.speakers.items()} == {"a": 1, "b": 1}


def test_trim_and_fill_truncates_and_concatenates():
    y = trim_silence(_tone(0.5), SR)
    assert abs(len(y) / SR - 0.5) < 0.03
    pools = [[np.full(int(0.4 * SR), 0.1, np.float32)], [np.full(int(0.4 * SR), 0.1, np.float32)]]
    slots = [[(0.5, 0.7), (1.0, 2.5)], [(3.0, 3.3)]]
    audio, placed = assemble_dialogue(pools, slots, 4.0, SR, np.random.default_rng(0), noise_db=None)
    assert audio.shape == (4 * SR, 2)
    assert placed[0][0] == (0.5, 0.7) and placed[1] == [(3.0, 3.3)]  # truncated to the slot
    s, e = placed[0][1]
    assert s == 1.0 and 2.3 <= e <= 2.5                               # several utterances concatenated
    inside = np.zeros((4 * SR, 2), bool)
    for c in range(2):
        for s, e in placed[c]:
            inside[int(round(s * SR)):int(round(e * SR)), c] = True
    assert not np.any(audio[~inside])


@pytest.mark.fsdd
def test_fsdd_dialogue_timing_matches_manifest(fsdd_dir):
    groups = group_utterances(fsdd_dir)
    assert len(groups) == 6 and sum(len(v) for v in groups.values()) >= 3000 - 1
    bank = load_utterances(groups, SR, max_per_speaker=25)
    names = sorted(bank.speakers)
    gt, measured = [], []
    for i in range(2):
        rng = np.random.default_rng([4, i])
        slots = sample_timing(DURATION_S, rng)
        audio, placed = assemble_dialogue([bank.speakers[names[i]], bank.speakers[names[i + 2]]], slots,
                                          DURATION_S, SR, rng)
        for c in range(2):  # placed speech sits inside the requested slots
            for s, e in placed[c]:
                assert any(a - 1.0 / SR <= s and e <= b + 1.0 / SR for a, b in slots[c])
        rms = [np.sqrt(np.mean(audio[intervals_to_vad(placed, DURATION_S)[:, c].repeat(SR // 100), c] ** 2))
               for c in range(2)]
        assert max(rms) / min(rms) < 1.5  # level-matched speakers
        gt.append(intervals_to_vad(placed, DURATION_S))
        measured.append(hard_vad(audio, SR))
    assert_rates_close(gt, measured, rel=RATE_TOLERANCE, slack=0.5)

"""Corpus builder and CLI: identical bytes per seed, manifest, out_dir safety, timing files (JSON / CSV)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from timing_checks import assert_rates_close, manifest_vs_measured
from wavebabble.corpus import CorpusSpec, build_corpus, read_manifest, read_timing_file
from wavebabble.errors import ConfigError, DataError
from wavebabble.outdir import RECORD_NAME
from wavebabble.timing import intervals_to_vad
from wavebabble.vad import hard_vad

REPO = Path(__file__).resolve().parents[1]
SMALL = CorpusSpec(kind="babble", num_dialogues=2, seconds_each=20.0, sample_rate=8000, seed=7)
TIMING = [[[0.5, 2.0], [2.6, 4.0], [6.0, 6.4]], [[4.3, 5.9], [7.0, 9.0]]]


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def test_same_seed_identical_bytes_and_manifest(tmp_path):
    build_corpus(tmp_path / "a", SMALL, progress=False)
    build_corpus(tmp_path / "b", SMALL, progress=False)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert sorted(a) == [RECORD_NAME, "corpus.json", "dialogue_00000.wav", "dialogue_00001.wav", "manifest.jsonl"]
    assert a == b
    build_corpus(tmp_path / "c", CorpusSpec(**{**SMALL.to_json(), "seed": 8}), progress=False)
    assert _files(tmp_path / "c")["dialogue_00000.wav"] != a["dialogue_00000.wav"]
    records = read_manifest(tmp_path / "a")
    assert len(records) == 2
    for r in records:
        assert set(r) >= {"path", "sample_rate", "duration", "intervals"}
        info = sf.info(tmp_path / "a" / r["path"])
        assert (info.channels, info.samplerate, info.subtype) == (2, 8000, "PCM_16")
        assert r["duration"] == pytest.approx(info.frames / info.samplerate) == pytest.approx(20.0)
        assert len(r["intervals"]) == 2 and all(len(iv) == 2 for ch in r["intervals"] for iv in ch)


def test_manifest_matches_measured_timing(tmp_path):
    spec = CorpusSpec(kind="babble", num_dialogues=3, seconds_each=60.0, seed=11)
    build_corpus(tmp_path, spec, progress=False)
    assert_rates_close(*manifest_vs_measured(tmp_path, read_manifest(tmp_path)), rel=0.10)


def test_refuses_non_empty_out_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="--overwrite"):
        build_corpus(tmp_path, SMALL, progress=False)
    build_corpus(tmp_path, SMALL, progress=False, overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "keep me" and len(read_manifest(tmp_path)) == 2


def test_overwrite_keeps_the_users_files_named_like_dialogues(tmp_path):
    build_corpus(tmp_path, SMALL, progress=False)
    (tmp_path / "dialogue_interview.wav").write_bytes(b"the user's recording")
    build_corpus(tmp_path, SMALL, progress=False, overwrite=True)
    assert (tmp_path / "dialogue_interview.wav").read_bytes() == b"the user's recording"
    other = tmp_path / "other"
    other.mkdir()
    (other / "dialogue_00001.wav").write_bytes(b"not written by the corpus builder")
    with pytest.raises(ConfigError, match=r"dialogue_00001\.wav"):
        build_corpus(other, SMALL, progress=False, overwrite=True)
    assert (other / "dialogue_00001.wav").read_bytes() == b"not written by the corpus builder"


def _cli(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "wavebabble.corpus", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def test_cli_builds_and_refuses_non_empty_out_dir(tmp_path):
    out = tmp_path / "out"
    args = [f"--out_dir={out}", "--num_dialogues=2", "--seconds_each=5", "--seed=3"]
    first = _cli(*args)
    assert first.returncode == 0, first.stderr
    assert "2/2 dialogues" in first.stderr and "ETA" in first.stderr
    before = _files(out)
    second = _cli(*args)
    assert second.returncode != 0 and "not empty" in second.stderr and "--overwrite" in second.stderr
    assert _files(out) == before
    third = _cli(*args, "--overwrite", "--progress=false")
    assert third.returncode == 0, third.stderr
    assert _files(out) == before  # same seed -> same bytes
    bad = _cli(f"--out_dir={tmp_path / 'x'}", "--kind=assemble")
    assert bad.returncode != 0 and "--utterances_dir" in bad.stderr


def _check_timing_entry(entries):
    assert len(entries) == 1
    assert entries[0].intervals == [[tuple(iv) for iv in ch] for ch in TIMING]


def test_timing_file_json_and_csv(tmp_path):
    as_json = tmp_path / "t.json"
    as_json.write_text(json.dumps({"intervals": TIMING, "duration": 10.0}))
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(TIMING))
    as_csv = tmp_path / "t.csv"
    as_csv.write_text("channel,start,end\n" + "".join(f"{'AB'[c]},{s},{e}\n" for c in range(2)
                                                      for s, e in TIMING[c]))
    headless = tmp_path / "h.csv"
    headless.write_text("".join(f"d1,{c},{s},{e}\n" for c in range(2) for s, e in TIMING[c]))
    for path in [as_json, bare, as_csv, headless]:
        _check_timing_entry(read_timing_file(path))
    assert read_timing_file(as_json)[0].resolved_duration_s == 10.0
    assert read_timing_file(as_csv)[0].resolved_duration_s == pytest.approx(9.5)
    for path in [as_json, as_csv]:
        out = tmp_path / f"corpus_{path.suffix[1:]}"
        spec = CorpusSpec(kind="babble", num_dialogues=2, timing_file=str(path), seed=1)
        build_corpus(out, spec, progress=False)
        for r in read_manifest(out):
            assert r["intervals"] == TIMING
            audio, sr = sf.read(out / r["path"], dtype="float32")
            vad = hard_vad(audio, sr)
            truth = intervals_to_vad(TIMING, r["duration"])
            assert (vad == truth[:len(vad)]).mean() > 0.95


def test_timing_file_errors(tmp_path):
    overlap = tmp_path / "o.json"
    overlap.write_text(json.dumps([[[0.0, 2.0], [1.5, 3.0]], [[4.0, 5.0]]]))
    with pytest.raises(DataError, match=r"o\.json.*overlap"):
        read_timing_file(overlap)
    bad_row = tmp_path / "b.csv"
    bad_row.write_text("channel,start,end\nA,1.0,0.5\n")
    with pytest.raises(DataError, match=r"b\.csv.*start < end"):
        read_timing_file(bad_row)
    bad_channel = tmp_path / "c.csv"
    bad_channel.write_text("X,0.0,1.0\n")
    with pytest.raises(DataError, match="channel 'X'"):
        read_timing_file(bad_channel)
    unknown = tmp_path / "t.txt"
    unknown.write_text("x")
    with pytest.raises(DataError, match="unknown extension"):
        read_timing_file(unknown)


@pytest.mark.fsdd
def test_cli_assembles_fsdd_with_a_timing_file(fsdd_dir, tmp_path):
    timing = tmp_path / "t.csv"
    timing.write_text("".join(f"{c},{s},{e}\n" for c in range(2) for s, e in TIMING[c]))
    out = tmp_path / "out"
    res = _cli("--kind=assemble", f"--utterances_dir={fsdd_dir}", f"--out_dir={out}", "--num_dialogues=2",
               f"--timing_file={timing}", "--seed=2")
    assert res.returncode == 0, res.stderr
    assert "6 speakers" in res.stderr
    for r in read_manifest(out):
        assert len(r["speakers"]) == 2 and r["speakers"][0] != r["speakers"][1]
        for placed, slots in zip(r["intervals"], TIMING):
            assert len(placed) == len(slots)
            for (s, e), (a, b) in zip(placed, slots):
                assert s == pytest.approx(a) and a < e <= b + 1e-3

"""Embedded default corpus: >= 30 min, cached by key, atomic build, human timing (ground truth and measured)."""
import time

import numpy as np
import pytest
import soundfile as sf

from timing_checks import assert_rates_close, manifest_vs_measured
from wavebabble.corpus import default as default_mod
from wavebabble.corpus import read_manifest
from wavebabble.corpus.build import CorpusSpec
from wavebabble.timing import intervals_to_vad, timing_stats

MIN_MINUTES = 30.0
MEASURED_DIALOGUES = 8


@pytest.mark.slow
def test_default_corpus_is_cached_long_enough_and_human_like(tmp_path_factory):
    start = time.monotonic()
    folder = default_mod.default_corpus_dir(progress=False)
    build_s = time.monotonic() - start
    assert folder.parent == default_mod.cache_root() and folder.name.startswith("default_corpus-")
    records = read_manifest(folder)
    assert sum(r["duration"] for r in records) / 60.0 >= MIN_MINUTES
    assert all(r["sample_rate"] == 8000 for r in records)
    info = sf.info(folder / records[0]["path"])
    assert (info.channels, info.samplerate, info.subtype) == (2, 8000, "PCM_16")
    mtime = (folder / "manifest.jsonl").stat().st_mtime_ns
    start = time.monotonic()
    assert default_mod.default_corpus_dir(progress=False) == folder  # reused, not rebuilt
    assert time.monotonic() - start < 1.0 and (folder / "manifest.jsonl").stat().st_mtime_ns == mtime
    assert not [p for p in folder.parent.iterdir() if ".building-" in p.name]
    print(f"default corpus build: {build_s:.1f} s")

    truth = timing_stats([intervals_to_vad(r["intervals"], r["duration"]) for r in records]).summary
    assert all(0.3 <= r <= 0.5 for r in truth["speech_ratio"]), truth
    assert 0.1 <= truth["fto_median_s"] <= 0.4, truth
    assert 0.15 <= truth["transitions_overlapped"] <= 0.35, truth
    assert truth["pause_median_s"] > truth["gap_median_s"], truth

    subset = records[:MEASURED_DIALOGUES]
    _, b = assert_rates_close(*manifest_vs_measured(folder, subset), rel=0.10)
    assert all(0.3 <= r <= 0.5 for r in b["speech_ratio"]), b
    assert 0.1 <= b["fto_median_s"] <= 0.4 and 0.15 <= b["transitions_overlapped"] <= 0.35, b
    assert b["pause_median_s"] > b["gap_median_s"], b


def test_killed_build_leaves_nothing_and_key_follows_spec(tmp_path, monkeypatch):
    tiny = CorpusSpec(num_dialogues=1, seconds_each=2.0, seed=1)
    assert default_mod.corpus_key(tiny) != default_mod.corpus_key(CorpusSpec(num_dialogues=1, seconds_each=2.0,
                                                                             seed=2))

    def killed(out_dir, *args, **kwargs):
        (out_dir / "dialogue_00000.wav").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(default_mod, "build_corpus", killed)
    with pytest.raises(KeyboardInterrupt):
        default_mod.default_corpus_dir(cache_dir=tmp_path, spec=tiny, progress=False)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    folder = default_mod.default_corpus_dir(cache_dir=tmp_path, spec=tiny, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]
    assert len(read_manifest(folder)) == 1 and np.isclose(read_manifest(folder)[0]["duration"], 2.0)

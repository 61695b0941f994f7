"""Tests of the tf.data input pipeline (wavebabble/data.py) on tiny synthetic files.

Each test file is a pair of sines whose right/left amplitude ratio fingerprints it: joint normalisation keeps
that ratio, so a clip's source (and whether it was channel-swapped) can be read back from the batch.
"""
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from wavebabble import data
from wavebabble.config import get_config
from wavebabble.errors import DataError

SR = 8000
SLICE = 2048
REPO = Path(__file__).resolve().parents[1]


def write_pair_sine(path, num_samples, left_amp, right_amp, sr=SR, channels=2):
    """A stereo (or, channels=1, mono left_amp) file of sines; the ratio right/left fingerprints it."""
    t = np.arange(num_samples) / sr
    left = left_amp * np.sin(2 * np.pi * 440.0 * t)
    right = right_amp * np.sin(2 * np.pi * 330.0 * t)
    audio = left if channels == 1 else np.stack([left, right], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio.astype(np.float32), sr, subtype="FLOAT")
    return path


def ratios(batch):
    """[B, T, 2] -> per-clip right/left peak ratio [B]."""
    peaks = np.abs(np.asarray(batch)).max(axis=1)
    return peaks[:, 1] / np.maximum(peaks[:, 0], 1e-9)


def batches(ds, n):
    return [b.numpy() for b in ds.take(n)]


@pytest.fixture
def folder(tmp_path):
    """4 stereo files, ratios 0.1, 0.2, 0.4, 0.8 (right/left), each longer than SLICE."""
    d = tmp_path / "stereo"
    for i, r in enumerate((0.1, 0.2, 0.4, 0.8)):
        write_pair_sine(d / f"dlg{i}.wav", 3 * SLICE + 100 * i, 0.5, 0.5 * r)
    return d


def make(folder, tmp_path, **kw):
    kw.setdefault("sample_rate", SR)
    kw.setdefault("slice_len", SLICE)
    kw.setdefault("batch_size", 4)
    kw.setdefault("cache_dir", tmp_path / "cache")
    return data.make_dataset(folder, **kw)


def test_shapes_dtype_range(folder, tmp_path):
    ds = make(folder, tmp_path)
    assert ds.element_spec.shape.as_list() == [4, SLICE, 2]
    assert ds.element_spec.dtype == tf.float32
    for b in batches(ds, 5):
        assert b.shape == (4, SLICE, 2) and b.dtype == np.float32
        assert np.all(np.abs(b) <= 1.0)
        np.testing.assert_allclose(np.abs(b).max(axis=(1, 2)), data.TARGET_PEAK, rtol=1e-4)


def test_normalisation_keeps_level_ratio_and_floors_quiet_clips(tmp_path):
    d = tmp_path / "levels"
    write_pair_sine(d / "quiet.wav", 2 * SLICE, 0.02, 0.002)         # ratio 0.1, peak -34 dBFS: below the floor
    write_pair_sine(d / "normal.wav", 2 * SLICE, 0.5, 0.25)          # ratio 0.5
    write_pair_sine(d / "silent.wav", 2 * SLICE, 0.001, 0.0005)      # -60 dBFS: gain capped, not blown up
    idx = data.index_sources(d, sample_rate=SR, cache_dir=tmp_path / "cache")
    by_name = {s.name: s for s in idx.sources}
    for name, ratio, amp in (("quiet.wav", 0.1, 0.02), ("normal.wav", 0.5, 0.5), ("silent.wav", 0.5, 0.001)):
        one = data.SourceIndex(idx.folder, SR, [by_name[name]], [])
        b = batches(data.make_dataset(None, sample_rate=SR, slice_len=SLICE, batch_size=4, channel_swap=False,
                                      index=one), 1)[0]
        np.testing.assert_allclose(ratios(b), ratio, rtol=0.03)
        expected_peak = amp * data.TARGET_PEAK / max(amp, data.PEAK_FLOOR)
        np.testing.assert_allclose(np.abs(b).max(axis=(1, 2)), expected_peak, rtol=0.03)


def test_channel_swap_on_and_off(tmp_path):
    d = tmp_path / "lr"
    write_pair_sine(d / "left_loud.wav", 2 * SLICE, 0.8, 0.08)
    kw = dict(sample_rate=SR, slice_len=SLICE, batch_size=8, cache_dir=tmp_path / "cache")
    on = np.concatenate([ratios(b) for b in batches(data.make_dataset(d, channel_swap=True, **kw), 4)])
    off = np.concatenate([ratios(b) for b in batches(data.make_dataset(d, channel_swap=False, **kw), 4)])
    assert np.all(off < 1)                        # never swapped
    swapped = np.mean(on > 1)
    assert 0.2 < swapped < 0.8                     # about half of 32 clips swapped
    np.testing.assert_allclose(np.where(on > 1, 1 / on, on), 0.1, rtol=0.03)


def test_short_files_pad_or_drop(tmp_path):
    d = tmp_path / "short"
    write_pair_sine(d / "long.wav", 3 * SLICE, 0.5, 0.1)             # ratio 0.2
    write_pair_sine(d / "short.wav", SLICE // 2, 0.5, 0.4)           # ratio 0.8, shorter than a slice
    kw = dict(sample_rate=SR, slice_len=SLICE, batch_size=4, cache_dir=tmp_path / "cache", channel_swap=False)
    padded = np.concatenate(batches(data.make_dataset(d, short="pad", **kw), 8))
    r = ratios(padded)
    short_clips = padded[np.abs(r - 0.8) < 0.05]
    assert len(short_clips) > 0 and np.all((np.abs(r - 0.8) < 0.05) | (np.abs(r - 0.2) < 0.02))
    assert np.all(short_clips[:, SLICE // 2:] == 0)               # zero-padded at the end
    assert np.all(np.abs(short_clips[:, :SLICE // 2]).max(axis=1) > 0.1)
    dropped = np.concatenate(batches(data.make_dataset(d, short="drop", **kw), 8))
    np.testing.assert_allclose(ratios(dropped), 0.2, rtol=0.03)    # only the long file
    only_short = tmp_path / "only_short"
    write_pair_sine(only_short / "s.wav", SLICE // 2, 0.5, 0.4)
    with pytest.raises(DataError, match="only_short"):
        data.make_dataset(only_short, short="drop", **kw)


@pytest.mark.parametrize("pattern", [r"(?P<id>.+)_(?P<ch>[AB])\.wav", "{id}_A.wav,{id}_B.wav"])
def test_mono_pair_pattern(tmp_path, pattern):
    d = tmp_path / "pairs"
    for i, r in enumerate((0.1, 0.5)):
        write_pair_sine(d / f"call{i}_A.wav", 2 * SLICE, 0.8, 0, channels=1)          # A: loud, left
        write_pair_sine(d / f"call{i}_B.wav", 2 * SLICE - 500, 0.8 * r, 0, channels=1)  # B: shorter, zero-padded
    write_pair_sine(d / "orphan_A.wav", 2 * SLICE, 0.5, 0, channels=1)                  # incomplete pair
    idx = data.index_sources(d, sample_rate=SR, pair_pattern=pattern, cache_dir=tmp_path / "cache")
    assert sorted(s.name for s in idx.sources) == ["call0", "call1"]
    assert [n for n, _ in idx.bad] == ["orphan_A.wav"]
    b = np.concatenate(batches(data.make_dataset(d, sample_rate=SR, slice_len=SLICE, batch_size=4,
                                                 pair_pattern=pattern, channel_swap=False,
                                                 cache_dir=tmp_path / "cache"), 4))
    r = ratios(b)
    assert np.all((np.abs(r - 0.1) < 0.01) | (np.abs(r - 0.5) < 0.03) | (np.abs(r) < 1e-6))   # B may be padding
    with pytest.raises(DataError, match="pair_pattern"):
        data.index_sources(d, sample_rate=SR, pair_pattern=r"(.+)_([AB])\.wav", cache_dir=tmp_path / "cache")


def test_sharding_two_input_pipelines(folder, tmp_path):
    cfg = get_config("demo", slice_len=16384, batch_size=4)
    fn = data.dataset_fn(cfg, folder, cache_dir=tmp_path / "cache", channel_swap=False)
    seen = []
    for i in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i, num_replicas_in_sync=2)
        ds = fn(ctx)
        assert ds.element_spec.shape.as_list() == [2, 16384, 2]      # per-replica batch = 4 // 2
        r = np.concatenate([ratios(b) for b in batches(ds, 6)])
        seen.append({min((0.1, 0.2, 0.4, 0.8), key=lambda x: abs(x - v)) for v in r})
    assert seen[0] and seen[1] and not seen[0] & seen[1]
    assert seen[0] | seen[1] == {0.1, 0.2, 0.4, 0.8}


@pytest.mark.slow
def test_mirrored_strategy_two_logical_cpus(folder, tmp_path):
    """Two replicas through strategy.distribute_datasets_from_function (subprocess: devices set before TF init)."""
    script = (
        "import sys, json, tensorflow as tf\n"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)\n"
        "from wavebabble import data\n"
        "from wavebabble.config import get_config\n"
        "cfg = get_config('demo', slice_len=16384, batch_size=4)\n"
        "strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])\n"
        "dist = strategy.distribute_datasets_from_function(data.dataset_fn(cfg, sys.argv[1], cache_dir=sys.argv[2]))\n"
        "res = strategy.experimental_local_results(next(iter(dist)))\n"
        "print('SHAPES', json.dumps([[list(t.shape), t.dtype.name, float(tf.reduce_max(tf.abs(t)))] for t in res]))\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", script, str(folder), str(tmp_path / "cache")], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    line = [x for x in out.stdout.splitlines() if x.startswith("SHAPES")][0]
    res = json.loads(line.split(" ", 1)[1])
    assert len(res) == 2
    for shape, dtype, peak in res:
        assert shape == [2, 16384, 2] and dtype == "float32" and peak <= 1.0


def test_corrupt_files_skipped_and_reported_once(folder, tmp_path, caplog):
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00not really a wav file")
    (folder / "empty.flac").write_bytes(b"")
    write_pair_sine(folder / "mono.wav", SLICE, 0.5, 0, channels=1)   # mono in a stereo folder
    with caplog.at_level(logging.WARNING, logger="wavebabble.data"):
        ds = make(folder, tmp_path)
        b = batches(ds, 3)
        data.make_dataset(folder, sample_rate=SR, slice_len=SLICE, batch_size=4, cache_dir=tmp_path / "cache")
    assert len(b) == 3 and all(x.shape == (4, SLICE, 2) for x in b)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1                               # reported once
    assert "3 unusable" in warnings[0]
    for name in ("broken.wav", "empty.flac", "mono.wav"):
        assert name in warnings[0]
    idx = data.index_sources(folder, sample_rate=SR, cache_dir=tmp_path / "cache")
    assert len(idx.sources) == 4 and sorted(n for n, _ in idx.bad) == ["broken.wav", "empty.flac", "mono.wav"]
    with pytest.raises(DataError, match="broken.wav"):
        data.index_sources(folder, sample_rate=SR, cache_dir=tmp_path / "cache", skip_bad=False)


def test_sources_shorter_than_a_slice_are_padded_with_one_warning(folder, tmp_path, caplog):
    write_pair_sine(folder / "tiny.wav", 1, 0.5, 0)       # one sample long
    with caplog.at_level(logging.WARNING, logger="wavebabble.data"):
        batches(make(folder, tmp_path), 2)
        make(folder, tmp_path)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, warnings                      # reported once
    assert "1 of 5 source(s)" in warnings[0] and f"({SLICE} samples" in warnings[0]
    assert "tiny.wav: 1 samples" in warnings[0]


def test_no_usable_file_raises_data_error_naming_folder(tmp_path):
    empty = tmp_path / "nothing_here"
    empty.mkdir()
    with pytest.raises(DataError, match="nothing_here"):
        make(empty, tmp_path)
    only_bad = tmp_path / "all_broken"
    (only_bad).mkdir()
    (only_bad / "x.wav").write_bytes(b"garbage")
    with pytest.raises(DataError, match="all_broken"):
        make(only_bad, tmp_path)
    with pytest.raises(DataError, match="does_not_exist"):
        make(tmp_path / "does_not_exist", tmp_path)


def test_cache_reused_without_decoding(folder, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = data.index_sources(folder, sample_rate=SR, cache_dir=cache)
    assert (first.num_decoded, first.num_cached) == (4, 0)
    assert len(list(cache.glob("*/meta.json"))) == 4 and list(cache.glob("*/seg_00000.pcm"))

    def no_decode(*a, **k):
        raise AssertionError("decoded again")
    monkeypatch.setattr(data, "_decode", no_decode)
    second = data.index_sources(folder, sample_rate=SR, cache_dir=cache)
    assert (second.num_decoded, second.num_cached) == (0, 4)
    assert batches(make(folder, tmp_path), 2)[1].shape == (4, SLICE, 2)
    # another sample rate is another cache entry (resampled), a changed file is decoded again
    monkeypatch.undo()
    other = data.index_sources(folder, sample_rate=SR // 2, cache_dir=cache)
    assert other.num_decoded == 4 and other.sources[0].num_samples == (3 * SLICE) // 2
    write_pair_sine(folder / "dlg0.wav", 4 * SLICE, 0.5, 0.05)
    assert data.index_sources(folder, sample_rate=SR, cache_dir=cache).num_decoded == 1


def test_one_epoch_without_repeat(folder, tmp_path):
    ds = make(folder, tmp_path, repeat=False, batch_size=1)
    # each source visited max(1, T // SLICE) = 3 times
    assert sum(1 for _ in ds) == 4 * 3


def test_same_seed_same_stream(folder, tmp_path):
    a, b, c = (batches(make(folder, tmp_path, seed=s), 2) for s in (5, 5, 6))
    np.testing.assert_array_equal(np.stack(a), np.stack(b))
    assert not np.array_equal(np.stack(a), np.stack(c))


def test_load_clips_deterministic(folder, tmp_path):
    kw = dict(sample_rate=SR, slice_len=SLICE, num_clips=6, cache_dir=tmp_path / "cache")
    a = data.load_clips(folder, seed=3, **kw)
    b = data.load_clips(folder, seed=3, **kw)
    c = data.load_clips(folder, seed=4, **kw)
    assert a.shape == (6, SLICE, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.abs(a) <= 1.0)
    assert all(min(abs(r - x) for x in (0.1, 0.2, 0.4, 0.8)) < 0.03 for r in ratios(a))


def test_read_source_is_the_whole_file_normalised_across_segments(tmp_path):
    n = data.SEGMENT_STRIDE * 2 + 777                       # three cache segments, the last one short
    rng = np.random.default_rng(0)
    audio = (0.4 * rng.uniform(-1, 1, (n, 2))).astype(np.float32)
    folder = tmp_path / "long"
    folder.mkdir()
    sf.write(str(folder / "d.wav"), audio, SR, subtype="PCM_16")
    index = data.index_sources(folder, sample_rate=SR, cache_dir=tmp_path / "cache")
    whole = data.read_source(index.sources[0])
    written, _ = sf.read(str(folder / "d.wav"), dtype="float32")
    assert whole.shape == (n, 2)
    np.testing.assert_allclose(whole, data.normalize_clip_np(written), atol=2e-4)


def test_default_corpus_when_no_data_dir(folder, tmp_path, monkeypatch):
    default = pytest.importorskip("wavebabble.corpus.default")
    monkeypatch.setattr(default, "default_corpus_dir", lambda *a, **k: folder)
    b = batches(data.make_dataset(None, sample_rate=SR, slice_len=SLICE, batch_size=2,
                                  cache_dir=tmp_path / "cache"), 1)[0]
    assert b.shape == (2, SLICE, 2)
    # an empty --data_dir flag means the default corpus too (never the current directory)
    assert data.index_sources("", sample_rate=SR, cache_dir=tmp_path / "cache").folder == folder


def test_bad_options(folder, tmp_path):
    with pytest.raises(DataError, match="short"):
        make(folder, tmp_path, short="trim")
    with pytest.raises(DataError, match="slice_len"):
        make(folder, tmp_path, slice_len=data.SEGMENT_STRIDE + 1)
    with pytest.raises(DataError, match="batch_size"):
        make(folder, tmp_path, batch_size=0)

"""tf.data input pipeline: a folder of dialogue audio -> batches of stereo clips ``[batch, slice_len, 2]``.

Sources (``data_dir``):
    * a folder of **stereo** files (speaker A left, speaker B right), found recursively by
      ``audio.find_audio_files``; mono files there are reported as unusable (use a pair pattern for them);
    * a folder of **per-speaker mono pairs**, selected by ``pair_pattern`` (see below);
    * ``None``: the embedded default corpus (``wavebabble.corpus.default.default_corpus_dir()``).

``pair_pattern`` (matched against each file's path relative to ``data_dir``, with "/" separators, whole path):
    * a template pair ``"{id}_A.wav,{id}_B.wav"``: left template, comma, right template; ``{id}`` stands for any
      text (the same in both files of a pair); e.g. ``"{id}/caller.flac,{id}/callee.flac"``.
    * a regular expression with named groups ``id`` and ``ch``, e.g. ``r"(?P<id>.+)_(?P<ch>[AB])\\.wav"``.
      Files with the same ``id`` form a pair; the ``ch`` value that sorts first goes left (A < B, L < R, 1 < 2).
    Files that do not match are ignored; an ``id`` without exactly two files is reported as unusable.
    Each pair is decoded as two mono files and joined by ``audio.pair_mono`` (the shorter one is zero-padded).

Caching (so epochs after the first never re-decode): each usable source is decoded once, resampled to
``sample_rate`` and written as raw little-endian int16 PCM (interleaved ``[time, 2]``, scaled by the source's own
peak so quiet recordings keep their precision) into ``cache_dir/<key>/``, where ``key`` hashes the cache format,
the sample rate and every source file's (absolute path, mtime, size). Unusable sources leave a ``<key>.bad`` note
so they are not re-decoded either (they are still reported on each run). Writes are atomic (temp dir + rename),
so concurrent processes can share a cache. Default ``cache_dir``: ``$WAVEBABBLE_CACHE/audio``
(``~/.cache/wavebabble/audio``).
A source of ``T`` samples is stored as overlapping segments ``seg_00000.pcm, seg_00001.pcm, ...``: segment ``k``
holds samples ``[k * SEGMENT_STRIDE, k * SEGMENT_STRIDE + 2 * SEGMENT_STRIDE)``, so every window of
``slice_len <= SEGMENT_STRIDE`` samples lies inside one segment and a clip costs one bounded file read
(page-cached after the first epoch) whatever the length of the recording.

Per clip, inside tf.data (parallel map, stateless random ops seeded per element, so a given ``seed`` gives the
same stream): uniform random offset -> read one segment -> ``[slice_len, 2]`` slice (sources shorter than
``slice_len``: zero-padded at the end with ``short="pad"``, left out with ``short="drop"``) -> joint normalisation
(one gain for both channels: the clip's peak -> ``TARGET_PEAK``, the peak floored at ``PEAK_FLOOR`` so near-silent
clips are not blown up; the level ratio between the speakers is kept) -> optional A/B channel swap with
probability 1/2 -> batch (``drop_remainder=True``: static shapes) -> prefetch.
Each epoch visits every source ``max(1, T // slice_len)`` times (long recordings are sampled in proportion to
their length), shuffled.

Unusable files (missing, corrupt, empty, non-finite, wrong channel count, incomplete pairs) are found up front,
skipped, counted and reported once per process in one warning naming them (``skip_bad=False`` raises instead);
nothing is decoded mid-run, so a bad file can never stop training. No usable file -> ``DataError`` naming the folder.

Distribution: ``dataset_fn(cfg)`` is for ``strategy.distribute_datasets_from_function``; each input pipeline
gets ``ds.shard(num_input_pipelines, input_pipeline_id)`` of the source list (every pipeline keeps all sources,
with its own random stream, when there are fewer sources than pipelines) and batches of
``input_context.get_per_replica_batch_size(cfg.batch_size)``.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from wavebabble.errors import AudioError, ConfigError, DataError, output_error

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1            # bump when the cache layout or decoding changes
CACHE_ENV = "WAVEBABBLE_CACHE"      # same root as the default corpus
DEFAULT_CACHE_ROOT = Path("~/.cache/wavebabble")
CACHE_WHAT = f"decoded audio (the cache in ${CACHE_ENV})"   # names the cache in write errors
CACHE_SUBDIR = "audio"
SEGMENT_STRIDE = 131072             # samples; = the longest supported slice_len (config.SUPPORTED_SLICE_LENS)
SEGMENT_LEN = 2 * SEGMENT_STRIDE    # segments overlap by SEGMENT_STRIDE so any slice fits in one
SEGMENT_DIGITS = 5                  # seg_00000.pcm
PCM_FULL_SCALE = 32767.0            # int16 full scale used when writing the cache
NUM_CHANNELS = 2                    # speaker A left, speaker B right
FRAME_BYTES = NUM_CHANNELS * 2      # bytes per [2] int16 frame in the cache
TARGET_PEAK = 0.9                   # joint normalisation: clip peak -> this
PEAK_FLOOR_DB = -30.0               # clips quieter than this (dBFS peak) get at most TARGET_PEAK / PEAK_FLOOR gain
PEAK_FLOOR = float(10.0 ** (PEAK_FLOOR_DB / 20.0))
SWAP_PROBABILITY = 0.5              # channel-swap augmentation
SHORT_MODES = ("pad", "drop")
MAX_SHUFFLE_BUFFER = 10000          # elements (source references, not audio)
MAX_DECODE_WORKERS = 8              # threads decoding into the cache on the first pass
PROGRESS_EVERY_FRACTION = 0.1       # log decode progress every 10 %
PROGRESS_MIN_FILES = 20             # ... when decoding at least this many sources
MAX_NAMES_REPORTED = 50             # names listed in the unusable-files warning
PIPELINE_SEED_STRIDE = 1000003      # seeds of different input pipelines: seed * stride + pipeline id

_REPORTED: set = set()              # warnings (unusable, padded sources) already given in this process


# ---------------------------------------------------------------------------------------------- sources
@dataclasses.dataclass(frozen=True)
class Source:
    """One dialogue: a stereo file (``paths`` of length 1) or a mono pair (left, right)."""

    name: str
    paths: tuple


@dataclasses.dataclass(frozen=True)
class CachedSource:
    """A decoded source in the cache: ``num_samples`` frames of ``[time, 2]`` int16 (x ``scale`` / 32767)."""

    name: str
    cache_path: Path            # folder holding seg_*.pcm and meta.json
    num_samples: int
    scale: float                # original amplitude = int16 / PCM_FULL_SCALE * scale
    num_segments: int

    def segment_path(self, k: int) -> Path:
        return self.cache_path / f"seg_{k:0{SEGMENT_DIGITS}d}.pcm"


@dataclasses.dataclass
class SourceIndex:
    """What ``index_sources`` found: usable cached sources, unusable ones (name, reason) and counters."""

    folder: Path
    sample_rate: int
    sources: list                       # list[CachedSource], sorted by name
    bad: list                           # list[(name, reason)]
    num_decoded: int = 0                # sources decoded in this call (0 when all came from the cache)
    num_cached: int = 0                 # sources found already decoded in the cache

    @property
    def total_seconds(self) -> float:
        return sum(s.num_samples for s in self.sources) / self.sample_rate


def default_cache_dir() -> Path:
    """``$WAVEBABBLE_CACHE/audio``, else ``~/.cache/wavebabble/audio``."""
    root = os.environ.get(CACHE_ENV)
    return (Path(root) if root else DEFAULT_CACHE_ROOT).expanduser() / CACHE_SUBDIR


def _pattern_regexes(pair_pattern: str):
    """-> (kind, compiled): ("template", (left_re, right_re)) or ("regex", re)."""
    if "{id}" in pair_pattern:
        parts = pair_pattern.split(",")
        if len(parts) != 2 or not all("{id}" in p for p in parts):
            raise DataError(f"pair_pattern {pair_pattern!r}: a template needs two comma-separated parts, "
                            "each containing {id}, e.g. '{id}_A.wav,{id}_B.wav'")
        regs = []
        for p in parts:
            pieces = p.strip().split("{id}")
            regs.append(re.compile("(?P<id>.+?)".join(re.escape(x) for x in pieces)))
        return "template", tuple(regs)
    try:
        reg = re.compile(pair_pattern)
    except re.error as e:
        raise DataError(f"pair_pattern {pair_pattern!r} is not a valid regular expression: {e}") from e
    if not {"id", "ch"} <= set(reg.groupindex):
        raise DataError(f"pair_pattern {pair_pattern!r}: a regular expression needs named groups (?P<id>...) and "
                        "(?P<ch>...), e.g. '(?P<id>.+)_(?P<ch>[AB])\\.wav'; or use a template '{id}_A.wav,{id}_B.wav'")
    return "regex", reg


def find_sources(data_dir, pair_pattern: str | None = None) -> tuple[list, list]:
    """Sources in ``data_dir`` -> (sources sorted by name, [(name, reason)] of incomplete pairs).

    Without ``pair_pattern`` every audio file is one (stereo) source; with it, matching files are paired.
    """
    from wavebabble.audio import find_audio_files

    folder = Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder")
    files = find_audio_files(folder)
    if pair_pattern is None:
        return [Source(f.relative_to(folder).as_posix(), (f,)) for f in files], []
    kind, regs = _pattern_regexes(pair_pattern)
    groups: dict = {}
    for f in files:
        rel = f.relative_to(folder).as_posix()
        if kind == "template":
            for side, reg in enumerate(regs):
                m = reg.fullmatch(rel)
                if m:
                    groups.setdefault(m.group("id"), {}).setdefault(str(side), []).append(f)
                    break
        else:
            m = regs.fullmatch(rel)
            if m:
                groups.setdefault(m.group("id"), {}).setdefault(m.group("ch"), []).append(f)
    sources, bad = [], []
    for pid in sorted(groups):
        chans = groups[pid]
        names = sorted(p.relative_to(folder).as_posix() for ps in chans.values() for p in ps)
        if len(chans) != 2 or any(len(ps) != 1 for ps in chans.values()):
            bad.append((" + ".join(names), f"pair '{pid}' needs exactly one file per channel, found "
                        f"{ {k: len(v) for k, v in sorted(chans.items())} }"))
            continue
        left, right = (chans[k][0] for k in sorted(chans))
        sources.append(Source(pid, (left, right)))
    return sources, bad


# ---------------------------------------------------------------------------------------------- cache
def _source_key(src: Source, sample_rate: int) -> str:
    ident = [CACHE_FORMAT_VERSION, int(sample_rate)]
    for p in src.paths:
        st = os.stat(p)
        ident.append([str(Path(p).resolve()), st.st_mtime_ns, st.st_size])
    return hashlib.sha1(json.dumps(ident).encode()).hexdigest()


def _decode(src: Source, sample_rate: int) -> np.ndarray:
    """Decode + resample one source -> float32 ``[time, 2]``. Raises AudioError (or anything the decoder raises)."""
    from wavebabble.audio import pair_mono, read_audio, read_stereo

    if len(src.paths) == 1:
        audio, _ = read_stereo(src.paths[0], sample_rate, mono="reject")
    else:
        chans = []
        for p in src.paths:
            a, _ = read_audio(p, sample_rate)
            if a.ndim == 2 and a.shape[1] != 1:
                raise AudioError(f"{p}: pair member has {a.shape[1]} channels; pairs need mono files")
            chans.append(a.reshape(-1))
        audio = pair_mono(chans[0], chans[1])
    audio = np.asarray(audio, np.float32)
    if audio.ndim != 2 or audio.shape[1] != NUM_CHANNELS or audio.shape[0] == 0:
        raise AudioError(f"{src.name}: decoded to shape {audio.shape}, expected [time > 0, 2]")
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{src.name}: non-finite samples")
    return audio


def _write_entry(final: Path, audio: np.ndarray, sample_rate: int, src: Source) -> dict:
    """Write segments + meta.json atomically into ``final``; return the meta dict."""
    peak = float(np.max(np.abs(audio)))
    scale = peak if peak > 0 else 1.0
    pcm = np.clip(np.round(audio / scale * PCM_FULL_SCALE), -PCM_FULL_SCALE, PCM_FULL_SCALE).astype("<i2")
    n = pcm.shape[0]
    num_segments = (n - 1) // SEGMENT_STRIDE + 1
    meta = {"format": CACHE_FORMAT_VERSION, "name": src.name, "sources": [str(p) for p in src.paths],
            "sample_rate": int(sample_rate), "num_samples": int(n), "scale": scale, "num_segments": num_segments}
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        for k in range(num_segments):
            pcm[k * SEGMENT_STRIDE:k * SEGMENT_STRIDE + SEGMENT_LEN].tofile(tmp / f"seg_{k:0{SEGMENT_DIGITS}d}.pcm")
        (tmp / "meta.json").write_text(json.dumps(meta))
        try:
            os.rename(tmp, final)
        except OSError:
            if not (final / "meta.json").exists():   # lost a race only if the winner's entry is complete
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


def _write_bad(path: Path, reason: str) -> None:
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.write_text(reason)
    os.replace(tmp, path)


def _cached_or_decode(src: Source, sample_rate: int, cache_dir: Path):
    """-> ("cached" | "decoded", meta) or ("bad", reason). OutputError when the cache cannot be written."""
    try:
        key = _source_key(src, sample_rate)
    except OSError as e:
        return "bad", f"cannot stat: {e}"
    entry, bad_note = cache_dir / key, cache_dir / f"{key}.bad"
    meta_path = entry / "meta.json"
    if meta_path.exists():
        try:
            return "cached", (entry, json.loads(meta_path.read_text()))
        except (OSError, ValueError):
            shutil.rmtree(entry, ignore_errors=True)    # damaged entry: decode again
    if bad_note.exists():
        return "bad", bad_note.read_text()
    try:
        audio = _decode(src, sample_rate)
    except Exception as e:  # noqa: BLE001 -- any decoder failure makes the file unusable, never a crash
        reason = f"{type(e).__name__}: {e}"
        try:
            _write_bad(bad_note, reason)
        except OSError:
            pass
        return "bad", reason
    try:
        return "decoded", (entry, _write_entry(entry, audio, sample_rate, src))
    except OSError as e:
        raise output_error(CACHE_WHAT, cache_dir, e) from None


def index_sources(data_dir=None, *, sample_rate: int, pair_pattern: str | None = None, cache_dir=None,
                  skip_bad: bool = True) -> SourceIndex:
    """Validate and cache every source of ``data_dir`` (None: default corpus) at ``sample_rate``.

    Decodes (in parallel threads) only sources missing from the cache. Unusable sources are reported once per
    process (one warning naming them) and skipped; with ``skip_bad=False`` the first one raises DataError.
    Raises DataError naming the folder when no source is usable.
    """
    if data_dir is None or str(data_dir) == "":     # "" (an empty --data_dir flag) also means the default corpus
        from wavebabble.corpus.default import default_corpus_dir
        data_dir = default_corpus_dir()
    folder = Path(data_dir).expanduser()
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise DataError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(CACHE_WHAT, cache_dir, e) from None
    sources, bad = find_sources(folder, pair_pattern or None)
    if bad and not skip_bad:
        raise DataError(f"unusable source in {folder}: {bad[0][0]}: {bad[0][1]}")

    results = [None] * len(sources)
    todo = []
    for i, src in enumerate(sources):       # cheap pass: cache hits need no thread
        try:
            key = _source_key(src, sample_rate)
        except OSError:
            todo.append(i)
            continue
        meta_path = cache_dir / key / "meta.json"
        if meta_path.exists() or (cache_dir / f"{key}.bad").exists():
            results[i] = _cached_or_decode(src, sample_rate, cache_dir)
        else:
            todo.append(i)
    if todo:
        workers = max(1, min(MAX_DECODE_WORKERS, os.cpu_count() or 1, len(todo)))
        show = len(todo) >= PROGRESS_MIN_FILES
        if show:
            log.info("decoding %d audio source(s) from %s into cache %s", len(todo), folder, cache_dir)
        step = max(1, int(len(todo) * PROGRESS_EVERY_FRACTION))
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            futs = {pool.submit(_cached_or_decode, sources[i], sample_rate, cache_dir): i for i in todo}
            for done, fut in enumerate(concurrent.futures.as_completed(futs), 1):
                results[futs[fut]] = fut.result()
                if show and (done % step == 0 or done == len(todo)):
                    log.info("decoded %d/%d sources", done, len(todo))

    index = SourceIndex(folder=folder, sample_rate=int(sample_rate), sources=[], bad=list(bad))
    for src, (status, payload) in zip(sources, results):
        if status == "bad":
            if not skip_bad:
                raise DataError(f"unusable source in {folder}: {src.name}: {payload}")
            index.bad.append((src.name, payload))
            continue
        entry, meta = payload
        index.num_cached += status == "cached"
        index.num_decoded += status == "decoded"
        index.sources.append(CachedSource(src.name, entry, int(meta["num_samples"]), float(meta["scale"]),
                                          int(meta["num_segments"])))
    _report_bad(index)
    if not index.sources:
        raise DataError(f"no usable audio in {folder}: {len(sources)} source(s) found"
                        f"{' with pair_pattern ' + repr(pair_pattern) if pair_pattern else ''}, "
                        f"{len(index.bad)} unusable"
                        + (f" (e.g. {index.bad[0][0]}: {index.bad[0][1]})" if index.bad else "")
                        + ("" if pair_pattern else "; for per-speaker mono files pass a pair_pattern"))
    return index


def _report_bad(index: SourceIndex) -> None:
    if not index.bad:
        return
    key = (str(index.folder), tuple(n for n, _ in index.bad))
    if key in _REPORTED:
        return
    _REPORTED.add(key)
    shown = index.bad[:MAX_NAMES_REPORTED]
    more = len(index.bad) - len(shown)
    log.warning("skipping %d unusable audio source(s) in %s (%d usable):\n%s%s", len(index.bad), index.folder,
                len(index.sources), "\n".join(f"  {n}: {r}" for n, r in shown),
                f"\n  ... and {more} more" if more else "")


def _report_padded(index: SourceIndex, slice_len: int) -> None:
    """Warn once per process and folder which sources are shorter than slice_len (zero-padded in every slice)."""
    short = sorted((s.num_samples, s.name) for s in index.sources if s.num_samples < slice_len)
    key = ("padded", str(index.folder), slice_len, tuple(name for _, name in short))
    if not short or key in _REPORTED:
        return
    _REPORTED.add(key)
    shown = short[:MAX_NAMES_REPORTED]
    more = len(short) - len(shown)
    log.warning("%d of %d source(s) in %s are shorter than a training slice (%d samples, %.2f s) and are "
                "zero-padded to it; the model learns that padding as silence:\n%s%s", len(short),
                len(index.sources), index.folder, slice_len, slice_len / index.sample_rate,
                "\n".join(f"  {name}: {n} samples ({n / index.sample_rate:.2f} s)" for n, name in shown),
                f"\n  ... and {more} more" if more else "")


def _usable(index: SourceIndex, slice_len: int, short: str) -> list:
    if short not in SHORT_MODES:
        raise DataError(f"short={short!r}: must be one of {SHORT_MODES}")
    if not 0 < slice_len <= SEGMENT_STRIDE:
        raise DataError(f"slice_len={slice_len}: must be in [1, {SEGMENT_STRIDE}]")
    if short == "pad":
        _report_padded(index, slice_len)
        return list(index.sources)
    kept = [s for s in index.sources if s.num_samples >= slice_len]
    if len(kept) < len(index.sources):
        log.info("short='drop': leaving out %d source(s) of %s shorter than %d samples",
                 len(index.sources) - len(kept), index.folder, slice_len)
    if not kept:
        raise DataError(f"no source in {index.folder} is at least slice_len={slice_len} samples long "
                        f"({slice_len / index.sample_rate:.2f} s); use short='pad' or a shorter slice")
    return kept


# ---------------------------------------------------------------------------------------------- per clip
def normalize_clip(clip: tf.Tensor) -> tf.Tensor:
    """Joint normalisation of ``[time, 2]`` (or ``[batch, time, 2]`` per example): one gain for both channels,
    peak -> TARGET_PEAK, peak floored at PEAK_FLOOR. Keeps the level ratio between the channels."""
    peak = tf.reduce_max(tf.abs(clip), axis=[-2, -1], keepdims=True)
    return clip * (TARGET_PEAK / tf.maximum(peak, PEAK_FLOOR))


def normalize_clip_np(clip: np.ndarray) -> np.ndarray:
    """NumPy twin of ``normalize_clip``."""
    peak = np.max(np.abs(clip), axis=(-2, -1), keepdims=True)
    return (clip * (TARGET_PEAK / np.maximum(peak, PEAK_FLOOR))).astype(np.float32)


def _make_loader(slice_len: int, channel_swap: bool):
    """tf function (prefix, num_samples, scale, seed[2]) -> float32 ``[slice_len, 2]``."""
    def load(prefix, num_samples, scale, seed):
        seeds = tf.random.experimental.stateless_split(seed, 2)
        max_offset = tf.maximum(num_samples - slice_len, 0)
        offset = tf.random.stateless_uniform([], seeds[0], minval=0, maxval=max_offset + 1, dtype=tf.int64)
        k = offset // SEGMENT_STRIDE
        local = offset - k * SEGMENT_STRIDE
        path = tf.strings.join([prefix, tf.strings.as_string(k, width=SEGMENT_DIGITS, fill="0"), ".pcm"])
        # cut the slice out of the segment bytes before decoding (decode 1 slice, not the whole segment)
        raw = tf.strings.substr(tf.io.read_file(path), local * FRAME_BYTES, slice_len * FRAME_BYTES)
        clip = tf.reshape(tf.io.decode_raw(raw, tf.int16, little_endian=True), [-1, NUM_CHANNELS])
        clip = tf.pad(clip, [[0, slice_len - tf.shape(clip, out_type=tf.int64)[0]], [0, 0]])
        clip = tf.cast(clip, tf.float32) * (scale / PCM_FULL_SCALE)
        clip = normalize_clip(clip)
        if channel_swap:
            swap = tf.random.stateless_uniform([], seeds[1]) < SWAP_PROBABILITY
            clip = tf.cond(swap, lambda: tf.reverse(clip, axis=[1]), lambda: clip)
        return tf.ensure_shape(clip, [slice_len, NUM_CHANNELS])
    return load


# ---------------------------------------------------------------------------------------------- datasets
def make_dataset(data_dir=None, *, sample_rate: int, slice_len: int, batch_size: int,
                 input_context: tf.distribute.InputContext | None = None, shuffle: bool = True,
                 channel_swap: bool = True, short: str = "pad", pair_pattern: str | None = None, cache_dir=None,
                 seed: int = 0, repeat: bool = True, skip_bad: bool = True,
                 index: SourceIndex | None = None) -> tf.data.Dataset:
    """Batches of real dialogue clips: float32 ``[batch_size, slice_len, 2]`` in [-1, 1] (peak <= TARGET_PEAK).

    data_dir: folder (None: default corpus). batch_size: per replica when ``input_context`` is given (this
    pipeline's batch; the caller divides the global batch). short: "pad" | "drop" for sources shorter than
    slice_len. pair_pattern: per-speaker mono pairs (module docstring). repeat=False: one epoch (each source
    visited max(1, T // slice_len) times), last partial batch dropped. index: a ready ``index_sources`` result
    (skips re-scanning). Raises DataError (no usable file, bad option).
    """
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise DataError(f"batch_size must be a positive integer, got {batch_size!r}")
    if index is None:
        index = index_sources(data_dir, sample_rate=sample_rate, pair_pattern=pair_pattern, cache_dir=cache_dir,
                              skip_bad=skip_bad)
    sources = _usable(index, slice_len, short)

    num_pipelines = input_context.num_input_pipelines if input_context is not None else 1
    pipeline_id = input_context.input_pipeline_id if input_context is not None else 0
    visits = [max(1, s.num_samples // slice_len) for s in sources]
    ds = tf.data.Dataset.from_tensor_slices((
        tf.constant([str(s.cache_path / "seg_") for s in sources]),
        tf.constant([s.num_samples for s in sources], tf.int64),
        tf.constant([s.scale for s in sources], tf.float32),
        tf.constant(visits, tf.int64)))
    if num_pipelines > 1:
        if len(sources) >= num_pipelines:
            ds = ds.shard(num_pipelines, pipeline_id)
            visits = visits[pipeline_id::num_pipelines]
        else:
            log.info("only %d source(s) for %d input pipelines: every pipeline samples all of them",
                     len(sources), num_pipelines)
    pipeline_seed = int(seed) * PIPELINE_SEED_STRIDE + int(pipeline_id)
    if shuffle:     # sources first (small elements, full buffer), then their visits
        ds = ds.shuffle(len(visits), seed=pipeline_seed, reshuffle_each_iteration=True)
    # one element per visit: long recordings are sampled in proportion to their length
    ds = ds.flat_map(lambda p, n, s, v: tf.data.Dataset.from_tensors((p, n, s)).repeat(v))
    if shuffle:
        ds = ds.shuffle(min(sum(visits), MAX_SHUFFLE_BUFFER), seed=pipeline_seed + 1, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    rng = tf.data.Dataset.random(seed=pipeline_seed).batch(2)     # per-element seeds for stateless ops
    ds = tf.data.Dataset.zip((ds, rng)).map(lambda src, s: (*src, s))
    ds = ds.map(_make_loader(int(slice_len), bool(channel_swap)), num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(int(batch_size), drop_remainder=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def dataset_fn(cfg, data_dir=None, **kw) -> Callable:
    """-> ``fn(input_context=None) -> tf.data.Dataset`` for ``strategy.distribute_datasets_from_function``.

    Per-replica batch = ``input_context.get_per_replica_batch_size(cfg.batch_size)`` (cfg.batch_size without a
    context); sample rate and slice length from ``cfg``; ``kw`` goes to ``make_dataset``. Sources are validated
    and cached now, so a DataError surfaces here rather than inside the strategy. ``cfg.nch == 1``: channels are
    averaged to ``[batch, slice_len, 1]``.
    """
    kw = dict(kw)
    index = kw.pop("index", None) or index_sources(
        data_dir, sample_rate=cfg.sample_rate, pair_pattern=kw.get("pair_pattern"), cache_dir=kw.get("cache_dir"),
        skip_bad=kw.get("skip_bad", True))
    _usable(index, cfg.slice_len, kw.get("short", "pad"))    # fail early on short="drop" with nothing long enough

    def fn(input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
        if input_context is None:
            batch = cfg.batch_size
        else:
            try:
                batch = input_context.get_per_replica_batch_size(cfg.batch_size)
            except ValueError as e:
                raise ConfigError(f"config field 'batch_size' = {cfg.batch_size}: must be divisible by the "
                                  f"{input_context.num_replicas_in_sync} replicas in sync") from e
        ds = make_dataset(data_dir, sample_rate=cfg.sample_rate, slice_len=cfg.slice_len, batch_size=batch,
                          input_context=input_context, index=index, **kw)
        if getattr(cfg, "nch", NUM_CHANNELS) == 1:
            ds = ds.map(lambda x: tf.reduce_mean(x, axis=-1, keepdims=True))
        return ds
    return fn


def load_clips(data_dir=None, *, sample_rate: int, slice_len: int, num_clips: int, seed: int = 0,
               pair_pattern: str | None = None, cache_dir=None, short: str = "pad",
               index: SourceIndex | None = None) -> np.ndarray:
    """Deterministic real clips (same arguments -> same array) for summaries and evaluation.

    -> np.float32 ``[num_clips, slice_len, 2]``, jointly normalised like ``make_dataset``, never channel-swapped.
    Sources are taken in a seeded random order (cycling when num_clips exceeds them), offsets seeded too.
    """
    if not isinstance(num_clips, (int, np.integer)) or num_clips < 0:
        raise DataError(f"num_clips must be a non-negative integer, got {num_clips!r}")
    if index is None:
        index = index_sources(data_dir, sample_rate=sample_rate, pair_pattern=pair_pattern, cache_dir=cache_dir)
    sources = _usable(index, slice_len, short)
    rng = np.random.default_rng(seed)
    out = np.zeros([num_clips, slice_len, NUM_CHANNELS], np.float32)
    order: list = []
    for i in range(num_clips):
        if not order:
            order = list(rng.permutation(len(sources)))
        src = sources[order.pop()]
        offset = int(rng.integers(0, max(src.num_samples - slice_len, 0) + 1))
        k = offset // SEGMENT_STRIDE
        local = offset - k * SEGMENT_STRIDE
        count = min(slice_len, src.num_samples - offset) * NUM_CHANNELS
        pcm = np.fromfile(src.segment_path(k), dtype="<i2", count=count,
                          offset=local * FRAME_BYTES)
        out[i, :count // NUM_CHANNELS] = pcm.reshape(-1, NUM_CHANNELS) * (src.scale / PCM_FULL_SCALE)
        out[i] = normalize_clip_np(out[i])
    return out


def read_source(src: CachedSource) -> np.ndarray:
    """A cached source's whole audio: np.float32 ``[num_samples, 2]``, jointly normalised (``normalize_clip_np``)."""
    parts = []
    for k in range(src.num_segments):
        count = min(SEGMENT_STRIDE, src.num_samples - k * SEGMENT_STRIDE)   # segment k starts at k * SEGMENT_STRIDE
        if count > 0:
            pcm = np.fromfile(src.segment_path(k), dtype="<i2", count=count * NUM_CHANNELS)
            parts.append(pcm.reshape(-1, NUM_CHANNELS))
    audio = np.concatenate(parts) if parts else np.zeros((0, NUM_CHANNELS), np.int16)
    return normalize_clip_np(audio.astype(np.float32) * (src.scale / PCM_FULL_SCALE))


__all__: Sequence[str] = ("make_dataset", "dataset_fn", "load_clips", "read_source", "index_sources", "find_sources",
                          "SourceIndex", "CachedSource", "Source", "normalize_clip", "normalize_clip_np",
                          "default_cache_dir", "TARGET_PEAK", "PEAK_FLOOR", "SEGMENT_STRIDE")

"""Audio I/O: read, resample, write, and the stereo policy.

Layout everywhere: float32 ``[time, channels]`` in [-1, 1] (a 1-D ``[time]`` array is accepted where noted).

    audio, sr = read_audio("a.flac", sample_rate=8000)        # [time, channels]
    stereo, sr = read_stereo("dialogue.wav", mono="reject")   # [time, 2]; speaker A left, speaker B right
    write_wav("out/x.wav", stereo, sr)                        # 16-bit PCM, refuses to overwrite

Every problem with an input file raises :class:`wavebabble.errors.AudioError` with a message that names the
file and what is wrong: missing, not a file, empty (0 bytes), unreadable/corrupt, zero-length (no samples),
non-finite samples (NaN/inf), unsupported channel count.

Decoding: ``soundfile`` (libsndfile: WAV, FLAC, OGG/Vorbis, and others) first; files with other extensions
(``SOUNDFILE_EXTENSIONS`` excluded) that it cannot open fall back to ``librosa.load`` (audioread / ffmpeg where
installed).
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from wavebabble.errors import AudioError, DataError, output_error

# Extensions find_audio_files() collects (lower case). WAV/FLAC/OGG decode with libsndfile; the rest with
# libsndfile where it can (mp3, opus on libsndfile >= 1.1) or librosa's fallback decoders.
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                                     ".au", ".m4a")
# Formats libsndfile reads natively: a file with one of these extensions that soundfile cannot open is corrupt
# (no slow librosa fallback is tried); other extensions fall back to librosa's decoders.
SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au")
WRITE_SUBTYPES = ("PCM_16", "FLOAT")
MONO_POLICIES = ("reject", "duplicate")
STEREO_CHANNELS = 2
MAX_SAMPLE_RATE = 384000  # highest rate a CLI resamples to (the top rate of common audio hardware)
RESAMPLE_TYPE = "soxr_hq"  # librosa's default high-quality resampler


def _fail(path, problem: str) -> AudioError:
    return AudioError(f"audio file {path}: {problem}")


ZERO_LENGTH = "zero-length audio (the file holds no samples)"


def _existing_file(path) -> Path:
    """``path`` as a Path; AudioError when it is missing, not a regular file, or empty (0 bytes)."""
    path = Path(path)
    if not path.exists():
        raise _fail(path, "file not found")
    if not path.is_file():
        raise _fail(path, "not a regular file")
    if os.path.getsize(path) == 0:
        raise _fail(path, "empty file (0 bytes)")
    return path


def _count_nonfinite(audio: np.ndarray) -> int:
    return int(np.size(audio) - np.count_nonzero(np.isfinite(audio)))


def _nonfinite(count: int) -> str:
    return f"{count} non-finite samples (NaN or inf)"


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """Decode to float32 [time, channels] with soundfile, else librosa. Raises AudioError."""
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
        return audio, int(sr)
    except Exception as sf_error:  # libsndfile cannot open it: corrupt, or a format for librosa's decoders
        if path.suffix.lower() in SOUNDFILE_EXTENSIONS:
            raise _fail(path, f"unreadable or corrupt ({type(sf_error).__name__}: {sf_error})") from sf_error
        try:
            import librosa

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                y, sr = librosa.load(str(path), sr=None, mono=False, dtype=np.float32)
        except Exception as lr_error:
            raise _fail(path, f"unreadable or corrupt ({type(sf_error).__name__}: {sf_error}; "
                              f"librosa fallback: {type(lr_error).__name__}: {lr_error})") from lr_error
        y = np.asarray(y, dtype=np.float32)
        audio = y[:, None] if y.ndim == 1 else y.T  # librosa gives [channels, time]
        return np.ascontiguousarray(audio), int(sr)


def read_audio(path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 ``[time, channels]``; resample to ``sample_rate`` when given.

    Returns ``(audio, sr)`` where ``sr`` is ``sample_rate`` if given, else the file's rate.
    Raises AudioError (naming the file) when it is missing, empty, unreadable/corrupt, has no samples or has
    non-finite samples.
    """
    path = _existing_file(path)
    audio, sr = _decode(path)
    if audio.ndim != 2 or audio.shape[1] == 0:
        raise _fail(path, f"decoded to an unexpected shape {audio.shape} (no channels)")
    if audio.shape[0] == 0:
        raise _fail(path, ZERO_LENGTH)
    bad = _count_nonfinite(audio)
    if bad:
        raise _fail(path, _nonfinite(bad))
    if sample_rate is not None and int(sample_rate) != sr:
        audio = resample(audio, sr, int(sample_rate))
        sr = int(sample_rate)
    return audio.astype(np.float32, copy=False), sr


def read_stereo(path, sample_rate: int | None = None, mono: str = "reject") -> tuple[np.ndarray, int]:
    """Read a two-party dialogue as float32 ``[time, 2]`` (speaker A left, speaker B right).

    2-channel files are returned as they are. A mono file raises AudioError when ``mono="reject"`` and is
    copied to both channels when ``mono="duplicate"`` (use :func:`pair_mono` to pair two mono files instead).
    More than 2 channels always raises AudioError.
    """
    if mono not in MONO_POLICIES:
        raise ValueError(f"mono must be one of {MONO_POLICIES}, got {mono!r}")
    audio, sr = read_audio(path, sample_rate)
    _check_channels(path, audio.shape[1], mono)
    return _as_stereo(audio), sr


def _check_channels(path, channels: int, mono: str) -> None:
    """AudioError unless ``channels`` is 2, or 1 with ``mono="duplicate"`` (see read_stereo)."""
    if channels == 1 and mono == "reject":
        raise _fail(path, "is mono (1 channel); a stereo dialogue (2 channels: speaker A left, B right) is "
                          "needed here (pair two mono files, or allow mono='duplicate')")
    if channels not in (1, STEREO_CHANNELS):
        raise _fail(path, f"has {channels} channels; only stereo (2) or, where allowed, mono (1) is supported")


def _as_stereo(audio: np.ndarray) -> np.ndarray:
    """``[n, 1]`` -> ``[n, 2]`` (the channel copied); ``[n, 2]`` unchanged."""
    return audio if audio.shape[1] == STEREO_CHANNELS else np.repeat(audio, STEREO_CHANNELS, axis=1)


def stereo_blocks(path, block_frames: int, mono: str = "reject") -> tuple[int, Iterator[np.ndarray]] | None:
    """A libsndfile-readable dialogue as ``(sample_rate, blocks)``: float32 ``[<= block_frames, 2]`` blocks in
    order, never the whole file at once; None when libsndfile cannot open the file (then :func:`read_stereo`
    reports a corrupt file or decodes it with librosa).

    The same checks as :func:`read_stereo` (missing, empty, zero-length, channels, ``mono`` policy) raise
    AudioError before the first block; non-finite samples raise AudioError after the last block.
    """
    if mono not in MONO_POLICIES:
        raise ValueError(f"mono must be one of {MONO_POLICIES}, got {mono!r}")
    path = _existing_file(path)
    try:
        info = sf.info(str(path))
    except Exception:  # libsndfile cannot open it: read_stereo reports why, or decodes it another way
        return None
    _check_channels(path, info.channels, mono)
    if info.frames == 0:
        raise _fail(path, ZERO_LENGTH)

    def blocks() -> Iterator[np.ndarray]:
        bad = 0
        with sf.SoundFile(str(path)) as f:
            for block in f.blocks(blocksize=int(block_frames), dtype="float32", always_2d=True):
                bad += _count_nonfinite(block)
                yield _as_stereo(block)
        if bad:
            raise _fail(path, _nonfinite(bad))

    return int(info.samplerate), blocks()


def pair_mono(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two mono signals ``[time]`` -> float32 ``[max_time, 2]``; the shorter one is zero-padded at its end."""
    left = np.asarray(left, dtype=np.float32).reshape(-1)
    right = np.asarray(right, dtype=np.float32).reshape(-1)
    out = np.zeros((max(left.size, right.size), STEREO_CHANNELS), dtype=np.float32)
    out[:left.size, 0] = left
    out[:right.size, 1] = right
    return out


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample ``[time]`` or ``[time, channels]`` from ``orig_sr`` to ``target_sr`` (librosa); same layout."""
    audio = np.asarray(audio, dtype=np.float32)
    if int(orig_sr) == int(target_sr):
        return audio
    if orig_sr <= 0 or target_sr <= 0:
        raise ValueError(f"sample rates must be positive, got {orig_sr} -> {target_sr}")
    import librosa

    out = librosa.resample(audio, orig_sr=int(orig_sr), target_sr=int(target_sr), axis=0, res_type=RESAMPLE_TYPE)
    return np.ascontiguousarray(out, dtype=np.float32)


def write_wav(path, audio: np.ndarray, sample_rate: int, subtype: str = "PCM_16", overwrite: bool = False) -> Path:
    """Write ``[time]`` or ``[time, channels]`` audio as WAV (``PCM_16`` clips to [-1, 1]; or ``FLOAT``).

    Creates parent folders. Refuses (AudioError) to replace an existing file unless ``overwrite=True``, and to
    write empty or non-finite audio. The WAV is encoded in memory first; when the file cannot be written (disk
    full, read-only folder) the partial file is removed and OutputError names the path. Returns the path written.
    """
    path = Path(path)
    if subtype not in WRITE_SUBTYPES:
        raise ValueError(f"subtype must be one of {WRITE_SUBTYPES}, got {subtype!r}")
    if path.exists() and not overwrite:
        raise _fail(path, "already exists (pass overwrite=True to replace it)")
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise _fail(path, f"refusing to write audio of shape {audio.shape} (need non-empty [time] or "
                          "[time, channels])")
    if not np.all(np.isfinite(audio)):
        raise _fail(path, "refusing to write non-finite samples (NaN or inf)")
    if subtype == "PCM_16":
        audio = np.clip(audio, -1.0, 1.0)
    encoded = io.BytesIO()
    sf.write(encoded, audio, int(sample_rate), subtype=subtype, format="WAV")
    opened = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb" if overwrite else "xb") as f:
            opened = True
            f.write(encoded.getbuffer())
    except FileExistsError:
        raise _fail(path, "already exists (pass overwrite=True to replace it)") from None
    except OSError as e:
        if opened:
            path.unlink(missing_ok=True)     # the partial file this call wrote
        raise output_error("audio", path, e) from None
    return path


def is_audio_file(path) -> bool:
    """True when the name ends with one of AUDIO_EXTENSIONS (case-insensitive)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def find_audio_files(folder) -> list[Path]:
    """All audio files under ``folder`` (recursive, by AUDIO_EXTENSIONS), sorted.

    A single audio file path returns ``[path]``. A missing path raises AudioError.
    """
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        raise AudioError(f"audio folder {folder}: not found")
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_audio_file(p))


def require_audio_files(folder, label: str) -> list[Path]:
    """:func:`find_audio_files`, but a missing or audio-free ``folder`` is a DataError starting with ``label``
    (e.g. ``"--reference=DIR"``): a folder of inputs the job cannot do without."""
    try:
        files = find_audio_files(folder)
    except AudioError as err:
        raise DataError(f"{label}: {err}") from err
    if not files:
        raise DataError(f"{label}: no audio files found")
    return files

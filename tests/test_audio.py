"""wavebabble.audio: reading (all formats, every AudioError case), stereo policy, resampling, writing."""
import numpy as np
import pytest
import soundfile as sf

from wavebabble import audio
from wavebabble.errors import AudioError, WavebabbleError

SR = 8000


def _stereo(seconds=0.5, sr=SR, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.uniform(-0.5, 0.5, (int(seconds * sr), 2))).astype(np.float32)


# ----------------------------------------------------------------------------- reading formats
@pytest.mark.parametrize("fmt,subtype,ext,tol", [
    ("WAV", "PCM_16", ".wav", 1.0 / 32768),
    ("WAV", "FLOAT", ".wav", 0.0),
    ("FLAC", "PCM_16", ".flac", 1.0 / 32768),
])
def test_read_lossless_formats_round_trip(tmp_path, fmt, subtype, ext, tol):
    x = _stereo()
    path = tmp_path / f"x{ext}"
    sf.write(str(path), x, SR, format=fmt, subtype=subtype)
    y, sr = audio.read_audio(path)
    assert sr == SR and y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y - x)) <= tol + 1e-7


def test_read_ogg_vorbis(tmp_path):
    t = np.arange(SR) / SR
    x = np.stack([0.5 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], 1).astype(np.float32)
    path = tmp_path / "x.ogg"
    sf.write(str(path), x, SR, format="OGG", subtype="VORBIS")
    y, sr = audio.read_audio(path)
    assert sr == SR and y.shape[1] == 2 and abs(y.shape[0] - SR) < 0.01 * SR
    assert np.all(np.isfinite(y))
    # lossy, but the level of each channel survives
    assert np.sqrt(np.mean(y[:, 0] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.1)
    assert np.sqrt(np.mean(y[:, 1] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)


def test_librosa_fallback_for_other_formats(tmp_path, monkeypatch):
    x = _stereo()
    path = tmp_path / "x.m4a"   # an extension outside SOUNDFILE_EXTENSIONS (the content is WAV)
    sf.write(str(path), x, SR, subtype="FLOAT", format="WAV")

    def broken(*a, **k):
        raise RuntimeError("pretend libsndfile cannot open this format")

    monkeypatch.setattr(audio.sf, "read", broken)
    y, sr = audio.read_audio(path)
    assert sr == SR and y.shape == x.shape and y.dtype == np.float32
    np.testing.assert_allclose(y, x, atol=1e-6)
    # a native format that soundfile cannot read is corrupt: no fallback, the error names the file
    native = tmp_path / "x.wav"
    sf.write(str(native), x, SR)
    with pytest.raises(AudioError, match=r"x\.wav.*unreadable or corrupt"):
        audio.read_audio(native)
    # a corrupt file in another format: both decoders fail, the error says so
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00\x01garbage" * 50)
    monkeypatch.undo()
    with pytest.raises(AudioError, match=r"bad\.mp3.*unreadable or corrupt.*librosa fallback"):
        audio.read_audio(bad)


def test_read_resamples(tmp_path):
    t = np.arange(SR) / SR
    x = (0.5 * np.sin(2 * np.pi * 500 * t)).astype(np.float32)
    path = audio.write_wav(tmp_path / "m.wav", x, SR, subtype="FLOAT")
    y, sr = audio.read_audio(path, sample_rate=16000)
    assert sr == 16000 and y.shape == (16000, 1)
    spectrum = np.abs(np.fft.rfft(y[:, 0]))
    assert np.argmax(spectrum) * 16000 / len(y) == pytest.approx(500, abs=2)


# ----------------------------------------------------------------------------- every AudioError case
def _assert_audio_error(path, words, **kw):
    with pytest.raises(AudioError) as info:
        audio.read_audio(path, **kw)
    msg = str(info.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg.lower(), msg
    assert isinstance(info.value, WavebabbleError)


def test_missing_file(tmp_path):
    _assert_audio_error(tmp_path / "nope.wav", ["not found"])


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d.wav").mkdir()
    _assert_audio_error(tmp_path / "d.wav", ["not a regular file"])


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    _assert_audio_error(p, ["empty", "0 bytes"])


@pytest.mark.parametrize("content", [b"this is not audio at all" * 20, b"RIFF\x24\x00\x00\x00WAVEfmt "])
def test_corrupt_file(tmp_path, content):
    p = tmp_path / "corrupt.wav"
    p.write_bytes(content)
    _assert_audio_error(p, ["unreadable or corrupt"])


def test_zero_length_audio(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(str(p), np.zeros((0, 2), np.float32), SR)
    _assert_audio_error(p, ["zero-length"])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path, bad):
    x = _stereo()
    x[100, 1] = bad
    x[200, 0] = bad
    p = tmp_path / "nan.wav"
    sf.write(str(p), x, SR, subtype="FLOAT")
    _assert_audio_error(p, ["2 non-finite"])


def test_unsupported_channel_count(tmp_path):
    p = tmp_path / "three.wav"
    sf.write(str(p), np.zeros((800, 3), np.float32), SR)
    assert audio.read_audio(p)[0].shape == (800, 3)  # plain reading is fine ...
    for mono in ("reject", "duplicate"):                 # ... a dialogue must have 1 or 2 channels
        with pytest.raises(AudioError, match=r"three\.wav.*3 channels"):
            audio.read_stereo(p, mono=mono)


# ----------------------------------------------------------------------------- stereo policy
def test_read_stereo_keeps_two_channels(tmp_path):
    x = _stereo()
    p = audio.write_wav(tmp_path / "s.wav", x, SR, subtype="FLOAT")
    y, sr = audio.read_stereo(p)
    assert sr == SR
    np.testing.assert_array_equal(y, x)


def test_mono_rejected_or_duplicated(tmp_path):
    x = _stereo()[:, 0]
    p = audio.write_wav(tmp_path / "mono.wav", x, SR, subtype="FLOAT")
    with pytest.raises(AudioError, match=r"mono\.wav.*mono \(1 channel\)"):
        audio.read_stereo(p)
    y, _ = audio.read_stereo(p, mono="duplicate")
    assert y.shape == (len(x), 2)
    np.testing.assert_array_equal(y[:, 0], x)
    np.testing.assert_array_equal(y[:, 1], x)
    with pytest.raises(ValueError):
        audio.read_stereo(p, mono="average")


def test_pair_mono_pads_shorter():
    a = np.ones(5, np.float32)
    b = -np.ones(3, np.float32)
    y = audio.pair_mono(a, b)
    assert y.shape == (5, 2) and y.dtype == np.float32
    np.testing.assert_array_equal(y[:, 0], a)
    np.testing.assert_array_equal(y[:, 1], [-1, -1, -1, 0, 0])
    assert audio.pair_mono(b, a)[:, 0].tolist() == [-1, -1, -1, 0, 0]


# ----------------------------------------------------------------------------- resample
@pytest.mark.parametrize("shape", [(SR,), (SR, 2)])
def test_resample_layout_and_content(shape):
    t = np.arange(SR) / SR
    tone = 0.5 * np.sin(2 * np.pi * 300 * t)
    x = (np.stack([tone, tone], 1) if len(shape) == 2 else tone).astype(np.float32)
    y = audio.resample(x, SR, 16000)
    assert y.shape == ((16000,) + shape[1:]) and y.dtype == np.float32
    back = audio.resample(y, 16000, SR)
    assert back.shape == x.shape
    np.testing.assert_allclose(back[200:-200], x[200:-200], atol=0.02)
    assert audio.resample(x, SR, SR) is not None and audio.resample(x, SR, SR).shape == x.shape


# ----------------------------------------------------------------------------- write
def test_write_wav_pcm16_clips_and_float_keeps(tmp_path):
    x = np.array([[1.5, -2.0], [0.25, -0.25]] * 10, np.float32)
    p16 = audio.write_wav(tmp_path / "deep" / "er" / "a.wav", x, SR)  # creates parent folders
    assert sf.info(str(p16)).subtype == "PCM_16"
    y, _ = audio.read_audio(p16)
    assert y.max() <= 1.0 and y.min() >= -1.0
    assert y[0, 0] == pytest.approx(1.0, abs=1e-4) and y[0, 1] == pytest.approx(-1.0, abs=1e-4)
    assert y[1, 0] == pytest.approx(0.25, abs=1e-4)
    pf = audio.write_wav(tmp_path / "f.wav", x, SR, subtype="FLOAT")
    assert sf.info(str(pf)).subtype == "FLOAT"
    np.testing.assert_array_equal(audio.read_audio(pf)[0], x)


def test_write_wav_refuses_overwrite_and_bad_audio(tmp_path):
    p = audio.write_wav(tmp_path / "a.wav", np.zeros(100, np.float32), SR)
    with pytest.raises(AudioError, match=r"a\.wav.*already exists"):
        audio.write_wav(p, np.ones(100, np.float32) * 0.5, SR)
    audio.write_wav(p, np.ones(100, np.float32) * 0.5, SR, overwrite=True)
    assert audio.read_audio(p)[0][0, 0] == pytest.approx(0.5, abs=1e-4)
    with pytest.raises(AudioError, match="non-finite"):
        audio.write_wav(tmp_path / "nan.wav", np.array([0.0, np.nan], np.float32), SR)
    with pytest.raises(AudioError, match="shape"):
        audio.write_wav(tmp_path / "e.wav", np.zeros((0, 2), np.float32), SR)
    with pytest.raises(ValueError):
        audio.write_wav(tmp_path / "x.wav", np.zeros(10, np.float32), SR, subtype="PCM_24")
    assert not (tmp_path / "nan.wav").exists() and not (tmp_path / "e.wav").exists()


# ----------------------------------------------------------------------------- find files
def test_find_audio_files_recursive_sorted(tmp_path):
    for rel in ["b.wav", "a/c.FLAC", "a/z/d.ogg", "notes.txt", "a/readme.md"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found = audio.find_audio_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a/c.FLAC", "a/z/d.ogg", "b.wav"]
    assert audio.find_audio_files(tmp_path / "b.wav") == [tmp_path / "b.wav"]
    assert audio.find_audio_files(tmp_path / "a" / "z") == [tmp_path / "a" / "z" / "d.ogg"]
    with pytest.raises(AudioError, match="not found"):
        audio.find_audio_files(tmp_path / "missing")
    assert {".wav", ".flac", ".ogg"} <= set(audio.AUDIO_EXTENSIONS)

"""Block-wise measuring: frame energies computed block by block equal the whole-clip computation (any block
size, block edges off the hop grid), audio files are read in blocks, and absurd VAD-JSON durations are refused."""
import json

import numpy as np
import pytest
import soundfile as sf

from wavebabble import audio, measure, vad
from wavebabble.errors import AudioError, DataError

RATES = (8000, 16000, 48000)
DB_TOL = 1e-3   # dB; both sides are float32 at the end
ODD_BLOCKS = (1, 7, 79, 81, 1001, 4096)   # block lengths in samples, most of them off the hop grid


def _reference_energy_db(x, sample_rate, frame_hz=vad.FRAME_HZ):
    """The whole-clip frame energies, written out directly: [T, C] -> [T // hop, C] dBFS (float64)."""
    hop, window, left_pad = vad.frame_params(sample_rate, frame_hz)
    n = x.shape[0] // hop
    padded = np.zeros((left_pad + x.shape[0] + window, x.shape[1]))
    padded[left_pad:left_pad + x.shape[0]] = np.asarray(x, np.float64) ** 2
    power = np.stack([padded[i * hop:i * hop + window].mean(axis=0) for i in range(n)]) if n else \
        np.zeros((0, x.shape[1]))
    return 10.0 * np.log10(power + vad.ENERGY_EPS)


def _signal(num_samples, sample_rate, seed=0):
    """Stereo [T, 2]: noise with loud bursts and stretches of digital silence."""
    rng = np.random.default_rng(seed)
    x = 0.01 * rng.standard_normal((num_samples, 2))
    x[num_samples // 5:num_samples // 3, 0] += 0.5 * rng.standard_normal(num_samples // 3 - num_samples // 5)
    x[num_samples // 2:, 1] = 0.0
    return x.astype(np.float32)


def _blocks(x, size):
    return (x[i:i + size] for i in range(0, x.shape[0], size))


@pytest.mark.parametrize("sample_rate", RATES)
def test_block_energies_equal_whole_clip(sample_rate):
    hop = sample_rate // vad.FRAME_HZ
    for num_samples in (0, hop - 1, hop, hop + 3, int(0.3 * sample_rate) + 37):
        x = _signal(num_samples, sample_rate)
        want = _reference_energy_db(x, sample_rate)
        whole = vad.frame_energy_db(x, sample_rate)
        assert whole.shape == want.shape and whole.dtype == np.float32
        np.testing.assert_allclose(whole, want, atol=DB_TOL)
        for size in ODD_BLOCKS + (hop - 1, hop + 1, max(num_samples, 1)):
            got = vad.frame_energy_db_blocks(_blocks(x, size), sample_rate, channels=2)
            assert got.shape == want.shape and got.dtype == np.float32, (num_samples, size)
            np.testing.assert_allclose(got, want, atol=DB_TOL, err_msg=f"T={num_samples} block={size}")


def test_hard_vad_from_energies_equals_hard_vad():
    x = _signal(3 * 8000 + 55, 8000)
    energy = vad.frame_energy_db_blocks(_blocks(x, 999), 8000, channels=2)
    for kw in ({}, {"dialogue_range_db": 20.0}):
        np.testing.assert_array_equal(vad.hard_vad_from_energy(energy, **kw), vad.hard_vad(x, 8000, **kw))


def _dialogue(sample_rate, seconds=3.1, seed=0):
    """Stereo [T, 2] float32 at ``sample_rate``: A speaks 0.3-1.2 s, B 1.5-2.6 s, over -60 dBFS noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    x = 1e-3 * rng.standard_normal((n, 2))
    for c, (a, b, f) in enumerate(((0.3, 1.2, 200.0), (1.5, 2.6, 310.0))):
        m = (t >= a) & (t < b)
        x[m, c] += 0.3 * np.sin(2 * np.pi * f * t[m])
    return x.astype(np.float32)


@pytest.mark.parametrize("sample_rate", RATES)
def test_file_energies_in_blocks_equal_whole_file(tmp_path, sample_rate, monkeypatch):
    x = _dialogue(sample_rate)
    path = audio.write_wav(tmp_path / "d.wav", x, sample_rate)
    stereo, sr = audio.read_stereo(path)
    want_stats = measure.measure_audio(stereo, sr).to_json()
    want_energy = vad.frame_energy_db(stereo, sr)
    mono_path = audio.write_wav(tmp_path / "m.wav", x[:, 0], sample_rate)
    want_mono = vad.frame_energy_db(audio.read_stereo(mono_path, mono="duplicate")[0], sr)

    def whole(*args, **kw):
        raise AssertionError("the whole file was read at once")
    monkeypatch.setattr(audio, "read_stereo", whole)
    monkeypatch.setattr(audio, "read_audio", whole)
    monkeypatch.setattr(measure, "READ_BLOCK_FRAMES", 1013)
    energy, got_sr = measure.file_energy_db(path)
    assert got_sr == sr
    np.testing.assert_allclose(energy, want_energy, atol=DB_TOL)
    assert measure.measure_files([path]).to_json() == want_stats
    np.testing.assert_allclose(measure.file_energy_db(mono_path, mono="duplicate")[0], want_mono, atol=DB_TOL)
    with pytest.raises(AudioError, match="m.wav.*mono"):
        measure.file_energy_db(mono_path)


def test_resampled_file_energies_equal_whole_file(tmp_path):
    x = _dialogue(16000)
    path = audio.write_wav(tmp_path / "d.wav", x, 16000)
    stereo, sr = audio.read_stereo(path, 8000)
    energy, got_sr = measure.file_energy_db(path, 8000)
    assert got_sr == sr == 8000
    np.testing.assert_allclose(energy, vad.frame_energy_db(stereo, sr), atol=DB_TOL)
    assert measure.measure_files([path], sample_rate=8000).to_json() == measure.measure_audio(stereo, sr).to_json()


def test_block_read_reports_bad_files(tmp_path, monkeypatch):
    monkeypatch.setattr(measure, "READ_BLOCK_FRAMES", 1013)
    x = _dialogue(8000)
    x[5000, 1] = np.nan
    bad = tmp_path / "nan.wav"
    sf.write(str(bad), x, 8000, subtype="FLOAT")          # write_wav refuses NaN; soundfile does not
    with pytest.raises(AudioError, match="nan.wav.*1 non-finite"):
        measure.file_energy_db(bad)
    (tmp_path / "broken.wav").write_bytes(b"not a wav file at all" * 10)
    with pytest.raises(AudioError, match="broken.wav.*corrupt"):
        measure.file_energy_db(tmp_path / "broken.wav")
    low = audio.write_wav(tmp_path / "low.wav", x[:800, :] * 0, 50)
    with pytest.raises(AudioError, match="low.wav.*frame_hz"):
        measure.file_energy_db(low)


@pytest.mark.parametrize("duration", [25 * 3600.0, 3e6, 1e12, 1e308, 10 ** 400])
def test_vad_json_refuses_absurd_durations(tmp_path, duration):
    p = tmp_path / "long.json"
    p.write_text(json.dumps({"duration": duration, "vad": [[[0.0, 1.0]], []]}))
    with pytest.raises(DataError) as info:
        measure.load_vad_json(p)
    msg = str(info.value)
    assert str(p) in msg and repr(duration) in msg and "at most" in msg, msg

"""Frame-rate pitch (wavebabble/pitch_track.py): the renderer's pitch targets."""
from pathlib import Path

import numpy as np
import pytest

from wavebabble.mel import MEL_HOP
from wavebabble.pitch_track import track_pitch

SR = 8000
FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd" / "recordings"


def _harmonic(f0_per_sample, partials=12, amp=0.3):
    phase = np.cumsum(f0_per_sample) / SR
    return amp * sum(np.sin(2 * np.pi * k * phase) / k for k in range(1, partials + 1))


def test_a_steady_voice_and_a_glide_are_tracked_on_the_mel_frames():
    n = 64 * MEL_HOP * 16
    steady = _harmonic(np.full(n, 150.0))
    glide_f0 = np.linspace(100.0, 250.0, n)
    f0, voiced = track_pitch(np.stack([steady, _harmonic(glide_f0)]), SR)
    assert f0.shape == voiced.shape == (2, n // MEL_HOP)
    inner = slice(8, -8)                                  # frames whose window lies inside the signal
    assert voiced[:, inner].all()
    assert np.allclose(f0[0, inner], 150.0, rtol=0.01)
    centres = np.arange(n // MEL_HOP) * MEL_HOP + MEL_HOP // 2
    assert np.allclose(f0[1, inner], glide_f0[centres][inner], rtol=0.02)


def test_noise_and_silence_are_unvoiced_and_one_row_works_alone():
    rng = np.random.default_rng(0)
    n = 32 * MEL_HOP * 8
    f0, voiced = track_pitch(np.stack([0.3 * rng.standard_normal(n), np.zeros(n)]), SR)
    assert voiced[0].mean() < 0.05 and not voiced[1].any() and (f0[~voiced] == 0).all()
    # a voice that stops: the quiet tail is unvoiced, and a 1-D input gives 1-D outputs
    x = _harmonic(np.full(n, 200.0)) * (np.arange(n) < n // 2)
    f0, voiced = track_pitch(x, SR)
    half = n // MEL_HOP // 2
    assert f0.shape == (n // MEL_HOP,) and voiced[8:half - 8].all() and not voiced[half + 8:].any()


@pytest.mark.skipif(not FSDD.is_dir(), reason="needs ../shared/data/fsdd (real speech)")
def test_agrees_with_librosa_pyin_on_real_speech():
    """On real recordings, the frames called voiced are voiced for pyin too, most of pyin's are found, and the
    pitch agrees within a semitone but for a few octave errors."""
    import librosa
    import soundfile as sf

    files = sorted(FSDD.glob("*_jackson_*.wav"))[:3] + sorted(FSDD.glob("*_nicolas_*.wav"))[:3]
    found = agree = pyin_voiced = ours = close = 0
    for f in files:
        x, sr = sf.read(f)
        assert sr == SR
        x = x[: len(x) // MEL_HOP * MEL_HOP]
        f0, voiced = track_pitch(x, SR)
        ref, ref_voiced, _ = librosa.pyin(x, fmin=60, fmax=400, sr=SR, frame_length=512, hop_length=MEL_HOP)
        m = min(len(f0), len(ref))
        f0, voiced, ref, ref_voiced = f0[:m], voiced[:m], ref[:m], ref_voiced[:m]
        found += (voiced & ref_voiced).sum()
        pyin_voiced += ref_voiced.sum()
        ours += voiced.sum()
        both = voiced & ref_voiced
        agree += both.sum()
        close += (np.abs(12 * np.log2(f0[both] / ref[both])) < 1.0).sum()
    assert found / pyin_voiced > 0.6
    assert found / ours > 0.95
    assert close / agree > 0.85

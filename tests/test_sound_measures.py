"""Sound measures: syllable-rate modulation, voiced fraction, the classifier two-sample test, and their floors."""
import numpy as np
import pytest

from wavebabble import quality, sound_measures, speechlike, two_sample
from wavebabble.audio import read_audio

SR = 8000


def _stereo(x):
    return np.stack([x, x], axis=1).astype(np.float32)


def _all_active(clip):
    return np.ones((len(clip) // (SR // 100), 2), bool)


# --------------------------------------------------------------------------- syllable-rate modulation
@pytest.mark.parametrize("mod_hz, expected", [(5.0, 0.5 ** 2 / 2), (20.0, 0.0), (None, 0.0)])
def test_syllable_modulation_measures_the_band_variance_of_the_envelope(mod_hz, expected):
    t = np.arange(4 * SR) / SR
    carrier = np.sin(2 * np.pi * 200 * t)
    envelope = 1.0 if mod_hz is None else 1.0 + 0.5 * np.sin(2 * np.pi * mod_hz * t)
    clip = _stereo(envelope * carrier)
    got = speechlike.syllable_modulation([clip], SR, [_all_active(clip)])
    assert got["windows"] > 0
    assert got["modulation"] == pytest.approx(expected, abs=0.01)


def test_syllable_modulation_reads_only_active_windows():
    t = np.arange(4 * SR) / SR
    clip = _stereo((1.0 + 0.5 * np.sin(2 * np.pi * 5 * t)) * np.sin(2 * np.pi * 200 * t))
    silent = np.zeros_like(_all_active(clip))
    assert speechlike.syllable_modulation([clip], SR, [silent]) == {"modulation": None, "windows": 0}


# --------------------------------------------------------------------------- voiced fraction
def test_voiced_fraction_tone_is_voiced_noise_is_not():
    t = np.arange(2 * SR) / SR
    tone = _stereo(0.3 * np.sin(2 * np.pi * 150 * t))
    noise = np.random.default_rng(0).normal(0, 0.3, (2 * SR, 2)).astype(np.float32)
    v_tone = speechlike.voiced_fraction([tone], SR, [_all_active(tone)], max_seconds=2.0)
    v_noise = speechlike.voiced_fraction([noise], SR, [_all_active(noise)], max_seconds=2.0)
    assert v_tone["voiced_fraction"] > 0.9 and v_noise["voiced_fraction"] < 0.1
    # each run longer than RUN_EXCERPT_S is read as one excerpt of that length: two 2 s runs -> 1 s
    assert v_tone["seconds"] == pytest.approx(2 * speechlike.RUN_EXCERPT_S)
    # the cap: 8 s of audio in 0.4 s runs (20 frames on, 5 off), read until max_seconds
    long_tone = _stereo(0.3 * np.sin(2 * np.pi * 150 * np.arange(8 * SR) / SR))
    runs = np.repeat((np.arange(800) % 25 < 20)[:, None], 2, axis=1)
    capped = speechlike.voiced_fraction([long_tone], SR, [runs], max_seconds=2.0)
    assert 2.0 <= capped["seconds"] <= 2.4 and capped["voiced_fraction"] > 0.9
    assert speechlike.voiced_fraction([tone], SR, [np.zeros((200, 2), bool)]) == {"voiced_fraction": None,
                                                                                    "seconds": 0.0}


@pytest.mark.fsdd
def test_real_speech_is_partly_voiced_and_syllable_modulated(fsdd_dir):
    from wavebabble.vad import hard_vad

    files = sorted(fsdd_dir.glob("*_jackson_*.wav"))[:12]
    speech = np.concatenate([read_audio(p, SR)[0].reshape(-1) for p in files])
    clip = _stereo(speech)
    vad = hard_vad(clip, SR)
    voiced = speechlike.voiced_fraction([clip], SR, [vad], max_seconds=10.0)["voiced_fraction"]
    modulation = speechlike.syllable_modulation([clip], SR, [vad])["modulation"]
    assert 0.3 < voiced < 0.98
    t = np.arange(len(speech)) / SR
    steady = _stereo(np.sin(2 * np.pi * 1000 * t) * np.std(speech))
    assert modulation > 10 * speechlike.syllable_modulation([steady], SR, [vad])["modulation"] + 1e-3


# --------------------------------------------------------------------------- classifier two-sample test
def _noise_clips(rng, n, tone_hz=None):
    clips = []
    for _ in range(n):
        x = rng.normal(0, 0.1, (2 * SR, 2)).astype(np.float32)
        if tone_hz:
            x += 0.1 * np.sin(2 * np.pi * tone_hz * np.arange(2 * SR) / SR)[:, None].astype(np.float32)
        clips.append(x)
    return [quality.logmel(c, SR) for c in clips], [_all_active(c) for c in clips]


def test_two_sample_accuracy_is_chance_for_one_distribution_and_one_for_two():
    rng = np.random.default_rng(0)
    (fa, va), (fb, vb), (fc, vc) = _noise_clips(rng, 16), _noise_clips(rng, 16), _noise_clips(rng, 16, 1000)
    same = two_sample.classifier_two_sample_test(fa, va, fb, vb, rng)
    apart = two_sample.classifier_two_sample_test(fa, va, fc, vc, rng)
    assert abs(same["accuracy"] - 0.5) < 0.1 and apart["accuracy"] > 0.95
    assert same["test_patches"] > 0 and same["train_patches"] > same["test_patches"]


def test_two_sample_test_skips_silence_and_says_why():
    rng = np.random.default_rng(0)
    fa, va = _noise_clips(rng, 4)
    silent = [np.zeros_like(v) for v in va]
    got = two_sample.classifier_two_sample_test(fa, va, fa, silent, rng)
    assert got["accuracy"] is None and "too few" in got["reason"]


# --------------------------------------------------------------------------- all measures with floors
def _gated_times():
    """Sample times of a 3 s clip [3 SR] and its gate, on from 0.5 to 2.5 s (the hard VAD needs silence to tell
    sound from a noise floor)."""
    t = np.arange(3 * SR) / SR
    return t, (t > 0.5) & (t < 2.5)


def _modulated_noise(rng, n: int) -> list:
    """n gated stereo noise clips [3 SR, 2], each loudness-modulated at its own 3-7 Hz (a syllable-like rate)."""
    t, gate = _gated_times()
    return [_stereo(gate * 0.2 * (1 + 0.6 * np.sin(2 * np.pi * rng.uniform(3, 7) * t)) * rng.normal(size=t.size))
            for _ in range(n)]


def test_sound_measures_compare_to_a_real_vs_real_floor():
    rng = np.random.default_rng(1)
    real = _modulated_noise(rng, 8)
    t, gate = _gated_times()
    fake = [_stereo(gate * 0.2 * np.sin(2 * np.pi * 1000 * t)) for _ in range(6)]
    m = sound_measures.sound_measures(fake, real, SR, rng, voicing_seconds=1.0)
    fd = m["frechet"]
    assert fd["generated_vs_reference"] > 10 * fd["reference_vs_reference"]
    assert m["two_sample"]["generated_vs_reference"]["accuracy"] > 0.95
    assert m["two_sample"]["reference_vs_reference"]["accuracy"] < 0.8
    mod = m["syllable_modulation"]
    assert mod["generated"] < 0.01 < mod["reference"] and mod["relative_error"] > 0.9
    assert mod["floor_relative_error"] < 0.5
    voiced = m["voiced_fraction"]
    assert voiced["generated"] > 0.9 and voiced["reference"] < 0.2
    summary = sound_measures.sound_summary(m)
    assert summary["logmel_fd"] == fd["generated_vs_reference"]
    table = "\n".join(sound_measures.sound_table(m))
    assert "Fréchet" in table and "two-sample" in table and "voiced" in table and "syllable" in table
    no_voicing = sound_measures.sound_measures(fake, real, SR, rng, voicing_seconds=0)
    assert "voiced_fraction" not in no_voicing and sound_measures.sound_summary(no_voicing)["voiced_fraction"] is None


# --------------------------------------------------------------------------- one speech level
def test_speech_level_brings_a_dialogue_to_one_level_with_one_gain():
    from wavebabble.speech_level import SPEECH_LEVEL_DBFS, normalize_speech_level, speech_level_db

    rng = np.random.default_rng(3)
    t = np.arange(3 * SR) / SR
    clip = np.stack([(t < 1.5) * 0.3, (t >= 1.5) * 0.1], 1) * rng.normal(size=(t.size, 2))   # B 10 dB quieter
    vad = np.stack([(np.arange(300) < 150), (np.arange(300) >= 150)], 1)
    for gain in (0.05, 1.0, 3.0):
        out = normalize_speech_level(gain * clip, vad, SR)
        assert speech_level_db(out, vad, SR) == pytest.approx(SPEECH_LEVEL_DBFS, abs=1e-3)
        np.testing.assert_allclose(out, normalize_speech_level(clip, vad, SR), rtol=1e-4, atol=1e-6)
        assert np.std(out[:, 0]) / np.std(out[:, 1]) == pytest.approx(3.0, rel=0.05)    # the speakers' ratio kept
    silent = np.zeros((300, 2), bool)
    assert speech_level_db(clip, silent, SR) is None
    np.testing.assert_array_equal(normalize_speech_level(clip, silent, SR), clip.astype(np.float32))


def test_sound_measures_do_not_count_a_gain_between_the_sets():
    """The same sounds at a third of the level (a generator trained on peak-normalised clips against a corpus at
    its own gain): the log-mel distance is the floor's size, not a difference of sound."""
    real = _modulated_noise(np.random.default_rng(1), 12)
    quiet = [c / 3.0 for c in real[6:]]
    m = sound_measures.sound_measures(quiet, real[:6], SR, np.random.default_rng(0), voicing_seconds=0)
    loud = sound_measures.sound_measures(real[6:], real[:6], SR, np.random.default_rng(0), voicing_seconds=0)
    assert m["frechet"]["generated_vs_reference"] == pytest.approx(loud["frechet"]["generated_vs_reference"],
                                                                   rel=0.02)
    assert m["frechet"]["generated_vs_reference"] < 3 * m["frechet"]["reference_vs_reference"]

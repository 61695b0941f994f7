"""Evaluation report on FSDD-assembled reference dialogues vs generated clips; quality measures."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from eval.report import PLOTS, REPORT_JSON, REPORT_MD, build_report
from wavebabble import quality
from wavebabble.audio import write_wav
from wavebabble.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[1]
UTTERANCES_PER_SPEAKER = 10
SPEAKERS = ("george", "jackson")


# --------------------------------------------------------------------------- quality measures
def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 3))
    b = rng.standard_normal((20000, 3)) * 2.0 + 1.0
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # N(0, I) vs N(1, 4I) in 3-D: |mu|^2 + tr(I + 4I - 2 * 2I) = 3 + 3 = 6
    assert quality.frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)


def test_logmel_frame_grid_and_tone_band():
    sr = 8000
    t = np.arange(sr) / sr
    tone = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), np.zeros_like(t)], axis=1).astype(np.float32)
    f = quality.logmel(tone, sr)
    assert f.shape == (sr // (sr // quality.FRAME_HZ), 2, quality.N_MELS)
    assert f[:, 1].max() == pytest.approx(quality.LOGMEL_FLOOR_DB)  # silence sits on the floor
    centres = np.linspace(0, quality._hz_to_mel(sr / 2), quality.N_MELS + 2)[1:-1]
    assert abs(int(f[50, 0].argmax()) - int(np.abs(centres - quality._hz_to_mel(1000)).argmin())) <= 1


# --------------------------------------------------------------------------- report
@pytest.fixture(scope="module")
def dialogues(fsdd_dir, tmp_path_factory):
    """(reference folder of 4 FSDD-assembled dialogues, generated folder of 3 clips from a tiny generator)."""
    import tensorflow as tf

    from wavebabble.config import get_config
    from wavebabble.corpus.build import CorpusSpec, build_corpus
    from wavebabble.export import export_generator
    from wavebabble.generate import generate
    from wavebabble.models.generator import build_generator

    base = tmp_path_factory.mktemp("report_data")
    utts = base / "utterances"  # a few FSDD files linked (not copied) so assembling stays fast
    utts.mkdir()
    for speaker in SPEAKERS:
        for p in sorted(fsdd_dir.glob(f"*_{speaker}_*.wav"))[:UTTERANCES_PER_SPEAKER]:
            (utts / p.name).symlink_to(p)
    reference = build_corpus(base / "reference", CorpusSpec(kind="assemble", num_dialogues=4, seconds_each=5.0,
                                                            utterances_dir=str(utts), seed=0), progress=False)
    cfg = get_config("demo", model_dim=2, slice_len=16384)
    tf.keras.utils.set_random_seed(0)
    model = export_generator(build_generator(cfg), cfg, base / "model")
    generated = base / "generated"
    generate(model, 3, generated, seed=0, log=lambda *_: None)
    return Path(reference), generated


@pytest.mark.fsdd
def test_report_produces_every_file(dialogues, tmp_path):
    reference, generated = dialogues
    out = tmp_path / "report"
    r = build_report(generated, reference, out, num_strips=2, voicing_seconds=5.0)
    expected = {REPORT_MD, REPORT_JSON, *PLOTS.values()}
    assert expected <= {p.name for p in out.iterdir()}
    for name in PLOTS.values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / REPORT_MD).read_text()
    for name in PLOTS.values():
        assert f"]({name})" in md
    assert "ipu_per_min" in md and "mean_relative_error" in md and "Fréchet" in md and "Memorisation" in md

    saved = json.loads((out / REPORT_JSON).read_text())
    assert saved["inputs"]["generated"]["num_files"] == 3 and saved["inputs"]["reference"]["num_files"] == 4
    t = saved["timing"]
    assert t["reference"]["ipu_per_min"] > 0 and "mean_relative_error" in t["distance"]
    fd = saved["sound"]["frechet"]
    assert fd["generated_vs_reference"] > fd["reference_vs_reference"] >= 0  # random weights: far from speech
    sound = saved["sound"]
    assert 0.3 < sound["voiced_fraction"]["reference"] < 0.98                 # FSDD speech: mostly voiced
    assert sound["syllable_modulation"]["reference"] > 0
    assert "fto_share_0_400ms" in t["reference"] and "timing_score" in t["distance"]
    assert "two-sample" in md and "syllable" in md
    mem = saved["memorisation"]
    assert len(mem["generated_nn_db"]) == 3 and mem["train_nn_median_db"] > 0 and mem["flagged"] == []
    assert r["sample_rate"] == 8000

    with pytest.raises(ConfigError, match="--overwrite"):
        build_report(generated, reference, out)


@pytest.mark.fsdd
def test_report_overwrite_refuses_the_users_own_report(dialogues, tmp_path):
    reference, generated = dialogues
    out = tmp_path / "notes"
    out.mkdir()
    (out / REPORT_MD).write_text("my own notes")
    with pytest.raises(ConfigError, match=REPORT_MD):
        build_report(generated, reference, out, overwrite=True)
    assert (out / REPORT_MD).read_text() == "my own notes"


@pytest.mark.fsdd
def test_memorisation_check_flags_a_copied_clip(dialogues, tmp_path):
    reference, generated = dialogues
    import soundfile as sf

    clip_len = sf.info(next(generated.glob("*.wav"))).frames
    ref_audio, sr = sf.read(sorted(reference.glob("*.wav"))[1], dtype="float32")
    copies = tmp_path / "copies"
    write_wav(copies / "copy_swapped.wav", ref_audio[4000:4000 + clip_len, ::-1], sr)  # off-grid, channels swapped
    write_wav(copies / "noise.wav", 0.01 * np.random.default_rng(0).standard_normal((clip_len, 2)), sr)
    write_wav(copies / "mono.wav", np.zeros(clip_len, np.float32), sr)   # skipped, and the report says so
    r = build_report(copies, reference, tmp_path / "report", train_dir=reference)
    md = (tmp_path / "report" / REPORT_MD).read_text()
    assert "**1 generated file(s) skipped**" in md and "mono.wav" in md and "reference file(s) skipped" not in md
    mem = r["memorisation"]
    assert mem["flagged"] == [0]  # copy_swapped.wav sorts first
    assert mem["generated_nn_db"][0] < 0.5 * mem["train_nn_median_db"] < mem["generated_nn_db"][1]


@pytest.mark.fsdd
def test_report_measures_the_reference_timing_at_the_generated_clips_length(dialogues, tmp_path):
    """Generated clips that are the reference files' own consecutive windows score a timing distance of 0: the
    reference is cut into windows of the generated length before its timing is counted (whole, its files count
    other rates: a pause cut by a window's edge is lost, a speech run cut by it counted twice)."""
    reference, generated = dialogues
    import soundfile as sf

    from wavebabble import timing
    from wavebabble.measure import clip_windows
    from wavebabble.vad import hard_vad

    clip_len = sf.info(next(generated.glob("*.wav"))).frames
    files = sorted(reference.glob("*.wav"))
    audio = [sf.read(p, dtype="float32")[0] for p in files]
    windows = clip_windows(audio, clip_len)
    assert len(windows) == sum(len(a) // clip_len for a in audio) and all(len(w) == clip_len for w in windows)
    assert np.array_equal(np.concatenate(windows[:len(audio[0]) // clip_len]),
                          audio[0][:len(audio[0]) // clip_len * clip_len])
    cut = tmp_path / "cut"
    for i, w in enumerate(windows):
        write_wav(cut / f"window_{i:03d}.wav", w, 8000)
    r = build_report(cut, reference, tmp_path / "report", voicing_seconds=5.0)
    t = r["timing"]
    assert t["reference_window_s"] == pytest.approx(clip_len / 8000)
    assert t["distance"]["mean_relative_error"] == pytest.approx(0.0, abs=1e-12)
    assert t["generated"]["ipu_per_min"] == t["reference"]["ipu_per_min"] > 0
    whole = timing.timing_stats([hard_vad(a, 8000) for a in audio])
    assert timing.timing_distance(timing.timing_stats([hard_vad(w, 8000) for w in windows]),
                                  whole)["mean_relative_error"] > 0.02
    assert "cut into windows of" in (tmp_path / "report" / REPORT_MD).read_text()
    # a generated clip as long as the reference files: nothing to cut
    assert clip_windows([audio[0]], len(audio[0]) + 1)[0] is audio[0]


def test_report_input_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="--generated=.*no audio files"):
        build_report(tmp_path / "empty", tmp_path / "empty", tmp_path / "out")
    mono = tmp_path / "mono"
    write_wav(mono / "a.wav", np.zeros(8000, np.float32), 8000)
    with pytest.raises(DataError, match="--generated=.*stereo"):
        build_report(mono, mono, tmp_path / "out2")
    # a reference too short for the memorisation check is refused before any plot, and --out is not left behind
    rng = np.random.default_rng(0)
    generated, short = tmp_path / "gen", tmp_path / "short_ref"
    write_wav(generated / "clip.wav", 0.1 * rng.standard_normal((16000, 2)).astype(np.float32), 8000)
    write_wav(short / "tenth.wav", 0.1 * rng.standard_normal((800, 2)).astype(np.float32), 8000)
    with pytest.raises(DataError, match="--reference=.*0.10 s in all hold fewer than 2 non-overlapping windows"):
        build_report(generated, short, tmp_path / "out3")
    assert not (tmp_path / "out3").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(DataError, match="non-overlapping windows"):
        build_report(generated, short, tmp_path / "mine", overwrite=True)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["notes.txt"]   # the user's folder stays as it was


@pytest.mark.fsdd
@pytest.mark.slow
def test_report_cli(dialogues, tmp_path):
    reference, generated = dialogues
    out = tmp_path / "cli_report"
    proc = subprocess.run([sys.executable, "-m", "eval.report", f"--generated={generated}",
                           f"--reference={reference}", f"--out={out}"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / REPORT_MD).is_file() and "log-mel FD" in proc.stdout

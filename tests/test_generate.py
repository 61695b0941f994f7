"""generate CLI: stereo WAVs at the model's rate, per-clip VAD/timing JSONs, manifest, summary; overwrite rules."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from wavebabble.config import get_config
from wavebabble.errors import ConfigError
from wavebabble.export import BATCH_ATOL, export_generator
from wavebabble.generate import generate
from wavebabble.models.generator import build_generator

REPO = Path(__file__).resolve().parents[1]
SUMMARY_KEYS = ("minutes", "ipu_per_min", "speech_ratio", "fto_median_s")
PCM16_STEP = 1.0 / 32768 + BATCH_ATOL  # one 16-bit quantisation step, plus the promised float tolerance


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(export dir, cfg) of a tiny random-weight generator."""
    cfg = get_config("demo", model_dim=2, slice_len=16384)
    tf.keras.utils.set_random_seed(0)
    path = export_generator(build_generator(cfg), cfg, tmp_path_factory.mktemp("gen_model") / "model")
    return Path(path), cfg


def test_generate_cli_writes_stereo_wavs_and_json(model, tmp_path):
    path, cfg = model
    out = tmp_path / "clips"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "wavebabble.generate", f"--model={path}", "--num=3", "--batch=2",
                           "--seed=5", f"--out_dir={out}"], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "speech_ratio" in proc.stdout and "generated" in proc.stdout  # the pooled timing table

    wavs = sorted(out.glob("clip_*.wav"))
    assert [p.name for p in wavs] == ["clip_0000.wav", "clip_0001.wav", "clip_0002.wav"]
    for wav in wavs:
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
        assert sr == cfg.sample_rate and audio.shape == (cfg.slice_len, 2)
        assert np.all(np.isfinite(audio)) and np.abs(audio).max() <= 1.0
        info = json.loads(wav.with_suffix(".json").read_text())
        assert info["path"] == wav.name and info["sample_rate"] == cfg.sample_rate and info["seed"] == 5
        assert info["duration"] == pytest.approx(cfg.clip_seconds)
        assert len(info["vad"]) == 2 and all(isinstance(ch, list) for ch in info["vad"])
        assert all(k in info["timing"] for k in SUMMARY_KEYS)
    manifest = [json.loads(ln) for ln in (out / "manifest.jsonl").read_text().splitlines()]
    assert [m["path"] for m in manifest] == [p.name for p in wavs]
    summary = json.loads((out / "timing_summary.json").read_text())
    assert summary["num_clips"] == 3 and summary["metadata"]["sample_rate"] == cfg.sample_rate
    assert (out / "timing_summary.txt").read_text().startswith("statistic")

    # Same clips in-process with another batch size (clip i depends only on (seed, i); float summation order may
    # move a 16-bit sample by one step) and via the signature.
    out2 = tmp_path / "clips_b3"
    generate(path, 3, out2, seed=5, batch=3, log=lambda *_: None)
    for wav in wavs:
        np.testing.assert_allclose(sf.read(wav)[0], sf.read(out2 / wav.name)[0], rtol=0, atol=PCM16_STEP)
    loaded = tf.saved_model.load(str(path))
    direct = loaded.signatures["generate"](num_clips=tf.constant(3), seed=tf.constant(5, tf.int64))["audio"].numpy()
    written = np.stack([sf.read(w, dtype="float32")[0] for w in wavs])
    np.testing.assert_allclose(written, direct, atol=1.0 / 32767 + 1e-6)  # PCM_16 quantisation


def test_generate_refuses_non_empty_out_dir(model, tmp_path):
    path, _ = model
    out = tmp_path / "clips"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(ConfigError, match="--overwrite"):
        generate(path, 1, out, log=lambda *_: None)
    generate(path, 2, out, overwrite=True, log=lambda *_: None)
    generate(path, 1, out, overwrite=True, log=lambda *_: None)  # replaces the earlier clips, keeps other files
    assert sorted(p.name for p in out.glob("clip_*")) == ["clip_0000.json", "clip_0000.wav"]
    assert (out / "mine.txt").read_text() == "keep"


def test_generate_overwrite_keeps_a_corpus_copys_own_files(model, tmp_path):
    """--overwrite into a copy of a corpus: its ground-truth manifest.jsonl and a user's clip_*.wav stay."""
    path, _ = model
    corpus = tmp_path / "corpus_copy"
    corpus.mkdir()
    (corpus / "manifest.jsonl").write_text('{"path": "clip_interview_mom.wav"}\n')
    (corpus / "clip_interview_mom.wav").write_bytes(b"mom's interview")
    with pytest.raises(ConfigError, match=r"--out_dir=.*manifest\.jsonl"):
        generate(path, 1, corpus, overwrite=True, log=lambda *_: None)
    assert (corpus / "manifest.jsonl").read_text() == '{"path": "clip_interview_mom.wav"}\n'
    assert (corpus / "clip_interview_mom.wav").read_bytes() == b"mom's interview"
    assert not (corpus / "clip_0000.wav").exists()

    out = tmp_path / "clips"
    generate(path, 2, out, log=lambda *_: None)
    (out / "clip_interview_mom.wav").write_bytes(b"mom's interview")
    said = []
    generate(path, 1, out, overwrite=True, log=said.append)
    assert (out / "clip_interview_mom.wav").read_bytes() == b"mom's interview"
    assert sorted(p.name for p in out.glob("clip_*")) == ["clip_0000.json", "clip_0000.wav",
                                                          "clip_interview_mom.wav"]
    assert any("removed 7 files" in line and "clip_0001.wav" in line for line in said), said


def test_generate_bad_arguments(model, tmp_path):
    path, _ = model
    with pytest.raises(ConfigError, match="not a SavedModel"):
        generate(tmp_path, 1, tmp_path / "x")
    with pytest.raises(ConfigError, match="--num"):
        generate(path, 0, tmp_path / "x")
    with pytest.raises(ConfigError, match="--batch"):
        generate(path, 1, tmp_path / "x", batch=10_000)


@pytest.mark.parametrize("damage", ["truncated_pb", "no_variables", "truncated_variables"])
def test_generate_refuses_a_damaged_saved_model_in_one_line(model, tmp_path, damage):
    path, _ = model
    broken = tmp_path / "broken"
    shutil.copytree(path, broken)
    if damage == "truncated_pb":
        pb = broken / "saved_model.pb"
        pb.write_bytes(pb.read_bytes()[: pb.stat().st_size // 2])
    elif damage == "no_variables":
        shutil.rmtree(broken / "variables")
    else:
        for data in (broken / "variables").glob("variables.data-*"):
            data.write_bytes(data.read_bytes()[: data.stat().st_size // 3])
    with pytest.raises(ConfigError, match="cannot load the SavedModel"):
        generate(broken, 1, tmp_path / "out", log=lambda *_: None)
    proc = subprocess.run([sys.executable, "-m", "wavebabble.generate", f"--model={broken}", "--num=1",
                           f"--out_dir={tmp_path / 'out_cli'}"], cwd=REPO, capture_output=True, text=True,
                          timeout=180)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert "cannot load the SavedModel" in proc.stderr


def test_generate_refuses_more_clips_than_the_disk_holds(model, tmp_path, monkeypatch):
    import wavebabble.generate as gen_module

    path, cfg = model
    free = 10 * 2**20
    monkeypatch.setattr(gen_module.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(2**30, 2**30 - free, free))
    with pytest.raises(ConfigError, match=r"--num=1000: 1000 clips need about 0\.\d+ GiB in .* 0\.01 GiB free"):
        generate(path, 1000, tmp_path / "many", log=lambda *_: None)
    assert not (tmp_path / "many").exists()
    generate(path, 2, tmp_path / "few", log=lambda *_: None)      # 2 clips of 16384 stereo samples fit in 10 MiB
    assert len(list((tmp_path / "few").glob("clip_*.wav"))) == 2

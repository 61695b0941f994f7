"""The shipped pretrained model: `generate` uses it without --model; it is the two-stage generator made by
eval/ship_model.py's jobs (its SavedModel carries the two-stage config and names the checkpoints the record
chose); its record holds the commands and figures that eval/ship_model.py wrote; a missing model is one clear
error."""
import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

from eval.ship_model import (CONTINUER_STEPS, HEADLINE_SOUND, HEADLINE_TIMING, PLANNER_STEPS, RENDERER_STEPS,
                             RESPONDER_STEPS, TWO_STAGE_NAME, headline)
from train.train_renderer import DEFAULT_HARMONICS
from wavebabble import pretrained
from wavebabble.config import TWO_STAGE_SAMPLE_RATE
from wavebabble.errors import ConfigError
from wavebabble.export import ASSET_NAME, two_stage_config

REPO = pretrained.PRETRAINED_DIR.parents[1]
MAX_SHIPPED_BYTES = 50 * 2**20       # issue 22: the shipped model is at most 50 MB
START_PEAK_MAX = 0.05                # a silent channel's first 10 ms (the renderer's edge click: 0.8-0.9)


def test_the_shipped_model_is_the_ship_tools_two_stage_result_with_its_record():
    model = pretrained.default_model()
    record = pretrained.read_record()
    assert record is not None, f"{pretrained.record_path()} is missing"
    asset = json.loads((model / "assets" / ASSET_NAME).read_text())
    jobs = asset["two_stage"]
    assert record["generator"] == TWO_STAGE_NAME == pretrained.DEFAULT_MODEL
    # the export's config is today's two-stage config -> else re-ship it (python -m eval.ship_model)
    assert asset["config"] == two_stage_config(jobs["planner_dim"]).to_dict()
    assert jobs["planner"].endswith(f"ckpt-{record['chosen_step']}")
    assert jobs["renderer"].endswith(f"ckpt-{RENDERER_STEPS}")
    assert jobs["renderer_harmonics"] == DEFAULT_HARMONICS           # the renderer job's default, its pitched source
    assert PLANNER_STEPS // 2 <= record["chosen_step"] <= record["train_steps"] == PLANNER_STEPS
    assert str(record["chosen_step"]) in record["held_out"]
    assert jobs["responder"].endswith(f"ckpt-{record['responder_chosen_step']}")
    assert str(record["responder_chosen_step"]) in record["responder_held_out"]
    assert jobs["offline_responder"].endswith(f"ckpt-{record['offline_responder_chosen_step']}")
    assert str(record["offline_responder_chosen_step"]) in record["offline_responder_held_out"]
    assert "--mode=offline" in record["jobs"]["offline_responder"]["command"]
    assert jobs["continuer"].endswith(f"ckpt-{CONTINUER_STEPS}")
    for job, steps in (("renderer", RENDERER_STEPS), ("planner", PLANNER_STEPS), ("responder", RESPONDER_STEPS),
                       ("offline_responder", RESPONDER_STEPS), ("continuer", CONTINUER_STEPS)):
        assert record["jobs"][job]["train_wall_s"] > 0 and record["jobs"][job]["steps"] == steps
        tool = job.replace("planner", "mel_gan").replace("offline_", "")
        assert record["jobs"][job]["command"].startswith(f"python -m train.train_{tool}")
    assert set(record["commands"]) == {"train_renderer", "train_planner", "select", "agent_corpus", "train_responder",
                                       "select_responder", "train_offline_responder", "select_offline_responder",
                                       "continuer_corpus", "train_continuer", "export", "generate", "report", "agent"}
    assert record["agent_figures"]["embedded_heldout"]["agent"]["fto_wasserstein_s"] > 0
    assert set(HEADLINE_TIMING) | set(HEADLINE_SOUND) <= set(record["figures"])
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    assert size <= MAX_SHIPPED_BYTES, size


def test_generate_without_model_uses_the_shipped_one(tmp_path):
    out = tmp_path / "clips"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "wavebabble.generate", "--num=2", f"--out_dir={out}"], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"using the shipped model '{pretrained.DEFAULT_MODEL}'" in proc.stdout
    record = pretrained.read_record()
    assert f"checkpoint {record['chosen_step']} of {record['train_steps']} steps" in proc.stdout
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2
    info = sf.info(str(wavs[0]))
    assert info.channels == 2 and info.samplerate == TWO_STAGE_SAMPLE_RATE
    # no click at the start: the speaker not talking there (at most one is, mostly) starts quiet
    for wav in wavs:
        audio, sr = sf.read(str(wav), dtype="float32")
        start_peaks = abs(audio[:sr // 100]).max(axis=0)                       # the first 10 ms, per channel
        assert start_peaks.min() < START_PEAK_MAX, (wav.name, start_peaks)


def test_respond_without_model_answers_with_the_shipped_agent(tmp_path):
    import numpy as np

    t = np.arange(3 * 8000) / 8000
    partner = (0.3 * np.sin(2 * np.pi * 150 * t) * ((t % 1.2) < 0.7)).astype(np.float32)
    src = tmp_path / "partner.wav"
    sf.write(str(src), partner, 8000)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "wavebabble.respond", f"--partner={src}",
                           f"--out={tmp_path / 'answer.wav'}"], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"using the shipped model '{pretrained.DEFAULT_MODEL}'" in proc.stdout
    answer, sr = sf.read(str(tmp_path / "answer.wav"), dtype="float32")
    assert sr == 8000 and answer.shape == (len(partner), 2) and np.abs(answer[:, 1]).max() > 0


def test_a_missing_shipped_model_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no shipped model.*--model"):
        pretrained.default_model(root=tmp_path)
    assert pretrained.read_record(root=tmp_path) is None
    assert "no record" in pretrained.describe(root=tmp_path)


def test_headline_reads_a_report():
    """The record's figures are the report's timing distance and sound summary."""
    sound = {"frechet": {"generated_vs_reference": 100.0, "reference_vs_reference": 5.0},
             "two_sample": {"generated_vs_reference": {"accuracy": 0.9},
                            "reference_vs_reference": {"accuracy": 0.5}},
             "voiced_fraction": {"generated": 0.5, "reference": 0.9},
             "syllable_modulation": {"generated": 0.05, "reference": 0.11}}
    report = {"timing": {"distance": {"mean_relative_error": 0.3, "fto_wasserstein_s": 0.2, "timing_score": 0.8},
                         "generated": {"fto_share_0_400ms": 0.4}, "reference": {"fto_share_0_400ms": 0.5}},
              "sound": sound}
    fig = headline(report)
    assert fig["mean_relative_error"] == 0.3 and fig["fto_wasserstein_s"] == 0.2
    assert fig["logmel_fd"] == 100.0 and fig["logmel_fd_floor"] == 5.0 and fig["two_sample_accuracy"] == 0.9
    assert fig["fto_share_0_400ms"] == 0.4 and fig["fto_share_0_400ms_reference"] == 0.5

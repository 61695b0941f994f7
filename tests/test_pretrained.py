"""The shipped pretrained model: `generate` uses it without --model; it is the current preset's result (its
record's config is the preset's, and is the config inside the SavedModel); its record holds the commands and
figures that eval/ship_model.py wrote; a missing model is one clear error."""
import json
import os
import subprocess
import sys

import pytest
import soundfile as sf

from eval.provenance import config_sha256
from eval.ship_model import HEADLINE_SOUND, HEADLINE_TIMING, headline
from wavebabble import pretrained
from wavebabble.config import PRESETS
from wavebabble.errors import ConfigError
from wavebabble.export import ASSET_NAME

REPO = pretrained.PRETRAINED_DIR.parents[1]
MAX_SHIPPED_BYTES = 50 * 2**20       # issue 22: the shipped model is at most 50 MB


def test_the_shipped_model_is_the_current_preset_with_its_record():
    model = pretrained.default_model()
    record = pretrained.read_record()
    assert record is not None, f"{pretrained.record_path()} is missing"
    asset = json.loads((model / "assets" / ASSET_NAME).read_text())
    shipped_cfg = asset["config"]
    preset = PRESETS[record["preset"]]
    # the preset changed since the model was shipped -> re-ship it (python -m eval.ship_model)
    assert shipped_cfg == preset.to_dict(), "the shipped model was trained with another config than the preset's"
    assert config_sha256(shipped_cfg) == record["config_sha256"]
    assert 0 < record["chosen_step"] <= record["train_steps"] == preset.train_steps
    assert str(record["chosen_step"]) in record["held_out"]
    assert record["train_wall_s"] > 0
    assert f"--preset={record['preset']}" in record["commands"]["train"]
    assert set(record["commands"]) == {"train", "select", "export", "generate", "report"}
    assert set(HEADLINE_TIMING) | set(HEADLINE_SOUND) <= set(record["figures"])
    size = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    assert size <= MAX_SHIPPED_BYTES, size


def test_generate_without_model_uses_the_shipped_one(tmp_path):
    out = tmp_path / "clips"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "wavebabble.generate", "--num=2", f"--out_dir={out}"], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "using the shipped model 'demo'" in proc.stdout
    record = pretrained.read_record()
    assert f"checkpoint {record['chosen_step']} of {record['train_steps']} steps" in proc.stdout
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 2
    info = sf.info(str(wavs[0]))
    assert info.channels == 2 and info.samplerate == PRESETS[record["preset"]].sample_rate


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

"""Config presets, validation and JSON round trip."""
import dataclasses
import json
import math

import pytest

from wavebabble.config import ADAM_BETAS, PRESETS, SUPPORTED_SLICE_LENS, Config, get_config
from wavebabble.errors import ConfigError


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_valid(name):
    cfg = get_config(name)
    assert cfg.name == name
    assert cfg.slice_len in SUPPORTED_SLICE_LENS
    assert cfg.num_frames == cfg.slice_len // (cfg.sample_rate // cfg.frame_hz)


def test_paper_preset_matches_wavegan():
    cfg = get_config("paper")
    assert (cfg.model_dim, cfg.latent_dim, cfg.sample_rate, cfg.slice_len) == (64, 100, 16000, 16384)
    assert (cfg.loss, cfg.gp_weight, cfg.d_updates, cfg.batch_size) == ("wgan-gp", 10.0, 5, 64)
    assert (cfg.g_lr, cfg.d_lr, ADAM_BETAS) == (1e-4, 1e-4, (0.5, 0.9))
    assert (cfg.nch, cfg.phase_shuffle, cfg.wave_weight, cfg.ms_weight, cfg.timing_weight) == (1, 2, 1.0, 0.0, 0.0)


def test_dialogue8k_holds_several_seconds():
    cfg = get_config("dialogue8k")
    assert cfg.sample_rate == 8000 and cfg.slice_len == 65536
    assert cfg.clip_seconds > 8


@pytest.mark.parametrize("field,value", [
    ("slice_len", 20000), ("loss", "wgan"), ("model_dim", 0), ("model_dim", 2.5), ("train_steps", 0),
    ("frame_hz", 33), ("timing_weight", -1.0), ("g_lr", 0.0), ("phase_shuffle", -1),
    ("ms_groups", 3), ("nch", 3), ("ms_scales", 1), ("timing_minibatch_std", 1), ("timing_turn_stats", "yes"),
    ("g_activity_gate", 0), ("upsample", "nearest"), ("ms_window", 100), ("ms_window", 10 ** 6),
    ("generator", "melgan"),
])
def test_invalid_values_name_the_field(field, value):
    with pytest.raises(ConfigError, match=field) as info:
        get_config("demo", **{field: value})
    assert info.value.field == field


def test_config_is_small_and_marks_its_architecture_fields():
    assert len(dataclasses.fields(Config)) <= 36
    assert {"slice_len", "model_dim", "g_activity_gate", "timing_turn_stats", "generator"} <= set(Config.arch_fields())
    assert not {"g_lr", "loss", "timing_weight", "train_steps", "phase_shuffle"} & set(Config.arch_fields())


def test_demo_is_the_measured_ablation_setting():
    """eval/results/ablation_timing.md measured exactly this ('with timing D'); timing_weight=0 is its other arm."""
    cfg = get_config("demo")
    assert (cfg.wave_weight, cfg.timing_weight, cfg.ms_weight, cfg.loss, cfg.d_updates, cfg.batch_size) == (
        0.1, 2.0, 0.0, "hinge", 1, 8)
    assert (cfg.g_activity_gate, cfg.g_ema_decay, cfg.timing_turn_stats, cfg.timing_minibatch_std) == (
        True, 0.99, True, True)
    assert (cfg.lr_decay_start, cfg.lr_decay_steps, cfg.vad_grad_temperature_db, cfg.vad_grad_anneal_start,
            cfg.vad_grad_anneal_steps, cfg.train_steps) == (800, 800, 10.0, 600, 600, 2000)


def test_timing_d_needs_two_channels():
    with pytest.raises(ConfigError, match="timing_weight.*nch=2"):
        get_config("paper", timing_weight=1.0)


FLOAT_FIELDS = [f.name for f in dataclasses.fields(Config) if isinstance(getattr(Config(), f.name), float)]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_non_finite_floats_are_refused_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=rf"'{field}' = -?(nan|inf): must be a finite number"):
        get_config("demo", **{field: value})


def test_json_with_a_non_finite_float_is_refused(tmp_path):
    p = tmp_path / "c.json"
    p.write_text(json.dumps({**get_config("demo").to_dict(), "g_lr": math.inf}))   # written as Infinity
    with pytest.raises(ConfigError, match="'g_lr' = inf"):
        Config.from_json(p)


def test_surrogate_annealing_needs_a_surrogate_and_steps():
    with pytest.raises(ConfigError, match="vad_grad_anneal_steps.*vad_grad_temperature_db"):
        get_config("demo", vad_grad_temperature_db=0.0, vad_grad_anneal_steps=100)
    with pytest.raises(ConfigError, match="vad_grad_anneal_start.*vad_grad_anneal_steps"):
        get_config("demo", vad_grad_temperature_db=10.0, vad_grad_anneal_start=100, vad_grad_anneal_steps=0)
    with pytest.raises(ConfigError, match="vad_grad_anneal_steps"):
        get_config("demo", vad_grad_temperature_db=10.0, vad_grad_anneal_steps=-1)
    cfg = get_config("demo", vad_grad_temperature_db=10.0, vad_grad_anneal_start=500, vad_grad_anneal_steps=700)
    assert (cfg.vad_grad_anneal_start, cfg.vad_grad_anneal_steps) == (500, 700)


def test_all_discriminators_off_is_refused():
    with pytest.raises(ConfigError, match="weight"):
        get_config("demo", wave_weight=0.0, ms_weight=0.0, timing_weight=0.0)


def test_unknown_field_and_preset():
    with pytest.raises(ConfigError, match="no_such_field"):
        get_config("demo", no_such_field=1)
    with pytest.raises(ConfigError, match="nope"):
        get_config("nope")


def test_json_round_trip(tmp_path):
    cfg = get_config("demo", timing_weight=0.0, batch_size=4)
    cfg.to_json(tmp_path / "c.json")
    assert Config.from_json(tmp_path / "c.json") == cfg
    assert dataclasses.asdict(cfg) == cfg.to_dict()


def test_bad_json_file(tmp_path):
    p = tmp_path / "c.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="c.json"):
        Config.from_json(p)


def test_a_runs_retired_fields_load_at_the_value_this_version_builds():
    """config.json of a run made before a field became a constant: loads when it holds that constant, and is
    refused by the field's name (with the last commit that had it) when it holds anything else."""
    old = {**get_config("demo").to_dict(), "kernel_len": 25, "beta1": 0.5, "beta2": 0.9}
    assert Config.from_dict(old) == get_config("demo")
    with pytest.raises(ConfigError, match="kernel_len.*= 31.*56ef4d4") as info:
        Config.from_dict({**old, "kernel_len": 31})
    assert info.value.field == "kernel_len"
    with pytest.raises(ConfigError, match="beta1"):
        Config.from_dict({**old, "beta1": 0.9})

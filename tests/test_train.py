"""Training job: flag validation (fails before any work, naming the flag), a few steps on one device,
automatic resume, refusal of an incompatible run dir, and the non-finite-loss guard."""
import json
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

import train_helpers
from train.train import TrainOptions, config_from_flags, parse_set, train
from wavebabble.config import Config, get_config
from wavebabble.distribute import make_strategy
from wavebabble.errors import ConfigError, NonFiniteLossError
from wavebabble.export import export_from_logdir
from wavebabble.gan import GAN
from wavebabble.run_dir import RunCheckpoints, check_resume_compatible
from wavebabble.train_loop import Hook

FLAG_CHECK_TIMEOUT_S = 60
MAX_FLAG_CHECK_S = 20        # bad flags fail before TensorFlow starts: no model, no data


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return train_helpers.write_dialogues(tmp_path_factory.mktemp("dialogues"))


@pytest.mark.parametrize("flag, named", [
    ("--set=g_lr=-1", "--set=g_lr=-1"),
    ("--set=d_lr=0", "--set=d_lr=0"),
    ("--train_steps=0", "--train_steps"),
    ("--batch_size=0", "--batch_size"),
    ("--set=loss=l1", "--set=loss=l1"),
    ("--strategy=gpu_cluster", "--strategy"),
    ("--set=timing_weight=-0.5", "--set=timing_weight=-0.5"),
    ("--g_lr=1e-3", "flag 'g_lr'"),                  # not a flag: every other field goes through --set
    ("--config=/no/such/file.json", "--config=/no/such/file.json"),
    ("--data_dir=/no/such/folder", "--data_dir"),
    ("--set=model_dim=abc", "--set"),
    ("--set=no_such_field=1", "--set"),
    ("--set=g_activity_gate=ture", "--set"),
    ("--mixed_precision=float16", "--mixed_precision"),
])
def test_bad_flag_fails_fast_naming_the_flag(tmp_path, data_dir, flag, named):
    _assert_fails_fast_naming(tmp_path, data_dir, [flag], named)


def test_set_booleans_are_true_false_1_or_0():
    def values(items):
        return {k: v for k, (v, _) in parse_set(items).items()}

    assert values(["g_activity_gate=true", "timing_minibatch_std=0"]) == {
        "g_activity_gate": True, "timing_minibatch_std": False}
    assert values(["g_activity_gate=FALSE", "timing_minibatch_std= 1"]) == {
        "g_activity_gate": False, "timing_minibatch_std": True}
    for word in ("ture", "on", "yes", "no", ""):
        with pytest.raises(ConfigError, match=f"g_activity_gate needs true, false, 1 or 0, got '{word}'") as info:
            parse_set([f"g_activity_gate={word}"])
        assert info.value.field == "g_activity_gate"


class _Flags:
    """The flag values config_from_flags reads."""

    def __init__(self, preset="demo", config=None, set=(), train_steps=None, batch_size=None):
        self.preset, self.config, self.set = preset, config, list(set)
        self.train_steps, self.batch_size = train_steps, batch_size


def test_config_file_then_set_then_named_flags(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"g_lr": 0.001, "model_dim": 4, "train_steps": 7}')
    cfg = config_from_flags(_Flags(config=str(path), set=["model_dim=2"], batch_size=4))
    assert (cfg.g_lr, cfg.model_dim, cfg.train_steps, cfg.batch_size) == (1e-3, 2, 7, 4)
    assert cfg.timing_turn_stats == get_config("demo").timing_turn_stats          # the rest: the preset's
    # a run's own config.json reproduces that run exactly
    run_cfg = get_config("paper", model_dim=2)
    run_cfg.to_json(tmp_path / "run.json")
    assert config_from_flags(_Flags(config=str(tmp_path / "run.json"))) == run_cfg
    # ... also one written before kernel_len became a constant, and one with another kernel is refused by name
    older = {**run_cfg.to_dict(), "kernel_len": 25}
    (tmp_path / "older.json").write_text(json.dumps(older))
    assert config_from_flags(_Flags(config=str(tmp_path / "older.json"))) == run_cfg
    (tmp_path / "older.json").write_text(json.dumps({**older, "kernel_len": 9}))
    with pytest.raises(ConfigError, match="flag --config=.*older.json: config field 'kernel_len' = 9"):
        config_from_flags(_Flags(config=str(tmp_path / "older.json")))
    # the error names the flag that set the bad field
    path.write_text('{"ms_groups": 3}')
    with pytest.raises(ConfigError, match=rf"flag --config={path}: config field 'ms_groups'") as info:
        config_from_flags(_Flags(config=str(path)))
    assert info.value.field == "ms_groups"
    with pytest.raises(ConfigError, match="flag --set=nch=3: config field 'nch'"):
        config_from_flags(_Flags(config=str(tmp_path / "run.json"), set=["nch=3"]))
    path.write_text('[1, 2]')
    with pytest.raises(ConfigError, match="expected a JSON object"):
        config_from_flags(_Flags(config=str(path)))


@pytest.mark.parametrize("flag, named", [
    ("--set=g_lr=inf", "--set"),
    ("--set=d_lr=-inf", "--set"),
    ("--set=vad_threshold_db=nan", "--set"),
])
def test_non_finite_hyperparameter_fails_fast_naming_the_flag(tmp_path, data_dir, flag, named):
    # one step at most, should the flag be accepted: the step would leave non-finite weights behind
    _assert_fails_fast_naming(tmp_path, data_dir, [flag, "--train_steps=1"], named)


def _assert_fails_fast_naming(tmp_path, data_dir, flags, named):
    cmd = train_helpers.train_cmd(tmp_path / "run", data_dir) + flags
    t0 = time.time()
    done = subprocess.run(cmd, cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True,
                          timeout=FLAG_CHECK_TIMEOUT_S)
    assert done.returncode != 0
    assert named in done.stderr + done.stdout, done.stderr[-2000:]
    assert time.time() - t0 < MAX_FLAG_CHECK_S
    assert not (tmp_path / "run").exists()          # no work done


def test_all_weights_zero_names_a_weight_flag(tmp_path, data_dir):
    done = subprocess.run(train_helpers.train_cmd(tmp_path / "run", data_dir) +
                          ["--set=wave_weight=0", "--set=timing_weight=0", "--set=ms_weight=0"],
                          cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True,
                          timeout=FLAG_CHECK_TIMEOUT_S)
    assert done.returncode != 0 and "--set=wave_weight=0" in done.stderr


def test_flagfile_works(tmp_path, data_dir):
    flagfile = tmp_path / "flags.txt"
    flagfile.write_text("--set=g_lr=-3\n")
    done = subprocess.run(train_helpers.train_cmd(tmp_path / "run", data_dir) + [f"--flagfile={flagfile}"],
                          cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True,
                          timeout=FLAG_CHECK_TIMEOUT_S)
    assert done.returncode != 0 and "--set=g_lr=-3" in done.stderr


def test_incompatible_run_dir_is_refused_naming_fields(tmp_path, data_dir):
    logdir = tmp_path / "run"
    logdir.mkdir()
    get_config("demo", **{**train_helpers.TINY, "model_dim": 8, "timing_weight": 0.0}).to_json(logdir / "config.json")
    done = subprocess.run(train_helpers.train_cmd(logdir, data_dir), cwd=train_helpers.REPO,
                          env=train_helpers.env(), capture_output=True, text=True, timeout=FLAG_CHECK_TIMEOUT_S)
    assert done.returncode != 0
    assert "model_dim: 8 -> 2" in done.stderr and "active discriminators" in done.stderr, done.stderr[-2000:]


def test_check_resume_compatible_allows_training_fields():
    old = get_config("demo")
    check_resume_compatible(old, old.replace(g_lr=1e-3, d_updates=3, batch_size=4, loss="lsgan", timing_weight=0.5,
                                             train_steps=5000))
    for field in Config.arch_fields():
        changed = old.replace(**{field: get_config("paper", nch=2, timing_weight=1.0).to_dict()[field]})
        if getattr(changed, field) == getattr(old, field):
            continue
        with pytest.raises(ConfigError, match=field):
            check_resume_compatible(old, changed)
    with pytest.raises(ConfigError, match="slice_len"):
        check_resume_compatible(old, old.replace(slice_len=16384))
    with pytest.raises(ConfigError, match="moving average"):
        check_resume_compatible(old, old.replace(g_ema_decay=0.0))


def test_auto_strategy_without_gpus_or_cluster_is_one_device(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has GPUs")
    assert isinstance(make_strategy("auto"), tf.distribute.OneDeviceStrategy)


def _cfg(steps: int):
    return get_config("demo", **train_helpers.TINY, train_steps=steps)


class PoisonBefore(Hook):
    """Fills a generator weight with NaN before step `step` (a test's fault injection)."""

    def __init__(self, step: int):
        self.step = step

    def begin(self, gan):
        self.gan = gan

    def before_step(self, step):
        if step == self.step:
            _poison(self.gan.generator)


def _opts(logdir, data_dir, **kw):
    base = dict(logdir=str(logdir), data_dir=str(data_dir), strategy="one_device", log_every=1, summary_every=100,
                save_every=2, num_summary_clips=1, num_timing_clips=2, export=False)
    return TrainOptions(**{**base, **kw})


@pytest.mark.slow
def test_few_steps_one_device_then_resume(tmp_path, data_dir, capsys):
    cfg = _cfg(3)
    logdir = tmp_path / "run"
    assert train(cfg, _opts(logdir, data_dir)) == 0
    out = capsys.readouterr().out
    assert "step 3/3 |" in out and "steps/s" in out and "clips/s" in out and "ETA" in out
    assert Config.from_json(logdir / "config.json") == cfg
    assert tf.train.latest_checkpoint(str(logdir / "ckpt")).endswith("ckpt-3")

    # same logdir, more steps, a training-only change: resumes at 3 and continues to 5
    # ... and exports the generator at the end (wavebabble.export.export_from_logdir)
    cfg2 = cfg.replace(g_lr=1e-3, train_steps=5)
    assert train(cfg2, _opts(logdir, data_dir, export=True)) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "at step 3" in out and "g_lr: 0.0002 -> 0.001" in out
    assert "step 4/5" in out and "step 5/5" in out and "step 1/" not in out
    assert tf.train.latest_checkpoint(str(logdir / "ckpt")).endswith("ckpt-5")
    assert (logdir / "export" / "saved_model.pb").is_file()
    assert Config.from_json(logdir / "config.json").g_lr == 1e-3


@pytest.mark.slow
def test_non_finite_loss_stops_naming_step_and_keeps_last_good_checkpoint(tmp_path, data_dir):
    cfg = _cfg(10)
    logdir = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss at step 3: \w+ = nan") as info:
        train(cfg, _opts(logdir, data_dir), hooks=[PoisonBefore(3)])
    assert "ckpt-2" in str(info.value)
    assert tf.train.latest_checkpoint(str(logdir / "ckpt")).endswith("ckpt-2")      # nothing saved after it
    # the kept checkpoint restores and is finite
    fresh = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert RunCheckpoints(fresh, logdir).restore_latest() == 2
    assert all(np.isfinite(w).all() for w in fresh.model_weights().values())


def _poison(model) -> str:
    """Fill the model's first weight with NaN; -> its path."""
    v = model.trainable_variables[0]
    v.assign(np.full(v.shape, np.nan, np.float32))
    return v.path


def test_checkpoint_save_refuses_non_finite_weights(tmp_path):
    cfg = get_config("demo", **train_helpers.TINY)
    trainer = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"))
    ckpts = RunCheckpoints(trainer, tmp_path / "run")
    good = ckpts.save()
    trainer.step.assign(1)
    name = _poison(trainer.generator)
    with pytest.raises(NonFiniteLossError, match=rf"non-finite weights at step 1: generator/{name}"):
        ckpts.save()
    assert ckpts.latest == good and ckpts.last_good() == good


@pytest.mark.slow
def test_weights_made_non_finite_by_a_step_are_not_saved(tmp_path, data_dir, monkeypatch):
    """A step whose losses are finite but whose update leaves NaN weights (as a huge learning rate does)."""
    cfg = _cfg(10)
    logdir = tmp_path / "run"
    step_once = GAN.train_step

    def step_then_poison(self, iterator, stop_requested=False):
        out = step_once(self, iterator, stop_requested)
        if int(self.step.numpy()) == 3:
            _poison(self.generator)
        return out

    monkeypatch.setattr(GAN, "train_step", step_then_poison)
    with pytest.raises(NonFiniteLossError, match=r"non-finite weights at step 3: generator/") as info:
        train(cfg, _opts(logdir, data_dir, save_every=1))
    assert str(info.value).endswith("ckpt-2")                                       # named last good
    assert tf.train.latest_checkpoint(str(logdir / "ckpt")).endswith("ckpt-2")


@pytest.mark.slow
def test_a_non_finite_checkpoint_is_not_resumed_exported_or_called_last_good(tmp_path, data_dir):
    cfg = _cfg(2)
    logdir = tmp_path / "run"
    assert train(cfg, _opts(logdir, data_dir)) == 0
    trainer = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"))
    RunCheckpoints(trainer, logdir).restore_latest()
    _poison(trainer.generator)
    _poison(trainer.ema_generator)               # the moving average follows G into NaN (export serves it)
    trainer.step.assign(3)
    # a NaN checkpoint as a trainer without the check before saving wrote it
    tf.train.CheckpointManager(trainer.checkpoint, str(logdir / "ckpt"), max_to_keep=5,
                               checkpoint_name="ckpt").save(checkpoint_number=3)
    with pytest.raises(NonFiniteLossError,
                       match=r"ckpt-3 holds non-finite weights.*Last good checkpoint: \S*ckpt-2\b"):
        train(cfg.replace(train_steps=5), _opts(logdir, data_dir))
    with pytest.raises(ConfigError, match=r"checkpoint \S*ckpt-3 holds non-finite weights"):
        export_from_logdir(str(logdir))
    assert not (logdir / "export").exists()

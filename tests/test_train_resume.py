"""Crash safety of the training job: kill -9 mid-run leaves only restorable checkpoints and a restart resumes
from the latest; SIGTERM finishes the step, saves, and exits with 128 + 15."""
import random
import re
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

import train_helpers
from wavebabble.config import get_config
from wavebabble.gan import GAN
from wavebabble.run_dir import RunCheckpoints

START_TIMEOUT_S = 300
RUN_TIMEOUT_S = 300
POLL_S = 0.2


def _checkpoint_steps(ckpt_dir) -> list[int]:
    return sorted(int(p.name[len("ckpt-"):-len(".index")]) for p in ckpt_dir.glob("ckpt-*.index"))


def _wait(predicate, proc, what):
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"training exited ({proc.returncode}) before {what}")
        time.sleep(POLL_S)
    proc.kill()
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture()
def data_dir(tmp_path):
    return train_helpers.write_dialogues(tmp_path / "data")


@pytest.mark.slow
def test_kill_9_then_restart_resumes_and_no_checkpoint_is_corrupt(tmp_path, data_dir):
    logdir = tmp_path / "run"
    ckpt_dir = logdir / "ckpt"
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(train_helpers.train_cmd(logdir, data_dir, "--train_steps=100000", "--save_every=2",
                                                    "--log_every=1", "--summary_every=100000", "--max_to_keep=3"),
                            cwd=train_helpers.REPO, env=train_helpers.env(), stdout=log, stderr=subprocess.STDOUT)
    _wait(lambda: any(s >= 4 for s in _checkpoint_steps(ckpt_dir)), proc, "checkpoint 4")
    time.sleep(random.uniform(0.0, 0.5))             # land anywhere in a step or a save
    proc.kill()                                      # SIGKILL: no handler runs
    proc.wait(timeout=60)
    log.close()
    assert proc.returncode == -signal.SIGKILL

    # every checkpoint on disk restores completely into a fresh trainer
    cfg = get_config("demo", **train_helpers.TINY)
    steps = _checkpoint_steps(ckpt_dir)
    assert steps and steps[-1] >= 4
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    assert latest is not None
    fresh = GAN(cfg, tf.distribute.OneDeviceStrategy("/cpu:0"))
    for step in steps:
        fresh.checkpoint.restore(str(ckpt_dir / f"ckpt-{step}")).assert_existing_objects_matched()
        assert int(fresh.step.numpy()) == step
        assert all(np.isfinite(w).all() for w in fresh.model_weights().values())
    resume_step = int(latest.rsplit("-", 1)[1])

    done = train_helpers.run_train(logdir, data_dir, f"--train_steps={resume_step + 2}", "--save_every=2",
                                   "--log_every=1", timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"resumed from {latest} at step {resume_step}" in done.stdout
    assert f"step {resume_step + 1}/{resume_step + 2}" in done.stdout
    assert f"step {resume_step + 2}/{resume_step + 2}" in done.stdout
    assert tf.train.latest_checkpoint(str(ckpt_dir)).endswith(f"ckpt-{resume_step + 2}")


@pytest.mark.slow
def test_sigterm_saves_and_exits(tmp_path, data_dir):
    logdir = tmp_path / "run"
    out_path = tmp_path / "out.log"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(train_helpers.train_cmd(logdir, data_dir, "--train_steps=100000",
                                                        "--save_every=100000", "--log_every=1",
                                                        "--summary_every=100000"),
                                cwd=train_helpers.REPO, env=train_helpers.env(), stdout=out, stderr=subprocess.STDOUT)
        _wait(lambda: "step 3/" in out_path.read_text(), proc, "step 3")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=RUN_TIMEOUT_S)
    text = out_path.read_text()
    assert proc.returncode == 128 + signal.SIGTERM, text[-3000:]
    m = re.search(r"stopped by SIGTERM at step (\d+); checkpoint saved", text)
    assert m, text[-3000:]
    step = int(m.group(1))
    assert step >= 3
    assert _checkpoint_steps(logdir / "ckpt") == [step]      # periodic saves never happened: this is the signal's

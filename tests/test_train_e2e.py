"""The README's main command, shortened: the demo preset on the embedded default corpus, end to end
(corpus build on first use, training, TensorBoard events, checkpoint, SavedModel export)."""
import subprocess

import pytest

import train_helpers

E2E_TIMEOUT_S = 900


@pytest.mark.slow
def test_demo_preset_on_default_corpus_end_to_end(tmp_path):
    logdir = tmp_path / "demo"
    cmd = [train_helpers.PYTHON, "-m", "train.train", "--preset=demo", f"--logdir={logdir}", "--train_steps=2",
           "--log_every=1", "--summary_every=2", "--num_timing_clips=4"]
    done = subprocess.run(cmd, cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True,
                          timeout=E2E_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "step 2/2 |" in done.stdout
    assert (logdir / "config.json").is_file() and list(logdir.glob("events.out.tfevents.*"))
    assert (logdir / "ckpt" / "ckpt-2.index").is_file()
    assert (logdir / "export" / "saved_model.pb").is_file()

"""Shared helpers for the training tests: a tiny synthetic stereo dialogue folder, tiny configs, a CLI runner.

Not a test module (no test_ prefix). Imported by tests/test_train*.py, test_summaries.py, test_tensorboard_http.py.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
DUMPING_TRAIN_SCRIPT = Path(__file__).resolve().parent / "train_with_weight_dump.py"
PYTHON = sys.executable
SAMPLE_RATE = 8000
CLIP_SECONDS = 3.0
NUM_FILES = 4
TURN_SECONDS = 0.5          # synthetic speakers alternate every half second
NOISE_LEVEL = 0.3
# Tiny model sizes (seconds per step on 2 shared cores); hinge skips the gradient penalty's double backprop.
TINY = dict(slice_len=16384, model_dim=2, timing_dim=4, ms_dim=4, ms_groups=1, batch_size=2, d_updates=1,
            loss="hinge")
TINY_SET_FLAGS = [f"--set={k}={v}" for k, v in TINY.items() if k != "batch_size"] + [
    f"--batch_size={TINY['batch_size']}"]


def write_dialogues(folder, num_files: int = NUM_FILES, seconds: float = CLIP_SECONDS, seed: int = 0) -> Path:
    """Synthetic stereo 'dialogues': noise bursts alternating between the channels. -> folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    turn = (np.arange(n) // int(TURN_SECONDS * SAMPLE_RATE)) % 2
    for i in range(num_files):
        a = rng.standard_normal(n) * NOISE_LEVEL * (turn == 0)
        b = rng.standard_normal(n) * NOISE_LEVEL * (turn == 1)
        sf.write(folder / f"dialogue_{i}.wav", np.stack([a, b], 1).astype(np.float32), SAMPLE_RATE)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra) -> dict:
    e = dict(os.environ)
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    e.update({k: str(v) for k, v in extra.items()})
    return e


def train_cmd(logdir, data_dir, *extra) -> list[str]:
    return [PYTHON, "-m", "train.train", f"--logdir={logdir}", f"--data_dir={data_dir}", "--strategy=one_device",
            "--noexport", "--num_timing_clips=2", "--num_summary_clips=1", *TINY_SET_FLAGS, *extra]


def run_train(logdir, data_dir, *extra, timeout: float = 300, **env_extra) -> subprocess.CompletedProcess:
    return subprocess.run(train_cmd(logdir, data_dir, *extra), cwd=REPO, env=env(**env_extra), capture_output=True,
                          text=True, timeout=timeout)

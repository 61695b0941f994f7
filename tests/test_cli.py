"""Every CLI answers a usage error with one line naming the problem, a pointer to --help, and exit status 2."""
import subprocess
import sys

import pytest

import train_helpers

MAX_USAGE_LINES = 3          # the error, the pointer to --help, and at most one runtime settings line


@pytest.mark.parametrize("module, args, words", [
    ("train.train", ["stray"], ["unexpected arguments", "stray"]),
    ("train.train", ["--train_steps=2", "--set=g_activity_gate=ture"], ["--set=g_activity_gate=ture"]),
    ("wavebabble.generate", [], ["--out_dir"]),
    ("eval.ship_model", ["--out=/no/such/folder"], ["--out=/no/such/folder"]),
    ("wavebabble.export", [], ["--logdir"]),
    ("wavebabble.export", ["--planner=/no/ckpt-1"], ["--renderer"]),
    ("train.train_mel_gan", ["--init_from=/no/such/ckpt-1"], ["--init_from=/no/such/ckpt-1"]),
    ("train.train_renderer", ["stray"], ["stray"]),
    ("eval.resynthesize", [], ["--renderer"]),
    ("eval.long_dialogue", ["--generated=x"], ["--reference"]),
    ("eval.timing", [], ["--input"]),
    ("wavebabble.corpus", ["stray"], ["stray"]),
    ("eval.report", ["stray"], ["stray"]),
    ("eval.ablation_timing", ["stray"], ["stray"]),     # used to ignore it and start training
    ("eval.select_checkpoint", [], ["--logdir"]),
    ("eval.bench_serving", ["--variants=fastest"], ["--variants"]),
    ("wavebabble.respond", ["--out=x.wav"], ["--partner"]),
    ("wavebabble.continuation", ["--prompt=x.wav"], ["--out"]),
    ("wavebabble.export", ["--logdir=x", "--responder=/no/ckpt-1"], ["--responder"]),
    ("wavebabble.export", ["--planner=p", "--renderer=r", "--out=o", "--responder=/no/ckpt-1"], ["--continuer"]),
    ("wavebabble.export", ["--planner=p", "--renderer=r", "--out=o", "--offline_responder=/no/ckpt-1"],
     ["--offline_responder goes with --responder"]),
    ("train.train_continuer", ["stray"], ["stray"]),
    ("train.train_responder", ["stray"], ["stray"]),
    ("eval.select_responder", [], ["--logdir"]),
    ("eval.agent", ["stray"], ["stray"]),
])
def test_usage_error_is_one_line(module, args, words):
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=train_helpers.REPO, capture_output=True,
                          text=True, env=train_helpers.env(), timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) <= MAX_USAGE_LINES, proc.stderr[-3000:]
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and all(w in errors[0] for w in words), proc.stderr[-3000:]
    assert "--help" in lines[-1]


def test_train_refuses_the_two_stage_generator_before_making_its_run_folder(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "train.train", "--set=generator=two_stage", f"--logdir={run}"],
                          cwd=train_helpers.REPO, capture_output=True, text=True, env=train_helpers.env(), timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "--set=generator=two_stage" in proc.stderr and "train.train_mel_gan" in proc.stderr
    assert not run.exists()

"""eval/bench_models.py runs end to end: its generator-forward and training-step rows (the step counts the
multi-scale D, whose input length is free, at the window it reads)."""
import subprocess
import sys

import train_helpers


def test_bench_models_prints_the_forward_and_training_step_rows():
    proc = subprocess.run([sys.executable, "-m", "eval.bench_models", "--presets=demo", "--levers=none",
                           "--repeats=1", "--g_batch=1", "--lever_batch=0", "--matmul_n=128", "--row_budget_s=1"],
                          cwd=train_helpers.REPO, capture_output=True, text=True, env=train_helpers.env(), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split() for line in proc.stdout.splitlines() if line.startswith("demo ")]
    assert [r[1:3] for r in rows] == [["G", "fwd"], ["train", "step"]], proc.stdout
    for r in rows:
        assert float(r[-3]) > 0 and r[-2].endswith("%"), r             # achieved GFLOP/s > 0, a % of peak

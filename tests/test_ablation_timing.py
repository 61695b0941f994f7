"""eval/ablation_timing.py end to end on a tiny model: both arms trained (--timing_flag reaching the 'with' arm only),
results written with the sampling floor and the envelope-correlation row, and a second call reuses the finished runs
(reporting their recorded training time)."""
import json
import subprocess
import sys

import pytest

import train_helpers


@pytest.mark.slow
def test_ablation_runs_both_arms_then_reuses_them(tmp_path):
    data = train_helpers.write_dialogues(tmp_path / "data", seconds=4.0)
    out = tmp_path / "results" / "ablation"
    tiny = [f"--train_flag={f}" for f in train_helpers.TINY_SET_FLAGS] + ["--train_flag=--strategy=one_device"]
    cmd = [sys.executable, "-m", "eval.ablation_timing", "--corpus=custom", f"--data_dir={data}", "--train_steps=2",
           "--num_clips=3", f"--work_dir={tmp_path / 'work'}", f"--out={out}", *tiny,
           "--timing_flag=--set=timing_input_noise=0.01"]
    for attempt in range(2):
        done = subprocess.run(cmd, cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("reusing finished run") == 2
    result = json.loads(out.with_suffix(".json").read_text())["custom"]
    assert result["reused_runs"] == ["with_timing_d", "without_timing_d"]
    assert all(w > 0 for w in result["train_wall_s"].values())          # the first call's recorded training time
    assert result["mre_real_vs_real"] >= 0 and result["num_clips"] == 3
    for column in ("corpus", "with_timing_d", "without_timing_d"):
        assert "envelope_corr_median" in result["rows"][column]
    commands = {p.parent.name: json.loads(p.read_text())["command"]
                for p in (tmp_path / "work").glob("*/ablation_train_wall.json")}
    assert len(commands) == 2                                # --timing_flag goes to the 'with' arm only
    for name, command in commands.items():
        assert ("timing_input_noise=0.01" in command) == name.startswith("custom_with_timing_d"), name
    assert result["timing_flags"] == ["--set=timing_input_noise=0.01"]
    md = out.with_suffix(".md").read_text()
    assert "sampling floor" in md and "(an earlier run, reused)" in md and "| envelope_corr_median |" in md

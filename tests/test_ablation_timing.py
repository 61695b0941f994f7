"""eval/ablation_timing.py end to end on a tiny model: both arms trained (--timing_flag reaching the 'with' arm only),
results written with the sampling floor and the envelope-correlation row; a second call with --select_checkpoint
reuses the finished runs (reporting their recorded training time and the commit that trained them) and chooses
each run's checkpoint on held-out clips. The goal is judged on the medians over seeds (seed_summary)."""
import json
import subprocess
import sys

import numpy as np
import pytest

import train_helpers


def ablation_cmd(tmp_path, data, out, *extra):
    tiny = [f"--train_flag={f}" for f in train_helpers.TINY_SET_FLAGS] + [
        "--train_flag=--strategy=one_device", "--train_flag=--num_timing_clips=2", "--train_flag=--num_summary_clips=1"]
    return [sys.executable, "-m", "eval.ablation_timing", "--corpus=custom", f"--data_dir={data}", "--train_steps=2",
            "--num_clips=3", f"--work_dir={tmp_path / 'work'}", f"--out={out}", *tiny,
            "--timing_flag=--set=vad_grad_temperature_db=5", *extra]


def run(cmd):
    done = subprocess.run(cmd, cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True,
                          timeout=600)
    return done


@pytest.mark.slow
def test_ablation_runs_both_arms_then_reuses_them_per_seed(tmp_path):
    data = train_helpers.write_dialogues(tmp_path / "data", seconds=4.0)
    out = tmp_path / "results" / "ablation"
    first = run(ablation_cmd(tmp_path, data, out, "--seeds=0"))
    assert first.returncode == 0, first.stderr[-4000:]
    assert "reusing finished run" not in first.stdout
    git = subprocess.run(["git", "rev-parse", "HEAD"], cwd=train_helpers.REPO, capture_output=True, text=True)
    head = git.stdout.strip() if git.returncode == 0 else None
    walls = sorted((tmp_path / "work").glob("*/ablation_train_wall.json"))
    assert [json.loads(p.read_text())["commit"] for p in walls] == [head, head]
    older = json.loads(walls[0].read_text())
    walls[0].write_text(json.dumps({**older, "commit": "0" * 40}))     # as if trained by other code
    second = run(ablation_cmd(tmp_path, data, out, "--seeds=0", "--select_checkpoint", "--select_clips=3"))
    assert second.returncode == 0, second.stderr[-4000:]
    assert second.stdout.count("reusing finished run") == 2        # both arms of seed 0
    if head is not None:                                           # a git checkout: the reuse is reported
        assert second.stdout.count("was trained by the code at commit 000000000000") == 1
    result = json.loads(out.with_suffix(".json").read_text())["custom"]
    assert result["seeds"] == [0] and sorted(result["runs"]) == ["0"]
    assert result["runs"]["0"]["reused_runs"] == ["with_timing_d", "without_timing_d"]
    for r in result["runs"].values():
        assert all(w > 0 for w in r["train_wall_s"].values())     # the time recorded when each run was trained
        assert r["mre_real_vs_real"] >= 0
        for column in ("corpus", "with_timing_d", "without_timing_d"):
            assert "envelope_corr_median" in r["rows"][column]
    summary = result["summary"]
    assert summary["mre_with"] == pytest.approx(result["runs"]["0"]["goal"]["mre_with"])
    assert summary["met"] == (summary["mre_with"] <= 0.15 and summary["ratio"] <= 0.5)
    commands = {p.parent.name: json.loads(p.read_text())["command"]
                for p in (tmp_path / "work").glob("*/ablation_train_wall.json")}
    assert len(commands) == 2                                # --timing_flag goes to the 'with' arm only
    for name, command in commands.items():
        assert ("vad_grad_temperature_db=5" in command) == name.startswith("custom_with_timing_d"), name
        assert ("--set=timing_weight=0" in command) == name.startswith("custom_without_timing_d"), name
        assert f"--seed={name.split('_seed')[1].split('_')[0]}" in command
    assert result["timing_flags"] == ["--set=vad_grad_temperature_db=5"]
    for r in result["runs"].values():              # which settings each result is from: preset and config hash
        configs = r["configs"]
        assert {c["preset"] for c in configs.values()} == {"demo"}
        assert configs["with_timing_d"]["config"]["timing_weight"] == 2.0
        assert configs["without_timing_d"]["config"]["timing_weight"] == 0.0
        assert configs["with_timing_d"]["config"]["vad_grad_temperature_db"] == 5.0
        assert len({c["config_sha256"] for c in configs.values()}) == 2
    md = out.with_suffix(".md").read_text()
    assert "sampling floor" in md and "(an earlier run, reused)" in md and "| envelope_corr_median |" in md
    assert "| **median** |" in md and "### custom, seed 0" in md
    assert f"with_timing_d: demo {result['runs']['0']['configs']['with_timing_d']['config_sha256'][:12]}" in md
    _check_selection(tmp_path, data, result, md)


def _check_selection(tmp_path, data, result, md):
    """--select_checkpoint (the second call): every kept checkpoint of both arms, reused or trained, scored on
    held-out clips, the lowest exported and reported, the last checkpoint's error beside it;
    eval.select_checkpoint alone reuses that export and writes the run's trajectory."""
    assert result["select_checkpoint"] and result["select_clips"] == 3
    lasts = []
    for run0 in result["runs"].values():
        for arm in ("with_timing_d", "without_timing_d"):
            sel = run0["selection"][arm]
            held = {int(k): v for k, v in sel["held_out_score"].items()}
            assert sorted(held) == [1, 2] == sorted(int(k) for k in sel["held_out_mre"])  # a checkpoint every step
            assert sel["chosen_step"] == min(held, key=lambda k: (held[k], -k))     # timing score: MRE + FTO term
            assert all(held[k] >= sel["held_out_mre"][str(k)] for k in held)
            assert (tmp_path / "work" / sel["export"].split("/work/")[1] / "saved_model.pb").is_file()
            assert sel["mre_last"] is not None and sel["mre_last"] >= 0
            if sel["chosen_step"] == 2:                          # the last one chosen: the same clips reported
                assert sel["mre_last"] == run0["distances"][arm]["mean_relative_error"]
        lasts.append(run0["selection"]["with_timing_d"]["mre_last"])
        for row in ("corpus", "with_timing_d", "without_timing_d"):                # sound rows beside timing
            assert set(run0["rows"][row]) >= {"logmel_fd", "two_sample_accuracy", "fto_share_0_400ms"}
    assert result["summary"]["mre_with_last_checkpoint"] == pytest.approx(np.median(lasts))
    assert "Checkpoint selection" in md and "| 0 | without_timing_d | 1: " in md and "timing score" in md
    assert "logmel_fd" in md and "FTO Wasserstein (s) with / without" in md
    logdir = next((tmp_path / "work").glob("custom_with_timing_d_*"))
    exports = sorted(p.name for p in logdir.glob("export_step*"))
    cli = subprocess.run([sys.executable, "-m", "eval.select_checkpoint", f"--logdir={logdir}", f"--data_dir={data}",
                          "--num_clips=3", "--seed=2000", f"--trajectory_json={tmp_path / 'trajectory.json'}"],
                         cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True, timeout=600)
    assert cli.returncode == 0, cli.stderr[-4000:]
    assert "<- chosen" in cli.stdout and "exported checkpoint" in cli.stdout and "logmel_fd" in cli.stdout
    trajectory = json.loads((tmp_path / "trajectory.json").read_text())
    assert [c["step"] for c in trajectory["checkpoints"]] == [1, 2]
    for c in trajectory["checkpoints"]:                    # timing and sound per checkpoint: the run's trajectory
        assert {"timing_score", "mean_relative_error", "fto_share_0_400ms", "logmel_fd"} <= set(c)
        assert c["logmel_fd"] > 0
    assert trajectory["real"]["logmel_fd"] >= 0 and trajectory["chosen_step"] in (1, 2)
    assert sorted(p.name for p in logdir.glob("export_step*")) == exports       # same seed and clips: reused


def test_the_goal_is_judged_on_the_medians_over_seeds():
    from eval.ablation_timing import seed_summary

    def seed_run(mre_with, mre_without, floor, last):
        ratio = mre_with / mre_without
        return {"goal": {"mre_with": mre_with, "mre_without": mre_without, "ratio": ratio,
                         "met": mre_with <= 0.15 and ratio <= 0.5},
                "mre_real_vs_real": floor, "selection": {"with_timing_d": {"mre_last": last}}}

    runs = [seed_run(0.10, 1.0, 0.03, 0.2), seed_run(0.30, 1.0, 0.05, 0.4), seed_run(0.14, 0.2, 0.04, 0.1)]
    s = seed_summary(runs)
    assert s["mre_with"] == pytest.approx(0.14) and s["mre_without"] == pytest.approx(1.0)
    assert s["ratio"] == pytest.approx(np.median([0.1, 0.3, 0.7]))
    assert s["mre_with_max"] == pytest.approx(0.30) and s["mre_with_last_checkpoint"] == pytest.approx(0.2)
    assert s["mre_real_vs_real"] == pytest.approx(0.04)
    assert s["seeds_met"] == 1 and s["met"] is True             # median 0.14 <= 0.15, median ratio 0.3 <= 0.5
    assert seed_summary(runs[1:2])["met"] is False


@pytest.mark.parametrize("seeds", ["0,0", "1,x"])
def test_bad_seeds_are_rejected_before_training(tmp_path, seeds):
    data = train_helpers.write_dialogues(tmp_path / "data", seconds=4.0)
    done = run(ablation_cmd(tmp_path, data, tmp_path / "out", f"--seeds={seeds}"))
    assert done.returncode != 0
    assert f"--seeds={seeds}" in done.stderr
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir())


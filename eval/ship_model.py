"""Train, choose and ship the pretrained model that `generate` uses without --model, with the record of how.

    python -m eval.ship_model [--preset=demo] [--seed=0] [--work_dir=runs/ship] [--num_clips=200]

Runs the project's own commands as child processes, in this order, and records each:
  1. python -m train.train --preset=P --logdir=WORK/P_seedS --seed=S --save_every=N --max_to_keep=K
     (a finished run, one with an export, is reused with the wall time recorded when it was trained)
  2. python -m eval.select_checkpoint --logdir=... --trajectory_json=WORK/trajectory.json
     (the checkpoint with the lowest timing score on held-out clips and real clips, seed 1000)
  3. python -m wavebabble.export --logdir=... --checkpoint=<chosen> --out=wavebabble/pretrained/<name> --overwrite
  4. python -m wavebabble.generate --model=wavebabble/pretrained/<name> --num=C --seed=0 --out_dir=WORK/generated
  5. python -m eval.report --generated=WORK/generated --reference=<the corpus> --out=WORK/report
then writes wavebabble/pretrained/<name>.json: those commands, the commit, the preset and a hash of the full
config, the steps, the training wall time, the chosen checkpoint with every checkpoint's held-out score, and the
report's headline figures (timing and sound against the corpus, with the real-vs-real floors). The export step
replaces only an earlier export (wavebabble.outdir), so the shipped model is one copy.
"""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from absl import app, flags

from eval.provenance import config_sha256, source_commit
from wavebabble import pretrained, runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.config import CONFIG_NAME, PRESETS

REPO = Path(__file__).resolve().parents[1]
TRAIN_RECORD = "ship_train.json"    # in the run dir: the training command, its wall time and commit
TRAJECTORY = "trajectory.json"
SAVE_EVERY = 250                    # checkpoints the selection chooses from: every SAVE_EVERY steps ...
MAX_TO_KEEP = 16                    # ... all of them kept (the demo's 2000 steps: 8)
REPORT_SEED = 0                     # latents and report subsets; apart from select_checkpoint's seed (1000)
HEADLINE_TIMING = ("mean_relative_error", "fto_wasserstein_s", "timing_score")
HEADLINE_SOUND = ("logmel_fd", "logmel_fd_floor", "two_sample_accuracy", "two_sample_accuracy_floor",
                  "voiced_fraction", "voiced_fraction_reference", "syllable_modulation",
                  "syllable_modulation_reference")

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_enum("preset", pretrained.DEFAULT_MODEL, sorted(PRESETS), "Preset to train (its step budget).")
    flags.DEFINE_integer("seed", 0, "Training seed.")
    flags.DEFINE_string("work_dir", str(REPO / "runs" / "ship"), "Run dir, generated clips and report go here.")
    flags.DEFINE_integer("num_clips", 200, "Clips generated for the recorded figures.", lower_bound=1)
    flags.DEFINE_string("out", str(pretrained.PRETRAINED_DIR), "Where the model folder and its record go.")


def sh(cmd: list[str]) -> None:
    """Run another wavebabble tool from the repo root (runtime.run_tool: it picks its own runtime settings)."""
    runtime.run_tool(cmd, REPO)


def train(logdir: Path, preset: str, seed: int) -> dict:
    """Step 1 (or the record of an earlier finished run): {"command", "train_wall_s", "commit", "reused"}."""
    record = logdir / TRAIN_RECORD
    if (logdir / "export" / "saved_model.pb").is_file() and record.is_file():
        print(f"reusing finished run {logdir}", flush=True)
        return {**json.loads(record.read_text()), "reused": True}
    cmd = [sys.executable, "-m", "train.train", f"--preset={preset}", f"--logdir={logdir}", f"--seed={seed}",
           f"--save_every={SAVE_EVERY}", f"--max_to_keep={MAX_TO_KEEP}"]
    commit = source_commit()
    t0 = time.time()
    sh(cmd)
    done = {"command": shlex.join(["python", *cmd[1:]]), "train_wall_s": round(time.time() - t0, 1),
            "commit": commit}
    record.write_text(json.dumps(done, indent=2) + "\n")
    return {**done, "reused": False}


def headline(report: dict) -> dict:
    """The figures a record keeps from a report.json: timing distance and sound summary against the corpus."""
    from wavebabble.sound_measures import sound_summary

    distance = report["timing"]["distance"]
    sound = sound_summary(report["sound"])
    return {**{k: distance.get(k) for k in HEADLINE_TIMING},
            "fto_share_0_400ms": report["timing"]["generated"].get("fto_share_0_400ms"),
            "fto_share_0_400ms_reference": report["timing"]["reference"].get("fto_share_0_400ms"),
            **{k: sound.get(k) for k in HEADLINE_SOUND}}


def ship(preset: str, seed: int, work_dir: Path, num_clips: int, out: Path) -> dict:
    from wavebabble.corpus.default import default_corpus_dir

    work_dir = work_dir.expanduser().resolve()
    logdir = work_dir / f"{preset}_seed{seed}"
    corpus = default_corpus_dir()
    trained = train(logdir, preset, seed)
    trajectory = work_dir / TRAJECTORY
    select = [sys.executable, "-m", "eval.select_checkpoint", f"--logdir={logdir}", f"--trajectory_json={trajectory}"]
    sh(select)
    traj = json.loads(trajectory.read_text())
    chosen = traj["chosen_step"]
    model = pretrained.model_dir(preset, out)
    export = [sys.executable, "-m", "wavebabble.export", f"--logdir={logdir}",
              f"--checkpoint={logdir / 'ckpt' / f'ckpt-{chosen}'}", f"--out={model}", "--overwrite"]
    sh(export)
    generated, report_dir = work_dir / "generated", work_dir / "report"
    gen = [sys.executable, "-m", "wavebabble.generate", f"--model={model}", f"--num={num_clips}",
           f"--seed={REPORT_SEED}", f"--out_dir={generated}", "--overwrite"]
    sh(gen)
    report = [sys.executable, "-m", "eval.report", f"--generated={generated}", f"--reference={corpus}",
              f"--out={report_dir}", "--overwrite"]
    sh(report)
    cfg = json.loads((logdir / CONFIG_NAME).read_text())

    def shown(cmd):        # the command as a user types it: `python -m ...`, paths relative to the repo
        return shlex.join(["python", *cmd[1:]]).replace(str(REPO) + "/", "")

    record = {
        "name": preset, "preset": cfg["name"], "config_sha256": config_sha256(cfg), "seed": seed,
        "train_steps": cfg["train_steps"], "train_wall_s": trained["train_wall_s"], "commit": trained["commit"],
        "chosen_step": chosen,
        "held_out": {str(c["step"]): {"timing_score": c["timing_score"], "mean_relative_error":
                                      c["mean_relative_error"], "logmel_fd": c.get("logmel_fd")}
                     for c in traj["checkpoints"]},
        "commands": {"train": trained["command"].replace(str(REPO) + "/", ""), "select": shown(select),
                     "export": shown(export), "generate": shown(gen), "report": shown(report)},
        "evaluation": f"{num_clips} clips (seed {REPORT_SEED}) vs the embedded corpus (eval.report)",
        "figures": headline(json.loads((report_dir / "report.json").read_text())),
        "shipped": time.strftime("%Y-%m-%d"),
    }
    path = pretrained.record_path(preset, out)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"shipped {model} and its record {path}:\n" + json.dumps(record["figures"], indent=2), flush=True)
    return record


def main(argv) -> None:
    del argv
    if not Path(FLAGS.out).is_dir():
        raise app.UsageError(f"--out={FLAGS.out}: not a folder")
    with cli_errors("python -m eval.ship_model"):
        ship(FLAGS.preset, FLAGS.seed, Path(FLAGS.work_dir), FLAGS.num_clips, Path(FLAGS.out))


def run() -> None:
    # no runtime.tune: this process only starts the tools (each tunes itself) and reads JSON, so TensorFlow never
    # starts here (cli_errors starts it only in a tuned process)
    define_flags()
    run_main(main, "python -m eval.ship_model")


if __name__ == "__main__":
    run()

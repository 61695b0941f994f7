"""Train, choose and ship the pretrained model that `generate` uses without --model, with the record of how.

    python -m eval.ship_model [--generator=two_stage] [--work_dir=runs/ship] [--num_clips=200]
    python -m eval.ship_model --generator=wavegan [--preset=demo] [--seed=0] ...

Runs the project's own commands as child processes, in this order, and records each. The two-stage generator
(the default, models/two_stage.py):
  1. python -m train.train_renderer --logdir=WORK/renderer --steps=RENDERER_STEPS --seed=S
  2. python -m train.train_mel_gan --logdir=WORK/planner --steps=PLANNER_STEPS --seed=S
  3. python -m eval.select_checkpoint --logdir=WORK/planner --renderer=WORK/renderer/ckpt/ckpt-RENDERER_STEPS
       --choose_by=timing_and_sound --min_step=PLANNER_STEPS/2 --trajectory_json=WORK/trajectory.json
     (each planner checkpoint of the run's second half with that renderer, on held-out clips and real clips,
     seed 1000: the lowest rank sum of timing score and log-mel FD)
  4. python -m wavebabble.corpus --out_dir=WORK/agent_corpus AGENT_CORPUS_FLAGS   (per-dialogue timing style)
     python -m train.train_responder --logdir=WORK/responder --data_dir=WORK/agent_corpus --planner=<chosen>
       --steps=RESPONDER_STEPS --seed=S      (the agent's turn-taker, speaking with the chosen planner's voice)
  5. python -m eval.select_responder --logdir=WORK/responder --planner=<chosen> --renderer=...
       --trajectory_json=WORK/responder_trajectory.json   (by timing score on validation partners)
     the same two for the offline turn-taker (train.train_responder --mode=offline --logdir=WORK/offline_responder,
       its trajectory WORK/offline_responder_trajectory.json): respond's answers to whole recordings
     python -m wavebabble.corpus --out_dir=WORK/continuer_corpus CONTINUER_CORPUS_FLAGS
     python -m train.train_continuer --logdir=WORK/continuer --data_dir=WORK/continuer_corpus
       --steps=CONTINUER_STEPS --seed=S      (the continuation's turn-taker: a likelihood model, its last checkpoint)
  6. python -m wavebabble.export --planner=<chosen> --renderer=... --responder=<chosen responder>
       --offline_responder=<chosen offline responder> --continuer=WORK/continuer/ckpt/ckpt-CONTINUER_STEPS
       --out=wavebabble/pretrained/two_stage --overwrite
The WaveGAN generator (--generator=wavegan, a preset of wavebabble.config):
  1. python -m train.train --preset=P --logdir=WORK/P_seedS --seed=S --save_every=N --max_to_keep=K
  2. python -m eval.select_checkpoint --logdir=... --trajectory_json=WORK/trajectory.json   (by timing)
  3. python -m wavebabble.export --logdir=... --checkpoint=<chosen> --out=wavebabble/pretrained/<P> --overwrite
Then, for both:
  7. python -m wavebabble.generate --model=wavebabble/pretrained/<name> --num=C --seed=0 --out_dir=WORK/generated
  8. python -m eval.report --generated=WORK/generated --reference=<the corpus> --out=WORK/report
  9. (two-stage) python -m eval.agent --model=wavebabble/pretrained/two_stage --out=WORK/agent
and writes wavebabble/pretrained/<name>.json: those commands, the commit and training wall time of each training
job, the steps, the chosen checkpoint with every scored checkpoint's held-out figures, and the report's headline
figures (timing and sound against the corpus, with the real-vs-real floors). A training job that already finished
in WORK (its last checkpoint and its record there) is reused with the wall time recorded when it ran: a long run
may span sessions. The export replaces only an earlier export (wavebabble.outdir). The model is the shipped one
(`generate` without --model) when its name is pretrained.DEFAULT_MODEL.
"""
from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from absl import app, flags

from eval.provenance import config_sha256, source_commit
from train import train_continuer, train_mel_gan, train_renderer, train_responder
from wavebabble import pretrained, runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.config import CONFIG_NAME, PRESETS
from wavebabble.corpus.manifest import MANIFEST_NAME

REPO = Path(__file__).resolve().parents[1]
TRAIN_RECORD = "ship_train.json"    # in a training job's run dir: its command, wall time and commit
TRAJECTORY = "trajectory.json"
SAVE_EVERY = 250                    # v1: checkpoints the selection chooses from: every SAVE_EVERY steps ...
MAX_TO_KEEP = 16                    # ... all of them kept (the demo's 2000 steps: 8)
TWO_STAGE_NAME = "two_stage"        # the two-stage model's name in wavebabble/pretrained
RENDERER_STEPS = train_renderer.DEFAULT_STEPS    # the renderer job's steps (its default)
PLANNER_STEPS = train_mel_gan.DEFAULT_STEPS      # the planner job's steps (its default)
REPORT_SEED = 0                     # latents and report subsets; apart from select_checkpoint's seed (1000)
HEADLINE_TIMING = ("mean_relative_error", "fto_wasserstein_s", "timing_score")
HEADLINE_SOUND = ("logmel_fd", "logmel_fd_floor", "two_sample_accuracy", "two_sample_accuracy_floor",
                  "voiced_fraction", "voiced_fraction_reference", "syllable_modulation",
                  "syllable_modulation_reference")
HELD_OUT = ("timing_score", "mean_relative_error", "fto_wasserstein_s", "logmel_fd", "syllable_modulation")
RESPONDER_STEPS = train_responder.DEFAULT_STEPS  # the agent's turn-taker job's steps (its default)
CONTINUER_STEPS = train_continuer.DEFAULT_STEPS  # the continuation's turn-taker job's steps (its default)
# the corpus the agent's turn-taker learns from: the embedded corpus's process (its seed) with per-dialogue timing
# style, so that it can follow a partner's (and a prompt's) tempo; 64 dialogues of 60 s
AGENT_CORPUS_FLAGS = ("--num_dialogues=64", "--seconds_each=60", "--seed=20261121", "--style_spread=0.4")
# the continuation's turn-taker learns who speaks when from 512 of them (the size it was developed and measured at,
# eval/results/agent_notes.md; 64 was not tried with its memory); another seed than the agent corpus's and the
# evaluations' (777, 778)
CONTINUER_CORPUS_FLAGS = ("--num_dialogues=512", "--seconds_each=60", "--seed=20261203", "--style_spread=0.4")
RESPONDER_HELD_OUT = ("timing_score", "mean_relative_error", "fto_wasserstein_s", "overlap_share_of_speech")

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_enum("generator", TWO_STAGE_NAME, [TWO_STAGE_NAME, "wavegan"],
                      "two_stage: the renderer and planner jobs; wavegan: train.train with --preset.")
    flags.DEFINE_enum("preset", "demo", sorted(PRESETS), "--generator=wavegan: preset to train (its step budget).")
    flags.DEFINE_integer("seed", 0, "Training seed.")
    flags.DEFINE_string("work_dir", str(REPO / "runs" / "ship"), "Run dirs, generated clips and report go here.")
    flags.DEFINE_integer("num_clips", 200, "Clips generated for the recorded figures.", lower_bound=1)
    flags.DEFINE_string("out", str(pretrained.PRETRAINED_DIR), "Where the model folder and its record go.")


def sh(cmd: list[str]) -> None:
    """Run another wavebabble tool from the repo root (runtime.run_tool: it picks its own runtime settings)."""
    runtime.run_tool(cmd, REPO)


def shown(cmd: list[str]) -> str:
    """The command as a user types it: `python -m ...`, paths inside the repo relative to it."""
    return shlex.join(["python", *cmd[1:]]).replace(str(REPO) + "/", "")


def train(logdir: Path, cmd: list[str], finished: Path) -> dict:
    """Run training command `cmd` into `logdir` unless it already finished there (`finished` exists and so does
    its record) -> {"command", "train_wall_s", "commit", "reused"}; the record goes to <logdir>/TRAIN_RECORD."""
    record = logdir / TRAIN_RECORD
    if finished.exists() and record.is_file():
        print(f"reusing finished run {logdir}", flush=True)
        return {**json.loads(record.read_text()), "reused": True}
    commit = source_commit()
    t0 = time.time()
    sh(cmd)
    done = {"command": shown(cmd), "train_wall_s": round(time.time() - t0, 1), "commit": commit}
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


def train_two_stage(work_dir: Path, seed: int, model: Path) -> dict:
    """Steps 1-6 for the two-stage generator and its agent -> the record's training part."""
    renderer_dir, planner_dir, responder_dir = work_dir / "renderer", work_dir / "planner", work_dir / "responder"
    continuer_dir = work_dir / "continuer"
    renderer_ckpt = renderer_dir / "ckpt" / f"ckpt-{RENDERER_STEPS}"
    renderer = train(renderer_dir, [sys.executable, "-m", "train.train_renderer", f"--logdir={renderer_dir}",
                                    f"--steps={RENDERER_STEPS}", f"--seed={seed}"], Path(f"{renderer_ckpt}.index"))
    planner = train(planner_dir, [sys.executable, "-m", "train.train_mel_gan", f"--logdir={planner_dir}",
                                  f"--steps={PLANNER_STEPS}", f"--seed={seed}"],
                    planner_dir / "ckpt" / f"ckpt-{PLANNER_STEPS}.index")
    traj, select_planner = select(work_dir / TRAJECTORY, [
        "eval.select_checkpoint", f"--logdir={planner_dir}", f"--renderer={renderer_ckpt}",
        "--choose_by=timing_and_sound", f"--min_step={PLANNER_STEPS // 2}"])
    planner_ckpt = planner_dir / "ckpt" / f"ckpt-{traj['chosen_step']}"
    corpus = work_dir / "agent_corpus"
    corpus_cmd = [sys.executable, "-m", "wavebabble.corpus", f"--out_dir={corpus}", *AGENT_CORPUS_FLAGS,
                  "--progress=false"]
    if not (corpus / MANIFEST_NAME).is_file():
        sh(corpus_cmd)

    def responder_job(mode: str):
        """train.train_responder --mode=<mode> and its eval.select_responder -> (job, trajectory, select command)."""
        run_dir = work_dir / ("responder" if mode == "streaming" else f"{mode}_responder")
        job = train(run_dir, [sys.executable, "-m", "train.train_responder", f"--logdir={run_dir}",
                              f"--mode={mode}", f"--data_dir={corpus}", f"--planner={planner_ckpt}",
                              f"--steps={RESPONDER_STEPS}", f"--seed={seed}"],
                    run_dir / "ckpt" / f"ckpt-{RESPONDER_STEPS}.index")
        trajectory, command = select(work_dir / f"{run_dir.name}_trajectory.json", [
            "eval.select_responder", f"--logdir={run_dir}", f"--planner={planner_ckpt}",
            f"--renderer={renderer_ckpt}"])
        return job, trajectory, command

    responder, agent_traj, select_agent = responder_job("streaming")
    offline, offline_traj, select_offline = responder_job("offline")
    continuer_corpus = work_dir / "continuer_corpus"
    continuer_corpus_cmd = [sys.executable, "-m", "wavebabble.corpus", f"--out_dir={continuer_corpus}",
                            *CONTINUER_CORPUS_FLAGS, "--progress=false"]
    if not (continuer_corpus / MANIFEST_NAME).is_file():
        sh(continuer_corpus_cmd)
    continuer_ckpt = continuer_dir / "ckpt" / f"ckpt-{CONTINUER_STEPS}"
    continuer = train(continuer_dir, [sys.executable, "-m", "train.train_continuer", f"--logdir={continuer_dir}",
                                      f"--data_dir={continuer_corpus}", f"--steps={CONTINUER_STEPS}",
                                      f"--seed={seed}"], Path(f"{continuer_ckpt}.index"))
    export = [sys.executable, "-m", "wavebabble.export", f"--planner={planner_ckpt}", f"--renderer={renderer_ckpt}",
              f"--responder={agent_traj['chosen']}", f"--offline_responder={offline_traj['chosen']}",
              f"--continuer={continuer_ckpt}", f"--out={model}", "--overwrite"]
    sh(export)
    return {"generator": TWO_STAGE_NAME, "seed": seed,
            "jobs": {"renderer": {**renderer, "steps": RENDERER_STEPS},
                     "planner": {**planner, "steps": PLANNER_STEPS},
                     "responder": {**responder, "steps": RESPONDER_STEPS, "corpus": shown(corpus_cmd)},
                     "offline_responder": {**offline, "steps": RESPONDER_STEPS, "corpus": shown(corpus_cmd)},
                     "continuer": {**continuer, "steps": CONTINUER_STEPS, "corpus": shown(continuer_corpus_cmd)}},
            "train_steps": PLANNER_STEPS,
            "train_wall_s": round(sum(j["train_wall_s"] for j in (renderer, planner, responder, offline, continuer)),
                                  1),
            "chosen_step": traj["chosen_step"], "choose_by": traj["choose_by"], "held_out": held_out(traj),
            "responder_chosen_step": agent_traj["chosen_step"],
            "responder_held_out": responder_held_out(agent_traj),
            "offline_responder_chosen_step": offline_traj["chosen_step"],
            "offline_responder_held_out": responder_held_out(offline_traj),
            "commands": {"train_renderer": renderer["command"], "train_planner": planner["command"],
                         "select": select_planner, "agent_corpus": shown(corpus_cmd), "train_responder": responder["command"],
                         "select_responder": select_agent, "train_offline_responder": offline["command"],
                         "select_offline_responder": select_offline, "continuer_corpus": shown(continuer_corpus_cmd),
                         "train_continuer": continuer["command"],
                         "export": shown(export)}}


def train_wavegan(work_dir: Path, preset: str, seed: int, model: Path) -> dict:
    """Steps 1-3 for the WaveGAN generator -> the record's training part."""
    logdir = work_dir / f"{preset}_seed{seed}"
    trained = train(logdir, [sys.executable, "-m", "train.train", f"--preset={preset}", f"--logdir={logdir}",
                             f"--seed={seed}", f"--save_every={SAVE_EVERY}", f"--max_to_keep={MAX_TO_KEEP}"],
                    logdir / "export" / "saved_model.pb")
    traj, commands = select_and_export(
        work_dir, [f"--logdir={logdir}"],
        lambda ckpt: [f"--logdir={logdir}", f"--checkpoint={ckpt}", f"--out={model}", "--overwrite"], logdir)
    cfg = json.loads((logdir / CONFIG_NAME).read_text())
    return {"generator": "wavegan", "preset": cfg["name"], "config_sha256": config_sha256(cfg), "seed": seed,
            "train_steps": cfg["train_steps"], "train_wall_s": trained["train_wall_s"], "commit": trained["commit"],
            "chosen_step": traj["chosen_step"], "choose_by": traj["choose_by"], "held_out": held_out(traj),
            "commands": {"train": trained["command"], **commands}}


def select(trajectory: Path, args: list[str]) -> tuple[dict, str]:
    """Run `python -m <args> --trajectory_json=<trajectory>` (a checkpoint selection) -> (its trajectory, the
    command as shown)."""
    cmd = [sys.executable, "-m", *args, f"--trajectory_json={trajectory}"]
    sh(cmd)
    return json.loads(trajectory.read_text()), shown(cmd)


def select_and_export(work_dir: Path, select_flags: list[str], export_flags, run_dir: Path) -> tuple[dict, dict]:
    """eval.select_checkpoint with `select_flags` (its trajectory in WORK/TRAJECTORY), then wavebabble.export with
    export_flags(<run_dir>/ckpt/ckpt-<chosen>) -> (the trajectory, {"select", "export": commands as shown})."""
    traj, select_cmd = select(work_dir / TRAJECTORY, ["eval.select_checkpoint", *select_flags])
    chosen = run_dir / "ckpt" / f"ckpt-{traj['chosen_step']}"
    export = [sys.executable, "-m", "wavebabble.export", *export_flags(chosen)]
    sh(export)
    return traj, {"select": select_cmd, "export": shown(export)}


def agent_headline(result: dict) -> dict:
    """The figures a record keeps from eval.agent's JSON: per corpus the agent's and the controls' FTO
    Wasserstein distance and overlap share, the speeds; the continuation correlations, monologues and timing score."""
    out = {}
    for corpus, r in result["corpora"].items():
        out[corpus] = {cond: {k: r[cond][k] for k in ("fto_wasserstein_s", "overlap_share_of_speech")}
                       for cond in ("agent", "other_dialogue", "unconditional", "real")}
        out[corpus]["offline_real_time_factor"] = r["offline_real_time_factor"]
        if "streaming" in r:
            out[corpus]["streaming"] = r["streaming"]
    if "continuation" in result:
        c = result["continuation"]
        out["continuation"] = {k: c[k] for k in ("agent", "real_ceiling", "other_dialogue", "dialogues", "monologues",
                                                 "real_monologues", "continuation_timing_score")}
    return out


def responder_held_out(traj: dict) -> dict:
    """{step: the RESPONDER_HELD_OUT figures} of every checkpoint select_responder scored."""
    return {str(c["step"]): {k: c.get(k) for k in RESPONDER_HELD_OUT} for c in traj["checkpoints"]}


def held_out(traj: dict) -> dict:
    """{step: the HELD_OUT figures} of every checkpoint select_checkpoint scored."""
    return {str(c["step"]): {k: c.get(k) for k in HELD_OUT} for c in traj["checkpoints"]}


def ship(generator: str, preset: str, seed: int, work_dir: Path, num_clips: int, out: Path) -> dict:
    from wavebabble.corpus.default import default_corpus_dir

    work_dir = work_dir.expanduser().resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    corpus = default_corpus_dir()
    name = TWO_STAGE_NAME if generator == TWO_STAGE_NAME else preset
    model = pretrained.model_dir(name, out)
    if generator == TWO_STAGE_NAME:
        trained = train_two_stage(work_dir, seed, model)
    else:
        trained = train_wavegan(work_dir, preset, seed, model)
    generated, report_dir = work_dir / "generated", work_dir / "report"
    gen = [sys.executable, "-m", "wavebabble.generate", f"--model={model}", f"--num={num_clips}",
           f"--seed={REPORT_SEED}", f"--out_dir={generated}", "--overwrite"]
    sh(gen)
    report = [sys.executable, "-m", "eval.report", f"--generated={generated}", f"--reference={corpus}",
              f"--out={report_dir}", "--overwrite"]
    sh(report)
    commands = {**trained["commands"], "generate": shown(gen), "report": shown(report)}
    agent = None
    if generator == TWO_STAGE_NAME:
        agent_out = work_dir / "agent"
        agent_cmd = [sys.executable, "-m", "eval.agent", f"--model={model}", f"--out={agent_out}"]
        sh(agent_cmd)
        commands["agent"] = shown(agent_cmd)
        agent = agent_headline(json.loads(Path(f"{agent_out}.json").read_text()))
    record = {"name": name, **trained, "commands": commands,
              "evaluation": f"{num_clips} clips (seed {REPORT_SEED}) vs the embedded corpus (eval.report)",
              "figures": headline(json.loads((report_dir / "report.json").read_text())),
              **({"agent_figures": agent} if agent else {}),
              "shipped": time.strftime("%Y-%m-%d")}
    path = pretrained.record_path(name, out)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"shipped {model} and its record {path}:\n" + json.dumps(record["figures"], indent=2), flush=True)
    return record


def main(argv) -> None:
    del argv
    if not Path(FLAGS.out).is_dir():
        raise app.UsageError(f"--out={FLAGS.out}: not a folder")
    with cli_errors("python -m eval.ship_model"):
        ship(FLAGS.generator, FLAGS.preset, FLAGS.seed, Path(FLAGS.work_dir), FLAGS.num_clips, Path(FLAGS.out))


def run() -> None:
    # no runtime.tune: this process only starts the tools (each tunes itself) and reads JSON, so TensorFlow never
    # starts here (cli_errors starts it only in a tuned process)
    define_flags()
    run_main(main, "python -m eval.ship_model")


if __name__ == "__main__":
    run()

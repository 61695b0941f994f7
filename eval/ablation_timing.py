"""Ablation: does the turn-timing discriminator make generated turn-taking realistic?

    python -m eval.ablation_timing --corpus=babble --seeds=0,1,2 --select_checkpoint
    python -m eval.ablation_timing --corpus=fsdd --seeds=0,1,2 --select_checkpoint

For one corpus, trains the same preset twice with the same seed, data and step budget (`python -m train.train`,
the job users run): once as the preset is (with its turn-timing discriminator) and once with
`--set=timing_weight=0`. By default nothing else is changed, so the result is the preset's; each arm's preset
name and the SHA-256 of its full config (the run's config.json) are recorded next to its result.
Each run's exported SavedModel generates the same number of clips (same latents).
`--seeds=0,1,2` repeats all of it per seed (weights, data order, latents and, for fsdd, the assembled corpus)
and judges the goal on the median over seeds; every seed's table is kept.
Both sets and the training corpus are measured the same way (hard VAD -> DESIGN.md timing statistics, as
`eval.timing` does). The corpus is measured on real clips of the model's slice length drawn by the input
pipeline (`data.load_clips`), so clip-edge effects (edge silences are not gaps, IPUs cut at the edges) are the
same for both sides. Results: `<out>.md` and `<out>.json` (one section per corpus, merged into existing files),
with the exact command, step budget, wall time and core count.

`--select_checkpoint` reports each arm at the checkpoint with the lowest timing error on held-out clips
(`eval.select_checkpoint`; latents and real clips of another seed than the reported ones) instead of the last one,
both arms alike, with the last checkpoint's error next to it.

Corpora: `babble` = the embedded default corpus; `fsdd` = dialogues assembled from the Free Spoken Digit Dataset
(real voices, placed by the turn-taking model; built once into --work_dir); or `--data_dir` for any folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from absl import flags

from eval.provenance import config_sha256, source_commit
from wavebabble import runtime
from wavebabble.cli import run_main
from wavebabble import timing
from wavebabble.config import PRESETS, get_config
from wavebabble.errors import DataError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "eval" / "results" / "ablation_timing"
DEFAULT_FSDD = REPO.parent / "shared" / "data" / "fsdd" / "recordings"
ARMS = ("with_timing_d", "without_timing_d")
FSDD_DIALOGUES = 40          # assembled FSDD corpus: dialogues x seconds (40 min of real-voice dialogue)
FSDD_SECONDS = 60
GOAL_MRE = 0.15              # issue 7: mean relative error with the timing D <= 15 % ...
GOAL_RATIO = 0.5             # ... and at most half of the error without it
FLOOR_SEED_OFFSET = 1000     # the second real sample (sampling floor) uses seed + this
SELECT_SEED_OFFSET = 2000    # --select_checkpoint: latents and real sample that choose a checkpoint use seed + this
TRAIN_WALL_FILE = "ablation_train_wall.json"   # in each run dir: how long its training took

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Define this CLI's flags (only when it runs: tests and other tools import this module)."""
    flags.DEFINE_enum("corpus", "babble", ["babble", "fsdd", "custom"], "Training corpus: the embedded babble "
                      "corpus, FSDD-assembled dialogues, or --data_dir.")
    flags.DEFINE_string("data_dir", None, "Folder of stereo dialogues for --corpus=custom.")
    flags.DEFINE_string("fsdd_dir", str(DEFAULT_FSDD), "FSDD recordings folder for --corpus=fsdd.")
    flags.DEFINE_enum("preset", "demo", sorted(PRESETS), "Config preset both arms train.")
    flags.DEFINE_integer("train_steps", None, "Generator steps per arm. Default: the preset's step budget.",
                         lower_bound=1)
    flags.DEFINE_integer("num_clips", 200, "Clips generated per arm (and real clips measured).", lower_bound=1)
    flags.DEFINE_list("seeds", ["0"], "Seeds, comma-separated; each is one full repetition shared by both arms "
                      "(weights, data order, latents; for fsdd also the assembled corpus). The goal is judged on the "
                      "median over seeds.")
    flags.DEFINE_multi_string("train_flag", [], "Extra flags for both training runs, e.g. --train_flag=--g_lr=1e-4.")
    flags.DEFINE_multi_string("timing_flag", [], "Extra flags for the 'with' arm only: settings of the turn-timing "
                              "D (e.g. --timing_flag=--set=timing_turn_stats=true). The 'without' arm does not build "
                              "that D, so these neither change nor retrain it.")
    flags.DEFINE_string("work_dir", str(REPO / "runs" / "ablation"), "Where run dirs and assembled corpora go.")
    flags.DEFINE_string("out", str(DEFAULT_OUT), "Results path without extension (.md and .json are written).")
    flags.DEFINE_boolean("select_checkpoint", False, "Evaluate each arm at the checkpoint with the lowest timing error "
                         "on held-out clips (eval.select_checkpoint: latents and real clips drawn with seed + "
                         f"{SELECT_SEED_OFFSET}, apart from the reported ones) instead of the last; both arms alike. "
                         "The last checkpoint's error is reported next to it.")
    flags.DEFINE_integer("select_clips", 100, "--select_checkpoint: clips per checkpoint (and real clips) scored.",
                         lower_bound=1)
    flags.DEFINE_boolean("resume", True, "Reuse finished runs in --work_dir (a run dir with an export) instead of "
                         "retraining; unfinished runs resume from their last checkpoint.")


def sh(cmd: list[str]) -> None:
    """Run another wavebabble tool from the repo root (runtime.run_tool: it picks its own runtime settings)."""
    runtime.run_tool(cmd, REPO)


def parse_seeds(values: list[str]) -> list[int]:
    """--seeds -> distinct ints, rejected up front (before any training) when malformed."""
    try:
        seeds = [int(v) for v in values]
    except ValueError:
        raise DataError(f"--seeds={','.join(values)}: expected comma-separated integers") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise DataError(f"--seeds={','.join(values)}: expected at least one seed and no repeats")
    return seeds


def corpus_dir(work_dir: Path, seed: int) -> Path | None:
    """The training folder for --corpus and one seed (None = the embedded default corpus)."""
    if FLAGS.corpus == "babble":
        return None
    if FLAGS.corpus == "custom":
        if not FLAGS.data_dir:
            raise DataError("--corpus=custom needs --data_dir")
        return Path(FLAGS.data_dir)
    fsdd = Path(FLAGS.fsdd_dir)
    if not fsdd.is_dir():
        raise DataError(f"--fsdd_dir={fsdd} does not exist (needs ../shared/data/fsdd/recordings)")
    out = work_dir / f"fsdd_corpus_{FSDD_DIALOGUES}x{FSDD_SECONDS}s_seed{seed}"
    if not (out / "manifest.jsonl").is_file():
        sh([sys.executable, "-m", "wavebabble.corpus", "--kind=assemble", f"--utterances_dir={fsdd}",
            f"--out_dir={out}", f"--num_dialogues={FSDD_DIALOGUES}", f"--seconds_each={FSDD_SECONDS}",
            "--sample_rate=8000", f"--seed={seed}", "--overwrite"])
    return out


def arm_flags(arm: str) -> list[str]:
    """Extra training flags of one arm: --train_flag for both, --timing_flag for the 'with' arm only."""
    return [*FLAGS.train_flag, *(FLAGS.timing_flag if arm == ARMS[0] else [])]


def arm_config(cfg, arm: str):
    """The Config one arm trains: the preset (with --train_steps), and timing_weight=0 for the 'without' arm.
    (Extra --train_flag / --timing_flag settings are applied by train.train and show in the run's config.json.)"""
    return cfg.replace(timing_weight=0.0) if arm == ARMS[1] else cfg


def run_name(arm: str, cfg, seed: int) -> str:
    """Run dir name; a hash of the arm's config and extra flags keeps --resume from reusing a finished run that
    was trained with other settings."""
    name = f"{FLAGS.corpus}_{arm}_steps{cfg.train_steps}_seed{seed}"
    key = json.dumps([arm_config(cfg, arm).to_dict(), arm_flags(arm)], sort_keys=True)
    return name + "_" + hashlib.sha1(key.encode()).hexdigest()[:8]


def train_arm(arm: str, logdir: Path, data_dir: Path | None, cfg, seed: int) -> tuple[float | None, bool]:
    """Train one arm (resuming/reusing when allowed) -> (training wall time in seconds, reused).

    The time is written to <logdir>/TRAIN_WALL_FILE, so a reused run reports the time it took when it was
    trained (None when that was not recorded)."""
    wall_file = logdir / TRAIN_WALL_FILE
    if (logdir / "export" / "saved_model.pb").is_file() and FLAGS.resume:
        print(f"reusing finished run {logdir}", flush=True)
        recorded = json.loads(wall_file.read_text()) if wall_file.is_file() else {}
        trained_at, now = recorded.get("commit"), source_commit()
        if trained_at and now and trained_at != now:
            print(f"warning: {logdir} was trained by the code at commit {trained_at[:12]}, this checkout is at "
                  f"{now[:12]}: its results are that code's (remove the run dir to retrain)", flush=True)
        return recorded.get("train_wall_s"), True
    if logdir.exists() and not FLAGS.resume:
        raise DataError(f"{logdir} exists; pass --resume or remove it")
    steps = cfg.train_steps
    cmd = [sys.executable, "-m", "train.train", f"--preset={FLAGS.preset}", f"--logdir={logdir}",
           f"--train_steps={steps}", f"--seed={seed}", *(["--set=timing_weight=0"] if arm == ARMS[1] else []),
           f"--save_every={max(1, steps // 4)}", f"--summary_every={max(1, steps // 4)}", "--log_every=50",
           *arm_flags(arm)]
    if data_dir is not None:
        cmd.append(f"--data_dir={data_dir}")
    commit = source_commit()          # the code the training starts with (HEAD may move while it runs)
    t0 = time.time()
    sh(cmd)
    wall = time.time() - t0
    wall_file.write_text(json.dumps({"train_wall_s": wall, "command": shlex.join(cmd), "commit": commit}) + "\n")
    return wall, False


def generated_clips(export_dir: Path, num: int, seed: int) -> tuple[np.ndarray, dict]:
    """[num, slice_len, 2] clips from an exported model (same latents for every arm) and its metadata."""
    from wavebabble.generate import DEFAULT_BATCH, generate_clips, load_model

    loaded, meta = load_model(export_dir)
    clips = np.stack([a for _, a in generate_clips(loaded, meta, num, seed, DEFAULT_BATCH)])
    return clips, meta


SOUND_KEYS = ("logmel_fd", "two_sample_accuracy", "voiced_fraction", "syllable_modulation")
SOUND_VOICING_SECONDS = 30.0       # active audio pyin reads per arm (and as much of the corpus sample)


def sound_rows(clips: np.ndarray, real: np.ndarray, sample_rate: int, frame_hz: int, seed: int) -> tuple[dict, dict]:
    """(the arm's sound measures, the corpus column's: real-vs-real floors and the real sample's own values)."""
    from wavebabble.sound_measures import reference_summary, sound_measures, sound_summary

    s = sound_summary(sound_measures(list(clips), list(real), sample_rate, np.random.default_rng(seed), frame_hz,
                                     voicing_seconds=SOUND_VOICING_SECONDS))
    return {k: s[k] for k in SOUND_KEYS}, reference_summary(s)


def stats_row(stats: timing.TimingStats, dist: dict | None, env_corr: np.ndarray) -> dict:
    row = {k: stats.summary.get(k) for k in timing.SUMMARY_KEYS}
    finite = env_corr[np.isfinite(env_corr)]
    row["envelope_corr_median"] = float(np.median(finite)) if finite.size else None
    if dist is not None:
        row.update({k: dist.get(k) for k in ("mean_relative_error", "fto_wasserstein_s", "fto_relative_wasserstein",
                                             "timing_score", "ipu_wasserstein_s", "pause_wasserstein_s")})
    return row


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, (list, tuple)):
        return "/".join(fmt(x) for x in v)
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def train_minutes(r: dict, arm: str) -> str:
    wall = r["train_wall_s"].get(arm)
    text = "training time not recorded" if wall is None else f"{wall / 60:.1f} min training"
    return text + (" (an earlier run, reused)" if arm in r.get("reused_runs", []) else "")


def config_label(r: dict, arm: str) -> str:
    """'with_timing_d: demo 3f2a9c01b2d4' (the preset name and the first 12 hex digits of the config hash)."""
    c = r.get("configs", {}).get(arm)
    return f"{arm}: {c['preset']} {c['config_sha256'][:12]}" if c else f"{arm}: not recorded"


def goal_met(mre_with: float, ratio: float | None) -> bool:
    return bool(mre_with <= GOAL_MRE and ratio is not None and ratio <= GOAL_RATIO)


def stats_table(r: dict) -> list[str]:
    """One seed's statistics: corpus column and both arms."""
    keys = list(r["rows"]["corpus"])
    extra = ["mean_relative_error", "fto_wasserstein_s", "fto_relative_wasserstein", "timing_score",
             "ipu_wasserstein_s", "pause_wasserstein_s",
             *[k for k in SOUND_KEYS if k not in keys and any(k in r["rows"][a] for a in ARMS)]]
    lines = ["| statistic | corpus | " + " | ".join(ARMS) + " |", "|---|---|" + "---|" * len(ARMS)]
    for k in keys + extra:
        lines.append(f"| {k} | {fmt(r['rows']['corpus'].get(k))} | "
                     + " | ".join(fmt(r["rows"][a].get(k)) for a in ARMS) + " |")
    return lines


def selection_table(r: dict) -> list[str]:
    """--select_checkpoint: per seed and arm, the held-out error of every checkpoint, the one chosen and the
    reported error of the last checkpoint (what the table above would show without selection)."""
    seeds = [str(s) for s in r["seeds"] if r["runs"][str(s)].get("selection")]
    if not seeds:
        return []
    by_score = all("held_out_score" in r["runs"][s]["selection"][a] for s in seeds for a in ARMS)
    measure = "timing score (MRE + relative FTO Wasserstein)" if by_score else "MRE"
    lines = [f"Checkpoint selection (`eval.select_checkpoint`): each arm is reported at the checkpoint with the "
             f"lowest held-out {measure} on {r.get('select_clips', '?')} held-out clips (latents and real clips drawn with "
             f"seed + {SELECT_SEED_OFFSET}, not the reported ones); both arms alike. Median MRE with timing D of the "
             f"last checkpoints instead: {fmt(r['summary'].get('mre_with_last_checkpoint'))}.", "",
             f"| seed | arm | held-out {measure} per checkpoint (step: value) | chosen | MRE reported | MRE of the "
             "last checkpoint |", "|---|---|---|---|---|---|"]
    for seed in seeds:
        run = r["runs"][seed]
        for arm in ARMS:
            sel = run["selection"][arm]
            held = ", ".join(f"{k}: {fmt(v)}" for k, v in sel["held_out_score" if by_score else "held_out_mre"].items())
            lines.append(f"| {seed} | {arm} | {held} | {sel['chosen_step']} | "
                         f"{fmt(run['distances'][arm]['mean_relative_error'])} | {fmt(sel['mre_last'])} |")
    return lines + [""]


def markdown(results: dict) -> str:
    lines = ["# Turn-timing discriminator ablation", "",
             "Generated by `eval/ablation_timing.py`; each section is one corpus. Statistics follow DESIGN.md "
             "(hard VAD, 0.2 s bridging); the corpus column is real clips of the model's slice length. "
             "`mean_relative_error` is over the four per-minute rates, both speech ratios and the overlap ratio "
             "(generated vs corpus). `envelope_corr_median` (not in the error) is the median over clips of the "
             "correlation between the two channels' frame energies in dB: gain-independent, negative when the "
             "speakers take turns, near +1 when one channel carries a copy of the other's envelope. Sound rows "
             "(wavebabble.sound_measures): log-mel Fréchet distance and two-sample classifier accuracy against the "
             "corpus sample (in the corpus column: its two halves against each other, the floor), voiced fraction "
             "and syllable-rate modulation of active sound. With several "
             "seeds, each seed is a full repetition (both arms retrained, and for fsdd a newly assembled corpus) "
             "and the goal is judged on the medians over seeds.", ""]
    for name, r in results.items():
        seeds = r["seeds"]
        lines += [f"## Corpus: {name}", "", f"- command: `{r['command']}`",
                  f"- preset `{r['preset']}`, step budget {r['train_steps']} generator steps per arm, seeds "
                  f"{', '.join(map(str, seeds))}, {r['num_clips']} clips per arm of {r['clip_seconds']:.2f} s",
                  f"- wall time: {r['wall_time_s'] / 60:.1f} min for this command; machine: {r['cpu_count']} CPU "
                  f"cores, {r['machine']}",
                  "- sampling floor: a second real sample of the same size scored against the corpus column "
                  "(no model can be expected to do better)", "",
                  "| seed | MRE with timing D | MRE without | ratio | FTO Wasserstein (s) with / without | "
                  "sampling floor | goal | training time | config (preset, SHA-256 of config.json) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for seed in seeds:
            s = r["runs"][str(seed)]
            g = s["goal"]
            fto_w = " / ".join(fmt(s["distances"][a].get("fto_wasserstein_s")) for a in ARMS)
            lines.append(f"| {seed} | {fmt(g['mre_with'])} | {fmt(g['mre_without'])} | {fmt(g['ratio'])} | {fto_w} | "
                         f"{fmt(s['mre_real_vs_real'])} | {'met' if g['met'] else 'not met'} | "
                         + "; ".join(f"{a}: {train_minutes(s, a)}" for a in ARMS) + " | "
                         + "; ".join(config_label(s, a) for a in ARMS) + " |")
        m = r["summary"]
        lines.append(f"| **median** | **{fmt(m['mre_with'])}** | **{fmt(m['mre_without'])}** | "
                     f"**{fmt(m['ratio'])}** | | {fmt(m['mre_real_vs_real'])} | | | |")
        lines += ["", f"Goal (MRE with timing D <= {GOAL_MRE:.0%} and <= {GOAL_RATIO:.0%} of the MRE without), on "
                  f"the medians over {len(seeds)} seed(s): with {fmt(m['mre_with'])}, without {fmt(m['mre_without'])}, "
                  f"ratio {fmt(m['ratio'])} -> **{'met' if m['met'] else 'not met'}** (met by {m['seeds_met']} of "
                  f"{len(seeds)} seeds on their own; worst seed with timing D: {fmt(m['mre_with_max'])})", ""]
        lines += selection_table(r)
        for seed in seeds:
            lines += [f"### {name}, seed {seed}", "", *stats_table(r["runs"][str(seed)]), ""]
    return "\n".join(lines) + "\n"


def ablate_seed(seed: int, cfg, work_dir: Path) -> dict:
    """Both arms for one seed: train (or reuse), generate, measure against that seed's real sample."""
    from wavebabble.data import index_sources, load_clips
    from wavebabble.measure import envelope_correlation, measure_audio

    data_dir = corpus_dir(work_dir, seed)
    index = index_sources(str(data_dir) if data_dir else None, sample_rate=cfg.sample_rate)  # once for both samples

    def real_clips(clip_seed: int, num: int = FLAGS.num_clips) -> np.ndarray:
        return load_clips(index=index, sample_rate=cfg.sample_rate, slice_len=cfg.slice_len, num_clips=num,
                          seed=clip_seed)

    real = real_clips(seed)
    ref = measure_audio(real, cfg.sample_rate, cfg.frame_hz)
    rows = {"corpus": stats_row(ref, None, envelope_correlation(real, cfg.sample_rate, cfg.frame_hz))}
    # sampling floor: the error of a second, independent real sample of the same size (no model is better)
    other = measure_audio(real_clips(seed + FLOOR_SEED_OFFSET), cfg.sample_rate, cfg.frame_hz)
    floor = timing.timing_distance(other, ref)["mean_relative_error"]
    print(f"seed {seed}: sampling floor (second real sample of {FLAGS.num_clips} clips): MRE {floor:.3f}", flush=True)
    if FLAGS.select_checkpoint:
        select_ref = measure_audio(real_clips(seed + SELECT_SEED_OFFSET, FLAGS.select_clips), cfg.sample_rate,
                                   cfg.frame_hz)
    train_wall, reused, dists, selection, configs = {}, [], {}, {}, {}
    for arm in ARMS:
        logdir = work_dir / run_name(arm, cfg, seed)
        train_wall[arm], was_reused = train_arm(arm, logdir, data_dir, cfg, seed)
        if was_reused:
            reused.append(arm)
        trained = json.loads((logdir / "config.json").read_text())
        configs[arm] = {"preset": trained.get("name"), "config_sha256": config_sha256(trained), "config": trained}
        export = logdir / "export"
        if FLAGS.select_checkpoint:
            selection[arm] = select_arm_checkpoint(logdir, select_ref, seed, ref)
            export = Path(selection[arm]["export"])
        clips, meta = generated_clips(export, FLAGS.num_clips, seed)
        stats = measure_audio(clips, meta["sample_rate"], meta["frame_hz"])
        dists[arm] = timing.timing_distance(stats, ref)
        if arm in selection and selection[arm]["mre_last"] is None:      # the last checkpoint was chosen
            selection[arm]["mre_last"] = dists[arm]["mean_relative_error"]
        rows[arm] = stats_row(stats, dists[arm], envelope_correlation(clips, meta["sample_rate"], meta["frame_hz"]))
        arm_sound, corpus_sound = sound_rows(clips, real, meta["sample_rate"], meta["frame_hz"], seed)
        rows[arm].update(arm_sound)
        rows["corpus"].update(corpus_sound)
        print(timing.stats_table({"corpus": ref, arm: stats}, dists[arm]), flush=True)
    mre_with = dists[ARMS[0]]["mean_relative_error"]
    mre_without = dists[ARMS[1]]["mean_relative_error"]
    ratio = mre_with / mre_without if mre_without else None
    print(f"seed {seed}: MRE with timing D {mre_with:.3f}, without {mre_without:.3f}", flush=True)
    return {"seed": seed, "data_dir": str(data_dir) if data_dir else "embedded default corpus",
            "train_wall_s": train_wall, "reused_runs": reused, "rows": rows, "distances": dists, "configs": configs,
            "mre_real_vs_real": floor, "selection": selection,
            "goal": {"mre_with": mre_with, "mre_without": mre_without, "ratio": ratio,
                     "met": goal_met(mre_with, ratio)}}


def select_arm_checkpoint(logdir: Path, select_ref: timing.TimingStats, seed: int, ref: timing.TimingStats
                          ) -> dict:
    """--select_checkpoint for one arm: the checkpoint with the lowest held-out error, exported; with the error
    of the last checkpoint on the reported sample (None here when the last one is chosen: the caller measures
    it as the chosen one)."""
    from eval.select_checkpoint import select_checkpoint
    from wavebabble.measure import measure_audio

    chosen, export, scores = select_checkpoint(logdir, select_ref, FLAGS.select_clips, seed + SELECT_SEED_OFFSET)
    mre_last = None
    if chosen.step != scores[-1].step:
        clips, meta = generated_clips(logdir / "export", FLAGS.num_clips, seed)
        last = measure_audio(clips, meta["sample_rate"], meta["frame_hz"])
        mre_last = timing.timing_distance(last, ref)["mean_relative_error"]
    print(f"{logdir.name}: chose checkpoint {chosen.step} (held-out timing score "
          + ", ".join(f"{s.step}: {s.score:.3f}" for s in scores) + ")", flush=True)
    return {"chosen_step": chosen.step, "export": str(export), "mre_last": mre_last,
            "held_out_score": {str(s.step): s.score for s in scores},
            "held_out_mre": {str(s.step): s.mre for s in scores}}


def seed_summary(runs: list[dict]) -> dict:
    """Medians over seeds (the goal is judged on these) and how many seeds meet the goal on their own."""
    def median(key: str) -> float | None:
        values = [r["goal"][key] for r in runs if r["goal"][key] is not None]
        return float(np.median(values)) if values else None

    mre_with, ratio = median("mre_with"), median("ratio")
    last = [r["selection"][ARMS[0]]["mre_last"] for r in runs if r.get("selection")]
    return {"mre_with": mre_with, "mre_without": median("mre_without"), "ratio": ratio,
            "mre_with_last_checkpoint": float(np.median(last)) if last else None,
            "mre_real_vs_real": float(np.median([r["mre_real_vs_real"] for r in runs])),
            "mre_with_max": max(r["goal"]["mre_with"] for r in runs),
            "seeds_met": sum(r["goal"]["met"] for r in runs), "met": goal_met(mre_with, ratio)}


def main(argv) -> None:
    del argv
    t_start = time.time()
    seeds = parse_seeds(FLAGS.seeds)
    work_dir = Path(FLAGS.work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg = get_config(FLAGS.preset, **({"train_steps": FLAGS.train_steps} if FLAGS.train_steps else {}))
    if cfg.timing_weight <= 0:
        raise DataError(f"--preset={FLAGS.preset} has no turn-timing discriminator (timing_weight 0): nothing to "
                        f"ablate")
    runtime.start_tensorflow()
    runs = [ablate_seed(seed, cfg, work_dir) for seed in seeds]
    summary = seed_summary(runs)
    result = {
        "command": shlex.join([sys.executable.split("/")[-1], "-m", "eval.ablation_timing", *sys.argv[1:]]),
        "corpus": FLAGS.corpus, "preset": FLAGS.preset, "train_steps": cfg.train_steps, "seeds": seeds,
        "num_clips": FLAGS.num_clips, "select_checkpoint": FLAGS.select_checkpoint,
        "select_clips": FLAGS.select_clips if FLAGS.select_checkpoint else None,
        "timing_weight_with": cfg.timing_weight,
        "train_flags": FLAGS.train_flag,
        "timing_flags": FLAGS.timing_flag, "clip_seconds": cfg.clip_seconds,
        "wall_time_s": time.time() - t_start, "cpu_count": os.cpu_count(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "runs": {str(r["seed"]): r for r in runs}, "summary": summary,
    }
    out = Path(FLAGS.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path = out.with_suffix(".json")
    results = json.loads(json_path.read_text()) if json_path.is_file() else {}
    for name in [k for k, v in results.items() if "seeds" not in v]:
        print(f"dropping the '{name}' section of {json_path}: written by an older version (one seed, no "
              "per-seed table); re-run that corpus to restore it", flush=True)
        del results[name]
    results[FLAGS.corpus] = result
    json_path.write_text(json.dumps(results, indent=2, allow_nan=False, default=float) + "\n")
    out.with_suffix(".md").write_text(markdown(results))
    print(f"wrote {json_path} and {out.with_suffix('.md')}", flush=True)
    print(f"goal {'met' if summary['met'] else 'NOT met'} on the medians over {len(seeds)} seed(s): MRE with "
          f"timing D {summary['mre_with']:.3f}, without {summary['mre_without']:.3f} ({summary['seeds_met']} of "
          f"{len(seeds)} seeds meet it on their own)", flush=True)


def run() -> None:
    runtime.tune("serve", start=False)
    define_flags()
    run_main(main, "python -m eval.ablation_timing")


if __name__ == "__main__":
    run()

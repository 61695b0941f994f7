"""Choose a training run's checkpoint by its timing error (and sound) on held-out clips, and export that checkpoint.

    python -m eval.select_checkpoint --logdir=runs/demo [--data_dir=DIALOGUES] [--num_clips=100] [--seed=1000] \
        [--trajectory_json=FILE] [--choose_by=timing|timing_and_sound] [--min_step=N]
    python -m eval.select_checkpoint --logdir=PLANNER_RUN --renderer=RENDERER_RUN/ckpt/ckpt-N [--planner_dim=8] \
        [--renderer_dim=16] ...        (the two-stage generator: each planner checkpoint with this renderer)

A GAN does not converge to a point: its turn-taking keeps moving while it trains (measured in the timing ablation:
one run at 0.20 mean relative error after 1500 steps and 0.46 after 2000, its speech chopped into bursts), so the
last checkpoint is not necessarily the best one. For every checkpoint kept in <logdir>/ckpt (the moving average of
G when the run kept one, as the export does) this generates `num_clips` clips from latents drawn with `seed`,
measures them (hard VAD -> DESIGN.md timing statistics) and scores them against real clips of the corpus drawn
with the same `seed` by `timing.timing_distance`'s ``timing_score``: the mean relative error of rates and ratios
plus the FTO Wasserstein distance relative to the real FTOs' spread, so a checkpoint whose gaps are far too long
is not chosen for its rates alone. The checkpoint with the lowest score is exported to
<logdir>/export_step<N> (an existing export there is reused; nothing else is written).

The CLI also measures each checkpoint's sound (wavebabble.sound_measures against the same real clips; the voiced
fraction reads SELECT_VOICING_SECONDS of audio) and prints timing and sound per checkpoint: the run's trajectory
(--trajectory_json writes it). The choice (CHOICE_RULES): `timing` (the default) takes the lowest timing score;
`timing_and_sound` the lowest sum of the checkpoint's rank by timing score and its rank by log-mel FD (no weight to
tune: a checkpoint wins by being good at both, and a sound collapse or a timing collapse both cost it).
With --renderer, --logdir is a planner run of train.train_mel_gan (ckpt/ only) and each of its checkpoints is
joined with that renderer checkpoint (models/two_stage.py) and scored on clips of the two-stage export's length.

Report the chosen model on clips and real data drawn with another seed than the one that chose it: the score
that picks a checkpoint is biased low (the minimum of several noisy scores); a fresh sample is not.

Read the printed rates before trusting a choice: the mean relative error charges at most 1 for a statistic a
model never produces and without limit for one it overproduces, so a near-silent checkpoint (no gaps, one speaker
mute) can score ~1 and beat one that babbles over the other speaker (measured: every checkpoint chosen for the
ablation's runs without the timing D, eval/results/ablation_timing_notes.md, ninth session).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import run_main
from wavebabble import timing
from wavebabble.errors import ConfigError, WavebabbleError

EXPORT_PREFIX = "export_step"      # <logdir>/export_step<N>: the export of checkpoint N
DEFAULT_CLIPS = 100                # clips per checkpoint (and real clips) scored
DEFAULT_SEED = 1000                # latents and real sample; keep it apart from the seed a final evaluation uses
GEN_BATCH = 25                     # clips per generator call while scoring
SELECT_VOICING_SECONDS = 20.0      # audio the voiced fraction reads per checkpoint (pyin is slow)
PRINTED_SOUND = ("logmel_fd", "two_sample_accuracy", "voiced_fraction", "syllable_modulation")
PRINTED_RATES = ("ipu_per_min", "pause_per_min", "gap_per_min", "overlap_per_min")   # CLI table columns
CHOICE_RULES = ("timing", "timing_and_sound")   # best(): lowest timing score, or lowest rank sum (timing, FD)


@dataclass
class CheckpointScore:
    step: int                      # generator step of the checkpoint
    path: str                      # checkpoint prefix
    score: float                   # timing_score vs the real sample (the choice minimises it)
    mre: float                     # mean relative error of its timing statistics vs the real sample
    fto_wasserstein_s: float | None   # FTO distribution distance (s); None when it makes no speaker change
    summary: dict                  # its timing statistics (timing.TimingStats.summary)
    sound: dict | None = None      # sound_measures.sound_summary vs the real clips (when they were given)


def checkpoint_steps(logdir, min_step: int = 0) -> list[tuple[int, str]]:
    """[(step, checkpoint prefix)] of the checkpoints kept in <logdir>/ckpt at step >= min_step, oldest first.
    ConfigError if none."""
    import tensorflow as tf

    from wavebabble.run_dir import CKPT_SUBDIR

    state = tf.train.get_checkpoint_state(str(Path(logdir) / CKPT_SUBDIR))
    paths = list(state.all_model_checkpoint_paths) if state else []
    kept = sorted((int(p.rsplit("-", 1)[1]), p) for p in paths)
    kept = [(step, p) for step, p in kept if step >= min_step]
    if not kept:
        raise ConfigError(f"--logdir={logdir}: no checkpoints in {Path(logdir) / CKPT_SUBDIR}"
                          + (f" at step >= {min_step}" if min_step else ""))
    return kept


@dataclass
class RunLoader:
    """How to restore a run's generator at one of its checkpoints: load(path) -> (keras generator, Config), and
    export(path, out_dir) -> the SavedModel. v1: a train.train run dir; two-stage: a planner run + a renderer."""
    logdir: str
    renderer: str | None = None         # two-stage: the renderer checkpoint joined with every planner checkpoint
    planner_dim: int = 8
    renderer_dim: int = 16

    def config(self):
        """The Config the clips are made and measured with (the run's, or the two-stage export's)."""
        from wavebabble.config import CONFIG_NAME, Config

        if self.renderer:
            runtime.start_tensorflow()          # wavebabble.export imports it: quietly in a tuned CLI
            from wavebabble.export import two_stage_config

            return two_stage_config(self.planner_dim)
        return Config.from_json(Path(self.logdir) / CONFIG_NAME)

    def load(self, path: str):
        if not self.renderer:
            from wavebabble.export import load_generator_from_logdir

            return load_generator_from_logdir(self.logdir, path)
        from wavebabble.models.two_stage import build_two_stage_generator, restore_two_stage

        planner, renderer = restore_two_stage(path, self.renderer, self.planner_dim, self.renderer_dim)
        return build_two_stage_generator(planner, renderer), self.config()

    def export(self, path: str, out_dir: Path) -> None:
        from wavebabble.export import export_from_logdir, export_two_stage

        if self.renderer:
            export_two_stage(path, self.renderer, out_dir, planner_dim=self.planner_dim,
                             renderer_dim=self.renderer_dim)
        else:
            export_from_logdir(str(self.logdir), str(out_dir), checkpoint=path)


def generate(generator, latent_dim: int, num_clips: int, seed: int) -> np.ndarray:
    """[num_clips, slice_len, nch] clips of a Keras generator from uniform(-1, 1) latents drawn with `seed`."""
    z = np.random.default_rng(seed).uniform(-1.0, 1.0, (num_clips, latent_dim)).astype(np.float32)
    return np.concatenate([generator(z[i:i + GEN_BATCH], training=False).numpy()
                           for i in range(0, num_clips, GEN_BATCH)])


def _loader(run) -> RunLoader:
    return run if isinstance(run, RunLoader) else RunLoader(str(run))


def score_checkpoints(run, real: timing.TimingStats, num_clips: int = DEFAULT_CLIPS,
                      seed: int = DEFAULT_SEED, real_clips: np.ndarray | None = None,
                      min_step: int = 0) -> list[CheckpointScore]:
    """Timing error of every kept checkpoint's generator (same latents for all) against `real`, oldest first;
    with `real_clips` ([N, slice_len, nch], the clips `real` measured) also each checkpoint's sound measures.
    `run`: a train.train run dir, or a RunLoader (a two-stage planner run with its renderer)."""
    from wavebabble.measure import measure_audio

    from wavebabble.quality import logmel
    from wavebabble.sound_measures import sound_measures, sound_summary
    from wavebabble.vad import hard_vad

    run = _loader(run)
    logdir = run.logdir
    scores, ref = [], None
    for step, path in checkpoint_steps(logdir, min_step):
        t0 = time.time()
        generator, cfg = run.load(path)
        clips = generate(generator, cfg.latent_dim, num_clips, seed)
        stats = measure_audio(clips, cfg.sample_rate, cfg.frame_hz)
        d = timing.timing_distance(stats, real)
        sound = None
        if real_clips is not None:
            if ref is None:           # the real clips' log-mel and VAD once, not per checkpoint
                ref = {"ref_feats": [logmel(c, cfg.sample_rate, cfg.frame_hz) for c in real_clips],
                       "ref_vads": [hard_vad(c, cfg.sample_rate, cfg.frame_hz) for c in real_clips]}
            sound = sound_summary(sound_measures(list(clips), list(real_clips), cfg.sample_rate,
                                                 np.random.default_rng(seed), cfg.frame_hz,
                                                 voicing_seconds=SELECT_VOICING_SECONDS, **ref))
        scores.append(CheckpointScore(step, path, d["timing_score"], d["mean_relative_error"], d["fto_wasserstein_s"],
                                      stats.summary, sound))
        print(f"{logdir}: checkpoint {step}: held-out timing score {d['timing_score']:.3f} (MRE "
              f"{d['mean_relative_error']:.3f}, FTO Wasserstein {_seconds(d['fto_wasserstein_s'])}) "
              f"({time.time() - t0:.0f} s)", flush=True)
    return scores


def _seconds(x) -> str:
    return "-" if x is None else f"{x:.3f} s"


def _ranks(values: list[float]) -> list[int]:
    """Rank of each value (0 = lowest; equal values share the lower rank; None ranks last)."""
    key = [np.inf if v is None else v for v in values]
    return [sum(k < v for k in key) for v in key]


def best(scores: list[CheckpointScore], choose_by: str = "timing") -> CheckpointScore:
    """The checkpoint CHOICE_RULES[choose_by] picks; among ties the lower timing score, then the later checkpoint.
    `timing_and_sound` needs each score's sound (log-mel FD); ConfigError without it."""
    if choose_by == "timing":
        return min(scores, key=lambda s: (s.score, -s.step))
    if choose_by != "timing_and_sound":
        raise ConfigError(f"choose_by={choose_by!r}: expected one of {', '.join(CHOICE_RULES)}")
    if any(s.sound is None for s in scores):
        raise ConfigError("choose_by='timing_and_sound' needs each checkpoint's sound measures (real clips)")
    rank = [a + b for a, b in zip(_ranks([s.score for s in scores]),
                                  _ranks([s.sound.get("logmel_fd") for s in scores]))]
    return min(zip(rank, scores), key=lambda rs: (rs[0], rs[1].score, -rs[1].step))[1]


def export_checkpoint(run, score: CheckpointScore) -> Path:
    """<logdir>/export_step<N> for the chosen checkpoint, exported unless it already holds a SavedModel."""
    run = _loader(run)
    out = Path(run.logdir) / f"{EXPORT_PREFIX}{score.step}"
    if not (out / "saved_model.pb").is_file():
        run.export(score.path, out)
    return out


def select_checkpoint(run, real: timing.TimingStats, num_clips: int = DEFAULT_CLIPS, seed: int = DEFAULT_SEED,
                      real_clips: np.ndarray | None = None, choose_by: str = "timing",
                      min_step: int = 0) -> tuple[CheckpointScore, Path, list[CheckpointScore]]:
    """Score every checkpoint (step >= min_step), export the one `choose_by` picks (best) -> (its score, its
    export folder, all scores). `run`: a train.train run dir or a RunLoader."""
    scores = score_checkpoints(run, real, num_clips, seed, real_clips, min_step)
    chosen = best(scores, choose_by)
    return chosen, export_checkpoint(run, chosen), scores


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("logdir", None, "Training run dir (config.json and ckpt/); with --renderer a planner run "
                        "(train.train_mel_gan).")
    flags.DEFINE_string("renderer", None, "Two-stage: the renderer checkpoint (train.train_renderer: "
                        "RUN/ckpt/ckpt-N) joined with each planner checkpoint of --logdir.")
    flags.DEFINE_integer("planner_dim", 8, "Two-stage: the planner run's --dim.")
    flags.DEFINE_integer("renderer_dim", 16, "Two-stage: the renderer run's --dim.")
    flags.DEFINE_enum("choose_by", "timing", list(CHOICE_RULES), "timing: the lowest timing score; "
                      "timing_and_sound: the lowest rank sum of timing score and log-mel FD.")
    flags.DEFINE_integer("min_step", 0, "Score only checkpoints at this step or later.", lower_bound=0)
    flags.DEFINE_string("data_dir", None, "The corpus the run trained on (default: the embedded corpus).")
    flags.DEFINE_integer("num_clips", DEFAULT_CLIPS, "Generated clips per checkpoint, and real clips.",
                         lower_bound=1)
    flags.DEFINE_integer("seed", DEFAULT_SEED, "Seed of the latents and of the real sample.")
    flags.DEFINE_string("trajectory_json", None, "Also write every checkpoint's timing and sound measures here.")


def main(argv) -> None:
    del argv
    if not FLAGS.logdir:
        raise app.UsageError("--logdir is required")
    if FLAGS.renderer and not Path(f"{FLAGS.renderer}.index").is_file():
        raise app.UsageError(f"--renderer={FLAGS.renderer}: no checkpoint there (no {FLAGS.renderer}.index)")
    run = RunLoader(FLAGS.logdir, FLAGS.renderer, FLAGS.planner_dim, FLAGS.renderer_dim)
    try:
        cfg = run.config()                                      # a wrong --logdir: refused before TensorFlow
        runtime.start_tensorflow()
        from wavebabble.data import load_clips
        from wavebabble.measure import measure_audio

        checkpoint_steps(FLAGS.logdir, FLAGS.min_step)          # no checkpoint: fail before reading the corpus
        real_clips = load_clips(FLAGS.data_dir, sample_rate=cfg.sample_rate, slice_len=cfg.slice_len,
                                num_clips=FLAGS.num_clips, seed=FLAGS.seed)
        real = measure_audio(real_clips, cfg.sample_rate, cfg.frame_hz)
        chosen, out, scores = select_checkpoint(run, real, FLAGS.num_clips, FLAGS.seed, real_clips,
                                                FLAGS.choose_by, FLAGS.min_step)
    except WavebabbleError as e:
        raise SystemExit(f"error: {e}") from None
    print("  step  score    MRE  FTO_W_s  " + "  ".join(PRINTED_RATES) + "  fto_0_400ms  speech_ratio  "
          + "  ".join(PRINTED_SOUND))

    def row(summary: dict) -> str:
        ratios = "/".join(f"{r:.2f}" for r in summary["speech_ratio"])
        near = summary["fto_share_0_400ms"]
        return ("  ".join(f"{summary[k]:>{len(k)}.1f}" for k in PRINTED_RATES)
                + f"  {'-' if near is None else f'{near:.2f}':>11}  {ratios}")

    def sound_row(values: dict) -> str:
        return "  ".join("-".rjust(len(k)) if values.get(k) is None else f"{values[k]:>{len(k)}.3f}"
                         for k in PRINTED_SOUND)

    for s in scores:
        fto_w = "-" if s.fto_wasserstein_s is None else f"{s.fto_wasserstein_s:.3f}"
        print(f"{s.step:>6}  {s.score:>5.3f}  {s.mre:>5.3f}  {fto_w:>7}  {row(s.summary)}  {sound_row(s.sound)}"
              f"{'  <- chosen' if s is chosen else ''}")
    from wavebabble.sound_measures import reference_summary

    real_sound = reference_summary(scores[-1].sound)
    print(f"{'real':>6}  {'':>5}  {'':>5}  {'':>7}  {row(real.summary)}  {sound_row(real_sound)}  (FD and accuracy: "
          "real half vs half)")
    print(f"exported checkpoint {chosen.step} to {out}")
    if FLAGS.trajectory_json:
        Path(FLAGS.trajectory_json).write_text(json.dumps(timing.json_safe({
            "logdir": FLAGS.logdir, "renderer": FLAGS.renderer, "num_clips": FLAGS.num_clips, "seed": FLAGS.seed,
            "choose_by": FLAGS.choose_by, "chosen_step": chosen.step,
            "real": {**real.summary, **real_sound},
            "checkpoints": [{"step": s.step, "timing_score": s.score, "mean_relative_error": s.mre,
                             "fto_wasserstein_s": s.fto_wasserstein_s, **s.summary, **(s.sound or {})}
                            for s in scores]}), indent=2) + "\n")
        print(f"wrote {FLAGS.trajectory_json}")


def run() -> None:
    runtime.tune("serve", start=False)
    define_flags()
    run_main(main, "python -m eval.select_checkpoint")


if __name__ == "__main__":
    run()

"""Choose the checkpoint of a train.train_responder run by how the agent answers held-out partners.

    python -m eval.select_responder --logdir=RESPONDER_RUN [--planner=CKPT --renderer=CKPT] [--min_step=N]
                                    [--num_dialogues=8] [--trajectory_json=FILE]

Validation dialogues: the embedded corpus's process with VALIDATION_SEED (neither the training corpus nor
eval.agent's held-out set, so the reported figures are not the ones the choice was made on). Each speaker of each
dialogue is the partner once; every checkpoint (step >= --min_step) answers them offline (wavebabble.agent) and
the pairs (partner, answer) are scored against (partner, real other speaker) by wavebabble.timing's timing score
(mean relative error + relative FTO Wasserstein distance). The lowest score wins; prints the trajectory and the
choice, and writes it with --trajectory_json.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from absl import flags

from train.train_responder import DEFAULT_PLANNER
from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main

VALIDATION_SEED = 778
DEFAULT_RENDERER = "eval/results/two_stage_checkpoints/renderer/ckpt-5000"

FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("logdir", None, "train.train_responder run folder (checkpoints in <logdir>/ckpt).")
    flags.DEFINE_string("planner", DEFAULT_PLANNER, "The planner checkpoint the agent speaks with.")
    flags.DEFINE_string("renderer", DEFAULT_RENDERER, "The renderer checkpoint.")
    flags.DEFINE_integer("planner_dim", 8, "The planner's --dim.")
    flags.DEFINE_integer("renderer_dim", 16, "The renderer's --dim.")
    flags.DEFINE_integer("responder_dim", 32, "The responder's --dim.")
    flags.DEFINE_integer("min_step", 0, "Skip checkpoints before this step.")
    flags.DEFINE_integer("num_dialogues", 8, "Validation dialogues (each speaker is the partner once).")
    flags.DEFINE_float("seconds", 60.0, "Length of each validation dialogue.")
    flags.DEFINE_string("trajectory_json", None, "Also write every checkpoint's figures and the choice here.")


def score_run(logdir, planner_ckpt, renderer_ckpt, dims: tuple, dialogues: list, min_step: int = 0) -> list[dict]:
    """[{step, checkpoint, timing_score, fto_wasserstein_s, mean_relative_error, overlap_share_of_speech, ...}]
    of every checkpoint of the run with step >= min_step."""
    from eval.agent import answer_all, pair_figures, reference_stats
    from eval.select_checkpoint import checkpoint_steps
    from wavebabble.agent import AgentCore
    from wavebabble.config import get_config
    from wavebabble.models.two_stage import restore_responder, restore_two_stage

    planner_dim, renderer_dim, responder_dim = dims
    planner, renderer = restore_two_stage(planner_ckpt, renderer_ckpt, planner_dim, renderer_dim)
    cfg = get_config("demo")
    partners = [d[:, s] for _, d in dialogues for s in (0, 1)]
    real = [d[:, 1 - s] for _, d in dialogues for s in (0, 1)]
    reference = reference_stats(partners, real)
    out = []
    for step, path in checkpoint_steps(logdir, min_step):
        responder = restore_responder(path, responder_dim)      # with the reaction delay it was trained with
        core = AgentCore(planner, renderer, responder, None, cfg.vad_threshold_db, cfg.vad_temperature_db)
        answers, _ = answer_all(core, partners, 0)
        row = {"step": step, "checkpoint": path, **pair_figures(list(zip(partners, answers)), reference)}
        out.append(row)
        median = "none" if row["fto_median_s"] is None else f"{row['fto_median_s']:.3f} s"   # None: no FTOs
        print(f"step {step}: timing score {row['timing_score']:.3f}, FTO W {row['fto_wasserstein_s']:.3f} s, MRE "
              f"{row['mean_relative_error']:.3f}, overlap share {row['overlap_share_of_speech']:.3f}, FTO median "
              f"{median}", flush=True)
    return out


def main(argv) -> int:
    del argv
    if not FLAGS.logdir:
        from absl import app

        raise app.UsageError("--logdir is required (a train.train_responder run)")
    runtime.tune("serve")
    from eval.agent import build_dialogues
    from wavebabble.timing import json_safe

    with cli_errors("eval.select_responder"), tempfile.TemporaryDirectory(prefix="wavebabble-select-") as tmp:
        dialogues = build_dialogues("babble", FLAGS.num_dialogues, FLAGS.seconds, Path(tmp) / "validation",
                                    seed=VALIDATION_SEED)
        rows = score_run(FLAGS.logdir, FLAGS.planner, FLAGS.renderer,
                         (FLAGS.planner_dim, FLAGS.renderer_dim, FLAGS.responder_dim), dialogues, FLAGS.min_step)
    if not rows:
        print(f"eval.select_responder: error: no checkpoints at or after step {FLAGS.min_step} in {FLAGS.logdir}")
        return 1
    best = min(rows, key=lambda r: (r["timing_score"], -r["step"]))
    print(f"chosen: step {best['step']} ({best['checkpoint']}), timing score {best['timing_score']:.3f}")
    if FLAGS.trajectory_json:
        Path(FLAGS.trajectory_json).write_text(json.dumps(json_safe(
            {"logdir": str(FLAGS.logdir), "validation_seed": VALIDATION_SEED, "chosen_step": best["step"],
             "chosen": best["checkpoint"], "checkpoints": rows}), indent=2) + "\n")
    return 0


def run() -> None:
    define_flags()
    run_main(main, "eval.select_responder")


if __name__ == "__main__":
    run()

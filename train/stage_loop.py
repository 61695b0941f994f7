"""The training loop shared by the two-stage generator's jobs (train.train_renderer, train.train_mel_gan).

    add_loop_flags()                      --logdir, --data_dir, --steps, --save_every, --log_every, --seed, --init_from
    run_stage(step_fn, objects, logdir=..., steps=..., ...) -> exit status

`objects` (models, optimizers) go into one tf.train.Checkpoint with the step counter, kept in <logdir>/ckpt
(KEEP_CHECKPOINTS newest); a restart with the same --logdir resumes from the newest. A run whose <logdir>/ckpt is
empty may start from another run's checkpoint (`init_from`): the objects that checkpoint holds are restored with
its step, and the ones it lacks (a critic added since) start fresh and are named. Each step calls `step_fn()`
-> {loss name: scalar}; a non-finite loss stops the job (exit 1) without saving, naming the last good checkpoint.
One progress line per `log_every` steps (mean losses, steps/s, ETA), the same means and steps/s written as
TensorBoard scalars to <logdir> (`tensorboard --logdir <logdir>`); a checkpoint every `save_every` steps and at
the end.
"""
from __future__ import annotations

import time

import numpy as np
from absl import flags

KEEP_CHECKPOINTS = 20
EXIT_NON_FINITE = 1


def add_loop_flags(logdir: str, steps: int, save_every: int, log_every: int) -> None:
    """The flags every stage job has, with its own defaults."""
    flags.DEFINE_string("logdir", logdir, "Run folder (checkpoints in <logdir>/ckpt; a rerun resumes).")
    flags.DEFINE_string("data_dir", None, "Folder of stereo dialogue audio. Default: the embedded corpus.")
    flags.DEFINE_integer("steps", steps, "Training steps (a resumed run continues to this step).", lower_bound=1)
    flags.DEFINE_integer("save_every", save_every, "Checkpoint every N steps.", lower_bound=1)
    flags.DEFINE_integer("log_every", log_every, "Progress line every N steps.", lower_bound=1)
    flags.DEFINE_integer("seed", 0, "Random seed.")
    flags.DEFINE_string("init_from", None, "Checkpoint prefix (RUN/ckpt/ckpt-N) to start from when <logdir>/ckpt "
                        "has none: its objects and step are restored, objects it lacks start fresh.")


def check_init_from(path: str | None) -> None:
    """Reject an --init_from that names no checkpoint, before any data is loaded."""
    import os

    from absl import app

    if path and not os.path.exists(f"{path}.index"):
        raise app.UsageError(f"--init_from={path}: no checkpoint there (no {path}.index); give a prefix such as "
                             f"RUN/ckpt/ckpt-4000")


def _saved_objects(path: str) -> set:
    """The names of the objects a tf.train.Checkpoint saved at `path` holds (its root's children)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(tf.train.load_checkpoint(path).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    return {child.local_name for child in graph.nodes[0].children}


def run_stage(step_fn, objects: dict, *, logdir: str, steps: int, save_every: int, log_every: int,
              describe: str, init_from: str | None = None) -> int:
    """Resume or start, then train to `steps` (see the module docstring). -> 0, or EXIT_NON_FINITE."""
    import tensorflow as tf

    step_var = tf.Variable(0, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(step=step_var, **objects)
    mgr = tf.train.CheckpointManager(ckpt, f"{logdir}/ckpt", max_to_keep=KEEP_CHECKPOINTS)
    if mgr.latest_checkpoint:
        ckpt.restore(mgr.latest_checkpoint).assert_existing_objects_matched()
        print(f"resumed from {mgr.latest_checkpoint} at step {int(step_var)}", flush=True)
    elif init_from:
        ckpt.restore(init_from).expect_partial()
        fresh = sorted(set(objects) - _saved_objects(init_from))
        print(f"started from {init_from} at step {int(step_var)}; fresh: {', '.join(fresh) or 'none'}", flush=True)
    print(describe, flush=True)
    writer = tf.summary.create_file_writer(logdir)
    t0, first, acc = time.time(), int(step_var), []
    while int(step_var) < steps:
        losses = {k: float(v) for k, v in step_fn().items()}
        if not all(np.isfinite(v) for v in losses.values()):
            print(f"error: non-finite loss at step {int(step_var) + 1} ({losses}); not saved, the last "
                  f"checkpoint is {mgr.latest_checkpoint}", flush=True)
            return EXIT_NON_FINITE
        acc.append(losses)
        step_var.assign_add(1)
        s = int(step_var)
        if s % log_every == 0 or s == steps:
            rate = (s - first) / (time.time() - t0)
            means = {k: float(np.mean([a[k] for a in acc])) for k in acc[0]}
            shown = " ".join(f"{k} {v:.4f}" for k, v in means.items())
            print(f"step {s}/{steps} {shown} {rate:.2f} steps/s ETA {(steps - s) / rate / 60:.1f} min", flush=True)
            with writer.as_default(step=s):
                for k, v in {**means, "steps_per_s": rate}.items():
                    tf.summary.scalar(k, v)
            writer.flush()
            acc = []
        if s % save_every == 0 or s == steps:
            mgr.save(checkpoint_number=s)
    return 0

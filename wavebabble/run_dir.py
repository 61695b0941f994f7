"""A training run's folder: what is in it, and the rules for resuming and exporting from it.

    <logdir>/config.json    the run's Config (CONFIG_NAME; written once the data has loaded)
    <logdir>/ckpt/          checkpoints ckpt-<step>.* (CKPT_SUBDIR; RunCheckpoints)
    <logdir>/export/        the exported SavedModel (EXPORT_SUBDIR; wavebabble.export)
    <logdir>/events.*       TensorBoard event files

A run is resumed only with the same architecture (`check_resume_compatible`: the fields marked arch() in
config.py, the set of active critics and whether a moving average of G is kept); training-only fields may change
and are listed (`training_field_changes`). Checkpoints holding NaN or infinity are never saved nor resumed from.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from wavebabble.config import CONFIG_NAME, Config
from wavebabble.critics import active_critics
from wavebabble.distribute import task_info
from wavebabble.errors import ConfigError, NonFiniteWeightsError, OutputError, output_error
from wavebabble.finite import describe_names, non_finite_checkpoint_tensors

CKPT_SUBDIR = "ckpt"                 # <logdir>/ckpt: tf.train.CheckpointManager directory
EXPORT_SUBDIR = "export"             # <logdir>/export: the SavedModel train and export write
CKPT_PREFIX = "ckpt"                 # checkpoint files ckpt-<step>.*
DEFAULT_MAX_TO_KEEP = 5
# What TensorFlow raises when it cannot write a file (disk full, read-only or forbidden folder), besides OSError.
WRITE_ERRORS = (OSError, tf.errors.ResourceExhaustedError, tf.errors.PermissionDeniedError,
                tf.errors.FailedPreconditionError)
# What a checkpoint save leaves in the checkpoint folder when it dies: the shards' folder ckpt-<step>_temp and
# the state file's temp copy checkpoint.tmp<uuid hex> (tf.io's atomic write).
PARTIAL_CHECKPOINT_RE = re.compile(rf"^(?:{CKPT_PREFIX}-\d+_temp|checkpoint\.tmp[0-9a-f]{{32}})$")
TF_OP_SUFFIX = " [Op:"               # TensorFlow appends ' [Op:SaveV2]' to an op's error message


def check_resume_compatible(old: Config, new: Config, where: str = CONFIG_NAME) -> None:
    """Raise ConfigError naming every architecture field (and the active-critic set) that differs."""
    diffs = [f"{f}: {getattr(old, f)!r} -> {getattr(new, f)!r}" for f in Config.arch_fields()
             if getattr(old, f) != getattr(new, f)]
    if (old.g_ema_decay > 0) != (new.g_ema_decay > 0):
        diffs.append(f"generator moving average (g_ema_decay > 0): {old.g_ema_decay > 0} -> {new.g_ema_decay > 0}")
    if active_critics(old) != active_critics(new):
        diffs.append(f"active discriminators (weights > 0): {active_critics(old)} -> {active_critics(new)}")
    if diffs:
        raise ConfigError(f"cannot resume the run in {where}: its architecture differs from the requested "
                          f"config in {'; '.join(diffs)}. Use a new --logdir, or the run's own settings "
                          f"(training-only fields such as learning rates, loss weights, d_updates, batch_size "
                          f"may change).")


def training_field_changes(old: Config, new: Config) -> list[str]:
    """'field: old -> new' for every non-architecture field that differs (logged on resume)."""
    arch = set(Config.arch_fields())
    return [f"{f.name}: {getattr(old, f.name)!r} -> {getattr(new, f.name)!r}" for f in dataclasses.fields(Config)
            if f.name not in arch and getattr(old, f.name) != getattr(new, f.name)]


def read_config(logdir) -> Config | None:
    """The Config saved in <logdir>/config.json, or None when there is none."""
    path = Path(logdir) / CONFIG_NAME
    return Config.from_json(path) if path.is_file() else None


def write_error(what: str, path, error: BaseException) -> OutputError:
    """OutputError 'cannot write <what> to <path>: <reason>' for an OSError or a TensorFlow write error (whose
    reason is the text after its last '; ', e.g. 'No space left on device')."""
    if isinstance(error, tf.errors.OpError):
        reason = error.message.rsplit("; ", 1)[-1].split(TF_OP_SUFFIX)[0]
        return OutputError(f"cannot write {what} to {path}: {reason}")
    return output_error(what, path, error)


def write_config(cfg: Config, logdir) -> Path:
    """Write <logdir>/config.json (creating logdir); -> its path. OutputError naming the path when it cannot."""
    path = Path(logdir) / CONFIG_NAME
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        cfg.to_json(path)
    except OSError as e:
        raise output_error("the run config", path, e) from None
    return path


def _remove_entries(folder: Path, names: list[str]) -> list[str]:
    """Remove folder/<name> (a file, or a folder with its contents) for each name; -> names."""
    for name in names:
        path = folder / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return names


def remove_new_files(folder: Path, before: set[str]) -> list[str]:
    """Remove what a failed write added to `folder`: every entry not in `before` (names listed before it began);
    -> the names removed."""
    return _remove_entries(folder, sorted(set(os.listdir(folder)) - before) if folder.is_dir() else [])


def remove_partial_checkpoints(folder) -> list[str]:
    """Remove the partial files a killed checkpoint save left in `folder` (PARTIAL_CHECKPOINT_RE names only);
    -> the names removed."""
    folder = Path(folder)
    return _remove_entries(folder, sorted(n for n in os.listdir(folder) if PARTIAL_CHECKPOINT_RE.match(n))
                           if folder.is_dir() else [])


class RunCheckpoints:
    """tf.train.CheckpointManager over `gan.checkpoint` in <logdir>/ckpt.

    Multi-worker: every worker saves (saving may involve collectives), but only the chief into <logdir>/ckpt;
    the others write into a temp dir that is deleted after each save. Every worker restores from <logdir>/ckpt
    (a shared filesystem in multi-worker clusters). The chief first removes the partial files a killed save left
    there (PARTIAL_CHECKPOINT_RE; their names are in `removed_partial`).
    """

    def __init__(self, gan, logdir, max_to_keep: int = DEFAULT_MAX_TO_KEEP, chief: bool = True):
        self.gan = gan
        self.chief = chief
        self.directory = str(Path(logdir) / CKPT_SUBDIR)
        self._read_manager = tf.train.CheckpointManager(gan.checkpoint, self.directory, max_to_keep=max_to_keep,
                                                        checkpoint_name=CKPT_PREFIX)
        self.removed_partial: list[str] = []     # partial files of a killed save, removed from <logdir>/ckpt
        if chief:
            self.removed_partial = remove_partial_checkpoints(self.directory)
            self._write_dir = None
            self._write_manager = self._read_manager
        else:
            task_type, task_id = task_info(gan.strategy)
            self._write_dir = tempfile.mkdtemp(prefix=f"wavebabble_{task_type}{task_id}_ckpt_")
            self._write_manager = tf.train.CheckpointManager(gan.checkpoint, self._write_dir, max_to_keep=1,
                                                             checkpoint_name=CKPT_PREFIX)

    @property
    def latest(self) -> str | None:
        return tf.train.latest_checkpoint(self.directory)

    def last_good(self) -> str | None:
        """The newest checkpoint of <logdir>/ckpt whose saved floats are all finite, or None."""
        state = tf.train.get_checkpoint_state(self.directory)
        for path in reversed(list(state.all_model_checkpoint_paths) if state else []):
            try:
                if not non_finite_checkpoint_tensors(path):
                    return path
            except (tf.errors.OpError, ValueError):        # listed but deleted or unreadable
                continue
        return None

    def restore_latest(self) -> int | None:
        """Restore the newest checkpoint of <logdir>/ckpt; -> its step, or None when there is none.

        NonFiniteWeightsError when it holds a NaN or an infinity (the message names the last good checkpoint)."""
        path = self.latest
        if path is None:
            return None
        status = self.gan.checkpoint.restore(path)
        status.assert_existing_objects_matched()
        bad = self.gan.non_finite_weights()
        if bad:
            raise NonFiniteWeightsError(f"checkpoint {path} holds non-finite weights: {describe_names(bad)}; not "
                                        f"resuming from it. Last good checkpoint: {self.last_good() or 'none'}")
        return int(self.gan.step.numpy())

    def save(self) -> str:
        """Save at the GAN's current step (checkpoint number = step); -> the path (chief's real path).

        NonFiniteWeightsError, with nothing saved, when a model or optimizer weight is NaN or infinite."""
        step = int(self.gan.step.numpy())
        bad = self.gan.non_finite_weights()
        if bad:
            raise NonFiniteWeightsError(f"non-finite weights at step {step}: {describe_names(bad)}")
        directory = Path(self._write_manager.directory)
        before = set(os.listdir(directory)) if directory.is_dir() else set()
        try:
            path = self._write_manager.save(checkpoint_number=step)
        except WRITE_ERRORS as e:
            remove_new_files(directory, before)
            raise write_error("checkpoint", directory, e) from None
        if not self.chief:
            shutil.rmtree(self._write_dir, ignore_errors=True)
            os.makedirs(self._write_dir, exist_ok=True)
        return path

    def close(self) -> None:
        if self._write_dir:
            shutil.rmtree(self._write_dir, ignore_errors=True)

"""The pretrained model that ships with wavebabble, and the record of how it was made.

    wavebabble/pretrained/two_stage/       an exported SavedModel (wavebabble.export) of the two-stage generator, what
                                           `generate` uses without --model
    wavebabble/pretrained/two_stage.json   its record: the commands that trained, chose and exported it, each
                                           job's commit and wall time, steps, and the figures of its evaluation
                                           (eval/ship_model.py)

Both are written only by `python -m eval.ship_model`, which replaces the previous model (one shipped copy).
"""
from __future__ import annotations

import json
from pathlib import Path

from wavebabble.errors import ConfigError

PRETRAINED_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "two_stage"        # the shipped model's name: its folder and record in PRETRAINED_DIR
RECORD_SUFFIX = ".json"
DESCRIBED_FIGURES = {"mean_relative_error": "timing MRE", "fto_wasserstein_s": "FTO Wasserstein (s)",
                     "logmel_fd": "log-mel FD"}        # the record's figures `describe` names


def model_dir(name: str = DEFAULT_MODEL, root: Path = PRETRAINED_DIR) -> Path:
    """The SavedModel folder of shipped model `name` (it may not exist)."""
    return Path(root) / name


def record_path(name: str = DEFAULT_MODEL, root: Path = PRETRAINED_DIR) -> Path:
    """The record (JSON) of shipped model `name`."""
    return Path(root) / f"{name}{RECORD_SUFFIX}"


def read_record(name: str = DEFAULT_MODEL, root: Path = PRETRAINED_DIR) -> dict | None:
    """The record of shipped model `name`, or None when there is none (or it cannot be read)."""
    try:
        return json.loads(record_path(name, root).read_text())
    except (OSError, ValueError):
        return None


def default_model(root: Path = PRETRAINED_DIR) -> Path:
    """The shipped model's SavedModel folder; ConfigError when this install has none."""
    path = model_dir(DEFAULT_MODEL, root)
    if not (path / "saved_model.pb").is_file():
        raise ConfigError(f"no shipped model in {path} (this install lacks it): pass --model=EXPORT_DIR, or make "
                          f"one with `python -m eval.ship_model`")
    return path


def model_or_default(model: str | None):
    """`model` (a --model flag) or, when it is empty, the shipped model, saying so on stdout."""
    if model:
        return model
    path = default_model()
    print(f"using the {describe()}", flush=True)
    return path


def describe(name: str = DEFAULT_MODEL, root: Path = PRETRAINED_DIR) -> str:
    """One line on a shipped model: generator (or preset), chosen checkpoint, steps and its headline figures (from
    its record)."""
    rec = read_record(name, root)
    if rec is None:
        return f"shipped model '{name}' ({model_dir(name, root)}; no record)"
    fig = rec.get("figures", {})
    figures = ", ".join(f"{label} {fig[k]:.3g}" for k, label in DESCRIBED_FIGURES.items()
                        if isinstance(fig.get(k), (int, float)))
    kind = f"preset {rec['preset']}" if rec.get("preset") else rec.get("generator")
    return (f"shipped model '{name}' ({kind}, checkpoint {rec.get('chosen_step')} of "
            f"{rec.get('train_steps')} steps; vs the embedded corpus: {figures})")

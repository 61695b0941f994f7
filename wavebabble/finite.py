"""Checks that numbers are finite: losses, variables, saved checkpoints (NaN and infinity are never kept)."""
from __future__ import annotations

import numpy as np

from wavebabble.errors import NonFiniteLossError


def non_finite_variables(named: dict) -> list[str]:
    """The names in {name: variable} of the floating-point variables holding a NaN or an infinity."""
    import tensorflow as tf

    return [name for name, v in named.items()
            if tf.as_dtype(v.dtype).is_floating and not bool(tf.reduce_all(tf.math.is_finite(v)))]


def non_finite_checkpoint_tensors(path: str) -> list[str]:
    """The keys of the floating-point tensors saved in checkpoint `path` holding a NaN or an infinity."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(path)
    return [key for key, dtype in sorted(reader.get_variable_to_dtype_map().items())
            if dtype.is_floating and not np.isfinite(reader.get_tensor(key)).all()]


def describe_names(names: list[str]) -> str:
    """'first' or 'first (and N more)'."""
    return names[0] + (f" (and {len(names) - 1} more)" if len(names) > 1 else "")


def assert_finite(losses_now: dict, step: int) -> None:
    """Raise NonFiniteLossError naming the step and the first non-finite loss in {name: float}."""
    for name, value in losses_now.items():
        if not np.isfinite(value):
            raise NonFiniteLossError(f"non-finite loss at step {step}: {name} = {value}")

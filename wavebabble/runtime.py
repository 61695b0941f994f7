"""Tune the process before TensorFlow is imported: oneDNN ops per use, and TensorFlow's start-up noise.

Every CLI that runs TensorFlow calls `tune(use)` before its first TensorFlow import (export.py, which imports
TensorFlow at module level, through `tune_if_main`); CLIs that check their command line first call
`tune(use, start=False)` and import TensorFlow with `start_tensorflow()` once the checks passed. `tasks.py` puts
the same settings in the environment of the test suite. `use` is "train" (the training step) or "serve" (the
generator's forward pass in export, generate, checkpoint selection and the serving benchmark).

Choices, each made only where the user's own environment leaves the variable unset:
  TF_ENABLE_ONEDNN_OPTS   `ONEDNN_BY_USE[use]`: on for training, off for serving. TensorFlow turns oneDNN on by
                          itself only on CPUs with AVX-512 VNNI / AMX-class features; elsewhere (AVX2 CPUs) its
                          Conv1DTranspose gradients run as thousands of small gemm calls and glibc returns and
                          re-faults their memory every step. Serving a clip at batch 1 is not faster with it.
                          Figures: eval/results/performance_notes.md.
  TF_CPP_MIN_LOG_LEVEL    3, unless WAVEBABBLE_VERBOSE=1: TensorFlow's C++ log lines (its errors reach Python as
                          exceptions; what it logs as errors on a CPU machine is noise such as "oneDNN supports
                          DT_STRING only on platforms with AVX-512").
TensorFlow's C++ start-up messages that ignore TF_CPP_MIN_LOG_LEVEL (CUDA probing on a CPU machine) are hidden by
importing it with standard error redirected (`_import_tensorflow_quietly`; shown when the import fails), and its
Python logger is set to warnings and above (no "Assets written to ..." lines).
`tune` then prints one line to standard error, e.g. `runtime: train | oneDNN on | CPU avx2 fma (no avx512)`.

This module needs only the standard library: it runs before TensorFlow, and `tasks.py` loads it by path.
"""
from __future__ import annotations

import dataclasses
import os
import sys

USES = ("train", "serve")
ONEDNN_BY_USE = {"train": "1", "serve": "0"}
QUIET_TF_LOG_LEVEL = "3"             # C++ log: fatal only (errors reach Python as exceptions)
QUIET_PY_LOG_LEVEL = "WARNING"      # the "tensorflow" Python logger
VERBOSE_ENV = "WAVEBABBLE_VERBOSE"
CPU_FLAGS_SHOWN = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")


@dataclasses.dataclass(frozen=True)
class RuntimeSettings:
    """What `tune` chose: the use, whether oneDNN is on (None: TensorFlow's own default, which depends on the CPU),
    and the CPU flags of `CPU_FLAGS_SHOWN` present."""
    use: str
    onednn: bool | None
    cpu_flags: tuple[str, ...]

    def line(self) -> str:
        """The one line `tune` prints."""
        flags = " ".join(self.cpu_flags) or "flags unknown"
        if self.cpu_flags and "avx512f" not in self.cpu_flags:
            flags += " (no avx512)"
        onednn = {True: "on", False: "off", None: "as TensorFlow chose"}[self.onednn]
        return f"runtime: {self.use} | oneDNN {onednn} | CPU {flags}"


def cpu_flags() -> tuple[str, ...]:
    """The CPU feature flags of `CPU_FLAGS_SHOWN` this machine has (Linux /proc/cpuinfo; () elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return tuple(flag for flag in CPU_FLAGS_SHOWN if flag in have)
    except OSError:
        pass
    return ()


def verbose(env=None) -> bool:
    """Whether the user asked for TensorFlow's own logging (WAVEBABBLE_VERBOSE=1)."""
    env = os.environ if env is None else env
    return env.get(VERBOSE_ENV, "").strip().lower() in ("1", "true")


def environment(use: str, env=None) -> tuple[dict, RuntimeSettings]:
    """(variables to add to `env`, settings) for `use`; the user's own values in `env` are kept."""
    if use not in USES:
        raise ValueError(f"runtime use must be one of {USES}, not {use!r}")
    env = os.environ if env is None else env
    add = {}
    if "TF_ENABLE_ONEDNN_OPTS" not in env:
        add["TF_ENABLE_ONEDNN_OPTS"] = ONEDNN_BY_USE[use]
    if "TF_CPP_MIN_LOG_LEVEL" not in env and not verbose(env):
        add["TF_CPP_MIN_LOG_LEVEL"] = QUIET_TF_LOG_LEVEL
    return add, RuntimeSettings(use, onednn_setting({**env, **add}), cpu_flags())


def onednn_setting(env=None) -> bool | None:
    """TF_ENABLE_ONEDNN_OPTS of `env` as a bool, None when unset (TensorFlow then decides by the CPU)."""
    env = os.environ if env is None else env
    value = env.get("TF_ENABLE_ONEDNN_OPTS")
    return None if value is None else value.strip().lower() in ("1", "true")


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow and list its devices with file descriptor 2 sent to a temporary file.

    What TensorFlow wrote there is shown only when the import fails."""
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                import tensorflow as tf
                tf.config.list_physical_devices()
                tf.get_logger().setLevel(QUIET_PY_LOG_LEVEL)
            except BaseException:
                os.dup2(saved, 2)
                sink.seek(0)
                sys.stderr.write(sink.read().decode(errors="replace"))
                raise
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def keep_absl_at_warnings() -> None:
    """Keep absl's log at warnings when the command line gives no --verbosity and WAVEBABBLE_VERBOSE is unset
    (absl.app.run otherwise raises an unset verbosity to INFO as it parses the command line, and TensorFlow logs a
    line per checkpoint and signature through it). Effective when called before app.run parses, or before a
    first parse in this process; a --verbosity on the command line still wins."""
    from absl import flags, logging

    if verbose():
        return
    verbosity = flags.FLAGS["verbosity"]
    if verbosity.using_default_value:
        verbosity.value = logging.WARNING
        verbosity.using_default_value = False


_tuned: RuntimeSettings | None = None
_added: dict = {}          # the variables tune() added to os.environ


def child_environment() -> dict:
    """os.environ without the variables tune() added, for a child process that is another wavebabble tool: it
    picks its own settings (a training job started by a serving-tuned script still gets oneDNN); the user's own
    values stay."""
    return {k: v for k, v in os.environ.items() if not (k in _added and _added[k] == v)}


def run_tool(cmd: list[str], cwd) -> None:
    """Run another wavebabble tool as a child process in `cwd`, echoing its command line; it picks its own
    runtime settings (child_environment). subprocess.CalledProcessError when it fails."""
    import shlex
    import subprocess

    print("+", shlex.join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True, env=child_environment())


def tune(use: str, start: bool = True) -> RuntimeSettings:
    """Apply `environment(use)` to this process and, with `start`, import TensorFlow quietly now (see the module
    docstring). start=False leaves the import to `start_tensorflow()`, so a command line can be checked first
    (a wrong flag is refused in a second instead of after TensorFlow's ~10 s start on 2 cores).

    Later calls return the first call's settings. When TensorFlow was imported before the first call, the
    settings can no longer take effect: the line then says what TensorFlow was started with."""
    global _tuned
    if _tuned is not None:
        return _tuned
    if "tensorflow" in sys.modules:
        _tuned = RuntimeSettings(use, onednn_setting(), cpu_flags())
    else:
        add, _tuned = environment(use)
        os.environ.update(add)
        _added.update(add)
        keep_absl_at_warnings()
    print(_tuned.line(), file=sys.stderr, flush=True)
    if start:
        start_tensorflow()
    return _tuned


def start_tensorflow() -> None:
    """Import TensorFlow quietly (see the module docstring) when `tune` ran in this process and TensorFlow is not
    imported yet; otherwise nothing. Every CLI reaches it before its work: `wavebabble.cli.cli_errors` calls it."""
    if _tuned is not None and "tensorflow" not in sys.modules and not verbose():
        _import_tensorflow_quietly()


def tune_if_main(module_name: str, use: str) -> None:
    """`tune(use)` when called from the module that runs as the program (`python -m ...`), else nothing."""
    if module_name == "__main__":
        tune(use)

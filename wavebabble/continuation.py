"""Continue a two-party dialogue: both speakers go on from a stereo prompt, taking turns in its style.

    python -m wavebabble.continuation --prompt=FILE.wav --seconds=N --out=OUT.wav [--model=DIR] [--seed=0]
                                      [--prompt_in_output=true] [--overwrite]

The prompt is a stereo dialogue (speaker A left, B right; any sample rate). The continuation (wavebabble.agent
.continue_dialogue: who speaks when is drawn frame by frame from the agent's continuer, a model of both speakers'
voice activity that goes on from the prompt's, models/continuer.py) is N seconds of both speakers in the model's
voices, at the prompt's level, resampled to its rate.
OUT.wav holds the prompt unchanged followed by the continuation (--prompt_in_output=false: the continuation
alone). Without --model, the shipped model (wavebabble/pretrained).

Refused up front, with one line naming the file or flag: a missing, empty, undecodable or non-finite prompt; a
prompt that is not stereo; a prompt with no speech on either channel; --seconds not in (0, MAX_SECONDS]; an
OUT.wav that exists (without --overwrite).
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import AudioError, ConfigError

MAX_SECONDS = 3600.0


def read_prompt(path) -> tuple[np.ndarray, int]:
    """(the prompt [n, 2] float32 at the file's rate, that rate); AudioError naming the file when it is not a
    stereo dialogue with speech."""
    from wavebabble.audio import read_audio
    from wavebabble.vad import hard_vad

    audio, sr = read_audio(path)
    if audio.shape[1] != 2:
        raise AudioError(f"{path}: has {audio.shape[1]} channel(s); a prompt is a stereo dialogue (speaker A left, "
                         f"B right)")
    if not hard_vad(audio, sr).any():
        raise AudioError(f"{path}: has no speech on either channel (silent or too quiet for the VAD); there is "
                         f"nothing to continue")
    return audio, sr


def check_seconds(seconds: float) -> float:
    if not (math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ConfigError(f"--seconds={seconds:g}: must be > 0 and <= {MAX_SECONDS:g}")
    return seconds


def continuation(prompt_path, out_path, seconds: float, *, model_dir, seed: int = 0, prompt_in_output: bool = True,
                 overwrite: bool = False) -> dict:
    """Write OUT.wav (module docstring) -> {out, seconds, wall_s}."""
    from wavebabble.agent import continue_dialogue, normalize_level
    from wavebabble.audio import resample, write_wav
    from wavebabble.mel import MEL_SAMPLE_RATE
    from wavebabble.respond import load_agent

    check_seconds(seconds)
    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise ConfigError(f"--out={out_path}: already exists (pass --overwrite to replace it)")
    prompt, sr = read_prompt(prompt_path)
    loaded = load_agent(model_dir)
    heard = prompt if sr == MEL_SAMPLE_RATE else resample(prompt, sr, MEL_SAMPLE_RATE)
    normalised, gain = normalize_level(heard)
    start = time.perf_counter()
    cont = continue_dialogue(loaded.agent, normalised, int(round(seconds * MEL_SAMPLE_RATE)), seed) / gain
    wall = time.perf_counter() - start
    if sr != MEL_SAMPLE_RATE:
        cont = resample(cont, MEL_SAMPLE_RATE, sr)
    cont = cont[:int(round(seconds * sr))].astype(np.float32)
    out = np.concatenate([prompt, cont]) if prompt_in_output else cont
    write_wav(out_path, out, sr, overwrite=overwrite)
    return {"out": str(out_path), "seconds": seconds, "wall_s": wall}


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("prompt", None, "Stereo dialogue to continue (speaker A left, B right).")
    flags.DEFINE_float("seconds", 30.0, f"Seconds to continue for (at most {MAX_SECONDS:g}).")
    flags.DEFINE_string("out", None, "Output stereo WAV (the prompt's sample rate).")
    flags.DEFINE_string("model", None, "Exported SavedModel with the agent; default: the shipped pretrained model.")
    flags.DEFINE_integer("seed", 0, "Random seed (the voices and the choices).")
    flags.DEFINE_boolean("prompt_in_output", True, "Write the prompt before the continuation.")
    flags.DEFINE_boolean("overwrite", False, "Replace an existing --out file.")


def main(argv) -> None:
    del argv
    if not FLAGS.prompt or not FLAGS.out:
        raise app.UsageError("--prompt and --out are required")
    with cli_errors("wavebabble-continuation"):
        check_seconds(FLAGS.seconds)
        from wavebabble import pretrained

        model = pretrained.model_or_default(FLAGS.model)
        fig = continuation(FLAGS.prompt, FLAGS.out, FLAGS.seconds, model_dir=model, seed=FLAGS.seed,
                           prompt_in_output=FLAGS.prompt_in_output, overwrite=FLAGS.overwrite)
    print(f"wrote {fig['out']}: {fig['seconds']:g} s continued in {fig['wall_s']:.1f} s")


def run() -> None:
    """Console-script entry point."""
    runtime.tune("serve", start=False)
    define_flags()
    run_main(main, "wavebabble-continuation")


if __name__ == "__main__":
    run()

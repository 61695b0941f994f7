"""Answer a partner's recording with the babbling agent: the partner on one channel, the agent on the other.

    python -m wavebabble.respond --partner=FILE --out=OUT.wav [--partner_channel=0|1] [--model=DIR] [--seed=0]
                                 [--streaming] [--agent_channel=1] [--overwrite]

The partner's recording (mono, any sample rate and length; a stereo file needs --partner_channel) goes into
OUT.wav unchanged, at its own sample rate; the agent's answer (wavebabble.agent: 8 kHz, resampled to that rate,
at the partner's level) goes on the other channel (--agent_channel, default 1: right), for the whole length.
The model is an export with the agent (`python -m wavebabble.export --planner=... --renderer=... --responder=...
--continuer=...`); without --model, the shipped one (wavebabble/pretrained).

Without --streaming the whole recording is known: the agent's offline turn-taker answers (it hears the partner
24 ms late; an export without one uses the streaming turn-taker). An answer up to ONE_CALL_SECONDS long is one
call of the SavedModel's `respond` signature; a longer one goes through the same windows in blocks of
BLOCK_SECONDS (agent.StreamingAgent with offline=True: the same answer, bounded memory).
--streaming feeds the agent the partner's audio in chunks of the longest length it answers before it is due
(agent.agent_frames: the streaming turn-taker's 192 ms reaction delay less the look-aheads; 104 ms for the shipped
agent), as a live partner would arrive; each chunk's answer is decided and rendered from what was heard so far
(agent.StreamingAgent). It prints the time each chunk took (median, 95th percentile, max) and the real-time
factor.

Refused up front, with one line naming the file: a missing, empty, undecodable or non-finite file; a stereo file
without --partner_channel, or a channel it does not have; more than two channels; a partner with no speech (the
hard VAD finds none, or it is silent); an OUT.wav that exists (without --overwrite).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import runtime
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import AudioError, ConfigError

ONE_CALL_SECONDS = 120.0       # longer partners are answered in blocks (same answer, bounded memory)
BLOCK_SECONDS = 30.0
MAX_PARTNER_CHANNELS = 2
STEREO = 2


def read_partner(path, channel: int | None) -> tuple[np.ndarray, int]:
    """(the partner's samples [n] float32 at the file's rate, that rate). AudioError naming the file for the
    refusals listed in the module docstring."""
    from wavebabble.audio import read_audio
    from wavebabble.vad import hard_vad

    audio, sr = read_audio(path)
    channels = audio.shape[1]
    if channels > MAX_PARTNER_CHANNELS:
        raise AudioError(f"{path}: has {channels} channels; the partner is a mono file, or one channel of a stereo "
                         f"file (--partner_channel)")
    if channels == STEREO and channel is None:
        raise AudioError(f"{path}: is stereo; say which channel is the partner with --partner_channel=0 or 1")
    channel = 0 if channel is None else channel
    if not 0 <= channel < channels:
        raise AudioError(f"{path}: --partner_channel={channel}, but the file has {channels} channel(s)")
    partner = np.ascontiguousarray(audio[:, channel])
    if not hard_vad(partner, sr).any():
        raise AudioError(f"{path}: the partner's channel has no speech (silent or too quiet for the VAD); there "
                         f"is nothing to answer")
    return partner, sr


def load_agent(model_dir):
    """The loaded SavedModel; ConfigError when it has no agent."""
    from wavebabble.generate import load_model

    loaded, _ = load_model(model_dir)
    if not hasattr(loaded, "agent") or "respond" not in loaded.signatures:
        raise ConfigError(f"--model={model_dir}: this export has no agent (no respond signature); export the "
                          f"two-stage generator with --responder=RESPONDER_CKPT --continuer=CONTINUER_CKPT")
    return loaded


def answer(loaded, partner_8k: np.ndarray, seed: int, streaming: bool) -> tuple[np.ndarray, dict]:
    """The agent's answer [n] to level-normalised 8 kHz partner audio [n], and timing figures: seconds, wall_s,
    and with `streaming` the per-chunk seconds' median / p95 / max (the first chunk, which warms up, excluded)."""
    import tensorflow as tf

    from wavebabble.agent import StreamingAgent
    from wavebabble.mel import MEL_HOP, MEL_SAMPLE_RATE

    n = len(partner_8k)
    start = time.perf_counter()
    figures = {"seconds": n / MEL_SAMPLE_RATE}
    if not streaming and n <= ONE_CALL_SECONDS * MEL_SAMPLE_RATE:
        out = loaded.agent.respond(tf.constant(partner_8k), tf.constant(seed, tf.int64))["agent"].numpy()
    else:
        agent, pieces, took = StreamingAgent(loaded.agent, seed, offline=not streaming), [], []
        step = agent.frames.chunk * MEL_HOP if streaming else int(BLOCK_SECONDS * MEL_SAMPLE_RATE)
        for i in range(0, n, step):
            t = time.perf_counter()
            pieces.append(agent.push(partner_8k[i:i + step]))
            took.append(time.perf_counter() - t)
        pieces.append(agent.finish())
        out = np.concatenate(pieces)[:n]
        if streaming:
            warm = np.asarray(took[1:] or took)
            figures.update(chunk_s=step / MEL_SAMPLE_RATE, chunk_median_s=float(np.median(warm)),
                           chunk_p95_s=float(np.percentile(warm, 95)), chunk_max_s=float(warm.max()))
    figures["wall_s"] = time.perf_counter() - start
    return out, figures


def respond(partner_path, out_path, *, model_dir, partner_channel: int | None = None, seed: int = 0,
            streaming: bool = False, agent_channel: int = 1, overwrite: bool = False) -> dict:
    """Write the stereo answer (module docstring); returns the timing figures of `answer` plus the output path."""
    from wavebabble.agent import normalize_level
    from wavebabble.audio import resample, write_wav
    from wavebabble.mel import MEL_SAMPLE_RATE

    out_path = Path(out_path)
    if out_path.exists() and not overwrite:
        raise ConfigError(f"--out={out_path}: already exists (pass --overwrite to replace it)")
    partner, sr = read_partner(partner_path, partner_channel)
    loaded = load_agent(model_dir)
    heard = partner if sr == MEL_SAMPLE_RATE else resample(partner, sr, MEL_SAMPLE_RATE)
    heard, gain = normalize_level(heard)
    agent, figures = answer(loaded, heard, seed, streaming)
    agent = agent / gain
    if sr != MEL_SAMPLE_RATE:
        agent = resample(agent, MEL_SAMPLE_RATE, sr)
    agent = np.pad(agent, (0, max(0, len(partner) - len(agent))))[:len(partner)]
    stereo = np.zeros((len(partner), STEREO), np.float32)
    stereo[:, agent_channel], stereo[:, 1 - agent_channel] = agent, partner
    write_wav(out_path, stereo, sr, overwrite=overwrite)
    return {**figures, "out": str(out_path)}


FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("partner", None, "The partner's recording (mono; or stereo with --partner_channel).")
    flags.DEFINE_integer("partner_channel", None, "Which channel of a stereo --partner file is the partner (0 or 1).")
    flags.DEFINE_string("out", None, "Output stereo WAV (the partner's sample rate).")
    flags.DEFINE_string("model", None, "Exported SavedModel with the agent; default: the shipped pretrained model.")
    flags.DEFINE_integer("seed", 0, "The agent's random seed (its voice and its choices).")
    flags.DEFINE_boolean("streaming", False, "Feed the partner in chunks as live audio (the longest the agent answers "
                         "before they are due: 104 ms for the shipped agent) to its streaming turn-taker, and report "
                         "the time per chunk.")
    flags.DEFINE_enum("agent_channel", "1", ["0", "1"], "Output channel of the agent (the partner gets the other).")
    flags.DEFINE_boolean("overwrite", False, "Replace an existing --out file.")


def main(argv) -> None:
    del argv
    if not FLAGS.partner or not FLAGS.out:
        raise app.UsageError("--partner and --out are required")
    with cli_errors("wavebabble-respond"):
        from wavebabble import pretrained

        model = pretrained.model_or_default(FLAGS.model)
        fig = respond(FLAGS.partner, FLAGS.out, model_dir=model, partner_channel=FLAGS.partner_channel,
                      seed=FLAGS.seed, streaming=FLAGS.streaming, agent_channel=int(FLAGS.agent_channel),
                      overwrite=FLAGS.overwrite)
    line = f"wrote {fig['out']}: {fig['seconds']:.1f} s answered in {fig['wall_s']:.1f} s " \
           f"(real-time factor {fig['wall_s'] / fig['seconds']:.3f})"
    if FLAGS.streaming:
        line += (f"; per {1000 * fig['chunk_s']:.0f} ms chunk: median {1000 * fig['chunk_median_s']:.1f} ms, "
                 f"p95 {1000 * fig['chunk_p95_s']:.1f} ms, max {1000 * fig['chunk_max_s']:.1f} ms")
    print(line)


def run() -> None:
    """Console-script entry point."""
    runtime.tune("serve", start=False)
    define_flags()
    run_main(main, "wavebabble-respond")


if __name__ == "__main__":
    run()

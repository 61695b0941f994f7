"""Generate dialogues from an exported SavedModel (no training code needed).

    python -m wavebabble.generate --out_dir=OUT [--model=runs/demo/export] [--num=16] [--seed=0] [--seconds=N]

--seconds sets each clip's length for a model that makes any length (the two-stage generator, exported with
`python -m wavebabble.export --planner=... --renderer=...`): one call per clip batch, no joins, so nothing resets
mid-dialogue; the length is rounded up to the model's step (latent_quantum). A fixed-length model refuses it.
Without --model it uses the shipped pretrained model (wavebabble/pretrained: how it was trained and its figures
are in its record, two_stage.json: the two-stage generator, any length).

Writes into --out_dir:
    clip_0000.wav ...        stereo WAV [samples, 2] (slice_len, or --seconds) at the model's sample rate
                             (speaker A left, B right)
    clip_0000.json ...       {"path", "sample_rate", "duration", "seed", "index",
                              "vad": [[[start_s, end_s], ...], [...]]   (hard_vad of the audio, per channel),
                              "timing": timing summary of the clip (wavebabble.timing keys)}
                             (readable by `python -m eval.timing --vad_json=clip_0000.json`)
    manifest.jsonl           one corpus-manifest line per clip (wavebabble.corpus.manifest format)
    timing_summary.json/.txt timing statistics pooled over all clips
and prints the pooled timing table. Clip i depends only on (--seed, i): the SavedModel's `latents` function draws
its z, so --batch changes speed and memory; the audio only within export.BATCH_ATOL (float summation order),
which can move a 16-bit sample by one step.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

from absl import app, flags

from wavebabble import runtime, timing
from wavebabble.audio import write_wav
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import ConfigError
from wavebabble.outdir import prepare_out_dir, write_text_atomic

CLIP_PREFIX = "clip_"
SUMMARY_JSON = "timing_summary.json"
SUMMARY_TXT = "timing_summary.txt"
DEFAULT_BATCH = 16
TOOL = "generate"                  # this tool's name in the output folder's record (wavebabble.outdir)
BYTES_PER_SAMPLE = {"PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4}
WAV_HEADER_BYTES = 44
CLIP_JSON_BYTES = 16384            # a clip's JSON (VAD intervals + timing summary) stays well below this
SPACE_MARGIN = 1.1                 # free space asked for beyond the estimate
MAX_SECONDS = 3600.0               # longest --seconds
BATCH_SAMPLES = DEFAULT_BATCH * 65536   # most samples per channel in one model call: --batch shrinks for long clips


def load_model(model_dir):
    """(loaded SavedModel, metadata dict of Python scalars). ConfigError when model_dir is not an export."""
    import tensorflow as tf

    model_dir = Path(model_dir).expanduser()
    if not (model_dir / "saved_model.pb").is_file():
        raise ConfigError(f"--model={model_dir}: not a SavedModel folder (no saved_model.pb); export one with "
                          f"`python -m wavebabble.export --logdir=RUN`")
    from google.protobuf.message import DecodeError

    try:
        loaded = tf.saved_model.load(str(model_dir))
    except (tf.errors.OpError, OSError, ValueError, IndexError, DecodeError) as e:  # IndexError: short variables
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"--model={model_dir}: cannot load the SavedModel (damaged or incomplete: "
                          f"{type(e).__name__}: {first_line})") from e
    if "metadata" not in loaded.signatures or not hasattr(loaded, "latents"):
        raise ConfigError(f"--model={model_dir}: not a wavebabble export (no metadata signature / latents)")
    return loaded, load_model_meta(loaded)


def load_model_meta(loaded) -> dict:
    """The metadata signature's outputs of a loaded export, as Python scalars and strings."""
    meta = {}
    for key, value in loaded.signatures["metadata"]().items():
        v = value.numpy()
        meta[key] = v.decode() if isinstance(v, bytes) else v.item()
    return meta


def clip_name(index: int, width: int) -> str:
    return f"{CLIP_PREFIX}{index:0{width}d}"


def output_names(num: int, width: int) -> list[str]:
    """Every file `generate` writes for `num` clips (clip names `width` digits wide)."""
    from wavebabble.corpus.manifest import MANIFEST_NAME

    clips = [clip_name(i, width) for i in range(num)]
    return [f"{c}.wav" for c in clips] + [f"{c}.json" for c in clips] + [MANIFEST_NAME, SUMMARY_JSON, SUMMARY_TXT]


def clip_latent_len(meta: dict, seconds: float) -> int:
    """The z length of a clip of at least `seconds` (0: the model's clip, latent_dim). ConfigError naming
    --seconds when the model makes only one length or `seconds` is out of range."""
    if not seconds:
        return meta["latent_dim"]
    quantum = meta.get("latent_quantum", 0)
    if not quantum:
        raise ConfigError(f"--seconds={seconds:g}: this model makes clips of one length only "
                          f"({meta['clip_seconds']:.2f} s); leave --seconds out, or use a model that makes any "
                          f"length (the two-stage generator)")
    if not 0 < seconds <= MAX_SECONDS:
        raise ConfigError(f"--seconds={seconds:g}: must be > 0 and <= {MAX_SECONDS:g}")
    samples_per_z = meta["slice_len"] // meta["latent_dim"]
    return math.ceil(seconds * meta["sample_rate"] / (quantum * samples_per_z)) * quantum


def check_free_space(out_dir: Path, num: int, meta: dict, subtype: str, samples: int | None = None) -> int:
    """Refuse (ConfigError naming --num) when the disk holding out_dir has less free space than `num` clips of
    `samples` (default slice_len), their JSONs and the summaries need (an upper estimate x SPACE_MARGIN); -> the
    estimate in bytes."""
    sample_bytes = BYTES_PER_SAMPLE.get(subtype, max(BYTES_PER_SAMPLE.values()))
    per_clip = ((samples or meta["slice_len"]) * meta["nch"] * sample_bytes
                + WAV_HEADER_BYTES + CLIP_JSON_BYTES)
    need = int(num * per_clip * SPACE_MARGIN)
    existing = next(p for p in (out_dir, *out_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if need > free:
        raise ConfigError(f"--num={num}: {num} clips need about {need / 2**30:.2f} GiB in {existing}, which has "
                          f"{free / 2**30:.2f} GiB free; generate fewer or choose another --out_dir")
    return need


def generate_clips(loaded, meta: dict, num: int, seed: int, batch: int, latent_len: int | None = None):
    """Yield (index, audio np.float32 [samples, 2]) for clips 0..num-1, `batch` at a time; clips of the model's
    length, or of z length `latent_len` (clip_latent_len) through its any-length entry points."""
    import tensorflow as tf

    any_length = latent_len not in (None, meta["latent_dim"])
    serve = loaded.signatures["serving_any_length" if any_length else "serving_default"]
    for start in range(0, num, batch):
        n = min(batch, num - start)
        args = tf.constant(start, tf.int64), tf.constant(n, tf.int32), tf.constant(seed, tf.int64)
        z = loaded.latents_of_length(*args, tf.constant(latent_len, tf.int32)) if any_length else loaded.latents(*args)
        audio = serve(z=z)["audio"].numpy()
        for i in range(n):
            yield start + i, audio[i]


def generate(model_dir, num: int, out_dir, seed: int = 0, batch: int = DEFAULT_BATCH, overwrite: bool = False,
             subtype: str = "PCM_16", log=print, seconds: float = 0.0) -> timing.TimingStats:
    """Write `num` clips (of the model's length, or of at least `seconds`: clip_latent_len) + JSONs + manifest +
    pooled summary into out_dir; return the pooled TimingStats. Long clips lower `batch` to keep one call within
    BATCH_SAMPLES samples.

    With `overwrite` the files an earlier `generate` wrote there are removed first (wavebabble.outdir); a file
    of any other origin at a name this writes is refused (ConfigError) and the user's other files stay."""
    from wavebabble.corpus.manifest import manifest_record, write_manifest
    from wavebabble.vad import hard_vad

    if num < 1:
        raise ConfigError(f"--num={num}: must be >= 1")
    loaded, meta = load_model(model_dir)
    if not 1 <= batch <= meta["max_clips"]:
        raise ConfigError(f"--batch={batch}: must be in [1, {meta['max_clips']}] (the model's max_clips)")
    latent_len = clip_latent_len(meta, seconds)
    samples = latent_len * (meta["slice_len"] // meta["latent_dim"])
    batch = min(batch, max(1, BATCH_SAMPLES // samples))
    out_dir = Path(out_dir).expanduser()
    check_free_space(out_dir.absolute(), num, meta, subtype, samples)
    sr, frame_hz = meta["sample_rate"], meta["frame_hz"]
    width = max(4, len(str(num - 1)))
    with prepare_out_dir(out_dir, overwrite, "--out_dir", "generated clips", tool=TOOL,
                         writes=output_names(num, width), log=log):
        vads, records = [], []
        t0 = time.perf_counter()
        for index, audio in generate_clips(loaded, meta, num, seed, batch, latent_len):
            name = clip_name(index, width)
            write_wav(out_dir / f"{name}.wav", audio, sr, subtype=subtype)
            vad = hard_vad(audio, sr, frame_hz)
            vads.append(vad)
            intervals = timing.vad_to_intervals(vad, frame_hz)
            duration = audio.shape[0] / sr
            clip_json = {"path": f"{name}.wav", "sample_rate": sr, "duration": duration, "seed": seed, "index": index,
                         "vad": [[[s, e] for s, e in ch] for ch in intervals],
                         "timing": timing.timing_stats(vad, frame_hz).to_json()}
            write_text_atomic(out_dir / f"{name}.json", json.dumps(clip_json, indent=1, allow_nan=False) + "\n",
                              "clip timing")
            records.append(manifest_record(f"{name}.wav", sr, duration, intervals, seed=seed, index=index))
            if (index + 1) % batch == 0 or index + 1 == num:
                log(f"generated {index + 1} / {num} clips ({time.perf_counter() - t0:.1f} s)")
        write_manifest(out_dir, records)
        stats = timing.timing_stats(vads, frame_hz)
        table = timing.stats_table({"generated": stats})
        summary = {"model": str(model_dir), "num_clips": num, "seed": seed, "metadata": meta,
                   "timing": stats.to_json(), "counts": stats.counts()}
        write_text_atomic(out_dir / SUMMARY_JSON, json.dumps(summary, indent=2, allow_nan=False) + "\n",
                          "the timing summary")
        write_text_atomic(out_dir / SUMMARY_TXT, table + "\n", "the timing summary")
    log(table)
    log(f"wrote {num} stereo clips ({samples / sr:.2f} s at {sr} Hz each) to {out_dir}")
    return stats


FLAGS = flags.FLAGS


def define_flags() -> None:
    """Define this CLI's flags (only when it runs: library users such as the trainer import this module)."""
    flags.DEFINE_string("model", None, "Exported SavedModel folder (python -m wavebabble.export); default: the "
                        "shipped pretrained model (wavebabble/pretrained).")
    flags.DEFINE_integer("num", 16, "Number of clips to generate.")
    flags.DEFINE_float("seconds", 0.0, "Length of each clip, for a model that makes any length (the two-stage "
                       "generator); 0: the model's clip length.")
    flags.DEFINE_string("out_dir", None, "Output folder for WAVs and JSONs (required).")
    flags.DEFINE_integer("seed", 0, "Random seed: clip i depends only on (seed, i).")
    flags.DEFINE_integer("batch", DEFAULT_BATCH, "Clips per model call (memory/speed only; the audio is the same).")
    flags.DEFINE_boolean("overwrite", False, "Write into a non-empty --out_dir (replacing earlier generated clips).")
    flags.DEFINE_enum("subtype", "PCM_16", ["PCM_16", "FLOAT"], "WAV sample format.")


def main(argv) -> None:
    if not FLAGS.out_dir:
        raise app.UsageError("--out_dir is required")
    with cli_errors("wavebabble-generate"):
        from wavebabble import pretrained

        model = pretrained.model_or_default(FLAGS.model)
        generate(model, FLAGS.num, FLAGS.out_dir, seed=FLAGS.seed, batch=FLAGS.batch,
                 overwrite=FLAGS.overwrite, subtype=FLAGS.subtype, seconds=FLAGS.seconds)


def run() -> None:
    """Console-script entry point."""
    runtime.tune("serve", start=False)
    define_flags()
    run_main(main, "wavebabble-generate")


if __name__ == "__main__":
    run()

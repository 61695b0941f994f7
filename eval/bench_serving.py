"""SavedModel serving speed: latency (p50/p99, one clip) and throughput (batch 64) per preset and export variant.

    python -m eval.bench_serving [--presets=demo,dialogue8k] [--variants=xla,graph] [--json=eval/results/bench_serving.json]

For each preset a generator with RANDOM weights is built (speed does not depend on the weights), exported once
per variant with `wavebabble.export.export_generator` to a temporary folder, loaded back with
`tf.saved_model.load` and timed through the `serving_default` signature (z -> audio + soft VAD), exactly as a
serving client calls it. The variants of one preset are timed interleaved (call 1 of each, call 2 of each, ...)
so that a machine shared with other jobs slows them alike.

Variants (export levers; the SavedModel's outputs are the same in all):
    optimized:      the default export: polyphase serving copy of G with precomputed kernels, plain TF graph
    plain:          G as built by build_generator (keras Conv1DTranspose), plain TF graph
    optimized_xla:  optimized + jit_compile=True (XLA) around generator + VAD
    plain_xla:      plain + XLA

Latency: `--latency_reps` single-clip calls after `--warmup` calls; p50 / p99 of the wall time per call.
Throughput: `--throughput_batch` clips per call, repeated up to `--throughput_reps` times (fewer if one call
takes more than `--max_throughput_s` in total); reported as clips/s and as seconds of stereo audio generated per
second of wall time (realtime factor). The machine may be shared: medians are what to compare.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from absl import app, flags


from wavebabble import runtime
from wavebabble.cli import run_main
FLAGS = flags.FLAGS


def define_flags() -> None:
    """Define the benchmark's flags (at run time only)."""
    flags.DEFINE_list("presets", ["demo", "dialogue8k"], "Config presets to benchmark.")
    flags.DEFINE_list("variants", ["optimized", "plain"], f"Export variants: {', '.join(VARIANTS)}.")
    flags.DEFINE_integer("warmup", 3, "Untimed calls before each measurement (compilation, caches).")
    flags.DEFINE_integer("latency_reps", 50, "Timed single-clip calls per preset and variant.")
    flags.DEFINE_float("max_latency_s", 60.0, "Stop the latency loop after this many seconds (at least 5 calls).")
    flags.DEFINE_integer("throughput_batch", 64, "Clips per call in the throughput measurement.")
    flags.DEFINE_integer("throughput_reps", 5, "Timed batch calls per preset and variant (upper bound).")
    flags.DEFINE_float("max_throughput_s", 45.0, "Stop the throughput loop after this many seconds (at least 1 call).")
    flags.DEFINE_string("json", "", "Also write the figures to this JSON file.")
    flags.DEFINE_integer("seed", 0, "Seed of the random weights and of z.")


MIN_LATENCY_REPS = 5
VARIANTS = {  # name -> (config overrides, export_generator kwargs)
    "optimized": ({}, {"optimize": True, "jit_compile": False}),
    "plain": ({}, {"optimize": False, "jit_compile": False}),
    "optimized_xla": ({}, {"optimize": True, "jit_compile": True}),
    "plain_xla": ({}, {"optimize": False, "jit_compile": True}),
}


def _call(fn, z) -> float:
    """Wall seconds of one fn(z=z) call, outputs fetched to numpy."""
    t0 = time.perf_counter()
    out = fn(z=z)
    out["audio"].numpy()
    out["vad"].numpy()
    return time.perf_counter() - t0


def _round_robin(fns: dict, z, reps: int, max_s: float, min_reps: int) -> dict:
    """Interleave calls of every variant (rep 1 of each, rep 2 of each, ...) so they share the machine's load."""
    times = {name: [] for name in fns}
    start = time.perf_counter()
    for rep in range(reps):
        for name, fn in fns.items():
            times[name].append(_call(fn, z))
        if rep + 1 >= min_reps and time.perf_counter() - start > max_s:
            break
    return {name: np.asarray(t) for name, t in times.items()}


def bench_preset(preset: str, variants: list[str]) -> list[dict]:
    """Export a random-weight generator of `preset` once per variant, load them all, time them interleaved."""
    import tensorflow as tf

    from wavebabble.config import get_config
    from wavebabble.export import export_generator
    from wavebabble.models.generator import build_generator

    rows, fns = {}, {}
    with tempfile.TemporaryDirectory(prefix="wb_bench_serving_") as tmp:
        for variant in variants:
            overrides, export_kw = VARIANTS[variant]
            cfg = get_config(preset, **overrides)
            tf.keras.utils.set_random_seed(FLAGS.seed)  # same weights for every variant of one architecture
            generator = build_generator(cfg)
            params = int(sum(np.prod(v.shape) for v in generator.trainable_weights))
            t0 = time.perf_counter()
            path = export_generator(generator, cfg, os.path.join(tmp, variant), **export_kw)
            export_s = time.perf_counter() - t0
            saved_mb = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file()) / 2**20
            del generator
            fn = tf.saved_model.load(path).signatures["serving_default"]
            fns[variant] = fn
            rows[variant] = {"preset": preset, "variant": variant, **export_kw, "params": params,
                             "saved_model_mb": round(saved_mb, 1), "sample_rate": cfg.sample_rate,
                             "slice_len": cfg.slice_len, "clip_seconds": cfg.clip_seconds,
                             "export_s": round(export_s, 1)}
            print(f"  exported {preset}/{variant} in {export_s:.1f} s ({saved_mb:.0f} MB)", flush=True)
        latent_dim = cfg.latent_dim
        rng = np.random.default_rng(FLAGS.seed)
        z1 = tf.constant(rng.uniform(-1, 1, (1, latent_dim)).astype(np.float32))
        zb = tf.constant(rng.uniform(-1, 1, (FLAGS.throughput_batch, latent_dim)).astype(np.float32))
        for variant, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(FLAGS.warmup):
                _call(fn, z1)
            rows[variant]["warmup_s"] = round(time.perf_counter() - t0, 2)
        print(f"  latency: up to {FLAGS.latency_reps} interleaved single-clip calls per variant ...", flush=True)
        lat = _round_robin(fns, z1, FLAGS.latency_reps, FLAGS.max_latency_s, MIN_LATENCY_REPS)
        for variant, t in lat.items():
            print(f"    {preset}/{variant}: one clip p50 {np.percentile(t, 50) * 1e3:.1f} ms, "
                  f"p99 {np.percentile(t, 99) * 1e3:.1f} ms, min {t.min() * 1e3:.1f} ms ({t.size} calls)", flush=True)
        print(f"  throughput: batch {FLAGS.throughput_batch}, up to {FLAGS.throughput_reps} calls per variant ...",
              flush=True)
        for fn in fns.values():
            _call(fn, zb)  # warm-up at the batch shape
        thr = _round_robin(fns, zb, FLAGS.throughput_reps, FLAGS.max_throughput_s, 1)
    out = []
    for variant, r in rows.items():
        t, b = lat[variant], thr[variant]
        per_batch = float(np.median(b))
        clips_per_s = FLAGS.throughput_batch / per_batch
        r.update({
            "latency_reps": int(t.size), "latency_p50_ms": float(np.percentile(t, 50) * 1e3),
            "latency_p99_ms": float(np.percentile(t, 99) * 1e3), "latency_min_ms": float(t.min() * 1e3),
            "single_clip_realtime_x": r["clip_seconds"] / float(np.percentile(t, 50)),
            "throughput_batch": FLAGS.throughput_batch, "throughput_reps": int(b.size),
            "batch_median_s": per_batch, "clips_per_s": clips_per_s, "audio_s_per_s": clips_per_s * r["clip_seconds"],
        })
        out.append(r)
    return out


def format_table(rows: list[dict]) -> str:
    head = (f"{'preset':<11} {'variant':<12} {'params':>10} {'p50 ms':>8} {'p99 ms':>8} {'min ms':>8} "
            f"{'reps':>5} {'clips/s@B':>10} {'audio s/s':>10} {'1-clip RTx':>10}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['preset']:<11} {r['variant']:<12} {r['params']:>10,} {r['latency_p50_ms']:>8.1f} "
                     f"{r['latency_p99_ms']:>8.1f} {r['latency_min_ms']:>8.1f} {r['latency_reps']:>5} "
                     f"{r['clips_per_s']:>10.1f} {r['audio_s_per_s']:>10.1f} {r['single_clip_realtime_x']:>10.1f}")
    return "\n".join(lines)


def main(argv) -> int:
    unknown = [v for v in FLAGS.variants if v not in VARIANTS]
    if unknown:
        raise app.UsageError(f"--variants: unknown {unknown}; choose from {sorted(VARIANTS)}")
    runtime.start_tensorflow()
    import tensorflow as tf

    print(f"TF {tf.__version__}, {os.cpu_count()} CPU core(s) visible, load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (random weights: speed does not depend on them)",
          flush=True)
    rows = []
    for preset in FLAGS.presets:
        print(f"benchmarking {preset}: variants {', '.join(FLAGS.variants)} ...", flush=True)
        for r in bench_preset(preset, FLAGS.variants):
            rows.append(r)
            print(f"  {preset}/{r['variant']}: p50 {r['latency_p50_ms']:.1f} ms, p99 {r['latency_p99_ms']:.1f} ms "
                  f"over {r['latency_reps']} calls; batch {r['throughput_batch']}: {r['clips_per_s']:.1f} clips/s = "
                  f"{r['audio_s_per_s']:.1f} s of stereo audio per s ({r['throughput_reps']} calls)", flush=True)
    print()
    print(format_table(rows))
    print(f"load average after: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if FLAGS.json:
        path = Path(FLAGS.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"rows": rows, "cpu_count": os.cpu_count(), "tf": tf.__version__},
                                   indent=2) + "\n")
        print(f"wrote {path}")
    return 0


def run() -> None:
    runtime.tune("serve", start=False)
    define_flags()
    run_main(main, "python -m eval.bench_serving")


if __name__ == "__main__":
    sys.exit(run())

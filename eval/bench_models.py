"""Benchmark the wavebabble models on this machine (CPU): throughput and fraction of matmul peak.

    python -m eval.bench_models                       # all presets, default levers
    python -m eval.bench_models --presets=paper --levers=all --g_batch=16

For each preset:
  * generator forward: clips/s, seconds of stereo audio generated per second of compute, achieved
    GFLOP/s (analytic: 2 * MACs counted from layer shapes, see `model_macs`) and that divided by the
    fp32 matmul peak measured in the same run: the fastest 2048^3 matmul of TensorFlow and numpy
    (`best_matmul`, printed at the top); a probe of it (median of 3) runs right before every timed run and
    each run is divided by its own probe (`paired_time`), because other processes on the shared cores change
    the load from second to second;
  * one full training step, the trainer's own (GAN.train_step on one device: cfg.d_updates
    discriminator updates + one generator update with every discriminator whose weight is > 0), its time,
    steps/s and the same ratio. Train-step FLOPs are estimated as 3x forward for differentiated model calls
    (forward + two backward products), 1x for the no-grad generator call inside the D updates, and 3x for the
    gradient-penalty critic call (its double backward is not counted: the ratio is a lower bound).
Levers (--levers): rows for the generator forward with keras Conv1DTranspose vs the polyphase form,
XLA jit_compile, mixed bfloat16 (only if /proc/cpuinfo has avx512_bf16/amx).
All timings are medians of --repeats runs after one warm-up.
"""
from __future__ import annotations

import statistics
import time

from absl import flags

from wavebabble import runtime
from wavebabble.cli import run_main

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["paper", "dialogue8k", "demo"], "Presets to benchmark.")
flags.DEFINE_integer("g_batch", 16, "Batch size for the generator-forward rows.")
flags.DEFINE_integer("train_batch", 1, "Batch size for the paper/dialogue8k train-step rows (demo uses its "
                     "own cfg.batch_size).")
flags.DEFINE_integer("repeats", 5, "Timed runs per row (median reported).")
flags.DEFINE_integer("train_repeats", 2, "Timed runs of the paper/dialogue8k train step (demo uses --repeats).")
flags.DEFINE_integer("lever_batch", 64, "Batch of the extra large-batch generator lever row (0 skips it).")
flags.DEFINE_integer("matmul_n", 2048, "Size n of the n x n x n fp32 matmul used as the peak.")
flags.DEFINE_enum("levers", "paper", ["none", "paper", "all"],
                  "Generator-forward lever rows: none, for the paper preset only, or for every preset.")
flags.DEFINE_float("row_budget_s", 20.0, "Stop repeating a row once its timed runs exceed this many seconds "
                   "(slow rows, e.g. XLA on CPU, then report fewer runs).")
flags.DEFINE_bool("train", True, "Also time one full training step per preset.")
flags.DEFINE_bool("train_jit", False, "Compile the training step with XLA (jit_compile=True).")

MATMUL_PROBE = 3           # matmul runs before each timed run (median = that run's peak)
MATMUL_IMPLS = ("tensorflow", "numpy")
PEAK = {}                    # {"name", "fn"}: the best matmul, chosen once per run in main()
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
FWD_GRAD_FACTOR = 3          # forward + backward wrt inputs + backward wrt weights


def model_macs(model, input_shape=None) -> int:
    """Multiply-accumulates of one example through `model`, from its layers' static shapes. A model whose input has a
    free (None) time axis (the multi-scale D) is counted on a copy built for `input_shape` ([time, ch])."""
    import keras
    from wavebabble.models.layers import PolyphaseConv1DTranspose

    if None in tuple(model.input_shape[1:]):
        if input_shape is None:
            raise ValueError(f"{model.name} takes any length: give model_macs the input_shape to count it at")
        model = keras.models.clone_model(model, input_tensors=keras.Input(tuple(input_shape)))
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += model_macs(layer)
            continue
        if not layer.weights:
            continue
        inp, out = layer.input.shape, layer.output.shape
        if isinstance(layer, keras.layers.Dense):
            total += int(inp[-1]) * int(out[-1])
        elif isinstance(layer, keras.layers.DepthwiseConv1D):
            total += int(out[1]) * layer.kernel_size[0] * int(out[-1])
        elif isinstance(layer, (keras.layers.Conv1DTranspose, PolyphaseConv1DTranspose)):
            k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
            total += int(inp[1]) * k * int(inp[-1]) * int(out[-1])
        elif isinstance(layer, keras.layers.Conv1D):
            total += int(out[1]) * layer.kernel_size[0] * (int(inp[-1]) // layer.groups) * int(out[-1])
    return total


def median_time(fn, repeats: int, budget_s: float = float("inf")) -> float:
    """Median wall time of fn() over `repeats` runs after one warm-up; stops early past budget_s."""
    fn()                                          # warm-up / trace
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if sum(times) > budget_s:
            break
    return statistics.median(times)


def make_matmul(n: int, impl: str):
    """A callable running one fp32 n^3 matmul (2 n^3 FLOPs) to completion with `impl` (one of MATMUL_IMPLS)."""
    if impl == "numpy":
        import numpy as np
        rng = np.random.default_rng(0)
        a, b = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
        return lambda: a @ b
    import tensorflow as tf
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    mm = tf.function(lambda: tf.matmul(a, b))
    mm()
    return lambda: mm().numpy()


def best_matmul(n: int) -> tuple[str, object, dict]:
    """(name, callable, {impl: GFLOP/s}) of the fastest fp32 matmul of MATMUL_IMPLS here (median of 3 runs each).

    TensorFlow's matmul uses oneDNN only when TF_ENABLE_ONEDNN_OPTS is on; numpy's BLAS may be faster: the peak
    the %-of-peak figures divide by is the best one available in this process."""
    fns = {impl: make_matmul(n, impl) for impl in MATMUL_IMPLS}
    gflops = {impl: 2 * n ** 3 / median_time(fn, MATMUL_PROBE) / 1e9 for impl, fn in fns.items()}
    name = max(gflops, key=gflops.get)
    return name, fns[name], gflops


def paired_time(fn, flop: float, n: int, repeats: int, budget_s: float) -> dict:
    """Alternate one matmul-peak probe (median of MATMUL_PROBE runs) and one fn() run, `repeats` times.

    The shared cores' load changes from second to second, so each run's GFLOP/s is divided by the peak
    measured just before it; returns medians of time, GFLOP/s, peak and of the per-pair ratios.
    """
    mm = PEAK["fn"]
    mm_flop = 2 * n ** 3
    fn()                                          # warm-up / trace
    secs, peaks, ratios = [], [], []
    for _ in range(repeats):
        probe = []
        for _ in range(MATMUL_PROBE):
            t0 = time.perf_counter()
            mm()
            probe.append(time.perf_counter() - t0)
        peak = mm_flop / statistics.median(probe) / 1e9
        t0 = time.perf_counter()
        fn()
        sec = time.perf_counter() - t0
        secs.append(sec)
        peaks.append(peak)
        ratios.append(flop / sec / 1e9 / peak)
        if sum(secs) > budget_s:
            break
    sec = statistics.median(secs)
    return {"sec": sec, "gflops": flop / sec / 1e9, "peak": statistics.median(peaks),
            "ratio": statistics.median(ratios), "runs": len(secs)}


def cpu_has_bf16() -> bool:
    return any(f in runtime.cpu_flags() for f in BF16_CPU_FLAGS)


def bench_generator(cfg, batch, repeats, n, transpose_impl="keras", jit=False, bf16=False) -> dict:
    import keras
    import tensorflow as tf
    from wavebabble.models import build_generator

    if bf16:
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        gen = build_generator(cfg, transpose_impl=transpose_impl)
    finally:
        keras.config.set_dtype_policy("float32")
    z = tf.random.uniform([batch, cfg.latent_dim], -1.0, 1.0)
    fwd = tf.function(lambda z: gen(z, training=False), jit_compile=jit)
    r = paired_time(lambda: fwd(z).numpy(), 2 * model_macs(gen) * batch, n, repeats, FLAGS.row_budget_s)
    return {**r, "clips_s": batch / r["sec"], "audio_s_per_s": batch * cfg.clip_seconds / r["sec"]}


def make_train_step(cfg, batch: int, jit=False):
    """The training step itself (wavebabble.gan.GAN.train_step: cfg.d_updates D updates + 1 G update, one
    device) on a fixed random real batch [batch, slice_len, nch]. Returns (step_fn, macs_per_example)."""
    import tensorflow as tf
    from wavebabble.distribute import make_strategy
    from wavebabble.gan import GAN

    cfg = cfg.replace(batch_size=batch)
    trainer = GAN(cfg, make_strategy("one_device"), jit_compile=jit)
    real = tf.random.uniform([batch, cfg.slice_len, cfg.nch], -0.5, 0.5)
    iterator = iter(trainer.strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensors(real).repeat()))
    # a critic with a free time axis (the multi-scale D) reads a cfg.ms_window window of each clip, or the clip
    seen = (cfg.ms_window or cfg.slice_len, cfg.nch)
    critic_macs = {name: model_macs(c.model, seen) for name, c in trainer.critics.items()}
    g_macs = model_macs(trainer.generator)
    d_macs = sum(critic_macs.values())
    gp_macs = d_macs if cfg.loss == "wgan-gp" else 0
    # feature matching runs the critics that return features (more than a score) once more, on the real batch
    fm_macs = sum(critic_macs[name] for name, c in trainer.critics.items()
                  if cfg.fm_weight and len(c.model.outputs) > 1)
    per_d_update = g_macs + FWD_GRAD_FACTOR * (2 * d_macs + gp_macs)
    per_g_update = FWD_GRAD_FACTOR * (g_macs + d_macs) + fm_macs
    return (lambda: trainer.train_step(iterator)), cfg.d_updates * per_d_update + per_g_update


def bench_train(cfg, batch, repeats, n, jit=False) -> dict:
    step, macs = make_train_step(cfg, batch, jit=jit)
    r = paired_time(step, 2 * macs * batch, n, repeats, FLAGS.row_budget_s)
    return {**r, "clips_s": batch / r["sec"], "audio_s_per_s": batch * cfg.clip_seconds / r["sec"],
            "steps_s": 1.0 / r["sec"]}


def _row(name, what, batch, r) -> str:
    return (f"{name:<11} {what:<34} {batch:>5} {r['sec'] * 1e3:>10.1f} {r['clips_s']:>8.2f} "
            f"{r['audio_s_per_s']:>9.1f} {r['gflops']:>8.1f} {r['peak']:>8.1f} {100 * r['ratio']:>6.0f}% {r['runs']:>4}")


def main(argv):
    del argv
    import os
    import tensorflow as tf
    from wavebabble.config import get_config

    n, reps = FLAGS.matmul_n, FLAGS.repeats
    bf16 = cpu_has_bf16()
    settings = runtime.tune("train")
    PEAK["name"], PEAK["fn"], gflops = best_matmul(n)
    print(f"# {settings.line()} | TF {tf.__version__}, {os.cpu_count()} cores", flush=True)
    print(f"# peak: fp32 {n}^3 matmul by {PEAK['name']} ("
          + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in gflops.items())
          + f"), probed before every timed run; %peak = median over runs of (run GFLOP/s / its probe); ms, GFLOP/s, "
          f"peak: medians. CPU bf16: {bf16}", flush=True)
    header = (f"{'preset':<11} {'what':<34} {'batch':>5} {'ms':>10} {'clips/s':>8} {'audio s/s':>9} "
              f"{'GFLOP/s':>8} {'peak':>8} {'%peak':>7} {'runs':>4}")
    print(header)
    print("-" * len(header), flush=True)
    for preset in FLAGS.presets:
        cfg = get_config(preset)
        rows = [("G fwd keras-transpose", dict())]
        lever_rows = FLAGS.levers == "all" or (FLAGS.levers == "paper" and preset == "paper")
        if lever_rows and FLAGS.lever_batch:
            rows.append(("G fwd keras-transpose (batch)", dict(batch=FLAGS.lever_batch)))
        if lever_rows:
            rows += [("G fwd polyphase-transpose", dict(transpose_impl="polyphase")),
                     ("G fwd keras-transpose XLA", dict(jit=True)),
                     ("G fwd polyphase XLA", dict(transpose_impl="polyphase", jit=True))]
            if bf16:
                rows += [("G fwd keras-transpose bf16", dict(bf16=True)),
                         ("G fwd polyphase bf16", dict(transpose_impl="polyphase", bf16=True))]
        for what, kw in rows:
            c = kw.pop("cfg", cfg)
            batch = kw.pop("batch", FLAGS.g_batch)
            r = bench_generator(c, batch, reps, n, **kw)
            print(_row(preset, what, batch, r), flush=True)
        if FLAGS.train:
            batch = cfg.batch_size if preset == "demo" else FLAGS.train_batch
            what = (f"train step ({cfg.loss}, {cfg.d_updates}D+G"
                    + (", XLA" if FLAGS.train_jit else "") + ")")
            r = bench_train(cfg, batch, reps if preset == "demo" else FLAGS.train_repeats, n, jit=FLAGS.train_jit)
            print(_row(preset, what, batch, r), flush=True)


if __name__ == "__main__":
    runtime.tune("train")
    run_main(main, "python -m eval.bench_models")

"""The training loop: GAN steps until the step budget or a stop signal, with hooks for everything else.

    signals = StopSignals(); signals.install()
    status = run_loop(gan, iterator, train_steps, [ProgressHook(...), SummaryHook(...), CheckpointHook(...)],
                      signals)

Hooks get `begin(gan)` once; per step: every hook's `before_step(step)` (the step about to run), then
`gan.train_step`, a finiteness check of the losses (NonFiniteLossError: nothing is saved after it), then every
hook's `after_step(step, losses, last)` in the order given (log, summaries, checkpoint). `last` is True at the step budget and when a stop was requested
(SIGINT/SIGTERM here, or on any worker): the loop then returns 128 + the signal number, else 0.
"""
from __future__ import annotations

import os
import signal
import time

import numpy as np

from wavebabble import summaries
from wavebabble.finite import assert_finite

SIGNAL_EXIT_BASE = 128                # exit status after a signal: 128 + signum (shell convention)


class Hook:
    """Something done around training steps; override what is needed."""

    def begin(self, gan) -> None:
        """Once, before the first step, with the GAN being trained."""

    def before_step(self, step: int) -> None:
        """Before step `step` (1-based: the step about to run)."""

    def after_step(self, step: int, losses: dict, last: bool) -> None:
        """After step `step` with its {loss name: float}; `last` when the loop ends after it."""


class StopSignals:
    """Records SIGINT/SIGTERM; the loop saves and exits after the current step. A second signal kills at once."""

    def __init__(self):
        self.signum = 0
        self._previous = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:          # not the main thread: no handler (tests calling train() from threads)
                pass

    def _handle(self, signum, frame):
        if self.signum:
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            os.kill(os.getpid(), signum)
            return
        self.signum = signum
        print(f"received {signal.Signals(signum).name}: saving a checkpoint after this step, then exiting",
              flush=True)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def format_seconds(s: float) -> str:
    """'1h02m03s', '2m03s', '3s'; '?' when not finite."""
    if not np.isfinite(s):
        return "?"
    s = int(round(s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


def progress_line(step: int, total: int, losses: dict, steps_per_s: float, clips_per_s: float) -> str:
    """'step 120/3000 | d_total -1.234 ... | 2.31 steps/s | 36.9 clips/s | ETA 20m47s'."""
    loss_text = " ".join(f"{k} {v:.4g}" for k, v in losses.items())
    eta = (total - step) / steps_per_s if steps_per_s > 0 else float("inf")
    return (f"step {step}/{total} | {loss_text} | {steps_per_s:.3g} steps/s | {clips_per_s:.3g} clips/s | "
            f"ETA {format_seconds(eta)}")


class ProgressHook(Hook):
    """Every `every` steps (and the last): a progress line (chief only) and loss, learning-rate and speed scalars
    (means over the interval) to TensorBoard."""

    def __init__(self, gan, writer, every: int, total: int, chief: bool):
        self.gan, self.writer, self.every, self.total, self.chief = gan, writer, every, total, chief
        self.clips_per_step = gan.cfg.batch_size * gan.cfg.d_updates
        self._reset()

    def _reset(self):
        self.t0, self.steps, self.step_time, self.sums = time.perf_counter(), 0, 0.0, {}

    def before_step(self, step):
        self._step_t0 = time.perf_counter()

    def after_step(self, step, losses, last):
        self.step_time += time.perf_counter() - self._step_t0
        self.steps += 1
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        if step % self.every and not last:
            return
        elapsed = time.perf_counter() - self.t0
        steps_per_s = self.steps / elapsed if elapsed > 0 else 0.0
        means = {k: v / self.steps for k, v in self.sums.items()}
        if self.chief:
            print(progress_line(step, self.total, means, steps_per_s, steps_per_s * self.clips_per_step), flush=True)
        with self.writer.as_default():
            summaries.write_scalars({**{f"loss/{k}": v for k, v in means.items()}, **self.gan.learning_rates(),
                                     "perf/step_time_s": self.step_time / self.steps,
                                     "perf/steps_per_s": steps_per_s,
                                     "perf/clips_per_s": steps_per_s * self.clips_per_step}, step)
        self._reset()


class SummaryHook(Hook):
    """Listening panels (generated audio, VAD strips, timing table against real clips) every `every` steps, at
    the first step of this run and the last (chief only)."""

    def __init__(self, gan, writer, every: int, first_step: int, panels, fixed_z: np.ndarray, num_audio: int):
        self.gan, self.writer, self.every, self.first_step = gan, writer, every, first_step
        self.panels, self.fixed_z, self.num_audio = panels, fixed_z, num_audio

    def after_step(self, step, losses, last):
        if not (step % self.every == 0 or step == self.first_step or last):
            return
        import tensorflow as tf

        with self.writer.as_default():
            if self.panels is not None:
                self.panels.write(step, self.gan.generate(self.fixed_z))
            else:          # mono: no speaker panels, audio only
                tf.summary.audio("audio/generated", self.gan.generate(self.fixed_z[:self.num_audio]),
                                 self.gan.cfg.sample_rate, step=step, max_outputs=self.num_audio)
        self.writer.flush()


class CheckpointHook(Hook):
    """A checkpoint every `every` steps and at the last (RunCheckpoints; every worker takes part)."""

    def __init__(self, ckpts, every: int, chief: bool):
        self.ckpts, self.every, self.chief = ckpts, every, chief

    def after_step(self, step, losses, last):
        if step % self.every == 0 or last:
            path = self.ckpts.save()
            if self.chief:
                print(f"saved {path}", flush=True)


def run_loop(gan, iterator, train_steps: int, hooks: list, signals: StopSignals) -> int:
    """Train from gan.step up to train_steps -> 0, or 128 + signal number when stopped by a signal.

    Raises NonFiniteLossError (with nothing saved after it) and whatever a hook raises."""
    step = int(gan.step.numpy())
    for hook in hooks:
        hook.begin(gan)
    if step >= train_steps:
        print(f"nothing to do: step {step} >= train_steps {train_steps}", flush=True)
    while step < train_steps:
        for hook in hooks:
            hook.before_step(step + 1)
        losses, stop = gan.train_step(iterator, stop_requested=bool(signals.signum))
        step = int(gan.step.numpy())
        assert_finite(losses, step)
        last = step >= train_steps or stop
        for hook in hooks:
            hook.after_step(step, losses, last)
        if stop:
            signum = signals.signum or signal.SIGTERM      # another worker was signalled
            print(f"stopped by {signal.Signals(signum).name} at step {step}; checkpoint saved; rerun the same "
                  f"command to resume", flush=True)
            return SIGNAL_EXIT_BASE + int(signum)
    return 0

#!/usr/bin/env python3
"""The README's two commands. Needs only python3 (+ pip); everything else is installed into .venv.

    python3 tasks.py demo   # the shipped model -> 200 clips -> report, the agent answers and continues a corpus
                            # dialogue; then a short planner run -> export -> clips
    python3 tasks.py test   # the whole test suite (what CI runs)

Each command creates `.venv` if it is missing and (re)installs the package with its dependencies when
setup.py changed since the last install.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent
VENV = Path(os.environ.get("WAVEBABBLE_VENV", REPO / ".venv"))
PY = VENV / "bin" / "python"
STAMP = VENV / ".wavebabble-install-stamp"
DEMO_DIR = REPO / "runs" / "demo"
DEMO_STEPS = 200               # the short planner run's steps (WAVEBABBLE_DEMO_STEPS=N changes it)
DEMO_RENDERER = REPO / "eval" / "results" / "two_stage_checkpoints" / "renderer" / "ckpt-5000"  # the committed
                               # renderer checkpoint the short run's planner is exported with
DEMO_CLIPS = 200               # clips from the shipped model, scored: the clips (seed 0) its record's figures are from
SLOWEST_TESTS = 15             # `test` lists this many slowest tests
MAX_TEST_WORKERS = 4           # `test` runs the suite in min(CPUs, this) pytest-xdist workers, one file per worker at
                               # a time (2 workers on 2 cores: 548 s against 1010 s in one process, measured)
DEMO_TRAINED_CLIPS = 16        # clips generated from the short run's model
DEMO_PARTNER = "dialogue_00000.wav"   # the agent answers speaker A of this corpus dialogue ...
DEMO_PROMPT = "dialogue_00001.wav"    # ... and continues this one for DEMO_CONTINUE_SECONDS
DEMO_CONTINUE_SECONDS = 30


def sh(*cmd, check=True, **kw) -> int:
    """Run a command, echoing it; exit with its code on failure when check is set."""
    print("+", " ".join(str(c) for c in cmd), flush=True)
    rc = subprocess.call([str(c) for c in cmd], cwd=REPO, **kw)
    if check and rc != 0:
        sys.exit(rc)
    return rc


def ensure_venv() -> None:
    """Create .venv and install `wavebabble[test]` into it when missing or when setup.py changed."""
    if not PY.exists():
        t0 = time.time()
        if sh(sys.executable, "-m", "venv", VENV, check=False) != 0 or not PY.exists():
            # Debian without python3-venv: fall back to virtualenv from PyPI.
            sh(sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv")
            sh(sys.executable, "-m", "virtualenv", VENV)
        print(f"created {VENV} in {time.time() - t0:.0f} s", flush=True)
    want = hashlib.sha256((REPO / "setup.py").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == want:
        return
    t0 = time.time()
    sh(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    sh(PY, "-m", "pip", "install", "--quiet", "-e", ".[test]")
    STAMP.write_text(want + "\n")
    print(f"installed wavebabble[test] in {time.time() - t0:.0f} s", flush=True)


def runtime_env(use: str) -> dict:
    """os.environ plus wavebabble.runtime's settings for `use` (oneDNN, allocator, quiet TensorFlow), printed.

    runtime.py is loaded by path: it needs only the standard library, and this script runs outside the venv."""
    spec = importlib.util.spec_from_file_location("wavebabble_runtime", REPO / "wavebabble" / "runtime.py")
    runtime = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = runtime  # its dataclass looks its module up there
    spec.loader.exec_module(runtime)
    add, settings = runtime.environment(use, os.environ)
    print(settings.line(), flush=True)
    return {**os.environ, **add}


def pytest_worker_flags(args) -> list:
    """pytest-xdist flags: min(CPUs, MAX_TEST_WORKERS) workers, each test file on one worker (its module fixtures
    built once); none when the caller chose (-n / --numprocesses / -p no:xdist in args)."""
    if any(a.startswith(("-n", "--numprocesses")) or a == "no:xdist" for a in args):
        return []
    return ["-n", str(max(1, min(os.cpu_count() or 1, MAX_TEST_WORKERS))), "--dist", "loadfile"]


def cmd_test(args) -> int:
    """Run the whole suite (fast and slow tests) with the training runtime settings (wavebabble/runtime.py) in
    parallel workers (pytest_worker_flags), and list the SLOWEST_TESTS slowest (the suite's wall time is a goal:
    this shows where it goes).

    pytest's 'no tests collected' (5) counts as failure."""
    ensure_venv()
    rc = sh(PY, "-m", "pytest", "-q", f"--durations={SLOWEST_TESTS}", *pytest_worker_flags(args), *args,
            check=False, env=runtime_env("train"))
    if rc == 5:
        print("no tests ran: failing", file=sys.stderr)
        return 1
    return rc


def cmd_demo(args) -> int:
    """Generate from the shipped model and write the report; the shipped agent answers one corpus dialogue's
    speaker A and continues another; then train the two-stage planner briefly
    (DEMO_STEPS), export it with the committed renderer and generate from that, to show training works. Extra args
    go to the training command (train.train_mel_gan)."""
    steps = os.environ.get("WAVEBABBLE_DEMO_STEPS", str(DEMO_STEPS))
    if not steps.isdigit() or int(steps) < 1:
        print(f"WAVEBABBLE_DEMO_STEPS={steps}: expected a positive integer", file=sys.stderr)
        return 2
    ensure_venv()
    t0 = time.time()
    gen_dir, report_dir = DEMO_DIR / "generated", DEMO_DIR / "report"
    sh(PY, "-m", "wavebabble.generate", f"--num={DEMO_CLIPS}", f"--out_dir={gen_dir}", "--overwrite")
    corpus = subprocess.check_output(
        [str(PY), "-c", "from wavebabble.corpus.default import default_corpus_dir; print(default_corpus_dir())"],
        cwd=REPO, text=True).strip().splitlines()[-1]
    sh(PY, "-m", "eval.report", f"--generated={gen_dir}", f"--reference={corpus}", f"--out={report_dir}",
       "--overwrite")
    agent_dir = DEMO_DIR / "agent"
    answer, continued = agent_dir / "answer.wav", agent_dir / "continued.wav"
    sh(PY, "-m", "wavebabble.respond", f"--partner={Path(corpus) / DEMO_PARTNER}", "--partner_channel=0",
       f"--out={answer}", "--overwrite")
    sh(PY, "-m", "wavebabble.continuation", f"--prompt={Path(corpus) / DEMO_PROMPT}",
       f"--seconds={DEMO_CONTINUE_SECONDS}", f"--out={continued}", "--overwrite")
    shipped_s = time.time() - t0
    train_dir, trained_gen = DEMO_DIR / "train", DEMO_DIR / "train_generated"
    sh(PY, "-m", "train.train_mel_gan", f"--logdir={train_dir}", f"--steps={steps}", *args)
    sh(PY, "-m", "wavebabble.export", f"--planner={train_dir / 'ckpt' / f'ckpt-{steps}'}",
       f"--renderer={DEMO_RENDERER}", f"--out={train_dir / 'export'}", "--overwrite")
    sh(PY, "-m", "wavebabble.generate", f"--model={train_dir / 'export'}", f"--num={DEMO_TRAINED_CLIPS}",
       f"--out_dir={trained_gen}", "--overwrite")
    print(f"\ndemo finished in {(time.time() - t0) / 60:.1f} min (shipped model + report: {shipped_s:.0f} s)",
          flush=True)
    print(f"  listen:      {gen_dir}/*.wav  (the shipped model; stereo: speaker A left, speaker B right)")
    print(f"  report:      {report_dir}/report.md  (+ PNG plots, report.json)")
    print(f"  the agent:   {answer} (it answers speaker A of {DEMO_PARTNER}, on the right), {continued} (the "
          f"corpus's {DEMO_PROMPT}, then {DEMO_CONTINUE_SECONDS} s more)")
    print(f"  short run:   {train_dir} (the planner, {steps} steps; its clips in {trained_gen})")
    print(f"  TensorBoard: {PY.parent / 'tensorboard'} --logdir {train_dir}  (its losses)")
    print("  the shipped model's full training: python -m eval.ship_model (wavebabble/pretrained/two_stage.json)")
    return 0


COMMANDS = {"demo": cmd_demo, "test": cmd_test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))

#!/usr/bin/env python3
"""The README's two commands. Needs only python3 (+ pip); everything else is installed into .venv.

    python3 tasks.py demo   # train the demo preset on the embedded corpus -> export -> generate -> report
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
DEMO_LOGDIR = REPO / "runs" / "demo"
DEMO_STEPS = os.environ.get("WAVEBABBLE_DEMO_STEPS")    # unset: the demo preset's step budget (config.py)
DEMO_CLIPS = 100               # clips generated and scored: per-minute rates of fewer clips vary a lot


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


def cmd_test(args) -> int:
    """Run the whole suite (fast and slow tests) with the training runtime settings (wavebabble/runtime.py).

    pytest's 'no tests collected' (5) counts as failure."""
    ensure_venv()
    rc = sh(PY, "-m", "pytest", "-q", *args, check=False, env=runtime_env("train"))
    if rc == 5:
        print("no tests ran: failing", file=sys.stderr)
        return 1
    return rc


def cmd_demo(args) -> int:
    """Train `demo` on the embedded corpus, export, generate clips and write the evaluation report."""
    ensure_venv()
    t0 = time.time()
    steps = [f"--train_steps={DEMO_STEPS}"] if DEMO_STEPS else []
    sh(PY, "-m", "train.train", "--preset=demo", f"--logdir={DEMO_LOGDIR}", *steps, *args)
    export_dir = DEMO_LOGDIR / "export"
    gen_dir = DEMO_LOGDIR / "generated"
    report_dir = DEMO_LOGDIR / "report"
    sh(PY, "-m", "wavebabble.generate", f"--model={export_dir}", f"--num={DEMO_CLIPS}", f"--out_dir={gen_dir}",
       "--overwrite")
    corpus = subprocess.check_output(
        [str(PY), "-c", "from wavebabble.corpus.default import default_corpus_dir; print(default_corpus_dir())"],
        cwd=REPO, text=True).strip().splitlines()[-1]
    sh(PY, "-m", "eval.report", f"--generated={gen_dir}", f"--reference={corpus}", f"--out={report_dir}",
       "--overwrite")
    print(f"\ndemo finished in {(time.time() - t0) / 60:.1f} min", flush=True)
    print(f"  listen:      {gen_dir}/*.wav  (stereo: speaker A left, speaker B right)")
    print(f"  report:      {report_dir}/report.md  (+ PNG plots, report.json)")
    print(f"  SavedModel:  {export_dir}")
    print(f"  TensorBoard: {PY.parent / 'tensorboard'} --logdir {DEMO_LOGDIR}")
    return 0


COMMANDS = {"demo": cmd_demo, "test": cmd_test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))

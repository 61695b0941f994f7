"""Which code and which settings a result is from: the git commit of this checkout and a hash of a full config.

    source_commit() -> "3e52f4e..." or None       (outside a git checkout, or git missing)
    config_sha256(cfg_dict) -> hex digest          (of a config as config.json stores it, sorted keys)
"""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GIT_TIMEOUT_S = 30                             # for `git rev-parse HEAD`


def source_commit() -> str | None:
    """The git HEAD of the checkout this code runs from (None outside a git checkout), recorded with each
    trained run so that reusing a run trained by other code is reported."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


def config_sha256(cfg_dict: dict) -> str:
    """SHA-256 (hex) of a full config as config.json stores it (sorted keys): which settings a result is from."""
    return hashlib.sha256(json.dumps(cfg_dict, sort_keys=True).encode()).hexdigest()

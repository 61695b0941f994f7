"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FSDD_DIR = Path(os.environ.get("WAVEBABBLE_FSDD", REPO.parent / "shared" / "data" / "fsdd" / "recordings"))


@pytest.fixture(scope="session")
def fsdd_dir() -> Path:
    """The Free Spoken Digit Dataset recordings (8 kHz mono), or skip."""
    if not FSDD_DIR.is_dir() or not any(FSDD_DIR.glob("*.wav")):
        pytest.skip(f"FSDD not found at {FSDD_DIR} (needs ../shared/data/fsdd/recordings beside the repo)")
    return FSDD_DIR


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep the default-corpus cache inside pytest's temp dir unless a test sets its own."""
    if "WAVEBABBLE_CACHE" not in os.environ:
        monkeypatch.setenv("WAVEBABBLE_CACHE", str(tmp_path_factory.getbasetemp() / "wavebabble_cache"))

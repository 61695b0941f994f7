"""Shared fixtures. Tests that need ../shared/data skip with a reason when it is absent."""
import contextlib
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


@pytest.fixture()
def readonly_dir(tmp_path):
    """A read-only folder (a tmpfs remounted read-only) inside tmp_path; skips when it cannot be mounted."""
    from faults import tmpfs

    with tmpfs(tmp_path / "readonly", readonly=True) as folder:
        yield folder


@pytest.fixture()
def small_fs(tmp_path):
    """Factory: small_fs(name, size_bytes=..., setup=None, readonly=False) -> a tmpfs folder in tmp_path (a full
    disk once written to); every mount is removed after the test. Skips when it cannot be mounted."""
    from faults import SMALL_FS_BYTES, tmpfs

    with contextlib.ExitStack() as stack:
        def make(name: str = "small", size_bytes: int = SMALL_FS_BYTES, setup=None, readonly: bool = False):
            return stack.enter_context(tmpfs(tmp_path / name, size_bytes, readonly=readonly, setup=setup))
        yield make

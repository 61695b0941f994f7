"""Fault injection for file-system tests: a small read-only or full tmpfs mounted over a test's folder.

Root ignores file modes, so a read-only folder is a tmpfs remounted read-only, and a full disk is a tmpfs of a
few kilobytes. Mounting needs root (and a kernel that allows it, e.g. not every container); otherwise the test
is skipped with the reason. Not a test module (no test_ prefix); the fixtures live in tests/conftest.py.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

SMALL_FS_BYTES = 64 * 1024       # default size of a "full disk"
MOUNT_TIMEOUT_S = 30


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=MOUNT_TIMEOUT_S)
    if proc.returncode != 0:
        raise OSError(f"mount {' '.join(args)}: {proc.stderr.strip() or proc.returncode}")


def _skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("fault injection mounts a tmpfs and needs root (read-only modes do not stop root)")


@contextlib.contextmanager
def tmpfs(folder, size_bytes: int = SMALL_FS_BYTES, readonly: bool = False, setup=None):
    """Mount a tmpfs of `size_bytes` at `folder` (created); `setup(folder)` fills it before it is remounted
    read-only (when `readonly`). Unmounted (lazily if busy) on leaving. Skips the test when mounting fails."""
    _skip_unless_root()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(folder))
    except (OSError, subprocess.SubprocessError) as e:
        pytest.skip(f"cannot mount a tmpfs for fault injection: {e}")
    try:
        if setup is not None:
            setup(folder)
        if readonly:
            _mount("-o", "remount,ro", str(folder))
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder, leave_bytes: int = 0) -> None:
    """Fill the file system holding `folder` with one filler file until at most `leave_bytes` stay free."""
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize - leave_bytes
    with open(Path(folder) / ".filler", "wb") as f:
        try:
            f.write(b"\0" * max(free, 0))
        except OSError:
            pass


def one_error_line(stderr: str, *words: str) -> str:
    """Assert stderr has no traceback and one line with 'error:' holding every word; -> that line."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if "error:" in line]
    assert len(lines) == 1, stderr[-3000:]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]

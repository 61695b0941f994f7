"""Output folders: nothing the user made is ever overwritten silently.

Every CLI that writes into a folder (corpus, export, generate, report) calls :func:`prepare_out_dir`: a
non-empty folder is refused unless ``overwrite``; with ``overwrite`` only files matching the tool's own
``owned`` glob patterns are removed, so the user's other files stay.
"""
from __future__ import annotations

from pathlib import Path

from wavebabble.errors import ConfigError


def check_out_dir(out_dir, overwrite: bool, flag: str, what: str) -> bool:
    """Raise ConfigError when ``out_dir`` is a file, or non-empty without ``overwrite``; return non-empty.

    ``flag`` names the option in messages (e.g. ``--out_dir``); ``what`` says what overwriting replaces.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{flag}={out_dir} exists and is not a folder")
    entries = sorted(out_dir.iterdir()) if out_dir.is_dir() else []
    if entries and not overwrite:
        raise ConfigError(f"{flag}={out_dir} is not empty ({len(entries)} entries, e.g. {entries[0].name}); "
                          f"pass --overwrite to replace {what}")
    return bool(entries)


def prepare_out_dir(out_dir, overwrite: bool, flag: str, what: str, owned: tuple[str, ...] = ()) -> Path:
    """:func:`check_out_dir`, then remove the files matching ``owned`` globs and create the folder."""
    out_dir = Path(out_dir)
    if check_out_dir(out_dir, overwrite, flag, what):
        for pattern in owned:
            for old in out_dir.glob(pattern):
                if old.is_file():
                    old.unlink()
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir

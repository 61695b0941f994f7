"""Output folders: a tool removes or replaces only files it can prove it wrote.

Every CLI that writes into a folder (corpus build, export, generate, report) goes through this module. The
folder keeps a record, ``.wavebabble-outputs.json``: per tool, each file that tool wrote there (path relative to
the folder, size, SHA-256). The rules:

- a missing or empty folder is fine (a folder holding only the record counts as empty); a non-empty one is
  refused unless ``overwrite``;
- with ``overwrite`` a tool removes the files its record lists whose size and hash still match: its own earlier
  outputs. A listed file whose content changed since is the user's now: it is kept and dropped from the record.
  What was removed (and kept) is logged with a count and the first few names;
- a name the tool is about to write that is taken by anything but its own earlier output (a user's file,
  another tool's output, a file changed since) is refused with a ConfigError naming the file, before anything
  is removed or written.

Tools that write files one by one into the folder use :func:`prepare_out_dir` as a context manager: it checks
and clears the folder, and on leaving (also after an error) records every planned name that exists, so the
outputs of an interrupted run are the tool's to remove next time. Tools that build their output elsewhere first
(export) call :func:`open_out_dir` and :meth:`OutputFolder.install`, which moves a staged folder in.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path, PurePosixPath

from wavebabble.errors import ConfigError, output_error

RECORD_NAME = ".wavebabble-outputs.json"  # the record of each tool's outputs, inside the output folder
RECORD_FORMAT = 1
HASH_CHUNK_BYTES = 1 << 20
TMP_SUFFIX = ".tmp"                        # write_text_atomic's temp file: <name>.tmp
NAMES_SHOWN = 5                           # names a message lists before "and N more"


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _some(names) -> str:
    """'a, b, c' or 'a, ..., e (and 7 more)'."""
    names = list(names)
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" (and {len(names) - NAMES_SHOWN} more)" if len(names) > NAMES_SHOWN else "")


def fingerprint(path) -> dict:
    """{"size": bytes, "sha256": hex digest} of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b""):
            digest.update(chunk)
    return {"size": os.path.getsize(path), "sha256": digest.hexdigest()}


def _unchanged(path: Path, recorded: dict) -> bool:
    """True when path is a regular file (not a link) with the recorded size and hash."""
    if path.is_symlink() or not path.is_file():
        return False
    return path.stat().st_size == recorded.get("size") and fingerprint(path) == recorded


def _taken(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def _relative_name(name: str) -> bool:
    """True for a plain relative path that stays inside the folder ('a.wav', 'variables/x')."""
    p = PurePosixPath(name)
    return bool(name) and not p.is_absolute() and ".." not in p.parts and "\\" not in name


def check_out_dir(out_dir, overwrite: bool, flag: str, what: str) -> bool:
    """Raise ConfigError when ``out_dir`` is a file, or non-empty without ``overwrite``; return non-empty.

    The record alone does not make a folder non-empty. ``flag`` names the option in messages (e.g.
    ``--out_dir``); ``what`` says what overwriting replaces.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{flag}={out_dir} exists and is not a folder")
    entries = sorted(p for p in out_dir.iterdir() if p.name != RECORD_NAME) if out_dir.is_dir() else []
    if entries and not overwrite:
        raise ConfigError(f"{flag}={out_dir} is not empty ({len(entries)} entries, e.g. {entries[0].name}); "
                          f"pass --overwrite to replace {what}")
    return bool(entries)


def write_text_atomic(path, text: str, what: str) -> Path:
    """Write ``text`` to ``path`` through ``<name>.tmp`` and a rename, so ``path`` is whole or unchanged.

    OutputError ('cannot write <what> to <path>: <reason>') when it cannot be written; the temp file is removed."""
    path = Path(path)
    tmp = path.with_name(path.name + TMP_SUFFIX)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise output_error(what, path, e) from None
    return path


def _write_record(folder: Path, outputs: dict) -> None:
    """Write (atomically) or, with no outputs, delete ``folder``'s record."""
    path = folder / RECORD_NAME
    if not outputs:
        path.unlink(missing_ok=True)
        return
    write_text_atomic(path, json.dumps({"format": RECORD_FORMAT, "outputs": outputs}, indent=1, sort_keys=True)
                      + "\n", "the output record")


class OutputFolder:
    """An output folder as one tool sees it: its verified earlier outputs and the record of every tool.

    Attributes: path, tool, flag, earlier ({name: fingerprint} of this tool's recorded files that are unchanged),
    changed (names this tool recorded that now hold other content: the user's).
    """

    def __init__(self, path, tool: str, flag: str, log=_stderr):
        self.path, self.tool, self.flag, self.log = Path(path), tool, flag, log
        self._planned: tuple[str, ...] = ()
        self._created = False   # prepare_out_dir made the folder itself (it did not exist)
        self.refresh()

    def refresh(self) -> None:
        """Read the record again and verify this tool's recorded files against the folder."""
        self._record = self._read_record()
        recorded = self._record.get(self.tool, {})
        self.earlier = {name: fp for name, fp in recorded.items() if _unchanged(self.path / name, fp)}
        self.changed = sorted(name for name in recorded if name not in self.earlier and _taken(self.path / name))

    # ------------------------------------------------------------------ the record
    @property
    def record_path(self) -> Path:
        return self.path / RECORD_NAME

    def _read_record(self) -> dict:
        """{tool: {name: fingerprint}} from the folder's record ({} when there is none)."""
        if not self.record_path.is_file():
            return {}
        try:
            data = json.loads(self.record_path.read_text(encoding="utf-8"))
            outputs = data["outputs"]
            ok = data.get("format") == RECORD_FORMAT and all(
                isinstance(files, dict) and all(_relative_name(n) and isinstance(fp, dict) for n, fp in files.items())
                for files in outputs.values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(f"{self.flag}={self.path}: cannot read {RECORD_NAME} ({e}); move it away (nothing "
                              f"in the folder is then known to be a wavebabble output)") from None
        if not ok:
            raise ConfigError(f"{self.flag}={self.path}: {RECORD_NAME} is not a wavebabble record of outputs "
                              f"(format {RECORD_FORMAT}, relative names inside the folder); move it away")
        return outputs

    def save(self, written: dict) -> None:
        """Record ``written`` ({name: fingerprint}) as this tool's outputs; other tools' entries stay."""
        record = {tool: files for tool, files in {**self._record, self.tool: written}.items() if files}
        if record != self._record:
            _write_record(self.path, record)
        self._record, self.earlier, self.changed = record, dict(written), []

    # ------------------------------------------------------------------ checks
    def _owner(self, name: str) -> str | None:
        """The other tool whose unchanged output ``name`` is, if any."""
        for tool, files in self._record.items():
            if tool != self.tool and name in files and _unchanged(self.path / name, files[name]):
                return tool
        return None

    def check_writes(self, names) -> None:
        """Raise ConfigError naming the files at ``names`` that are not this tool's unchanged earlier outputs."""
        taken = [n for n in names if n not in self.earlier and _taken(self.path / n)]
        if not taken:
            return
        reasons = []
        for name in taken:
            owner = self._owner(name)
            why = (f"changed since {self.tool} wrote it" if name in self.changed else
                   f"written by {owner}" if owner else f"not written by {self.tool}")
            reasons.append(f"{name} ({why})")
        raise ConfigError(f"{self.flag}={self.path}: refusing to replace {_plural(len(taken), 'file')} that "
                          f"{self.tool} would write: {_some(reasons)}. {self.tool} replaces only its own earlier "
                          f"outputs, as recorded unchanged in {RECORD_NAME}; move these away or choose another "
                          f"{self.flag}")

    # ------------------------------------------------------------------ changes
    def _remove(self, names) -> None:
        """Delete this tool's earlier outputs ``names``, then the subfolders that removal left empty."""
        for name in names:
            (self.path / name).unlink()
        parents = {p for name in names for p in PurePosixPath(name).parents if p.parts}
        for parent in sorted(parents, key=lambda p: len(p.parts), reverse=True):   # deepest first
            folder = self.path / parent
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _say(self, verb: str, names) -> None:
        if names:
            self.log(f"{self.flag}={self.path}: {verb} {_plural(len(names), 'file')} an earlier {self.tool} run "
                     f"wrote here: {_some(sorted(names))}")

    def _say_kept(self) -> None:
        if self.changed:
            self.log(f"{self.flag}={self.path}: kept {_plural(len(self.changed), 'file')} changed since "
                     f"{self.tool} wrote {'it' if len(self.changed) == 1 else 'them'}: {_some(self.changed)}")

    def remove_earlier(self) -> list[str]:
        """Remove this tool's unchanged earlier outputs (logged) and record none; -> their names."""
        removed = sorted(self.earlier)
        self._remove(removed)
        self._say("removed", removed)
        self._say_kept()
        self.save({})
        return removed

    def install(self, staged) -> list[str]:
        """Move every file under the folder ``staged`` into this folder (``staged`` is gone afterwards) and record
        them; -> their names.

        Refuses (ConfigError) names taken by anything but this tool's earlier outputs. When this folder does not
        exist yet, ``staged`` becomes it in one rename; otherwise each file is renamed over its old version and
        this tool's earlier outputs that the new files do not replace are removed (both logged). The user's other
        files stay.
        """
        staged = Path(staged)
        names = sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*")
                       if p.is_file() and p.name != RECORD_NAME)
        self.refresh()                  # the folder may have changed while the staged files were made
        self.check_writes(names)
        written = {name: fingerprint(staged / name) for name in names}
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()
        if not self.path.exists():
            _write_record(staged, {self.tool: written})
            os.replace(staged, self.path)
            self._record, self.earlier, self.changed = {self.tool: written}, written, []
            return names
        for name in names:
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / name, self.path / name)
        shutil.rmtree(staged)           # only its emptied subfolders are left
        stale = sorted(set(self.earlier) - set(names))
        self._remove(stale)
        self._say("replaced", sorted(set(self.earlier) & set(names)))
        self._say("removed", stale)
        self._say_kept()
        self.save(written)
        return names

    # ------------------------------------------------------------------ prepare_out_dir's context
    def __enter__(self) -> "OutputFolder":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        """Record every planned name that now exists as a file (it was free or this tool's when the run began).

        When the run failed before writing anything into a folder it made itself, remove that empty folder."""
        written = {name: fingerprint(self.path / name) for name in self._planned
                   if (self.path / name).is_file() and not (self.path / name).is_symlink()}
        if exc_type is not None and self._created and not written and not any(self.path.iterdir()):
            self.path.rmdir()
            return
        self.save(written)


def open_out_dir(out_dir, overwrite: bool, flag: str, what: str, tool: str, log=_stderr) -> OutputFolder:
    """:func:`check_out_dir`, then the folder as ``tool`` sees it (nothing is changed yet).

    ``log``: callable for the lines saying what was removed or kept (default: stderr).
    """
    check_out_dir(out_dir, overwrite, flag, what)
    return OutputFolder(out_dir, tool, flag, log)


def prepare_out_dir(out_dir, overwrite: bool, flag: str, what: str, tool: str, writes, log=_stderr) -> OutputFolder:
    """Make ``out_dir`` ready for ``tool`` to write the files ``writes`` (names relative to it); -> the folder.

    Refuses (ConfigError) a non-empty folder without ``overwrite`` and any name in ``writes`` taken by a file
    that is not this tool's unchanged earlier output; with ``overwrite`` removes this tool's earlier outputs.
    Use it as a context manager around the writing: on leaving, the files written at ``writes`` are recorded.
    """
    folder = open_out_dir(out_dir, overwrite, flag, what, tool, log)
    writes = tuple(writes)
    bad = [name for name in writes if not _relative_name(name)]
    if bad:
        raise ValueError(f"output names must be relative paths inside the folder, got {bad}")
    folder.check_writes(writes)
    folder._created = not folder.path.exists()
    folder.path.mkdir(parents=True, exist_ok=True)
    folder.remove_earlier()
    folder._planned = writes
    return folder

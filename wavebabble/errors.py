"""One exception type per area. Messages name the file or flag and what is wrong.

:func:`cli_errors` turns them (and OSError) into the one-line error every CLI prints."""
import contextlib
import sys


class WavebabbleError(Exception):
    """Base class of every error wavebabble raises on purpose."""


class AudioError(WavebabbleError):
    """An audio file is missing, unreadable, empty, non-finite or has an unsupported channel count."""


class DataError(WavebabbleError):
    """A dataset folder, manifest or timing annotation cannot be used."""


class ConfigError(WavebabbleError):
    """A hyperparameter or flag value is invalid (the message names the field)."""


class OutputError(WavebabbleError):
    """A file or folder cannot be written: read-only file system, disk full, no permission (the message names
    the path and the operating system's reason)."""


EXIT_ERROR = 1                      # exit status of a CLI stopped by a WavebabbleError or an OSError


def os_reason(error: BaseException) -> str:
    """The operating system's reason in an OSError ('No space left on device'), else the error's text."""
    return getattr(error, "strerror", None) or str(error)


def output_error(what: str, path, error: BaseException) -> OutputError:
    """OutputError 'cannot write <what> to <path>: <reason>' for an OSError (or a library error wrapping one)."""
    return OutputError(f"cannot write {what} to {path}: {os_reason(error)}")


def error_line(error: BaseException) -> str:
    """One line for a WavebabbleError (its message) or an OSError ('<path>: <reason>')."""
    if isinstance(error, OSError) and not isinstance(error, WavebabbleError):
        return f"{error.filename}: {os_reason(error)}" if error.filename else os_reason(error)
    return str(error)


@contextlib.contextmanager
def cli_errors(tool: str, status: int = EXIT_ERROR):
    """Inside a CLI's main: a WavebabbleError or OSError becomes one stderr line '<tool>: error: ...' and exit
    `status`, without a traceback."""
    try:
        yield
    except (WavebabbleError, OSError) as e:
        print(f"{tool}: error: {error_line(e)}", file=sys.stderr, flush=True)
        sys.exit(status)

"""One exception type per area. Messages name the file or flag and what is wrong."""


class WavebabbleError(Exception):
    """Base class of every error wavebabble raises on purpose."""


class AudioError(WavebabbleError):
    """An audio file is missing, unreadable, empty, non-finite or has an unsupported channel count."""


class DataError(WavebabbleError):
    """A dataset folder, manifest or timing annotation cannot be used."""


class ConfigError(WavebabbleError):
    """A hyperparameter or flag value is invalid (the message names the field; `field` holds the Config field's
    name when one field is to blame, else None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class NonFiniteLossError(WavebabbleError):
    """A training loss became NaN or infinite (the message names the step and the loss)."""


class NonFiniteWeightsError(NonFiniteLossError):
    """Model or optimizer weights hold NaN or infinity (the message names the step or checkpoint and a weight)."""


class OutputError(WavebabbleError):
    """A file or folder cannot be written: read-only file system, disk full, no permission (the message names
    the path and the operating system's reason)."""


def os_reason(error: BaseException) -> str:
    """The operating system's reason in an OSError ('No space left on device'), else the error's text."""
    return getattr(error, "strerror", None) or str(error)


def output_error(what: str, path, error: BaseException) -> OutputError:
    """OutputError 'cannot write <what> to <path>: <reason>' for an OSError (or a library error wrapping one)."""
    return OutputError(f"cannot write {what} to {path}: {os_reason(error)}")

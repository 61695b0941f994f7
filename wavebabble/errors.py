"""One exception type per area. Messages name the file or flag and what is wrong."""


class WavebabbleError(Exception):
    """Base class of every error wavebabble raises on purpose."""


class AudioError(WavebabbleError):
    """An audio file is missing, unreadable, empty, non-finite or has an unsupported channel count."""


class DataError(WavebabbleError):
    """A dataset folder, manifest or timing annotation cannot be used."""


class ConfigError(WavebabbleError):
    """A hyperparameter or flag value is invalid (the message names the field)."""

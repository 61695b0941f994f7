"""What every command-line tool shares: its errors are one line on stderr, never a traceback or a page of help.

    def run():                                   # console-script entry point
        run_main(main, "wavebabble-generate")    # app.run(main); a usage error: one line + "see --help", exit 2

    def main(argv):
        with cli_errors("wavebabble-generate"):  # WavebabbleError / OSError: one line, exit 1
            ...
"""
from __future__ import annotations

import contextlib
import sys

from absl import app

from wavebabble import runtime
from wavebabble.errors import WavebabbleError, os_reason

EXIT_ERROR = 1          # a WavebabbleError or an OSError stopped the tool
EXIT_USAGE = 2          # the command line is wrong (shell convention, as argparse)


def _say(tool: str, message: str) -> None:
    print(f"{tool}: error: {message}", file=sys.stderr, flush=True)


def error_line(error: BaseException) -> str:
    """One line for a WavebabbleError (its message) or an OSError ('<path>: <reason>')."""
    if isinstance(error, OSError) and error.filename:
        return f"{error.filename}: {os_reason(error)}"
    return os_reason(error) if isinstance(error, OSError) else str(error)


@contextlib.contextmanager
def cli_errors(tool: str, status: int = EXIT_ERROR):
    """A WavebabbleError or OSError raised inside becomes one stderr line '<tool>: error: ...' and exit `status`,
    without a traceback. Entering it starts TensorFlow quietly when the tool tuned the runtime without starting it
    (wavebabble.runtime.start_tensorflow): the command line was checked before, the work starts here."""
    runtime.start_tensorflow()
    try:
        yield
    except (WavebabbleError, OSError) as e:
        _say(tool, error_line(e))
        sys.exit(status)


def run_main(main, tool: str) -> None:
    """app.run(main), except that an app.UsageError prints '<tool>: error: <message>' and 'see <tool> --help'
    (not the flags' help) and exits EXIT_USAGE. Arguments that are not flags are such a usage error."""
    def main_with_usage_line(argv):
        try:
            if len(argv) > 1:
                raise app.UsageError(f"unexpected arguments (not --flags): {' '.join(argv[1:])}")
            return main(argv)
        except app.UsageError as e:
            _say(tool, str(e))
            print(f"see: {tool} --help", file=sys.stderr, flush=True)
            sys.exit(EXIT_USAGE)

    runtime.keep_absl_at_warnings()     # tools that tune the runtime inside main would be too late for it
    app.run(main_with_usage_line)

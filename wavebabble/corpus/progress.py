"""Progress reporting for long corpus builds: ``count/total [bar] rate/s ETA``.

On a terminal one line is redrawn in place; otherwise (logs, CI) a full line is printed at most every
``MIN_LINE_INTERVAL_S`` seconds and at the end.
"""
from __future__ import annotations

import sys
import time

BAR_WIDTH = 24
MIN_REDRAW_INTERVAL_S = 0.1   # terminal redraws
MIN_LINE_INTERVAL_S = 5.0     # plain-line updates when not on a terminal


def _clock(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    """``with Progress(total, "dialogues") as p: ... p.update()``; disabled when ``enabled`` is False."""

    def __init__(self, total: int, unit: str, *, stream=None, enabled: bool = True):
        self.total, self.unit, self.enabled = int(total), unit, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.count = 0
        self.start = time.monotonic()
        self._last = float("-inf")
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self) -> str:
        """The current progress text."""
        elapsed = time.monotonic() - self.start
        rate = self.count / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.count) / rate if rate > 0 else 0.0
        filled = int(BAR_WIDTH * self.count / max(self.total, 1))
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return (f"{self.count}/{self.total} {self.unit} [{bar}] {rate:.2f} {self.unit}/s "
                f"elapsed {_clock(elapsed)} ETA {_clock(eta)}")

    def update(self, n: int = 1) -> None:
        self.count += n
        if not self.enabled:
            return
        now = time.monotonic()
        done = self.count >= self.total
        interval = MIN_REDRAW_INTERVAL_S if self._tty else MIN_LINE_INTERVAL_S
        if done or now - self._last >= interval:
            self._last = now
            end = "" if self._tty and not done else "\n"
            prefix = "\r" if self._tty else ""
            print(prefix + self.line(), end=end, file=self.stream, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.enabled and self._tty and self.count < self.total:
            print(file=self.stream, flush=True)

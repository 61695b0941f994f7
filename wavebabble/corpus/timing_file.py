"""User timing annotations: per-channel speech intervals from JSON, JSON lines or CSV.

:func:`read_timing_file(path) -> list[TimingEntry]` - one entry per dialogue, each
``TimingEntry(intervals=[[(s, e), ...], [(s, e), ...]], duration_s=float | None)``.

Accepted layouts (times in seconds; channel 0 / "A" / "L" = left speaker, 1 / "B" / "R" = right speaker):

* ``.json``: ``{"intervals": [[[s, e], ...], [[s, e], ...]], "duration": 60.0}`` (duration optional), a bare
  ``[[[s, e], ...], [[s, e], ...]]``, or a list of such objects (several dialogues).
* ``.jsonl``: one such object per line (a corpus ``manifest.jsonl`` works as is).
* ``.csv``: rows ``channel,start,end`` or ``dialogue,channel,start,end`` (a header row naming these columns is
  optional); dialogues are taken in order of first appearance.

Every interval must be finite with 0 <= start < end; intervals of one channel must not overlap (touching ones
are merged). Problems raise :class:`DataError` naming the file and the entry.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
from pathlib import Path

from wavebabble.errors import DataError

NUM_CHANNELS = 2
CHANNEL_NAMES = {"0": 0, "a": 0, "l": 0, "left": 0, "1": 1, "b": 1, "r": 1, "right": 1}
CSV_COLUMNS = ("channel", "start", "end")
CSV_DIALOGUE_COLUMN = "dialogue"
TAIL_S = 0.5  # silence appended after the last interval when an entry gives no duration
JSON_SUFFIXES = (".json",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv", ".tsv")


@dataclasses.dataclass(frozen=True)
class TimingEntry:
    """One dialogue's timing: per-channel (start_s, end_s) lists and its duration (None: derive from ends)."""

    intervals: list
    duration_s: float | None = None

    @property
    def resolved_duration_s(self) -> float:
        """The given duration, else the last end plus TAIL_S."""
        if self.duration_s is not None:
            return float(self.duration_s)
        ends = [e for ch in self.intervals for _, e in ch]
        return (max(ends) if ends else 0.0) + TAIL_S


def _clean(path: Path, where: str, channels, duration) -> TimingEntry:
    """Validate one dialogue's intervals (sorted, merged where touching) and duration."""
    if not isinstance(channels, (list, tuple)) or len(channels) != NUM_CHANNELS:
        raise DataError(f"timing file {path}: {where}: need a list of {NUM_CHANNELS} channel lists "
                        f"(speaker A, speaker B), got {type(channels).__name__} of length "
                        f"{len(channels) if hasattr(channels, '__len__') else '?'}")
    out = []
    for c, chan in enumerate(channels):
        items = []
        for k, pair in enumerate(chan):
            try:
                s, e = (float(v) for v in pair)
            except (TypeError, ValueError):
                raise DataError(f"timing file {path}: {where}, channel {c}, interval {k}: expected [start, end] "
                                f"numbers, got {pair!r}") from None
            if not (math.isfinite(s) and math.isfinite(e) and 0.0 <= s < e):
                raise DataError(f"timing file {path}: {where}, channel {c}, interval {k}: need finite "
                                f"0 <= start < end, got [{s}, {e}]")
            items.append((s, e))
        items.sort()
        merged: list[tuple[float, float]] = []
        for s, e in items:
            if merged and s < merged[-1][1]:
                raise DataError(f"timing file {path}: {where}, channel {c}: intervals [{merged[-1][0]}, "
                                f"{merged[-1][1]}] and [{s}, {e}] overlap (one speaker cannot overlap itself)")
            if merged and s == merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        out.append(merged)
    if not any(out):
        raise DataError(f"timing file {path}: {where}: no speech intervals")
    if duration is not None:
        try:
            duration = float(duration)
        except (TypeError, ValueError):
            raise DataError(f"timing file {path}: {where}: duration {duration!r} is not a number") from None
        last = max(e for ch in out for _, e in ch)
        if not (math.isfinite(duration) and duration >= last):
            raise DataError(f"timing file {path}: {where}: duration {duration} is shorter than the last "
                            f"interval end {last}")
    return TimingEntry(out, duration)


def _from_json_value(path: Path, value, where: str) -> list[TimingEntry]:
    """A parsed JSON value -> entries (object, bare channel pair, or list of objects)."""
    if isinstance(value, dict):
        if "intervals" not in value:
            raise DataError(f"timing file {path}: {where}: object has no 'intervals' key")
        return [_clean(path, where, value["intervals"], value.get("duration"))]
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return [e for i, v in enumerate(value) for e in _from_json_value(path, v, f"{where}[{i}]")]
    if isinstance(value, list):
        return [_clean(path, where, value, None)]
    raise DataError(f"timing file {path}: {where}: expected an object with 'intervals' or a list, "
                    f"got {type(value).__name__}")


def _read_json(path: Path) -> list[TimingEntry]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"timing file {path}: not valid JSON ({err})") from None
    return _from_json_value(path, value, "top level")


def _read_jsonl(path: Path) -> list[TimingEntry]:
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"timing file {path}: line {n}: not valid JSON ({err})") from None
        entries.extend(_from_json_value(path, value, f"line {n}"))
    return entries


def _channel(path: Path, n: int, value: str) -> int:
    key = value.strip().lower()
    if key not in CHANNEL_NAMES:
        raise DataError(f"timing file {path}: row {n}: channel {value!r} is not one of 0/1, A/B, L/R")
    return CHANNEL_NAMES[key]


def _read_csv(path: Path) -> list[TimingEntry]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter=delimiter) if r and any(x.strip() for x in r)]
    if not rows:
        raise DataError(f"timing file {path}: empty")
    header = [x.strip().lower() for x in rows[0]]
    if set(CSV_COLUMNS) <= set(header):
        cols = {name: header.index(name) for name in header}
        body, first_row = rows[1:], 2
    else:
        width = len(rows[0])
        if width == len(CSV_COLUMNS):
            cols = dict(zip(CSV_COLUMNS, range(3)))
        elif width == len(CSV_COLUMNS) + 1:
            cols = dict(zip((CSV_DIALOGUE_COLUMN,) + CSV_COLUMNS, range(4)))
        else:
            raise DataError(f"timing file {path}: row 1: expected columns channel,start,end "
                            f"(optionally dialogue first), got {len(rows[0])} columns")
        body, first_row = rows, 1
    dialogues: dict[str, list[list]] = {}
    for n, row in enumerate(body, start=first_row):
        try:
            dlg = row[cols[CSV_DIALOGUE_COLUMN]].strip() if CSV_DIALOGUE_COLUMN in cols else "0"
            chan = _channel(path, n, row[cols["channel"]])
            pair = (row[cols["start"]], row[cols["end"]])
        except IndexError:
            raise DataError(f"timing file {path}: row {n}: too few columns ({row!r})") from None
        dialogues.setdefault(dlg, [[] for _ in range(NUM_CHANNELS)])[chan].append(pair)
    return [_clean(path, f"dialogue {name!r}", chans, None) for name, chans in dialogues.items()]


def read_timing_file(path) -> list[TimingEntry]:
    """Read a timing file (JSON, JSON lines or CSV, by extension) -> one TimingEntry per dialogue."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"timing file {path}: not found")
    suffix = path.suffix.lower()
    if suffix in JSON_SUFFIXES:
        entries = _read_json(path)
    elif suffix in JSONL_SUFFIXES:
        entries = _read_jsonl(path)
    elif suffix in CSV_SUFFIXES:
        entries = _read_csv(path)
    else:
        raise DataError(f"timing file {path}: unknown extension {suffix!r} (use .json, .jsonl or .csv)")
    if not entries:
        raise DataError(f"timing file {path}: holds no dialogue")
    return entries

"""Dialogue timing: events, statistics and distances from a two-channel VAD (DESIGN.md "Timing definitions").

Input: boolean VAD ``[frames, 2]`` at ``frame_hz`` (channel 0 = speaker A, channel 1 = speaker B), or a list
of them (statistics are then pooled: events are collected per dialogue and rates/ratios use the total duration).

1. Per channel, silences shorter than ``MIN_SILENCE_S`` (0.2 s) between two speech runs are filled; each
   remaining speech run is an **IPU** (inter-pausal unit). Everything below uses this filled VAD.
2. Joint state per frame: A only, B only, both (**overlap**), none (**silence**).
3. A joint silence that touches neither the clip's start nor its end, with exactly one channel active just
   before and exactly one just after: same channel -> **pause**; different channels -> **gap**.
4. An overlap run with A-only before and B-only after (or the reverse) is a **speaker-change overlap**; every
   other overlap run is a **within-turn overlap**. ``overlap_per_min`` counts both kinds.
5. **FTO** (floor-transfer offset), one per speaker change: the gap's duration (positive) or minus the
   speaker-change overlap's duration (negative).
6. Rates are events per minute of total duration, durations in seconds; ``transitions_overlapped`` =
   speaker-change overlaps / (gaps + speaker-change overlaps).

**Backchannel** (added here): an IPU of one speaker lasting at most ``MAX_BACKCHANNEL_S`` (1 s) that lies inside
the other speaker's turn, isolated from the speaker's other speech. Operationally, for IPU X = [x0, x1) of
speaker s and the other speaker o: let P be o's last IPU starting before x0 and N be o's first IPU ending after
x1. X is a backchannel when P and N exist, N is P (o talks all through X) or the IPU right after P, and X is
isolated: s's previous IPU ended before P ends and s's next IPU starts after N starts (o holds the floor
before and after X; with P = N this always holds).

**FTO share 0-400 ms** (added here): the share of FTOs in ``[0, 0.4]`` s, the short gaps around which human
floor transfers cluster (the mode is near 200 ms).

Summary JSON keys (``TimingStats.summary`` / ``to_json()``): ``SUMMARY_KEYS``; medians of empty event lists,
``transitions_overlapped`` and ``fto_share_0_400ms`` without speaker changes are ``None`` (JSON null), never NaN.

Distances (``timing_distance``): the mean relative error (MRE) of rates and ratios, which leaves the FTO
distribution out, and 1-D Wasserstein distances of FTO, IPU and pause durations. ``fto_relative_wasserstein`` is
the FTO Wasserstein distance divided by the reference's own FTO spread (the Wasserstein distance from its FTOs to
a point mass at their median: 1.0 = no better than always handing the floor over at the median offset).
``timing_score`` = MRE + ``fto_relative_wasserstein`` (charged ``MISSING_FTO_PENALTY`` when only one side has
speaker changes): one number that counts both, used to choose checkpoints.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

FRAME_HZ = 100                  # default VAD frame rate (same as vad.FRAME_HZ; not imported to keep this TF-free)
MIN_SILENCE_S = 0.2             # shorter silences inside one channel are bridged (IPU definition)
MAX_BACKCHANNEL_S = 1.0         # longest IPU that can count as a backchannel
SECONDS_PER_MINUTE = 60.0
FTO_NEAR_S = (0.0, 0.4)         # FTOs in this closed range (s) count toward fto_share_0_400ms
MISSING_FTO_PENALTY = 1.0       # timing_score's FTO term when only one side has speaker changes (as relative_error)

RATE_KEYS = ("ipu_per_min", "pause_per_min", "gap_per_min", "overlap_per_min")
MEDIAN_KEYS = ("ipu_median_s", "pause_median_s", "gap_median_s", "overlap_median_s", "fto_median_s")
RATIO_KEYS = ("speech_ratio", "overlap_ratio", "silence_ratio", "transitions_overlapped")
DESIGN_KEYS = ("minutes",) + RATE_KEYS + MEDIAN_KEYS + RATIO_KEYS   # DESIGN.md's JSON keys, in its order
SUMMARY_KEYS = DESIGN_KEYS + ("backchannel_per_min", "num_backchannels", "fto_share_0_400ms")
# keys compared by the mean relative error (speech_ratio contributes one entry per speaker)
DISTANCE_KEYS = RATE_KEYS + ("speech_ratio_a", "speech_ratio_b", "overlap_ratio")

# joint states (A = channel 0 contributes 1, B = channel 1 contributes 2)
SILENCE, A_ONLY, B_ONLY, BOTH = 0, 1, 2, 3


# --------------------------------------------------------------------------- conversions
def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of a 1-D bool array."""
    d = np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _as_vad(vad) -> np.ndarray:
    v = np.asarray(vad)
    if v.ndim != 2 or v.shape[1] != 2:
        raise ValueError(f"VAD must be [frames, 2] (speaker A, speaker B), got shape {v.shape}")
    return v.astype(bool)


def _seconds_to_frame(t: float, frame_hz: int) -> int:
    """First frame whose centre ``(i + 0.5) / frame_hz`` is at or after ``t``."""
    return int(math.ceil(round(t * frame_hz - 0.5, 9)))


def intervals_to_vad(intervals, duration_s: float, frame_hz: int = FRAME_HZ) -> np.ndarray:
    """Speech intervals -> bool VAD ``[frames, C]`` with ``frames = floor(duration_s * frame_hz)``.

    ``intervals``: C lists (2 for a dialogue) of ``(start_s, end_s)``. Frame i is active when its centre
    ``(i + 0.5) / frame_hz`` lies in ``[start_s, end_s)``, so ``vad_to_intervals`` gives the intervals back
    exactly when they sit on the frame grid.
    """
    frames = int(math.floor(round(duration_s * frame_hz, 9)))
    vad = np.zeros((frames, len(intervals)), dtype=bool)
    for c, chan in enumerate(intervals):
        for start, end in chan:
            a = max(0, _seconds_to_frame(float(start), frame_hz))
            b = min(frames, _seconds_to_frame(float(end), frame_hz))
            if b > a:
                vad[a:b, c] = True
    return vad


def vad_to_intervals(vad, frame_hz: int = FRAME_HZ) -> list[list[tuple[float, float]]]:
    """Bool VAD ``[frames, C]`` -> C lists of ``(start_s, end_s)`` speech runs (frame edges, seconds)."""
    v = np.asarray(vad, dtype=bool)
    if v.ndim == 1:
        v = v[:, None]
    out = []
    for c in range(v.shape[1]):
        s, e = _runs(v[:, c])
        out.append([(float(a) / frame_hz, float(b) / frame_hz) for a, b in zip(s, e)])
    return out


def fill_short_silences(vad, frame_hz: int = FRAME_HZ, min_silence_s: float = MIN_SILENCE_S) -> np.ndarray:
    """Per channel, fill silences shorter than ``min_silence_s`` that lie between two speech runs.

    ``[frames, C]`` bool -> ``[frames, C]`` bool. Leading and trailing silences are never filled.
    """
    v = np.array(vad, dtype=bool, copy=True)
    if v.ndim == 1:
        v = v[:, None]
    min_frames = int(round(min_silence_s * frame_hz))
    for c in range(v.shape[1]):
        s, e = _runs(~v[:, c])
        for a, b in zip(s, e):
            if a > 0 and b < v.shape[0] and b - a < min_frames:
                v[a:b, c] = True
    return v


# --------------------------------------------------------------------------- events of one dialogue
@dataclasses.dataclass
class DialogueEvents:
    """Events of one dialogue, in frames (``[start, end)`` pairs, int arrays of shape ``[n, 2]``)."""

    frames: int
    ipus: list                 # per channel: [n, 2]
    pauses: np.ndarray         # [n, 2]
    pause_speaker: np.ndarray  # [n] channel that paused
    gaps: np.ndarray           # [n, 2]
    change_overlaps: np.ndarray
    within_overlaps: np.ndarray
    backchannels: list         # per channel: [n, 2]
    fto_frames: np.ndarray     # [n] signed, in time order
    active_frames: np.ndarray  # [2] frames each channel is active (filled VAD)
    overlap_frames: int
    silence_frames: int


def _pairs(starts, ends) -> np.ndarray:
    return np.stack([np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)], axis=1).reshape(-1, 2)


def _backchannels(own: np.ndarray, other: np.ndarray, max_frames: int) -> np.ndarray:
    """The IPUs in ``own`` ([n, 2]) that are backchannels inside ``other``'s turn (see module docstring)."""
    found = []
    if len(other) == 0:
        return _pairs([], [])
    o_start, o_end = other[:, 0], other[:, 1]
    for k, (x0, x1) in enumerate(own):
        if x1 - x0 > max_frames:
            continue
        p = int(np.searchsorted(o_start, x0, side="left")) - 1   # last o IPU with start < x0
        n = int(np.searchsorted(o_end, x1, side="right"))          # first o IPU with end > x1
        if p < 0 or n >= len(other) or n - p > 1:
            continue
        prev_end = own[k - 1, 1] if k > 0 else -1
        next_start = own[k + 1, 0] if k + 1 < len(own) else np.iinfo(np.int64).max
        # isolated: o spoke after s's previous IPU ended, and o resumed before s's next IPU starts
        if prev_end >= o_end[p] or next_start <= o_start[n]:
            continue
        found.append((x0, x1))
    return _pairs([f[0] for f in found], [f[1] for f in found])


def dialogue_events(vad, frame_hz: int = FRAME_HZ, min_silence_s: float = MIN_SILENCE_S,
                    max_backchannel_s: float = MAX_BACKCHANNEL_S) -> DialogueEvents:
    """All timing events of one dialogue VAD ``[frames, 2]`` (raw; short silences are filled here)."""
    v = fill_short_silences(_as_vad(vad), frame_hz, min_silence_s)
    frames = v.shape[0]
    ipus = [_pairs(*_runs(v[:, c])) for c in range(2)]
    state = v[:, 0].astype(np.int8) * A_ONLY + v[:, 1].astype(np.int8) * B_ONLY
    change = np.flatnonzero(np.diff(state)) + 1
    run_start = np.concatenate([[0], change]).astype(np.int64)
    run_end = np.concatenate([change, [frames]]).astype(np.int64)
    pauses, pause_speaker, gaps, change_ov, within_ov, fto = [], [], [], [], [], []
    for a, b in zip(run_start if frames else [], run_end if frames else []):
        s = state[a]
        before = state[a - 1] if a > 0 else None
        after = state[b] if b < frames else None
        if s == SILENCE:
            if before in (A_ONLY, B_ONLY) and after in (A_ONLY, B_ONLY):
                if before == after:
                    pauses.append((a, b))
                    pause_speaker.append(0 if before == A_ONLY else 1)
                else:
                    gaps.append((a, b))
                    fto.append(b - a)
        elif s == BOTH:
            if {before, after} == {A_ONLY, B_ONLY}:
                change_ov.append((a, b))
                fto.append(-(b - a))
            else:
                within_ov.append((a, b))
    max_bc = int(round(max_backchannel_s * frame_hz))
    bcs = [_backchannels(ipus[c], ipus[1 - c], max_bc) for c in range(2)]

    def arr(x):
        return _pairs([p[0] for p in x], [p[1] for p in x])

    return DialogueEvents(
        frames=frames, ipus=ipus, pauses=arr(pauses), pause_speaker=np.asarray(pause_speaker, dtype=np.int64),
        gaps=arr(gaps), change_overlaps=arr(change_ov), within_overlaps=arr(within_ov), backchannels=bcs,
        fto_frames=np.asarray(fto, dtype=np.int64), active_frames=v.sum(axis=0).astype(np.int64),
        overlap_frames=int(np.sum(state == BOTH)), silence_frames=int(np.sum(state == SILENCE)))


# --------------------------------------------------------------------------- statistics
def _durations(pairs: np.ndarray, frame_hz: int) -> np.ndarray:
    pairs = np.asarray(pairs).reshape(-1, 2)
    return (pairs[:, 1] - pairs[:, 0]).astype(np.float64) / frame_hz


def _median(x: np.ndarray):
    return float(np.median(x)) if len(x) else None


def json_safe(value):
    """Python floats/ints/strings/lists/dicts/None only; non-finite numbers become None."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


@dataclasses.dataclass
class TimingStats:
    """Timing statistics of one dialogue or a pooled set.

    ``summary``: the ``SUMMARY_KEYS`` (DESIGN.md keys + ``backchannel_per_min``, ``num_backchannels``).
    Duration arrays (seconds, float64 ``[n]``): ``fto_s`` (signed, one per speaker change), ``ipu_s``,
    ``pause_s``, ``gap_s``, ``overlap_s`` (both kinds), ``change_overlap_s``, ``within_overlap_s``,
    ``backchannel_s``. ``num_dialogues``: how many VADs were pooled. ``skipped``: ``(path, reason)`` of inputs
    left out by the caller (see ``wavebabble.measure``).
    """

    summary: dict
    fto_s: np.ndarray
    ipu_s: np.ndarray
    pause_s: np.ndarray
    gap_s: np.ndarray
    overlap_s: np.ndarray
    change_overlap_s: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    within_overlap_s: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    backchannel_s: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
    num_dialogues: int = 1
    skipped: list = dataclasses.field(default_factory=list)

    def counts(self) -> dict:
        """Event counts (ints)."""
        return {"ipus": len(self.ipu_s), "pauses": len(self.pause_s), "gaps": len(self.gap_s),
                "overlaps": len(self.overlap_s), "change_overlaps": len(self.change_overlap_s),
                "within_overlaps": len(self.within_overlap_s), "backchannels": len(self.backchannel_s),
                "speaker_changes": len(self.fto_s)}

    def to_json(self) -> dict:
        """The summary as a JSON-safe dict (floats, ints, lists, None; never NaN)."""
        return json_safe({k: self.summary[k] for k in SUMMARY_KEYS})


def timing_stats(vad, frame_hz: int = FRAME_HZ, min_silence_s: float = MIN_SILENCE_S,
                 max_backchannel_s: float = MAX_BACKCHANNEL_S) -> TimingStats:
    """Statistics of one VAD ``[frames, 2]`` or a list of them (pooled over their total duration)."""
    vads = [vad] if isinstance(vad, np.ndarray) and np.ndim(vad) == 2 else list(vad)
    events = [dialogue_events(v, frame_hz, min_silence_s, max_backchannel_s) for v in vads]
    return stats_from_events(events, frame_hz)


def stats_from_events(events: Sequence[DialogueEvents], frame_hz: int = FRAME_HZ) -> TimingStats:
    """Pool the events of several dialogues into one :class:`TimingStats`."""
    def cat(get):
        parts = [get(e) for e in events]
        return np.concatenate(parts) if parts else np.zeros(0)

    total = sum(e.frames for e in events)
    minutes = total / frame_hz / SECONDS_PER_MINUTE
    ipu = cat(lambda e: np.concatenate([_durations(e.ipus[0], frame_hz), _durations(e.ipus[1], frame_hz)]))
    pause = cat(lambda e: _durations(e.pauses, frame_hz))
    gap = cat(lambda e: _durations(e.gaps, frame_hz))
    chg = cat(lambda e: _durations(e.change_overlaps, frame_hz))
    wit = cat(lambda e: _durations(e.within_overlaps, frame_hz))
    ovl = cat(lambda e: np.sort(np.concatenate([_durations(e.change_overlaps, frame_hz),
                                                _durations(e.within_overlaps, frame_hz)])))
    fto = cat(lambda e: e.fto_frames.astype(np.float64) / frame_hz)
    bc = cat(lambda e: np.concatenate([_durations(e.backchannels[0], frame_hz),
                                       _durations(e.backchannels[1], frame_hz)]))

    def rate(n):
        return n / minutes if minutes > 0 else 0.0

    def ratio(n):
        return n / total if total > 0 else 0.0

    active = sum((e.active_frames for e in events), np.zeros(2, dtype=np.int64))
    transitions = len(gap) + len(chg)
    summary = {
        "minutes": minutes,
        "ipu_per_min": rate(len(ipu)),
        "pause_per_min": rate(len(pause)),
        "gap_per_min": rate(len(gap)),
        "overlap_per_min": rate(len(ovl)),
        "ipu_median_s": _median(ipu),
        "pause_median_s": _median(pause),
        "gap_median_s": _median(gap),
        "overlap_median_s": _median(ovl),
        "fto_median_s": _median(fto),
        "speech_ratio": [ratio(int(active[0])), ratio(int(active[1]))],
        "overlap_ratio": ratio(sum(e.overlap_frames for e in events)),
        "silence_ratio": ratio(sum(e.silence_frames for e in events)),
        "transitions_overlapped": len(chg) / transitions if transitions else None,
        "backchannel_per_min": rate(len(bc)),
        "num_backchannels": len(bc),
        "fto_share_0_400ms": fto_near_share(fto),
    }
    return TimingStats(summary=json_safe(summary), fto_s=fto, ipu_s=ipu, pause_s=pause, gap_s=gap,
                       overlap_s=ovl, change_overlap_s=chg, within_overlap_s=wit, backchannel_s=bc,
                       num_dialogues=len(events))


def fto_near_share(fto_s) -> float | None:
    """Share of FTOs (seconds ``[n]``) within ``FTO_NEAR_S`` (0-400 ms, both ends included); None when n = 0."""
    fto = np.asarray(fto_s, dtype=np.float64).reshape(-1)
    if fto.size == 0:
        return None
    lo, hi = FTO_NEAR_S
    return float(np.mean((fto >= lo - 1e-9) & (fto <= hi + 1e-9)))


# --------------------------------------------------------------------------- distances
def wasserstein_1d(u, v) -> float | None:
    """1-D Wasserstein (earth mover's) distance between two empirical distributions.

    ``integral |F_u(x) - F_v(x)| dx``; 0.0 when both are empty, None when exactly one is.
    """
    u = np.sort(np.asarray(u, dtype=np.float64).reshape(-1))
    v = np.sort(np.asarray(v, dtype=np.float64).reshape(-1))
    if len(u) == 0 and len(v) == 0:
        return 0.0
    if len(u) == 0 or len(v) == 0:
        return None
    both = np.sort(np.concatenate([u, v]))
    deltas = np.diff(both)
    cdf_u = np.searchsorted(u, both[:-1], side="right") / len(u)
    cdf_v = np.searchsorted(v, both[:-1], side="right") / len(v)
    return float(np.sum(np.abs(cdf_u - cdf_v) * deltas))


def relative_error(value: float, reference: float) -> float:
    """``|value - reference| / |reference|``; with a zero reference: 0.0 if value is 0 too, else 1.0."""
    if reference == 0:
        return 0.0 if value == 0 else 1.0
    return abs(value - reference) / abs(reference)


def _distance_values(s: TimingStats) -> dict:
    d = {k: s.summary[k] for k in RATE_KEYS}
    d["speech_ratio_a"], d["speech_ratio_b"] = s.summary["speech_ratio"]
    d["overlap_ratio"] = s.summary["overlap_ratio"]
    return d


def timing_distance(a: TimingStats, b: TimingStats) -> dict:
    """How far ``a`` (e.g. generated) is from the reference ``b`` (e.g. real).

    ``mean_relative_error`` over ``DISTANCE_KEYS`` (four per-minute rates, both speakers' speech_ratio,
    overlap_ratio; each ``relative_error(a, b)``), those errors under ``relative_errors``, 1-D Wasserstein
    distances (seconds) ``fto_wasserstein_s``, ``ipu_wasserstein_s``, ``pause_wasserstein_s`` (None when only
    one side has such events), ``fto_relative_wasserstein`` and ``timing_score`` (module docstring). JSON-safe.
    """
    va, vb = _distance_values(a), _distance_values(b)
    rel = {k: relative_error(va[k], vb[k]) for k in DISTANCE_KEYS}
    mre = float(np.mean(list(rel.values())))
    fto_w = wasserstein_1d(a.fto_s, b.fto_s)
    spread = wasserstein_1d(b.fto_s, [np.median(b.fto_s)]) if len(b.fto_s) else None
    if fto_w is None:
        fto_rel = None
    elif spread:
        fto_rel = fto_w / spread
    else:                      # the reference hands over at one offset only (or never): exact match or not
        fto_rel = 0.0 if fto_w == 0 else MISSING_FTO_PENALTY
    return json_safe({
        "mean_relative_error": mre,
        "timing_score": mre + (MISSING_FTO_PENALTY if fto_rel is None else fto_rel),
        "fto_wasserstein_s": fto_w,
        "fto_relative_wasserstein": fto_rel,
        "ipu_wasserstein_s": wasserstein_1d(a.ipu_s, b.ipu_s),
        "pause_wasserstein_s": wasserstein_1d(a.pause_s, b.pause_s),
        "relative_errors": rel,
    })


# --------------------------------------------------------------------------- text table
def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return " / ".join(_fmt(v) for v in value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.3f}"


def stats_table(named: dict, distance: dict | None = None) -> str:
    """A readable text table: one column per named :class:`TimingStats`, then event counts and distances."""
    names = list(named)
    rows = [(k, [_fmt(named[n].summary[k]) for n in names]) for k in SUMMARY_KEYS]
    rows.append(("dialogues", [str(named[n].num_dialogues) for n in names]))
    count_keys = list(next(iter(named.values())).counts()) if named else []
    rows += [(f"count {k}", [str(named[n].counts()[k]) for n in names]) for k in count_keys]
    key_w = max([len("statistic")] + [len(r[0]) for r in rows])
    col_w = [max([len(n)] + [len(r[1][i]) for r in rows]) for i, n in enumerate(names)]
    lines = ["  ".join(["statistic".ljust(key_w)] + [n.rjust(w) for n, w in zip(names, col_w)])]
    lines.append("-" * len(lines[0]))
    lines += ["  ".join([k.ljust(key_w)] + [v.rjust(w) for v, w in zip(vals, col_w)]) for k, vals in rows]
    if distance:
        title = f"distance ({names[0]} vs {names[1]})" if len(names) == 2 else "distance"
        lines += ["", title, "-" * len(title)]
        flat = [(k, v) for k, v in distance.items() if k != "relative_errors"]
        flat += [(f"relative_error {k}", v) for k, v in distance.get("relative_errors", {}).items()]
        w = max(len(k) for k, _ in flat)
        lines += [f"{k.ljust(w)}  {_fmt(v)}" for k, v in flat]
    return "\n".join(lines)

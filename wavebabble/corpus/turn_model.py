"""Seeded stochastic turn-taking model for two-party conversation.

`sample_timing(duration_s, rng, params)` returns the ground-truth speech intervals of a dialogue:
a list of 2 lists of (start_s, end_s), one list per channel (speaker A left, speaker B right).

Generative story (one pass over the conversation):
  * The floor alternates between the two speakers. A *turn* is a run of IPUs (inter-pausal units) by one
    speaker, separated by within-turn pauses.
  * At each speaker change the next speaker starts at (end of the current turn + FTO), the floor-transfer
    offset, drawn from a normal distribution with its mode near +200 ms; negative draws are overlapping
    transitions (the next speaker starts before the current one finishes).
  * While one speaker holds the floor, the listener produces short backchannels ("mhm", "yeah"), most of
    them overlapping the speaker's IPUs, some in the speaker's pauses.

The defaults come from the published human figures quoted in DESIGN.md. They are chosen so that the timing
*measured* with the DESIGN.md definitions (silences < 0.2 s inside a channel are bridged, so within-turn
pauses shorter than that vanish) lands in the human ranges: speech ratio per speaker 0.3-0.5, median FTO
0.1-0.4 s, 15-35 % of transitions overlapped, median pause longer than median gap, IPU median ~1-2 s and
~20-25 IPUs per minute for the pair.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from wavebabble.errors import ConfigError

Intervals = list[list[tuple[float, float]]]

NUM_SPEAKERS = 2
# DESIGN.md timing definition: silences shorter than this inside one channel are bridged (IPU boundary).
MIN_SILENCE_S = 0.2
# Rejection sampling gives up after this many draws and clips instead (keeps run time bounded).
MAX_REDRAWS = 50


@dataclasses.dataclass(frozen=True)
class TurnTakingParams:
    """Every knob of the turn-taking model, defaulted from published human conversation figures."""

    # --- IPUs (inter-pausal units) ---
    # Median IPU ~1-2 s in telephone conversation (DESIGN.md "IPUs last ~1-2 s (median)"). Log-normal:
    # median and log-sd of the floor holder's IPUs; the short backchannels pull the measured median of all
    # IPUs down to ~1.8 s.
    ipu_median_s: float = 2.0
    ipu_log_sd: float = 0.55
    ipu_min_s: float = 0.35
    ipu_max_s: float = 6.0
    # IPUs per turn: geometric on {1, 2, ...}. Mean ~1.8 IPUs per turn gives ~20-25 IPUs/min for the pair
    # together with the backchannels (DESIGN.md "~20-25 IPUs per minute for the pair").
    ipus_per_turn_mean: float = 1.8
    ipus_per_turn_max: int = 6

    # --- within-turn pauses ---
    # Within-turn pauses are usually longer than gaps between speakers (Heldner & Edlund 2010, quoted in
    # DESIGN.md); median 0.55 s vs. a measured median gap of ~0.33 s from the FTO model below. Log-normal; the
    # minimum keeps every pause above the 0.2 s bridging limit with room for VAD hangover, so ground truth and
    # measured timing agree.
    pause_median_s: float = 0.55
    pause_log_sd: float = 0.45
    pause_min_s: float = 0.32
    pause_max_s: float = 2.0

    # --- floor transfers ---
    # FTO ~ Normal(mean, sd): mode at +200 ms (Stivers et al. 2009; Levinson & Torreira 2015) and
    # P(FTO < 0) ~ 25 % (DESIGN.md "about 20-30 % of speaker changes happen in overlap";
    # Heldner & Edlund 2010).
    fto_mean_s: float = 0.2
    fto_sd_s: float = 0.32
    fto_max_s: float = 1.5
    # |FTO| below this is redrawn: a 10 ms VAD frame plus hangover cannot tell such a near-miss gap from an
    # overlap, so ground truth and measured timing would disagree on the transition type.
    fto_min_abs_s: float = 0.06
    # An overlapping transition overlaps at most this fraction of either IPU involved, so the overlap stays a
    # speaker-change overlap (A-only before, B-only after) as DESIGN.md defines it.
    max_overlap_fraction: float = 0.5
    # The next speaker never resumes less than this after their own previous speech (keeps a measurable
    # silence above the 0.2 s bridging limit plus VAD hangover).
    min_own_silence_s: float = 0.35

    # --- backchannels (listener responses inside the other's turn) ---
    # Backchannels are short listener IPUs (<= 1 s, the usual backchannel criterion in timing studies such as
    # Heldner & Edlund 2010). Rate per second of the floor holder's speech: 0.06/s gives ~2-3 per minute of
    # conversation, most of them in overlap, which supplies the within-turn overlaps of human dialogue.
    backchannel_rate_per_s: float = 0.06
    backchannel_median_s: float = 0.4
    backchannel_log_sd: float = 0.35
    backchannel_min_s: float = 0.2
    backchannel_max_s: float = 1.0
    # Share of backchannels placed inside the speaker's IPU (overlapping) rather than in a pause.
    backchannel_overlap_share: float = 0.7
    # Backchannels keep at least this much silence to the listener's own speech and, when in a pause, to the
    # speaker's IPUs (so they stay separate IPUs and separate the pause into two gaps cleanly).
    backchannel_margin_s: float = 0.3

    # --- dialogue edges ---
    # Leading silence before the first IPU, uniform in [0, lead_max_s].
    lead_max_s: float = 0.8
    # Pieces of speech clipped by the end of the clip shorter than this are dropped.
    min_tail_s: float = 0.1

    # --- per-dialogue style ---
    # Conversations differ in tempo: some have long turns and long pauses, others quick exchanges. With a spread
    # s > 0 each dialogue draws its own style (dialogue_style): the IPU, pause and backchannel medians, the
    # extra IPUs per turn, the FTO mean and the backchannel rate are each scaled by exp(s * N(0, 1)), one draw per
    # dialogue and knob. 0 (the default): every dialogue has the defaults' style, and draws nothing for it.
    style_spread: float = 0.0

    def validate(self) -> "TurnTakingParams":
        """Raise ConfigError naming the first inconsistent field; return self."""
        positive = ["ipu_median_s", "ipu_log_sd", "ipu_min_s", "pause_median_s", "pause_min_s", "fto_sd_s",
                    "backchannel_median_s", "backchannel_min_s", "min_own_silence_s", "ipus_per_turn_mean"]
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"TurnTakingParams.{name} must be > 0, got {getattr(self, name)}")
        pairs = [("ipu_min_s", "ipu_max_s"), ("pause_min_s", "pause_max_s"),
                 ("backchannel_min_s", "backchannel_max_s")]
        for lo, hi in pairs:
            if getattr(self, lo) > getattr(self, hi):
                raise ConfigError(f"TurnTakingParams.{lo} ({getattr(self, lo)}) > {hi} ({getattr(self, hi)})")
        if self.ipus_per_turn_mean < 1:
            raise ConfigError(f"TurnTakingParams.ipus_per_turn_mean must be >= 1, got {self.ipus_per_turn_mean}")
        for name in ["backchannel_overlap_share", "max_overlap_fraction"]:
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"TurnTakingParams.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.style_spread < 0:
            raise ConfigError(f"TurnTakingParams.style_spread must be >= 0, got {self.style_spread}")
        if self.backchannel_rate_per_s < 0:
            raise ConfigError(f"TurnTakingParams.backchannel_rate_per_s must be >= 0, "
                              f"got {self.backchannel_rate_per_s}")
        return self


def _lognormal(rng: np.random.Generator, median: float, log_sd: float, lo: float, hi: float) -> float:
    """One log-normal draw with the given median, clipped to [lo, hi]."""
    return float(np.clip(median * np.exp(log_sd * rng.standard_normal()), lo, hi))


def _num_ipus(rng: np.random.Generator, p: TurnTakingParams) -> int:
    """IPUs in one turn: geometric on {1, 2, ...} with mean `ipus_per_turn_mean`, capped."""
    return int(min(rng.geometric(1.0 / p.ipus_per_turn_mean), p.ipus_per_turn_max))


def _draw_fto(rng: np.random.Generator, p: TurnTakingParams, max_overlap_s: float) -> float:
    """One floor-transfer offset (s); negative = overlap, bounded by `max_overlap_s`."""
    fto = p.fto_mean_s
    for _ in range(MAX_REDRAWS):
        fto = p.fto_mean_s + p.fto_sd_s * rng.standard_normal()
        if abs(fto) >= p.fto_min_abs_s and -max_overlap_s <= fto <= p.fto_max_s:
            return float(fto)
    return float(np.clip(fto, -max_overlap_s, p.fto_max_s))


def _turns(duration_s: float, rng: np.random.Generator, p: TurnTakingParams):
    """Main-speaker IPUs: returns (per-channel IPU lists, list of turns as (speaker, [IPUs]))."""
    ipus: Intervals = [[] for _ in range(NUM_SPEAKERS)]
    turns = []
    speaker = int(rng.integers(NUM_SPEAKERS))
    start = float(rng.uniform(0.0, p.lead_max_s))
    while start < duration_s:
        turn = []
        num_ipus = _num_ipus(rng, p)
        for k in range(num_ipus):
            dur = _lognormal(rng, p.ipu_median_s, p.ipu_log_sd, p.ipu_min_s, p.ipu_max_s)
            if k == 0 and turns:
                # First IPU of a turn that starts in overlap must outlast the overlap by a clear margin.
                prev_end = turns[-1][1][-1][1]
                overlap = max(0.0, prev_end - start)
                if overlap > 0:
                    dur = max(dur, overlap / p.max_overlap_fraction)
            turn.append((start, start + dur))
            start += dur
            if k + 1 < num_ipus:
                start += _lognormal(rng, p.pause_median_s, p.pause_log_sd, p.pause_min_s, p.pause_max_s)
        ipus[speaker].extend(turn)
        turns.append((speaker, turn))
        end = turn[-1][1]
        nxt = 1 - speaker
        max_overlap = p.max_overlap_fraction * (turn[-1][1] - turn[-1][0])
        fto = _draw_fto(rng, p, max_overlap)
        start = end + fto
        if ipus[nxt]:
            start = max(start, ipus[nxt][-1][1] + p.min_own_silence_s)
        speaker = nxt
    return ipus, turns


def _add_backchannels(ipus: Intervals, turns, rng: np.random.Generator, p: TurnTakingParams) -> Intervals:
    """Listener backchannels inside each turn: overlapping an IPU or inside a within-turn pause."""
    result: Intervals = [list(ch) for ch in ipus]
    for speaker, turn in turns:
        listener = 1 - speaker
        speech_s = sum(e - s for s, e in turn)
        count = rng.poisson(p.backchannel_rate_per_s * speech_s)
        for _ in range(count):
            dur = _lognormal(rng, p.backchannel_median_s, p.backchannel_log_sd,
                             p.backchannel_min_s, p.backchannel_max_s)
            if rng.random() < p.backchannel_overlap_share:
                # Inside one IPU, with a margin to its edges so the overlap is within-turn.
                s_ipu, e_ipu = turn[int(rng.integers(len(turn)))]
                lo, hi = s_ipu + p.backchannel_margin_s, e_ipu - p.backchannel_margin_s - dur
            else:
                pauses = [(turn[i][1], turn[i + 1][0]) for i in range(len(turn) - 1)]
                if not pauses:
                    continue
                s_p, e_p = pauses[int(rng.integers(len(pauses)))]
                lo, hi = s_p + p.backchannel_margin_s, e_p - p.backchannel_margin_s - dur
            if hi <= lo:
                continue
            start = float(rng.uniform(lo, hi))
            cand = (start, start + dur)
            if _clear_of(result[listener], cand, p.backchannel_margin_s):
                result[listener].append(cand)
        result[listener].sort()
    return result


def _clear_of(intervals: list[tuple[float, float]], cand: tuple[float, float], margin: float) -> bool:
    """True when `cand` keeps at least `margin` seconds from every interval in the list."""
    s, e = cand
    return all(e + margin <= a or s >= b + margin for a, b in intervals)


def _clip(intervals: Intervals, duration_s: float, min_len: float) -> Intervals:
    """Clip to [0, duration_s], drop slivers, round to microseconds for stable JSON."""
    out: Intervals = []
    for ch in intervals:
        kept = []
        for s, e in sorted(ch):
            s, e = max(0.0, s), min(duration_s, e)
            if e - s >= min_len:
                kept.append((round(s, 6), round(e, 6)))
        out.append(kept)
    return out


STYLE_SCALED = ("ipu_median_s", "pause_median_s", "backchannel_median_s", "fto_mean_s", "backchannel_rate_per_s")


def dialogue_style(rng: np.random.Generator, params: TurnTakingParams) -> TurnTakingParams:
    """One dialogue's parameters: with params.style_spread = s > 0, each STYLE_SCALED knob and the IPUs per turn
    beyond the first scaled by its own exp(s * N(0, 1)) (medians clipped into their [min, max]); with s = 0,
    `params` itself and no draw from rng."""
    s = params.style_spread
    if not s > 0:
        return params
    scale = {name: float(np.exp(s * rng.standard_normal())) for name in STYLE_SCALED + ("ipus_per_turn_mean",)}
    changed = {name: getattr(params, name) * scale[name] for name in STYLE_SCALED}
    changed["ipu_median_s"] = float(np.clip(changed["ipu_median_s"], params.ipu_min_s, params.ipu_max_s))
    changed["pause_median_s"] = float(np.clip(changed["pause_median_s"], params.pause_min_s, params.pause_max_s))
    changed["backchannel_median_s"] = float(np.clip(changed["backchannel_median_s"], params.backchannel_min_s,
                                                    params.backchannel_max_s))
    changed["ipus_per_turn_mean"] = 1.0 + (params.ipus_per_turn_mean - 1.0) * scale["ipus_per_turn_mean"]
    return dataclasses.replace(params, **changed)


def sample_timing(duration_s: float, rng: np.random.Generator,
                  params: TurnTakingParams = TurnTakingParams()) -> Intervals:
    """Sample the ground-truth speech intervals of one two-party dialogue.

    Args:
      duration_s: clip length in seconds (> 0).
      rng: numpy Generator; the result is a deterministic function of its state.
      params: model parameters (human defaults).

    Returns:
      [intervals_A, intervals_B]: per channel, sorted non-overlapping (start_s, end_s) tuples inside
      [0, duration_s]; same-channel intervals are separated by at least `min(pause_min_s,
      backchannel_margin_s)` seconds of silence.
    """
    if not duration_s > 0:
        raise ConfigError(f"duration_s must be > 0, got {duration_s}")
    params = dialogue_style(rng, params.validate())
    ipus, turns = _turns(duration_s, rng, params)
    return _clip(_add_backchannels(ipus, turns, rng, params), duration_s, params.min_tail_s)

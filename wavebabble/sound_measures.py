"""Sound measures of generated vs reference dialogues, each beside its real-vs-real floor.

    m = sound_measures(gen_clips, ref_clips, sample_rate, rng)       # clips: lists of float [T, 2]
    flat = sound_summary(m)                                           # a few scalars for tables and TensorBoard
    lines = sound_table(m)                                            # markdown table rows

Measures (see each module):
- ``frechet``: log-mel Fréchet distance (wavebabble.quality), generated vs reference, and the reference's two
  random halves against each other (the floor a perfect generator reaches with this much data);
- ``two_sample``: held-out accuracy of a classifier telling active log-mel patches apart
  (wavebabble.two_sample), generated vs reference and reference half vs half (0.5 = indistinguishable);
- ``voiced_fraction`` and ``syllable_modulation`` (wavebabble.speechlike) of generated, reference and each
  reference half; ``relative_error`` is |generated - reference| / reference, ``floor_relative_error`` the same
  between the two halves.

Every clip is first brought to one speech level (wavebabble.speech_level, from its hard VAD): a generator trained
on peak-normalised clips and a corpus at its own gain differ by a level that no listener hears as a difference
of sound, and the log-mel measures would count it. The reference halves are a random split of the reference
clips (files). With a single reference clip its first and second halves in time are used.
"""
from __future__ import annotations

import numpy as np

from wavebabble import quality, speechlike, timing, two_sample
from wavebabble.speech_level import normalize_speech_level
from wavebabble.vad import FRAME_HZ, hard_vad


def reference_halves(clips: list, feats: list, vads: list, rng) -> tuple[list, str]:
    """Two disjoint parts of the reference -> ([(clips, feats, vads)] * 2, how they were made)."""
    if len(clips) >= 2:
        idx_a, idx_b = quality.split_halves(list(range(len(clips))), rng)
        return [([clips[i] for i in idx], [feats[i] for i in idx], [vads[i] for i in idx])
                for idx in (idx_a, idx_b)], "reference files split into two random halves"

    def cut(x, part):                   # one reference clip: its first and second half in time
        n = len(x) // 2
        return x[:n] if part == 0 else x[n:2 * n]
    return [([cut(clips[0], p)], [cut(feats[0], p)], [cut(vads[0], p)]) for p in (0, 1)], \
        "the single reference file's first vs second half"


def frechet_section(gen_feats: list, ref_feats: list, half_feats: tuple[list, list], how: str) -> dict:
    """Log-mel Fréchet distance generated vs reference, and reference half vs half (the floor)."""
    fd = quality.frechet_distance(quality.frame_vectors(gen_feats), quality.frame_vectors(ref_feats))
    floor = quality.frechet_distance(quality.frame_vectors(half_feats[0]), quality.frame_vectors(half_feats[1]))
    return {"generated_vs_reference": fd, "reference_vs_reference": floor, "floor_method": how,
            "ratio_to_floor": fd / floor if floor > 0 else None, "n_mels": quality.N_MELS,
            "frames_generated": int(sum(len(f) for f in gen_feats)),
            "frames_reference": int(sum(len(f) for f in ref_feats))}


def _compare(gen: float | None, half_a: float | None, half_b: float | None, ref: float | None) -> dict:
    def rel(x, y):
        return None if x is None or y is None else timing.relative_error(x, y)

    mean_halves = None if half_a is None or half_b is None else (half_a + half_b) / 2.0
    return {"generated": gen, "reference": ref, "reference_halves": [half_a, half_b],
            "relative_error": rel(gen, ref),
            "floor_relative_error": None if mean_halves is None else abs(half_a - half_b) / mean_halves
            if mean_halves else None}


def sound_measures(gen_clips: list, ref_clips: list, sample_rate: int, rng: np.random.Generator,
                   frame_hz: int = FRAME_HZ, voicing_seconds: float = speechlike.DEFAULT_VOICING_SECONDS,
                   gen_feats: list | None = None, ref_feats: list | None = None,
                   gen_vads: list | None = None, ref_vads: list | None = None) -> dict:
    """Every sound measure of `gen_clips` vs `ref_clips` (lists of float ``[T, 2]`` at `sample_rate`).

    Hard VADs (``[frames, 2]``, of the clips as given) are computed unless given; the clips are then brought to
    one speech level (level_matched) and their log-mel features (``[frames, 2, n_mels]``) computed unless given,
    which must then be of clips so matched.
    `voicing_seconds`: audio pyin reads for the generated set, and half as much from each reference half
    (0: skip the voiced fraction, which is the slow measure). JSON-safe dict (module docstring).
    """
    gen_vads = gen_vads if gen_vads is not None else [hard_vad(c, sample_rate, frame_hz) for c in gen_clips]
    ref_vads = ref_vads if ref_vads is not None else [hard_vad(c, sample_rate, frame_hz) for c in ref_clips]
    gen_clips = level_matched(gen_clips, gen_vads, sample_rate, frame_hz)
    ref_clips = level_matched(ref_clips, ref_vads, sample_rate, frame_hz)
    gen_feats = gen_feats if gen_feats is not None else [quality.logmel(c, sample_rate, frame_hz) for c in gen_clips]
    ref_feats = ref_feats if ref_feats is not None else [quality.logmel(c, sample_rate, frame_hz) for c in ref_clips]
    halves, how = reference_halves(ref_clips, ref_feats, ref_vads, rng)
    out = {"frechet": frechet_section(gen_feats, ref_feats, (halves[0][1], halves[1][1]), how)}
    out["two_sample"] = {
        "generated_vs_reference": two_sample.classifier_two_sample_test(gen_feats, gen_vads, ref_feats, ref_vads, rng),
        "reference_vs_reference": two_sample.classifier_two_sample_test(halves[0][1], halves[0][2], halves[1][1],
                                                                        halves[1][2], rng)}

    if voicing_seconds > 0:
        gen_v = speechlike.voiced_fraction(gen_clips, sample_rate, gen_vads, voicing_seconds, rng, frame_hz)
        half_v = [speechlike.voiced_fraction(h[0], sample_rate, h[2], voicing_seconds / 2, rng, frame_hz)
                  for h in halves]
        fa, fb = (h["voiced_fraction"] for h in half_v)
        seconds = [h["seconds"] for h in half_v]
        ref_v = (None if fa is None or fb is None else (fa * seconds[0] + fb * seconds[1]) / sum(seconds))
        out["voiced_fraction"] = {**_compare(gen_v["voiced_fraction"], fa, fb, ref_v),
                                  "seconds": {"generated": gen_v["seconds"], "reference": sum(seconds)}}
    gen_m = speechlike.syllable_modulation(gen_clips, sample_rate, gen_vads, frame_hz)
    ref_m = speechlike.syllable_modulation(ref_clips, sample_rate, ref_vads, frame_hz)
    half_m = [speechlike.syllable_modulation(h[0], sample_rate, h[2], frame_hz)["modulation"] for h in halves]
    out["syllable_modulation"] = {**_compare(gen_m["modulation"], half_m[0], half_m[1], ref_m["modulation"]),
                                  "windows": {"generated": gen_m["windows"], "reference": ref_m["windows"]}}
    return timing.json_safe(out)


def level_matched(clips: list, vads: list, sample_rate: int, frame_hz: int = FRAME_HZ) -> list:
    """Clips (float [T, C]) each brought to one speech level by its own hard VAD (speech_level)."""
    return [normalize_speech_level(c, v, sample_rate, frame_hz) for c, v in zip(clips, vads)]


def sound_summary(m: dict) -> dict:
    """The headline scalars of `sound_measures` (None where not measured)."""
    voiced = m.get("voiced_fraction", {})
    return {"logmel_fd": m["frechet"]["generated_vs_reference"],
            "logmel_fd_floor": m["frechet"]["reference_vs_reference"],
            "two_sample_accuracy": m["two_sample"]["generated_vs_reference"]["accuracy"],
            "two_sample_accuracy_floor": m["two_sample"]["reference_vs_reference"]["accuracy"],
            "voiced_fraction": voiced.get("generated"), "voiced_fraction_reference": voiced.get("reference"),
            "syllable_modulation": m["syllable_modulation"]["generated"],
            "syllable_modulation_reference": m["syllable_modulation"]["reference"]}


def reference_summary(summary: dict) -> dict:
    """The real set's own column of a `sound_summary`: FD and two-sample accuracy of its halves (the floors), its
    voiced fraction and modulation, under the generated set's keys."""
    return {"logmel_fd": summary["logmel_fd_floor"], "two_sample_accuracy": summary["two_sample_accuracy_floor"],
            "voiced_fraction": summary["voiced_fraction_reference"],
            "syllable_modulation": summary["syllable_modulation_reference"]}


def _f(x, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def sound_table(m: dict) -> list[str]:
    """Markdown table: one row per measure, generated / reference / real-vs-real floor."""
    fd, ts = m["frechet"], m["two_sample"]
    lines = ["| measure | generated | reference | real vs real (floor) |", "|---|---|---|---|",
             f"| log-mel Fréchet distance (x floor) | {_f(fd['generated_vs_reference'], 1)} "
             f"({_f(fd['ratio_to_floor'], 1)}x) | 0 | {_f(fd['reference_vs_reference'], 1)} |",
             f"| two-sample classifier accuracy (0.5 = indistinguishable) | "
             f"{_f(ts['generated_vs_reference']['accuracy'])} | 0.5 | {_f(ts['reference_vs_reference']['accuracy'])} |"]
    for key, label in (("voiced_fraction", "voiced fraction of active frames"),
                       ("syllable_modulation", "syllable-rate (3-8 Hz) envelope modulation")):
        if key not in m:
            continue
        r = m[key]
        halves = " / ".join(_f(x) for x in r["reference_halves"])
        lines.append(f"| {label} (relative error) | {_f(r['generated'])} ({_f(r['relative_error'], 2)}) | "
                     f"{_f(r['reference'])} | halves {halves} ({_f(r['floor_relative_error'], 2)}) |")
    return lines

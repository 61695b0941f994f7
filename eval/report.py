"""Evaluation report: generated dialogues vs reference dialogues (timing, sound quality, memorisation).

    python -m eval.report --generated=runs/demo/generated --reference=DIR --out=runs/demo/report \
        [--train_dir=DIR] [--overwrite]

Writes into --out:
    report.md            the readable report (tables + the plots below)
    report.json          every number in it (JSON-safe, no NaN)
    hist_fto.png, hist_ipu.png, hist_pause.png   FTO / IPU / pause durations, generated vs reference overlaid
    vad_strips.png       who talks when in a few generated and reference dialogues
    logmel_spectrum.png  mean log-mel profile of each set
    spectrograms.png     spectrograms of one generated and one reference dialogue, both channels
    nn_distances.png     memorisation check: generated -> nearest training clip vs training -> nearest training

Timing: both sets are measured the same way (hard_vad on the audio -> wavebabble.timing statistics, pooled), side
by side with timing_distance (as `python -m eval.timing`), at one clip length: reference files longer than the
generated clips are cut into windows of the generated clips' (median) length first, since per-minute rates
depend on the length they are counted in (measure.clip_windows). Sound: wavebabble.sound_measures (log-mel Fréchet
distance, a classifier two-sample test, voiced fraction and syllable-rate modulation of active sound), each beside
the same measure between two halves of the reference (the floor a perfect generator would reach with this much
data). Memorisation: see wavebabble.quality. --train_dir defaults
to --reference. Reference and training files are resampled to the generated clips' rate.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
from absl import app, flags

from wavebabble import measure, plots, quality, sound_measures, speechlike, timing
from wavebabble.audio import read_stereo, require_audio_files
from wavebabble.cli import cli_errors, run_main
from wavebabble.errors import AudioError, DataError
from wavebabble.outdir import prepare_out_dir
from wavebabble.vad import FRAME_HZ, hard_vad

REPORT_MD = "report.md"
REPORT_JSON = "report.json"
PLOTS = {"fto": "hist_fto.png", "ipu": "hist_ipu.png", "pause": "hist_pause.png", "strips": "vad_strips.png",
         "spectrum": "logmel_spectrum.png", "spectrograms": "spectrograms.png", "nn": "nn_distances.png"}
REPORT_FILES = (REPORT_MD, REPORT_JSON, *PLOTS.values())  # what a report writes (and --overwrite replaces)
TOOL = "report"                   # this tool's name in the output folder's record (wavebabble.outdir)
DEFAULT_MAX_FILES = 200           # files read per set (a deterministic random subset beyond this)
DEFAULT_NUM_STRIPS = 4            # dialogues per set in vad_strips.png
SKIPPED_SHOWN = 10                 # skipped files named per set in report.md (report.json has all)
MIN_BASELINE_WINDOWS = 2          # the memorisation baseline compares two non-overlapping training windows
PROGRESS_EVERY_S = 5.0

log = logging.getLogger(__name__)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_set(folder, flag: str, sample_rate: int | None, max_files: int, rng: np.random.Generator):
    """Read up to max_files stereo files under folder -> (paths, [audio float32 [T, 2]], skipped, sample_rate)."""
    folder = Path(folder)
    files = require_audio_files(folder, f"--{flag}={folder}")
    if len(files) > max_files:
        files = sorted(files[i] for i in rng.choice(len(files), max_files, replace=False))
    paths, clips, skipped = [], [], []
    last = time.monotonic()
    for i, path in enumerate(files):
        try:
            audio, sr = read_stereo(path, sample_rate, mono="reject")
        except AudioError as e:
            log.warning("skipping %s", e)
            skipped.append([str(path), str(e)])
            continue
        sample_rate = sample_rate or sr
        paths.append(path)
        clips.append(audio)
        if time.monotonic() - last > PROGRESS_EVERY_S:
            last = time.monotonic()
            _say(f"  --{flag}: read {i + 1} / {len(files)} files")
    if not clips:
        raise DataError(f"--{flag}={folder}: none of the {len(files)} audio files is usable stereo "
                        f"(first problem: {skipped[0][1]})")
    return paths, clips, skipped, sample_rate


def _set_info(folder, paths, clips, skipped, sr) -> dict:
    seconds = [c.shape[0] / sr for c in clips]
    return {"folder": str(folder), "num_files": len(clips), "minutes": sum(seconds) / 60.0,
            "clip_seconds_median": float(np.median(seconds)), "skipped": skipped}


def timing_section(gen_vads, ref_vads, frame_hz: int, reference_window_s: float | None = None
                   ) -> tuple[dict, str, dict]:
    """Both sets' pooled timing statistics and their distances -> (report.json's "timing", the printed table,
    {"generated": TimingStats, "reference": TimingStats}). ``reference_window_s``: the length of the windows the
    reference VADs were cut into (None: whole files), recorded as "reference_window_s"."""
    g = timing.timing_stats(gen_vads, frame_hz)
    r = timing.timing_stats(ref_vads, frame_hz)
    distance = timing.timing_distance(g, r)
    table = timing.stats_table({"generated": g, "reference": r}, distance)
    section = {"generated": {**g.to_json(), "counts": g.counts()},
               "reference": {**r.to_json(), "counts": r.counts()}, "distance": distance,
               "reference_window_s": reference_window_s}
    return section, table, {"generated": g, "reference": r}


def reference_timing_vads(r_clips, ref_vads, g_clips, sr: int, frame_hz: int) -> tuple[list, float | None]:
    """The reference's VADs for the timing comparison, at the generated clips' length when the reference's
    files are longer than every clip (measure.reference_window_length): each file cut into its consecutive
    windows of the clips' median length (measure.clip_windows), each window's hard VAD taken on its own audio as
    a generated clip's is -> (VADs, the window length in s, or None when ``ref_vads`` are returned as they are)."""
    length = measure.reference_window_length([c.shape[0] for c in g_clips], [c.shape[0] for c in r_clips])
    if length is None:
        return ref_vads, None
    return [hard_vad(w, sr, frame_hz) for w in measure.clip_windows(r_clips, length)], length / sr


def _fmt(x, digits=3):
    return "-" if x is None else f"{x:.{digits}f}"


def skipped_lines(inputs: dict, shown: int = SKIPPED_SHOWN) -> list[str]:
    """Markdown list items naming the files each input set skipped (unreadable, mono, ...), `shown` per set."""
    lines = []
    for name, info in inputs.items():
        skipped = info["skipped"]
        if skipped and not (name == "train" and info["folder"] == inputs["reference"]["folder"]):
            lines.append(f"- **{len(skipped)} {name} file(s) skipped**, not measured:")
            lines += [f"  - `{path}`: {why}" for path, why in skipped[:shown]]
            if len(skipped) > shown:
                lines.append(f"  - ... and {len(skipped) - shown} more (report.json lists them all)")
    return lines


def write_markdown(path: Path, r: dict, timing_table: str) -> None:
    g, ref, tr = r["inputs"]["generated"], r["inputs"]["reference"], r["inputs"]["train"]
    fd, mem = r["sound"]["frechet"], r["memorisation"]
    verdict = ("no sign of memorisation" if not mem["flagged"] else
               f"{len(mem['flagged'])} generated clip(s) are suspiciously close to a training clip: {mem['flagged']}")
    lines = [
        "# wavebabble evaluation report", "",
        f"- generated: `{g['folder']}` — {g['num_files']} clips, {g['minutes']:.2f} min "
        f"({g['clip_seconds_median']:.2f} s each)",
        f"- reference: `{ref['folder']}` — {ref['num_files']} files, {ref['minutes']:.2f} min",
        f"- training (memorisation check): `{tr['folder']}` — {tr['num_files']} files",
        f"- sample rate {r['sample_rate']} Hz, VAD {r['frame_hz']} frames/s (hard_vad on both sets)",
        *skipped_lines(r["inputs"]),
        "",
        "## Turn-taking timing", "",
        "Both sets measured the same way (hard VAD -> IPUs, pauses, gaps, overlaps, FTOs; DESIGN.md definitions). "
        "`mean_relative_error` compares the four per-minute rates, both speech ratios and the overlap ratio; "
        "the Wasserstein distances compare duration distributions (seconds); `fto_share_0_400ms` is the share of "
        "floor transfers after a gap of 0-400 ms (people cluster around 200 ms); `timing_score` = MRE + the FTO "
        "Wasserstein distance relative to the reference FTOs' own spread (checkpoints are chosen by it).",
        *([] if r["timing"]["reference_window_s"] is None else [
            f"The reference is measured on its files cut into windows of {r['timing']['reference_window_s']:.2f} s, "
            f"the generated clips' length ({r['timing']['reference']['minutes']:.2f} min in all): rates depend on "
            "the length of the clips they are counted in (a speech run cut by a clip's edge still counts as an "
            "IPU, a pause or gap cut by it does not count)."]), "",
        "```", timing_table, "```", "",
        f"![FTO]({PLOTS['fto']})", "", f"![IPU]({PLOTS['ipu']})", "", f"![pause]({PLOTS['pause']})", "",
        "### Who talks when", "", f"![VAD strips]({PLOTS['strips']})", "",
        "## Sound", "",
        "Each measure beside the same measure between two random halves of the reference (the floor). Every clip "
        "is first scaled to one speech level (the mean power of its speakers' speech frames), so a gain between "
        "the sets is not counted as a difference of sound. Log-mel Fréchet distance: "
        f"per-frame {fd['n_mels']}-band log-mel vectors (both channels pooled), Gaussian fits "
        "(lower is better). Two-sample accuracy: a small classifier told to separate active 160 ms log-mel patches "
        "of the two sets, scored on held-out clips (0.5 = it cannot). Voiced fraction: share of active frames "
        "with a voice pitch (librosa.pyin, 60-400 Hz). Syllable-rate modulation: variance of the normalised "
        "loudness envelope in 3-8 Hz inside active stretches (speech rises and falls with its syllables; a "
        "steady tone does not).", "",
        *sound_measures.sound_table(r["sound"]), "",
        f"![spectrograms]({PLOTS['spectrograms']})", "",
        f"![mean log-mel spectrum]({PLOTS['spectrum']})", "",
        "## Memorisation check", "",
        f"Each generated clip vs every {mem['window_seconds']:.2f} s window of the training audio "
        f"({mem['num_train_files']} files, every {mem['step_seconds'] * 1000:.0f} ms offset, channels as is or "
        "swapped): RMS log-mel difference (dB) to the nearest one, compared with how close "
        f"{mem['num_baseline_windows']} random training windows are to their nearest non-overlapping neighbour.", "",
        "| | median nearest-neighbour distance (dB) |", "|---|---|",
        f"| generated -> nearest training window | {_fmt(mem['generated_nn_median_db'], 2)} |",
        f"| training -> nearest other training window | {_fmt(mem['train_nn_median_db'], 2)} |",
        f"| ratio (generated / training) | {_fmt(mem['ratio'], 2)} |", "",
        f"Verdict (flag below {mem['fraction']} x the training median): **{verdict}**.", "",
        f"![nearest-neighbour distances]({PLOTS['nn']})", "",
    ]
    path.write_text("\n".join(lines))


def build_report(generated, reference, out, train_dir=None, overwrite: bool = False, *,
                 sample_rate: int | None = None, frame_hz: int = FRAME_HZ, num_strips: int = DEFAULT_NUM_STRIPS,
                 max_files: int = DEFAULT_MAX_FILES, num_baseline: int = quality.NUM_BASELINE_WINDOWS,
                 seed: int = 0, voicing_seconds: float = speechlike.DEFAULT_VOICING_SECONDS) -> dict:
    """Write report.md, report.json and the PNGs into out; return the report.json dict.

    With ``overwrite`` the files an earlier report wrote there are removed first (wavebabble.outdir); the user's
    other files stay, and one at a name the report writes is refused (ConfigError)."""
    out = Path(out)
    with prepare_out_dir(out, overwrite, "--out", "the report", tool=TOOL, writes=REPORT_FILES, log=_say):
        rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        _say(f"reading generated clips from {generated} ...")
        g_paths, g_clips, g_skip, sr = load_set(generated, "generated", sample_rate, max_files, rng)
        _say(f"reading reference dialogues from {reference} (at {sr} Hz) ...")
        r_paths, r_clips, r_skip, _ = load_set(reference, "reference", sr, max_files, rng)
        same_train = train_dir is None or Path(train_dir).resolve() == Path(reference).resolve()
        if same_train:
            t_paths, t_clips, t_skip = r_paths, r_clips, r_skip
            train_dir = reference
        else:
            _say(f"reading training dialogues from {train_dir} ...")
            t_paths, t_clips, t_skip, _ = load_set(train_dir, "train_dir", sr, max_files, rng)

        _say("hard VAD and speech level ...")
        gen_vads = [hard_vad(c, sr, frame_hz) for c in g_clips]
        ref_vads = [hard_vad(c, sr, frame_hz) for c in r_clips]
        # the sound measures, the spectra and the memorisation check compare sets at one speech level
        g_level = sound_measures.level_matched(g_clips, gen_vads, sr, frame_hz)
        r_level = sound_measures.level_matched(r_clips, ref_vads, sr, frame_hz)
        t_level = r_level if same_train else sound_measures.level_matched(
            t_clips, [hard_vad(c, sr, frame_hz) for c in t_clips], sr, frame_hz)
        _say("log-mel features ...")
        gen_feats = [quality.logmel(c, sr) for c in g_level]
        ref_feats = [quality.logmel(c, sr) for c in r_level]
        train_feats = ref_feats if same_train else [quality.logmel(c, sr) for c in t_level]
        window_frames = int(np.median([f.shape[0] for f in gen_feats]))
        if quality.baseline_windows([f.shape[0] for f in train_feats], window_frames) < MIN_BASELINE_WINDOWS:
            flag = "--reference" if same_train else "--train_dir"
            raise DataError(f"{flag}={train_dir}: {len(train_feats)} file(s) of "
                            f"{sum(c.shape[0] for c in t_clips) / sr:.2f} s in all hold fewer than "
                            f"{MIN_BASELINE_WINDOWS} non-overlapping windows of the generated clips' length "
                            f"({window_frames / frame_hz:.2f} s), which the memorisation check compares")

        _say("timing (hard VAD) ...")
        timing_vads, window_s = reference_timing_vads(r_clips, ref_vads, g_clips, sr, frame_hz)
        timing_json, table, stats = timing_section(gen_vads, timing_vads, frame_hz, window_s)
        g_stats, r_stats = stats["generated"], stats["reference"]
        for key, label in (("fto", "floor-transfer offset (s; negative = overlap)"), ("ipu", "IPU duration (s)"),
                           ("pause", "within-speaker pause (s)")):
            plots.overlaid_histogram(out / PLOTS[key], {"generated": getattr(g_stats, f"{key}_s"),
                                                        "reference": getattr(r_stats, f"{key}_s")},
                                     title=f"{key.upper() if key != 'pause' else 'pause'} distribution", xlabel=label)
        clip_frames = int(np.median([v.shape[0] for v in gen_vads]))
        strips = [(f"gen {p.stem}", v) for p, v in zip(g_paths[:num_strips], gen_vads[:num_strips])]
        strips += [(f"ref {p.stem}", v[:clip_frames]) for p, v in zip(r_paths[:num_strips], ref_vads[:num_strips])]
        plots.vad_strips(out / PLOTS["strips"], strips, frame_hz)

        _say("sound measures (log-mel Fréchet distance, two-sample classifier, voicing, modulation) ...")
        sound = sound_measures.sound_measures(g_level, r_level, sr, rng, frame_hz, voicing_seconds,
                                              gen_feats=gen_feats, ref_feats=ref_feats, gen_vads=gen_vads,
                                              ref_vads=ref_vads)
        plots.spectrograms(out / PLOTS["spectrograms"],
                           {"generated": g_level[0], "reference": r_level[0][:len(g_level[0])]}, sr, frame_hz)
        plots.mean_spectrum(out / PLOTS["spectrum"],
                            {"generated": quality.frame_vectors(gen_feats).mean(0),
                             "reference": quality.frame_vectors(ref_feats).mean(0)})

        _say("memorisation check (nearest neighbours) ...")
        memo = quality.memorisation_check(gen_feats, train_feats, window_frames, num_baseline, rng)
        plots.overlaid_histogram(out / PLOTS["nn"],
                                 {"generated -> nearest training": memo["generated_nn_db"],
                                  "training -> nearest other training": memo["train_nn_db"]},
                                 title="nearest-neighbour log-mel distance", xlabel="RMS difference (dB)")

        report = {
            "inputs": {"generated": _set_info(generated, g_paths, g_clips, g_skip, sr),
                       "reference": _set_info(reference, r_paths, r_clips, r_skip, sr),
                       "train": _set_info(train_dir, t_paths, t_clips, t_skip, sr)},
            "sample_rate": sr, "frame_hz": frame_hz, "seed": seed,
            "timing": timing_json, "sound": sound, "memorisation": memo,
            "files": {"markdown": REPORT_MD, "plots": PLOTS},
        }
        (out / REPORT_JSON).write_text(json.dumps(report, indent=2, allow_nan=False) + "\n")
        write_markdown(out / REPORT_MD, report, table)
        _say(f"report written to {out / REPORT_MD} ({time.perf_counter() - t0:.1f} s)")
    return report


FLAGS = flags.FLAGS


def define_flags() -> None:
    """Define this CLI's flags (only when it runs: library users such as the trainer import this module)."""
    flags.DEFINE_string("generated", None, "Folder of generated stereo clips (python -m wavebabble.generate) (required).")
    flags.DEFINE_string("reference", None, "Folder of real/reference stereo dialogues (required).")
    flags.DEFINE_string("out", None, "Report folder (report.md, report.json, PNGs) (required).")
    flags.DEFINE_string("train_dir", None, "Training dialogues for the memorisation check; default: --reference.")
    flags.DEFINE_boolean("overwrite", False, "Write into a non-empty --out.")
    flags.DEFINE_integer("sample_rate", None, "Analysis sample rate; default: the generated clips' rate.")
    flags.DEFINE_integer("num_strips", DEFAULT_NUM_STRIPS, "Dialogues per set shown in vad_strips.png.")
    flags.DEFINE_integer("max_files", DEFAULT_MAX_FILES, "Most files read per folder (random subset beyond).")
    flags.DEFINE_integer("num_baseline", quality.NUM_BASELINE_WINDOWS,
                         "Training windows whose nearest other training window forms the memorisation baseline.")
    flags.DEFINE_integer("seed", 0, "Seed of the file subsets and the reference split.")
    flags.DEFINE_float("voicing_seconds", speechlike.DEFAULT_VOICING_SECONDS,
                       "Seconds of active generated audio (and as much reference audio) the voiced fraction reads "
                       "with librosa.pyin (about 2.4 s of audio per CPU second); 0 skips it.", lower_bound=0.0)


def main(argv) -> None:
    if not (FLAGS.generated and FLAGS.reference and FLAGS.out):
        raise app.UsageError("--generated, --reference and --out are required")
    with cli_errors("wavebabble-report"):
        r = build_report(FLAGS.generated, FLAGS.reference, FLAGS.out, FLAGS.train_dir, FLAGS.overwrite,
                         sample_rate=FLAGS.sample_rate, num_strips=FLAGS.num_strips, max_files=FLAGS.max_files,
                         num_baseline=FLAGS.num_baseline, seed=FLAGS.seed, voicing_seconds=FLAGS.voicing_seconds)
    d, mem = r["timing"]["distance"], r["memorisation"]
    snd = sound_measures.sound_summary(r["sound"])
    print(f"timing: mean relative error {_fmt(d['mean_relative_error'])}, FTO Wasserstein "
          f"{_fmt(d['fto_wasserstein_s'])} s, FTOs in 0-400 ms {_fmt(r['timing']['generated']['fto_share_0_400ms'], 2)}"
          f" (reference {_fmt(r['timing']['reference']['fto_share_0_400ms'], 2)})")
    print(f"sound: log-mel FD {_fmt(snd['logmel_fd'], 1)} (floor {_fmt(snd['logmel_fd_floor'], 1)}), two-sample "
          f"accuracy {_fmt(snd['two_sample_accuracy'], 2)} (floor {_fmt(snd['two_sample_accuracy_floor'], 2)}), "
          f"voiced fraction {_fmt(snd['voiced_fraction'], 2)} (reference {_fmt(snd['voiced_fraction_reference'], 2)}),"
          f" syllable modulation {_fmt(snd['syllable_modulation'], 4)} (reference "
          f"{_fmt(snd['syllable_modulation_reference'], 4)})")
    print(f"memorisation ratio {_fmt(mem['ratio'], 2)}, {len(mem['flagged'])} flagged")
    print(f"open {Path(FLAGS.out) / REPORT_MD}")


def run() -> None:
    """Console-script entry point."""
    define_flags()
    run_main(main, "wavebabble-report")


if __name__ == "__main__":
    run()

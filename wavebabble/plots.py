"""PNG plots for the evaluation report (matplotlib, Agg backend: no display needed).

    overlaid_histogram(path, {"generated": x, "reference": y}, title, xlabel)    duration distributions
    vad_strips(path, [(label, vad bool [frames, 2]), ...], frame_hz)            who talks when, per dialogue
    mean_spectrum(path, {"generated": [n_mels], ...})                           average log-mel profile
    spectrograms(path, {"generated": audio [T, 2], "reference": ...}, sample_rate)   one panel per set and channel
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HIST_BINS = 30            # bins of the overlaid histograms
FIG_WIDTH = 8.0           # inches
STRIP_HEIGHT = 0.75       # inches per dialogue strip
DPI = 100
SPEAKER_COLOURS = ("tab:blue", "tab:orange")   # speaker A (left channel), speaker B (right channel)
SET_COLOURS = ("tab:red", "tab:gray", "tab:green", "tab:purple")
SPECTROGRAM_HEIGHT = 1.6  # inches per spectrogram row
SPECTROGRAM_RANGE_DB = 70.0   # colour range below each figure's loudest bin
SPECTROGRAM_CMAP = "magma"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    """Lay out, write and close a figure; return its path."""
    fig.tight_layout()
    fig.savefig(path)
    _plt().close(fig)
    return Path(path)


def overlaid_histogram(path, named: dict, title: str, xlabel: str, bins: int = HIST_BINS) -> Path:
    """Density histograms of several 1-D samples on shared bins (empty samples are listed as 'none')."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 3.5), dpi=DPI)
    arrays = {k: np.asarray(v, dtype=float) for k, v in named.items()}
    values = np.concatenate([v for v in arrays.values() if v.size] or [np.zeros(1)])
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    for (name, v), colour in zip(arrays.items(), SET_COLOURS):
        if v.size:
            ax.hist(v, bins=edges, density=True, alpha=0.5, color=colour,
                    label=f"{name} (n={v.size}, median {np.median(v):.2f})")
        else:
            ax.plot([], [], color=colour, label=f"{name} (none)")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return _save(fig, path)


def vad_strips(path, strips: list, frame_hz: int) -> Path:
    """One row per dialogue: speaker A's speech as a bar in the upper half, B's in the lower half."""
    plt = _plt()
    n = max(1, len(strips))
    fig, axes = plt.subplots(n, 1, figsize=(FIG_WIDTH, 0.6 + STRIP_HEIGHT * n), dpi=DPI, squeeze=False,
                             sharex=True)
    for ax, (label, vad) in zip(axes[:, 0], strips):
        vad = np.asarray(vad, dtype=bool)
        for c, (y0, colour) in enumerate(zip((0.55, 0.05), SPEAKER_COLOURS)):
            d = np.diff(np.concatenate([[0], vad[:, c].astype(np.int8), [0]]))
            starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
            ax.broken_barh([(s / frame_hz, (e - s) / frame_hz) for s, e in zip(starts, ends)], (y0, 0.4),
                           color=colour, label="A (left)" if c == 0 else "B (right)")
        ax.set_xlim(0, vad.shape[0] / frame_hz)
        ax.set_ylim(0, 1)
        ax.set_yticks([0.25, 0.75], ["B", "A"])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize="small")
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].legend(loc="upper right", fontsize="x-small", ncol=2)
    return _save(fig, path)


def mean_spectrum(path, named: dict, title: str = "mean log-mel spectrum") -> Path:
    """Average log-mel profile (dB per mel band) of each set."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(FIG_WIDTH, 3.5), dpi=DPI)
    for (name, profile), colour in zip(named.items(), SET_COLOURS):
        ax.plot(np.asarray(profile), color=colour, label=name)
    ax.set_title(title)
    ax.set_xlabel("mel band")
    ax.set_ylabel("dB")
    ax.legend(fontsize="small")
    return _save(fig, path)


def spectrograms(path, named: dict, sample_rate: int, frame_hz: int = 100) -> Path:
    """Linear-frequency spectrograms (dB, wavebabble.quality's STFT) of one stereo clip ``[T, 2]`` per set, one
    row per set and channel, on one colour scale: harmonics, formants and syllables show in real speech,
    steady tones as horizontal lines."""
    from wavebabble import quality

    plt = _plt()
    rows = [(f"{name} {'A (left)' if c == 0 else 'B (right)'}", quality.to_db(
        quality.power_spectrogram(np.asarray(clip)[:, c], sample_rate, frame_hz)[:, 0, :]))
        for name, clip in named.items() for c in range(np.asarray(clip).shape[1])]
    top = max(float(r[1].max()) for r in rows) if rows else 0.0
    fig, axes = plt.subplots(len(rows), 1, figsize=(FIG_WIDTH, 0.6 + SPECTROGRAM_HEIGHT * len(rows)), dpi=DPI,
                             squeeze=False, sharex=True)
    for ax, (label, db) in zip(axes[:, 0], rows):
        ax.imshow(db.T, origin="lower", aspect="auto", cmap=SPECTROGRAM_CMAP, vmin=top - SPECTROGRAM_RANGE_DB,
                  vmax=top, extent=[0, db.shape[0] / frame_hz, 0, sample_rate / 2000.0])
        ax.set_ylabel(f"{label}\nkHz", fontsize="small")
    axes[-1, 0].set_xlabel("time (s)")
    return _save(fig, path)

"""Sound-quality measures on log-mel spectrograms: Fréchet distance and nearest-neighbour memorisation check.

    feats = logmel(audio [T, C], sample_rate)                       -> float32 [frames, C, N_MELS] (dB)
    fd = frechet_distance(frames_a [n, D], frames_b [m, D])        Fréchet (2-Wasserstein) distance of Gaussians
    nn = memorisation_check(gen_feats, train_feats, window_frames, num_baseline, rng)   nearest neighbours

Log-mel frames use the VAD frame grid (hop = sample_rate // FRAME_HZ, 10 ms) with a `N_FFT`-sample window and
`N_MELS` mel bands up to Nyquist, as 10 log10(power) floored at `LOGMEL_FLOOR_DB`, so digital silence and a
faint noise floor look alike (neither the reference corpus' exact zeros nor a generator's hiss dominate).

Fréchet distance (as FID, but on per-frame log-mel vectors of each channel, pooled): with means mu_a, mu_b and
covariances S_a, S_b, FD = |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)). The trace of the matrix square
root is computed exactly with symmetric eigendecompositions only (numpy, no scipy):
tr (S_a S_b)^(1/2) = tr (S_a^(1/2) S_b S_a^(1/2))^(1/2), and the inner matrix is symmetric PSD.

Memorisation: log-mel of both channels averaged over `NN_POOL` frames (40 ms steps); distance = RMS difference
in dB between two clip-length windows. For each generated clip: its distance to the closest window at ANY step
offset of ANY training file (channels as is or swapped), so shifted or speaker-swapped copies are found too.
Baseline: random non-overlapping training windows' distances to their closest window elsewhere (not overlapping
themselves) — how close genuinely different pieces of the training data are. Generated clips much closer than
that (< MEMORISATION_FRACTION x the baseline median) are flagged as possible copies.
"""
from __future__ import annotations

import numpy as np

FRAME_HZ = 100                # log-mel frame rate (same grid as the VAD)
N_FFT_S = 0.032               # analysis window (s): 256 samples at 8 kHz
N_MELS = 40                   # mel bands
LOGMEL_FLOOR_DB = -80.0       # power floor (dBFS) of the log-mel features
COV_EPS = 1e-6                # ridge added to covariances (numerically PSD)
NN_POOL = 4                   # frames averaged per memorisation feature step (40 ms)
MEMORISATION_FRACTION = 0.5   # flag generated clips closer than this x the training-set baseline median
NUM_BASELINE_WINDOWS = 64     # training windows whose own nearest neighbour forms the baseline


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular HTK-mel filters from 0 Hz to Nyquist, area-normalised: ``[n_mels, n_fft // 2 + 1]``."""
    bins_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sample_rate / 2.0), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins_hz[None, :] - lo) / (mid - lo)
    down = (hi - bins_hz[None, :]) / (hi - mid)
    fb = np.clip(np.minimum(up, down), 0.0, None)
    return fb * (2.0 / (hi - lo))


def power_spectrogram(audio: np.ndarray, sample_rate: int, frame_hz: int = FRAME_HZ) -> np.ndarray:
    """|STFT|^2 per channel: float ``[T, C]`` (or ``[T]``) -> float32 ``[T // hop, C, n_fft // 2 + 1]``.

    Frame i is the Hann-windowed ``n_fft``-sample window (``N_FFT_S``, rounded up to a power of two) centred on
    sample ``(i + 0.5) * hop`` (zero padded at the edges), the VAD's frame grid. Pure numpy.
    """
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    hop = sample_rate // frame_hz
    n_fft = fft_size(sample_rate)
    frames = x.shape[0] // hop
    left = n_fft // 2 - hop // 2
    padded = np.pad(x, [(left, n_fft), (0, 0)])
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    idx = np.arange(frames)[:, None] * hop + np.arange(n_fft)[None, :]
    out = np.empty((frames, x.shape[1], n_fft // 2 + 1), dtype=np.float32)
    for c in range(x.shape[1]):
        out[:, c, :] = np.abs(np.fft.rfft(padded[idx, c] * window, axis=1)) ** 2
    return out


def fft_size(sample_rate: int) -> int:
    """The analysis window in samples: ``N_FFT_S`` rounded up to a power of two (256 at 8 kHz)."""
    return int(2 ** np.ceil(np.log2(N_FFT_S * sample_rate)))


def to_db(power: np.ndarray) -> np.ndarray:
    """10 log10(power), floored at ``LOGMEL_FLOOR_DB``."""
    return (10.0 * np.log10(np.maximum(power, 10.0 ** (LOGMEL_FLOOR_DB / 10.0)))).astype(np.float32)


def logmel(audio: np.ndarray, sample_rate: int, frame_hz: int = FRAME_HZ, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel spectrogram per channel: float ``[T, C]`` (or ``[T]``) -> float32 ``[T // hop, C, n_mels]`` dB,
    on the frames of ``power_spectrogram``."""
    fb = mel_filterbank(sample_rate, fft_size(sample_rate), n_mels).astype(np.float32)
    return to_db(power_spectrogram(audio, sample_rate, frame_hz) @ fb.T)


def frame_vectors(feats: list[np.ndarray]) -> np.ndarray:
    """Pool per-channel frames of several clips: list of ``[frames, C, n_mels]`` -> ``[sum frames * C, n_mels]``."""
    return np.concatenate([f.reshape(-1, f.shape[-1]) for f in feats], axis=0).astype(np.float64)


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2.0)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def gaussian_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and covariance ``[D, D]`` of row vectors ``[n, D]`` (n >= 2)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"need at least 2 row vectors [n, D], got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False) + COV_EPS * np.eye(x.shape[1])


def frechet_from_stats(mu_a, cov_a, mu_b, cov_b) -> float:
    """|mu_a - mu_b|^2 + tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2)), >= 0."""
    sa = _sqrtm_psd(cov_a)
    inner = sa @ cov_b @ sa
    tr_sqrt = float(np.sum(np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2.0), 0.0, None))))
    fd = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_sqrt)
    return max(fd, 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between the Gaussian fits of two sets of row vectors ``[n, D]`` and ``[m, D]``."""
    return frechet_from_stats(*gaussian_stats(a), *gaussian_stats(b))


def split_halves(items: list, rng: np.random.Generator) -> tuple[list, list]:
    """Two disjoint random halves of a list (for the reference-vs-reference floor)."""
    order = rng.permutation(len(items))
    half = len(items) // 2
    return [items[i] for i in order[:half]], [items[i] for i in order[half:]]


def pool_frames(feats: np.ndarray, pool: int = NN_POOL) -> np.ndarray:
    """Average ``pool`` frames: ``[frames, C, n_mels]`` -> float64 ``[frames // pool, C * n_mels]``."""
    steps = feats.shape[0] // pool
    pooled = feats[:steps * pool].reshape(steps, pool, -1).mean(axis=1)
    return pooled.astype(np.float64)


def fit_frames(feats: np.ndarray, frames: int) -> np.ndarray:
    """Crop or pad (with the log-mel floor) ``[f, C, n_mels]`` to exactly ``frames`` frames."""
    if feats.shape[0] >= frames:
        return feats[:frames]
    pad = np.full((frames - feats.shape[0], *feats.shape[1:]), LOGMEL_FLOOR_DB, feats.dtype)
    return np.concatenate([feats, pad])


def sliding_rms(query: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """RMS difference between ``query [K, D]`` and every window ``seq[o:o + K]`` of ``seq [S, D]`` -> ``[S - K + 1]``.

    ||q - w_o||^2 = ||q||^2 + ||w_o||^2 - 2 <q, w_o>, with <q, w_o> = sum_k (seq @ q.T)[o + k, k] (a diagonal sum,
    read through a strided view) and ||w_o||^2 from a cumulative sum: O(S K D) time, O(S K) memory.
    """
    k, d = query.shape
    n = seq.shape[0] - k + 1
    if n <= 0:
        return np.zeros(0)
    m = np.ascontiguousarray(seq @ query.T)                                   # [S, K]
    s0, s1 = m.strides
    diag = np.lib.stride_tricks.as_strided(m, shape=(n, k), strides=(s0, s0 + s1), writeable=False)
    cross = diag.sum(axis=1)
    row_sq = np.concatenate([[0.0], np.cumsum((seq * seq).sum(axis=1))])
    sq = (query * query).sum() + (row_sq[k:] - row_sq[:-k]) - 2.0 * cross
    return np.sqrt(np.clip(sq, 0.0, None) / (k * d))


def _swap(pooled: np.ndarray) -> np.ndarray:
    """Channel-swapped pooled features ``[steps, 2 * n_mels]`` (speaker A <-> B)."""
    a, b = np.split(pooled, 2, axis=1)
    return np.concatenate([b, a], axis=1)


def _nearest(query: np.ndarray, seqs: list, exclude: tuple[int, int] | None = None) -> tuple[float, int, int]:
    """(distance, file index, offset in pooled steps) of the window of `seqs` closest to `query` (or its channel
    swap). exclude = (file, offset): windows of that file overlapping that offset are not candidates."""
    k = query.shape[0]
    queries = (query, _swap(query)) if query.shape[1] % 2 == 0 else (query,)
    best = (np.inf, -1, -1)
    for fi, seq in enumerate(seqs):
        d = np.min([sliding_rms(q, seq) for q in queries], axis=0)
        if exclude is not None and exclude[0] == fi:
            lo, hi = max(0, exclude[1] - k + 1), min(d.size, exclude[1] + k)
            d = d.copy()
            d[lo:hi] = np.inf
        if d.size and d.min() < best[0]:
            o = int(d.argmin())
            best = (float(d[o]), fi, o)
    return best


def baseline_windows(train_frames: list[int], window_frames: int, pool: int = NN_POOL) -> int:
    """How many non-overlapping clip-length windows the memorisation baseline can draw from training files of
    ``train_frames`` log-mel frames each (a file shorter than a window is padded to one)."""
    k = max(window_frames // pool, 1)
    return sum(max(window_frames, n) // pool // k for n in train_frames)


def memorisation_check(gen_feats: list, train_feats: list, window_frames: int, num_baseline: int,
                       rng: np.random.Generator, fraction: float = MEMORISATION_FRACTION,
                       pool: int = NN_POOL) -> dict:
    """Nearest-neighbour distances (dB RMS) of generated clips to training audio vs training to training.

    Args:
      gen_feats: log-mel ``[frames, C, n_mels]`` of each generated clip (cropped / padded to window_frames).
      train_feats: log-mel ``[frames, C, n_mels]`` of each training file (any length; shorter ones padded).
      window_frames: clip length in frames. Every offset (in steps of `pool` frames) of every training file is a
        candidate neighbour, with the channels as is or swapped.
      num_baseline: how many non-overlapping training windows (random) get their own nearest neighbour among
        the windows that do not overlap them: the baseline of how close distinct real audio is.
    Returns a JSON-safe dict: per generated clip ``generated_nn_db`` and ``generated_nn_where``
    ([file index, offset s]), ``train_nn_db``, medians, ``ratio`` (generated median / training median: ~1 or
    above is healthy, << 1 suggests copying) and ``flagged`` (generated clips closer than fraction x the training
    median).
    """
    k = window_frames // pool
    seqs = [pool_frames(fit_frames(f, max(window_frames, f.shape[0])), pool) for f in train_feats]
    gen_nn, gen_where = [], []
    for f in gen_feats:
        d, fi, o = _nearest(pool_frames(fit_frames(f, window_frames), pool), seqs)
        gen_nn.append(d)
        gen_where.append([fi, o * pool / FRAME_HZ])
    starts = [(fi, o) for fi, seq in enumerate(seqs) for o in range(0, seq.shape[0] - k + 1, k)]
    if len(starts) > num_baseline:
        starts = [starts[i] for i in sorted(rng.choice(len(starts), num_baseline, replace=False))]
    train_nn = [_nearest(seqs[fi][o:o + k], seqs, exclude=(fi, o))[0] for fi, o in starts]
    train_nn = np.asarray([d for d in train_nn if np.isfinite(d)])
    if train_nn.size == 0:
        raise ValueError("memorisation check: the training audio holds no two non-overlapping clip-length windows")
    gen_nn = np.asarray(gen_nn)
    train_median = float(np.median(train_nn))
    return {
        "generated_nn_db": [float(x) for x in gen_nn],
        "generated_nn_where": gen_where,
        "train_nn_db": [float(x) for x in train_nn],
        "generated_nn_median_db": float(np.median(gen_nn)),
        "train_nn_median_db": train_median,
        "ratio": float(np.median(gen_nn)) / train_median if train_median > 0 else None,
        "fraction": fraction,
        "flagged": [int(i) for i in np.flatnonzero(gen_nn < fraction * train_median)],
        "num_generated": int(len(gen_feats)),
        "num_train_files": int(len(train_feats)),
        "num_baseline_windows": int(train_nn.size),
        "window_seconds": window_frames / FRAME_HZ,
        "step_seconds": pool / FRAME_HZ,
    }

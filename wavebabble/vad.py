"""Voice activity detection on one frame grid: a hard numpy VAD (evaluation) and a soft TF VAD (training).

Frame grid (shared by both): ``hop = sample_rate // frame_hz`` samples, ``num_frames = T // hop``; frame ``i``
is the mean power of a ``WINDOW_S`` (25 ms) window centred on sample ``(i + 0.5) * hop``, zero padded at the
clip's edges, in dBFS (a full-scale square wave is 0 dB, a full-scale sine -3 dB, digital silence
``SILENCE_DB`` = -100 dB).

- :func:`frame_energy_db`: numpy ``[T]`` / ``[T, C]`` -> ``[frames]`` / ``[frames, C]`` dBFS;
  :func:`frame_energy_db_blocks` / :class:`FrameEnergy`: the same from consecutive ``[n, C]`` blocks (a long
  file read piece by piece), keeping only the float32 energies.
- :func:`soft_vad`: TF ``[B, T, C]`` -> ``[B, T // hop, C]`` in [0, 1],
  ``sigmoid((energy_db - threshold_db) / temperature_db)``; differentiable (used by the turn-timing
  discriminator and summaries). Its fixed threshold assumes level-normalised audio (loud speaker peaking
  near 0.9 full scale, as the data pipeline delivers).
- :func:`model_soft_vad`: :func:`soft_vad` with a Config's VAD fields (the one call the trainer, summaries,
  export and benchmarks use).
- :func:`hard_vad`: numpy ``[T, C]`` -> bool ``[frames, C]`` (:func:`hard_vad_from_energy` on frame energies). The threshold adapts to each channel's own noise
  floor and speech level, so it works on raw recordings at any gain; an all-silent channel or one with only
  steady background noise yields no speech; isolated bursts shorter than 0.1 s (clicks) are dropped; a 30 ms
  hangover keeps word endings. Optional ``dialogue_range_db`` ties each channel to the loudest one.

On clean, level-normalised speech ``soft_vad(x) > 0.5`` agrees with ``hard_vad(x)`` on >= 95 % of frames
(tests/test_vad.py).
"""
from __future__ import annotations

import numpy as np

FRAME_HZ = 100                 # VAD frames per second (10 ms hop)
MAX_FRAME_HZ = 1000            # highest frame rate a CLI accepts (1 ms hop; the window stays WINDOW_S)
WINDOW_S = 0.025               # analysis window per frame (25 ms), centred on the frame
ENERGY_EPS = 1e-10             # power floor: log of silence stays finite
SILENCE_DB = 10.0 * np.log10(ENERGY_EPS)  # = -100 dBFS, the energy of digital silence

# soft VAD defaults (also Config.vad_threshold_db / Config.vad_temperature_db)
SOFT_THRESHOLD_DB = -40.0      # frame energy (dBFS) where soft VAD = 0.5
SOFT_TEMPERATURE_DB = 3.0      # sigmoid temperature (dB): +-3 dB around the threshold spans 0.27..0.73

# hard VAD: adaptive threshold = max(noise floor + SNR_MARGIN_DB, speech level - SPEECH_RANGE_DB, MIN_SPEECH_DB)
NOISE_PERCENTILE = 5.0         # the channel's noise floor: this percentile of its frame energies
LEVEL_PERCENTILE = 99.0        # the channel's speech level: this percentile of frames above the floor margin
SNR_MARGIN_DB = 12.0           # speech must exceed the noise floor by this much (steady noise varies far less)
SPEECH_RANGE_DB = 30.0         # speech frames lie within this many dB below the channel's speech level
MIN_SPEECH_DB = -70.0          # nothing quieter than this (dBFS) is speech, whatever the floor
MIN_SPEECH_S = 0.05            # speech runs shorter than this are dropped ...
MIN_ISOLATED_S = 0.1           # ... and so are groups of runs spanning less than this (clicks, lip smacks) ...
ISOLATION_S = 0.2              # ... where runs closer than this form one group (as timing.MIN_SILENCE_S bridges)
HANGOVER_S = 0.03              # speech is held this long after energy falls below the threshold


def frame_params(sample_rate: int, frame_hz: int = FRAME_HZ) -> tuple[int, int, int]:
    """``(hop, window, left_pad)`` in samples for the frame grid at ``sample_rate``."""
    hop = int(sample_rate) // int(frame_hz)
    if hop <= 0:
        raise ValueError(f"frame_hz={frame_hz} is higher than sample_rate={sample_rate}")
    window = max(hop, int(round(WINDOW_S * sample_rate)))
    left_pad = window // 2 - hop // 2  # frame i's window starts at i * hop in the padded signal
    return hop, window, left_pad


def num_frames(num_samples: int, sample_rate: int, frame_hz: int = FRAME_HZ) -> int:
    """Frames of a clip of ``num_samples``: ``num_samples // hop``."""
    return int(num_samples) // frame_params(sample_rate, frame_hz)[0]


ENERGY_BLOCK_SAMPLES = 1 << 16  # frame_energy_db works through in-memory audio this many samples at a time


class FrameEnergy:
    """Frame energies of a clip fed in consecutive blocks: ``add([n_i, C])`` ..., then ``result()`` ->
    ``[sum(n_i) // hop, C]`` float32 dBFS, equal to :func:`frame_energy_db` of the whole clip.

    Memory: the squared samples not yet framed (less than a window plus a block) and the float32 energies.
    Each frame's power is summed within the block that completes it, so block boundaries may fall anywhere.
    """

    def __init__(self, sample_rate: int, frame_hz: int = FRAME_HZ, channels: int = 1):
        self.hop, self.window, left_pad = frame_params(sample_rate, frame_hz)
        self.num_samples = 0
        self._pending = np.zeros((left_pad, int(channels)))  # squared padded samples from frame len(done) on
        self._done: list[np.ndarray] = []
        self._num_done = 0

    def add(self, block: np.ndarray) -> None:
        """Append the next ``[n, C]`` samples of the clip."""
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[1] != self._pending.shape[1]:
            raise ValueError(f"blocks must be [time, {self._pending.shape[1]}], got shape {block.shape}")
        self.num_samples += block.shape[0]
        self._pending = np.concatenate([self._pending, np.square(block, dtype=np.float64)])
        complete = min((self._pending.shape[0] - self.window) // self.hop + 1,
                       self.num_samples // self.hop - self._num_done)
        if complete > 0:
            self._frame(complete)

    def result(self) -> np.ndarray:
        """Energies of every frame of the clip so far: ``[num_samples // hop, C]`` float32 dBFS."""
        remaining = self.num_samples // self.hop - self._num_done
        if remaining > 0:  # the last frames' windows run past the clip's end: zero padded
            needed = (remaining - 1) * self.hop + self.window
            tail = np.zeros((needed, self._pending.shape[1]))
            body = self._pending[:needed]
            tail[:body.shape[0]] = body
            self._pending = tail
            self._frame(remaining)
        if not self._done:
            return np.zeros((0, self._pending.shape[1]), dtype=np.float32)
        return np.concatenate(self._done)

    def _frame(self, count: int) -> None:
        """Energies of the next ``count`` frames, whose windows all lie in the pending samples."""
        csum = np.concatenate([np.zeros((1, self._pending.shape[1])), np.cumsum(self._pending, axis=0)])
        starts = np.arange(count) * self.hop
        power = (csum[starts + self.window] - csum[starts]) / self.window
        self._done.append((10.0 * np.log10(np.maximum(power, 0.0) + ENERGY_EPS)).astype(np.float32))
        self._num_done += count
        self._pending = self._pending[count * self.hop:]


def frame_energy_db_blocks(blocks, sample_rate: int, frame_hz: int = FRAME_HZ, channels: int = 1) -> np.ndarray:
    """Frame energies of a clip given as consecutive ``[n_i, channels]`` blocks -> ``[frames, channels]`` float32
    dBFS, equal to :func:`frame_energy_db` of the concatenated clip (see :class:`FrameEnergy`)."""
    acc = FrameEnergy(sample_rate, frame_hz, channels)
    for block in blocks:
        acc.add(block)
    return acc.result()


def frame_energy_db(audio: np.ndarray, sample_rate: int, frame_hz: int = FRAME_HZ) -> np.ndarray:
    """Frame energies in dBFS: ``[T]`` -> ``[frames]``, ``[T, C]`` -> ``[frames, C]`` (float32).

    Works through the clip in blocks of ``ENERGY_BLOCK_SAMPLES``, so its float64 temporaries stay small."""
    x = np.asarray(audio)
    squeeze = x.ndim == 1
    if squeeze:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"audio must be [time] or [time, channels], got shape {x.shape}")
    blocks = (x[i:i + ENERGY_BLOCK_SAMPLES] for i in range(0, x.shape[0], ENERGY_BLOCK_SAMPLES))
    db = frame_energy_db_blocks(blocks, sample_rate, frame_hz, x.shape[1])
    return db[:, 0] if squeeze else db


def soft_vad(audio, sample_rate: int, frame_hz: int = FRAME_HZ, threshold_db: float = SOFT_THRESHOLD_DB,
             temperature_db: float = SOFT_TEMPERATURE_DB, grad_temperature_db: float = 0.0, grad_mix=1.0):
    """Differentiable VAD: TF float ``[B, T, C]`` -> float32 ``[B, T // hop, C]`` in [0, 1].

    ``sigmoid((frame_energy_db - threshold) / temperature_db)`` on the same frame grid as
    :func:`frame_energy_db` / :func:`hard_vad`, with ``threshold = threshold_db``. Gradients are finite
    everywhere (zero on digital silence).

    ``grad_temperature_db`` > 0 (surrogate gradient): the values stay the sharp sigmoid, but gradients are those
    of ``sigmoid((energy - threshold) / grad_temperature_db)``. The sharp sigmoid's gradient vanishes a few
    temperatures away from the threshold, so a generator whose channel sits far below it (silent) or far above
    it (in a long turn) would get no signal to start or end speech there; the broad surrogate keeps one
    (as surrogate gradients of step functions do, e.g. in spiking networks).
    ``grad_mix`` (float or scalar tensor in [0, 1], with ``grad_temperature_db`` > 0): the gradient is
    ``grad_mix`` x the broad one + (1 - ``grad_mix``) x the sharp one (values unchanged); 1 is the surrogate alone,
    0 the sharp sigmoid's own gradient. :func:`surrogate_mix` anneals it over training.
    """
    import tensorflow as tf  # imported here so numpy-only users (evaluation) need not load TF

    hop, window, left_pad = frame_params(sample_rate, frame_hz)
    x = tf.convert_to_tensor(audio)
    if x.dtype != tf.float32:
        x = tf.cast(x, tf.float32)
    t = tf.shape(x)[1]
    n = t // hop
    needed = tf.maximum((n - 1) * hop + window, 0)
    power = tf.pad(tf.square(x), [[0, 0], [left_pad, window], [0, 0]])[:, :needed, :]
    power = tf.nn.avg_pool1d(power, ksize=window, strides=hop, padding="VALID")  # [B, n, C]
    power = power[:, :n, :]
    db = (10.0 / np.log(10.0)) * tf.math.log(power + ENERGY_EPS)
    return soft_vad_from_db(db, threshold_db, temperature_db, grad_temperature_db, grad_mix)


def soft_vad_from_db(db, threshold_db: float, temperature_db: float, grad_temperature_db: float = 0.0,
                     grad_mix=1.0):
    """Frame energies in dBFS (TF, any shape) -> soft VAD of the same shape: the sigmoid of :func:`soft_vad`, with
    its surrogate gradient (``grad_temperature_db``, ``grad_mix``) as documented there."""
    import tensorflow as tf

    threshold = float(threshold_db)
    sharp = tf.sigmoid((db - threshold) / float(temperature_db))
    if not grad_temperature_db:
        return sharp
    broad = tf.sigmoid((db - threshold) / float(grad_temperature_db))
    mix = tf.cast(grad_mix, tf.float32)
    # value: sharp; gradient: mix * broad' + (1 - mix) * sharp'
    return (tf.stop_gradient(sharp) + mix * (broad - tf.stop_gradient(broad))
            + (1.0 - mix) * (sharp - tf.stop_gradient(sharp)))


def surrogate_mix(cfg, step):
    """Weight of the surrogate gradient at generator step ``step`` (int or scalar tensor): 1 up to
    ``cfg.vad_grad_anneal_start``, then linear to 0 over ``cfg.vad_grad_anneal_steps`` steps, 0 after; always 1
    when ``vad_grad_anneal_steps`` is 0 (a constant surrogate). The broad gradient lets a generator stuck with
    loud overlapping speakers (where the sharp sigmoid's gradient vanishes) find its way out early; the sharp
    one afterwards fits the VAD the evaluation counts."""
    import tensorflow as tf

    if not cfg.vad_grad_anneal_steps:
        return tf.constant(1.0)
    progress = (tf.cast(step, tf.float32) - float(cfg.vad_grad_anneal_start)) / float(cfg.vad_grad_anneal_steps)
    return 1.0 - tf.clip_by_value(progress, 0.0, 1.0)


def model_soft_vad(audio, cfg, step=0):
    """:func:`soft_vad` of ``audio`` ``[B, T, C]`` with a Config's sample rate, frame rate and VAD fields, at
    generator step ``step`` (only the surrogate gradient's annealing reads it: :func:`surrogate_mix`)."""
    return soft_vad(audio, cfg.sample_rate, frame_hz=cfg.frame_hz, threshold_db=cfg.vad_threshold_db,
                    temperature_db=cfg.vad_temperature_db, grad_temperature_db=cfg.vad_grad_temperature_db,
                    grad_mix=surrogate_mix(cfg, step))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) frame indices of the True runs of a 1-D bool array."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def channel_threshold_db(energy_db: np.ndarray, noise_percentile: float = NOISE_PERCENTILE,
                         level_percentile: float = LEVEL_PERCENTILE, snr_margin_db: float = SNR_MARGIN_DB,
                         speech_range_db: float = SPEECH_RANGE_DB,
                         min_speech_db: float = MIN_SPEECH_DB) -> float | None:
    """The hard-VAD threshold (dBFS) for one channel's frame energies ``[frames]``; None when it has no speech.

    floor = ``noise_percentile`` of the energies; candidates = frames above ``max(floor + snr_margin_db,
    min_speech_db)`` (none on silence or steady noise -> None); level = ``level_percentile`` of the candidates;
    threshold = ``max(floor + snr_margin_db, level - speech_range_db, min_speech_db)``.
    """
    found = _level_and_threshold(energy_db, noise_percentile, level_percentile, snr_margin_db, speech_range_db,
                                 min_speech_db)
    return None if found is None else found[1]


def _level_and_threshold(energy_db, noise_percentile, level_percentile, snr_margin_db, speech_range_db,
                         min_speech_db) -> tuple[float, float] | None:
    """``(speech level, threshold)`` in dBFS for one channel, or None (see channel_threshold_db)."""
    e = np.asarray(energy_db, dtype=np.float64)
    if e.size == 0:
        return None
    floor = float(np.percentile(e, noise_percentile))
    gate = max(floor + snr_margin_db, min_speech_db)
    candidates = e[e > gate]
    if candidates.size == 0:
        return None
    level = float(np.percentile(candidates, level_percentile))
    return level, max(gate, level - speech_range_db)


def hard_vad(audio: np.ndarray, sample_rate: int, frame_hz: int = FRAME_HZ, **kw) -> np.ndarray:
    """Energy VAD with a per-channel adaptive threshold: ``[T, C]`` -> bool ``[frames, C]`` (``[T]`` -> ``[frames]``).

    :func:`hard_vad_from_energy` of :func:`frame_energy_db`; ``kw`` are its thresholds and durations.
    """
    return hard_vad_from_energy(frame_energy_db(audio, sample_rate, frame_hz), frame_hz, **kw)


def hard_vad_from_energy(energy: np.ndarray, frame_hz: int = FRAME_HZ, *,
                         noise_percentile: float = NOISE_PERCENTILE, level_percentile: float = LEVEL_PERCENTILE,
                         snr_margin_db: float = SNR_MARGIN_DB, speech_range_db: float = SPEECH_RANGE_DB,
                         min_speech_db: float = MIN_SPEECH_DB, min_speech_s: float = MIN_SPEECH_S,
                         min_isolated_s: float = MIN_ISOLATED_S, isolation_s: float = ISOLATION_S,
                         hangover_s: float = HANGOVER_S, dialogue_range_db: float | None = None) -> np.ndarray:
    """The hard VAD of frame energies (dBFS, :func:`frame_energy_db`): ``[frames, C]`` -> bool ``[frames, C]``
    (``[frames]`` -> ``[frames]``).

    Per channel: threshold from :func:`channel_threshold_db` (noise floor + margin, speech level - range,
    absolute minimum); frames above it are speech; runs shorter than ``min_speech_s`` are dropped, and so are
    isolated bursts (runs grouped when closer than ``isolation_s``; groups spanning less than
    ``min_isolated_s``); each remaining run is extended by ``hangover_s``. All-silent and noise-only channels
    give all False.

    ``dialogue_range_db`` (off by default): when set, no channel's threshold is lower than the loudest
    channel's speech level minus this, so a channel holding only faint sound (crosstalk, generator hiss) next to
    a loud speaker yields no speech. Channels are then no longer independent of each other's gain.
    """
    energy = np.asarray(energy)
    squeeze = energy.ndim == 1
    if squeeze:
        energy = energy[:, None]
    frames, channels = energy.shape
    min_run = int(round(min_speech_s * frame_hz))
    min_group = int(round(min_isolated_s * frame_hz))
    isolation = int(round(isolation_s * frame_hz))
    hang = int(round(hangover_s * frame_hz))
    out = np.zeros((frames, channels), dtype=bool)
    found = [_level_and_threshold(energy[:, c], noise_percentile, level_percentile, snr_margin_db,
                                  speech_range_db, min_speech_db) for c in range(channels)]
    levels = [f[0] for f in found if f is not None]
    for c in range(channels):
        if found[c] is None:
            continue
        thr = found[c][1]
        if dialogue_range_db is not None:
            thr = max(thr, max(levels) - dialogue_range_db)
        starts, ends = _runs(energy[:, c] > thr)
        keep = (ends - starts) >= min_run
        starts, ends = starts[keep], ends[keep]
        if len(starts) == 0:
            continue
        # groups of runs separated by less than isolation_s; a group spanning less than min_isolated_s is a click
        new_group = np.concatenate([[True], starts[1:] - ends[:-1] >= isolation])
        group = np.cumsum(new_group) - 1
        g_start = starts[new_group]
        g_end = np.maximum.reduceat(ends, np.flatnonzero(new_group))
        keep = (g_end - g_start)[group] >= min_group
        for s, e in zip(starts[keep], ends[keep]):
            out[s:min(frames, e + hang), c] = True
    return out[:, 0] if squeeze else out

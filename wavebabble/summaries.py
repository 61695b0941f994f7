"""TensorBoard listening panels for a training run (written with `tf.summary` to the default writer).

    panels = ListeningPanels(cfg, real_clips)            # real_clips: np.float32 [N, slice_len, 2]
    with writer.as_default():
        write_scalars({"loss/d_total": 1.2, ...}, step)  # any scalars
        panels.write(step, generated)                    # generated: np.float32 [M, slice_len, 2]

Tags written by `ListeningPanels.write` (all at the given step):
    audio/generated        the first `num_audio_clips` generated stereo clips (fixed latents: one clip evolves)
    audio/real             the first `num_audio_clips` real clips (first call of the process only; they never change)
    vad/generated          VAD strips of the same generated clips: speaker A's soft-VAD envelope drawn upward
    vad/real               (blue), speaker B's downward (orange) from a midline; overlap shows as both at once
    timing/table           text table: timing statistics (timing.timing_stats on hard_vad) of every generated
                           clip vs the real clips, plus their distances
    timing/<key>           scalars: timing_distance entries (mean_relative_error, fto/ipu/pause Wasserstein)
    timing/fto_s/{generated,real}, timing/ipu_s/{generated,real}   histograms of FTO and IPU durations (s)
    sound/<key>            scalars: sound_measures.sound_summary of the same clips vs the real clips (log-mel FD and
                           its floor, two-sample classifier accuracy and its floor, syllable-rate modulation); the
                           voiced fraction (pyin, slow) is left to the report
    sound/spectrogram_generated, sound/spectrogram_real   spectrogram of the first clip, channel A above B

Audio is written at `cfg.sample_rate`; `tf.summary.audio` takes [k, time, channels].
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from wavebabble import quality, sound_measures, timing, vad
from wavebabble.config import Config

STRIP_HALF_HEIGHT = 48          # pixels per speaker (A above the midline, B below)
MIN_STRIP_WIDTH = 600           # frames are repeated horizontally until the strip is at least this wide
BACKGROUND_RGB = (255, 255, 255)
MIDLINE_RGB = (160, 160, 160)
SPEAKER_A_RGB = (31, 119, 180)  # matplotlib's default blue
SPEAKER_B_RGB = (255, 127, 14)  # matplotlib's default orange
SECOND_TICK_RGB = (210, 210, 210)
SECOND_TICK_PIXELS = 4          # length of the one-second tick marks on the midline
DEFAULT_AUDIO_CLIPS = 4
CODE_BLOCK_INDENT = "    "      # markdown code block: TensorBoard's text plugin keeps the table aligned
HISTOGRAM_BUCKETS = 30
SPECTROGRAM_RANGE_DB = 70.0     # colour range below the image's loudest bin
SPECTROGRAM_MIN_WIDTH = 600     # frames are repeated horizontally until the image is at least this wide
CHANNEL_GAP_PIXELS = 3          # grey rows between channel A (top) and channel B
# magma-like colour ramp, dark (quiet) to bright (loud); linear between anchors
COLOUR_RAMP = np.array([(0, 0, 4), (81, 18, 124), (183, 55, 121), (252, 137, 97), (252, 253, 191)], np.float32)


def vad_strip(envelope: np.ndarray, frame_hz: int = vad.FRAME_HZ, half_height: int = STRIP_HALF_HEIGHT,
              min_width: int = MIN_STRIP_WIDTH) -> np.ndarray:
    """Draw a two-speaker VAD envelope as an image.

    envelope: [frames, 2] in [0, 1] (soft VAD or 0/1 hard VAD). -> np.uint8 [2 * half_height + 1, W, 3]:
    speaker A filled upward from the midline, B downward, each column's height proportional to the envelope,
    grey tick marks every second on the midline. W = frames * repeat, repeat = ceil(min_width / frames).
    """
    env = np.clip(np.nan_to_num(np.asarray(envelope, np.float32)), 0.0, 1.0)
    if env.ndim != 2 or env.shape[1] != 2:
        raise ValueError(f"vad_strip: envelope must be [frames, 2], got {env.shape}")
    frames = max(env.shape[0], 1)
    repeat = max(1, -(-min_width // frames))
    env = np.repeat(env, repeat, axis=0)
    width = env.shape[0]
    height = 2 * half_height + 1
    img = np.empty([height, width, 3], np.uint8)
    img[:] = BACKGROUND_RGB
    rows = np.arange(half_height)[:, None]                               # distance from the midline - 1
    a_len = np.round(env[:, 0] * half_height)[None, :]
    b_len = np.round(env[:, 1] * half_height)[None, :]
    a_mask = rows < a_len                                                 # [half_height, width]
    b_mask = rows < b_len
    top = img[:half_height][::-1]                                         # row 0 = just above the midline
    top[a_mask] = SPEAKER_A_RGB
    img[half_height + 1:][b_mask] = SPEAKER_B_RGB
    img[half_height] = MIDLINE_RGB
    for x in range(0, width, frame_hz * repeat):
        img[half_height - SECOND_TICK_PIXELS:half_height + SECOND_TICK_PIXELS + 1, x] = SECOND_TICK_RGB
    return img


def spectrogram_image(audio: np.ndarray, sample_rate: int, frame_hz: int = vad.FRAME_HZ,
                      min_width: int = SPECTROGRAM_MIN_WIDTH) -> np.ndarray:
    """Spectrogram of a stereo clip ``[T, 2]`` as an image: np.uint8 ``[2 * bins + gap, W, 3]``.

    Channel A on top, B below, low frequencies at the bottom of each; dB (wavebabble.quality's STFT on the VAD
    frame grid) mapped to ``COLOUR_RAMP`` over the ``SPECTROGRAM_RANGE_DB`` below the loudest bin; frames repeated
    horizontally to at least `min_width` pixels.
    """
    db = quality.to_db(quality.power_spectrogram(np.asarray(audio, np.float32), sample_rate, frame_hz))
    level = np.clip((db - (db.max() - SPECTROGRAM_RANGE_DB)) / SPECTROGRAM_RANGE_DB, 0.0, 1.0)  # [frames, C, bins]
    pos = level * (len(COLOUR_RAMP) - 1)
    lo = np.minimum(pos.astype(np.int64), len(COLOUR_RAMP) - 2)
    frac = (pos - lo)[..., None]
    rgb = COLOUR_RAMP[lo] * (1 - frac) + COLOUR_RAMP[lo + 1] * frac                      # [frames, C, bins, 3]
    repeat = max(1, -(-min_width // max(db.shape[0], 1)))
    rgb = np.repeat(rgb, repeat, axis=0)
    gap = np.full((CHANNEL_GAP_PIXELS, rgb.shape[0], 3), MIDLINE_RGB, np.float32)
    parts = []
    for c in range(rgb.shape[1]):
        parts += ([gap] if parts else []) + [rgb[:, c, ::-1].transpose(1, 0, 2)]          # high frequencies on top
    return np.round(np.concatenate(parts, axis=0)).astype(np.uint8)


def write_scalars(scalars: dict, step: int) -> None:
    """Each {tag: number} as a scalar summary at `step` (non-numbers and None are skipped)."""
    for tag, value in scalars.items():
        if value is None:
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            continue
        tf.summary.scalar(tag, value, step=step)


def _hard_vads(clips: np.ndarray, cfg: Config) -> list:
    return [vad.hard_vad(np.asarray(c), cfg.sample_rate, frame_hz=cfg.frame_hz) for c in clips]


def _soft_vad_np(clips: np.ndarray, cfg: Config) -> np.ndarray:
    return vad.model_soft_vad(tf.convert_to_tensor(clips, tf.float32), cfg).numpy()


def _histogram(tag: str, values, step: int) -> None:
    values = np.asarray(values, np.float64).ravel()
    if values.size:
        tf.summary.histogram(tag, values, step=step, buckets=HISTOGRAM_BUCKETS)


class ListeningPanels:
    """Audio, VAD strips, timing table and histograms of generated vs real clips (see module docstring).

    cfg: the run's Config. real_clips: np.float32 [N, slice_len, 2], N >= 1 (the reference for the timing
    statistics; the first `num_audio_clips` are also written as audio and VAD strips).
    """

    def __init__(self, cfg: Config, real_clips: np.ndarray, num_audio_clips: int = DEFAULT_AUDIO_CLIPS):
        self.cfg = cfg
        self.real = np.asarray(real_clips, np.float32)
        if self.real.ndim != 3 or self.real.shape[0] < 1:
            raise ValueError(f"ListeningPanels: real_clips must be [N >= 1, time, channels], got {self.real.shape}")
        self.num_audio_clips = int(num_audio_clips)
        real_vads = _hard_vads(self.real, cfg)
        self.real_stats = timing.timing_stats(real_vads, frame_hz=cfg.frame_hz)
        self._real_written = False
        self._real_spectrogram_written = False
        # the real clips' log-mel and VAD for the sound measures, once (write_sound runs at every summary)
        self._real_sound_inputs = {
            "ref_feats": [quality.logmel(c, cfg.sample_rate, cfg.frame_hz) for c in self.real],
            "ref_vads": real_vads}

    def write(self, step: int, generated: np.ndarray) -> dict:
        """Write every panel at `step` for `generated` np.float32 [M, slice_len, 2]; -> timing distance dict."""
        cfg, k = self.cfg, self.num_audio_clips
        generated = np.asarray(generated, np.float32)
        if k > 0:
            gen_k = generated[:k]
            tf.summary.audio("audio/generated", gen_k, cfg.sample_rate, step=step, max_outputs=k)
            strips = np.stack([vad_strip(e, cfg.frame_hz) for e in _soft_vad_np(gen_k, cfg)])
            tf.summary.image("vad/generated", strips, step=step, max_outputs=k)
            if not self._real_written:
                real_k = self.real[:k]
                tf.summary.audio("audio/real", real_k, cfg.sample_rate, step=step, max_outputs=k)
                strips = np.stack([vad_strip(e, cfg.frame_hz) for e in _soft_vad_np(real_k, cfg)])
                tf.summary.image("vad/real", strips, step=step, max_outputs=k)
                self._real_written = True

        gen_vads = _hard_vads(generated, cfg)
        gen_stats = timing.timing_stats(gen_vads, frame_hz=cfg.frame_hz)
        distance = timing.timing_distance(gen_stats, self.real_stats)
        table = timing.stats_table({"generated": gen_stats, "real": self.real_stats}, distance)
        text = "\n".join(CODE_BLOCK_INDENT + line for line in table.splitlines())
        tf.summary.text("timing/table", text, step=step)
        write_scalars({f"timing/{key}": v for key, v in distance.items() if not isinstance(v, dict)}, step)
        for name in ("fto_s", "ipu_s"):
            _histogram(f"timing/{name}/generated", getattr(gen_stats, name), step)
            _histogram(f"timing/{name}/real", getattr(self.real_stats, name), step)
        self.write_sound(step, generated, gen_vads)
        return distance

    def write_sound(self, step: int, generated: np.ndarray, gen_vads: list | None = None) -> dict:
        """The sound scalars and spectrograms of `generated` [M, slice_len, 2] (hard VADs `gen_vads` when already
        computed) vs the real clips -> the scalars."""
        cfg = self.cfg
        measures = sound_measures.sound_measures(list(generated), list(self.real), cfg.sample_rate,
                                                 np.random.default_rng(step), cfg.frame_hz, voicing_seconds=0,
                                                 gen_vads=gen_vads, **self._real_sound_inputs)
        scalars = sound_measures.sound_summary(measures)
        write_scalars({f"sound/{k}": v for k, v in scalars.items()}, step)
        tf.summary.image("sound/spectrogram_generated",
                         spectrogram_image(generated[0], cfg.sample_rate, cfg.frame_hz)[None], step=step)
        if not self._real_spectrogram_written:
            tf.summary.image("sound/spectrogram_real",
                             spectrogram_image(self.real[0], cfg.sample_rate, cfg.frame_hz)[None], step=step)
            self._real_spectrogram_written = True
        return scalars

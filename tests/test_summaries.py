"""TensorBoard listening panels (wavebabble/summaries.py): VAD strip drawing and the tags a write produces."""
import glob

import numpy as np
import pytest
import tensorflow as tf

from wavebabble import data, summaries
from wavebabble.config import get_config

import train_helpers


def test_vad_strip_draws_speaker_a_up_and_b_down():
    env = np.zeros([100, 2], np.float32)
    env[:50, 0] = 1.0          # A speaks in the first half
    env[50:, 1] = 0.5          # B at half level in the second half
    img = summaries.vad_strip(env, frame_hz=100, half_height=10, min_width=300)
    assert img.shape == (21, 300, 3) and img.dtype == np.uint8
    a = np.all(img == summaries.SPEAKER_A_RGB, axis=-1)[:, 1:]      # column 0 carries the 0 s tick mark
    b = np.all(img == summaries.SPEAKER_B_RGB, axis=-1)[:, 1:]
    assert a[:10, :149].sum() == 10 * 149 and a[:, 149:].sum() == 0 and a[11:].sum() == 0
    assert b[11:, 149:].sum() == 5 * 150 and b[:, :149].sum() == 0 and b[:10].sum() == 0
    assert b[11:16, 149:].all() and not b[16:].any()                   # half level: the 5 rows nearest the midline


def test_vad_strip_rejects_wrong_shape():
    with pytest.raises(ValueError, match="frames, 2"):
        summaries.vad_strip(np.zeros([10, 3]))


def test_spectrogram_image_puts_channel_a_on_top_and_high_frequencies_up():
    sr = 8000
    t = np.arange(sr) / sr
    clip = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), np.zeros_like(t)], axis=1).astype(np.float32)
    img = summaries.spectrogram_image(clip, sr, frame_hz=100, min_width=100)
    bins = 256 // 2 + 1
    assert img.shape == (2 * bins + summaries.CHANNEL_GAP_PIXELS, 100, 3) and img.dtype == np.uint8
    brightness = img.astype(int).sum(axis=-1)[:, 50]
    top, bottom = brightness[:bins], brightness[bins + summaries.CHANNEL_GAP_PIXELS:]
    assert int(top.argmax()) == bins - 1 - round(1000 / (sr / 256))            # 1 kHz row, counted from the top
    assert bottom.max() < top.max() and bottom.max() == bottom.min()           # channel B: silence, one colour


def _tags(logdir):
    found = {}
    for f in glob.glob(f"{logdir}/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(f):
            for v in event.summary.value:
                found.setdefault(v.tag, set()).add(event.step)
    return found


def test_panels_write_every_tag(tmp_path):
    folder = train_helpers.write_dialogues(tmp_path / "data")
    cfg = get_config("demo", slice_len=16384)
    real = data.load_clips(folder, sample_rate=cfg.sample_rate, slice_len=cfg.slice_len, num_clips=3,
                           cache_dir=tmp_path / "cache")
    panels = summaries.ListeningPanels(cfg, real, num_audio_clips=2)
    writer = tf.summary.create_file_writer(str(tmp_path / "logs"))
    with writer.as_default():
        summaries.write_scalars({"loss/x": 1.0, "skip": None, "skip2": "text"}, step=1)
        d1 = panels.write(1, real[::-1].copy())          # "generated" = real clips: same statistics
        panels.write(2, np.zeros_like(real))             # silence: no events, histograms skipped
    writer.flush()
    tags = _tags(tmp_path / "logs")
    for tag in ("loss/x", "audio/generated", "audio/real", "vad/generated", "vad/real", "timing/table",
                "timing/mean_relative_error", "timing/fto_s/real", "timing/ipu_s/real", "timing/ipu_s/generated",
                "timing/timing_score", "sound/logmel_fd", "sound/logmel_fd_floor",
                "sound/spectrogram_generated", "sound/spectrogram_real"):
        assert tag in tags, (tag, sorted(tags))
    assert tags["audio/generated"] == {1, 2} and tags["audio/real"] == {1}     # real clips written once
    assert tags["sound/spectrogram_generated"] == {1, 2} and tags["sound/spectrogram_real"] == {1}
    assert "skip" not in tags and "skip2" not in tags
    assert d1["mean_relative_error"] == pytest.approx(0.0, abs=1e-6)

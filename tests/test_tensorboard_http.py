"""The training job's TensorBoard panels, read back through TensorBoard's own HTTP API on 127.0.0.1."""
import io
import json
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import pytest

import train_helpers
from train.train import TrainOptions, train
from wavebabble.config import get_config

TB_START_TIMEOUT_S = 90
POLL_S = 0.5


def _get(port, route):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{route}", timeout=10) as r:
        return r.read()


def _wait_for_tags(port, plugin, wanted, deadline):
    """Poll /data/plugin/<plugin>/tags until every wanted tag shows up (TensorBoard loads events lazily)."""
    last = None
    while time.time() < deadline:
        try:
            last = json.loads(_get(port, f"/data/plugin/{plugin}/tags"))
            tags = last.get(".", {})
            if all(t in tags for t in wanted):
                return tags
        except OSError:
            pass
        time.sleep(POLL_S)
    raise AssertionError(f"TensorBoard did not serve {plugin} tags {wanted} in time; last answer {last}")


@pytest.mark.slow
def test_tensorboard_serves_listening_panels(tmp_path):
    folder = train_helpers.write_dialogues(tmp_path / "data")
    cfg = get_config("demo", **train_helpers.TINY, train_steps=2)
    logdir = tmp_path / "run"
    status = train(cfg, TrainOptions(logdir=str(logdir), data_dir=str(folder), strategy="one_device",
                                     log_every=1, summary_every=1, save_every=2, num_summary_clips=2,
                                     num_timing_clips=2, export=False))
    assert status == 0
    t_trained = time.time()

    port = train_helpers.free_port()
    tb = subprocess.Popen([str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(logdir),
                           "--host", "127.0.0.1", "--port", str(port), "--reload_interval", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + TB_START_TIMEOUT_S
        audio = _wait_for_tags(port, "audio", ["audio/generated", "audio/real"], deadline)
        print(f"TensorBoard served the audio tags {time.time() - t_trained:.1f} s after training")
        images = _wait_for_tags(port, "images", ["vad/generated", "vad/real"], deadline)
        scalars = _wait_for_tags(port, "scalars", ["loss/d_total", "loss/g_total", "lr/g", "lr/d",
                                                   "perf/step_time_s", "perf/clips_per_s"], deadline)
        text = json.loads(_get(port, "/data/plugin/text/tags"))["."]
        hists = json.loads(_get(port, "/data/plugin/histograms/tags"))["."]
        assert audio["audio/generated"]["samples"] == 2 and images["vad/real"]["samples"] == 2
        assert "loss/d_wave" in scalars and "loss/g_timing" in scalars
        assert "timing/table" in text and "timing/ipu_s/real" in hists

        # one generated clip back as WAV: stereo at the data's sample rate, one entry per summary step
        entries = json.loads(_get(port, "/data/plugin/audio/audio?run=.&tag=audio/generated&sample=0"))
        assert sorted(e["step"] for e in entries) == [1, 2]
        with wave.open(io.BytesIO(_get(port, "/data/plugin/audio/individualAudio?" + entries[-1]["query"]))) as w:
            assert w.getnchannels() == 2 and w.getframerate() == cfg.sample_rate
            assert w.getnframes() == cfg.slice_len
        shots = json.loads(_get(port, "/data/plugin/images/images?run=.&tag=vad/generated&sample=0"))
        png = _get(port, "/data/plugin/images/individualImage?" + shots[-1]["query"])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        tb.kill()
        tb.wait(timeout=30)

"""File-system faults: a read-only folder or a full disk gives one line naming the path and the problem, a
non-zero exit without a traceback, and no partial file left behind (tests/faults.py mounts the faults)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import train_helpers
from faults import fill, one_error_line
from wavebabble.audio import write_wav
from wavebabble.errors import WavebabbleError

REPO = Path(__file__).resolve().parents[1]
SR = 8000
NO_SPACE = "No space left on device"
READ_ONLY = "Read-only file system"
BIG_WAV_SECONDS = 4.0            # 4 s of 8 kHz 16-bit stereo = 128 kB: more than a 64 kB tmpfs holds
GEN_FS_BYTES = 200 * 1024        # room for a few 64 kB generated clips, not for eight
CKPT_FS_BYTES = 8 * 1024 * 1024  # room for the tiny run's first checkpoint
VAD_JSON = {"duration": 4.0, "vad": [[[0.2, 1.0]], [[1.3, 3.0]]]}


def _run(module, *args, env_extra=None, timeout=300):
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True,
                          env=train_helpers.env(**(env_extra or {})), timeout=timeout)


def test_write_wav_on_a_full_disk_leaves_no_partial_file(small_fs):
    folder = small_fs()
    audio = np.zeros((int(BIG_WAV_SECONDS * SR), 2), np.float32)
    with pytest.raises(WavebabbleError, match=NO_SPACE) as info:
        write_wav(folder / "big.wav", audio, SR)
    assert str(folder / "big.wav") in str(info.value)
    assert not (folder / "big.wav").exists()


def test_default_corpus_in_a_read_only_cache(readonly_dir):
    from wavebabble.corpus.default import default_corpus_dir

    with pytest.raises(WavebabbleError, match=READ_ONLY) as info:
        default_corpus_dir(cache_dir=readonly_dir, progress=False)
    assert str(readonly_dir) in str(info.value)


def test_eval_timing_json_on_a_read_only_path(readonly_dir, tmp_path):
    annotations = tmp_path / "vad.json"
    annotations.write_text(json.dumps(VAD_JSON))
    out = readonly_dir / "timing.json"
    proc = _run("eval.timing", f"--vad_json={annotations}", f"--json={out}")
    assert proc.returncode != 0
    one_error_line(proc.stderr, str(out), READ_ONLY)


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """(export dir, run dir) of a tiny random generator saved as a training run and exported."""
    import tensorflow as tf

    from wavebabble.config import get_config
    from wavebabble.export import export_from_logdir
    from wavebabble.models.generator import build_generator

    cfg = get_config("demo", model_dim=2, slice_len=16384, g_ema_decay=0.0)   # the checkpoint holds G itself
    tf.keras.utils.set_random_seed(0)
    logdir = tmp_path_factory.mktemp("run") / "run"
    logdir.mkdir()
    cfg.to_json(logdir / "config.json")
    tf.train.CheckpointManager(tf.train.Checkpoint(generator=build_generator(cfg)), str(logdir / "ckpt"),
                               max_to_keep=1).save()
    return Path(export_from_logdir(str(logdir))), logdir


def test_export_out_on_a_read_only_path(tiny_export, readonly_dir):
    _, logdir = tiny_export
    out = readonly_dir / "export"
    proc = _run("wavebabble.export", f"--logdir={logdir}", f"--out={out}")
    assert proc.returncode != 0
    one_error_line(proc.stderr, str(readonly_dir), READ_ONLY)
    assert not out.exists()


def test_generate_on_a_full_disk(tiny_export, small_fs, monkeypatch):
    import wavebabble.generate as gen_module

    model, _ = tiny_export
    out = small_fs("generated", GEN_FS_BYTES) / "clips"
    proc = _run("wavebabble.generate", f"--model={model}", f"--out_dir={out}", "--num=8", "--batch=8")
    assert proc.returncode != 0                 # refused up front: eight clips need more than the disk has
    one_error_line(proc.stderr, "--num=8", "GiB free")
    assert not out.exists()
    # the disk fills after the check (another writer): the clips written are whole, the partial one is gone
    monkeypatch.setattr(gen_module, "check_free_space", lambda *args: 0)
    with pytest.raises(WavebabbleError, match=f"{out}.*{NO_SPACE}"):
        gen_module.generate(model, 8, out, batch=8, log=lambda *_: None)
    wavs = sorted(out.glob("*.wav"))
    assert 0 < len(wavs) < 8
    for wav in wavs:
        assert sf.info(str(wav)).frames == 16384


@pytest.mark.slow
def test_train_into_a_read_only_logdir(readonly_dir, tmp_path):
    data = train_helpers.write_dialogues(tmp_path / "data", num_files=2)
    proc = train_helpers.run_train(readonly_dir / "run", data, "--train_steps=1")
    assert proc.returncode != 0
    one_error_line(proc.stderr, str(readonly_dir), READ_ONLY)


def test_checkpoint_on_a_full_disk_keeps_the_last_good_one(small_fs, tmp_path):
    import tensorflow as tf

    from wavebabble.config import get_config
    from wavebabble.gan import GAN
    from wavebabble.run_dir import RunCheckpoints

    logdir = small_fs("run", CKPT_FS_BYTES)
    trainer = GAN(get_config("demo", **train_helpers.TINY), tf.distribute.OneDeviceStrategy("/cpu:0"))
    ckpts = RunCheckpoints(trainer, logdir)
    first = ckpts.save()
    fill(logdir)
    trainer.step.assign_add(1)
    with pytest.raises(WavebabbleError, match=NO_SPACE) as info:
        ckpts.save()
    assert str(logdir / "ckpt") in str(info.value)
    (logdir / ".filler").unlink()
    assert ckpts.latest == first
    left = sorted(p.name for p in (logdir / "ckpt").iterdir())
    assert not [name for name in left if "_temp" in name or ".tmp" in name], left


# ---------------------------------------------------------------------------------------------- after a kill -9
CHECKPOINT_STATE_TMP = "checkpoint.tmp" + "0123456789abcdef" * 2     # tf.io's atomic write: checkpoint.tmp<uuid>


def test_partial_checkpoint_files_of_a_killed_save_are_removed_at_start(tmp_path, capsys):
    import tensorflow as tf

    from wavebabble.config import get_config
    from wavebabble.gan import GAN
    from wavebabble.run_dir import RunCheckpoints

    ckpt = tmp_path / "run" / "ckpt"
    (ckpt / "ckpt-7_temp").mkdir(parents=True)
    (ckpt / "ckpt-7_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 1024)
    (ckpt / CHECKPOINT_STATE_TMP).write_text("model_checkpoint_path: 'ckpt-7'\n")
    mine = ["ckpt-7_temp.notes", "checkpoint.tmp", "my_ckpt-7_temp"]
    for name in mine:
        (ckpt / name).write_text("the user's")
    trainer = GAN(get_config("demo", **train_helpers.TINY), tf.distribute.OneDeviceStrategy("/cpu:0"))
    ckpts = RunCheckpoints(trainer, tmp_path / "run")
    assert sorted(ckpts.removed_partial) == sorted([CHECKPOINT_STATE_TMP, "ckpt-7_temp"])
    assert sorted(p.name for p in ckpt.iterdir()) == sorted(mine)


def test_an_export_killed_while_staging_is_cleaned_at_the_next_export(tiny_export, tmp_path, capfd):
    from wavebabble.export import export_from_logdir

    _, logdir = tiny_export
    staged = tmp_path / ".export.tmp-ab1_cd2e"          # tempfile.mkdtemp's 8 random characters
    (staged / "model" / "variables").mkdir(parents=True)
    (staged / "model" / "saved_model.pb").write_bytes(b"half")
    mine = tmp_path / ".export.tmp-notes.txt"
    mine.write_text("the user's")
    export_from_logdir(str(logdir), str(tmp_path / "export"))
    assert not staged.exists() and mine.read_text() == "the user's"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["export", mine.name])
    assert staged.name in capfd.readouterr().err


@pytest.mark.slow
def test_a_run_that_fails_on_its_data_leaves_no_config(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    logdir = tmp_path / "run"
    proc = train_helpers.run_train(logdir, empty, "--train_steps=1")
    assert proc.returncode != 0
    one_error_line(proc.stderr, str(empty))
    assert not (logdir / "config.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("with_data", [True, False], ids=["audio_cache", "default_corpus"])
def test_train_with_a_read_only_cache(readonly_dir, tmp_path, with_data):
    data = train_helpers.write_dialogues(tmp_path / "data", num_files=2) if with_data else ""
    proc = train_helpers.run_train(tmp_path / "run", data, "--train_steps=1", WAVEBABBLE_CACHE=readonly_dir)
    assert proc.returncode != 0
    line = one_error_line(proc.stderr, str(readonly_dir), READ_ONLY)
    assert "WAVEBABBLE_CACHE" in line


TINY_RUN_FS_BYTES = 1700 * 1024   # the tiny run's config, events and one ~1.36 MB checkpoint fit; a second does not


@pytest.mark.slow
def test_train_on_a_disk_that_fills_keeps_the_last_good_checkpoint(small_fs, tmp_path):
    data = train_helpers.write_dialogues(tmp_path / "data", num_files=2)
    logdir = small_fs("run", TINY_RUN_FS_BYTES)
    proc = train_helpers.run_train(logdir, data, "--train_steps=3", "--save_every=1")
    assert proc.returncode != 0
    line = one_error_line(proc.stderr, str(logdir / "ckpt"), NO_SPACE)
    assert f"Last good checkpoint: {logdir / 'ckpt' / 'ckpt-1'}" in line
    assert sorted(p.name for p in (logdir / "ckpt").iterdir()) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]

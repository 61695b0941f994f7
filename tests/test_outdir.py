"""Output-folder policy shared by every CLI that writes a folder."""
import pytest

from wavebabble.errors import ConfigError
from wavebabble.outdir import check_out_dir, prepare_out_dir


def test_new_and_empty_folders_are_fine(tmp_path):
    assert prepare_out_dir(tmp_path / "new", False, "--out", "x").is_dir()
    assert check_out_dir(tmp_path / "new", False, "--out", "x") is False


def test_non_empty_refused_without_overwrite(tmp_path):
    (tmp_path / "mine.txt").write_text("user file")
    with pytest.raises(ConfigError, match=r"--out_dir=.*not empty.*mine.txt.*--overwrite"):
        prepare_out_dir(tmp_path, False, "--out_dir", "clips")


def test_overwrite_removes_only_owned_files(tmp_path):
    (tmp_path / "mine.txt").write_text("user file")
    (tmp_path / "clip_0001.wav").write_bytes(b"old")
    prepare_out_dir(tmp_path, True, "--out_dir", "clips", owned=("clip_*.wav",))
    assert (tmp_path / "mine.txt").read_text() == "user file"
    assert not (tmp_path / "clip_0001.wav").exists()


def test_file_in_the_way(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="not a folder"):
        check_out_dir(tmp_path / "f", True, "--out", "x")

"""Output-folder policy shared by every CLI that writes a folder."""
import hashlib
import json
import tempfile
from pathlib import Path

import pytest

from wavebabble.errors import ConfigError
from wavebabble.outdir import RECORD_NAME, check_out_dir, open_out_dir, prepare_out_dir


def test_new_and_empty_folders_are_fine(tmp_path):
    assert prepare_out_dir(tmp_path / "new", False, "--out", "x", tool="generate", writes=()).path.is_dir()
    assert check_out_dir(tmp_path / "new", False, "--out", "x") is False


def test_non_empty_refused_without_overwrite(tmp_path):
    (tmp_path / "mine.txt").write_text("user file")
    with pytest.raises(ConfigError, match=r"--out_dir=.*not empty.*mine.txt.*--overwrite"):
        prepare_out_dir(tmp_path, False, "--out_dir", "clips", tool="generate", writes=())


def test_file_in_the_way(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="not a folder"):
        check_out_dir(tmp_path / "f", True, "--out", "x")


# --------------------------------------------------------------------------- the record of a tool's own outputs
def _run(folder, tool, names, overwrite=True, content=b"written by the tool", log=None):
    """One tool run through prepare_out_dir that writes `names`; -> the log lines."""
    lines = []
    with prepare_out_dir(folder, overwrite, "--out_dir", "its outputs", tool=tool, writes=names,
                         log=log or lines.append):
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(content)
    return lines


def test_overwrite_refuses_a_users_file_with_a_name_the_tool_writes(tmp_path):
    """A copy of a corpus: its own manifest.jsonl and clip_interview_mom.wav were never written by generate."""
    (tmp_path / "manifest.jsonl").write_text("ground truth")
    (tmp_path / "clip_interview_mom.wav").write_bytes(b"mom")
    with pytest.raises(ConfigError, match=r"--out_dir=.*manifest\.jsonl.*not written by generate"):
        _run(tmp_path, "generate", ["clip_0000.wav", "manifest.jsonl"])
    assert (tmp_path / "manifest.jsonl").read_text() == "ground truth"
    assert (tmp_path / "clip_interview_mom.wav").read_bytes() == b"mom"
    assert not (tmp_path / "clip_0000.wav").exists() and not (tmp_path / RECORD_NAME).exists()


def test_overwrite_removes_only_recorded_outputs_and_says_which(tmp_path):
    _run(tmp_path, "generate", ["clip_0000.wav", "clip_0001.wav", "manifest.jsonl"], overwrite=False)
    (tmp_path / "clip_interview_mom.wav").write_bytes(b"mom")       # matches clip_*.wav, but the user's
    lines = _run(tmp_path, "generate", ["clip_0000.wav", "manifest.jsonl"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [RECORD_NAME, "clip_0000.wav", "clip_interview_mom.wav",
                                                           "manifest.jsonl"]
    assert (tmp_path / "clip_interview_mom.wav").read_bytes() == b"mom"
    said = "\n".join(lines)
    assert "removed 3 files" in said and "clip_0001.wav" in said and "clip_interview_mom" not in said
    assert json.loads((tmp_path / RECORD_NAME).read_text())["outputs"]["generate"].keys() == {
        "clip_0000.wav", "manifest.jsonl"}


def test_a_recorded_output_the_user_replaced_is_kept(tmp_path):
    _run(tmp_path, "generate", ["clip_0000.wav", "clip_0001.wav"], overwrite=False)
    (tmp_path / "clip_0001.wav").write_bytes(b"the user's own take")   # same name, other content
    with pytest.raises(ConfigError, match=r"clip_0001\.wav.*changed since generate wrote it"):
        _run(tmp_path, "generate", ["clip_0000.wav", "clip_0001.wav"])
    assert (tmp_path / "clip_0001.wav").read_bytes() == b"the user's own take"
    lines = _run(tmp_path, "generate", ["clip_0000.wav"])
    assert (tmp_path / "clip_0001.wav").read_bytes() == b"the user's own take"
    assert "removed 1 file " in "\n".join(lines) and "kept 1 file" in "\n".join(lines)


def test_another_tools_outputs_are_not_removed_or_replaced(tmp_path):
    _run(tmp_path, "corpus", ["dialogue_00000.wav", "manifest.jsonl"], overwrite=False, content=b"corpus")
    with pytest.raises(ConfigError, match=r"manifest\.jsonl.*written by corpus"):
        _run(tmp_path, "generate", ["clip_0000.wav", "manifest.jsonl"])
    _run(tmp_path, "generate", ["clip_0000.wav"])
    _run(tmp_path, "generate", ["clip_0001.wav"])
    assert (tmp_path / "manifest.jsonl").read_bytes() == b"corpus"
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["clip_0001.wav", "dialogue_00000.wav"]


def test_outputs_of_a_failed_run_are_recorded(tmp_path):
    with pytest.raises(RuntimeError):
        with prepare_out_dir(tmp_path, False, "--out_dir", "clips", tool="generate",
                             writes=["clip_0000.wav", "clip_0001.wav"]):
            (tmp_path / "clip_0000.wav").write_bytes(b"first clip")
            raise RuntimeError("interrupted")
    _run(tmp_path, "generate", ["clip_0001.wav"])
    assert not (tmp_path / "clip_0000.wav").exists()


def test_a_record_naming_files_outside_the_folder_is_refused(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("x")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / RECORD_NAME).write_text(json.dumps({"format": 1, "outputs": {"generate": {
        "../precious.txt": {"size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}}}}))
    (folder / "clip_0000.wav").write_bytes(b"old")
    with pytest.raises(ConfigError, match=RECORD_NAME):
        _run(folder, "generate", ["clip_0001.wav"])
    assert outside.read_text() == "x"


def test_only_the_record_left_counts_as_empty(tmp_path):
    _run(tmp_path, "generate", ["clip_0000.wav"], overwrite=False)
    (tmp_path / "clip_0000.wav").unlink()
    _run(tmp_path, "generate", ["clip_0000.wav"], overwrite=False)
    assert (tmp_path / "clip_0000.wav").is_file()


def test_install_moves_a_staged_folder_in_and_keeps_the_users_files(tmp_path):
    def staged(files):
        folder = Path(tempfile.mkdtemp(dir=tmp_path))
        for name, data in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        return folder

    out = tmp_path / "export"
    open_out_dir(out, False, "--out", "the export", tool="export").install(
        staged({"model.pb": b"v1", "variables/shard-0": b"a", "variables/shard-1": b"b"}))
    assert (out / "variables" / "shard-1").read_bytes() == b"b" and (out / RECORD_NAME).is_file()
    (out / "MY_NOTES.txt").write_text("x")
    (out / "variables" / "why.txt").write_text("mine")
    lines = []
    open_out_dir(out, True, "--out", "the export", tool="export", log=lines.append).install(
        staged({"model.pb": b"v2", "variables/shard-0": b"c"}))
    assert (out / "model.pb").read_bytes() == b"v2" and (out / "variables" / "shard-0").read_bytes() == b"c"
    assert not (out / "variables" / "shard-1").exists()
    assert (out / "MY_NOTES.txt").read_text() == "x" and (out / "variables" / "why.txt").read_text() == "mine"
    said = "\n".join(lines)
    assert "replaced 2 files" in said and "removed 1 file " in said and "variables/shard-1" in said
    assert [p.name for p in tmp_path.iterdir() if p.name != "export"] == []          # staged folders moved in
    with pytest.raises(ConfigError, match=r"model\.pb \(written by export\)"):
        open_out_dir(out, True, "--out", "the report", tool="report").check_writes(["model.pb"])

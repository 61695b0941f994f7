"""Runtime tuning before TensorFlow loads: oneDNN per use, quiet start-up, the user's own settings kept."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from wavebabble import runtime

REPO = Path(__file__).resolve().parents[1]
TUNED_VARS = ("TF_ENABLE_ONEDNN_OPTS", "TF_CPP_MIN_LOG_LEVEL", runtime.VERBOSE_ENV)


def _bare_env(**extra) -> dict:
    """This process's environment without any variable the runtime sets or reads, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in TUNED_VARS}
    env.update(extra)
    return env


def test_each_use_gets_its_onednn_setting_and_quiet_logs():
    for use, want in runtime.ONEDNN_BY_USE.items():
        add, settings = runtime.environment(use, _bare_env())
        assert add == {"TF_ENABLE_ONEDNN_OPTS": want, "TF_CPP_MIN_LOG_LEVEL": runtime.QUIET_TF_LOG_LEVEL}
        assert settings.onednn == (want == "1")
        assert settings.line().startswith(f"runtime: {use} | oneDNN {'on' if want == '1' else 'off'} | CPU ")
    with pytest.raises(ValueError, match="train"):
        runtime.environment("inference", _bare_env())


def test_the_users_own_settings_win():
    add, settings = runtime.environment("train", _bare_env(TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="0"))
    assert add == {} and settings.onednn is False
    add, _ = runtime.environment("serve", _bare_env(**{runtime.VERBOSE_ENV: "1"}))
    assert "TF_CPP_MIN_LOG_LEVEL" not in add                     # verbose: TensorFlow's own logging
    assert runtime.onednn_setting(_bare_env()) is None           # unset: TensorFlow decides by the CPU


def _run_cli(script_text: str, tmp_path, **env_extra) -> subprocess.CompletedProcess:
    script = tmp_path / "cli.py"
    script.write_text(textwrap.dedent(script_text))
    return subprocess.run([sys.executable, str(script)], env=_bare_env(**{"PYTHONPATH": str(REPO), **env_extra}),
                          capture_output=True, text=True, timeout=300)


CLI = """
    import os
    from absl import app, logging
    from wavebabble import runtime
    s = runtime.tune("train")
    import tensorflow as tf

    def main(argv):
        print("RESULT", os.environ["TF_ENABLE_ONEDNN_OPTS"], tf.__version__ != "", flush=True)
        assert runtime.tune("serve") is s  # later calls: the first call's settings
        logging.info("absl info line")
        tf.get_logger().info("tensorflow info line")
        logging.warning("absl warning line")

    app.run(main)
"""


def test_cli_start_sets_onednn_and_hides_tensorflow_start_up_noise(tmp_path):
    proc = _run_cli(CLI, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RESULT 1 True" in proc.stdout
    lines = proc.stderr.splitlines()
    assert lines[0] == runtime.RuntimeSettings("train", True, runtime.cpu_flags()).line()
    assert len(lines) == 2 and lines[1].endswith("absl warning line"), lines   # no CUDA probing, no info lines


def test_verbose_shows_tensorflow_and_a_failed_import_shows_its_messages(tmp_path):
    proc = _run_cli(CLI, tmp_path, **{runtime.VERBOSE_ENV: "1"})
    assert proc.returncode == 0 and "RESULT 1 True" in proc.stdout
    assert "absl info line" in proc.stderr and "tensorflow info line" in proc.stderr
    broken = tmp_path / "broken"
    (broken / "tensorflow").mkdir(parents=True)
    (broken / "tensorflow" / "__init__.py").write_text(
        "import sys\nsys.stderr.write('explanation from the import\\n')\nraise ImportError('no tensorflow here')\n")
    proc = _run_cli("from wavebabble import runtime\nruntime.tune('serve')\n", tmp_path,
                    PYTHONPATH=f"{broken}{os.pathsep}{REPO}")
    assert proc.returncode != 0
    assert "explanation from the import" in proc.stderr and "no tensorflow here" in proc.stderr


CHECKED_FIRST = """
    import atexit, runpy, sys
    atexit.register(lambda: print("TENSORFLOW_IMPORTED", "tensorflow" in sys.modules))
    sys.argv = ["{module}", *{args!r}]
    runpy.run_module("{module}", run_name="__main__")
"""


@pytest.mark.parametrize("module,args,named", [
    ("train.train", ["--set=loss=l1"], "--set=loss=l1"),
    ("train.train", ["--data_dir=/no/such/folder"], "--data_dir"),
    ("wavebabble.generate", [], "--out_dir"),
    ("eval.ship_model", ["--out=/no/such/folder"], "/no/such/folder"),
    ("eval.select_checkpoint", [], "--logdir"),
    ("eval.select_checkpoint", ["--logdir=/no/such/run"], "/no/such/run"),
    ("eval.ablation_timing", ["--seeds=1,1"], "--seeds"),
])
def test_a_wrong_command_line_is_refused_before_tensorflow_starts(tmp_path, module, args, named):
    """The CLIs check their flags first (tune(start=False)); TensorFlow is imported only for the work."""
    proc = _run_cli(CHECKED_FIRST.format(module=module, args=args), tmp_path)
    assert proc.returncode != 0 and named in proc.stderr, proc.stderr[-2000:]
    assert "TENSORFLOW_IMPORTED False" in proc.stdout


def test_start_tensorflow_imports_it_quietly_once_tuned():
    script = """
        import sys
        from wavebabble import runtime
        runtime.start_tensorflow()                      # not tuned: nothing
        print("UNTUNED", "tensorflow" in sys.modules)
        runtime.tune("train", start=False)
        print("TUNED", "tensorflow" in sys.modules)
        runtime.start_tensorflow()
        print("STARTED", "tensorflow" in sys.modules)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env=_bare_env(PYTHONPATH=str(REPO)),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["UNTUNED", "False", "TUNED", "False", "STARTED", "True"]
    assert proc.stderr.splitlines() == [runtime.RuntimeSettings("train", True, runtime.cpu_flags()).line()]

"""SavedModel export: signatures, fresh-process loading without wavebabble, metadata, bad inputs, overwrite rules."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from wavebabble.config import get_config
from wavebabble.errors import ConfigError, OutputError
from wavebabble.export import ASSET_NAME, BATCH_ATOL, MAX_CLIPS, export_from_logdir, export_generator
from wavebabble.models.generator import build_generator
from wavebabble.outdir import RECORD_NAME

REPO = Path(__file__).resolve().parents[1]
TINY = dict(model_dim=2, slice_len=16384, g_ema_decay=0.0)  # ~0.1 M parameters: exports in seconds; the run
# dirs below save G itself (a run with a moving average would save ema_generator, which export restores)

# Runs in a fresh interpreter (-I: no PYTHONPATH, no cwd on sys.path) with `import wavebabble` blocked, so the
# SavedModel must work with TensorFlow alone. Prints one JSON line of results.
FRESH_SCRIPT = textwrap.dedent("""
    import importlib.abc, json, sys

    class _BlockWavebabble(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "wavebabble" or name.startswith("wavebabble."):
                raise ImportError("wavebabble must not be needed to serve the SavedModel")

    sys.meta_path.insert(0, _BlockWavebabble())
    import numpy as np
    import tensorflow as tf

    m = tf.saved_model.load(sys.argv[1])
    sigs = m.signatures
    meta = {k: (v.numpy().decode() if v.dtype == tf.string else v.numpy().item())
            for k, v in sigs["metadata"]().items()}
    out = {"signatures": sorted(sigs), "metadata": meta,
           "variables": {k: getattr(m, k).numpy().item() for k in ("sample_rate", "slice_len", "latent_dim",
                                                                    "frame_hz", "num_frames", "max_clips")},
           "asset": open(m.config_file.asset_path.numpy().decode()).read()}
    z = tf.random.stateless_uniform([3, meta["latent_dim"]], seed=[1, 2], minval=-1.0, maxval=1.0)
    s = sigs["serving_default"](z=z)
    out["serving"] = {k: [list(v.shape), v.dtype.name, float(tf.reduce_min(v)), float(tf.reduce_max(v))]
                      for k, v in s.items()}
    g = lambda n, seed: sigs["generate"](num_clips=tf.constant(n, tf.int32), seed=tf.constant(seed, tf.int64))
    a, b, c, d = g(4, 7), g(4, 7), g(4, 8), g(2, 7)
    out["generate"] = {k: [list(v.shape), v.dtype.name, float(tf.reduce_min(v)), float(tf.reduce_max(v))]
                       for k, v in a.items()}
    out["deterministic"] = bool(np.array_equal(a["audio"].numpy(), b["audio"].numpy())
                                and np.array_equal(a["vad"].numpy(), b["vad"].numpy()))
    out["seed_matters"] = not np.allclose(a["audio"].numpy(), c["audio"].numpy())
    out["prefix_diff"] = float(np.max(np.abs(a["audio"].numpy()[:2] - d["audio"].numpy())))
    errors = {}
    bad_calls = {
        "z_wrong_width": lambda: sigs["serving_default"](z=tf.zeros([2, meta["latent_dim"] + 1])),
        "z_wrong_rank": lambda: sigs["serving_default"](z=tf.zeros([2, 1, meta["latent_dim"]])),
        "z_float64": lambda: sigs["serving_default"](z=tf.zeros([2, meta["latent_dim"]], tf.float64)),
        "z_nan": lambda: sigs["serving_default"](z=tf.fill([2, meta["latent_dim"]], float("nan"))),
        "z_inf": lambda: sigs["serving_default"](z=tf.fill([1, meta["latent_dim"]], float("inf"))),
        "too_many_clips": lambda: g(meta["max_clips"] + 1, 0),
        "zero_clips": lambda: g(0, 0),
        "seed_int32": lambda: sigs["generate"](num_clips=tf.constant(1), seed=tf.constant(1, tf.int32)),
    }
    for name, call in bad_calls.items():
        try:
            call()
            errors[name] = None
        except (tf.errors.InvalidArgumentError, TypeError, ValueError) as e:
            errors[name] = type(e).__name__ + ": " + str(e)
    out["errors"] = errors
    out["wavebabble_modules"] = sorted(k for k in sys.modules if k.split(".")[0] == "wavebabble")
    print("RESULT " + json.dumps(out))
""")


def _tiny():
    cfg = get_config("demo", **TINY)
    tf.keras.utils.set_random_seed(0)
    return build_generator(cfg), cfg


def _make_logdir(logdir: Path, generator, cfg) -> None:
    """A run dir as the trainer writes it: config.json + ckpt/ (CheckpointManager, checkpoint has generator=G)."""
    logdir.mkdir(parents=True)
    cfg.to_json(logdir / "config.json")
    ckpt = tf.train.Checkpoint(generator=generator, step=tf.Variable(3, dtype=tf.int64))
    tf.train.CheckpointManager(ckpt, str(logdir / "ckpt"), max_to_keep=2).save()


def _clean_env():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(export path, generator, cfg, logdir): a tiny generator checkpointed in a run dir and exported from it."""
    generator, cfg = _tiny()
    logdir = tmp_path_factory.mktemp("run") / "run"
    _make_logdir(logdir, generator, cfg)
    path = export_from_logdir(str(logdir))
    return Path(path), generator, cfg, logdir


@pytest.fixture(scope="module")
def subprocess_results(exported, tmp_path_factory):
    """Run the fresh-interpreter check and saved_model_cli side by side (each spends most time importing TF)."""
    path = exported[0]
    work = tmp_path_factory.mktemp("fresh")
    script = work / "serve.py"
    script.write_text(FRESH_SCRIPT)
    procs = {"fresh": subprocess.Popen([sys.executable, "-I", str(script), str(path)], cwd=work, env=_clean_env(),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)}
    cli = Path(sys.executable).parent / "saved_model_cli"
    if cli.exists():
        procs["cli"] = subprocess.Popen([str(cli), "show", "--all", "--dir", str(path)], env=_clean_env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=180)
        results[name] = (proc.returncode, out, err)
    return results


def test_fresh_process_without_wavebabble(exported, subprocess_results):
    _, _, cfg, _ = exported
    rc, stdout, stderr = subprocess_results["fresh"]
    assert rc == 0, stderr[-3000:]
    line = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")][-1]
    r = json.loads(line[len("RESULT "):])

    assert r["wavebabble_modules"] == []
    assert {"serving_default", "generate", "metadata"} <= set(r["signatures"])
    meta = r["metadata"]
    assert (meta["sample_rate"], meta["slice_len"], meta["latent_dim"], meta["frame_hz"]) == \
        (cfg.sample_rate, cfg.slice_len, cfg.latent_dim, cfg.frame_hz)
    assert meta["num_frames"] == cfg.num_frames and meta["max_clips"] == MAX_CLIPS
    assert json.loads(meta["config_json"])["config"]["model_dim"] == TINY["model_dim"]
    assert r["variables"]["sample_rate"] == cfg.sample_rate and r["variables"]["max_clips"] == MAX_CLIPS
    assert json.loads(r["asset"])["metadata"]["slice_len"] == cfg.slice_len

    for outputs, n in ((r["serving"], 3), (r["generate"], 4)):
        shape, dtype, lo, hi = outputs["audio"]
        assert shape == [n, cfg.slice_len, 2] and dtype == "float32" and -1.0 <= lo <= hi <= 1.0
        shape, dtype, lo, hi = outputs["vad"]
        assert shape == [n, cfg.num_frames, 2] and dtype == "float32" and 0.0 <= lo <= hi <= 1.0
    assert r["deterministic"] and r["seed_matters"]         # same seed and batch: bit-identical
    assert r["prefix_diff"] <= BATCH_ATOL                    # clips 0-1 of a batch of 4 vs a batch of 2

    e = r["errors"]
    assert all(e[k] is not None for k in e), e
    assert f"[?,{cfg.latent_dim}]" in e["z_wrong_width"] and "[2,101]" in e["z_wrong_width"]
    assert f"[?,{cfg.latent_dim}]" in e["z_wrong_rank"]
    assert "float" in e["z_float64"] and "double" in e["z_float64"]
    assert "z must be finite" in e["z_nan"] and "z must be finite" in e["z_inf"]
    assert f"num_clips must be <= MAX_CLIPS = {MAX_CLIPS}" in e["too_many_clips"]
    assert "num_clips must be >= 1" in e["zero_clips"]
    assert "int64" in e["seed_int32"]


def test_in_process_matches_keras_generator(exported):
    path, generator, cfg, logdir = exported
    assert path == (logdir / "export").resolve()  # export_from_logdir's default folder
    loaded = tf.saved_model.load(str(path))
    z = tf.random.stateless_uniform([2, cfg.latent_dim], seed=[3, 4], minval=-1.0, maxval=1.0)
    got = loaded.signatures["serving_default"](z=z)["audio"].numpy()
    np.testing.assert_allclose(got, generator(z, training=False).numpy(), atol=1e-5)
    zs = loaded.latents(tf.constant(2, tf.int64), tf.constant(2), tf.constant(7, tf.int64))
    via_latents = loaded.signatures["serving_default"](z=zs)["audio"].numpy()
    via_generate = loaded.signatures["generate"](num_clips=tf.constant(4), seed=tf.constant(7, tf.int64))["audio"]
    # clip i depends only on (seed, i): its latent exactly, its audio within BATCH_ATOL across batch sizes
    np.testing.assert_array_equal(zs.numpy(), loaded.latents(tf.constant(0, tf.int64), tf.constant(4),
                                                             tf.constant(7, tf.int64)).numpy()[2:])
    np.testing.assert_allclose(via_latents, via_generate.numpy()[2:], rtol=0, atol=BATCH_ATOL)
    again = loaded.signatures["serving_default"](z=zs)["audio"].numpy()
    np.testing.assert_array_equal(via_latents, again)  # same latents and batch: bit-identical


def test_saved_model_cli_lists_signatures(exported, subprocess_results):
    if "cli" not in subprocess_results:
        pytest.skip(f"saved_model_cli not found beside {sys.executable}")
    path, _, cfg, _ = exported
    rc, out, err = subprocess_results["cli"]
    assert rc == 0, err[-2000:]
    for text in ("signature_def['serving_default']", "signature_def['generate']", "inputs['z']",
                 f"shape: (-1, {cfg.latent_dim})", "inputs['num_clips']", "inputs['seed']", "DT_INT64",
                 "outputs['audio']", f"shape: (-1, {cfg.slice_len}, 2)", "outputs['vad']",
                 f"shape: (-1, {cfg.num_frames}, 2)"):
        assert text in out, text
    assert (path / "assets" / ASSET_NAME).is_file()


def test_export_refuses_non_empty_folder(exported, tmp_path):
    path, generator, cfg, logdir = exported
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not empty.*pass --overwrite"):
        export_generator(generator, cfg, busy)
    assert (busy / "notes.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match="--overwrite"):
        export_generator(generator, cfg, path)
    with pytest.raises(ConfigError, match="--overwrite"):
        export_from_logdir(str(logdir))
    export_generator(generator, cfg, busy, overwrite=True)      # beside the user's files, which stay
    assert (busy / "saved_model.pb").is_file() and (busy / "notes.txt").read_text() == "keep me"
    copy = tmp_path / "model"
    shutil.copytree(path, copy)                                  # with its record: the files are an export's
    (copy / "stale.txt").write_text("not written by the export")
    assert export_generator(generator, cfg, copy, overwrite=True) == str(copy.resolve())
    assert (copy / "saved_model.pb").is_file() and (copy / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp folders left


def _hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_overwrite_replaces_only_what_an_export_wrote(exported, tmp_path, capfd):
    _, _, _, logdir = exported
    out = tmp_path / "export"
    export_from_logdir(str(logdir), str(out))
    first = _hashes(out)
    (out / "MY_NOTES.txt").write_text("x")
    (out / "variables" / "why.txt").write_text("my notes on these weights")
    capfd.readouterr()
    export_from_logdir(str(logdir), str(out), overwrite=True)
    assert (out / "MY_NOTES.txt").read_text() == "x"
    assert (out / "variables" / "why.txt").read_text() == "my notes on these weights"
    assert {k for k in _hashes(out) if k not in ("MY_NOTES.txt", "variables/why.txt")} == set(first)
    said = capfd.readouterr().err
    assert "replaced" in said and "saved_model.pb" in said and "MY_NOTES" not in said
    assert "saved_model.pb" in json.loads((out / RECORD_NAME).read_text())["outputs"]["export"]
    assert tf.saved_model.load(str(out)).signatures["metadata"]()["slice_len"].numpy() == TINY["slice_len"]
    assert [p.name for p in tmp_path.iterdir()] == ["export"]                    # no temp folders left


def test_export_overwrite_refuses_a_saved_model_it_did_not_write(exported, tmp_path):
    path, generator, cfg, logdir = exported
    out = tmp_path / "someone_elses_model"
    shutil.copytree(path, out)
    (out / RECORD_NAME).unlink(missing_ok=True)                       # no record: not provably an export
    before = _hashes(out)
    with pytest.raises(ConfigError, match=r"saved_model\.pb.*not written by export"):
        export_from_logdir(str(logdir), str(out), overwrite=True)
    with pytest.raises(ConfigError, match=r"saved_model\.pb.*not written by export"):
        export_generator(generator, cfg, out, overwrite=True)
    assert _hashes(out) == before


def test_failed_export_leaves_the_earlier_export_as_it_was(exported, tmp_path, monkeypatch):
    path, generator, cfg, _ = exported
    out = tmp_path / "export"
    export_generator(generator, cfg, out)
    (out / "MY_NOTES.txt").write_text("x")
    before = _hashes(out)

    def half_save(obj, export_dir, **kwargs):
        Path(export_dir, "variables").mkdir(parents=True)
        Path(export_dir, "saved_model.pb").write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", half_save)
    with pytest.raises(OutputError, match=f"cannot write the export to {out}: disk full"):
        export_generator(generator, cfg, out, overwrite=True)
    assert _hashes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["export"]


@pytest.mark.slow
def test_export_cli(exported, tmp_path):
    _, _, _, logdir = exported
    out = tmp_path / "cli_export"
    proc = subprocess.run([sys.executable, "-m", "wavebabble.export", f"--logdir={logdir}", f"--out={out}"],
                          cwd=REPO, capture_output=True, text=True, env=_clean_env(), timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "saved_model.pb").is_file() and str(out) in proc.stdout
    (out / "MY_NOTES.txt").write_text("x")
    proc = subprocess.run([sys.executable, "-m", "wavebabble.export", f"--logdir={logdir}", f"--out={out}",
                           "--overwrite"], cwd=REPO, capture_output=True, text=True, env=_clean_env(), timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "MY_NOTES.txt").read_text() == "x" and "replaced" in proc.stderr


def test_export_from_logdir_errors(tmp_path):
    with pytest.raises(ConfigError, match="config.json"):
        export_from_logdir(str(tmp_path))
    generator, cfg = _tiny()
    _make_logdir(tmp_path / "run", generator, cfg)
    cfg.replace(model_dim=4).to_json(tmp_path / "run" / "config.json")  # config no longer matches the weights
    with pytest.raises(ConfigError, match="cannot restore"):
        export_from_logdir(str(tmp_path / "run"))
    empty = tmp_path / "empty_run"
    empty.mkdir()
    cfg.to_json(empty / "config.json")
    with pytest.raises(ConfigError, match="no checkpoint"):
        export_from_logdir(str(empty))


def test_export_refuses_a_checkpoint_with_non_finite_weights(tmp_path):
    generator, cfg = _tiny()
    v = generator.trainable_variables[-1]
    v.assign(np.full(v.shape, np.inf, np.float32))
    _make_logdir(tmp_path / "run", generator, cfg)
    with pytest.raises(ConfigError, match=rf"checkpoint \S*ckpt-1 holds non-finite weights: generator/{v.path}"):
        export_from_logdir(str(tmp_path / "run"))
    assert not (tmp_path / "run" / "export").exists()

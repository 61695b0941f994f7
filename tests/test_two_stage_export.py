"""The two-stage generator as a SavedModel: its config, the export from its jobs' checkpoints, and `generate
--seconds` (clips of any length, each depending only on (seed, i)); fixed-length models refuse --seconds."""
import math

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from wavebabble.config import get_config
from wavebabble.errors import ConfigError
from wavebabble.export import export_two_stage, two_stage_config
from wavebabble.generate import clip_latent_len, generate
from wavebabble.mel import MEL_HOP
from wavebabble.models.mel_planner import NOISE_CH, PLAN_UPSAMPLE, build_mel_planner
from wavebabble.models.mel_renderer import build_mel_renderer
from wavebabble.models.two_stage import UniformToNormal

DIM = 2
STEP_SECONDS = PLAN_UPSAMPLE * MEL_HOP / 8000          # the length step of a two-stage clip (0.128 s)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """Export dir of a tiny random-weight two-stage generator, saved and exported as its jobs' checkpoints are."""
    root = tmp_path_factory.mktemp("two_stage")
    tf.keras.utils.set_random_seed(0)
    planner, renderer = build_mel_planner(DIM), build_mel_renderer(DIM)
    p = tf.train.Checkpoint(planner=planner).save(str(root / "planner" / "ckpt"))
    r = tf.train.Checkpoint(renderer=renderer).save(str(root / "renderer" / "ckpt"))
    return export_two_stage(p, r, root / "export", planner_dim=DIM, renderer_dim=DIM)


def test_two_stage_config_ties_latent_dim_to_the_clip_length_and_needs_8khz_stereo():
    cfg = two_stage_config(8)
    assert cfg.latent_dim == cfg.slice_len // MEL_HOP * NOISE_CH and cfg.model_dim == 8
    for bad in ({"latent_dim": cfg.latent_dim + NOISE_CH}, {"sample_rate": 16000}):
        with pytest.raises(ConfigError) as e:
            cfg.replace(**bad).validate()
        assert e.value.field == next(iter(bad))


def test_uniform_latents_become_standard_normal_noise():
    z = tf.random.stateless_uniform([200000], seed=[1, 2], minval=-1.0, maxval=1.0)
    n = UniformToNormal()(z).numpy()
    assert np.isfinite(n).all() and abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    edges = UniformToNormal()(tf.constant([-1.0, 1.0])).numpy()     # the ends of [-1, 1) stay finite (~5 sigma)
    assert np.isfinite(edges).all() and 4.5 < -edges[0] < 5.5 and 4.5 < edges[1] < 5.5


def test_clip_latent_len_rounds_seconds_up_and_fixed_length_models_refuse_it():
    meta = {"latent_dim": 32768, "slice_len": 65536, "sample_rate": 8000, "latent_quantum": 512,
            "clip_seconds": 8.192}
    assert clip_latent_len(meta, 0) == 32768
    assert clip_latent_len(meta, 1.0) == 8 * 512                     # 1 s -> 8 steps of 0.128 s
    assert clip_latent_len(meta, 300.0) == math.ceil(300 / STEP_SECONDS) * 512
    for seconds in (-1.0, 1e6):
        with pytest.raises(ConfigError, match="--seconds"):
            clip_latent_len(meta, seconds)
    v1 = {**meta, "latent_quantum": 0}
    with pytest.raises(ConfigError, match="one length only"):
        clip_latent_len(v1, 5.0)
    del v1["latent_quantum"]                                          # exports made before latent_quantum existed
    with pytest.raises(ConfigError, match="one length only"):
        clip_latent_len(v1, 5.0)


def test_generate_seconds_writes_clips_of_any_length_each_depending_only_on_seed_and_index(model, tmp_path):
    generate(model, 2, tmp_path / "a", seed=3, batch=2, seconds=3.0, log=lambda *a: None)
    generate(model, 1, tmp_path / "b", seed=3, batch=1, seconds=3.0, log=lambda *a: None)
    a0, sr = sf.read(tmp_path / "a" / "clip_0000.wav", dtype="float32")
    a1, _ = sf.read(tmp_path / "a" / "clip_0001.wav", dtype="float32")
    b0, _ = sf.read(tmp_path / "b" / "clip_0000.wav", dtype="float32")
    assert sr == 8000 and a0.shape == (math.ceil(3.0 / STEP_SECONDS) * PLAN_UPSAMPLE * MEL_HOP, 2)
    assert np.abs(a0 - b0).max() <= 2 / 32768                         # batch size changes nothing audible
    assert np.abs(a0 - a1).max() > 1e-3                               # another index, another dialogue
    generate(model, 1, tmp_path / "c", seed=3, log=lambda *a: None)    # the model's own length without --seconds
    c0, _ = sf.read(tmp_path / "c" / "clip_0000.wav", dtype="float32")
    assert c0.shape == (two_stage_config(DIM).slice_len, 2)


def test_any_length_signature_refuses_a_z_that_is_not_a_whole_number_of_steps(model):
    loaded = tf.saved_model.load(model)
    serve = loaded.signatures["serving_any_length"]
    assert serve(z=tf.zeros([1, 2 * PLAN_UPSAMPLE * NOISE_CH]))["audio"].shape == (1, 2 * PLAN_UPSAMPLE * MEL_HOP, 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match="multiple"):
        serve(z=tf.zeros([1, PLAN_UPSAMPLE * NOISE_CH + 1]))


def test_a_v1_export_has_no_any_length_entry_points(tmp_path):
    from wavebabble.export import export_generator
    from wavebabble.models.generator import build_generator

    cfg = get_config("demo", model_dim=2, slice_len=16384)
    loaded = tf.saved_model.load(export_generator(build_generator(cfg), cfg, tmp_path / "v1"))
    assert "serving_any_length" not in loaded.signatures
    assert int(loaded.signatures["metadata"]()["latent_quantum"]) == 0


def test_train_train_refuses_the_two_stage_generator_and_names_its_jobs():
    from wavebabble.models.generator import build_generator

    with pytest.raises(ConfigError, match="train.train_mel_gan") as e:
        build_generator(two_stage_config(DIM))
    assert e.value.field == "generator"


def _dialogue(seconds_on: list[tuple[float, float, int]], n: int = 65536, sr: int = 8000) -> np.ndarray:
    """[n, 2] noise bursts: (start s, end s, channel) each."""
    rng = np.random.default_rng(0)
    x = np.zeros((n, 2), np.float32)
    for start, end, ch in seconds_on:
        a, b = int(start * sr), min(n, int(end * sr))
        x[a:b, ch] = 0.3 * rng.standard_normal(b - a)
    return x


def test_select_checkpoint_scores_a_planner_run_with_its_renderer_and_exports_the_choice(tmp_path):
    from eval.select_checkpoint import RunLoader, best, export_checkpoint, score_checkpoints
    from wavebabble.measure import measure_audio

    tf.keras.utils.set_random_seed(1)
    planner, renderer = build_mel_planner(DIM), build_mel_renderer(DIM)
    r = tf.train.Checkpoint(renderer=renderer).save(str(tmp_path / "renderer" / "ckpt"))
    mgr = tf.train.CheckpointManager(tf.train.Checkpoint(planner=planner), str(tmp_path / "planner" / "ckpt"), 5)
    for step in (250, 500, 750):
        planner.weights[0].assign(planner.weights[0] * 1.5)       # each checkpoint a different planner
        mgr.save(checkpoint_number=step)
    real = _dialogue([(0.2, 2.0, 0), (2.2, 4.0, 1), (4.3, 6.0, 0), (5.8, 7.5, 1)])
    run = RunLoader(str(tmp_path / "planner"), r, planner_dim=DIM, renderer_dim=DIM)
    scores = score_checkpoints(run, measure_audio(real[None], 8000), num_clips=2, seed=0, min_step=500)
    assert [s.step for s in scores] == [500, 750]
    assert all(np.isfinite(s.score) for s in scores)
    out = export_checkpoint(run, best(scores))
    assert out.name == f"export_step{best(scores).step}"
    assert int(tf.saved_model.load(str(out)).signatures["metadata"]()["latent_quantum"]) > 0   # two-stage


def test_timing_and_sound_choice_is_the_lowest_rank_sum_and_needs_sound():
    from eval.select_checkpoint import CheckpointScore, best

    def score(step, timing_score, fd):
        return CheckpointScore(step, f"ckpt-{step}", timing_score, timing_score, 0.1, {},
                               None if fd is None else {"logmel_fd": fd})

    scores = [score(1, 0.1, 3000.0), score(2, 0.2, 1000.0), score(3, 0.3, 2000.0)]
    assert best(scores, "timing").step == 1                           # timing alone: the lowest score
    assert best(scores, "timing_and_sound").step == 2                 # ranks 0+2, 1+0, 2+1
    with pytest.raises(ConfigError, match="sound"):
        best([score(1, 0.1, None)], "timing_and_sound")

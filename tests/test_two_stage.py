"""The two-stage generator's parts: log-mel frames (wavebabble/mel.py), the renderer
(models/mel_renderer.py), the planner and its critic (models/mel_planner.py), the multi-resolution STFT loss."""
import numpy as np
import pytest
import keras
import tensorflow as tf

from wavebabble import losses, vad
from wavebabble.mel import MEL_BINS, MEL_HOP, log_mel, mel_energy_db, mel_soft_vad
from wavebabble.models.mel_planner import (NOISE_CH, PLAN_UPSAMPLE, SYLLABLE_PATCH_FRAMES, build_mel_critic,
                                           build_mel_planner, build_syllable_critic)
from wavebabble.models.layers import ICNR, HeldConv1DTranspose, LinearUpsample1D
from wavebabble.models.mel_renderer import build_mel_renderer

SR = 8000


def _speechlike(rng, seconds=2.0):
    """[samples] a 150 Hz pulse train through a moving resonance, on for 0.6 s of each 1 s, over quiet noise."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = np.sign(np.sin(2 * np.pi * 150 * t)) * (np.sin(2 * np.pi * (500 + 300 * np.sin(3 * t)) * t) + 0.3)
    x *= (t % 1.0) < 0.6
    return (0.3 * x + 1e-3 * rng.standard_normal(n)).astype(np.float32)


def test_log_mel_frames_line_up_with_the_hop_and_follow_loudness():
    rng = np.random.default_rng(0)
    x = _speechlike(rng)
    m = log_mel(tf.constant(x[None]), SR).numpy()[0]
    assert m.shape == (len(x) // MEL_HOP, MEL_BINS)
    on = (np.arange(len(m)) * MEL_HOP / SR) % 1.0
    loud, quiet = m[(on > 0.1) & (on < 0.5)].mean(), m[(on > 0.7) & (on < 0.9)].mean()
    assert loud > quiet + 0.5                       # speech frames well above the noise floor's
    assert -1.5 < m.min() and m.max() < 1.5         # the documented normalised range


def test_mel_energy_matches_the_vad_frame_energy_on_speech_like_audio():
    rng = np.random.default_rng(1)
    x = _speechlike(rng, 4.0)
    m = log_mel(tf.constant(x[None]), SR)
    e_mel = mel_energy_db(m).numpy()[0]
    e = vad.frame_energy_db(x[:, None], SR, frame_hz=SR // MEL_HOP)[:, 0]
    active = e > -50
    assert active.mean() > 0.3
    assert np.median(np.abs(e_mel[active] - e[active])) < 3.0      # dB: one calibration, any speech-like signal
    v = mel_soft_vad(tf.concat([m, m - 1.0], axis=-1), 2, -40.0, 3.0).numpy()[0]
    assert v.shape == (len(x) // MEL_HOP, 2)
    assert np.mean((v[:, 0] > 0.5) == (e > -40)) > 0.95
    assert v[:, 1].mean() < v[:, 0].mean()                          # quieter speaker -> less activity


def test_renderer_maps_any_number_of_frames_to_hop_samples_each():
    tf.keras.utils.set_random_seed(0)
    r = build_mel_renderer(dim=2)
    for frames in (8, 37):
        y = r(tf.random.normal([2, frames, MEL_BINS])).numpy()
        assert y.shape == (2, frames * MEL_HOP, 1) and np.all(np.abs(y) <= 1)


def test_planner_makes_both_speakers_mels_for_any_noise_length_and_critic_scores_them():
    tf.keras.utils.set_random_seed(0)
    p, c = build_mel_planner(dim=2), build_mel_critic(dim=2)
    for n in (4, 9):
        mel = p(tf.random.normal([3, n * PLAN_UPSAMPLE, NOISE_CH]))
        assert mel.shape == (3, n * PLAN_UPSAMPLE, 2 * MEL_BINS)
        outs = c(mel)
        scores = outs[-2:]
        assert all(s.shape[0] == 3 and s.shape[-1] == 1 for s in scores)
        assert scores[1].shape[1] < scores[0].shape[1] <= n * PLAN_UPSAMPLE
    z = tf.random.normal([8, 4 * PLAN_UPSAMPLE, NOISE_CH], seed=0)
    m = p(z).numpy()
    # the noise matters at the start: outputs differ across the batch about as much as along time
    assert m.std(axis=0).mean() > 0.5 * m.std(axis=1).mean()


def test_syllable_critic_scores_one_speaker_in_patches_of_about_a_syllable():
    tf.keras.utils.set_random_seed(0)
    c = build_syllable_critic(dim=2)
    x = tf.random.normal([3, 128, MEL_BINS])
    score = c(x)[-1]
    assert score.shape == (3, 32, 1)
    t = 64                      # a change at one frame reaches only the scores whose patch covers it
    bumped = x + tf.one_hot(t, 128)[None, :, None] * 10.0
    changed = np.flatnonzero(np.abs((c(bumped)[-1] - score).numpy()[0, :, 0]) > 1e-6)
    assert len(changed) > 0
    covered = 4 * changed       # score j sits at frame 4j; its patch is SYLLABLE_PATCH_FRAMES long
    assert (np.abs(covered - t) <= SYLLABLE_PATCH_FRAMES // 2 + 4).all()
    assert covered.max() - covered.min() >= SYLLABLE_PATCH_FRAMES // 2


def test_stage_loop_starts_from_another_runs_checkpoint_and_names_what_is_fresh(tmp_path, capsys):
    from train.stage_loop import run_stage

    a = tf.Variable(0.0)
    kw = dict(steps=3, save_every=3, log_every=3, describe="toy")
    assert run_stage(lambda: {"loss": a.assign_add(1.0)}, {"a": a}, logdir=str(tmp_path / "one"), **kw) == 0
    a2, b = tf.Variable(0.0), tf.Variable(5.0)
    kw["steps"] = 4
    assert run_stage(lambda: {"loss": a2.assign_add(1.0)}, {"a": a2, "b": b}, logdir=str(tmp_path / "two"),
                     init_from=str(tmp_path / "one" / "ckpt" / "ckpt-3"), **kw) == 0
    out = capsys.readouterr().out
    assert "at step 3; fresh: b" in out and "step 4/4" in out
    assert float(a2.numpy()) == 4.0 and float(b.numpy()) == 5.0     # a restored (3) and trained one step


def test_stage_loop_writes_its_progress_means_as_tensorboard_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from train.stage_loop import run_stage

    a = tf.Variable(0.0)
    assert run_stage(lambda: {"loss": a.assign_add(1.0)}, {"a": a}, logdir=str(tmp_path), steps=4, save_every=4,
                     log_every=2, describe="toy") == 0
    events = EventAccumulator(str(tmp_path), size_guidance={"tensors": 0}).Reload()
    loss = [(e.step, float(tf.make_ndarray(e.tensor_proto))) for e in events.Tensors("loss")]
    assert loss == [(2, 1.5), (4, 3.5)]                               # the means of steps 1-2 and 3-4
    assert [e.step for e in events.Tensors("steps_per_s")] == [2, 4]


def test_multi_resolution_stft_is_zero_for_equal_audio_and_ranks_distortions():
    rng = np.random.default_rng(2)
    x = tf.constant(np.stack([_speechlike(rng, 1.0), _speechlike(rng, 1.0)]))
    assert float(losses.multi_resolution_stft(x, x)) == pytest.approx(0.0, abs=1e-6)
    small = float(losses.multi_resolution_stft(x, x + 0.01 * tf.random.normal(x.shape, seed=1)))
    large = float(losses.multi_resolution_stft(x, x + 0.1 * tf.random.normal(x.shape, seed=1)))
    assert 0 < small < large
    silent = tf.zeros_like(x)
    assert np.isfinite(float(losses.multi_resolution_stft(silent, x)))   # a silent real window is finite


def test_renderer_learns_to_copy_a_signal_from_its_mels():
    """A few steps of the renderer's training objective lower it (the loss can fail: a broken gradient path)."""
    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(3)
    x = tf.constant(np.stack([_speechlike(rng, 0.256) for _ in range(2)]))
    r = build_mel_renderer(dim=2, harmonics=2)         # the shipped kind: a pitched and noise source
    opt = tf.keras.optimizers.Adam(5e-3)
    mel = log_mel(x, SR)

    def loss():
        return losses.multi_resolution_stft(x, r(mel)[..., 0])

    opt.build(r.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            value = loss()
        opt.apply_gradients(zip(tape.gradient(value, r.trainable_variables), r.trainable_variables))

    first = float(loss())
    for _ in range(40):
        step()
    assert float(loss()) < 0.85 * first


def test_harmonic_source_makes_the_pitchs_harmonics_below_nyquist_only_where_voiced():
    from wavebabble.models.harmonic_source import HarmonicSource

    frames = 250                                                    # 2 s
    f0 = np.full((2, frames), 150.0, np.float32)
    f0[1] = 400.0                                                   # harmonics 10+ of 400 Hz would alias
    voicing = np.ones((2, frames), np.float32)
    voicing[0, frames // 2:] = 0.0                                  # the first row stops at 1 s
    out = HarmonicSource(12, MEL_HOP, SR)([tf.constant(f0), tf.constant(voicing)]).numpy()
    assert out.shape == (2, frames * MEL_HOP, 12)
    half = frames // 2 * MEL_HOP
    for k in (1, 3):
        spectrum = np.abs(np.fft.rfft(out[0, :half - MEL_HOP, k - 1]))
        assert abs(np.argmax(spectrum) * SR / (half - MEL_HOP) - 150.0 * k) < 2.0
    assert np.abs(out[0, half + MEL_HOP:]).max() == 0.0             # unvoiced: silent
    assert np.abs(out[1, :, :9]).max() > 0.99 and np.abs(out[1, :, 9:]).max() == 0.0   # 10 x 400 Hz >= 3.8 kHz


def test_harmonic_source_phase_is_continuous_and_accurate_over_minutes_or_given():
    from wavebabble.models.harmonic_source import HarmonicSource, frame_start_phases

    rng = np.random.default_rng(0)
    frames = 125 * 120                                              # two minutes
    f0 = (150.0 + 60.0 * np.sin(np.arange(frames) / 40.0) + rng.normal(0.0, 2.0, frames)).astype(np.float32)
    source = HarmonicSource(2, MEL_HOP, SR)
    out = source([tf.constant(f0[None]), tf.constant(np.ones((1, frames), np.float32))]).numpy()[0, :, 0]
    # the reference: f0 linear between frame starts, integrated sample by sample (trapezoids) in float64
    per_sample = np.interp(np.arange(frames * MEL_HOP) / MEL_HOP, np.arange(frames), f0.astype(np.float64))
    phase = np.concatenate([[0.0], np.cumsum(0.5 * (per_sample[:-1] + per_sample[1:])) / SR])
    tail = slice(-MEL_HOP * 125, None)                              # the last second
    assert np.abs(out[tail] - np.sin(2 * np.pi * phase[tail])).max() < 1e-3
    assert np.abs(np.diff(out)).max() <= 2 * np.pi * 215.0 / SR     # no steps: at most the pitch's slope
    # a window of the rendering, its start phases given, is the rendering's slice
    start = frame_start_phases(f0[None], MEL_HOP, SR).numpy()
    lo = 7000
    window = source([tf.constant(f0[None, lo:]), tf.constant(np.ones((1, frames - lo), np.float32)),
                     tf.constant(start[:, lo:], tf.float32)]).numpy()[0, :-MEL_HOP, 0]
    np.testing.assert_allclose(window, out[lo * MEL_HOP:-MEL_HOP], atol=2e-4)


def test_renderer_edges_are_like_its_middle():
    """Constant mels: the output repeats every frame (its upsampling's period), the first and last frames too (with
    the convolutions' zero padding alone the edges read as loud frames: a click at every clip's start)."""
    for seed in range(2):
        tf.keras.utils.set_random_seed(seed)
        y = build_mel_renderer(dim=2)(tf.fill([1, 40, MEL_BINS], -1.0)).numpy()[0, :, 0].reshape(40, MEL_HOP)
        assert np.abs(y[20]).max() > 1e-3
        np.testing.assert_allclose(y[0], y[20], atol=1e-5)
        np.testing.assert_allclose(y[-1], y[20], atol=1e-5)


def test_pitch_is_a_causal_voicing_weighted_mean_of_the_heads_log_f0():
    from wavebabble.models.mel_renderer import PITCH_MAX_HZ, PITCH_MIN_HZ, PITCH_SMOOTH_FRAMES, PitchFromLogits

    k, frames = PITCH_SMOOTH_FRAMES, 60
    raw, smooth = PitchFromLogits(smooth_frames=1), PitchFromLogits()

    def pitch(layer, logits):
        return np.asarray(layer(tf.constant(logits)))[0]          # [frames, 2]: f0 Hz, voicing

    rng = np.random.default_rng(0)
    wobble = np.where(np.arange(frames) % 2, 0.4, -0.4) + 0.1 * rng.standard_normal(frames)   # a head that wavers
    logits = np.stack([wobble, np.full(frames, 4.0)], -1)[None].astype(np.float32)          # all voiced
    semitones = lambda p: np.abs(np.diff(12 * np.log2(p[:, 0])))[k:]
    assert semitones(pitch(smooth, logits)).mean() < 0.2 * semitones(pitch(raw, logits)).mean()
    np.testing.assert_allclose(pitch(smooth, logits)[:, 1], pitch(raw, logits)[:, 1])      # voicing as it is
    f0 = pitch(raw, logits)[:, 0]
    assert PITCH_MIN_HZ < f0.min() and f0.max() < PITCH_MAX_HZ
    # causal: a change at frame 30 moves frames 30 .. 30 + k - 1 only
    later = logits.copy()
    later[0, 30, 0] += 3.0
    moved = np.abs(pitch(smooth, later)[:, 0] - pitch(smooth, logits)[:, 0]) > 1e-4
    assert not moved[:30].any() and moved[30:30 + k].all() and not moved[30 + k:].any()
    # an unvoiced frame's f0 reading hardly moves its neighbours' (it moves them 0.1-0.3 octaves when voiced)
    low, high = logits.copy(), logits.copy()
    low[0, 30], high[0, 30] = [-5.0, -8.0], [5.0, -8.0]
    apart = np.abs(np.log2(pitch(smooth, high)[31:30 + k, 0] / pitch(smooth, low)[31:30 + k, 0]))
    assert apart.max() < 0.01            # octaves
    low[0, 30, 1] = high[0, 30, 1] = 4.0
    assert np.abs(np.log2(pitch(smooth, high)[31:30 + k, 0] / pitch(smooth, low)[31:30 + k, 0])).min() > 0.1


def test_pitched_renderer_renders_windows_with_given_phases_and_its_pitch_head_learns():
    from wavebabble.agent import RENDER_CONTEXT_FRAMES
    from wavebabble.models.harmonic_source import frame_increments, frame_start_phases
    from wavebabble.models.mel_renderer import (EDGE_FRAMES, content_noise_at, phased_renderer, pitch_model,
                                                renderer_harmonics, replicate_edges)

    tf.keras.utils.set_random_seed(0)
    r = build_mel_renderer(dim=2, harmonics=4)
    assert renderer_harmonics(r) == 4 and renderer_harmonics(build_mel_renderer(dim=2)) == 0
    mel = tf.random.normal([1, 120, MEL_BINS])
    whole = r(mel).numpy()[0, :, 0]
    # the renderer's source integrates its phase from the first of the EDGE_FRAMES padded frames
    padded_f0 = keras.Model(r.inputs[0], r.get_layer("pitch").output)(replicate_edges(mel, EDGE_FRAMES))[..., 0]
    f0 = pitch_model(r)(mel)[..., 0]
    np.testing.assert_allclose(f0, padded_f0[:, EDGE_FRAMES:-EDGE_FRAMES])       # the head reads padded mels too
    phase0 = tf.reduce_sum(frame_increments(padded_f0, MEL_HOP, SR)[:, :EDGE_FRAMES])
    start = tf.cast(frame_start_phases(f0, MEL_HOP, SR, phase0), tf.float32)
    phased = phased_renderer(r)
    at = content_noise_at(mel)                      # the noise a call on mel alone draws: its key, from sample 0
    np.testing.assert_allclose(phased([mel, start, at]).numpy()[0, :, 0], whole, atol=1e-5)
    lo = 40                         # the window's first frames lack their left context; later ones are the whole's
    window = phased([mel[:, lo:], start[:, lo:], at + [[0, lo * MEL_HOP]]]).numpy()[0, :, 0]
    context = RENDER_CONTEXT_FRAMES
    np.testing.assert_allclose(window[context * MEL_HOP:], whole[(lo + context) * MEL_HOP:], atol=1e-5)
    # the noise is the whole's because the window says where it starts: from sample 0 it is other noise
    misplaced = phased([mel[:, lo:], start[:, lo:], at]).numpy()[0, :, 0]
    assert np.abs(misplaced[context * MEL_HOP:] - window[context * MEL_HOP:]).max() > 1e-3
    # by default the noise follows the mels: the same mels render the same audio, another key other audio
    np.testing.assert_array_equal(r(mel).numpy()[0, :, 0], whole)
    assert np.abs(r([mel, at + [[1, 0]]]).numpy()[0, :, 0] - whole).max() > 1e-3
    # the head's targets pull its f0 (the loss can fail: a broken path to the head)
    head = pitch_model(r)
    opt = tf.keras.optimizers.Adam(1e-2)
    target = tf.fill([1, 120], 200.0)

    def octaves():
        return tf.reduce_mean(tf.abs(tf.math.log(head(mel)[..., 0] / target)))

    first = float(octaves())
    for _ in range(30):
        with tf.GradientTape() as tape:
            value = octaves()
        opt.apply_gradients(zip(tape.gradient(value, head.trainable_variables), head.trainable_variables))
    assert float(octaves()) < 0.3 * first


def test_two_stage_model_renders_each_speaker_from_its_own_mels_at_any_length():
    from wavebabble.models.two_stage import AssignChannels, build_two_stage

    from wavebabble.sample_noise import row_key, stream_key

    tf.keras.utils.set_random_seed(0)
    p = build_mel_planner(dim=2)
    for r in (build_mel_renderer(dim=2), build_mel_renderer(dim=2, harmonics=2)):
        g = build_two_stage(p, r)
        for n in (1, 3):
            z = tf.random.normal([2, n * PLAN_UPSAMPLE, NOISE_CH], seed=n)
            y = g(z).numpy()
            assert y.shape == (2, n * PLAN_UPSAMPLE * MEL_HOP, 2)
            mel = AssignChannels()([p(z), z])[..., MEL_BINS:]       # channel B's speaker
            if len(r.inputs) > 1:         # a noise source: channel B's noise keyed by the clip's noise and B
                key = stream_key(row_key(z), 1)
                mel = [mel, tf.stack([key, tf.zeros_like(key)], axis=1)]
            np.testing.assert_allclose(y[..., 1], r(mel).numpy()[..., 0], atol=1e-5)


def test_each_clip_puts_the_planners_speakers_on_the_channels_by_a_fair_coin_of_its_noise():
    from wavebabble.models.two_stage import AssignChannels

    layer = AssignChannels()
    z = tf.random.stateless_normal([64, 3, NOISE_CH], seed=[4, 2])
    mel = tf.random.stateless_normal([64, 5, 2 * MEL_BINS], seed=[4, 3])
    out = layer([mel, z]).numpy()
    swapped = np.concatenate([mel[..., MEL_BINS:], mel[..., :MEL_BINS]], axis=-1)
    kept = np.all(out == mel.numpy(), axis=(1, 2))
    assert np.all(kept | np.all(out == swapped, axis=(1, 2)))       # each row: as planned, or its speakers swapped
    assert 16 <= kept.sum() <= 48                                     # about half of 64 (p < 1e-4 outside)
    # a function of each clip's own noise: the same rows in another batch, alone or reordered, get the same order
    np.testing.assert_array_equal(layer([mel[5:6], z[5:6]]).numpy()[0], out[5])
    np.testing.assert_array_equal(layer([mel[::-1], z[::-1]]).numpy()[::-1], out)


def _run(module, *args):
    import subprocess

    import train_helpers

    return subprocess.run([train_helpers.PYTHON, "-m", module, *args], cwd=train_helpers.REPO,
                          env=train_helpers.env(), capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("module, extra, resume", [
    ("train.train_renderer", ["--window=1024", "--num_clips=2"], True),       # resuming: train.stage_loop, shared
    ("train.train_mel_gan", ["--slice_len=16384", "--num_clips=4", "--d_updates=1", "--loss=hinge"], False),
])
def test_two_stage_training_cli_trains_saves_and_resumes(tmp_path, module, extra, resume):
    import train_helpers

    data = train_helpers.write_dialogues(tmp_path / "data", seconds=9.0)
    args = [f"--logdir={tmp_path / 'run'}", f"--data_dir={data}", "--dim=2", "--batch_size=2", "--save_every=2",
            "--log_every=1", *extra]
    first = _run(module, *args, "--steps=3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "step 3/3" in first.stdout and "ETA" in first.stdout
    assert sorted(p.name for p in (tmp_path / "run" / "ckpt").glob("*.index")) == ["ckpt-2.index", "ckpt-3.index"]
    if module == "train.train_mel_gan":
        assert "g_syllable" in first.stdout     # the syllable critic is on by default
    if resume:
        second = _run(module, *args, "--steps=4")
        assert second.returncode == 0, second.stderr[-3000:]
        assert "at step 3" in second.stdout and "step 4/4" in second.stdout and "step 1/" not in second.stdout
        other = _run(module, *args, "--steps=5", "--harmonics=0")
        assert other.returncode != 0 and len(other.stderr.splitlines()) <= 3
        assert "trained with --harmonics=8" in other.stderr       # the default: train_renderer.DEFAULT_HARMONICS


def test_renderer_job_with_a_pitched_source_trains_its_head_and_saves_its_harmonics(tmp_path):
    from wavebabble.models.two_stage import restore_renderer, saved_renderer_harmonics

    import train_helpers

    data = train_helpers.write_dialogues(tmp_path / "data", seconds=9.0)
    res = _run("train.train_renderer", f"--logdir={tmp_path / 'run'}", f"--data_dir={data}", "--dim=2",
               "--batch_size=2", "--window=1024", "--num_clips=2", "--harmonics=4", "--steps=2", "--log_every=1")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "pitch targets:" in res.stdout and "voicing" in res.stdout and "octaves" in res.stdout
    ckpt = str(tmp_path / "run" / "ckpt" / "ckpt-2")
    assert saved_renderer_harmonics(ckpt) == 4
    from wavebabble.models.mel_renderer import renderer_harmonics

    assert renderer_harmonics(restore_renderer(ckpt, 2)) == 4


def test_resynthesize_cli_renders_real_clips_of_any_length_through_the_renderer(tmp_path):
    import soundfile as sf

    import train_helpers

    data = train_helpers.write_dialogues(tmp_path / "data", seconds=3.0)
    r_ck = tf.train.Checkpoint(renderer=build_mel_renderer(dim=2)).save(str(tmp_path / "r" / "ckpt"))
    res = _run("eval.resynthesize", f"--renderer={r_ck}", "--renderer_dim=2",
               f"--data_dir={data}", "--seconds=1", "--num=2", f"--out_dir={tmp_path / 'out'}")
    assert res.returncode == 0, res.stderr[-3000:]
    audio, sr = sf.read(tmp_path / "out" / "clip_0001.wav")
    assert sr == SR and audio.shape == (8 * PLAN_UPSAMPLE * MEL_HOP, 2)    # 1 s -> 8 planner steps of 0.128 s
    bad = _run("eval.resynthesize", f"--out_dir={tmp_path / 'x'}")
    assert bad.returncode != 0 and "--renderer" in bad.stderr


def test_icnr_starts_every_output_phase_alike():
    kernel = ICNR(4, seed=0)((8, 3, 5)).numpy()
    for phase in range(4):
        np.testing.assert_array_equal(kernel[phase], kernel[0])
        np.testing.assert_array_equal(kernel[4 + phase], kernel[4])
    assert not np.array_equal(kernel[0], kernel[4])
    # nearest-neighbour start: a constant input gives a constant output away from the edges (no checkerboard)
    layer = tf.keras.layers.Conv1DTranspose(3, 8, strides=4, padding="same", kernel_initializer=ICNR(4, seed=0))
    y = layer(np.ones((1, 16, 5), np.float32)).numpy()[0, 8:-8]
    np.testing.assert_allclose(y, np.broadcast_to(y[0], y.shape), atol=1e-5)


def test_held_transposed_conv_leaves_no_checkerboard_whatever_its_weights_and_reads_no_further_ahead():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 32, 5)).astype(np.float32)
    plain = tf.keras.layers.Conv1DTranspose(3, 8, strides=4, padding="same")
    held = HeldConv1DTranspose(3, 8, strides=4, padding="same")
    plain.build(x.shape), held.build(x.shape)
    held.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in plain.get_weights()])
    plain.set_weights(held.get_weights())
    # a constant input: the plain layer's random phases repeat every 4 samples, the held layer's output is flat
    ones = np.ones((1, 16, 5), np.float32)
    assert np.ptp(plain(ones).numpy()[0, 8:-8], axis=0).min() > 0.1
    y = held(ones).numpy()[0, 8:-8]
    np.testing.assert_allclose(y, np.broadcast_to(y[0], y.shape), atol=1e-5)
    # it is the plain layer's output averaged over each sample and the 3 before it
    p = np.pad(plain(x).numpy()[0], [[3, 0], [0, 0]])
    np.testing.assert_allclose(held(x).numpy()[0], (p[3:] + p[2:-1] + p[1:-2] + p[:-3]) / 4, atol=1e-5)
    # causal average: changing input step 20 changes nothing before the plain layer's first output it reaches
    x2 = x.copy()
    x2[0, 20] += 1.0
    first = np.flatnonzero(np.any(plain(x2).numpy()[0] != plain(x).numpy()[0], axis=-1))[0]
    changed = np.flatnonzero(np.any(held(x2).numpy()[0] != held(x).numpy()[0], axis=-1))
    assert changed[0] == first


def test_noise_excitation_splits_its_noise_by_voicing_at_absolute_samples():
    from wavebabble.models.harmonic_source import NoiseExcitation

    hop, edges = 8, 2
    voicing = np.array([[0.0, 0.0, 0.0, 1.0, 1.0, 0.25] * 20], np.float32)   # 2 edge frames, then the rest
    at = tf.constant([[3, 100]], tf.int64)
    layer = NoiseExcitation(hop, edges)
    y = layer([tf.constant(voicing), at]).numpy()[0]                          # [frames * hop, 2]
    assert y.shape == (voicing.shape[1] * hop, 2)
    unvoiced = layer([tf.zeros_like(voicing), at]).numpy()[0, :, 0]           # each branch's noise alone
    voiced = layer([tf.ones_like(voicing), at]).numpy()[0, :, 1]
    held = np.repeat(voicing[0], hop)                                          # voicing held over each hop
    np.testing.assert_allclose(y[:, 0], unvoiced * (1.0 - held), atol=1e-6)
    np.testing.assert_allclose(y[:, 1], voiced * held, atol=1e-6)
    assert 0.8 < unvoiced.std() < 1.2 and abs(np.corrcoef(unvoiced, voiced)[0, 1]) < 0.2
    # frames 1.. of the same signal, told they start one hop later: the same noise bit for bit
    later = layer([tf.constant(voicing[:, 1:]), at + [[0, hop]]]).numpy()[0]
    np.testing.assert_array_equal(later, y[hop:])


def test_linear_upsample_ramps_between_frame_centres():
    x = np.array([[[0.0], [1.0], [1.0], [0.0]]], np.float32)
    y = LinearUpsample1D(4)(x).numpy()[0, :, 0]
    np.testing.assert_allclose(y, [0, 0, .125, .375, .625, .875, 1, 1, 1, 1, .875, .625, .375, .125, 0, 0])


def test_a_renderer_checkpoint_of_another_shape_is_refused_naming_it_and_how_to_mend_it(tmp_path):
    from wavebabble.errors import ConfigError
    from wavebabble.models.two_stage import restore_renderer

    renderer = build_mel_renderer(dim=2, harmonics=2)
    path = tf.train.Checkpoint(renderer=renderer, harmonics=tf.Variable(2, dtype=tf.int64)).save(
        str(tmp_path / "ckpt"))
    assert restore_renderer(path, 2).count_params() == renderer.count_params()
    with pytest.raises(ConfigError, match=r"--renderer=.*ckpt-1: cannot restore .* train it again"):
        restore_renderer(path, 4)

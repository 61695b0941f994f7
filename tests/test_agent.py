"""The babbling agent (wavebabble.agent, models/responder.py, wavebabble.respond, train.train_responder): the
turn-taker is causal with its reaction delay, the streaming answer is the offline one, the export carries the
respond signature, and the CLI answers a partner or refuses bad input with one line naming the file."""
import re
import subprocess
import types

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

import train_helpers
from wavebabble.agent import AgentCore, StreamingAgent, agent_frames, normalize_level
from wavebabble.errors import AudioError, ConfigError
from wavebabble.export import export_two_stage
from wavebabble.mel import MEL_BINS, MEL_HOP
from wavebabble.models.continuer import build_continuer
from wavebabble.models.harmonic_source import frame_start_phases
from wavebabble.models.mel_planner import build_mel_planner
from wavebabble.models.mel_renderer import build_mel_renderer
from wavebabble.models.responder import (MEL_LOOKAHEAD_FRAMES, NOISE_HOLD_FRAMES, OFFLINE_DELAY_FRAMES,
                                         RECEPTIVE_FRAMES, RENDER_LOOKAHEAD_FRAMES, RESPONDER_NOISE_CH,
                                         RESPONSE_DELAY_FRAMES, STREAM_CHUNK_FRAMES, build_responder)
from wavebabble.respond import read_partner

DIM, RESPONDER_DIM = 2, 4
HARMONICS = 4           # the renderer's pitched source (its phase is what the streaming agent must carry)
# streamed vs offline answers: float rounding, and the source's phase integrates the pitch head's rounding (~1e-7
# relative): 1e-5 cycles after 9 s, which these random-weight renderers turn into up to ~4e-4 of amplitude
STREAM_ATOL = 1e-3
SR = 8000


def _speech_like(seconds: float, seed: int = 0, sr: int = SR) -> np.ndarray:
    """Mono bursts of noisy tone (0.4-1.5 s on, 0.2-0.8 s off), peak ~0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out, t = np.zeros(n, np.float32), 0.1
    while t < seconds:
        on = rng.uniform(0.4, 1.5)
        a, b = int(t * sr), min(n, int((t + on) * sr))
        k = np.arange(b - a) / sr
        out[a:b] = 0.3 * np.sin(2 * np.pi * 180 * k) + 0.1 * rng.standard_normal(b - a)
        t += on + rng.uniform(0.2, 0.8)
    return out


@pytest.fixture(scope="module")
def models():
    tf.keras.utils.set_random_seed(1)
    return (build_mel_planner(DIM), build_mel_renderer(DIM, HARMONICS), build_responder(RESPONDER_DIM),
            build_continuer(RESPONDER_DIM))


@pytest.fixture(scope="module")
def offline_responder():
    """Trained, as the offline responder shipped before the held noise, with white noise only."""
    tf.keras.utils.set_random_seed(2)
    return build_responder(RESPONDER_DIM, OFFLINE_DELAY_FRAMES, noise_hold_frames=0)


@pytest.fixture(scope="module")
def core(models):
    """An agent with the streaming responder only: respond answers as the streaming agent does."""
    return AgentCore(*models, -40.0, 3.0)


@pytest.fixture(scope="module")
def offline_core(models, offline_responder):
    return AgentCore(*models, -40.0, 3.0, offline_responder)


@pytest.fixture(scope="module")
def checkpoints(models, offline_responder, tmp_path_factory):
    """{job: checkpoint prefix} of the tiny random-weight models, saved as their jobs save them."""
    root = tmp_path_factory.mktemp("agent_ckpt")
    planner, renderer, responder, continuer = models
    frames = lambda n: tf.Variable(n, dtype=tf.int64)  # noqa: E731  (the jobs save their delay, noise hold, harmonics)
    return {"planner": tf.train.Checkpoint(planner=planner).save(str(root / "planner" / "ckpt")),
            "renderer": tf.train.Checkpoint(renderer=renderer, harmonics=frames(HARMONICS))
                        .save(str(root / "renderer" / "ckpt")),
            "responder": tf.train.Checkpoint(responder=responder, reaction_delay=frames(RESPONSE_DELAY_FRAMES),
                                             noise_hold_frames=frames(NOISE_HOLD_FRAMES))
                         .save(str(root / "responder" / "ckpt")),
            "offline": tf.train.Checkpoint(responder=offline_responder, reaction_delay=frames(OFFLINE_DELAY_FRAMES))
                         .save(str(root / "offline" / "ckpt")),
            "continuer": tf.train.Checkpoint(continuer=continuer).save(str(root / "continuer" / "ckpt"))}


@pytest.fixture(scope="module")
def export(checkpoints, tmp_path_factory):
    """Export dir of the tiny random-weight agent (both responders), exported from its jobs' checkpoints."""
    c = checkpoints
    return export_two_stage(c["planner"], c["renderer"], tmp_path_factory.mktemp("agent") / "export", planner_dim=DIM,
                            renderer_dim=DIM, responder_ckpt=c["responder"], responder_dim=RESPONDER_DIM,
                            continuer_ckpt=c["continuer"], continuer_dim=RESPONDER_DIM,
                            offline_responder_ckpt=c["offline"])


@pytest.mark.parametrize("delay", [RESPONSE_DELAY_FRAMES, OFFLINE_DELAY_FRAMES])
def test_responder_hears_the_partner_only_after_its_reaction_delay_and_its_noise_causally(delay):
    tf.keras.utils.set_random_seed(0)
    m = build_responder(RESPONDER_DIM, delay)
    rng = np.random.default_rng(0)
    vad = rng.random((1, 300, 1)).astype(np.float32)
    noise = rng.standard_normal((1, 300, RESPONDER_NOISE_CH)).astype(np.float32)
    base = m([vad, noise]).numpy()[0, :, 0]
    k = 100
    moved_vad = vad.copy()
    moved_vad[0, k] += 1.0
    changed = np.nonzero(np.abs(m([moved_vad, noise]).numpy()[0, :, 0] - base) > 0)[0]
    assert changed.min() == k + delay
    moved_noise = noise.copy()
    moved_noise[0, k] += 3.0
    changed = np.nonzero(np.abs(m([vad, moved_noise]).numpy()[0, :, 0] - base) > 0)[0]
    assert changed.min() == k


def test_renderer_reads_no_further_ahead_than_the_agents_render_lookahead(models):
    renderer = models[1]
    rng = np.random.default_rng(0)
    mel = rng.standard_normal((1, 64, MEL_BINS)).astype(np.float32)
    k = 40
    moved = mel.copy()
    moved[0, k] += 1.0
    at = tf.constant([[7, 0]], tf.int64)             # the same noise for both (by default it follows the mels)
    render = lambda m: renderer([tf.constant(m), at]).numpy()[0, :, 0]
    diff = np.abs(render(moved) - render(mel))
    first_changed_frame = np.nonzero(diff > 0)[0].min() // MEL_HOP
    assert first_changed_frame >= k - RENDER_LOOKAHEAD_FRAMES


@pytest.mark.parametrize("chunk", [STREAM_CHUNK_FRAMES * MEL_HOP, 1000, 37])
def test_streaming_answer_equals_the_offline_answer_to_the_last_sample(core, chunk):
    partner, _ = normalize_level(_speech_like(9.3 if chunk > 100 else 2.1))
    offline = core.respond(tf.constant(partner), tf.constant(5, tf.int64))
    assert offline["agent"].shape[0] == len(partner)
    stream = StreamingAgent(core, seed=5)
    pieces = [stream.push(partner[i:i + chunk]) for i in range(0, len(partner), chunk)] + [stream.finish()]
    online = np.concatenate(pieces)[:len(partner)]
    assert len(online) == len(partner)
    np.testing.assert_allclose(online, offline["agent"].numpy(), atol=STREAM_ATOL)
    # the source's phases it kept are the whole answer's
    whole = frame_start_phases(core.pitch(tf.constant(stream._gate), tf.constant(stream._voice)), MEL_HOP, SR)
    wrapped = (stream._start - whole.numpy()[:len(stream._start)] + 0.5) % 1.0 - 0.5
    assert len(stream._start) == len(stream._gate) and np.abs(wrapped).max() < 1e-4
    # each chunk's answer is due before the partner gets there: the stream runs ahead of what it heard
    heard = StreamingAgent(core, seed=5)
    assert len(heard.push(partner[:STREAM_CHUNK_FRAMES * MEL_HOP * 3])) >= STREAM_CHUNK_FRAMES * MEL_HOP * 4


def test_streaming_with_a_renderer_without_a_source_equals_offline_within_rounding(models):
    planner, _, responder, continuer = models
    tf.keras.utils.set_random_seed(4)
    plain = AgentCore(planner, build_mel_renderer(DIM), responder, continuer, -40.0, 3.0)
    assert not hasattr(plain, "render_from")
    partner, _ = normalize_level(_speech_like(3.1))
    offline = plain.respond(tf.constant(partner), tf.constant(5, tf.int64))["agent"].numpy()
    np.testing.assert_allclose(_streamed(plain, partner, 1000), offline, atol=1e-4)


def test_different_seeds_give_different_answers_and_a_seed_the_same_one(core):
    partner, _ = normalize_level(_speech_like(3.0))
    a = core.respond(tf.constant(partner), tf.constant(1, tf.int64))["agent"].numpy()
    b = core.respond(tf.constant(partner), tf.constant(1, tf.int64))["agent"].numpy()
    c = core.respond(tf.constant(partner), tf.constant(2, tf.int64))["agent"].numpy()
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3
    # the renderer's noise source follows the seed too: the same gate and voice, another seed, other noise
    gate, voice = tf.ones([60]), core.voice(tf.constant(0, tf.int64), tf.constant(60, tf.int32),
                                            tf.constant(1, tf.int64))
    same = [core.render(gate, voice, tf.constant(s, tf.int64)).numpy() for s in (1, 1, 2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert np.abs(same[0] - same[2]).max() > 1e-4


def test_an_export_whose_render_takes_no_seed_is_refused_in_one_line(core):
    from wavebabble.agent import continue_dialogue

    old = types.SimpleNamespace(**{k: getattr(core, k) for k in ("response_delay_frames", "receptive_frames",
                                                                   "continue_vad")})
    old.render = types.SimpleNamespace(input_signature=core.render.input_signature[:2])   # (gate, voice)
    for call in (lambda: StreamingAgent(old), lambda: continue_dialogue(old, np.zeros((800, 2), np.float32), 800)):
        with pytest.raises(ConfigError, match="renders without a noise seed.*export it again"):
            call()
    StreamingAgent(core)                                  # today's: accepted


def test_normalize_level_sets_the_training_peak_and_leaves_silence_alone():
    x, gain = normalize_level(np.array([0.0, 0.1, -0.2], np.float32))
    assert np.abs(x).max() == pytest.approx(0.9) and gain == pytest.approx(4.5)
    both, g2 = normalize_level(np.array([[0.1, -0.3], [0.2, 0.0]], np.float32))   # a stereo prompt: one gain
    assert g2 == pytest.approx(3.0) and both[0, 1] == pytest.approx(-0.9) and both[1, 0] == pytest.approx(0.6)
    z, g = normalize_level(np.zeros(10, np.float32))
    assert g == 1.0 and not z.any()


def _streamed(agent, partner, chunk, **kwargs):
    stream = StreamingAgent(agent, seed=5, **kwargs)
    return np.concatenate([stream.push(partner[i:i + chunk]) for i in range(0, len(partner), chunk)]
                          + [stream.finish()])[:len(partner)]


def test_export_carries_the_respond_signature_and_the_streaming_steps(export, core, offline_core):
    loaded = tf.saved_model.load(export)
    partner, _ = normalize_level(_speech_like(2.0))
    out = loaded.signatures["respond"](partner=tf.constant(partner), seed=tf.constant(5, tf.int64))
    # respond answers with the offline responder; the streaming agent with the streaming one
    ref = offline_core.respond(tf.constant(partner), tf.constant(5, tf.int64))
    np.testing.assert_allclose(out["agent"].numpy(), ref["agent"].numpy(), atol=1e-5)
    assert out["partner_vad"].shape[0] == out["agent_gate"].shape[0] == -(-len(partner) // MEL_HOP)
    streaming_ref = core.respond(tf.constant(partner), tf.constant(5, tf.int64))["agent"].numpy()
    np.testing.assert_allclose(_streamed(loaded.agent, partner, 1040), streaming_ref, atol=STREAM_ATOL)
    assert np.abs(streaming_ref - ref["agent"].numpy()).max() > 1e-3
    # the offline answer in blocks (respond's long partners) is the one-call answer
    np.testing.assert_allclose(_streamed(loaded.agent, partner, 3000, offline=True), ref["agent"].numpy(),
                               atol=STREAM_ATOL)
    # the streaming bookkeeping reads the responders' delays and receptive field from the export itself
    assert agent_frames(loaded.agent) == (RESPONSE_DELAY_FRAMES, RECEPTIVE_FRAMES, STREAM_CHUNK_FRAMES)
    assert agent_frames(loaded.agent, offline=True) == (
        OFFLINE_DELAY_FRAMES, RECEPTIVE_FRAMES, OFFLINE_DELAY_FRAMES - MEL_LOOKAHEAD_FRAMES - RENDER_LOOKAHEAD_FRAMES)
    with pytest.raises(ConfigError, match="export it again"):
        StreamingAgent(types.SimpleNamespace(respond=loaded.agent.respond))
    # the continuer travels with it: the same draws from the same prompt VAD and seed
    heard = (np.random.default_rng(0).random((300, 2)) < 0.5).astype(np.float32)
    args = (tf.constant(heard), tf.constant(50), tf.constant(3, tf.int64))
    np.testing.assert_array_equal(loaded.agent.continue_vad(*args).numpy(), core.continue_vad(*args).numpy())


def test_export_refuses_an_offline_responder_as_the_streaming_one(checkpoints, tmp_path):
    c = checkpoints
    common = dict(planner_dim=DIM, renderer_dim=DIM, responder_dim=RESPONDER_DIM, continuer_dim=RESPONDER_DIM)
    with pytest.raises(ConfigError, match="offline.*too short to answer a stream.*--offline_responder"):
        export_two_stage(c["planner"], c["renderer"], tmp_path / "x", responder_ckpt=c["offline"],
                         continuer_ckpt=c["continuer"], **common)
    with pytest.raises(ConfigError, match="--offline_responder goes with --responder"):
        export_two_stage(c["planner"], c["renderer"], tmp_path / "x", offline_responder_ckpt=c["offline"], **common)
    assert not (tmp_path / "x").exists()


def _write(path, audio, sr=SR):
    sf.write(str(path), audio, sr, subtype="PCM_16")
    return path


def test_read_partner_refuses_bad_input_naming_the_file(tmp_path):
    speech = _speech_like(2.0)
    with pytest.raises(AudioError, match="missing.wav"):
        read_partner(tmp_path / "missing.wav", None)
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty.wav"):
        read_partner(tmp_path / "empty.wav", None)
    silent = _write(tmp_path / "silent.wav", np.zeros(SR * 2, np.float32))
    with pytest.raises(AudioError, match="silent.wav.*no speech"):
        read_partner(silent, None)
    stereo = _write(tmp_path / "stereo.wav", np.stack([speech, np.zeros_like(speech)], -1))
    with pytest.raises(AudioError, match="stereo.wav.*--partner_channel"):
        read_partner(stereo, None)
    with pytest.raises(AudioError, match="stereo.wav.*no speech"):
        read_partner(stereo, 1)
    with pytest.raises(AudioError, match="partner_channel=2"):
        read_partner(stereo, 2)
    three = _write(tmp_path / "three.wav", np.stack([speech] * 3, -1))
    with pytest.raises(AudioError, match="three.wav.*3 channels"):
        read_partner(three, 0)
    got, sr = read_partner(stereo, 0)
    assert sr == SR and got.shape == speech.shape


def _respond(*args):
    return subprocess.run([train_helpers.PYTHON, "-m", "wavebabble.respond", *args], cwd=train_helpers.REPO,
                          env=train_helpers.env(), capture_output=True, text=True, timeout=300)


def test_respond_cli_keeps_the_partner_unchanged_at_its_rate_offline_and_streaming(export, tmp_path):
    sr = 16000
    partner = _speech_like(3.0, seed=3, sr=sr)
    src = _write(tmp_path / "partner.wav", partner, sr)
    offline, online = tmp_path / "answer.wav", tmp_path / "answer_stream.wav"
    first = _respond(f"--partner={src}", f"--out={offline}", f"--model={export}")
    assert first.returncode == 0, first.stderr[-3000:]
    second = _respond(f"--partner={src}", f"--out={online}", f"--model={export}", "--streaming")
    assert second.returncode == 0, second.stderr[-3000:]
    chunk_ms = STREAM_CHUNK_FRAMES * MEL_HOP * 1000 // SR
    assert f"per {chunk_ms} ms chunk: median" in second.stdout and "real-time factor" in second.stdout
    a, a_sr = sf.read(str(offline), dtype="float32")
    b, _ = sf.read(str(online), dtype="float32")
    original, _ = sf.read(str(src), dtype="float32")
    assert a_sr == sr and a.shape == (len(partner), 2)
    np.testing.assert_array_equal(a[:, 0], original)            # the partner, bit for bit
    assert np.abs(a[:, 1]).max() > 0                             # the agent's channel
    np.testing.assert_array_equal(b[:, 0], original)
    # offline and streaming answers come from the two turn-takers (the API-level equalities: the export test)
    assert np.abs(b[:, 1]).max() > 0 and np.abs(a[:, 1] - b[:, 1]).max() > 1e-3
    from wavebabble.respond import respond

    with pytest.raises(ConfigError, match="already exists"):
        respond(src, offline, model_dir=export)


def test_respond_refuses_a_model_without_the_agent_and_a_silent_partner_in_one_line(tmp_path):
    from wavebabble.respond import load_agent, respond

    tf.keras.utils.set_random_seed(0)
    p = tf.train.Checkpoint(planner=build_mel_planner(DIM)).save(str(tmp_path / "p" / "ckpt"))
    r = tf.train.Checkpoint(renderer=build_mel_renderer(DIM)).save(str(tmp_path / "r" / "ckpt"))
    plain = export_two_stage(p, r, tmp_path / "plain", planner_dim=DIM, renderer_dim=DIM)
    with pytest.raises(ConfigError, match="no agent"):
        load_agent(plain)
    src = _write(tmp_path / "partner.wav", _speech_like(1.0))
    with pytest.raises(ConfigError, match="no agent"):
        respond(src, tmp_path / "x.wav", model_dir=plain)
    silent = _write(tmp_path / "silent.wav", np.zeros(SR, np.float32))
    res = _respond(f"--partner={silent}", f"--out={tmp_path / 'y.wav'}", f"--model={plain}")
    assert res.returncode != 0 and "silent.wav" in res.stderr and "no speech" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) <= 2, res.stderr
    assert not (tmp_path / "x.wav").exists() and not (tmp_path / "y.wav").exists()


def test_train_responder_trains_saves_and_resumes(tmp_path):
    data = train_helpers.write_dialogues(tmp_path / "data", seconds=9.0)
    tf.keras.utils.set_random_seed(0)
    planner = tf.train.Checkpoint(planner=build_mel_planner(DIM)).save(str(tmp_path / "planner" / "ckpt"))
    args = [f"--logdir={tmp_path / 'run'}", f"--data_dir={data}", f"--planner={planner}", f"--planner_dim={DIM}",
            "--dim=4", "--batch_size=2", "--slice_len=16384", "--num_clips=4", "--save_every=2", "--log_every=1"]
    run = lambda *extra: subprocess.run([train_helpers.PYTHON, "-m", "train.train_responder", *args, *extra],  # noqa: E731
                                        cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True,
                                        text=True, timeout=300)
    first = run("--steps=3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "step 3/3" in first.stdout and "g_timing" in first.stdout and "gate_mean" in first.stdout
    assert not re.search(r"^I\d{4} ", first.stderr, re.M), first.stderr    # no absl INFO lines (checkpoint saves)
    second = run("--steps=4")
    assert second.returncode == 0 and "at step 3" in second.stdout and "step 4/4" in second.stdout
    from train.train_responder import MODES
    from wavebabble.models.responder import REACTION_DELAYS

    assert MODES == tuple(REACTION_DELAYS)
    other_mode = run("--steps=5", "--mode=offline")       # the run was trained with the streaming delay
    assert other_mode.returncode != 0 and "--mode=offline" in other_mode.stderr
    assert "reaction delay of 24 frames" in other_mode.stderr and "Traceback" not in other_mode.stderr
    from absl import app

    from train.train_responder import check_resumed_setup
    from wavebabble.models.two_stage import saved_responder_setup

    assert saved_responder_setup(tf.train.latest_checkpoint(tmp_path / "run" / "ckpt")) == (RESPONSE_DELAY_FRAMES,
                                                                                             NOISE_HOLD_FRAMES)
    white = tf.train.Checkpoint(reaction_delay=tf.Variable(RESPONSE_DELAY_FRAMES, dtype=tf.int64))   # a run before
    white.save(str(tmp_path / "white" / "ckpt" / "ckpt"))                                           # the held noise
    with pytest.raises(app.UsageError, match="noise held over 0 frames"):
        check_resumed_setup(str(tmp_path / "white"), RESPONSE_DELAY_FRAMES, NOISE_HOLD_FRAMES)
    bad = subprocess.run([train_helpers.PYTHON, "-m", "train.train_responder", f"--logdir={tmp_path / 'r2'}",
                          f"--data_dir={data}", f"--planner={tmp_path / 'nope' / 'ckpt-1'}", "--steps=1"],
                         cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "--planner=" in bad.stderr and "Traceback" not in bad.stderr


def test_train_continuer_trains_saves_and_resumes(tmp_path):
    data = train_helpers.write_dialogues(tmp_path / "data", seconds=9.0)
    args = [f"--data_dir={data}", "--dim=4", "--batch_size=2", "--clip_seconds=12", "--save_every=2",
            "--log_every=1"]
    run = lambda *extra: subprocess.run([train_helpers.PYTHON, "-m", "train.train_continuer", *args, *extra],  # noqa: E731
                                        cwd=train_helpers.REPO, env=train_helpers.env(), capture_output=True,
                                        text=True, timeout=300)
    first = run(f"--logdir={tmp_path / 'run'}", "--steps=3")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "step 3/3" in first.stdout and "bce" in first.stdout and "crops of 1500 frames" in first.stdout
    second = run(f"--logdir={tmp_path / 'run'}", "--steps=4")
    assert second.returncode == 0 and "at step 3" in second.stdout and "step 4/4" in second.stdout
    restored = tf.train.Checkpoint(continuer=build_continuer(4)).restore(str(tmp_path / "run" / "ckpt" / "ckpt-4"))
    restored.expect_partial().assert_existing_objects_matched()
    bad = run(f"--logdir={tmp_path / 'r2'}", "--clip_seconds=0", "--steps=1")
    assert bad.returncode != 0 and "--clip_seconds=0" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "r2").exists()


def test_continue_dialogue_goes_on_from_the_prompt_for_both_speakers(core):
    from wavebabble.agent import continue_dialogue

    a, b = _speech_like(4.0, seed=1), _speech_like(4.0, seed=2)
    prompt = np.stack([a, b], -1)
    out = continue_dialogue(core, prompt, 8000 * 3 + 5, seed=3)
    assert out.shape == (8000 * 3 + 5, 2) and np.isfinite(out).all()
    assert np.abs(out[:, 0]).max() > 0 and np.abs(out[:, 1]).max() > 0
    np.testing.assert_array_equal(out, continue_dialogue(core, prompt, 8000 * 3 + 5, seed=3))
    # the speakers listen to the prompt: another prompt changes what follows it
    other = continue_dialogue(core, prompt[:, ::-1].copy(), 8000 * 3 + 5, seed=3)
    assert np.abs(other - out).max() > 1e-4
    with pytest.raises(ConfigError, match="no continuer"):
        continue_dialogue(types.SimpleNamespace(respond=core.respond), prompt, 800)


def _continue(*args):
    return subprocess.run([train_helpers.PYTHON, "-m", "wavebabble.continuation", *args], cwd=train_helpers.REPO,
                          env=train_helpers.env(), capture_output=True, text=True, timeout=300)


def test_continuation_cli_writes_the_prompt_then_the_continuation_and_refuses_bad_input(export, tmp_path):
    sr = 16000
    prompt = np.stack([_speech_like(2.0, seed=4, sr=sr), _speech_like(2.0, seed=5, sr=sr)], -1)
    src = _write(tmp_path / "prompt.wav", prompt, sr)
    out = tmp_path / "out.wav"
    res = _continue(f"--prompt={src}", "--seconds=1.5", f"--out={out}", f"--model={export}")
    assert res.returncode == 0, res.stderr[-3000:]
    got, got_sr = sf.read(str(out), dtype="float32")
    original, _ = sf.read(str(src), dtype="float32")
    assert got_sr == sr and got.shape == (len(prompt) + int(1.5 * sr), 2)
    np.testing.assert_array_equal(got[:len(prompt)], original)
    assert np.abs(got[len(prompt):]).max() > 0
    mono = _write(tmp_path / "mono.wav", prompt[:, 0], sr)
    res = _continue(f"--prompt={mono}", "--seconds=1", f"--out={tmp_path / 'bad.wav'}", f"--model={export}")
    assert res.returncode != 0 and "mono.wav" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 2, res.stderr
    from wavebabble.continuation import continuation

    silent = _write(tmp_path / "silent.wav", np.zeros((sr, 2), np.float32), sr)
    cases = [(silent, 1.0, tmp_path / "bad.wav", AudioError, "silent.wav.*no speech"),
             (tmp_path / "missing.wav", 1.0, tmp_path / "bad.wav", AudioError, "missing.wav"),
             (src, -1.0, tmp_path / "bad.wav", ConfigError, "--seconds=-1"),
             (src, 1e9, tmp_path / "bad.wav", ConfigError, "--seconds=1e[+]09"),
             (src, float("nan"), tmp_path / "bad.wav", ConfigError, "--seconds=nan"),
             (src, 1.0, out, ConfigError, "already exists")]
    for path, seconds, target, error, message in cases:
        with pytest.raises(error, match=message):
            continuation(path, target, seconds, model_dir=export)
    assert not (tmp_path / "bad.wav").exists()

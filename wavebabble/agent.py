"""The babbling agent: answers a partner's speech with the two-stage generator's voice, at human turn timing.

    AgentCore(planner, renderer, responder, continuer, vad_threshold_db, vad_temperature_db, offline_responder)
        a tf.Module; the same functions are exported into the two-stage SavedModel (wavebabble.export), so callers
        use either:
      respond(partner [S], seed)         -> {agent [S], partner_vad [frames], agent_gate [frames]}   (offline: the
                                            offline responder's answer, the streaming one's without it)
      partner_vad(segment [S])           -> [S // MEL_HOP]   soft VAD of a level-normalised 8 kHz segment
      gate(partner_vad [n], first_frame, seed) -> [n]        the (streaming) responder on a window of frames
      gate_offline(partner_vad [n], first_frame, seed) -> [n]   the offline responder (the same as gate without one)
      voice(first_frame, num_frames, seed)     -> [num_frames, MEL_BINS]   the agent's voice features
      render(gate [n], voice [n, MEL_BINS], seed) -> [n * MEL_HOP]         gated mels -> waveform
      pitch(gate [n], voice [n, MEL_BINS])     -> [n]   the renderer's source f0 (Hz) of those frames   } a renderer
      render_from(gate [n], voice [n, MEL_BINS], start [n], first_frame, seed) -> [n * MEL_HOP]      } with a
                                           render of frames first_frame .. + n, the source's frame  } source
                                           start phases given (a window of a longer answer)         }
      continue_vad(prompt_vad [n, 2], num_frames, seed) -> [num_frames, 2]  both speakers' VAD going on from a
                                                          prompt's (the continuer, models/continuer.py)
      response_delay_frames, receptive_frames   int64 scalar variables, the responder's (reaction_frames)
      offline_delay_frames, offline_receptive_frames   the same of the offline responder
    agent_frames(core, offline=False) -> (delay, receptive, chunk) frames: what the streaming steps go by
    StreamingAgent(core, seed, offline=False).push(partner_chunk) -> the agent's next samples; .finish() -> the rest
        (offline=True: the offline responder's answer, in blocks: how respond answers long partners)
    continue_dialogue(core, prompt [n, 2], num_samples, seed) -> [num_samples, 2]   both speakers go on
    normalize_level(audio) -> (audio * gain, gain)   the training data's level (data.TARGET_PEAK peak)

All audio is mono float32 at MEL_SAMPLE_RATE (8 kHz); frames are mel frames (MEL_HOP samples, 125 per second).
The agent's answer to a partner: the partner's soft VAD (mel.mel_soft_vad of its log-mels, the turn-timing D's
measure) -> the responder's gate (models/responder.py: causal, the partner heard with its reaction delay,
agent_frames) -> the gate opens voice features the planner makes from the agent's own noise (mel_planner.voice_model:
speaker B's channel), over the planner's silence floor -> the renderer. Two responders: the streaming one hears the
partner 192 ms late (a chunk plus the look-aheads, so each chunk is answered before it is due); the offline one,
for whole recordings, 24 ms late (models/responder.py OFFLINE_DELAY_FRAMES), which times turns better.
Noise is a function of (seed, absolute frame) (wavebabble.frame_noise: each responder's the noise it was trained
with, its slow channels held over blocks of absolute frames), so a window of frames gets the same noise whichever
call asks for it. That is what makes the streaming agent's answer the offline one: each chunk recomputes only
windows whose outputs depend on frames already heard (the responder's receptive field plus its delay on the left;
the planner's VOICE_MARGIN_FRAMES on both sides, on the planner's PLAN_UPSAMPLE grid; the renderer's
RENDER_LOOKAHEAD_FRAMES on the right). A renderer with a pitched source (models/mel_renderer.py) integrates its
phase from the answer's first frame: the streaming agent keeps the source's frame start phases (from `pitch`, which
is causal: final once a frame is known) and renders each window from them (`render_from`); the source's noise is a
function of (seed, absolute sample) (wavebabble.sample_noise, keyed by seed_key(seed)), so a window given its first
frame gets the whole answer's noise. The two are equal within float rounding, to the last sample (with a source,
that rounding also adds up in the phase: ~1e-5 cycles after 9 s).
"""
from __future__ import annotations

import types

import numpy as np
import tensorflow as tf

from wavebabble.data import TARGET_PEAK
from wavebabble.errors import ConfigError
from wavebabble.mel import MEL_BINS, MEL_FFT, MEL_HOP, MEL_SAMPLE_RATE, log_mel, mel_soft_vad
from wavebabble.models.continuer import SPEECH, ContinuerSteps, sample_continuation
from wavebabble.models.harmonic_source import frame_start_phases
from wavebabble.models.mel_planner import NOISE_CH, PLAN_UPSAMPLE, gate_voice, voice_model
from wavebabble.models.mel_renderer import (PITCH_RECEPTIVE_FRAMES, noise_at, phased_renderer, pitch_model,
                                            renderer_harmonics)
from wavebabble.frame_noise import PLANNER_STREAM, block_noise, responder_noise
from wavebabble.models.responder import RENDER_LOOKAHEAD_FRAMES, reaction_frames, stream_chunk_frames
from wavebabble.sample_noise import seed_key

VOICE_MARGIN_FRAMES = 256        # the planner's voice at frame t reads its noise within t-243 .. t+228 (measured)
AGENT_CHANNEL = 1                # the planner speaker whose voice the agent speaks with (B)
MEL_CONTEXT_FRAMES = 2           # frames of audio either side of a segment whose partner VAD is computed
RENDER_CONTEXT_FRAMES = RENDER_LOOKAHEAD_FRAMES + PITCH_RECEPTIVE_FRAMES - 1   # mel frames left of a rendered
                                 # window (24): the renderer reads ~10 back (its source ~5, to frames whose
                                 # pitch reads 16 back)
MIN_PEAK = 1e-4                  # a partner quieter than this everywhere is silence (normalize_level)


def normalize_level(audio: np.ndarray) -> tuple[np.ndarray, float]:
    """Audio (a mono partner [n], or a stereo prompt [n, 2]: one gain for all channels) -> (audio * gain, gain)
    with peak TARGET_PEAK, the level of the clips the agent learned from (data.normalize_clip); gain 1 for an
    all-silent input (peak below MIN_PEAK)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    gain = TARGET_PEAK / peak if peak >= MIN_PEAK else 1.0
    return (audio * gain).astype(np.float32), gain


class AgentCore(tf.Module):
    """The agent's functions over its Keras models: the planner (its voice), the renderer, the responder (answers)
    and the continuer (continuations); see the module docstring."""

    def __init__(self, planner, renderer, responder, continuer, vad_threshold_db: float, vad_temperature_db: float,
                 offline_responder=None):
        """continuer None: no continue_vad (an agent that only answers, e.g. to choose a responder checkpoint);
        offline_responder None: respond answers with the streaming responder (as the streaming agent does)."""
        super().__init__(name="agent")
        # The Keras models are not tracked: only the variables the traced functions read are (agent_variables),
        # as in wavebabble.export.
        offline_responder = responder if offline_responder is None else offline_responder
        self._models = types.SimpleNamespace(voice=voice_model(planner), renderer=renderer, responder=responder,
                                             offline_responder=offline_responder,
                                             continuer=None if continuer is None else ContinuerSteps(continuer))
        self.floor = tf.Variable(planner.get_layer("gated_mel").floor.numpy(), trainable=False, name="floor")
        delay, receptive = reaction_frames(responder)    # saved with the export: the streaming steps' bookkeeping
        self.response_delay_frames = tf.Variable(delay, dtype=tf.int64, trainable=False, name="response_delay_frames")
        self.receptive_frames = tf.Variable(receptive, dtype=tf.int64, trainable=False, name="receptive_frames")
        delay, receptive = reaction_frames(offline_responder)
        self.offline_delay_frames = tf.Variable(delay, dtype=tf.int64, trainable=False, name="offline_delay_frames")
        self.offline_receptive_frames = tf.Variable(receptive, dtype=tf.int64, trainable=False,
                                                    name="offline_receptive_frames")
        self._vad = (float(vad_threshold_db), float(vad_temperature_db))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="segment")])
        def partner_vad(segment):
            """Level-normalised 8 kHz audio [S] (S a multiple of MEL_HOP) -> soft VAD [S // MEL_HOP]."""
            return mel_soft_vad(log_mel(segment[None], MEL_SAMPLE_RATE), 1, *self._vad)[0, :, 0]

        @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="first_frame"),
                                      tf.TensorSpec([], tf.int32, name="num_frames"),
                                      tf.TensorSpec([], tf.int64, name="seed"),
                                      tf.TensorSpec([], tf.int64, name="stream"),
                                      tf.TensorSpec([], tf.int32, name="channels")])
        def noise(first_frame, num_frames, seed, stream, channels):
            """[num_frames, channels] standard normal noise of frames first_frame.. (frame_noise.block_noise)."""
            return block_noise(first_frame, num_frames, seed, stream, channels)

        def responder_gate(model, partner_vad, first_frame, seed):
            n = tf.shape(partner_vad)[0]
            z = responder_noise(first_frame, n, seed, model.noise_hold_frames)
            return model([partner_vad[None, :, None], z[None]])[0, :, 0]

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="partner_vad"),
                                      tf.TensorSpec([], tf.int64, name="first_frame"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def gate(partner_vad, first_frame, seed):
            """The streaming responder's gate [n] for frames first_frame .. + n, given the partner's VAD on them [n]."""
            return responder_gate(self._models.responder, partner_vad, first_frame, seed)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="partner_vad"),
                                      tf.TensorSpec([], tf.int64, name="first_frame"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def gate_offline(partner_vad, first_frame, seed):
            """The offline responder's gate [n] (gate's, for an agent without one)."""
            return responder_gate(self._models.offline_responder, partner_vad, first_frame, seed)

        @tf.function(input_signature=[tf.TensorSpec([], tf.int64, name="first_frame"),
                                      tf.TensorSpec([], tf.int32, name="num_frames"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def voice(first_frame, num_frames, seed):
            """The agent's voice features [num_frames, MEL_BINS] of frames first_frame .. + num_frames (the
            planner run on a window with VOICE_MARGIN_FRAMES either side, on its PLAN_UPSAMPLE grid)."""
            grid = tf.constant(PLAN_UPSAMPLE, tf.int64)
            start = tf.maximum(first_frame - VOICE_MARGIN_FRAMES, 0) // grid * grid
            end = first_frame + tf.cast(num_frames, tf.int64) + VOICE_MARGIN_FRAMES
            end = (end + grid - 1) // grid * grid
            z = noise(start, tf.cast(end - start, tf.int32), seed, tf.constant(PLANNER_STREAM, tf.int64), NOISE_CH)
            v = self._models.voice(z[None])[0, :, AGENT_CHANNEL * MEL_BINS:(AGENT_CHANNEL + 1) * MEL_BINS]
            return v[first_frame - start:first_frame - start + tf.cast(num_frames, tf.int64)]

        def gated_mel(gate, voice):
            """gate [n], voice [n, MEL_BINS] -> the renderer's input [1, n, MEL_BINS] (the planner's gating)."""
            return gate_voice(voice[None], gate[None, :, None], self.floor)

        harmonics = renderer_harmonics(renderer)
        if harmonics:
            phased, head = phased_renderer(renderer), pitch_model(renderer)

        def seeded_noise_at(first_frame, seed):
            """The renderer's noise_at [1, 2]: the seed's key, the absolute sample of frame first_frame."""
            return noise_at(seed_key(seed)[None], tf.cast(first_frame, tf.int64) * MEL_HOP)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="gate"),
                                      tf.TensorSpec([None, MEL_BINS], tf.float32, name="voice"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def render(gate, voice, seed):
            """Gated voice -> the agent's waveform [n * MEL_HOP] in [-1, 1]; a source's phase integrated from frame
            0 (frame_start_phases of its pitch: what the streaming agent's render_from windows are given), its
            noise the seed's from sample 0 (a renderer without a source has no noise: the seed is unused)."""
            mel = gated_mel(gate, voice)
            if not harmonics:
                return tf.clip_by_value(self._models.renderer(mel)[0, :, 0], -1.0, 1.0)
            start = tf.cast(frame_start_phases(head(mel)[0, :, 0], MEL_HOP, MEL_SAMPLE_RATE), tf.float32)
            return tf.clip_by_value(phased([mel, start[None], seeded_noise_at(0, seed)])[0, :, 0], -1.0, 1.0)

        if harmonics:
            @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="gate"),
                                          tf.TensorSpec([None, MEL_BINS], tf.float32, name="voice")])
            def pitch(gate, voice):
                """The renderer source's f0 [n] (Hz) of the gated voice's frames; causal: frame t reads frames
                t - PITCH_RECEPTIVE_FRAMES + 1 .. t."""
                return head(gated_mel(gate, voice))[0, :, 0]

            @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="gate"),
                                          tf.TensorSpec([None, MEL_BINS], tf.float32, name="voice"),
                                          tf.TensorSpec([None], tf.float32, name="start"),
                                          tf.TensorSpec([], tf.int64, name="first_frame"),
                                          tf.TensorSpec([], tf.int64, name="seed")])
            def render_from(gate, voice, start, first_frame, seed):
                """render of frames first_frame .. + n of an answer, the source's frame start phases [n] (cycles)
                given."""
                mel = gated_mel(gate, voice)
                audio = phased([mel, start[None], seeded_noise_at(first_frame, seed)])[0, :, 0]
                return tf.clip_by_value(audio, -1.0, 1.0)

            self.pitch, self.render_from = pitch, render_from

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="partner"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def respond(partner, seed):
            """Level-normalised 8 kHz partner audio [S] -> {agent [S], partner_vad [frames], agent_gate [frames]}
            (frames = ceil(S / MEL_HOP)); the agent's audio is at the partner's normalised level."""
            length = tf.shape(partner)[0]
            frames = (length + MEL_HOP - 1) // MEL_HOP
            heard = partner_vad(tf.pad(partner, [[0, frames * MEL_HOP - length]]))
            # the renderer reads RENDER_LOOKAHEAD_FRAMES of gate past the end: the partner is silent there (the
            # streaming responder never reads that padding: it is behind its delay)
            ahead = frames + RENDER_LOOKAHEAD_FRAMES
            g = gate_offline(tf.pad(heard, [[0, RENDER_LOOKAHEAD_FRAMES]]), tf.constant(0, tf.int64), seed)
            agent = render(g, voice(tf.constant(0, tf.int64), ahead, seed), seed)[:length]
            return {"agent": agent, "partner_vad": heard, "agent_gate": g[:frames]}

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="prompt_vad"),
                                      tf.TensorSpec([], tf.int32, name="num_frames"),
                                      tf.TensorSpec([], tf.int64, name="seed")])
        def continue_vad(prompt_vad, num_frames, seed):
            """Both speakers' VAD [num_frames, 2] in {0, 1} going on from a prompt's [n, 2] in {0, 1}
            (continuer.sample_continuation)."""
            return sample_continuation(self._models.continuer, prompt_vad, num_frames, seed)

        self.partner_vad, self.noise, self.gate, self.gate_offline, self.voice = (partner_vad, noise, gate,
                                                                                  gate_offline, voice)
        if continuer is not None:
            self.continue_vad = continue_vad
        self.render, self.respond = render, respond
        self.agent_variables = list(respond.get_concrete_function().variables) + list(
            gate.get_concrete_function().variables) + (
            list(continue_vad.get_concrete_function().variables) if continuer is not None else [])


class AgentFrames(tuple):
    """(delay, receptive, chunk): an agent's reaction delay and its responder's receptive field in frames, and the
    longest partner chunk (frames) its streaming steps answer before it is due: the delay less the spectrogram's
    and the renderer's look-ahead."""

    delay = property(lambda self: self[0])
    receptive = property(lambda self: self[1])
    chunk = property(lambda self: self[2])


def agent_frames(core, offline: bool = False) -> AgentFrames:
    """The AgentFrames of an AgentCore or a loaded export's agent: its streaming responder's, or with `offline` its
    offline responder's (an export made before it had one: the streaming one's, which its respond answers with).
    ConfigError for an export made before they were saved with it."""
    if not hasattr(core, "response_delay_frames"):
        raise ConfigError("this export's agent does not say its reaction delay (exported by an older wavebabble): "
                          "export it again with wavebabble.export --responder=RESPONDER_CKPT")
    require_seeded_render(core)
    if offline and hasattr(core, "offline_delay_frames"):
        delay, receptive = int(core.offline_delay_frames.numpy()), int(core.offline_receptive_frames.numpy())
    else:
        delay, receptive = int(core.response_delay_frames.numpy()), int(core.receptive_frames.numpy())
    return AgentFrames((delay, receptive, stream_chunk_frames(delay)))


class StreamingAgent:
    """The agent fed the partner's audio in chunks: each push returns the agent's samples that what has been
    heard so far decides, which run frames.chunk + 1 frames past the end of the partner's audio heard (so a chunk
    of up to frames.chunk frames, agent_frames, is answered before it is due). `core` is an AgentCore or a loaded
    SavedModel that has the agent (it exposes the same functions). Audio: level-normalised 8 kHz float32.
    offline=True uses the offline responder (gate_offline), whose short delay answers a chunk only after it was
    heard: the respond CLI answers long recordings so, in blocks, equal to one `respond` call."""

    def __init__(self, core, seed: int = 0, offline: bool = False):
        self.core, self.seed = core, int(seed)
        self.frames = agent_frames(core, offline)
        self._gate_fn = core.gate_offline if offline and hasattr(core, "gate_offline") else core.gate
        self._partner = np.zeros(0, np.float32)      # everything heard
        self._vad = np.zeros(0, np.float32)          # partner VAD of frames [0, len)
        self._gate = np.zeros(0, np.float32)         # agent gate of frames [0, len)
        self._voice = np.zeros((0, MEL_BINS), np.float32)
        self._emitted = 0                            # agent samples returned so far
        self._pitched = hasattr(core, "render_from")  # a renderer with a pitched source: keep its phases
        self._f0 = np.zeros(0, np.float32)           # the source's f0 of frames [0, len)
        self._start = np.zeros(0, np.float64)        # the source's start phase (cycles) of frames [0, len)

    def _known_vad_frames(self, heard: int) -> int:
        """Frames whose spectrogram window lies inside the first `heard` samples."""
        window_end = MEL_FFT - (MEL_FFT - MEL_HOP) // 2      # frame f's window ends at sample f * MEL_HOP + this
        return max(0, (heard - window_end) // MEL_HOP + 1)

    def _segment(self, first: int, last: int) -> np.ndarray:
        """Partner samples of frames [first - MEL_CONTEXT_FRAMES, last + MEL_CONTEXT_FRAMES), zeros outside."""
        lo, hi = (first - MEL_CONTEXT_FRAMES) * MEL_HOP, (last + MEL_CONTEXT_FRAMES) * MEL_HOP
        out = np.zeros(hi - lo, np.float32)
        a, b = max(lo, 0), min(hi, len(self._partner))
        if b > a:
            out[a - lo:b - lo] = self._partner[a:b]
        return out

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Hear `chunk` (mono float32 [n]); return the agent's next samples (possibly none)."""
        self._partner = np.concatenate([self._partner, np.asarray(chunk, np.float32).reshape(-1)])
        return self._advance(self._known_vad_frames(len(self._partner)))

    def finish(self) -> np.ndarray:
        """The partner has stopped: the agent's samples up to the length heard (its last frame's spectrogram
        padded with silence, as the offline answer's). Earlier pushes may already have returned samples past
        that length: a caller trims the whole answer to the partner's length."""
        heard, before = len(self._partner), self._emitted
        frames = -(-heard // MEL_HOP)
        # the partner is silent after the end: the renderer reads RENDER_LOOKAHEAD_FRAMES of gate past it
        return self._advance(frames, silent_after=RENDER_LOOKAHEAD_FRAMES)[:max(0, heard - before)]

    def _advance(self, vad_frames: int, silent_after: int = 0) -> np.ndarray:
        c = self.core
        old = len(self._vad)
        if vad_frames > old:
            seg = self._segment(old, vad_frames)
            v = c.partner_vad(tf.constant(seg)).numpy()[MEL_CONTEXT_FRAMES:-MEL_CONTEXT_FRAMES]
            self._vad = np.concatenate([self._vad, v])
        if silent_after:
            self._vad = np.concatenate([self._vad, np.zeros(silent_after, np.float32)])
        delay, receptive, _ = self.frames
        gate_frames = len(self._vad) + delay
        g_old = len(self._gate)
        if gate_frames > g_old:
            lo = max(0, g_old - receptive - delay)
            window = np.zeros(gate_frames - lo, np.float32)
            known = self._vad[lo:gate_frames]
            window[:len(known)] = known
            g = self._gate_fn(tf.constant(window), tf.constant(lo, tf.int64),
                              tf.constant(self.seed, tf.int64)).numpy()
            self._gate = np.concatenate([self._gate, g[g_old - lo:]])
            v = c.voice(tf.constant(g_old, tf.int64), tf.constant(gate_frames - g_old, tf.int32),
                        tf.constant(self.seed, tf.int64)).numpy()
            self._voice = np.concatenate([self._voice, v])
            if self._pitched:
                self._track_phase(g_old)
        ready = (len(self._gate) - RENDER_LOOKAHEAD_FRAMES) * MEL_HOP
        if ready <= self._emitted:
            return np.zeros(0, np.float32)
        f0 = max(0, self._emitted // MEL_HOP - RENDER_CONTEXT_FRAMES)
        if self._pitched:
            wave = c.render_from(tf.constant(self._gate[f0:]), tf.constant(self._voice[f0:]),
                                 tf.constant(self._start[f0:], tf.float32), tf.constant(f0, tf.int64),
                                 tf.constant(self.seed, tf.int64)).numpy()
        else:
            wave = c.render(tf.constant(self._gate[f0:]), tf.constant(self._voice[f0:]),
                            tf.constant(self.seed, tf.int64)).numpy()
        out = wave[self._emitted - f0 * MEL_HOP:ready - f0 * MEL_HOP]
        self._emitted = ready
        return out

    def _track_phase(self, g_old: int) -> None:
        """The source's f0 and start phases of the frames from g_old to the gate's end (all final: the pitch head
        is causal), from the frames' PITCH_RECEPTIVE_FRAMES - 1 before on."""
        lo = max(0, g_old - PITCH_RECEPTIVE_FRAMES + 1)
        f = self.core.pitch(tf.constant(self._gate[lo:]), tf.constant(self._voice[lo:])).numpy()[g_old - lo:]
        self._f0 = np.concatenate([self._f0, f])
        if g_old == 0:
            start = frame_start_phases(self._f0, MEL_HOP, MEL_SAMPLE_RATE).numpy()
        else:           # go on from the last known frame's start phase
            start = frame_start_phases(self._f0[g_old - 1:], MEL_HOP, MEL_SAMPLE_RATE,
                                       self._start[g_old - 1]).numpy()[1:]
        self._start = np.concatenate([self._start, start])


def require_seeded_render(core) -> None:
    """ConfigError for an export whose agent's render takes no seed (made before the renderer's noise source was
    keyed by it, 2026-12-05): the streaming agent and continue_dialogue call render / render_from with one."""
    signature = getattr(core.render, "input_signature", None)
    if signature is not None and len(signature) < 3:
        raise ConfigError("this export's agent renders without a noise seed (exported by an older wavebabble): "
                          "export it again with wavebabble.export")


def speaker_seed(seed: int, channel: int) -> int:
    """The noise seed of speaker `channel` in a continuation (each speaker its own voice and choices)."""
    return 2 * int(seed) + int(channel)


def continue_dialogue(core, prompt: np.ndarray, num_samples: int, seed: int = 0) -> np.ndarray:
    """Both speakers go on from a level-normalised 8 kHz stereo prompt [n, 2] -> the next num_samples [m, 2].

    Who speaks when: the continuer (core.continue_vad) sampled frame by frame from each channel's VAD of the
    prompt (partner_vad above SPEECH); the voices: the planner's, from each speaker's own noise (speaker_seed),
    gated by those frames and rendered from the prompt's end on (the prompt's own voices are not imitated)."""
    if not hasattr(core, "continue_vad"):
        raise ConfigError("this export's agent has no continuer (exported by an older wavebabble): export it again "
                          "with wavebabble.export --responder=RESPONDER_CKPT --continuer=CONTINUER_CKPT")
    require_seeded_render(core)
    n = len(prompt) // MEL_HOP * MEL_HOP
    start = n // MEL_HOP                                   # first continued frame
    frames = -(-num_samples // MEL_HOP)
    ahead = frames + RENDER_LOOKAHEAD_FRAMES                # the renderer reads this far past the last frame
    heard = np.zeros((start, 2), np.float32)
    for c in range(2):
        if start:
            heard[:, c] = core.partner_vad(tf.constant(prompt[:n, c])).numpy() > SPEECH
    vad = core.continue_vad(tf.constant(heard), tf.constant(ahead, tf.int32),
                            tf.constant(speaker_seed(seed, 0), tf.int64)).numpy()
    out = []
    for c in range(2):
        s = tf.constant(speaker_seed(seed, c), tf.int64)
        voice = core.voice(tf.constant(start, tf.int64), tf.constant(ahead, tf.int32), s)
        out.append(core.render(tf.constant(vad[:, c]), voice, s).numpy())
    return np.stack(out, -1)[:num_samples]

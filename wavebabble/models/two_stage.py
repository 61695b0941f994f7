"""The two-stage generator: the mel planner and the renderer joined into one model (models/mel_planner.py,
models/mel_renderer.py).

    build_two_stage(planner, renderer) -> keras.Model: noise [batch, frames, NOISE_CH]
                                          -> audio [batch, frames * MEL_HOP, nch] in [-1, 1]
    build_two_stage_generator(planner, renderer) -> keras.Model: z [batch, frames * NOISE_CH] in (-1, 1)
                                          -> audio [batch, frames * MEL_HOP, nch]   (the export's generator)
    restore_two_stage(planner_ckpt, renderer_ckpt, planner_dim, renderer_dim) -> (planner, renderer)
    restore_planner(planner_ckpt, planner_dim), restore_checkpoint(key, model, path, dim)
    restore_responder(responder_ckpt, responder_dim) (built with saved_responder_setup(responder_ckpt))
    restore_renderer(renderer_ckpt, renderer_dim) (built with saved_renderer_harmonics(renderer_ckpt))

The planner makes both speakers' log-mels [batch, frames, nch * MEL_BINS]; a fair coin per clip, keyed by its noise,
decides which channel each of them takes (AssignChannels, stereo); the renderer (one speaker at a time,
speakers folded into the batch) turns each speaker's mels into its channel; a renderer with a noise source draws
each speaker's noise under a key hashed from that clip's noise (the generator's: its z, bit for bit, so a clip's
key does not depend on the batch) and the speaker (sample_noise.row_key, stream_key), so a given noise gives a
given dialogue. Both are fully convolutional, so
`frames` (a multiple of PLAN_UPSAMPLE) sets the length: 125 frames per second at 8 kHz, any number, in one call
(no joins, so no clicks or level jumps). The export's generator takes the same noise as a flat z drawn
uniform(-1, 1) like the WaveGAN generator's (wavebabble.export draws it), turned into the planner's standard
normal noise by the normal quantile function (UniformToNormal), so a given z gives a given dialogue.
"""
from __future__ import annotations

import keras

from wavebabble.mel import MEL_BINS, MEL_HOP
from wavebabble.models.mel_planner import NOISE_CH
from wavebabble.sample_noise import row_key, stream_key

UNIFORM_EDGE = 1.0 - 1e-6     # z is clipped to +-this before the quantile function (which is infinite at +-1)
CHANNEL_ORDER_STREAM = 2      # the stream of a clip's key (stream_key) whose low bit orders its speakers (0, 1: noise)


@keras.saving.register_keras_serializable(package="wavebabble")
class AssignChannels(keras.layers.Layer):
    """[mels [batch, frames, 2 * MEL_BINS], noise [batch, ...] (the clips' own)] -> the same mels with the two
    speakers' halves swapped in each row whose bit stream_key(row_key(noise)[b], CHANNEL_ORDER_STREAM) & 1 is 1: a
    fair coin per clip, a function of its noise, decides which channel each of the planner's speakers takes. The
    planner is not symmetric in its speakers (the shipped one gives its second 0.56 of the time to speech and its
    first 0.34, eval/results/sound_notes.md) while which speaker a recording puts on the left is arbitrary."""

    def call(self, inputs):
        import tensorflow as tf

        mel, noise = inputs
        swap = tf.bitwise.bitwise_and(stream_key(row_key(noise), CHANNEL_ORDER_STREAM), 1) > 0     # [batch]
        swapped = tf.concat([mel[..., MEL_BINS:], mel[..., :MEL_BINS]], axis=-1)
        return tf.where(swap[:, None, None], swapped, mel)


@keras.saving.register_keras_serializable(package="wavebabble")
class RenderSpeakers(keras.layers.Layer):
    """[mels [batch, frames, nch * MEL_BINS], noise [batch, ...] (the clips' own)] -> audio [batch, frames * MEL_HOP,
    nch]: `renderer` on each speaker; speaker s of row b draws its noise source under
    stream_key(row_key(noise)[b], s) from sample 0."""

    def __init__(self, renderer: keras.Model, nch: int, **kwargs):
        super().__init__(**kwargs)
        self.renderer, self.nch = renderer, int(nch)

    def call(self, inputs):
        import tensorflow as tf

        from wavebabble.models.mel_renderer import noise_at

        mel, noise = inputs
        ops = keras.ops
        batch = ops.shape(mel)[0]
        per = ops.concatenate([mel[..., s * MEL_BINS:(s + 1) * MEL_BINS] for s in range(self.nch)], axis=0)
        if len(self.renderer.inputs) > 1:                                   # a noise source: key each speaker
            key = row_key(noise)
            keys = tf.concat([stream_key(key, s) for s in range(self.nch)], axis=0)      # [nch * batch]
            per = [per, noise_at(keys)]
        wave = self.renderer(per)[..., 0]                                   # [nch * batch, samples]
        return ops.stack([wave[s * batch:(s + 1) * batch] for s in range(self.nch)], axis=-1)

    def compute_output_shape(self, input_shape):
        frames = None if input_shape[0][1] is None else input_shape[0][1] * MEL_HOP
        return (input_shape[0][0], frames, self.nch)


def build_two_stage(planner: keras.Model, renderer: keras.Model, nch: int = 2,
                    name: str = "two_stage") -> keras.Model:
    """noise [batch, frames, NOISE_CH] -> audio [batch, frames * MEL_HOP, nch] (see the module docstring)."""
    noise = keras.Input(planner.input_shape[1:], name="noise")
    mel = planner(noise)
    mel = AssignChannels(name="channels")([mel, noise]) if nch == 2 else mel
    return keras.Model(noise, RenderSpeakers(renderer, nch, name="render")([mel, noise]), name=name)


@keras.saving.register_keras_serializable(package="wavebabble")
class UniformToNormal(keras.layers.Layer):
    """z [batch, n] uniform on (-1, 1) -> [batch, n] standard normal: sqrt(2) erfinv(z), z clipped to
    +-UNIFORM_EDGE."""

    def call(self, z):
        import tensorflow as tf

        return (2.0 ** 0.5) * tf.math.erfinv(tf.clip_by_value(z, -UNIFORM_EDGE, UNIFORM_EDGE))


def build_two_stage_generator(planner: keras.Model, renderer: keras.Model, nch: int = 2,
                              name: str = "two_stage_generator") -> keras.Model:
    """z [batch, frames * NOISE_CH] uniform(-1, 1) -> audio [batch, frames * MEL_HOP, nch]; any frames that is a
    multiple of PLAN_UPSAMPLE (one call, no joins)."""
    z = keras.Input((None,), name="z")
    noise = keras.layers.Reshape((-1, NOISE_CH), name="noise")(UniformToNormal(name="normal")(z))
    mel = planner(noise)
    mel = AssignChannels(name="channels")([mel, z]) if nch == 2 else mel
    return keras.Model(z, RenderSpeakers(renderer, nch, name="render")([mel, z]), name=name)


def restore_checkpoint(key: str, model: keras.Model, path: str, dim: int, flag: str | None = None) -> keras.Model:
    """`model` restored from a stage job's checkpoint that holds it under `key` ("planner", "renderer",
    "responder"); ConfigError naming the checkpoint (as --<flag>, default the key) when it cannot be restored."""
    import tensorflow as tf

    from wavebabble.errors import ConfigError

    try:
        tf.train.Checkpoint(**{key: model}).restore(path).expect_partial().assert_existing_objects_matched()
    except (tf.errors.OpError, AssertionError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"--{flag or key}={path}: cannot restore a {key} of dim {dim} from it ({first})") from e
    return model


def restore_planner(planner_ckpt: str, planner_dim: int) -> keras.Model:
    """The planner of train.train_mel_gan's checkpoint (<logdir>/ckpt/ckpt-N), built at `planner_dim`."""
    from wavebabble.models.mel_planner import build_mel_planner

    return restore_checkpoint("planner", build_mel_planner(planner_dim), planner_ckpt, planner_dim)


def saved_responder_setup(responder_ckpt: str, flag: str = "responder") -> tuple[int, int]:
    """(reaction delay, noise hold) in frames that a train.train_responder checkpoint was trained with (its
    "reaction_delay" and "noise_hold_frames" variables; RESPONSE_DELAY_FRAMES and 0, white noise, for checkpoints
    saved before they were saved with them). ConfigError naming the checkpoint when it cannot be read."""
    from wavebabble.models.responder import RESPONSE_DELAY_FRAMES

    return tuple(saved_integers(responder_ckpt, flag, reaction_delay=RESPONSE_DELAY_FRAMES, noise_hold_frames=0))


def saved_renderer_harmonics(renderer_ckpt: str, flag: str = "renderer") -> int:
    """The pitched source's harmonics a train.train_renderer checkpoint was trained with (its "harmonics"
    variable; 0, no source, for checkpoints saved before it existed). ConfigError when it cannot be read."""
    return saved_integers(renderer_ckpt, flag, harmonics=0)[0]


def saved_integers(ckpt: str, flag: str, **defaults: int) -> list[int]:
    """The integer variables named by `defaults`' keys from checkpoint `ckpt`, in that order (each one's default
    where the checkpoint lacks it). ConfigError naming the checkpoint (as --<flag>) when it cannot be read."""
    import tensorflow as tf

    from wavebabble.errors import ConfigError

    try:
        reader = tf.train.load_checkpoint(ckpt)
    except (tf.errors.OpError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"--{flag}={ckpt}: cannot read it ({first})") from e
    keys = {name: f"{name}/.ATTRIBUTES/VARIABLE_VALUE" for name in defaults}
    return [int(reader.get_tensor(keys[n])) if reader.has_tensor(keys[n]) else d for n, d in defaults.items()]


def restore_responder(responder_ckpt: str, responder_dim: int, flag: str = "responder") -> keras.Model:
    """The responder of train.train_responder's checkpoint, built at `responder_dim` with the reaction delay and
    noise hold it was trained with (saved_responder_setup); `flag` names it in a ConfigError."""
    from wavebabble.models.responder import build_responder

    model = build_responder(responder_dim, *saved_responder_setup(responder_ckpt, flag))
    return restore_checkpoint("responder", model, responder_ckpt, responder_dim, flag)


def restore_renderer(renderer_ckpt: str, renderer_dim: int, flag: str = "renderer") -> keras.Model:
    """The renderer of train.train_renderer's checkpoint, built at `renderer_dim` with the pitched source's
    harmonics it was trained with (saved_renderer_harmonics); `flag` names it in a ConfigError."""
    from wavebabble.errors import ConfigError
    from wavebabble.models.mel_renderer import build_mel_renderer

    harmonics = saved_renderer_harmonics(renderer_ckpt, flag)
    try:
        return restore_checkpoint("renderer", build_mel_renderer(renderer_dim, harmonics), renderer_ckpt,
                                  renderer_dim, flag)
    except ConfigError as e:
        if not harmonics:
            raise
        raise ConfigError(f"{e}; is it of another --{flag}_dim? A renderer trained before the source had its noise "
                          "branch and held upsampling (models/mel_renderer.py) cannot be restored: train it again "
                          "with python -m train.train_renderer") from e


def restore_two_stage(planner_ckpt: str, renderer_ckpt: str, planner_dim: int, renderer_dim: int):
    """(planner, renderer) built at these dims and restored from their jobs' checkpoints (train.train_mel_gan,
    train.train_renderer: <logdir>/ckpt/ckpt-N). ConfigError naming the checkpoint when one cannot be restored."""
    return restore_planner(planner_ckpt, planner_dim), restore_renderer(renderer_ckpt, renderer_dim)

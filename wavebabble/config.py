"""All hyperparameters in one dataclass, with named presets.

    cfg = get_config("demo", batch_size=8)      # preset + validated overrides
    cfg.to_json(path); Config.from_json(path)

Shapes that follow from a config:
    generator:  z [B, latent_dim] -> audio [B, slice_len, nch]
    soft VAD:   audio [B, slice_len, nch] -> [B, num_frames, nch], num_frames = slice_len // hop_len
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
from pathlib import Path

from wavebabble.errors import ConfigError

SUPPORTED_SLICE_LENS = (16384, 32768, 65536, 131072)
LOSSES = ("wgan-gp", "hinge", "lsgan")
GENERATORS = ("wavegan", "two_stage")   # models/generator.py; models/two_stage.py
# the two-stage generator (models/two_stage.py; trained by train.train_renderer and train.train_mel_gan, not by
# train.train): z is its noise sequence, TWO_STAGE_NOISE_CH values per mel frame of TWO_STAGE_HOP samples
# (models.mel_planner.NOISE_CH, mel.MEL_HOP), at TWO_STAGE_SAMPLE_RATE (mel.MEL_SAMPLE_RATE)
TWO_STAGE_NOISE_CH = 32
TWO_STAGE_HOP = 64
TWO_STAGE_SAMPLE_RATE = 8000
MIN_MS_WINDOW = 1024      # shortest random window the multi-scale D may see (its deepest scale's 4^4 downsampling)
ADAM_BETAS = (0.5, 0.9)   # Adam's beta_1, beta_2 for G and D: WaveGAN's (Donahue et al. 2019), every preset's
WAVEGAN_KERNEL_LEN = 25   # kernel of the WaveGAN G's and D's convolutions (Donahue et al. 2019), every preset's
CONFIG_NAME = "config.json"   # <logdir>/config.json: a training run's Config (written by wavebabble.run_dir)
# Fields a run's config.json may still hold from an older version, with the one value this version builds (the
# constant that replaced the field; "last commit" says where another value last worked). A run with another value
# is refused by name; one with this value loads unchanged.
RETIRED_FIELDS = {
    "beta1": (ADAM_BETAS[0], "37692c1"),
    "beta2": (ADAM_BETAS[1], "37692c1"),
    "kernel_len": (WAVEGAN_KERNEL_LEN, "56ef4d4"),
}
ARCH = "arch"        # field metadata key: True on fields that shape model variables


def arch(default):
    """A Config field that changes model variables or their shapes: a run's checkpoints cannot be resumed, nor
    exported, with another value (run_dir.check_resume_compatible)."""
    return dataclasses.field(default=default, metadata={ARCH: True})


def drop_retired_fields(d: dict) -> dict:
    """A copy of a dict of Config fields without RETIRED_FIELDS: each is accepted at the value this version builds
    and refused by name (ConfigError with the last commit that had it) at any other."""
    d = dict(d)
    for name, (value, last_commit) in RETIRED_FIELDS.items():
        if name in d and (given := d.pop(name)) != value:
            raise ConfigError(f"config field '{name}' = {given!r}: this version no longer has the field and always "
                              f"uses {value!r}; a run made with another value needs wavebabble at commit "
                              f"{last_commit} or earlier", field=name)
    return d


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of a wavebabble model and its training (one preset = one measured result)."""

    name: str = "custom"
    # --- audio ---
    sample_rate: int = arch(8000)    # Hz; telephone corpora are 8 kHz
    slice_len: int = arch(65536)     # samples per generated clip (one of SUPPORTED_SLICE_LENS)
    nch: int = arch(2)               # channels: speaker A left, speaker B right
    # --- generator (WaveGAN) ---
    latent_dim: int = arch(100)      # z ~ uniform(-1, 1)^latent_dim
    model_dim: int = arch(64)        # WaveGAN's d: base channel count of G and the WaveGAN D
    g_activity_gate: bool = arch(False)  # per-speaker sigmoid activity envelope multiplies G's output (generator.py)
    generator: str = arch("wavegan")  # "wavegan": one latent -> one stack (train.train); "two_stage": mel
                                      # planner (model_dim) + renderer (two_stage.py; trained by its two jobs,
                                      # exported from their checkpoints, any length)
    # --- discriminators (critics.py) ---
    phase_shuffle: int = 2           # phase shuffle radius of the WaveGAN D (0 disables)
    ms_dim: int = arch(16)           # base channels of each multi-scale D
    ms_scales: int = arch(3)         # multi-scale D copies at 1x, 1/2x, 1/4x ...
    ms_groups: int = arch(4)         # groups of the strided grouped convs in the multi-scale D
    ms_window: int = 0               # > 0: the multi-scale D sees one random window of this many samples per clip
    timing_dim: int = arch(32)       # channels of the turn-timing D
    timing_minibatch_std: bool = arch(False)  # turn-timing D also sees each frame's VAD std across the batch
    timing_turn_stats: bool = arch(False)  # turn-timing D also reads per-clip turn statistics (turn_statistics.py)
    # --- VAD (soft, differentiable; see vad.py) ---
    frame_hz: int = arch(100)        # VAD frames per second (10 ms hop)
    vad_threshold_db: float = -40.0  # frame energy (dBFS) where soft VAD = 0.5
    vad_temperature_db: float = 3.0  # sigmoid temperature in dB
    vad_grad_temperature_db: float = 0.0  # > 0: surrogate gradient of a broader sigmoid (values unchanged)
    vad_grad_anneal_start: int = 0   # with vad_grad_anneal_steps > 0: surrogate weight 1 up to this G step, then
    vad_grad_anneal_steps: int = 0   # ... linear to 0 (the sharp gradient) over this many steps (vad.surrogate_mix)
    # --- losses ---
    loss: str = "wgan-gp"            # "wgan-gp" | "hinge" | "lsgan"
    gp_weight: float = 10.0          # WGAN-GP lambda
    wave_weight: float = 1.0         # weight of the WaveGAN D (0 removes it)
    ms_weight: float = 0.0           # weight of the multi-scale D (0 removes it)
    timing_weight: float = 1.0       # weight of the turn-timing D (0 removes it: the ablation)
    fm_weight: float = 0.0           # feature-matching weight on the features of the Ds that return features (ms)
    d_updates: int = 5               # discriminator updates per generator update
    # --- optimisation (Adam, betas ADAM_BETAS) ---
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    batch_size: int = 64             # global batch (split across replicas)
    train_steps: int = 100000        # generator steps of a run (the step budget the preset was measured at)
    lr_decay_start: int = 0          # > 0: from this generator step both learning rates fall linearly ...
    lr_decay_steps: int = 0          # ... over this many steps to LR_DECAY_FINAL_FRACTION of their value (0: constant)
    g_ema_decay: float = 0.0         # > 0: keep an exponential moving average of G's weights (exported, listened to)

    # ------------------------------------------------------------------ derived
    @property
    def hop_len(self) -> int:
        """Samples per VAD frame."""
        return self.sample_rate // self.frame_hz

    @property
    def num_frames(self) -> int:
        """VAD frames per clip."""
        return self.slice_len // self.hop_len

    @property
    def clip_seconds(self) -> float:
        return self.slice_len / self.sample_rate

    # ------------------------------------------------------------------ checks
    def validate(self) -> "Config":
        """Raise ConfigError naming the first invalid field (any NaN or infinity first); return self."""
        def bad(field, why):
            raise ConfigError(f"config field '{field}' = {getattr(self, field)!r}: {why}", field=field)

        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(v):
                bad(f.name, "must be a finite number")
            if f.type in ("bool", bool) and not isinstance(v, bool):
                bad(f.name, "must be true or false")
        if self.slice_len not in SUPPORTED_SLICE_LENS:
            bad("slice_len", f"must be one of {SUPPORTED_SLICE_LENS}")
        for f in ("sample_rate", "nch", "latent_dim", "model_dim", "ms_dim",
                  "ms_scales", "ms_groups", "timing_dim", "frame_hz", "d_updates", "batch_size", "train_steps"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                bad(f, "must be a positive integer")
        if self.nch > 2:
            bad("nch", "only mono (1) or stereo (2) models are supported")
        if self.sample_rate % self.frame_hz:
            bad("frame_hz", f"must divide sample_rate ({self.sample_rate})")
        if self.ms_scales < 2:
            # one scale: Keras flattens the D's nested [[features..., score]] output, losing the per-scale grouping
            bad("ms_scales", "must be >= 2 (use ms_weight=0 to drop the multi-scale discriminator)")
        if self.ms_dim % self.ms_groups:
            bad("ms_groups", f"must divide ms_dim ({self.ms_dim})")
        if self.loss not in LOSSES:
            bad("loss", f"must be one of {LOSSES}")
        if not isinstance(self.ms_window, int) or isinstance(self.ms_window, bool) or not (
                self.ms_window == 0 or MIN_MS_WINDOW <= self.ms_window <= self.slice_len):
            bad("ms_window", f"must be 0 (whole clip) or {MIN_MS_WINDOW} .. slice_len ({self.slice_len}) samples")
        if self.generator not in GENERATORS:
            bad("generator", f"must be one of {GENERATORS}")
        if self.generator == "two_stage":
            if self.sample_rate != TWO_STAGE_SAMPLE_RATE:
                bad("sample_rate", f"the two-stage generator renders {TWO_STAGE_SAMPLE_RATE} Hz")
            if self.nch != 2:
                bad("nch", "the two-stage generator makes two speakers")
            if self.latent_dim != self.slice_len // TWO_STAGE_HOP * TWO_STAGE_NOISE_CH:
                bad("latent_dim", f"the two-stage generator reads z as {TWO_STAGE_NOISE_CH} noise values per "
                                  f"{TWO_STAGE_HOP}-sample frame: latent_dim must be slice_len / "
                                  f"{TWO_STAGE_HOP} * {TWO_STAGE_NOISE_CH} = "
                                  f"{self.slice_len // TWO_STAGE_HOP * TWO_STAGE_NOISE_CH}")
        if not isinstance(self.phase_shuffle, int) or isinstance(self.phase_shuffle, bool) or self.phase_shuffle < 0:
            bad("phase_shuffle", "must be an integer >= 0")
        for f in ("gp_weight", "wave_weight", "ms_weight", "timing_weight", "fm_weight"):
            if getattr(self, f) < 0:
                bad(f, "must be >= 0")
        if self.wave_weight == 0 and self.ms_weight == 0 and self.timing_weight == 0:
            bad("wave_weight", "at least one discriminator weight must be > 0")
        if self.timing_weight > 0 and self.nch != 2:
            bad("timing_weight", "the turn-timing discriminator needs nch=2 (one speaker per channel); set it to 0")
        for f in ("g_lr", "d_lr"):
            if not getattr(self, f) > 0:
                bad(f, "must be > 0")
        for f in ("lr_decay_start", "lr_decay_steps", "vad_grad_anneal_start", "vad_grad_anneal_steps"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                bad(f, "must be an integer >= 0")
        if (self.lr_decay_start > 0) != (self.lr_decay_steps > 0):
            bad("lr_decay_steps", "set lr_decay_start and lr_decay_steps together (both > 0), or neither")
        if not 0 <= self.g_ema_decay < 1:
            bad("g_ema_decay", "must be in [0, 1) (0 disables the moving average)")
        if self.vad_temperature_db <= 0:
            bad("vad_temperature_db", "must be > 0")
        if self.vad_grad_temperature_db < 0:
            bad("vad_grad_temperature_db", "must be >= 0 (0: the gradient of the sharp sigmoid itself)")
        if self.vad_grad_anneal_steps > 0 and not self.vad_grad_temperature_db > 0:
            bad("vad_grad_anneal_steps", "anneals the surrogate gradient: needs vad_grad_temperature_db > 0")
        if self.vad_grad_anneal_start > 0 and self.vad_grad_anneal_steps == 0:
            bad("vad_grad_anneal_start", "needs vad_grad_anneal_steps > 0 (without it the surrogate is constant)")
        return self

    @classmethod
    def arch_fields(cls) -> tuple[str, ...]:
        """Names of the fields marked arch(): they shape model variables."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get(ARCH))

    def replace(self, **overrides) -> "Config":
        """A validated copy with some fields changed; unknown fields raise ConfigError."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(names)}", field=unknown[0])
        return dataclasses.replace(self, **overrides).validate()

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        """The config of a dict of fields (e.g. a run's config.json; retired fields: drop_retired_fields)."""
        return cls().replace(**drop_retired_fields(d))

    @classmethod
    def from_json(cls, path) -> "Config":
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from e
        return cls.from_dict(d)


# Each preset is one result; its comment names the file that measured it.
PRESETS = {
    # WaveGAN as published (Donahue et al. 2019): mono, 16 kHz, 16384 samples, d=64, WGAN-GP (lambda 10),
    # 5 D updates per G update, Adam 1e-4, batch 64, phase shuffle 2; no multi-scale or turn-timing D.
    # Parameter counts checked in tests/test_models.py.
    "paper": Config(name="paper", sample_rate=16000, slice_len=16384, nch=1, model_dim=64, loss="wgan-gp",
                    gp_weight=10.0, d_updates=5, g_lr=1e-4, d_lr=1e-4, batch_size=64, phase_shuffle=2,
                    wave_weight=1.0, ms_weight=0.0, timing_weight=0.0, train_steps=100000),
    # Telephone-rate dialogue at full size (d=64, WGAN-GP, multi-scale D) with the demo's turn-timing settings;
    # not yet measured at this size (eval/results/ablation_timing.md measured them at demo size).
    "dialogue8k": Config(name="dialogue8k", sample_rate=8000, slice_len=65536, model_dim=64, ms_weight=1.0,
                         batch_size=64, g_activity_gate=True, g_ema_decay=0.99, timing_minibatch_std=True,
                         timing_turn_stats=True, vad_grad_temperature_db=10.0, timing_weight=2.0,
                         vad_grad_anneal_start=30000, vad_grad_anneal_steps=30000, train_steps=100000),
    # eval/results/ablation_timing.md ('with timing D'; timing_weight=0 is the other arm).
    "demo": Config(name="demo", sample_rate=8000, slice_len=65536, model_dim=8, ms_dim=8, ms_groups=4,
                   timing_dim=16, timing_minibatch_std=True, timing_turn_stats=True, timing_weight=2.0,
                   wave_weight=0.1, loss="hinge", d_updates=1, batch_size=8, g_lr=2e-4, d_lr=2e-4,
                   g_activity_gate=True, g_ema_decay=0.99, lr_decay_start=800, lr_decay_steps=800,
                   vad_grad_temperature_db=10.0, vad_grad_anneal_start=600, vad_grad_anneal_steps=600,
                   train_steps=2000),
}


def require_wavegan(generator: str) -> None:
    """ConfigError (field 'generator') unless `generator` (a Config's) is the WaveGAN generator that train.train
    builds, naming the jobs that train and export the two-stage one."""
    if generator != "wavegan":
        raise ConfigError(f"config field 'generator' = {generator!r}: the two-stage generator is trained by "
                          f"`python -m train.train_renderer` and `python -m train.train_mel_gan` and exported with "
                          f"`python -m wavebabble.export --planner=... --renderer=...`, not by train.train",
                          field="generator")


def get_config(preset: str = "demo", **overrides) -> Config:
    """The named preset with validated overrides. Unknown preset -> ConfigError."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}'; choose one of {sorted(PRESETS)}")
    return PRESETS[preset].replace(**overrides)

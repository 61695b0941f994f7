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
UPSAMPLES = ("transpose", "nearest")
GATE_FORMS = ("speakers", "floor")


@dataclasses.dataclass(frozen=True)
class Config:
    """Every hyperparameter of a wavebabble model and its training."""

    name: str = "custom"
    # --- audio ---
    sample_rate: int = 8000          # Hz; telephone corpora are 8 kHz
    slice_len: int = 65536           # samples per generated clip (one of SUPPORTED_SLICE_LENS)
    nch: int = 2                     # channels: speaker A left, speaker B right
    # --- generator (WaveGAN) ---
    latent_dim: int = 100            # z ~ uniform(-1, 1)^latent_dim
    model_dim: int = 64              # WaveGAN's d: base channel count of G and the WaveGAN D
    kernel_len: int = 25             # WaveGAN kernel length
    upsample: str = "transpose"      # "transpose" (Conv1DTranspose) | "nearest" (nearest-neighbour + Conv1D)
    post_proc_filt_len: int = 0      # learned per-channel post-processing FIR length; 0 disables it
    g_activity_gate: bool = False    # per-speaker sigmoid activity envelope multiplies G's output (generator.py)
    g_gate_form: str = "speakers"    # "speakers" (one sigmoid each) | "floor" (FloorGate; measured worse: see notes)
    # --- discriminators ---
    phase_shuffle: int = 2           # phase shuffle radius of the WaveGAN D (0 disables)
    ms_dim: int = 16                 # base channels of each multi-scale D
    ms_scales: int = 3               # multi-scale D copies at 1x, 1/2x, 1/4x ...
    ms_groups: int = 4               # groups of the strided grouped convs in the multi-scale D
    timing_dim: int = 32             # channels of the turn-timing D
    timing_minibatch_std: bool = False  # turn-timing D also sees each frame's VAD std across the batch
    timing_turn_stats: bool = False  # turn-timing D also reads per-clip turn statistics (turn_statistics.py)
    timing_duration_stats: bool = False  # ... and the rates of long IPUs and long silences (needs turn stats)
    timing_pause_stats: bool = False  # ... and the rates of pauses and gaps themselves (needs turn stats; no better)
    timing_input_noise: float = 0.0  # std of Gaussian noise added to the timing D's VAD input in training
    # --- VAD (soft, differentiable; see vad.py) ---
    frame_hz: int = 100              # VAD frames per second (10 ms hop)
    vad_threshold_db: float = -40.0  # frame energy (dBFS) where soft VAD = 0.5
    vad_temperature_db: float = 3.0  # sigmoid temperature in dB
    vad_adaptive: bool = False       # threshold = the hard VAD's per-clip, per-channel one (vad_threshold_db unused)
    vad_threshold_grad: bool = False  # with vad_adaptive: gradients flow through the threshold (gain-invariant)
    vad_grad_temperature_db: float = 0.0  # > 0: surrogate gradient of a broader sigmoid (values unchanged)
    vad_grad_anneal_start: int = 0   # with vad_grad_anneal_steps > 0: surrogate weight 1 up to this G step, then
    vad_grad_anneal_steps: int = 0   # ... linear to 0 (the sharp gradient) over this many steps (vad.surrogate_mix)
    # --- losses ---
    loss: str = "wgan-gp"            # "wgan-gp" | "hinge" | "lsgan"
    gp_weight: float = 10.0          # WGAN-GP lambda
    wave_weight: float = 1.0         # weight of the WaveGAN D (0 removes it)
    ms_weight: float = 0.0           # weight of the multi-scale D (0 removes it)
    timing_weight: float = 1.0       # weight of the turn-timing D (0 removes it: the ablation)
    fm_weight: float = 0.0           # feature-matching weight on the multi-scale D features
    timing_fm_weight: float = 0.0    # G matches the batch mean of the turn-timing D's pooled features (real vs fake)
    timing_stats_weight: float = 0.0  # G matches the batch means of the timing D's turn statistics (needs turn stats;
                                     # with pause stats: medians babble 0.202 vs 0.222, FSDD 0.331 vs 0.183: notes)
    timing_r1_weight: float = 0.0    # > 0: R1 penalty (gamma) on the timing D's gradient at real VAD input
    timing_stats_hard: bool = False  # turn statistics count the VAD > 0.5, straight-through grads (hurt: see notes)
    d_updates: int = 5               # discriminator updates per generator update
    # --- optimisation (Adam) ---
    g_lr: float = 1e-4
    d_lr: float = 1e-4
    beta1: float = 0.5
    beta2: float = 0.9
    batch_size: int = 64             # global batch (split across replicas)
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
            raise ConfigError(f"config field '{field}' = {getattr(self, field)!r}: {why}")

        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isfinite(v):
                bad(f.name, "must be a finite number")
        if self.slice_len not in SUPPORTED_SLICE_LENS:
            bad("slice_len", f"must be one of {SUPPORTED_SLICE_LENS}")
        for f in ("sample_rate", "nch", "latent_dim", "model_dim", "kernel_len", "ms_dim",
                  "ms_scales", "ms_groups", "timing_dim", "frame_hz", "d_updates", "batch_size"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                bad(f, "must be a positive integer")
        if self.nch > 2:
            bad("nch", "only mono (1) or stereo (2) models are supported")
        if self.sample_rate % self.frame_hz:
            bad("frame_hz", f"must divide sample_rate ({self.sample_rate})")
        if self.kernel_len % 2 == 0:
            bad("kernel_len", "must be odd so 'same' padding is symmetric")
        if self.ms_scales < 2:
            # one scale: Keras flattens the D's nested [[features..., score]] output, losing the per-scale grouping
            bad("ms_scales", "must be >= 2 (use ms_weight=0 to drop the multi-scale discriminator)")
        if self.ms_dim % self.ms_groups:
            bad("ms_groups", f"must divide ms_dim ({self.ms_dim})")
        if self.upsample not in UPSAMPLES:
            bad("upsample", f"must be one of {UPSAMPLES}")
        if self.g_gate_form not in GATE_FORMS:
            bad("g_gate_form", f"must be one of {GATE_FORMS}")
        if self.g_gate_form == "floor" and self.nch != 2:
            bad("g_gate_form", "'floor' needs nch=2 (it splits the floor between two speakers)")
        if self.g_gate_form != GATE_FORMS[0] and not self.g_activity_gate:
            bad("g_gate_form", "only applies with g_activity_gate=true (there is no gate to shape)")
        if self.loss not in LOSSES:
            bad("loss", f"must be one of {LOSSES}")
        if self.post_proc_filt_len < 0 or self.phase_shuffle < 0:
            bad("post_proc_filt_len" if self.post_proc_filt_len < 0 else "phase_shuffle", "must be >= 0")
        for f in ("gp_weight", "wave_weight", "ms_weight", "timing_weight", "fm_weight", "timing_fm_weight",
                  "timing_stats_weight", "timing_r1_weight"):
            if getattr(self, f) < 0:
                bad(f, "must be >= 0")
        if self.wave_weight == 0 and self.ms_weight == 0 and self.timing_weight == 0:
            bad("wave_weight", "at least one discriminator weight must be > 0")
        for f in ("g_lr", "d_lr"):
            if not getattr(self, f) > 0:
                bad(f, "must be > 0")
        for f in ("beta1", "beta2"):
            if not 0 <= getattr(self, f) < 1:
                bad(f, "must be in [0, 1)")
        for f in ("lr_decay_start", "lr_decay_steps", "vad_grad_anneal_start", "vad_grad_anneal_steps"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                bad(f, "must be an integer >= 0")
        if (self.lr_decay_start > 0) != (self.lr_decay_steps > 0):
            bad("lr_decay_steps", "set lr_decay_start and lr_decay_steps together (both > 0), or neither")
        if not 0 <= self.g_ema_decay < 1:
            bad("g_ema_decay", "must be in [0, 1) (0 disables the moving average)")
        if self.timing_input_noise < 0:
            bad("timing_input_noise", "must be >= 0")
        for f in ("timing_minibatch_std", "timing_turn_stats", "timing_duration_stats", "timing_pause_stats",
                  "timing_stats_hard",
                  "vad_adaptive", "vad_threshold_grad", "g_activity_gate"):
            if not isinstance(getattr(self, f), bool):
                bad(f, "must be true or false")
        for f in ("timing_duration_stats", "timing_pause_stats"):
            if getattr(self, f) and not self.timing_turn_stats:
                bad(f, "needs timing_turn_stats=true (they extend the turn statistics)")
        if self.timing_stats_weight > 0 and not self.timing_turn_stats:
            bad("timing_stats_weight", "needs timing_turn_stats=true (the statistics it matches)")
        if self.vad_temperature_db <= 0:
            bad("vad_temperature_db", "must be > 0")
        if self.vad_grad_temperature_db < 0:
            bad("vad_grad_temperature_db", "must be >= 0 (0: the gradient of the sharp sigmoid itself)")
        if self.vad_grad_anneal_steps > 0 and not self.vad_grad_temperature_db > 0:
            bad("vad_grad_anneal_steps", "anneals the surrogate gradient: needs vad_grad_temperature_db > 0")
        if self.vad_grad_anneal_start > 0 and self.vad_grad_anneal_steps == 0:
            bad("vad_grad_anneal_start", "needs vad_grad_anneal_steps > 0 (without it the surrogate is constant)")
        return self

    def replace(self, **overrides) -> "Config":
        """A validated copy with some fields changed; unknown fields raise ConfigError."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ConfigError(f"unknown config field(s) {unknown}; known: {sorted(names)}")
        return dataclasses.replace(self, **overrides).validate()

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, d: dict) -> "Config":
        return cls().replace(**d)

    @classmethod
    def from_json(cls, path) -> "Config":
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read config file {path}: {e}") from e
        return cls.from_dict(d)


PRESETS = {
    # WaveGAN's published sizes (Donahue et al. 2019): d=64, 16 kHz, 16384 samples, WGAN-GP, 5 D steps, batch 64.
    "paper": Config(name="paper", sample_rate=16000, slice_len=16384, model_dim=64, loss="wgan-gp",
                    gp_weight=10.0, d_updates=5, g_lr=1e-4, d_lr=1e-4, beta1=0.5, beta2=0.9, batch_size=64),
    # Telephone-rate dialogue: 65536 samples at 8 kHz (~8.2 s) so one clip holds several turns.
    "dialogue8k": Config(name="dialogue8k", sample_rate=8000, slice_len=65536, model_dim=64, ms_weight=1.0,
                         batch_size=64),
    # Small enough to show turn structure within ~20-30 minutes on 2 CPU cores: 8.2 s clips (several
    # turns), d=8, hinge loss (no gradient-penalty double backward) with one D update per G update.
    # A full step (wave D + timing D + G, batch 8) measured 0.35-0.66 s on the shared 2-core machine
    # (eval/bench_models.py), i.e. a few thousand G steps in 30 minutes.
    # Tuned in the timing ablation (first session, eval/results/ablation_timing_notes.md): without the
    # minibatch-std feature every clip had the same turn pattern (mode collapse); a lighter waveform D (0.3)
    # helped the timing D's signal through. Best timing error was seen near 600 steps; longer runs oscillated.
    "demo": Config(name="demo", sample_rate=8000, slice_len=65536, model_dim=8, ms_dim=8, ms_groups=4,
                   timing_dim=16, timing_minibatch_std=True, wave_weight=0.3, loss="hinge", d_updates=1,
                   batch_size=8, g_lr=2e-4, d_lr=2e-4),
}


def get_config(preset: str = "demo", **overrides) -> Config:
    """The named preset with validated overrides. Unknown preset -> ConfigError."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset '{preset}'; choose one of {sorted(PRESETS)}")
    return PRESETS[preset].replace(**overrides)

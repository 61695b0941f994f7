"""wavebabble models: stereo WaveGAN generator and the three discriminators.

    build_generator(cfg)                 z [B, latent_dim] -> audio [B, slice_len, nch]
    build_wave_discriminator(cfg)        audio [B, slice_len, nch] -> [B, 1]
    build_multiscale_discriminator(cfg)  audio -> [[features..., score_map [B, t, 1]] per scale]
    build_timing_discriminator(cfg)      soft VAD [B, num_frames, 2] -> [B, 1]
"""
from wavebabble.models.generator import build_generator
from wavebabble.models.multiscale_discriminator import build_multiscale_discriminator
from wavebabble.models.timing_discriminator import build_timing_discriminator
from wavebabble.models.wavegan_discriminator import build_wave_discriminator

__all__ = ["build_generator", "build_wave_discriminator", "build_multiscale_discriminator",
           "build_timing_discriminator"]

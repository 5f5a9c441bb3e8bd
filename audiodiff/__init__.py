"""audiodiff: open latent text-to-audio diffusion (VAE on log-mel, cross-attention U-Net, HiFi-GAN)."""

from .mel import MelSpectrogram
from .models.vocoder import HifiGanVocoder
from .pipeline import AudioDiffusionOutput, AudioDiffusionPipeline

__all__ = ["AudioDiffusionOutput", "AudioDiffusionPipeline", "HifiGanVocoder", "MelSpectrogram"]
__version__ = "0.1.0"

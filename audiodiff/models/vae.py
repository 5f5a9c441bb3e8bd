"""The mel VAE: diffusers ``AutoencoderKL`` over a log-mel as a one-channel image.

Images are ``(batch, 1, frames, n_mels)`` (time on the height axis, as in AudioLDM);
latents are ``(batch, latent_channels, frames / f, n_mels / f)`` with
``f = 2 ** (len(block_out_channels) - 1)``.  Latents are multiplied by
``scaling_factor`` so diffusion sees roughly unit variance (Rombach et al. 2022, sec. 3.1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from ..config import AudioConfig, VAEConfig


def build_vae(config: VAEConfig, audio: AudioConfig) -> AutoencoderKL:
    """A randomly initialised ``AutoencoderKL`` for one-channel mel images.

    Raises:
        ValueError: ``n_mels`` is not divisible by the downsampling factor.
    """
    depth = len(config.block_out_channels)
    factor = 2 ** (depth - 1)
    if audio.n_mels % factor:
        raise ValueError(f"n_mels={audio.n_mels} must be divisible by the VAE downsampling factor {factor}.")
    return AutoencoderKL(
        in_channels=1,
        out_channels=1,
        down_block_types=("DownEncoderBlock2D",) * depth,
        up_block_types=("UpDecoderBlock2D",) * depth,
        block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block,
        latent_channels=config.latent_channels,
        norm_num_groups=config.norm_num_groups,
        sample_size=audio.n_mels,
        scaling_factor=config.scaling_factor,
    )


def downsampling_factor(vae: AutoencoderKL) -> int:
    """How much the encoder shrinks each axis: ``2 ** (len(block_out_channels) - 1)``."""
    return 2 ** (len(vae.config.block_out_channels) - 1)


def pad_frames(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad the frame axis (dim 2) of ``(batch, channels, frames, width)`` up to a multiple, by edge replication."""
    frames = image.shape[2]
    extra = -frames % multiple
    if extra == 0:
        return image
    return F.pad(image, (0, 0, 0, extra), mode="replicate")


def encode_mel(vae: AutoencoderKL, mel: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
    """Normalised log-mel ``(batch, n_mels, frames)`` -> scaled latents ``(batch, C, ceil(frames / f), n_mels / f)``.

    ``sample=False`` takes the posterior mean; ``True`` draws from it.
    """
    image = pad_frames(mel.transpose(1, 2).unsqueeze(1), downsampling_factor(vae))
    posterior = vae.encode(image.to(vae.dtype)).latent_dist
    latents = posterior.sample(generator) if sample else posterior.mode()
    return latents * vae.config.scaling_factor


def decode_latents(vae: AutoencoderKL, latents: torch.Tensor, frames: int | None = None) -> torch.Tensor:
    """Scaled latents ``(batch, C, h, w)`` -> normalised log-mel ``(batch, n_mels, frames)``, cropped to ``frames``."""
    image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
    mel = image.squeeze(1).transpose(1, 2)
    return mel if frames is None else mel[..., :frames]

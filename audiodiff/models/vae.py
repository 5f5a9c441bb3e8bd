"""The mel VAE: diffusers ``AutoencoderKL`` over a log-mel as an image.

Images are ``(batch, 1, frames, n_mels)`` (time on the height axis, as in AudioLDM); latents are
``(batch, latent_channels, frames / f, n_mels / f)`` with ``f = 2 ** (len(block_out_channels) - 1)``.
Latents are multiplied by ``scaling_factor`` so diffusion sees roughly unit variance (Rombach et al.
2022, sec. 3.1).

The image layout is an option of the mel front end (``MelSpectrogram(image_layout=...)``; the layouts and
the mel <-> image maps, :func:`audiodiff.mel.mel_to_image` and :func:`audiodiff.mel.image_to_mel`, live
there).  Whatever the image layout, latents leave :func:`encode_mel` and enter :func:`decode_latents` as
``(batch, C, frames / f, n_mels / f)``, so the U-Net, the sampler, the latent cache and training see
one layout (a ``"mels_by_frames"`` VAE's latents are transposed at its boundary).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL

from ..config import AudioConfig, VAEConfig
from ..mel import image_to_mel, mel_to_image


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


def pad_frames(image: torch.Tensor, multiple: int, dim: int = 2) -> torch.Tensor:
    """Pad the frame axis ``dim`` (2 or 3) of a ``(batch, channels, height, width)`` image up to a multiple,
    by edge replication."""
    extra = -image.shape[dim] % multiple
    if extra == 0:
        return image
    padding = (0, 0, 0, extra) if dim == 2 else (0, extra)
    return F.pad(image, padding, mode="replicate")


def encode_mel(
    vae: AutoencoderKL, mel: torch.Tensor, sample: bool = False, generator: torch.Generator | None = None,
    layout: str = "frames_by_mels",
) -> torch.Tensor:
    """Normalised log-mel ``(batch, n_mels, frames)`` -> scaled latents ``(batch, C, ceil(frames / f), n_mels / f)``.

    ``sample=False`` takes the posterior mean; ``True`` draws from it.  ``layout`` is the VAE's image
    layout; the latents come out frames by mels whatever it is.
    """
    frame_dim = 3 if layout == "mels_by_frames" else 2
    image = pad_frames(mel_to_image(mel, vae.config.in_channels, layout), downsampling_factor(vae), frame_dim)
    posterior = vae.encode(image.to(vae.dtype)).latent_dist
    latents = posterior.sample(generator) if sample else posterior.mode()
    latents = latents.transpose(2, 3).contiguous() if layout == "mels_by_frames" else latents
    return latents * vae.config.scaling_factor


def decode_latents(
    vae: AutoencoderKL, latents: torch.Tensor, frames: int | None = None, layout: str = "frames_by_mels"
) -> torch.Tensor:
    """Scaled latents ``(batch, C, h, w)`` (frames by mels) -> normalised log-mel ``(batch, n_mels, frames)``,
    cropped to ``frames``; ``layout`` is the VAE's image layout."""
    latents = latents.transpose(2, 3) if layout == "mels_by_frames" else latents
    image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
    mel = image_to_mel(image, layout)
    return mel if frames is None else mel[..., :frames]

"""The mel VAE: latent shapes, frame padding and cropping, scaling factor."""

from __future__ import annotations

import pytest
import torch

from audiodiff.config import AudioConfig, VAEConfig
from audiodiff.models.vae import build_vae, decode_latents, downsampling_factor, encode_mel, pad_frames

AUDIO = AudioConfig()


def tiny_vae(levels: int = 2, scaling_factor: float = 1.0):
    torch.manual_seed(0)
    channels = tuple(8 * 2**i for i in range(levels))
    config = VAEConfig(block_out_channels=channels, latent_channels=4, norm_num_groups=4, scaling_factor=scaling_factor)
    return build_vae(config, AUDIO).eval()


@pytest.mark.parametrize("levels", [2, 3])
@pytest.mark.parametrize("duration", [0.5, 1.0, 1.37])
@torch.no_grad()
def test_encode_decode_shapes(levels, duration):
    vae = tiny_vae(levels)
    factor = downsampling_factor(vae)
    assert factor == 2 ** (levels - 1)
    frames = round(duration * AUDIO.sample_rate) // AUDIO.hop_length
    mel = torch.randn(2, AUDIO.n_mels, frames)
    latents = encode_mel(vae, mel)
    assert latents.shape == (2, 4, -(-frames // factor), AUDIO.n_mels // factor)
    decoded = decode_latents(vae, latents, frames)
    assert decoded.shape == mel.shape
    assert decode_latents(vae, latents).shape[-1] == latents.shape[2] * factor


def test_pad_frames_replicates_the_last_frame():
    image = torch.arange(2 * 5 * 3, dtype=torch.float32).reshape(1, 2, 5, 3)
    padded = pad_frames(image, 4)
    assert padded.shape == (1, 2, 8, 3)
    torch.testing.assert_close(padded[:, :, :5], image)
    torch.testing.assert_close(padded[:, :, 5:], image[:, :, 4:5].expand(-1, -1, 3, -1))
    assert pad_frames(image, 5) is image


@torch.no_grad()
def test_mel_is_laid_out_time_by_frequency():
    """A mel (batch, n_mels, frames) becomes the image (batch, 1, frames, n_mels): time on the height axis."""
    vae = tiny_vae(2)
    seen = {}

    def record(module, args):
        seen["shape"] = tuple(args[0].shape)

    vae.encoder.register_forward_pre_hook(record)
    encode_mel(vae, torch.randn(1, AUDIO.n_mels, 50))
    assert seen["shape"] == (1, 1, 50, AUDIO.n_mels)


@torch.no_grad()
def test_scaling_factor_scales_latents():
    plain, scaled = tiny_vae(2, 1.0), tiny_vae(2, 0.5)
    mel = torch.randn(1, AUDIO.n_mels, 40)
    torch.testing.assert_close(encode_mel(scaled, mel), 0.5 * encode_mel(plain, mel))
    latents = torch.randn(1, 4, 20, 32)
    torch.testing.assert_close(decode_latents(scaled, 0.5 * latents), decode_latents(plain, latents))


@torch.no_grad()
def test_posterior_sampling_is_seeded():
    vae = tiny_vae(2)
    mel = torch.randn(1, AUDIO.n_mels, 40)
    a = encode_mel(vae, mel, sample=True, generator=torch.Generator().manual_seed(1))
    b = encode_mel(vae, mel, sample=True, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, encode_mel(vae, mel))


def test_n_mels_must_divide_by_the_factor():
    config = VAEConfig(block_out_channels=(8, 16, 32, 64), latent_channels=4, norm_num_groups=4)
    with pytest.raises(ValueError, match="n_mels=20"):
        build_vae(config, AudioConfig(n_mels=20))

"""The denoiser eps_theta(z_t, t, tau): diffusers ``UNet2DConditionModel`` with text cross-attention.

Latents are ``(batch, latent_channels, frames / f, n_mels / f)``; ``tau`` is the text
encoder's token states ``(batch, tokens, hidden)`` with their padding mask
(Rombach et al. 2022, sec. 3.3; as used by AudioLDM, Tango and Auffusion).
"""

from __future__ import annotations

from diffusers import UNet2DConditionModel

from ..config import UNetConfig


def build_unet(config: UNetConfig, latent_channels: int, cross_attention_dim: int) -> UNet2DConditionModel:
    """A randomly initialised U-Net; levels with ``attention_levels[i]`` get cross-attention blocks.

    Raises:
        ValueError: ``attention_levels`` and ``block_out_channels`` differ in length.
    """
    if len(config.attention_levels) != len(config.block_out_channels):
        raise ValueError("unet.attention_levels needs one entry per unet.block_out_channels level.")
    down = tuple("CrossAttnDownBlock2D" if a else "DownBlock2D" for a in config.attention_levels)
    up = tuple("CrossAttnUpBlock2D" if a else "UpBlock2D" for a in reversed(config.attention_levels))
    heads = tuple(max(1, c // config.attention_head_dim) for c in config.block_out_channels)
    return UNet2DConditionModel(
        in_channels=latent_channels,
        out_channels=latent_channels,
        down_block_types=down,
        up_block_types=up,
        mid_block_type="UNetMidBlock2DCrossAttn",
        block_out_channels=tuple(config.block_out_channels),
        layers_per_block=config.layers_per_block,
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=heads,
        transformer_layers_per_block=config.transformer_layers_per_block,
        norm_num_groups=config.norm_num_groups,
        use_linear_projection=True,
    )


def downsampling_factor(unet: UNet2DConditionModel) -> int:
    """How much the U-Net shrinks each latent axis; latent sizes must be multiples of it."""
    return 2 ** (len(unet.config.block_out_channels) - 1)

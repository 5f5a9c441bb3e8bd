"""The denoiser eps_theta(z_t, t, tau): diffusers ``UNet2DConditionModel`` with text cross-attention.

Latents are ``(batch, latent_channels, frames / f, n_mels / f)``; ``tau`` is the text
encoder's token states ``(batch, tokens, hidden)`` with their padding mask
(Rombach et al. 2022, sec. 3.3; as used by Tango and Auffusion).

AudioLDM's U-Net (``text_conditioning="class_embedding"``) instead reads one pooled text
embedding per clip, ``(batch, 1, dim)`` as states, through a class embedding
(``class_embed_type="simple_projection"``, concatenated to the time embedding) and has
self-attention only: its attention blocks' second attention attends to the image itself
(Liu et al. 2023, sec. 3.2; diffusers' ``AudioLDMPipeline``).
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import UNet2DConditionModel

from ..config import UNetConfig


TEXT_CONDITIONINGS = ("cross_attention", "class_embedding")


def build_unet(config: UNetConfig, latent_channels: int, cross_attention_dim: int) -> UNet2DConditionModel:
    """A randomly initialised U-Net; levels with ``attention_levels[i]`` get cross-attention blocks.

    ``cross_attention_dim`` is the width of the text embedding; with ``text_conditioning="class_embedding"``
    it is the input of the class-embedding projection and the attention blocks attend to the image only.

    Raises:
        ValueError: ``attention_levels`` and ``block_out_channels`` differ in length, or an unknown
            ``text_conditioning``.
    """
    if len(config.attention_levels) != len(config.block_out_channels):
        raise ValueError("unet.attention_levels needs one entry per unet.block_out_channels level.")
    if config.text_conditioning not in TEXT_CONDITIONINGS:
        raise ValueError(f"unet.text_conditioning must be one of {TEXT_CONDITIONINGS}, got {config.text_conditioning!r}.")
    text_inputs: dict[str, Any] = {"cross_attention_dim": cross_attention_dim}
    if config.text_conditioning == "class_embedding":
        text_inputs = {
            "cross_attention_dim": tuple(config.block_out_channels), "class_embed_type": "simple_projection",
            "projection_class_embeddings_input_dim": cross_attention_dim, "class_embeddings_concat": True,
        }
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
        attention_head_dim=heads,
        transformer_layers_per_block=config.transformer_layers_per_block,
        norm_num_groups=config.norm_num_groups,
        use_linear_projection=True,
        **text_inputs,
    )


def uses_class_embedding(unet_config: Any) -> bool:
    """Whether a U-Net (its ``config``) reads the text as a class embedding (AudioLDM) rather than by cross-attention."""
    return unet_config.get("class_embed_type") == "simple_projection"


def text_embedding_size(unet_config: Any) -> int:
    """Width of the text embedding the U-Net reads (``projection_class_embeddings_input_dim`` or ``cross_attention_dim``)."""
    if uses_class_embedding(unet_config):
        return int(unet_config["projection_class_embeddings_input_dim"])
    return int(unet_config["cross_attention_dim"])


def text_inputs(unet_config: Any, states: torch.Tensor, mask: torch.Tensor) -> dict[str, Any]:
    """The U-Net's text keyword arguments for ``states`` ``(batch, tokens, dim)`` and ``mask`` ``(batch, tokens)``.

    Cross-attention gets the states and their mask; a class-embedding U-Net gets the single
    pooled embedding ``states[:, 0]`` ``(batch, dim)`` as ``class_labels`` and no encoder states.
    """
    if uses_class_embedding(unet_config):
        return {"encoder_hidden_states": None, "class_labels": states[:, 0]}
    return {"encoder_hidden_states": states, "encoder_attention_mask": mask}


def downsampling_factor(unet: UNet2DConditionModel) -> int:
    """How much the U-Net shrinks each latent axis; latent sizes must be multiples of it."""
    return 2 ** (len(unet.config.block_out_channels) - 1)

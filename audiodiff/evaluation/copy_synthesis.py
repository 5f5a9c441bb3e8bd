"""Copy synthesis: a real clip -> its log-mel -> (optionally the VAE round trip) -> a vocoder -> a waveform.

How vocoder papers compare vocoders (HiFi-GAN, Kong et al. 2020; BigVGAN, Lee et al. 2023; Vocos,
Siuzdak 2023): the resynthesis is scored against the recording it came from, so the only difference is
what the vocoder (and here, the VAE) loses.  A *system* is a named vocoder, optionally preceded by the
pipeline's VAE (``vae+NAME``: mel -> latents (posterior mean) -> mel), plus ``real``, the clip itself,
which every intrusive measure scores as its ceiling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers.models.modeling_utils import ModelMixin

from ..models import vae as vaes
from ..models.griffin_lim import GriffinLimVocoder
from ..models.vocoders import type_of
from ..pipeline import AudioDiffusionPipeline

REAL = "real"


@dataclass(frozen=True)
class System:
    """One way of turning a real clip into a waveform: ``vocoder`` (None for :data:`REAL`) after the VAE
    round trip when ``through_vae``."""

    name: str
    vocoder: ModelMixin | None = None
    through_vae: bool = False


def load_vocoder(model_dir: str | Path) -> ModelMixin:
    """The ``vocoder`` component of a pipeline folder (e.g. a vocoder training run's ``model/``), float32, eval."""
    return AudioDiffusionPipeline.from_pretrained(model_dir, text_encoder=None, tokenizer=None).vocoder.float().eval()


def build_systems(pipe: AudioDiffusionPipeline, extra_vocoders: dict[str, ModelMixin] | None = None) -> list[System]:
    """``real``, the pipeline's own vocoder, Griffin-Lim of its mel front end (when the pipeline's vocoder is
    not already Griffin-Lim), each of ``extra_vocoders`` (name -> vocoder of the same mel settings), then the
    same vocoders after the VAE round trip (``vae+NAME``)."""
    vocoders: dict[str, ModelMixin] = {type_of(pipe.vocoder): pipe.vocoder}
    if not isinstance(pipe.vocoder, GriffinLimVocoder):
        vocoders["griffin-lim"] = GriffinLimVocoder.from_mel(pipe.mel)
    vocoders.update(extra_vocoders or {})
    systems = [System(REAL)]
    systems += [System(name, vocoder) for name, vocoder in vocoders.items()]
    systems += [System(f"vae+{name}", vocoder, through_vae=True) for name, vocoder in vocoders.items()]
    return systems


@torch.no_grad()
def vae_round_trip(pipe: AudioDiffusionPipeline, audio: torch.Tensor) -> torch.Tensor:
    """Waveforms ``(batch, samples)`` -> the VAE's reconstruction (posterior mean) of their natural-log mel
    ``(batch, n_mels, samples // hop_length)``, the shape of ``pipe.mel(audio)``."""
    latents = pipe.audio_to_latents(audio)
    frames = audio.shape[-1] // pipe.mel.config.hop_length
    decoded = vaes.decode_latents(pipe.vae, latents, frames, pipe.mel.config.image_layout)
    return pipe.mel.denormalize(decoded.float())


@torch.no_grad()
def copy_syntheses(pipe: AudioDiffusionPipeline, systems: list[System], audio: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every system's copy synthesis of one clip: name -> ``(samples,)`` float32.

    ``audio: (samples,)`` float32 at the pipeline's rate, ``samples`` a multiple of ``hop_length``.  The clip's
    log-mel and its VAE round trip are computed once each and shared by the systems that need them.
    """
    log_mel = pipe.mel(audio[None].float())
    vae_mel = vae_round_trip(pipe, audio[None].float()) if any(s.through_vae for s in systems) else None
    out: dict[str, torch.Tensor] = {}
    for system in systems:
        if system.vocoder is None:
            out[system.name] = audio
            continue
        mel = vae_mel if system.through_vae else log_mel
        waveform = system.vocoder(mel.to(system.vocoder.dtype)).float()[0]
        resynthesis = torch.zeros_like(audio)
        length = min(resynthesis.numel(), waveform.numel())
        resynthesis[:length] = waveform[:length]
        out[system.name] = resynthesis
    return out

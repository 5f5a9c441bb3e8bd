"""Previews: a clip per prompt from the model as it trains, written as WAV and log-mel PNG (and to TensorBoard).

``audiodiff finetune --preview PROMPT ...`` (and ``diffusion.sample_prompts`` of any diffusion run) writes
``samples/step-N/<prompt>.wav`` and ``<prompt>.png`` every ``eval_every`` steps, each prompt with the same seed
every time, so the clips of successive steps show what the model is learning.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio import write_wav
from ..pipeline import AudioDiffusionPipeline
from .visuals import save_mel_images


@dataclass(frozen=True)
class Preview:
    """One generated clip: ``audio`` ``(samples,)`` float32 in [-1, 1] at ``sample_rate`` Hz, its log-mel
    ``(n_mels, frames)`` (natural log), and the WAV and PNG it was written to."""

    prompt: str
    audio: np.ndarray
    sample_rate: int
    log_mel: torch.Tensor
    wav: Path
    png: Path


def slug(prompt: str, limit: int = 40) -> str:
    """A file-name stem for ``prompt``: lower-case words joined by ``_``, at most ``limit`` characters."""
    return re.sub(r"[^a-z0-9]+", "_", prompt.lower()).strip("_")[:limit] or "prompt"


@torch.no_grad()
def log_mel(pipe: AudioDiffusionPipeline, audio: np.ndarray) -> torch.Tensor:
    """The pipeline's own log-mel ``(n_mels, frames)`` of ``audio`` ``(samples,)``."""
    waveform = torch.as_tensor(audio, dtype=torch.float32)[None].to(pipe.mel.mel_basis.device)
    return pipe.mel(waveform)[0].float().cpu()


def generate_previews(
    pipe: AudioDiffusionPipeline, prompts: Sequence[str], folder: Path, duration: float, num_inference_steps: int,
    seed: int = 0, writer: Any | None = None, step: int = 0, tag: str = "preview",
) -> list[Preview]:
    """Generate one clip per prompt (generator seeded ``seed`` for each) and write ``folder/<slug>.wav`` and
    ``folder/<slug>.png``; with a TensorBoard ``writer`` (``SummaryWriter``) also log each as audio and image
    under ``tag/<slug>`` at ``step``.

    Args:
        duration: seconds per clip.
        num_inference_steps: sampler steps.
    """
    folder.mkdir(parents=True, exist_ok=True)
    pipe.set_progress_bar_config(disable=True)
    generators = [torch.Generator().manual_seed(seed) for _ in prompts]
    audios = pipe(list(prompts), duration=duration, num_inference_steps=num_inference_steps,
                  generator=generators).audios
    previews = []
    for prompt, audio in zip(prompts, audios):
        mel = log_mel(pipe, audio)
        name = slug(prompt)
        wav = write_wav(folder / f"{name}.wav", audio, pipe.sample_rate)
        png = save_mel_images(folder / f"{name}.png", [mel], [prompt])
        previews.append(Preview(prompt, audio, pipe.sample_rate, mel, wav, png))
        if writer is not None:
            writer.add_audio(f"{tag}/{name}", torch.as_tensor(audio)[None], step, sample_rate=pipe.sample_rate)
            image = (mel - mel.min()) / (mel.max() - mel.min()).clamp(min=1e-6)
            writer.add_image(f"{tag}/{name}", image.flip(0)[None], step)
    return previews


def tensorboard_writer(accelerator: Any) -> Any | None:
    """The run's TensorBoard ``SummaryWriter``, or None when the run logs without TensorBoard."""
    trackers = [t for t in getattr(accelerator, "trackers", []) if getattr(t, "name", None) == "tensorboard"]
    return trackers[0].tracker if trackers else None

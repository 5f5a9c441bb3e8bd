"""Latents -> waveform for :meth:`audiodiff.pipeline.AudioDiffusionPipeline.latents_to_audio`.

The VAE decode and the vocoder run window by window for long clips, with inpainting's overlay on the decoded
mel and the peak limit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from .long_form import overlap_add
from .models import vae as vaes

if TYPE_CHECKING:  # decoding reads a pipeline's components; the pipeline imports it
    from .pipeline import AudioDiffusionPipeline

LEVEL_FRAME_HOPS = 4  # long clips' waveform crossfade keeps its level per 4 mel hops (40 ms at 16 kHz, hop 160)


def decode_to_audio(
    pipe: AudioDiffusionPipeline, latents: torch.Tensor, num_samples: int, known_mel: torch.Tensor | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """Latents ``(batch, C, h, w)`` -> waveform ``(batch, num_samples)`` float32 in [-1, 1], as
    :meth:`~audiodiff.pipeline.AudioDiffusionPipeline.latents_to_audio` documents (its arguments)."""
    audio = _decode_windows(pipe, latents, num_samples, known_mel, keep)
    if keep is not None:  # too loud: lower only the generated part (log-mel - log peak), not the kept part
        excess = _peak(audio).clamp(min=1.0).log()
        if bool((excess > 0).any()):
            del audio
            audio = _decode_windows(pipe, latents, num_samples, known_mel, keep, excess)
    return audio / _peak(audio).clamp(min=1.0)[:, None]


def _decode_windows(
    pipe: AudioDiffusionPipeline, latents: torch.Tensor, num_samples: int, known_mel: torch.Tensor | None,
    keep: torch.Tensor | None, excess: torch.Tensor | None = None,
) -> torch.Tensor:
    """:func:`decode_to_audio` before its peak limit, one window at a time: ``(batch, num_samples)`` float32.

    ``excess`` ``(batch,)``: natural-log amount to lower the generated part's log-mel by.
    """
    frames = pipe.mel.num_frames(num_samples)
    factor = vaes.downsampling_factor(pipe.vae)
    hop = pipe.mel.config.hop_length
    windows = pipe.windows(latents.shape[2])

    def window_audio(start: int) -> torch.Tensor:
        first = start * factor  # the window's first mel frame
        normalized = vaes.decode_latents(pipe.vae, latents.narrow(2, start, windows.size), frames - first,
                                         pipe.mel.config.image_layout)
        span = slice(first, first + normalized.shape[-1])
        if keep is not None:
            normalized = torch.lerp(normalized, known_mel[..., span].to(normalized), keep[:, span].to(normalized))
        mel = pipe.mel.denormalize(normalized)
        if excess is not None:
            mel = mel - (1.0 - keep[:, span].to(mel)) * excess[:, None, None].to(mel)
        return pipe.vocoder(mel.to(pipe.vocoder.dtype))[:, : num_samples - first * hop].float()

    return overlap_add(window_audio, windows, dim=1, scale=factor * hop, length=num_samples,
                       level_frame=LEVEL_FRAME_HOPS * hop)


def _peak(audio: torch.Tensor) -> torch.Tensor:
    """Largest absolute sample ``(batch,)`` of ``audio`` ``(batch, samples)``, without a copy of it."""
    return torch.linalg.vector_norm(audio, ord=math.inf, dim=1)

"""Check the editing arguments of a pipeline call (``audio``, ``strength``, ``mask``) and shape the audio per clip."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InvalidArgumentError
from .regions import AudioMask


def check_edit_arguments(audio: object, strength: object, mask: object) -> None:
    """Refuse ``strength`` outside [0, 1], or ``strength < 1`` / a ``mask`` without input ``audio``.

    Raises:
        InvalidArgumentError: naming the value and the fix.
    """
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        raise InvalidArgumentError(
            f"strength must be a number in [0, 1] (0 keeps the input, 1 ignores it), got {strength!r}."
        )
    if audio is None and (strength < 1.0 or mask is not None):
        raise InvalidArgumentError("strength < 1 and mask need input audio; pass audio=(samples,) waveform.")
    if mask is not None and not isinstance(mask, AudioMask):
        raise InvalidArgumentError(f"mask must be an AudioMask(start, end, fmin, fmax), got {type(mask).__name__}.")


def audio_per_clip(
    audio: np.ndarray | torch.Tensor, num_prompts: int, num_waveforms_per_prompt: int
) -> torch.Tensor:
    """``audio`` ``(samples,)`` (shared by every prompt) or ``(num_prompts, samples)`` -> ``(clips, samples)``
    float32, clips ordered prompt by prompt like the outputs.

    Raises:
        InvalidArgumentError: wrong rank or row count, no samples, or non-finite samples.
    """
    waveform = torch.as_tensor(np.asarray(audio) if not isinstance(audio, torch.Tensor) else audio).float().cpu()
    if waveform.dim() == 1:
        waveform = waveform[None].expand(num_prompts, -1)
    if waveform.dim() != 2 or waveform.shape[0] != num_prompts:
        raise InvalidArgumentError(
            f"audio must be (samples,) or (number of prompts = {num_prompts}, samples), got {tuple(waveform.shape)}."
        )
    if waveform.shape[1] == 0:
        raise InvalidArgumentError("audio holds no samples; give at least one sample of input audio.")
    if not bool(torch.isfinite(waveform).all()):
        raise InvalidArgumentError("audio holds NaN or infinite samples; clean the input first.")
    return waveform.repeat_interleave(num_waveforms_per_prompt, dim=0)


def clip_duration(duration: float | None, audio_samples: int | None, sample_rate: int) -> float:
    """The output duration in seconds: ``duration``, else the input's length, else 5 s.

    Raises:
        InvalidArgumentError: ``duration`` shorter than the input audio (trim the input instead).
    """
    if audio_samples is None:
        return 5.0 if duration is None else duration
    length = audio_samples / sample_rate
    if duration is None:
        return length
    if isinstance(duration, (int, float)) and math.isfinite(duration) and round(duration * sample_rate) < audio_samples:
        raise InvalidArgumentError(
            f"duration {duration:g} s is shorter than the input audio ({length:g} s); trim the input or leave "
            "duration out (it defaults to the input's length)."
        )
    return duration

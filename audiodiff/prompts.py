"""Turn a pipeline call's prompt arguments into one validated request per output clip."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import InvalidArgumentError


@dataclass
class GenerationRequest:
    """One clip to generate: its prompt, negative prompt, own generator and optional start noise ``(C, h, w)``."""

    prompt: str
    negative_prompt: str
    generator: torch.Generator | None
    latents: torch.Tensor | None


def expand_requests(
    prompt: str | list[str],
    negative_prompt: str | list[str] | None,
    num_waveforms_per_prompt: int,
    generator: torch.Generator | list[torch.Generator] | None,
    latents: torch.Tensor | None,
    expected_latent_shape: tuple[int, int, int] | None,
) -> list[GenerationRequest]:
    """One :class:`GenerationRequest` per clip, prompt by prompt, ``num_waveforms_per_prompt`` each.

    A single ``generator`` is shared by all clips (so a clip depends on its batch);
    a list gives each clip its own.

    Raises:
        InvalidArgumentError: an empty or non-string prompt, a negative-prompt list of the wrong
            length, ``num_waveforms_per_prompt < 1``, or generators/latents that do not match the clips.
    """
    prompts = _as_prompt_list(prompt, "prompt")
    if negative_prompt is None:
        negatives = [""] * len(prompts)
    elif isinstance(negative_prompt, str):
        negatives = [negative_prompt] * len(prompts)
    else:
        negatives = list(negative_prompt)
        if len(negatives) != len(prompts) or not all(isinstance(n, str) for n in negatives):
            raise InvalidArgumentError(
                f"negative_prompt must be a string or a list of {len(prompts)} strings (one per prompt)."
            )
    if not isinstance(num_waveforms_per_prompt, int) or num_waveforms_per_prompt < 1:
        raise InvalidArgumentError(f"num_waveforms_per_prompt must be an integer >= 1, got {num_waveforms_per_prompt!r}.")
    count = len(prompts) * num_waveforms_per_prompt
    generators = _per_clip_generators(generator, count)
    starts = _per_clip_latents(latents, count, expected_latent_shape)
    pairs = [(p, n) for p, n in zip(prompts, negatives) for _ in range(num_waveforms_per_prompt)]
    return [GenerationRequest(p, n, g, z) for (p, n), g, z in zip(pairs, generators, starts)]


def _as_prompt_list(prompt: str | list[str], name: str) -> list[str]:
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise InvalidArgumentError(f"{name} must be a non-empty string or a non-empty list of strings, got {prompt!r}.")
    for item in prompts:
        if not isinstance(item, str) or not item.strip():
            raise InvalidArgumentError(f"Every {name} must be a non-empty string; got {item!r}. Describe the sound, e.g. 'a dog barking'.")
    return list(prompts)


def _per_clip_generators(generator: torch.Generator | list[torch.Generator] | None, count: int) -> list[torch.Generator | None]:
    if generator is None or isinstance(generator, torch.Generator):
        return [generator] * count
    generators = list(generator)
    if len(generators) != count:
        raise InvalidArgumentError(
            f"Got {len(generators)} generators for {count} clips; pass one generator, or one per clip "
            "(number of prompts x num_waveforms_per_prompt)."
        )
    return generators


def _per_clip_latents(latents: torch.Tensor | None, count: int, shape: tuple[int, int, int] | None) -> list[torch.Tensor | None]:
    if latents is None:
        return [None] * count
    if shape is not None and tuple(latents.shape) != (count, *shape):
        raise InvalidArgumentError(
            f"latents must have shape {(count, *shape)} for this duration and clip count, got {tuple(latents.shape)}."
        )
    return list(latents)

"""Small pieces every stage uses: per-step random generators, frame masks, pipeline export."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..mel import frame_mask  # noqa: F401  (re-exported for the stages)
from ..pipeline import AudioDiffusionPipeline


def step_generator(seed: int, step: int, process_index: int = 0) -> torch.Generator:
    """A CPU generator that depends only on (seed, step, process): randomness that survives resumption exactly."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 1_009 + process_index)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the entries where ``mask`` (broadcastable) is 1."""
    mask = mask.expand_as(values).to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.0)


def export_pipeline(
    base: AudioDiffusionPipeline, directory: Path, max_shard_size: str, **components: nn.Module
) -> AudioDiffusionPipeline:
    """Save ``base`` with some components replaced (e.g. ``vae=trained``) as a pipeline folder of safetensors shards."""
    for name, module in components.items():
        setattr(base, name, module)
        base.register_modules(**{name: module})
    base.save_pretrained(directory, max_shard_size=max_shard_size)
    return base

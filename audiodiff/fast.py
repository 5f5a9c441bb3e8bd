"""Inference fast paths for :class:`~audiodiff.pipeline.AudioDiffusionPipeline`.

Two levels:

* :func:`prepare_for_inference` -- always safe, output equal to the plain path up to float
  rounding; :func:`audiodiff.loading.load_pipeline` (``audiodiff generate``) applies it.
  It folds the vocoder's weight normalisation into plain weights (Salimans & Kingma 2016:
  ``w = g * v / ||v||`` is computed once instead of at every call), puts every module in
  eval mode and checks that attention runs through PyTorch's fused
  ``scaled_dot_product_attention`` (diffusers' ``AttnProcessor2_0``).
* :func:`enable_fast_path` -- opt-in settings whose value depends on the device:
  ``channels_last`` convolution layouts, ``torch.compile`` of the U-Net, VAE decoder and
  vocoder, and CUDA graphs (``compile="reduce-overhead"``) that remove the per-kernel launch
  cost that dominates a small U-Net at batch 1 on a GPU.

The pipeline's own ``__call__`` already runs under ``torch.inference_mode``, encodes the
prompts once per batch and runs the conditional and unconditional halves of classifier-free
guidance in one batched U-Net call.  A pipeline prepared here can no longer be trained or
saved as a weight-normalised vocoder: load a fresh one for that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from diffusers.models.attention_processor import AttnProcessor2_0
from torch import nn
from torch.nn.utils.parametrize import is_parametrized

from .errors import InvalidArgumentError

if TYPE_CHECKING:  # the pipeline's type only: fast.py is applied to a pipeline, it does not build one
    from .pipeline import AudioDiffusionPipeline

logger = logging.getLogger(__name__)

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


@dataclass(frozen=True)
class FastPathSettings:
    """What :func:`enable_fast_path` applied; ``compile`` is a ``torch.compile`` mode or None."""

    channels_last: bool = False
    compile: str | None = None
    compile_vocoder: bool = False


def is_weight_norm_folded(module: nn.Module) -> bool:
    """True when no submodule of ``module`` still carries a weight-norm parametrisation."""
    return not any(is_parametrized(m, "weight") for m in module.modules())


def use_sdpa_attention(pipe: AudioDiffusionPipeline) -> None:
    """Route the U-Net's and VAE's attention through ``F.scaled_dot_product_attention``.

    diffusers picks ``AttnProcessor2_0`` by default on PyTorch 2; this makes it explicit, so a
    pipeline whose processors were changed (e.g. by an older checkpoint) is put back on it.
    """
    for model in (pipe.unet, pipe.vae):
        if any(not isinstance(p, AttnProcessor2_0) for p in model.attn_processors.values()):
            model.set_attn_processor(AttnProcessor2_0())


def prepare_for_inference(pipe: AudioDiffusionPipeline) -> AudioDiffusionPipeline:
    """Apply the always-safe fast paths in place and return ``pipe``.

    Folds the vocoder's weight norm, sets eval mode and SDPA attention.  The audio is the
    plain path's within float rounding (tests/test_fast.py).
    """
    pipe.vocoder.remove_weight_norm()
    for component in pipe.components.values():
        if isinstance(component, nn.Module):
            component.eval()
    use_sdpa_attention(pipe)
    return pipe


def enable_fast_path(
    pipe: AudioDiffusionPipeline,
    channels_last: bool = False,
    compile: str | bool | None = None,
    compile_vocoder: bool = False,
) -> FastPathSettings:
    """Opt-in fast paths; applies :func:`prepare_for_inference` first.

    Args:
        channels_last: NHWC layout for the U-Net and VAE convolutions (faster with cuDNN in
            fp16/bf16 on GPUs; measured slower on a 2-core CPU in fp32, see benchmarks/README.md).
        compile: ``torch.compile`` the U-Net and the VAE decoder with this mode (``True`` means
            ``"default"``); ``"reduce-overhead"`` adds CUDA graphs on a GPU.  The first calls
            compile (minutes); later calls with the same shapes (duration, batch) reuse it.
        compile_vocoder: also compile the vocoder (its input length follows the duration).

    Raises:
        InvalidArgumentError: an unknown compile mode.
    """
    mode = "default" if compile is True else (compile or None)
    if mode is not None and mode not in COMPILE_MODES:
        raise InvalidArgumentError(f"compile must be one of {COMPILE_MODES} (or True/False), got {compile!r}.")
    prepare_for_inference(pipe)
    if channels_last:
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
    if mode is not None:
        pipe.unet.forward = torch.compile(pipe.unet.forward, mode=mode, fullgraph=False, dynamic=False)
        pipe.vae.decoder.forward = torch.compile(pipe.vae.decoder.forward, mode=mode, dynamic=False)
        if compile_vocoder:
            pipe.vocoder.forward = torch.compile(pipe.vocoder.forward, mode=mode, dynamic=False)
    settings = FastPathSettings(channels_last=channels_last, compile=mode, compile_vocoder=compile_vocoder and mode is not None)
    logger.info("fast path: %s", settings)
    return settings

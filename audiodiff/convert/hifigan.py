"""HiFi-GAN generator weights from other implementations -> :class:`~audiodiff.models.vocoder.HifiGanVocoder`.

The published generators (jik876/hifi-gan and its descendants such as Auffusion's, transformers'
``SpeechT5HifiGan``) share the module tree ``conv_pre``, ``ups.i``, ``resblocks.j.convs1/convs2/convs.k``,
``conv_post`` with audiodiff's; they differ in key prefixes and in how a convolution weight is stored:
plain (``weight``), or weight-normalised the pre-2.1 PyTorch way (``weight_g`` magnitude, ``weight_v``
direction; Salimans & Kingma 2016).  audiodiff keeps weight norm as a parametrisation (``original0`` = g,
``original1`` = v), so both forms load exactly: ``g``/``v`` are copied, a plain ``w`` goes through the
parametrisation's right inverse (``g = ||w||`` per output slice, ``v = w``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..errors import IncompatibleModelError
from ..models.vocoder import HifiGanVocoder

WEIGHT_NORM_PARTS = {"weight_g": "original0", "weight_v": "original1"}


def load_hifigan_weights(
    vocoder: HifiGanVocoder, state: dict[str, torch.Tensor], rename: Callable[[str], str] = lambda name: name
) -> None:
    """Copy a HiFi-GAN generator state dict into ``vocoder``.

    Args:
        state: tensors by key; ``rename`` maps a key's module path onto audiodiff's (e.g. ``upsampler.i`` ->
            ``ups.i``).  ``mean``/``scale`` (input normalisation) are kept when ``normalize_before`` is set.

    Raises:
        IncompatibleModelError: a key with no counterpart, a shape that differs, or a weight of ours left unset.
    """
    modules = dict(vocoder.named_modules())
    convolutions = {name for name, module in modules.items() if isinstance(module, (torch.nn.Conv1d, torch.nn.ConvTranspose1d))}
    loaded: set[str] = set()
    with torch.no_grad():
        for key, tensor in state.items():
            if key in ("mean", "scale"):
                if vocoder.config.normalize_before:
                    getattr(vocoder, key).copy_(tensor)
                continue
            name, _, attr = key.rpartition(".")
            name = rename(name)
            if name not in convolutions or attr not in ("weight", "bias", *WEIGHT_NORM_PARTS):
                raise IncompatibleModelError(f"Vocoder weight {key!r} has no counterpart in audiodiff's HiFi-GAN.")
            _copy(modules[name], attr, tensor, key)
            loaded.add(f"{name}.{attr}")
    unset = [name for name in sorted(convolutions) if f"{name}.bias" not in loaded
             or not ({f"{name}.weight"} <= loaded or {f"{name}.weight_g", f"{name}.weight_v"} <= loaded)]
    if unset:
        raise IncompatibleModelError(f"The vocoder checkpoint lacks weights for {unset[:4]} ...")


def _copy(module: torch.nn.Module, attr: str, tensor: torch.Tensor, key: str) -> None:
    """Set ``module``'s ``attr`` (``weight``, ``bias``, ``weight_g`` or ``weight_v``) from ``tensor``."""
    if attr in WEIGHT_NORM_PARTS:
        target = getattr(module.parametrizations.weight, WEIGHT_NORM_PARTS[attr])
    else:
        target = getattr(module, attr)
    if target.shape != tensor.shape:
        raise IncompatibleModelError(
            f"Vocoder weight {key!r} is {tuple(tensor.shape)}, audiodiff's is {tuple(target.shape)}: "
            "the vocoder config does not describe these weights."
        )
    if attr == "weight":
        module.weight = tensor.to(target.dtype)  # through weight_norm's right_inverse: (||w||, w)
    else:
        target.copy_(tensor)

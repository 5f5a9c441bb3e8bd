"""audiodiff: open latent text-to-audio diffusion (VAE on log-mel, cross-attention U-Net, HiFi-GAN).

The public classes are imported lazily, so ``audiodiff --help`` starts without loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .models.vocoders import VOCODER_KINDS

__version__ = "0.1.0"

_LAZY = {
    "AudioDiffusionPipeline": "audiodiff.pipeline",
    "AudioDiffusionOutput": "audiodiff.pipeline",
    "MelSpectrogram": "audiodiff.mel",
    **{kind.class_name: kind.module for kind in VOCODER_KINDS.values()},
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from .dependencies import check_compiled_dependencies

        check_compiled_dependencies()  # a torch/torchaudio mismatch: one line with the fix, not a loader error
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'audiodiff' has no attribute {name!r}")

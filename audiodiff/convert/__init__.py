"""Convert published text-to-audio checkpoints into audiodiff pipeline folders (``audiodiff convert``).

Each converter reads a local folder in its source layout (safetensors only; nothing is
downloaded), maps every component onto an audiodiff component (options of audiodiff's own
models, no forks) and writes a pipeline folder that ``AudioDiffusionPipeline.from_pretrained``,
``audiodiff generate`` and ``audiodiff finetune`` read.  See docs/checkpoints.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import InvalidArgumentError


def _convert_audioldm(source: str | Path, destination: str | Path) -> Path:
    from .audioldm import convert_audioldm

    return convert_audioldm(source, destination)


def _convert_auffusion(source: str | Path, destination: str | Path) -> Path:
    from .auffusion import convert_auffusion

    return convert_auffusion(source, destination)


CONVERTERS: dict[str, Callable[[str | Path, str | Path], Path]] = {
    "audioldm": _convert_audioldm,
    "auffusion": _convert_auffusion,
}


def convert(family: str, source: str | Path, destination: str | Path) -> Path:
    """Convert the ``family`` checkpoint folder ``source`` into the pipeline folder ``destination``.

    Raises:
        InvalidArgumentError: an unknown ``family``.
        ModelNotFoundError / IncompatibleModelError: see the family's converter.
    """
    if family not in CONVERTERS:
        raise InvalidArgumentError(f"Unknown checkpoint family {family!r}; choose one of: {', '.join(CONVERTERS)}.")
    return CONVERTERS[family](source, destination)

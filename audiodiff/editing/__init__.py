"""Editing sound with a text-to-audio model: audio-to-audio, inpainting, continuation, bandwidth extension.

All of them are arguments of :class:`audiodiff.AudioDiffusionPipeline` (``audio``, ``strength``, ``mask``) run
by its one denoising loop; see docs/editing.md.
"""

from __future__ import annotations

from .regions import AudioMask

__all__ = ["AudioMask"]

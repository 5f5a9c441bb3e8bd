"""Clips longer than a model's ``max_duration``: overlapping windows blended at every step.

MultiDiffusion (Bar-Tal et al. 2023, eq. 5): each denoising step runs the model on overlapping windows of
the long latent and takes, at every latent cell, the weighted mean of the windows' outputs.  The mean is
taken over the U-Net's (guided) noise prediction; a scheduler step is affine in that prediction with the
same coefficients everywhere, so this equals averaging the windows' stepped latents (MultiDiffusion's
closed form) and keeps one scheduler state for the whole clip.  The weights are triangles (Bartlett
windows) normalised by their sum, so each window fades out towards its edges and a cell covered by one
window takes that window's output unchanged.  The VAE encodes and decodes long clips window by window with
the same blend, so no module ever sees more than one window and memory is bounded by one window's
generation plus the whole latent, mel and waveform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

OVERLAP_FRACTION = 0.25  # of a window shared with each neighbour
MAX_LONG_DURATION = 300.0  # seconds: the longest clip the pipeline makes (memory and time grow linearly)


@dataclass(frozen=True)
class Windows:
    """Overlapping windows along an axis of ``length`` cells: ``size`` cells each, starting at ``starts``.

    The first starts at 0 and the last ends at ``length``; neighbours share at least ``overlap`` cells.
    """

    length: int
    size: int
    starts: tuple[int, ...]

    @classmethod
    def plan(cls, length: int, size: int, overlap: int) -> "Windows":
        """Windows of ``size`` cells covering ``length`` (one window when ``length <= size``); ``overlap < size``."""
        if length <= size:
            return cls(length, length, (0,))
        stride = size - overlap
        count = math.ceil((length - size) / stride) + 1
        return cls(length, size, tuple(min(i * stride, length - size) for i in range(count)))

    def weights(self, scale: int = 1) -> torch.Tensor:
        """Triangular weight ``(size * scale,)`` of one window at ``scale`` output cells per cell, > 0 everywhere."""
        n = self.size * scale
        position = torch.arange(n, dtype=torch.float32) + 0.5
        return torch.minimum(position, n - position)


def blend_windows(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, windows: Windows, in_dim: int, out_dim: int,
    in_scale: int = 1, out_scale: int = 1,
) -> torch.Tensor:
    """Run ``fn`` on each window of ``x`` and blend the outputs by their triangular weights.

    Window ``[s, s + size)`` (in window cells) is ``x``'s slice ``[s * in_scale, (s + size) * in_scale)`` along
    ``in_dim``; its output fills ``[s * out_scale, (s + size) * out_scale)`` along ``out_dim`` of the result,
    which is ``windows.length * out_scale`` long on that axis.  One window runs at a time; a single window
    returns ``fn(x)`` as it is.
    """
    if len(windows.starts) == 1:
        return fn(x)
    weight = windows.weights(out_scale)
    total = None
    norm = torch.zeros(windows.length * out_scale, device=x.device)
    for start in windows.starts:
        piece = fn(x.narrow(in_dim, start * in_scale, windows.size * in_scale)).float()
        if total is None:
            shape = list(piece.shape)
            shape[out_dim] = windows.length * out_scale
            total = piece.new_zeros(shape)
        view = [1] * piece.dim()
        view[out_dim] = -1
        w = weight.to(piece.device).view(view)
        total.narrow(out_dim, start * out_scale, windows.size * out_scale).add_(piece * w)
        norm[start * out_scale : (start + windows.size) * out_scale] += weight.to(norm.device)
    view = [1] * total.dim()
    view[out_dim] = -1
    return total / norm.view(view)

"""Clips longer than a model's ``max_duration``: overlapping windows blended at every step.

MultiDiffusion (Bar-Tal et al. 2023, eq. 5): each denoising step runs the model on overlapping windows of
the long latent and takes, at every latent cell, the weighted mean of the windows' outputs.  The mean is
taken over the U-Net's (guided) noise prediction; a scheduler step is affine in that prediction with the
same coefficients everywhere, so this equals averaging the windows' stepped latents (MultiDiffusion's
closed form) and keeps one scheduler state for the whole clip.  The weights are triangles (Bartlett
windows) normalised by their sum, so each window fades out towards its edges and a cell covered by one
window takes that window's output unchanged.  The VAE encodes long clips window by window with the same
blend; decoding runs the VAE and the vocoder on one window at a time and blends the windows' waveforms with
the same weights (in samples), which over an overlap is a linear crossfade.  No module ever sees more than one
window, and memory is bounded by one window's generation plus the whole latent and the output waveform.
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

    def shares(self, start: int, scale: int = 1) -> torch.Tensor:
        """The window at ``start``'s share ``(size * scale,)`` of the blend at each of its output cells: its
        triangular weight over the sum of the weights of every window covering the cell (1 where it is alone).

        The shares of the windows covering a cell sum to 1; over an overlap of two windows they are linear ramps.
        """
        weight = self.weights(scale)
        total = torch.zeros_like(weight)
        for other in self.starts:
            first, end = max(start, other), min(start, other) + self.size
            if first < end:
                total[(first - start) * scale : (end - start) * scale] += weight[(first - other) * scale : (end - other) * scale]
        return weight / total


def overlap_add(
    window_output: Callable[[int], torch.Tensor], windows: Windows, dim: int, scale: int = 1, length: int | None = None,
) -> torch.Tensor:
    """Blend the windows' outputs by their shares (:meth:`Windows.shares`), one window at a time.

    ``window_output(start)`` is the output of the window starting at cell ``start``: ``scale`` output cells per
    cell along ``dim``, ``size * scale`` long there, or shorter for a window that the result's end cuts
    (``length - start * scale``).  The result is ``length`` (default ``windows.length * scale``) long along
    ``dim`` and is the only whole-length buffer; a single window returns ``window_output(0)`` as it is.
    """
    if len(windows.starts) == 1:
        return window_output(0)
    total = None
    for start in windows.starts:
        piece = window_output(start).float()
        if total is None:
            shape = list(piece.shape)
            shape[dim] = windows.length * scale if length is None else length
            total = piece.new_zeros(shape)
        cells = piece.shape[dim]
        view = [1] * piece.dim()
        view[dim] = -1
        share = windows.shares(start, scale)[:cells].to(piece.device).view(view)
        total.narrow(dim, start * scale, cells).addcmul_(piece, share)
    return total


def blend_windows(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, windows: Windows, in_dim: int, out_dim: int,
    in_scale: int = 1, out_scale: int = 1,
) -> torch.Tensor:
    """Run ``fn`` on each window of ``x`` and blend the outputs (:func:`overlap_add`).

    Window ``[s, s + size)`` (in window cells) is ``x``'s slice ``[s * in_scale, (s + size) * in_scale)`` along
    ``in_dim``; its output fills ``[s * out_scale, (s + size) * out_scale)`` along ``out_dim`` of the result,
    which is ``windows.length * out_scale`` long on that axis.  A single window returns ``fn(x)`` as it is.
    """
    if len(windows.starts) == 1:
        return fn(x)
    return overlap_add(lambda start: fn(x.narrow(in_dim, start * in_scale, windows.size * in_scale)), windows,
                       out_dim, out_scale)

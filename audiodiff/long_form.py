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

A linear crossfade keeps the level of two coherent waveforms but loses up to 3 dB in the middle of the overlap of
two incoherent ones (equal halves of uncorrelated signals add to half the power), and Griffin-Lim finds a different
phase in each window.  With ``level_frame`` the waveform blend is level-kept: over the overlaps each frame is scaled
so its power is the shares' weighted mean of the windows' own powers (a constant-power crossfade that adapts to
the windows' correlation; gains between 1 and 2, so coherent sums, which a linear fade already keeps, stay as they are).
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
    level_frame: int | None = None,
) -> torch.Tensor:
    """Blend the windows' outputs by their shares (:meth:`Windows.shares`), one window at a time.

    ``window_output(start)`` is the output of the window starting at cell ``start``: ``scale`` output cells per
    cell along ``dim``, ``size * scale`` long there, or shorter for a window that the result's end cuts
    (``length - start * scale``).  The result is ``length`` (default ``windows.length * scale``) long along
    ``dim`` and is the only whole-length buffer; a single window returns ``window_output(0)`` as it is.

    ``level_frame`` (output cells, e.g. samples): keep the level over the overlaps of incoherent outputs
    (waveforms from Griffin-Lim): each frame of that many cells where windows overlap gets the gain
    ``sqrt(sum_i share_i * power_i / power_blend)`` clamped to [1, 2] (:class:`_LevelKeeper`), interpolated
    between frame centres.  Off (``None``) for latents and mels, whose windows agree where they overlap.

    Raises:
        ValueError: ``level_frame`` < 1.
    """
    if len(windows.starts) == 1:
        return window_output(0)
    total = None
    level = None
    for start in windows.starts:
        piece = window_output(start).float()
        if total is None:
            shape = list(piece.shape)
            shape[dim] = windows.length * scale if length is None else length
            total = piece.new_zeros(shape)
            if level_frame is not None:
                level = _LevelKeeper(windows, scale, shape[dim], level_frame, dim)
        cells = piece.shape[dim]
        view = [1] * piece.dim()
        view[dim] = -1
        share = windows.shares(start, scale)[:cells].to(piece.device).view(view)
        total.narrow(dim, start * scale, cells).addcmul_(piece, share)
        if level is not None:
            level.add(piece, share, start * scale)
    if level is not None:
        level.apply(total)
    return total


class _LevelKeeper:
    """Per-frame power bookkeeping for :func:`overlap_add`'s ``level_frame`` over the spans where windows overlap.

    Keeps, per frame of ``frame`` cells along ``dim``, the sum over windows of ``share * output**2`` (the power the
    blend should have: the shares' weighted mean of the windows' powers) as it is blended, so no window is held after
    its turn; :meth:`apply` compares it with the blend's power and scales the blend.  Memory: two numbers per frame
    and per row (batch), and one overlap span at a time.
    """

    MAX_GAIN = 2.0  # +6 dB: more means the windows cancel each other (negatively correlated), not a fade's loss

    def __init__(self, windows: Windows, scale: int, length: int, frame: int, dim: int):
        if frame < 1:
            raise ValueError(f"level_frame must be >= 1, got {frame}.")
        self.frame, self.dim, self.length = frame, dim, length
        ends = [s + windows.size for s in windows.starts]
        # cells covered by two or more windows: from each window's start to the end of the one before it
        spans = [(windows.starts[i + 1] * scale, min(ends[i] * scale, length)) for i in range(len(ends) - 1)]
        merged: list[list[int]] = []
        for first, end in spans:
            if first >= end:
                continue
            if merged and first <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([first, end])
        self.spans = [(first, end) for first, end in merged]
        self.expected: torch.Tensor | None = None

    def _frame_sums(self, values: torch.Tensor, offset: int) -> torch.Tensor:
        """``values`` (dim moved last) summed into frames of absolute position ``offset + i``: ``(..., frames)``."""
        frames = math.ceil(self.length / self.frame)
        index = (torch.arange(values.shape[-1], device=values.device) + offset) // self.frame
        out = values.new_zeros(*values.shape[:-1], frames)
        return out.index_add_(-1, index, values)

    def add(self, piece: torch.Tensor, share: torch.Tensor, offset: int) -> None:
        """Account window output ``piece`` at cell ``offset`` with its ``share`` (broadcast along ``dim``)."""
        for first, end in self.spans:
            lo, hi = max(first, offset), min(end, offset + piece.shape[self.dim])
            if lo >= hi:
                continue
            part = piece.narrow(self.dim, lo - offset, hi - lo)
            weight = share.narrow(self.dim, lo - offset, hi - lo)
            sums = self._frame_sums((weight * part.square()).movedim(self.dim, -1), lo)
            self.expected = sums if self.expected is None else self.expected + sums

    def apply(self, total: torch.Tensor) -> None:
        """Scale ``total`` in place over the overlap spans by the per-frame gains, linear between frame centres."""
        if self.expected is None:
            return
        actual = sum(self._frame_sums(total.narrow(self.dim, first, end - first).square().movedim(self.dim, -1), first)
                     for first, end in self.spans)  # every span first: a frame may take in more than one
        tiny = 1e-12 * self.frame
        gains = ((self.expected + tiny) / (actual + tiny)).sqrt().clamp(1.0, self.MAX_GAIN)
        centres = (torch.arange(gains.shape[-1], dtype=torch.float32, device=gains.device) + 0.5) * self.frame
        for first, end in self.spans:
            positions = torch.arange(first, end, dtype=torch.float32, device=gains.device)
            gain = _interpolate(positions, centres, gains)  # (..., end - first)
            total.narrow(self.dim, first, end - first).mul_(gain.movedim(-1, self.dim))


def _interpolate(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``numpy.interp`` along the last axis of ``fp`` ``(..., len(xp))`` at increasing ``x``; ends held constant."""
    if len(xp) == 1:
        return fp[..., :1].expand(*fp.shape[:-1], len(x))
    right = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    left = right - 1
    t = ((x - xp[left]) / (xp[right] - xp[left])).clamp(0.0, 1.0)
    return fp[..., left] * (1 - t) + fp[..., right] * t


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

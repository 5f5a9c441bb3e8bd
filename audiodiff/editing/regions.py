"""Which part of a clip an edit regenerates: a time span and/or a frequency band, as a mask on the latents.

The mask is 1 where the sampler generates and 0 where the input's latents are re-imposed at every step
(the convention of diffusers' inpainting pipelines: white repaints).  A latent cell covers ``f`` mel frames
by ``f`` mel bands (``f`` the VAE's downsampling factor); it is regenerated when any part of it falls in the
region, so the mask always covers at least what was asked.  Latents are frames by mels at the pipeline
level whatever the VAE's image layout; a ``"mels_by_frames"`` VAE (Auffusion) holds its highest bands in
latent row 0, so the band axis is flipped for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InvalidArgumentError


@dataclass(frozen=True)
class AudioMask:
    """The region of a clip to regenerate; everything outside it is kept from the input audio.

    Args:
        start, end: time span in seconds (``None``: from the clip's start / to the clip's end).
        fmin, fmax: frequency band in Hz (``None``: from the mel front end's ``fmin`` / to its ``fmax``).

    ``AudioMask(start=1.5, end=2.5)`` repaints one second; ``AudioMask(fmin=4000)`` repaints the band above
    4 kHz over the whole clip; ``AudioMask(start=3.0)`` everything after 3 s (continuation).
    """

    start: float | None = None
    end: float | None = None
    fmin: float | None = None
    fmax: float | None = None


@dataclass(frozen=True)
class LatentGrid:
    """How latent cells map to time and frequency.

    Args:
        sample_rate: Hz.  hop_length: samples per mel frame.  factor: mel frames (and bands) per latent cell.
        mel_fmin, mel_fmax, n_mels: the mel front end's band edges (Hz) and band count.
        flipped_bands: latent row 0 holds the highest bands (``image_layout == "mels_by_frames"``).
    """

    sample_rate: int
    hop_length: int
    factor: int
    n_mels: int
    mel_fmin: float
    mel_fmax: float
    flipped_bands: bool = False

    @classmethod
    def from_configs(cls, mel: Mapping[str, Any], vae: Mapping[str, Any]) -> LatentGrid:
        """The grid of a model from its mel front end's and VAE's configs (``config.json`` or ``.config``):
        ``factor = 2 ** (len(block_out_channels) - 1)``; missing mel keys take the front end's defaults."""
        return cls(
            sample_rate=int(mel.get("sample_rate", 16000)), hop_length=int(mel.get("hop_length", 160)),
            factor=2 ** (len(vae["block_out_channels"]) - 1), n_mels=int(mel.get("n_mels", 64)),
            mel_fmin=float(mel.get("fmin", 0.0)), mel_fmax=float(mel.get("fmax", 8000.0)),
            flipped_bands=mel.get("image_layout", "frames_by_mels") == "mels_by_frames",
        )

    def cell_seconds(self) -> float:
        """Duration of one latent frame in seconds."""
        return self.factor * self.hop_length / self.sample_rate

    def band_centres(self) -> torch.Tensor:
        """Centre frequency in Hz of each mel band ``(n_mels,)``: ``n_mels + 2`` points evenly spaced on the
        Slaney mel scale from ``mel_fmin`` to ``mel_fmax``, without the two ends (the filters' peaks, as
        ``librosa.mel_frequencies``)."""
        points = torch.linspace(slaney_mel(self.mel_fmin), slaney_mel(self.mel_fmax), self.n_mels + 2,
                                dtype=torch.float64)
        return slaney_hz(points)[1:-1].float()


SLANEY_HZ_PER_MEL = 200.0 / 3  # linear part, below 1 kHz (Slaney 1998, Auditory Toolbox; librosa's default scale)
SLANEY_LOG_STEP = math.log(6.4) / 27.0  # log part: 27 mels per factor 6.4 above 1 kHz


def slaney_mel(hz: float) -> float:
    """Hz -> Slaney mel: ``hz / (200 / 3)`` below 1 kHz, ``15 + ln(hz / 1000) / (ln 6.4 / 27)`` above."""
    return hz / SLANEY_HZ_PER_MEL if hz < 1000.0 else 15.0 + math.log(hz / 1000.0) / SLANEY_LOG_STEP


def slaney_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`slaney_mel`, elementwise."""
    return torch.where(mel < 15.0, mel * SLANEY_HZ_PER_MEL, 1000.0 * torch.exp(SLANEY_LOG_STEP * (mel - 15.0)))


def check_mask(mask: AudioMask, duration: float, grid: LatentGrid) -> None:
    """Refuse a region outside the clip or the model's band, or one that selects no mel band.

    Raises:
        InvalidArgumentError: the message names the bad value and the range it must lie in.
    """
    for name in ("start", "end", "fmin", "fmax"):
        value = getattr(mask, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not math.isfinite(value)):
            raise InvalidArgumentError(f"mask {name} must be a finite number or None, got {value!r}.")
    start = 0.0 if mask.start is None else mask.start
    end = duration if mask.end is None else mask.end
    if not 0 <= start < end <= duration + 1e-9:
        raise InvalidArgumentError(
            f"The time range {start:g}..{end:g} s must lie inside the clip (0..{duration:g} s) with start < end; "
            "give --start/--end (start, end) within the clip."
        )
    fmin = grid.mel_fmin if mask.fmin is None else mask.fmin
    fmax = grid.mel_fmax if mask.fmax is None else mask.fmax
    if not grid.mel_fmin <= fmin < fmax <= grid.mel_fmax:
        raise InvalidArgumentError(
            f"The band {fmin:g}..{fmax:g} Hz must lie inside the model's mel range "
            f"({grid.mel_fmin:g}..{grid.mel_fmax:g} Hz) with fmin < fmax; give --fmin/--fmax (fmin, fmax) within it."
        )
    centres = grid.band_centres()
    if not bool(((centres >= fmin) & (centres <= fmax)).any()):
        raise InvalidArgumentError(
            f"The band {fmin:g}..{fmax:g} Hz holds no mel band centre of this model, so the mask is empty; "
            "widen it (neighbouring band centres: "
            f"{_nearest_centres(centres, fmin, fmax)} Hz)."
        )


def latent_mask(mask: AudioMask, grid: LatentGrid, latent_frames: int) -> torch.Tensor:
    """``mask`` as a float tensor ``(1, 1, latent_frames, n_mels / factor)``: 1 = regenerate, 0 = keep.

    Frames past the clip's end (the rounding of the latent length) count as inside a region that runs to
    the end.  Call :func:`check_mask` first.
    """
    cell = grid.cell_seconds()
    start = -math.inf if mask.start is None else mask.start
    end = math.inf if mask.end is None else mask.end
    frame_starts = torch.arange(latent_frames) * cell
    in_time = (frame_starts < end) & (frame_starts + cell > start)
    fmin = -math.inf if mask.fmin is None else mask.fmin
    fmax = math.inf if mask.fmax is None else mask.fmax
    centres = grid.band_centres()
    in_band = ((centres >= fmin) & (centres <= fmax)).reshape(-1, grid.factor).any(dim=1)
    if grid.flipped_bands:
        in_band = in_band.flip(0)
    return (in_time[:, None] & in_band[None, :]).float()[None, None]


def mel_keep_weights(mask: AudioMask, grid: LatentGrid, frames: int) -> torch.Tensor:
    """Where the input's own log-mel replaces the decoded one: ``(n_mels, frames)`` in [0, 1], bands low to high.

    1 on every mel cell outside the regenerated latent cells (the same cells as :func:`latent_mask`), falling
    linearly to 0 over one latent cell (``factor`` frames or bands) into the regenerated region, so the
    pasted input fades into the generated sound instead of meeting it at a hard edge.  This is diffusers'
    ``apply_overlay`` for inpainting, in the mel domain: the VAE's group norms and attention see the whole
    clip, so decoding shifts even the latents that were kept exactly.
    """
    regenerate = latent_mask(mask, grid, -(-frames // grid.factor))[0, 0]  # (latent frames, latent bands)
    if grid.flipped_bands:
        regenerate = regenerate.flip(1)
    keep = 1.0 - regenerate.repeat_interleave(grid.factor, 0).repeat_interleave(grid.factor, 1)[:frames].T
    soft = keep.clone()
    for k in range(1, grid.factor + 1):
        grown = torch.nn.functional.max_pool2d(keep[None, None], 2 * k + 1, stride=1, padding=k)[0, 0]
        soft = torch.maximum(soft, grown * (1.0 - k / (grid.factor + 1)))
    return soft


def _nearest_centres(centres: torch.Tensor, fmin: float, fmax: float) -> str:
    below = centres[centres < fmin]
    above = centres[centres > fmax]
    parts = [f"{float(below[-1]):.0f}" if len(below) else None, f"{float(above[0]):.0f}" if len(above) else None]
    return " and ".join(p for p in parts if p)
